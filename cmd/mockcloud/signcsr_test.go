package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

func TestSignCSR(t *testing.T) {
	data := t.TempDir()
	csrFile := filepath.Join(t.TempDir(), "GW-1.csr")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "GW-1"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csrFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	// Before the rig made its maker CA: a clear error, and no CA is made here.
	if code := run(context.Background(), []string{"sign-csr", "--data", data, "--csr", csrFile, "--out", "-"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "maker-ca.pem") {
		t.Fatalf("without a maker CA: exit %d, %s", code, stderr.String())
	}
	ca, err := pki.LoadOrCreateFiles(filepath.Join(data, "maker-ca.pem"), filepath.Join(data, "maker-ca.key"), mockcloud.MakerCAName)
	if err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"sign-csr", "--data", data, "--csr", csrFile, "--out", "-"}, &stdout, &stderr); code != 0 {
		t.Fatalf("sign-csr: exit %d, %s", code, stderr.String())
	}
	b, _ := pem.Decode(stdout.Bytes())
	if b == nil {
		t.Fatalf("no PEM certificate in %q", stdout.String())
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil || cert.Subject.CommonName != "GW-1" || !key.PublicKey.Equal(cert.PublicKey) {
		t.Fatalf("certificate %v for %v: verify %v", cert.Subject, cert.PublicKey, err)
	}
	// A file that is not a CSR says so.
	stderr.Reset()
	if code := run(context.Background(), []string{"sign-csr", "--data", data, "--csr", filepath.Join(data, "maker-ca.pem"), "--out", "-"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "CERTIFICATE REQUEST") {
		t.Fatalf("a certificate given as CSR: exit %d, %s", code, stderr.String())
	}
}
