package acm

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// FuzzImport feeds ImportCertificate's three blobs to ACM's checks: never a
// panic, an accepted certificate describes itself, and a refusal never quotes
// the private key.
func FuzzImport(f *testing.F) {
	ch := newChain(f, "global.iot.example.com", ecKey(f))
	f.Add(ch.leaf.certPEM, ch.leaf.keyPEM, append(append([]byte{}, ch.inter.certPEM...), ch.root.certPEM...))
	f.Add(ch.leaf.certPEM, ch.leaf.keyPEM, []byte(nil))
	f.Add(ch.leaf.certPEM, ch.inter.keyPEM, ch.inter.certPEM)
	f.Add(append(append([]byte{}, ch.leaf.certPEM...), ch.leaf.certPEM...), ch.leaf.keyPEM, []byte(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), []byte("x"))
	now := time.Now()
	f.Fuzz(func(t *testing.T, cert, key, chain []byte) {
		rec, err := checkImport(cert, key, chain, now)
		if err != nil {
			if k := bytes.TrimSpace(key); len(k) > 16 && strings.Contains(err.Error(), string(k[len(k)/2:])) {
				t.Fatalf("error quotes the private key: %v", err)
			}
			return
		}
		if rec.KeyAlg == "" || rec.CertPEM != string(cert) || now.Before(rec.NotBefore) || now.After(rec.NotAfter) {
			t.Fatalf("accepted %+v", rec)
		}
	})
}
