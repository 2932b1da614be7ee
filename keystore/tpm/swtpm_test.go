//go:build !notpm

package tpm

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
)

// TestSwtpm runs both flows against swtpm as a separate process over the TCP
// transport, and checks the result from outside: tpm2_readpublic reads the
// persistent handle over the swtpm TCTI, and openssl's view of the stored
// certificate's public key equals the TPM's.
func TestSwtpm(t *testing.T) {
	tests := []struct {
		name     string
		provide  func(t *testing.T, ks *Keystore, ca *testCA)
		fixedTPM bool
	}{
		{"csr-ecdsa", func(t *testing.T, ks *Keystore, ca *testCA) {
			s, err := ks.GenerateKey(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			if err := ks.StoreCertificate(context.Background(), ca.issue(t, s.Public(), "dev", x509.ExtKeyUsageClientAuth), []*x509.Certificate{ca.cert}); err != nil {
				t.Fatal(err)
			}
		}, true},
		{"keys-rsa", func(t *testing.T, ks *Keystore, ca *testCA) {
			k := softwareKey(t, "rsa-2048")
			if err := ks.ImportIdentity(context.Background(), k, ca.issue(t, k.Public(), "dev", x509.ExtKeyUsageClientAuth), nil); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	readpublic := tpmtest.NeedProgram(t, "tpm2_readpublic", "tpm2-tools")
	openssl := tpmtest.NeedProgram(t, "openssl", "openssl")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			sw := tpmtest.StartSwtpm(t)
			dir := t.TempDir()
			uri := fmt.Sprintf("%s?dir=%s&handle=0x81000010", sw.URI(), dir)
			ks, err := keystore.Open(ctx, uri, keystore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			ca := newCA(t)
			tt.provide(t, ks.(*Keystore), ca)
			cert, err := keystore.TLSCertificate(ctx, ks)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range []uint16{0x0303, 0x0304} {
				handshake(t, ca, cert, v)
			}
			// swtpm serves one client at a time: the tools connect once the keystore is closed.
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}

			pubFile := filepath.Join(t.TempDir(), "tpm-pub.pem")
			out := run(t, readpublic, "-T", sw.TCTI(), "-c", "0x81000010", "-f", "pem", "-o", pubFile)
			attrs := attributesLine(out)
			for _, a := range []string{"fixedtpm", "fixedparent", "sensitivedataorigin"} {
				if strings.Contains(attrs, a) != tt.fixedTPM {
					t.Errorf("tpm2_readpublic attributes %q: %s present = %v, want %v", attrs, a, !tt.fixedTPM, tt.fixedTPM)
				}
			}
			for _, a := range []string{"userwithauth", "sign"} {
				if !strings.Contains(attrs, a) {
					t.Errorf("tpm2_readpublic attributes %q lack %s", attrs, a)
				}
			}
			tpmPub, err := os.ReadFile(pubFile)
			if err != nil {
				t.Fatal(err)
			}
			certPub := run(t, openssl, "x509", "-in", filepath.Join(dir, "current", CertFile), "-pubkey", "-noout")
			if !bytes.Equal(pemBody(t, tpmPub), pemBody(t, []byte(certPub))) {
				t.Fatalf("certificate public key\n%s\ndiffers from the TPM's\n%s", certPub, tpmPub)
			}

			// Reopen (a second boot), then reset: the handle is gone for the tools too.
			ks, err = keystore.Open(ctx, uri, keystore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := ks.Certificate(ctx); err != nil {
				t.Fatalf("Certificate after reopening: %v", err)
			}
			if err := ks.(keystore.Resetter).Reset(ctx); err != nil {
				t.Fatal(err)
			}
			ks.Close()
			if out, err := exec.Command(readpublic, "-T", sw.TCTI(), "-c", "0x81000010").CombinedOutput(); err == nil {
				t.Fatalf("tpm2_readpublic after Reset succeeded:\n%s", out)
			}
		})
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// attributesLine returns tpm2_readpublic's "attributes: value: a|b|c" value.
func attributesLine(out string) string {
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "attributes:") && i+1 < len(lines) {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(lines[i+1]), "value:"))
		}
	}
	return ""
}

func pemBody(t *testing.T, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("no PUBLIC KEY PEM block in %q", b)
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		t.Fatal(errors.Join(errors.New("public key"), err))
	}
	return block.Bytes
}
