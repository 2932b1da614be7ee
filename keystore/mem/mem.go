// Package mem is an in-memory keystore for simulators and tests: a fleet
// simulator runs thousands of devices in one process, each with its own store.
// It registers the "mem" URI scheme:
//
//	mem:            a new, empty store on every Open
//	mem:NAME        the store called NAME in this process, made on first Open;
//	                a later Open (a simulated reboot) finds the same key
//
// Nothing survives the process. Keys are software keys in process memory.
package mem

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"net/url"
	"sync"

	"github.com/fleetboot/fleetboot/keystore"
)

// Scheme is the URI scheme this package registers.
const Scheme = "mem"

// named holds the mem:NAME stores of this process. It is the backend's
// storage, like a disk is the file backend's, not configuration.
var named sync.Map // name → *Keystore

func init() {
	keystore.Register(Scheme, func(_ context.Context, u *url.URL, _ keystore.Options) (keystore.Keystore, error) {
		name := u.Opaque
		if name == "" {
			name = u.Host + u.Path
		}
		if name == "" {
			return New(), nil
		}
		ks, _ := named.LoadOrStore(name, &Keystore{name: name})
		return ks.(*Keystore), nil
	})
}

// Forget drops the mem:NAME store, so the next Open of that name starts empty.
func Forget(name string) { named.Delete(name) }

// Keystore is one identity in memory. Safe for concurrent use. Close does not
// discard it: an Open of the same mem:NAME returns it again.
type Keystore struct {
	name string

	mu    sync.Mutex // guards the fields below
	key   crypto.Signer
	leaf  *x509.Certificate
	chain []*x509.Certificate
}

var (
	_ keystore.Keystore     = (*Keystore)(nil)
	_ keystore.KeyGenerator = (*Keystore)(nil)
	_ keystore.KeyImporter  = (*Keystore)(nil)
	_ keystore.Resetter     = (*Keystore)(nil)
)

// New returns an empty, unnamed store.
func New() *Keystore { return &Keystore{} }

// Describe is "mem:NAME" ("mem:" when unnamed).
func (k *Keystore) Describe() string { return "mem:" + k.name }

// Close does nothing: the store lives as long as the process holds it.
func (k *Keystore) Close() error { return nil }

// Signer returns the key; keystore.ErrNotFound if none.
func (k *Keystore) Signer(ctx context.Context) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		return nil, fmt.Errorf("no device key in %s: %w", k.Describe(), keystore.ErrNotFound)
	}
	return k.key, nil
}

// Certificate returns the leaf and chain; keystore.ErrNotFound if none.
func (k *Keystore) Certificate(ctx context.Context) (*x509.Certificate, []*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.leaf == nil {
		return nil, nil, fmt.Errorf("no certificate in %s: %w", k.Describe(), keystore.ErrNotFound)
	}
	return k.leaf, append([]*x509.Certificate(nil), k.chain...), nil
}

// StoreCertificate keeps leaf and chain for the current key.
func (k *Keystore) StoreCertificate(ctx context.Context, leaf *x509.Certificate, chain []*x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key == nil {
		return fmt.Errorf("store certificate: no device key in %s: %w", k.Describe(), keystore.ErrNotFound)
	}
	if err := keystore.MatchCertificate(k.key.Public(), leaf); err != nil {
		return fmt.Errorf("store certificate: %w", err)
	}
	k.leaf, k.chain = leaf, append([]*x509.Certificate(nil), chain...)
	return nil
}

// GenerateKey makes a key unless one exists (keystore.ErrKeyExists).
func (k *Keystore) GenerateKey(ctx context.Context, alg keystore.Algorithm) (crypto.Signer, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.key != nil {
		return nil, fmt.Errorf("generate key in %s: %w", k.Describe(), keystore.ErrKeyExists)
	}
	s, err := keystore.GenerateSoftwareKey(alg)
	if err != nil {
		return nil, err
	}
	k.key, k.leaf, k.chain = s, nil, nil
	return s, nil
}

// ImportIdentity replaces the identity with key, leaf and chain.
func (k *Keystore) ImportIdentity(ctx context.Context, key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, ok := key.(crypto.Signer)
	if !ok || leaf == nil {
		return fmt.Errorf("import identity: want a private key (got %T) and a certificate", key)
	}
	if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
		return fmt.Errorf("import identity: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.key, k.leaf, k.chain = s, leaf, append([]*x509.Certificate(nil), chain...)
	return nil
}

// Reset forgets key and certificates.
func (k *Keystore) Reset(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.key, k.leaf, k.chain = nil, nil, nil
	return nil
}
