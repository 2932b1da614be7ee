package file

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/keystore"
)

// testCA issues certificates for test keys.
type testCA struct {
	key  crypto.Signer
	cert *x509.Certificate
	pool *x509.CertPool
}

var serial int64

func newCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{key: key, cert: cert, pool: pool}
}

// issue makes a certificate for pub, usable by a TLS client and server on loopback.
func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, cn string) *x509.Certificate {
	t.Helper()
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial + 1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newKey(t testing.TB, alg keystore.Algorithm) crypto.Signer {
	t.Helper()
	s, err := keystore.GenerateSoftwareKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// provision gives ks a key of alg and a certificate for it issued by c, with
// chain beside it, as a first boot leaves a keystore.
func (c *testCA) provision(t testing.TB, ks *Keystore, alg keystore.Algorithm, cn string, chain []*x509.Certificate) crypto.Signer {
	t.Helper()
	s, err := ks.GenerateKey(ctx, alg)
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.StoreCertificate(ctx, c.issue(t, s.Public(), cn), chain); err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens a keystore in dir (a fresh one under t.TempDir() if dir is "").
func open(t testing.TB, dir string) *Keystore {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "state", "keys")
	}
	ks, err := Open(dir, keystore.Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

// identity is what a reopened keystore holds: the key's public part and the leaf.
type identity struct {
	pub  crypto.PublicKey
	leaf *x509.Certificate
}

func (id identity) equal(o identity) bool {
	if (id.pub == nil) != (o.pub == nil) || (id.leaf == nil) != (o.leaf == nil) {
		return false
	}
	if id.pub != nil && !id.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(o.pub) {
		return false
	}
	return id.leaf == nil || id.leaf.Equal(o.leaf)
}

// load reads a keystore's identity from a fresh instance, as after a reboot.
// A missing key or certificate leaves that field nil; any other error fails.
func load(t testing.TB, dir string) identity {
	t.Helper()
	ks, err := Open(dir, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	var id identity
	ctx := context.Background()
	s, err := ks.Signer(ctx)
	switch {
	case err == nil:
		id.pub = s.Public()
	case !isNotFound(err):
		t.Fatalf("Signer after reopen: %v", err)
	}
	leaf, _, err := ks.Certificate(ctx)
	switch {
	case err == nil:
		id.leaf = leaf
	case !isNotFound(err):
		t.Fatalf("Certificate after reopen: %v", err)
	}
	return id
}

func isNotFound(err error) bool { return err != nil && errors.Is(err, keystore.ErrNotFound) }

func writeOver(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func pkixName(cn string) pkix.Name { return pkix.Name{CommonName: cn} }
