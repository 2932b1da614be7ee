package keystore

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
)

// GenerateSoftwareKey makes a key in process memory: the file and mem backends
// use it. An empty alg means DefaultAlgorithm.
func GenerateSoftwareKey(alg Algorithm) (crypto.Signer, error) {
	switch alg {
	case "", ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("key algorithm %q: %w (want %s or %s)", alg, ErrUnsupported, ECDSAP256, RSA2048)
	}
}

// MarshalPrivateKeyPEM encodes key as a PKCS#8 "PRIVATE KEY" PEM block.
func MarshalPrivateKeyPEM(key crypto.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode private key of type %T: %w", key, ErrUnsupported)
	}
	defer clear(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes the first PEM block of data: PKCS#8 "PRIVATE KEY",
// SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY". Errors wrap ErrCorrupt (or
// ErrUnsupported for encrypted keys) and never quote the key bytes. The caller
// still owns data; the decoded DER is cleared here.
func ParsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		if bytes.Contains(data, []byte("-----BEGIN")) {
			return nil, fmt.Errorf("%w: truncated or malformed PEM block", ErrCorrupt)
		}
		return nil, fmt.Errorf("%w: no PEM block", ErrCorrupt)
	}
	defer clear(block.Bytes)
	if bytes.Contains(rest, []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%w: more than one PEM block in a key file", ErrCorrupt)
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, fmt.Errorf("encrypted private keys: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("%w: PEM block %.40q is not a private key", ErrCorrupt, block.Type)
	}
	if err != nil {
		// The parser's own message is dropped: it may describe the key's bytes.
		return nil, fmt.Errorf("%w: %s block does not hold a valid key", ErrCorrupt, block.Type)
	}
	switch k := key.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
		return k.(crypto.Signer), nil
	default:
		return nil, fmt.Errorf("private key of type %T: %w", key, ErrUnsupported)
	}
}

// EncodeCertificatesPEM encodes certs as consecutive "CERTIFICATE" blocks.
func EncodeCertificatesPEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}) // a bytes.Buffer never fails
	}
	return b.Bytes()
}

// ParseCertificatesPEM decodes every "CERTIFICATE" block of data, in order.
// Text between blocks is allowed (openssl writes some); other block types, a
// truncated block and data without any certificate are errors wrapping ErrCorrupt.
func ParseCertificatesPEM(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for n := 1; ; n++ {
		block, rest := pem.Decode(data)
		if block == nil {
			if bytes.Contains(data, []byte("-----BEGIN")) {
				return nil, fmt.Errorf("%w: PEM block %d is truncated or malformed", ErrCorrupt, n)
			}
			break
		}
		data = rest
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %d is %.40q, want CERTIFICATE", ErrCorrupt, n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: certificate %d: %v", ErrCorrupt, n, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrCorrupt)
	}
	return out, nil
}

// MatchCertificate checks that leaf certifies pub. The error is a *MismatchError.
func MatchCertificate(pub crypto.PublicKey, leaf *x509.Certificate) error {
	if leaf == nil {
		return errors.New("no certificate")
	}
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if ok && k.Equal(leaf.PublicKey) {
		return nil
	}
	return &MismatchError{Key: DescribePublicKey(pub), Certificate: DescribePublicKey(leaf.PublicKey), Subject: leaf.Subject.String()}
}

// DescribePublicKey names a public key for humans and logs: algorithm, size and
// the SHA-256 of its SubjectPublicKeyInfo, e.g. "ECDSA P-256 sha256:3a7bd3e2360a3d29".
func DescribePublicKey(pub crypto.PublicKey) string {
	var kind string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		kind = "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		kind = fmt.Sprintf("RSA %d", k.N.BitLen())
	case ed25519.PublicKey:
		kind = "Ed25519"
	default:
		return fmt.Sprintf("%T", pub)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return kind
	}
	sum := sha256.Sum256(der)
	return kind + " sha256:" + hex.EncodeToString(sum[:8])
}
