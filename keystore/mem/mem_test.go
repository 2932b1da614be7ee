package mem_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/mem"
)

var ctx = context.Background()

func selfSigned(t testing.TB, k crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gw"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestContract(t *testing.T) {
	ks := mem.New()
	if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Signer on empty: %v", err)
	}
	k, err := ks.GenerateKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ks.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrKeyExists) {
		t.Fatalf("second GenerateKey: %v", err)
	}
	other, _ := keystore.GenerateSoftwareKey("")
	if err := ks.StoreCertificate(ctx, selfSigned(t, other), nil); !errors.Is(err, keystore.ErrMismatch) {
		t.Fatalf("mismatched StoreCertificate: %v", err)
	}
	if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("a refused certificate was kept: %v", err)
	}
	if err := ks.StoreCertificate(ctx, selfSigned(t, k), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.TLSCertificate(ctx, ks); err != nil {
		t.Fatal(err)
	}
	if err := ks.ImportIdentity(ctx, other, selfSigned(t, k), nil); !errors.Is(err, keystore.ErrMismatch) {
		t.Fatalf("mismatched import: %v", err)
	}
	if err := ks.ImportIdentity(ctx, other, selfSigned(t, other), nil); err != nil {
		t.Fatal(err)
	}
	if s, _ := ks.Signer(ctx); !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(other.Public()) {
		t.Fatal("import did not replace the key")
	}
	if err := ks.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Certificate after Reset: %v", err)
	}
}

func TestNamedSurvivesReopen(t *testing.T) {
	name := fmt.Sprintf("mem:%s", t.Name())
	t.Cleanup(func() { mem.Forget(t.Name()) })
	a, err := keystore.Open(ctx, name, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := a.(keystore.KeyGenerator).GenerateKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	b, err := keystore.Open(ctx, name, keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := b.Signer(ctx); err != nil || !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
		t.Fatalf("reopened mem store lost its key (%v)", err)
	}
	if b.Describe() != name {
		t.Fatalf("Describe = %q", b.Describe())
	}
	anon, err := keystore.Open(ctx, "mem:", keystore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := anon.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("mem: shares state: %v", err)
	}
	mem.Forget(t.Name())
	c, _ := keystore.Open(ctx, name, keystore.Options{})
	if _, err := c.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Forget kept the store: %v", err)
	}
}

// BenchmarkGenerateKey is one simulated device's first key.
func BenchmarkGenerateKey(b *testing.B) {
	for b.Loop() {
		if _, err := mem.New().GenerateKey(ctx, keystore.ECDSAP256); err != nil {
			b.Fatal(err)
		}
	}
}
