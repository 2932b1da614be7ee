package pki_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/pki"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// opensslVerify runs the real openssl against root-ca.pem.
func opensslVerify(t *testing.T, dir string, purpose string, certPEM []byte) {
	t.Helper()
	bin := testenv.Need(t, "openssl", "openssl")
	leaf := filepath.Join(t.TempDir(), "leaf.pem")
	if err := os.WriteFile(leaf, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "-purpose", purpose, "-CAfile", filepath.Join(dir, pki.CertFile), leaf).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, pki.KeyFile))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	again, err := pki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Certificate().Equal(ca.Certificate()) {
		t.Fatal("second LoadOrCreate made a new root")
	}
	if err := os.Remove(filepath.Join(dir, pki.CertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.LoadOrCreate(dir); !errors.Is(err, pki.ErrIncomplete) {
		t.Fatalf("key without certificate: %v", err)
	}
}

func TestIssuedCertificatesVerifyWithOpenSSL(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer([]string{"a-ats.iot.eu-west-1.amazonaws.com", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Leaf.DNSNames[0] != "a-ats.iot.eu-west-1.amazonaws.com" || len(srv.Leaf.IPAddresses) != 1 {
		t.Fatalf("SANs %v %v", srv.Leaf.DNSNames, srv.Leaf.IPAddresses)
	}
	opensslVerify(t, dir, "sslserver", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]}))

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ca.IssueClient(&rsaKey.PublicKey, pkix.Name{CommonName: "AWS IoT Certificate"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	opensslVerify(t, dir, "sslclient", pki.EncodeCertPEM(cl))

	ecKey, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "csr"}}, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	fromCSR, err := ca.SignCSR(csr, nil, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if fromCSR.Subject.CommonName != "csr" {
		t.Fatalf("subject %v", fromCSR.Subject)
	}
	opensslVerify(t, dir, "sslclient", pki.EncodeCertPEM(fromCSR))
}

func TestSignCSRBadSignature(t *testing.T) {
	ca, err := pki.NewRootCA("t")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	csr, _ := x509.ParseCertificateRequest(der)
	csr.Signature[len(csr.Signature)-1] ^= 0xff
	if _, err := ca.SignCSR(csr, nil, time.Time{}); !errors.Is(err, pki.ErrBadCSRSignature) {
		t.Fatalf("tampered CSR: %v", err)
	}
}
