//go:build !notpm

package tpm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
)

// One TLS client handshake's signature: ECDSA P-256 (generated, CSR flow) and
// RSA-2048 PSS (imported, keys flow), on the in-process simulator and on swtpm
// over loopback TCP.
func BenchmarkSign(b *testing.B) {
	digest := sha256.Sum256([]byte("handshake transcript"))
	for _, backend := range []string{"simulator", "swtpm"} {
		for _, kind := range []string{"ecdsa-p256-generated", "rsa-2048-imported"} {
			b.Run(backend+"/"+kind, func(b *testing.B) {
				ctx := context.Background()
				var ks *Keystore
				switch backend {
				case "simulator":
					ks = openKS(b, tpmtest.NewSimulator(b), "")
				case "swtpm":
					sw := tpmtest.StartSwtpm(b)
					k, err := keystore.Open(ctx, sw.URI()+"?dir="+b.TempDir(), keystore.Options{})
					if err != nil {
						b.Fatal(err)
					}
					b.Cleanup(func() { k.Close() })
					ks = k.(*Keystore)
				}
				var opts crypto.SignerOpts = crypto.SHA256
				if kind == "ecdsa-p256-generated" {
					if _, err := ks.GenerateKey(ctx, keystore.ECDSAP256); err != nil {
						b.Fatal(err)
					}
				} else {
					key := softwareKey(b, "rsa-2048")
					if err := ks.ImportIdentity(ctx, key, newCA(b).issue(b, key.Public(), "d", x509.ExtKeyUsageClientAuth), nil); err != nil {
						b.Fatal(err)
					}
					opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
				}
				s, err := ks.Signer(ctx)
				if err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for b.Loop() {
					if _, err := s.Sign(rand.Reader, digest[:], opts); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
