//go:build !notpm

package tpm

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/file"
)

// File names in the certificate folder.
const (
	CertFile  = file.CertFile
	ChainFile = file.ChainFile
)

func init() {
	keystore.Register(Scheme, openURI)
}

// OpenDevice opens the TPM a tpm: URI names: a device file or a TCP port. The
// caller closes it.
func OpenDevice(ctx context.Context, u *url.URL) (transport.TPMCloser, error) {
	loc, err := ParseURI(u)
	if err != nil {
		return nil, err
	}
	return openLocation(ctx, loc)
}

func openLocation(ctx context.Context, loc Location) (transport.TPMCloser, error) {
	if loc.Addr != "" {
		return dialTCP(ctx, loc.Addr)
	}
	return openDeviceFile(loc.Path)
}

func openURI(ctx context.Context, u *url.URL, opts keystore.Options) (keystore.Keystore, error) {
	loc, err := ParseURI(u)
	if err != nil {
		return nil, err
	}
	dir := loc.Dir
	if dir == "" {
		dir = DefaultDir
	}
	if !filepath.IsAbs(dir) {
		base := opts.BaseDir
		if base == "" {
			if base, err = filepath.Abs("."); err != nil {
				return nil, fmt.Errorf("resolve %q: %w", dir, err)
			}
		}
		dir = filepath.Join(base, dir)
	}
	var (
		dev  transport.TPMCloser
		auth []byte
	)
	switch d := opts.Device.(type) {
	case nil:
	case *Device:
		auth = d.OwnerAuth
		if d.TPM != nil {
			t, ok := d.TPM.(transport.TPMCloser)
			if !ok {
				return nil, fmt.Errorf("tpm.Device.TPM is a %T, want a go-tpm transport.TPMCloser", d.TPM)
			}
			dev = t
		}
	case transport.TPMCloser:
		dev = d
	default:
		return nil, fmt.Errorf("keystore.Options.Device is a %T, want a go-tpm transport.TPMCloser or *tpm.Device", opts.Device)
	}
	owned := dev == nil
	if owned {
		if dev, err = openLocation(ctx, loc); err != nil {
			return nil, err
		}
	}
	ks, err := Open(ctx, dev, Config{Handle: loc.Handle, Dir: dir, OwnerAuth: auth, Logger: opts.Logger, Name: loc.String()})
	if err != nil {
		if owned {
			dev.Close()
		}
		return nil, err
	}
	ks.ownsTPM = owned
	return ks, nil
}

// Config is what Open needs besides the TPM.
type Config struct {
	// Handle is the persistent handle of the device key; 0 means DefaultHandle.
	Handle uint32
	// Dir is the absolute folder for the certificate and chain.
	Dir string
	// OwnerAuth is the owner hierarchy's authorization; empty on most devices.
	// Open copies it.
	OwnerAuth []byte
	// Logger receives events; nil means zap.NewNop().
	Logger *zap.Logger
	// Name is how Describe names the TPM, e.g. "tpm:///dev/tpmrm0"; "tpm" if empty.
	Name string
}

// Keystore keeps the device key at a persistent handle of a TPM and its
// certificate in a folder. Safe for concurrent use; TPM commands are serialised.
type Keystore struct {
	handle tpm2.TPMHandle
	gens   *file.Generations
	log    *zap.Logger
	name   string

	mu        sync.Mutex // serialises TPM commands; guards the fields below
	tpm       transport.TPMCloser
	cmd       transport.TPM // tpm, resending commands the TPM asks to retry
	ownsTPM   bool
	ownerAuth []byte
	closed    bool
}

var (
	_ keystore.Keystore     = (*Keystore)(nil)
	_ keystore.KeyGenerator = (*Keystore)(nil)
	_ keystore.KeyImporter  = (*Keystore)(nil)
	_ keystore.Resetter     = (*Keystore)(nil)
)

