// Package pki is the rig's certificate authority: one ECDSA P-256 root that issues the
// regions' server certificates and every device certificate a region hands out, so a
// single root-ca.pem verifies everything the mock cloud presents or issues.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// File names inside the directory given to LoadOrCreate.
const (
	CertFile = "root-ca.pem"
	KeyFile  = "root-ca.key"
)

// rootLifetime is long enough that no rig outlives its root.
const rootLifetime = 20 * 365 * 24 * time.Hour

// serverLifetime stays under the 398-day limit TLS clients may enforce.
const serverLifetime = 397 * 24 * time.Hour

// clockSkew backdates NotBefore so certificates are valid on hosts whose clocks lag.
const clockSkew = time.Hour

// CA is a root certificate with its key. Safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM []byte
	pool    *x509.CertPool
}

// NewRootCA creates a self-signed ECDSA P-256 root.
func NewRootCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate root key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"fleetboot mock cloud"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(rootLifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(&key.PublicKey),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign root %q: %w", commonName, err)
	}
	return newCA(der, key)
}

func newCA(der []byte, key *ecdsa.PrivateKey) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse root certificate: %w", err)
	}
	if !cert.IsCA {
		return nil, ErrNotCA
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, ErrKeyMismatch
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pool:    pool,
	}, nil
}

// LoadOrCreate reads root-ca.pem and root-ca.key from dir, or creates a new root and
// writes both (the key 0600) when neither exists. One file without the other is an
// error rather than a silent new root: devices may already trust the old one.
func LoadOrCreate(dir string) (*CA, error) {
	return LoadOrCreateFiles(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile), "fleetboot mock cloud root CA")
}

// LoadOrCreateFiles is LoadOrCreate for any pair of paths, such as a maker's CA
// kept beside the rig's own; commonName names a root it creates.
func LoadOrCreateFiles(certPath, keyPath, commonName string) (*CA, error) {
	dir := filepath.Dir(certPath)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return parseCA(certPEM, keyPEM)
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
	case certErr != nil && !errors.Is(certErr, os.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", certPath, certErr)
	case keyErr != nil && !errors.Is(keyErr, os.ErrNotExist):
		return nil, fmt.Errorf("read %s: %w", keyPath, keyErr)
	default:
		return nil, fmt.Errorf("load CA %s and %s: %w", certPath, keyPath, ErrIncomplete)
	}
	ca, err := NewRootCA(commonName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA dir: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(ca.key)
	if err != nil {
		return nil, fmt.Errorf("marshal root key: %w", err)
	}
	// Key first: a crash between the two writes leaves a key without a certificate,
	// which LoadOrCreate reports instead of overwriting.
	if err := safefile.WriteAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := safefile.WriteAtomic(certPath, ca.certPEM, 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

// LoadFiles reads an existing CA; unlike LoadOrCreateFiles it never makes one, so
// a tool signing with a rig's CA cannot sign with a CA nobody registered.
func LoadFiles(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, err
	}
	ca, err := parseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", certPath, err)
	}
	return ca, nil
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("root certificate: %w", ErrNoPEM)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, fmt.Errorf("root key: %w", ErrNoPEM)
	}
	var key *ecdsa.PrivateKey
	switch kb.Type {
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse root key: %w", err)
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse root key: %w", err)
		}
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("root key is %T: %w", k, ErrKeyType)
		}
		key = ek
	default:
		return nil, fmt.Errorf("root key PEM type %q: %w", kb.Type, ErrKeyType)
	}
	return newCA(cb.Bytes, key)
}

// Certificate is the root certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// CertPEM is the root certificate in PEM, what clients pass as their CA file.
func (ca *CA) CertPEM() []byte { return append([]byte(nil), ca.certPEM...) }

// Pool is a pool holding only the root.
func (ca *CA) Pool() *x509.CertPool { return ca.pool.Clone() }

// IssueServer issues a P-256 server certificate for names (DNS names or IP literals)
// with EKU serverAuth. The returned chain holds the leaf and the root.
func (ca *CA) IssueServer(names []string) (tls.Certificate, error) {
	if len(names) == 0 {
		return tls.Certificate{}, ErrNoNames
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(serverLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := ca.sign(tmpl, &key.PublicKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue server certificate for %v: %w", names, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("parse server certificate: %w", err)
	}
	return tls.Certificate{
		Certificate: [][]byte{der, ca.cert.Raw},
		PrivateKey:  key,
		Leaf:        leaf,
	}, nil
}

// IssueClient issues a client certificate (EKU clientAuth, random serial) for pub.
// A zero notAfter means 20 years.
func (ca *CA) IssueClient(pub crypto.PublicKey, subject pkix.Name, notAfter time.Time) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if notAfter.IsZero() {
		notAfter = now.Add(rootLifetime)
	}
	if notAfter.After(ca.cert.NotAfter) {
		notAfter = ca.cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      subject,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
	}
	der, err := ca.sign(tmpl, pub)
	if err != nil {
		return nil, fmt.Errorf("issue client certificate for %q: %w", subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// SignCSR checks the CSR's signature and issues a client certificate for its key.
// subject replaces the CSR's subject when non-nil, as AWS IoT does for the certificates
// it issues; a zero notAfter means 20 years.
func (ca *CA) SignCSR(csr *x509.CertificateRequest, subject *pkix.Name, notAfter time.Time) (*x509.Certificate, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCSRSignature, err)
	}
	s := csr.Subject
	if subject != nil {
		s = *subject
	}
	return ca.IssueClient(csr.PublicKey, s, notAfter)
}

func (ca *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey) ([]byte, error) {
	tmpl.AuthorityKeyId = ca.cert.SubjectKeyId
	return x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
}

func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("random serial: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil // never zero
}

func keyID(pub *ecdsa.PublicKey) []byte {
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	h := sha1.Sum(b) // RFC 5280 method 1; an identifier, not a security property
	return h[:]
}

// EncodeCertPEM is a certificate in PEM.
func EncodeCertPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
