package mockcloud

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// Every rig has a maker CA in its data folder, registered in every region for JITP;
// the rig file can register more CAs, in some regions only.
func TestMakerCAAndConfiguredCAs(t *testing.T) {
	dir := t.TempDir()
	extraPEM := selfSignedCA(t, "Other Maker CA")
	cfgDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(cfgDir, "other-ca.pem"), extraPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	rigFile := filepath.Join(cfgDir, "rig.yaml")
	rig, _ := os.ReadFile("../testdata/rig.yaml")
	rig = append(rig, []byte("caCertificates:\n  - {certificate: other-ca.pem, regions: [ap-northeast-1]}\n")...)
	if err := os.WriteFile(rigFile, rig, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(rigFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 0
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := func() *Cloud {
		c, err := Start(ctx, cfg, Options{DataDir: dir, Ephemeral: true, Logger: zaptest.NewLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	files := c.Files()
	if fi, err := os.Stat(files.MakerCAKey); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("maker-ca.key: %v %v, want mode 0600", fi, err)
	}
	makerPEM, err := os.ReadFile(files.MakerCA)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(makerPEM)
	maker, err := x509.ParseCertificate(b.Bytes)
	if err != nil || !maker.IsCA || maker.Subject.CommonName != MakerCAName {
		t.Fatalf("maker-ca.pem: %v %+v", err, maker.Subject)
	}
	makerID := registry.CertificateID(b.Bytes)
	eb, _ := pem.Decode(extraPEM)
	extraID := registry.CertificateID(eb.Bytes)
	for _, r := range c.Regions() {
		reg := c.Region(r.Name).Registry()
		ca, err := reg.GetCACertificate(makerID)
		if err != nil || ca.Status != registry.StatusActive || !ca.AllowAutoRegistration || !strings.Contains(ca.TemplateBody, "AWS::IoT::Certificate::CommonName") {
			t.Fatalf("%s: maker CA %+v, %v", r.Name, ca, err)
		}
		_, err = reg.GetCACertificate(extraID)
		if got, want := err == nil, r.Name == "ap-northeast-1"; got != want {
			t.Fatalf("%s: configured CA registered = %v, want %v (%v)", r.Name, got, want, err)
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// A restart keeps the maker CA and registers nothing twice.
	c = start()
	defer c.Close()
	again, _ := os.ReadFile(files.MakerCA)
	if !bytes.Equal(again, makerPEM) {
		t.Fatal("restart replaced the maker CA")
	}
	cas, err := c.Region("ap-northeast-1").Registry().ListCACertificates()
	if err != nil || len(cas) != 2 {
		t.Fatalf("CAs after restart: %d, %v", len(cas), err)
	}
}

func TestCACertificateConfigErrors(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{"regions: [{name: eu-west-1}]\ncaCertificates: [{allowAutoRegistration: true}]\n", "caCertificates[0].certificate"},
		{"regions: [{name: eu-west-1}]\ncaCertificates: [{certificate: a.pem, templateFile: t.json}]\n", "caCertificates[0].templateFile"},
		{"regions: [{name: eu-west-1}]\ncaCertificates: [{certificate: a.pem, regions: [us-east-1]}]\n", "caCertificates[0].regions[0]"},
	} {
		if _, err := ParseConfig([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one naming %q", err, tc.want)
		}
	}
}

func selfSignedCA(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
