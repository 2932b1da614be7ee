// Package keystore is where a gateway's device key lives: the Keystore interface,
// its errors, a registry of backends keyed by URI scheme (file:, tpm:, mem:), and
// helpers every backend shares (key generation, CSR, PEM, TLS).
//
// A Keystore hands out a crypto.Signer, so TLS and CSR code never sees the
// backend. What only some backends can do (make a key, take one made elsewhere,
// forget everything) sits in separate interfaces that callers find by type
// assertion.
//
// # Key material in memory
//
// Backends clear the PEM and DER buffers they own once parsed. The parsed keys
// (crypto/ecdsa, crypto/rsa) keep their own copies that Go gives no way to wipe,
// and the garbage collector does not overwrite freed memory, so a software key
// stays in process memory while its Signer is reachable. A TPM backend avoids that.
package keystore

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"

	"go.uber.org/zap"
)

// Keystore holds one device identity: a key and the certificate issued for it.
// Implementations are safe for concurrent use.
type Keystore interface {
	// Signer returns the device key. ErrNotFound if there is none yet.
	Signer(ctx context.Context) (crypto.Signer, error)
	// Certificate returns the stored leaf and its chain (issuers, leaf first
	// excluded; may be empty). ErrNotFound if no certificate is stored.
	Certificate(ctx context.Context) (leaf *x509.Certificate, chain []*x509.Certificate, err error)
	// StoreCertificate stores a certificate for the existing key, replacing any
	// earlier one. ErrMismatch if the certificate is for another key, ErrNotFound
	// if there is no key. It returns only once the certificate is durable.
	StoreCertificate(ctx context.Context, leaf *x509.Certificate, chain []*x509.Certificate) error
	// Describe says where the key lives, for humans: "file:/var/lib/fleetboot/keys".
	Describe() string
	// Close releases the backend. Further calls return ErrClosed.
	Close() error
}

// KeyGenerator is a Keystore that makes keys itself (in software or in a TPM).
type KeyGenerator interface {
	// GenerateKey makes the device key and stores it durably before returning.
	// If a key exists it returns ErrKeyExists and leaves it untouched: callers
	// reuse the existing key through Signer.
	GenerateKey(ctx context.Context, alg Algorithm) (crypto.Signer, error)
}

// KeyImporter is a Keystore that accepts a key made elsewhere (the cloud's
// CreateKeysAndCertificate, or a factory).
type KeyImporter interface {
	// ImportIdentity stores key, leaf and chain as one unit, replacing the
	// current identity: after a crash either the old identity or the whole new
	// one is current, never a key without its certificate. ErrMismatch (before
	// anything is written) if leaf is not for key. Backends keep replaced keys
	// where they can (the file backend keeps a few earlier generations).
	ImportIdentity(ctx context.Context, key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate) error
}

// Resetter is a Keystore that can forget its identity (fleetboot reset --yes).
type Resetter interface {
	// Reset removes every key and certificate. It is not a secure erase: flash
	// storage may keep old blocks.
	Reset(ctx context.Context) error
}

// Algorithm names a key type for GenerateKey. The names are persisted in
// configuration files, so they never change.
type Algorithm string

// Algorithms every software backend supports.
const (
	ECDSAP256 Algorithm = "ecdsa-p256" // the default
	RSA2048   Algorithm = "rsa-2048"
)

// DefaultAlgorithm is used when an Algorithm is empty.
const DefaultAlgorithm = ECDSAP256

// Options are what every backend may use; backend-specific settings come from
// the URI's query.
type Options struct {
	// Logger receives backend events; nil means zap.NewNop().
	Logger *zap.Logger
	// BaseDir is the folder relative locations in a URI are resolved against
	// (file:keys is BaseDir/keys), and where a backend that keeps files but whose
	// URI names no folder keeps them. Empty means the working directory.
	BaseDir string
	// Device is an already-open handle for backends that talk to hardware (the
	// tpm backend takes a go-tpm transport.TPMCloser here). The caller keeps
	// ownership: a Keystore's Close does not close it.
	Device io.Closer
}

// Log returns the logger, never nil.
func (o Options) Log() *zap.Logger {
	if o.Logger == nil {
		return zap.NewNop()
	}
	return o.Logger
}