// Open uses dev, which the caller keeps and closes after the Keystore. It
// checks that dev answers and writes nothing.
func Open(ctx context.Context, dev transport.TPMCloser, cfg Config) (*Keystore, error) {
	if dev == nil {
		return nil, errors.New("open TPM keystore: no TPM")
	}
	h := cfg.Handle
	if h == 0 {
		h = DefaultHandle
	}
	if h < minOwnerPersistent || h > maxOwnerPersistent {
		return nil, fmt.Errorf("%w: handle 0x%08x: want an owner persistent handle 0x%08x-0x%08x", keystore.ErrInvalidURI, h, minOwnerPersistent, maxOwnerPersistent)
	}
	if !filepath.IsAbs(cfg.Dir) {
		return nil, fmt.Errorf("%w: certificate folder %q is not absolute", keystore.ErrInvalidURI, cfg.Dir)
	}
	name := cfg.Name
	if name == "" {
		name = Scheme
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log = log.Named("keystore")
	k := &Keystore{
		handle:    tpm2.TPMHandle(h),
		gens:      file.NewGenerations(filepath.Clean(cfg.Dir), log),
		log:       log,
		name:      name,
		tpm:       dev,
		cmd:       retryTPM{TPM: dev, sleep: time.Sleep},
		ownerAuth: append([]byte(nil), cfg.OwnerAuth...),
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// One command proves the transport reaches a TPM before anyone relies on it.
	if _, err := (tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(tpm2.TPMHTPersistent) << 24, PropertyCount: 1}).Execute(k.cmd); err != nil {
		return nil, fmt.Errorf("TPM %s does not answer: %w", name, err)
	}
	return k, nil
}

// Describe names the TPM, the handle and the certificate folder.
func (k *Keystore) Describe() string {
	return fmt.Sprintf("%s (key at handle 0x%08x, certificate in %s)", k.name, uint32(k.handle), k.gens.Dir())
}

// String is Describe.
func (k *Keystore) String() string { return k.Describe() }

// Handle is the persistent handle of the device key.
func (k *Keystore) Handle() uint32 { return uint32(k.handle) }

// Dir is the certificate folder.
func (k *Keystore) Dir() string { return k.gens.Dir() }

// Close forgets the owner authorization and closes the TPM if the keystore
// opened it. Signers handed out fail with keystore.ErrClosed afterwards.
func (k *Keystore) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	clear(k.ownerAuth)
	k.ownerAuth = nil
	if k.ownsTPM {
		return k.tpm.Close()
	}
	return nil
}

// lock takes the TPM for one operation.
func (k *Keystore) lock(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return keystore.ErrClosed
	}
	return nil
}

// Signer returns the key at the handle; keystore.ErrNotFound if the handle is empty.
func (k *Keystore) Signer(ctx context.Context) (crypto.Signer, error) {
	if err := k.lock(ctx); err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	return k.signerLocked()
}

func (k *Keystore) signerLocked() (*Signer, error) {
	key, err := k.readKeyLocked()
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, fmt.Errorf("no device key at TPM handle 0x%08x: %w", uint32(k.handle), keystore.ErrNotFound)
	}
	return newSigner(k, key)
}

// persisted is what ReadPublic tells about the object at the handle.
type persisted struct {
	public tpm2.TPMTPublic
	name   tpm2.TPM2BName
}

// readKeyLocked returns the object at the handle, nil if there is none.
func (k *Keystore) readKeyLocked() (*persisted, error) {
	rsp, err := tpm2.ReadPublic{ObjectHandle: k.handle}.Execute(k.cmd)
	if errors.Is(err, tpm2.TPMRCHandle) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read TPM handle 0x%08x: %w", uint32(k.handle), err)
	}
	pub, err := rsp.OutPublic.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: TPM handle 0x%08x: public area: %v", keystore.ErrCorrupt, uint32(k.handle), err)
	}
	return &persisted{public: *pub, name: rsp.Name}, nil
}

