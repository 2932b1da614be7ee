package acm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testAccount = "123456789012"

// testRegionOf reads the region off the credential scope, as the rig does.
func testRegionOf(r *http.Request) (string, error) {
	h := r.Header.Get("Authorization")
	_, rest, ok := strings.Cut(h, "Credential=")
	if !ok {
		return "eu-west-1", nil
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return "", http.ErrNotSupported
	}
	return parts[2], nil
}

type issued struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// issue makes a certificate for cn signed by parent (self-signed when nil).
func issue(t testing.TB, cn string, key crypto.Signer, parent *issued, isCA bool, notAfter time.Time) *issued {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, IsCA: isCA, BasicConstraintsValid: true}
	if isCA {
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.DNSNames = []string{cn}
	}
	signer, issuerCert := key, tmpl
	if parent != nil {
		signer, issuerCert = parent.key, parent.cert
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuerCert, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &issued{c, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

func ecKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t testing.TB, bits int) crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// chainOf is a leaf for cn under an intermediate under a root, all ECDSA but the
// leaf's key.
type chainOf struct {
	root, inter, leaf *issued
}

func newChain(t testing.TB, cn string, leafKey crypto.Signer) chainOf {
	root := issue(t, "Test Root", ecKey(t), nil, true, time.Now().Add(48*time.Hour))
	inter := issue(t, "Test Intermediate", ecKey(t), root, true, time.Now().Add(48*time.Hour))
	leaf := issue(t, cn, leafKey, inter, false, time.Now().Add(24*time.Hour))
	return chainOf{root, inter, leaf}
}

func newService(t testing.TB, dir string, inUse func(region, arn string) []string) (*Service, *httptest.Server) {
	t.Helper()
	s, err := New(Options{Regions: []string{"eu-west-1", "us-east-1"}, Account: testAccount, DataDir: dir, RegionOf: testRegionOf, InUse: inUse})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	return s, srv
}
