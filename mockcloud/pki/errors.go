package pki

import "errors"

var (
	// ErrIncomplete means only one of root-ca.pem and root-ca.key exists.
	ErrIncomplete = errors.New("root CA certificate and key must both exist or both be absent")
	// ErrNoPEM means a file held no PEM block of the expected type.
	ErrNoPEM = errors.New("no PEM block")
	// ErrKeyType means a key of an unsupported type.
	ErrKeyType = errors.New("unsupported key type")
	// ErrKeyMismatch means the root key does not belong to the root certificate.
	ErrKeyMismatch = errors.New("key does not match certificate")
	// ErrNotCA means the root certificate is not a CA certificate.
	ErrNotCA = errors.New("certificate is not a CA")
	// ErrNoNames means a server certificate was requested for no name.
	ErrNoNames = errors.New("server certificate needs at least one name")
	// ErrBadCSRSignature means the CSR is not signed by the key it carries.
	ErrBadCSRSignature = errors.New("CSR signature does not verify")
)
