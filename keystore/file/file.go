// Package file is the keystore backend that keeps the device key and its
// certificates as PEM files: by default in <state-dir>/keys, every file 0600 and
// every folder 0700, created with those modes. A key file, or a folder it lies
// in, that group or others can reach is refused with an error that names the
// chmod that fixes it. Writes are atomic across power cuts (see Generations). It
// registers the "file" URI scheme:
//
//	file:///var/lib/fleetboot/keys   absolute
//	file:/var/lib/fleetboot/keys     absolute
//	file:keys                        relative to keystore.Options.BaseDir
//
// A committed generation holds key.pem (PKCS#8 "PRIVATE KEY"), cert.pem (the
// leaf) and chain.pem (issuers, if any); <dir>/current/cert.pem is the path
// other software can be pointed at.
package file

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/keystore"
)

// Scheme is the URI scheme this package registers.
const Scheme = "file"

// File names inside a generation.
const (
	KeyFile   = "key.pem"
	CertFile  = "cert.pem"
	ChainFile = "chain.pem"
)

func init() {
	keystore.Register(Scheme, func(_ context.Context, u *url.URL, opts keystore.Options) (keystore.Keystore, error) {
		dir, err := DirFromURI(u, opts.BaseDir)
		if err != nil {
			return nil, err
		}
		return Open(dir, opts)
	})
}

// DirFromURI returns the folder a file: URI names, resolving a relative one
// against base (the working directory if base is empty).
func DirFromURI(u *url.URL, base string) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%w: file URI host %q: only local folders", keystore.ErrInvalidURI, u.Host)
	}
	if len(u.Query()) > 0 {
		return "", fmt.Errorf("%w: the file backend takes no options", keystore.ErrInvalidURI)
	}
	p := u.Path
	if u.Opaque != "" {
		op, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("%w: %v", keystore.ErrInvalidURI, err)
		}
		p = op
	}
	if p == "" {
		return "", fmt.Errorf("%w: file URI names no folder", keystore.ErrInvalidURI)
	}
	if !filepath.IsAbs(p) {
		if base == "" {
			wd, err := os.Getwd()
			if err != nil {
				return "", fmt.Errorf("resolve %q: %w", p, err)
			}
			base = wd
		}
		p = filepath.Join(base, p)
	}
	return filepath.Clean(p), nil
}

// URI is the file: URI for dir, escaped so that any path survives Open.
func URI(dir string) string {
	return (&url.URL{Scheme: Scheme, Path: filepath.ToSlash(dir)}).String()
}

// Keystore keeps one identity in a folder. Safe for concurrent use, also by
// several processes on the same folder.
type Keystore struct {
	gens *Generations
	log  *zap.Logger

	mu     sync.Mutex // guards the fields below
	closed bool
	// cached is the parsed key of generation cachedGen. Generations never change
	// once committed, so the cache is valid while current still names it.
	cached    crypto.Signer
	cachedGen string
}

var (
	_ keystore.Keystore     = (*Keystore)(nil)
	_ keystore.KeyGenerator = (*Keystore)(nil)
	_ keystore.KeyImporter  = (*Keystore)(nil)
	_ keystore.Resetter     = (*Keystore)(nil)
)

// Open uses dir, which need not exist: it is created 0700 on the first write.
// Open writes nothing and removes nothing.
func Open(dir string, opts keystore.Options) (*Keystore, error) {
	if !filepath.IsAbs(dir) {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("resolve %q: %w", dir, err)
		}
		dir = abs
	}
	log := opts.Log().Named("keystore")
	switch fi, err := os.Stat(dir); {
	case err == nil && !fi.IsDir():
		return nil, fmt.Errorf("%w: %s is not a folder", keystore.ErrInvalidURI, dir)
	case err == nil && fi.Mode().Perm()&0o077 != 0:
		// Not refused here, so that status and reset still work on such a folder;
		// loading or writing the key is refused.
		log.Warn("keystore folder is open to group or others", zap.String("path", dir), zap.String("mode", fmt.Sprintf("%04o", uint32(fi.Mode().Perm()))))
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("open keystore folder: %w", err)
	}
	return &Keystore{gens: NewGenerations(dir, log), log: log}, nil
}

// Describe is "file:" and the folder.
func (k *Keystore) Describe() string { return "file:" + k.gens.Dir() }

// Dir is the keystore folder.
func (k *Keystore) Dir() string { return k.gens.Dir() }

// Close drops the cached key. It never fails.
func (k *Keystore) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.closed, k.cached, k.cachedGen = true, nil, ""
	return nil
}

func (k *Keystore) check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return keystore.ErrClosed
	}
	return nil
}

// Signer returns the current key, refusing a key file or key folder open to
// group or others.
func (k *Keystore) Signer(ctx context.Context) (crypto.Signer, error) {
	if err := k.check(ctx); err != nil {
		return nil, err
	}
	gen, err := k.gens.Current()
	if err != nil {
		return nil, noKey(err)
	}
	// Checked on every call, cached key or not: a folder opened up after the key
	// was loaded is refused from then on.
	if err := k.checkFolders(gen); err != nil {
		return nil, err
	}
	k.mu.Lock()
	if k.cached != nil && k.cachedGen == gen {
		s := k.cached
		k.mu.Unlock()
		return s, nil
	}
	k.mu.Unlock()
	snap, err := k.gens.Load(KeyFile)
	if err != nil {
		return nil, noKey(err)
	}
	defer snap.Clear()
	s, err := parseKey(snap)
	if err != nil {
		return nil, err
	}
	k.remember(snap.Generation, s)
	return s, nil
}

func (k *Keystore) remember(gen string, s crypto.Signer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.closed {
		k.cached, k.cachedGen = s, gen
	}
}

// checkFolders refuses the keystore folder and, if gen is set, that generation's
// folder when group or others have any access to them. A folder that does not
// exist is not refused here: it is created 0700, or its absence is reported by
// whoever needs it.
func (k *Keystore) checkFolders(gen string) error {
	dirs := []string{k.Dir()}
	if gen != "" {
		dirs = append(dirs, filepath.Join(k.Dir(), gen))
	}
	for _, dir := range dirs {
		fi, err := os.Stat(dir)
		switch {
		case errors.Is(err, os.ErrNotExist):
			continue
		case err != nil:
			return fmt.Errorf("check key folder: %w", err)
		case fi.IsDir() && fi.Mode().Perm()&0o077 != 0:
			return &FolderPermissionError{Path: dir, Mode: fi.Mode()}
		}
	}
	return nil
}

func noKey(err error) error {
	if errors.Is(err, keystore.ErrNotFound) {
		return fmt.Errorf("no device key in %w", err)
	}
	return err
}

// parseKey checks the key file's mode and parses it. snap must hold KeyFile
// unless the generation has no key (then ErrNotFound).
func parseKey(snap *Snapshot) (crypto.Signer, error) {
	f, ok := snap.Files[KeyFile]
	if !ok {
		return nil, fmt.Errorf("%w: generation %s has no %s", keystore.ErrCorrupt, snap.Generation, KeyFile)
	}
	if f.Mode.Perm()&0o077 != 0 {
		return nil, &keystore.PermissionError{Path: f.Path, Mode: f.Mode}
	}
	s, err := keystore.ParsePrivateKeyPEM(f.Data)
	if err != nil {
		return nil, fmt.Errorf("key file %s: %w", f.Path, err)
	}
	return s, nil
}

// Certificate returns the stored leaf and chain.
func (k *Keystore) Certificate(ctx context.Context) (*x509.Certificate, []*x509.Certificate, error) {
	if err := k.check(ctx); err != nil {
		return nil, nil, err
	}
	snap, err := k.gens.Load(CertFile, ChainFile)
	if err != nil {
		if errors.Is(err, keystore.ErrNotFound) {
			return nil, nil, fmt.Errorf("no certificate in %w", err)
		}
		return nil, nil, err
	}
	return ParseCertificates(snap)
}

// ParseCertificates reads the leaf (CertFile) and chain (ChainFile, optional) of
// a loaded generation; backends that keep their key elsewhere, such as the TPM
// one, store their certificates the same way.
func ParseCertificates(snap *Snapshot) (*x509.Certificate, []*x509.Certificate, error) {
	cf, ok := snap.Files[CertFile]
	if !ok {
		return nil, nil, fmt.Errorf("no certificate in generation %s: %w", snap.Generation, keystore.ErrNotFound)
	}
	leafs, err := keystore.ParseCertificatesPEM(cf.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate file %s: %w", cf.Path, err)
	}
	if len(leafs) != 1 {
		return nil, nil, fmt.Errorf("certificate file %s: %w: %d certificates, want the leaf alone", cf.Path, keystore.ErrCorrupt, len(leafs))
	}
	var chain []*x509.Certificate
	if f, ok := snap.Files[ChainFile]; ok {
		chain, err = keystore.ParseCertificatesPEM(f.Data)
		if err != nil {
			return nil, nil, fmt.Errorf("chain file %s: %w", f.Path, err)
		}
	}
	return leafs[0], chain, nil
}

