package file

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

// BenchmarkGenerateKey is a first-boot key: make, encode, commit (fsyncs included).
func BenchmarkGenerateKey(b *testing.B) {
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256} {
		b.Run(string(alg), func(b *testing.B) {
			ks := open(b, "")
			for b.Loop() {
				if err := ks.Reset(ctx); err != nil {
					b.Fatal(err)
				}
				if _, err := ks.GenerateKey(ctx, alg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSoftwareKey is key generation alone, without the disk.
func BenchmarkSoftwareKey(b *testing.B) {
	for b.Loop() {
		if _, err := keystore.GenerateSoftwareKey(keystore.ECDSAP256); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSign is one TLS handshake signature with the keystore's signer,
// including the Signer lookup (a readlink and a cache hit).
func BenchmarkSign(b *testing.B) {
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256, keystore.RSA2048} {
		b.Run(string(alg), func(b *testing.B) {
			ks := open(b, "")
			if _, err := ks.GenerateKey(ctx, alg); err != nil {
				b.Fatal(err)
			}
			digest := sha256.Sum256([]byte("handshake transcript"))
			for b.Loop() {
				s, err := ks.Signer(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