// Certificate returns the stored leaf and chain if the leaf certifies the key
// at the handle. A certificate for another key (or with no key) is reported as
// keystore.ErrNotFound: the TPM is the authority, and the next provisioning run
// replaces the files.
func (k *Keystore) Certificate(ctx context.Context) (*x509.Certificate, []*x509.Certificate, error) {
	if err := k.lock(ctx); err != nil {
		return nil, nil, err
	}
	defer k.mu.Unlock()
	snap, err := k.gens.Load(CertFile, ChainFile)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return nil, nil, fmt.Errorf("no certificate in %w", err)
		}
		return nil, nil, err
	}
	leaf, chain, err := file.ParseCertificates(snap)
	if err != nil {
		return nil, nil, err
	}
	s, err := k.signerLocked()
	if errors.Is(err, keystore.ErrNotFound) {
		k.log.Warn("stored certificate ignored: no key at the TPM handle", zap.String("handle", fmt.Sprintf("0x%08x", uint32(k.handle))), zap.String("subject", leaf.Subject.String()))
		return nil, nil, fmt.Errorf("certificate in %s is for a key no longer in the TPM: %w", k.gens.Dir(), keystore.ErrNotFound)
	}
	if err != nil {
		return nil, nil, err
	}
	if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
		k.log.Warn("stored certificate ignored: it is for another key", zap.Error(err))
		return nil, nil, fmt.Errorf("certificate in %s is not for the key at TPM handle 0x%08x (%v): %w", k.gens.Dir(), uint32(k.handle), err, keystore.ErrNotFound)
	}
	return leaf, chain, nil
}

// StoreCertificate stores leaf and chain for the key at the handle.
func (k *Keystore) StoreCertificate(ctx context.Context, leaf *x509.Certificate, chain []*x509.Certificate) error {
	if leaf == nil {
		return errors.New("store certificate: no certificate")
	}
	if err := k.lock(ctx); err != nil {
		return err
	}
	defer k.mu.Unlock()
	s, err := k.signerLocked()
	if err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	files := file.CertificateFiles(leaf, chain)
	if _, err := k.gens.Update(ctx, nil, func(*file.Snapshot) (map[string][]byte, error) { return files, nil }); err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	k.log.Info("device certificate stored", zap.String("path", k.gens.Dir()), zap.String("subject", leaf.Subject.String()), zap.Time("not_after", leaf.NotAfter))
	return nil
}

// GenerateKey makes a key inside the TPM (fixedTPM, fixedParent,
// sensitiveDataOrigin) and persists it at the handle. With the handle occupied
// it returns keystore.ErrKeyExists and changes nothing.
func (k *Keystore) GenerateKey(ctx context.Context, alg keystore.Algorithm) (crypto.Signer, error) {
	tmpl, err := generateTemplate(alg)
	if err != nil {
		return nil, fmt.Errorf("generate key in TPM: %w", err)
	}
	if err := k.lock(ctx); err != nil {
		return nil, err
	}
	defer k.mu.Unlock()
	cur, err := k.readKeyLocked()
	if err != nil {
		return nil, fmt.Errorf("generate key in TPM: %w", err)
	}
	if cur != nil {
		return nil, fmt.Errorf("generate key in TPM: %w at handle 0x%08x", keystore.ErrKeyExists, uint32(k.handle))
	}
	srk, flushSRK, err := k.createSRKLocked()
	if err != nil {
		return nil, fmt.Errorf("generate key in TPM: %w", err)
	}
	defer flushSRK()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	created, err := tpm2.Create{ParentHandle: srk, InPublic: tpm2.New2B(tmpl)}.Execute(k.cmd)
	if err != nil {
		return nil, fmt.Errorf("generate key in TPM: create: %w", err)
	}
	if err := k.loadAndPersistLocked(ctx, srk, created.OutPublic, created.OutPrivate, nil); err != nil {
		return nil, fmt.Errorf("generate key in TPM: %w", err)
	}
	s, err := k.signerLocked()
	if err != nil {
		return nil, fmt.Errorf("generate key in TPM: %w", err)
	}
	k.log.Info("device key generated in the TPM", zap.String("handle", fmt.Sprintf("0x%08x", uint32(k.handle))), zap.String("public_key", keystore.DescribePublicKey(s.Public())))
	return s, nil
}