// CertificateFiles are the files of a generation that hold leaf and chain, as
// ParseCertificates reads them.
func CertificateFiles(leaf *x509.Certificate, chain []*x509.Certificate) map[string][]byte {
	files := map[string][]byte{CertFile: keystore.EncodeCertificatesPEM(leaf)}
	if len(chain) > 0 {
		files[ChainFile] = keystore.EncodeCertificatesPEM(chain...)
	}
	return files
}

// GenerateKey makes and stores a key if there is none. With a key present it
// returns keystore.ErrKeyExists and changes nothing.
func (k *Keystore) GenerateKey(ctx context.Context, alg keystore.Algorithm) (crypto.Signer, error) {
	if err := k.check(ctx); err != nil {
		return nil, err
	}
	if err := k.checkFolders(""); err != nil {
		return nil, err
	}
	var s crypto.Signer
	gen, err := k.gens.Update(ctx, nil, func(cur *Snapshot) (map[string][]byte, error) {
		if cur != nil {
			return nil, fmt.Errorf("generate key in %s: %w (generation %s)", k.Dir(), keystore.ErrKeyExists, cur.Generation)
		}
		var err error
		if s, err = keystore.GenerateSoftwareKey(alg); err != nil {
			return nil, err
		}
		pemKey, err := keystore.MarshalPrivateKeyPEM(s)
		if err != nil {
			return nil, err
		}
		return map[string][]byte{KeyFile: pemKey}, nil
	})
	if err != nil {
		return nil, err
	}
	k.remember(gen, s)
	k.log.Info("device key generated", zap.String("path", k.Dir()), zap.String("public_key", keystore.DescribePublicKey(s.Public())))
	return s, nil
}

// StoreCertificate stores leaf and chain beside the current key, in a new
// generation with the same key bytes.
func (k *Keystore) StoreCertificate(ctx context.Context, leaf *x509.Certificate, chain []*x509.Certificate) error {
	if err := k.check(ctx); err != nil {
		return err
	}
	if leaf == nil {
		return errors.New("store certificate: no certificate")
	}
	_, err := k.gens.Update(ctx, []string{KeyFile}, func(cur *Snapshot) (map[string][]byte, error) {
		if cur == nil {
			return nil, fmt.Errorf("no device key in %s to store a certificate for: %w", k.Dir(), keystore.ErrNotFound)
		}
		if err := k.checkFolders(cur.Generation); err != nil {
			return nil, err
		}
		s, err := parseKey(cur)
		if err != nil {
			return nil, err
		}
		if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
			return nil, err
		}
		files := CertificateFiles(leaf, chain)
		files[KeyFile] = append([]byte(nil), cur.Files[KeyFile].Data...)
		return files, nil
	})
	if err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	k.log.Info("device certificate stored", zap.String("path", k.Dir()), zap.String("subject", leaf.Subject.String()), zap.Time("not_after", leaf.NotAfter))
	return nil
}

// ImportIdentity stores a key made elsewhere with its certificate as one new
// generation. The replaced identity stays in an earlier generation folder until
// enough newer ones exist.
func (k *Keystore) ImportIdentity(ctx context.Context, key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) error {
	if err := k.check(ctx); err != nil {
		return err
	}
	s, ok := key.(crypto.Signer)
	if !ok || leaf == nil {
		return fmt.Errorf("import identity: want a private key (got %T) and a certificate", key)
	}
	if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	if err := k.checkFolders(""); err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	pemKey, err := keystore.MarshalPrivateKeyPEM(key)
	if err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	defer clear(pemKey)
	files := CertificateFiles(leaf, chain)
	files[KeyFile] = pemKey
	_, err = k.gens.Update(ctx, nil, func(*Snapshot) (map[string][]byte, error) { return files, nil })
	if err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	k.log.Info("device identity imported", zap.String("path", k.Dir()), zap.String("subject", leaf.Subject.String()), zap.String("public_key", keystore.DescribePublicKey(s.Public())))
	return nil
}

// Reset removes every generation: keys and certificates. The folder stays.
func (k *Keystore) Reset(ctx context.Context) error {
	if err := k.check(ctx); err != nil {
		return err
	}
	k.mu.Lock()
	k.cached, k.cachedGen = nil, ""
	k.mu.Unlock()
	if err := k.gens.Reset(ctx); err != nil {
		return err
	}
	k.log.Info("keystore reset", zap.String("path", k.Dir()))
	return nil
}

// String is Describe; a Keystore printed by mistake shows no key.
func (k *Keystore) String() string { return k.Describe() }
