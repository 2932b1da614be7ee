package keystore

import (
	"errors"
	"fmt"
	"io/fs"
)

// Sentinel errors. Backends wrap them with context; callers test with errors.Is.
var (
	// ErrNotFound: the keystore holds no key, or no certificate, yet.
	ErrNotFound = errors.New("not found")
	// ErrKeyExists: a key is already present and is never replaced, because a
	// certificate for it may already have been issued. Reuse it through Signer.
	ErrKeyExists = errors.New("key already exists")
	// ErrUnsupported: the backend or the algorithm cannot do what was asked.
	ErrUnsupported = errors.New("unsupported")
	// ErrInsecurePermissions: a key file is open to group or others.
	ErrInsecurePermissions = errors.New("insecure permissions")
	// ErrMismatch: a certificate's public key is not the keystore's key.
	ErrMismatch = errors.New("certificate does not match key")
	// ErrCorrupt: stored key material or certificates cannot be read back.
	// Nothing is deleted when this is returned.
	ErrCorrupt = errors.New("corrupt keystore")
	// ErrUnknownScheme: no backend is registered for a URI's scheme.
	ErrUnknownScheme = errors.New("unknown keystore scheme")
	// ErrInvalidURI: a keystore URI cannot be parsed or names no location.
	ErrInvalidURI = errors.New("invalid keystore URI")
	// ErrClosed: the keystore was used after Close.
	ErrClosed = errors.New("keystore closed")
)

// PermissionError reports a key file that group or others may access. Its
// message says how to fix it.
type PermissionError struct {
	Path string
	Mode fs.FileMode
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("key file %s has mode %04o, open to group or others: run `chmod 600 %s`", e.Path, uint32(e.Mode.Perm()), e.Path)
}

// Is makes errors.Is(err, ErrInsecurePermissions) true.
func (e *PermissionError) Is(target error) bool { return target == ErrInsecurePermissions }

// MismatchError reports a certificate whose public key is not the key's. Both
// sides are named by algorithm and SHA-256 fingerprint of the public key, which
// is not secret.
type MismatchError struct {
	Key         string // e.g. "ECDSA P-256 sha256:1f2e…"
	Certificate string // the certificate's public key, same form
	Subject     string // the certificate's subject
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("certificate %q has public key %s but the stored key is %s", e.Subject, e.Certificate, e.Key)
}

// Is makes errors.Is(err, ErrMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrMismatch }
