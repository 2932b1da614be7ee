package keystore_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

func TestCreateCSR(t *testing.T) {
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name   string
		signer crypto.Signer
		want   x509.SignatureAlgorithm
	}{
		{"ecdsa-p256", mustKey(t, keystore.ECDSAP256), x509.ECDSAWithSHA256},
		{"rsa-2048", mustKey(t, keystore.RSA2048), x509.SHA256WithRSA},
		{"ecdsa-p384", p384, x509.ECDSAWithSHA384},
		{"ed25519", ed, x509.PureEd25519},
		// Only Public and Sign are used, so a TPM-held key fits.
		{"opaque signer", opaqueSigner{mustKey(t, "")}, x509.ECDSAWithSHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := keystore.CreateCSR(tt.signer, pkix.Name{CommonName: "gw-1", Organization: []string{"fleet"}})
			if err != nil {
				t.Fatal(err)
			}
			block, rest := pem.Decode(out)
			if block == nil || block.Type != "CERTIFICATE REQUEST" || len(rest) != 0 {
				t.Fatalf("not one CERTIFICATE REQUEST PEM block: %q", out)
			}
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatalf("CSR signature: %v", err)
			}
			if csr.SignatureAlgorithm != tt.want {
				t.Fatalf("signature algorithm %v, want %v", csr.SignatureAlgorithm, tt.want)
			}
			if csr.Subject.CommonName != "gw-1" || !csr.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(tt.signer.Public()) {
				t.Fatalf("CSR subject %q or public key wrong", csr.Subject)
			}
		})
	}
	if _, err := keystore.CreateCSR(badSigner{}, pkix.Name{}); !errors.Is(err, keystore.ErrUnsupported) {
		t.Fatalf("CSR for an unknown key type: %v, want ErrUnsupported", err)
	}
}

type opaqueSigner struct{ s crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.s.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.s.Sign(r, d, opts)
}

type badSigner struct{}

func (badSigner) Public() crypto.PublicKey { return "not a key" }
func (badSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("never")
}

func mustKey(t testing.TB, alg keystore.Algorithm) crypto.Signer {
	t.Helper()
	s, err := keystore.GenerateSoftwareKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrivateKeyPEMRoundTrip(t *testing.T) {
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, k := range []crypto.Signer{mustKey(t, keystore.ECDSAP256), mustKey(t, keystore.RSA2048), ed} {
		out, err := keystore.MarshalPrivateKeyPEM(k)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := pem.Decode(out); b == nil || b.Type != "PRIVATE KEY" {
			t.Fatalf("%T: not PKCS#8", k)
		}
		back, err := keystore.ParsePrivateKeyPEM(out)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()) {
			t.Fatalf("%T: round trip changed the key", k)
		}
	}
}

func TestParseErrors(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	tests := []struct {
		name string
		key  bool
		in   []byte
		want error
		msg  string
	}{
		{"key empty", true, nil, keystore.ErrCorrupt, "no PEM block"},
		{"key bad DER", true, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: secret}), keystore.ErrCorrupt, "does not hold a valid key"},
		{"key two blocks", true, append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: secret}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: secret})...), keystore.ErrCorrupt, "more than one"},
		{"key encrypted", true, pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: secret}), keystore.ErrUnsupported, "encrypted"},
		{"certs none", false, []byte("hello"), keystore.ErrCorrupt, "no CERTIFICATE"},
		{"certs wrong type", false, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: secret}), keystore.ErrCorrupt, `"PRIVATE KEY", want CERTIFICATE`},
		{"certs truncated", false, []byte("-----BEGIN CERTIFICATE-----\nMII"), keystore.ErrCorrupt, "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.key {
				_, err = keystore.ParsePrivateKeyPEM(tt.in)
			} else {
				_, err = keystore.ParseCertificatesPEM(tt.in)
			}
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v mentioning %q", err, tt.want, tt.msg)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "MDEyMzQ1") {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func TestPermissionErrorMessage(t *testing.T) {
	err := error(&keystore.PermissionError{Path: "/var/lib/fleetboot/keys/gen-000001/key.pem", Mode: 0o644})
	if !errors.Is(err, keystore.ErrInsecurePermissions) {
		t.Fatal("PermissionError is not ErrInsecurePermissions")
	}
	for _, want := range []string{"0644", "chmod 600 /var/lib/fleetboot/keys/gen-000001/key.pem"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%q does not mention %q", err, want)
		}
	}
}

func TestMatchCertificate(t *testing.T) {
	k := mustKey(t, "")
	other := mustKey(t, keystore.RSA2048)
	leaf := &x509.Certificate{PublicKey: k.Public(), Subject: pkix.Name{CommonName: "gw"}}
	if err := keystore.MatchCertificate(k.Public(), leaf); err != nil {
		t.Fatal(err)
	}
	err := keystore.MatchCertificate(other.Public(), leaf)
	var me *keystore.MismatchError
	if !errors.Is(err, keystore.ErrMismatch) || !errors.As(err, &me) {
		t.Fatalf("MatchCertificate: %v, want a MismatchError", err)
	}
	if !strings.Contains(me.Key, "RSA 2048 sha256:") || !strings.Contains(me.Certificate, "ECDSA P-256 sha256:") || !strings.Contains(err.Error(), "CN=gw") {
		t.Fatalf("mismatch message does not say which: %v", err)
	}
}

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	t.Run("no scheme", func(t *testing.T) {
		if _, err := keystore.Open(ctx, "/var/lib/fleetboot/keys", keystore.Options{}); !errors.Is(err, keystore.ErrInvalidURI) {
			t.Fatalf("Open: %v, want ErrInvalidURI", err)
		}
	})
	t.Run("unknown scheme", func(t *testing.T) {
		_, err := keystore.Open(ctx, "pkcs11:slot=1", keystore.Options{})
		if !errors.Is(err, keystore.ErrUnknownScheme) || !strings.Contains(err.Error(), `"pkcs11"`) {
			t.Fatalf("Open: %v, want ErrUnknownScheme naming pkcs11", err)
		}
	})
	t.Run("known but not linked", func(t *testing.T) {
		_, err := keystore.Open(ctx, "tpm:", keystore.Options{})
		if !errors.Is(err, keystore.ErrUnknownScheme) || !strings.Contains(err.Error(), "keystore/tpm") {
			t.Fatalf("Open: %v, want a hint naming the tpm package", err)
		}
	})
	t.Run("duplicate panics", func(t *testing.T) {
		fn := func(context.Context, *url.URL, keystore.Options) (keystore.Keystore, error) { return nil, nil }
		keystore.Register("duptest", fn)
		defer func() {
			if recover() == nil {
				t.Fatal("second Register did not panic")
			}
		}()
		keystore.Register("DupTest", fn)
	})
	t.Run("for test, with options", func(t *testing.T) {
		var got *url.URL
		var gotOpts keystore.Options
		keystore.RegisterForTest(t, "fake", func(_ context.Context, u *url.URL, o keystore.Options) (keystore.Keystore, error) {
			got, gotOpts = u, o
			return nil, errors.New("fake backend refuses")
		})
		_, err := keystore.Open(ctx, "fake:thing?x=1", keystore.Options{BaseDir: "/state"})
		if err == nil || !strings.Contains(err.Error(), "fake backend refuses") || got.Opaque != "thing" || got.Query().Get("x") != "1" || gotOpts.BaseDir != "/state" {
			t.Fatalf("Open: %v; backend got %v %+v", err, got, gotOpts)
		}
	})
}