// createSRKLocked makes the storage primary key from the TCG template. It is
// derived from the owner seed, so it is the same key every time until the
// owner hierarchy is cleared.
func (k *Keystore) createSRKLocked() (tpm2.AuthHandle, func(), error) {
	rsp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.ownerAuth)},
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(k.cmd)
	if err != nil {
		return tpm2.AuthHandle{}, nil, fmt.Errorf("create storage primary key: %w", ownerAuthHint(err))
	}
	srk := tpm2.AuthHandle{Handle: rsp.ObjectHandle, Name: rsp.Name, Auth: tpm2.PasswordAuth(nil)}
	return srk, k.flusher(rsp.ObjectHandle), nil
}

func (k *Keystore) flusher(h tpm2.TPMHandle) func() {
	return func() {
		if _, err := (tpm2.FlushContext{FlushHandle: h}).Execute(k.cmd); err != nil {
			k.log.Warn("flush TPM object", zap.String("handle", fmt.Sprintf("0x%08x", uint32(h))), zap.Error(err))
		}
	}
}

func ownerAuthHint(err error) error {
	if errors.Is(err, tpm2.TPMRCBadAuth) || errors.Is(err, tpm2.TPMRCAuthFail) {
		return fmt.Errorf("%w (the owner authorization is wrong: set keystore.ownerAuth or FLEETBOOT_KEYSTORE_OWNER_AUTH)", err)
	}
	if errors.Is(err, tpm2.TPMRCLockout) {
		return fmt.Errorf("%w (the TPM is in dictionary-attack lockout)", err)
	}
	return err
}

// loadAndPersistLocked loads a child of srk and makes it persistent at the
// handle. old, if not nil, is the object at the handle, evicted only once the
// new one is loaded, so a failure before leaves the old key in place.
func (k *Keystore) loadAndPersistLocked(ctx context.Context, srk tpm2.AuthHandle, pub tpm2.TPM2BPublic, priv tpm2.TPM2BPrivate, old *persisted) error {
	loaded, err := tpm2.Load{ParentHandle: srk, InPublic: pub, InPrivate: priv}.Execute(k.cmd)
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	defer k.flusher(loaded.ObjectHandle)()
	if err := ctx.Err(); err != nil {
		return err
	}
	if old != nil {
		if err := k.evictLocked(old); err != nil {
			return err
		}
	}
	_, err = tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.ownerAuth)},
		ObjectHandle:     tpm2.NamedHandle{Handle: loaded.ObjectHandle, Name: loaded.Name},
		PersistentHandle: k.handle,
	}.Execute(k.cmd)
	if err != nil {
		return fmt.Errorf("persist at handle 0x%08x: %w", uint32(k.handle), ownerAuthHint(err))
	}
	return nil
}

func (k *Keystore) evictLocked(old *persisted) error {
	_, err := tpm2.EvictControl{
		Auth:             tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(k.ownerAuth)},
		ObjectHandle:     tpm2.NamedHandle{Handle: k.handle, Name: old.name},
		PersistentHandle: k.handle,
	}.Execute(k.cmd)
	if err != nil {
		return fmt.Errorf("evict handle 0x%08x: %w", uint32(k.handle), ownerAuthHint(err))
	}
	return nil
}

// Reset evicts the key at the handle, then removes the certificate files.
func (k *Keystore) Reset(ctx context.Context) error {
	if err := k.lock(ctx); err != nil {
		return err
	}
	defer k.mu.Unlock()
	cur, err := k.readKeyLocked()
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	if cur != nil {
		if err := k.evictLocked(cur); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	if err := k.gens.Reset(ctx); err != nil {
		return err
	}
	k.log.Info("keystore reset", zap.String("handle", fmt.Sprintf("0x%08x", uint32(k.handle))), zap.String("path", k.gens.Dir()), zap.Bool("evicted", cur != nil))
	return nil
}

// tpmFor lets a Signer run a command under the keystore's lock.
func (k *Keystore) tpmFor(fn func(t transport.TPM) error) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keystore.ErrClosed
	}
	return fn(k.cmd)
}
