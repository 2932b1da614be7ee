package file

import (
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

// FuzzLoadPEM loads arbitrary bytes as a generation's key, certificate and
// chain files: no panic, every failure is a clear keystore error naming the
// file, and a key that loads is usable. TestLoadFromDiskMatchesParse checks
// that the disk path adds nothing but the read.
func FuzzLoadPEM(f *testing.F) {
	ca := newCA(f)
	key := newKey(f, "")
	keyPEM, err := keystore.MarshalPrivateKeyPEM(key)
	if err != nil {
		f.Fatal(err)
	}
	leafPEM := keystore.EncodeCertificatesPEM(ca.issue(f, key.Public(), "dev"))
	caPEM := keystore.EncodeCertificatesPEM(ca.cert)
	f.Add(keyPEM, leafPEM, caPEM)
	f.Add(keyPEM[:len(keyPEM)/2], leafPEM[:40], []byte{})
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"), []byte("garbage"), []byte("-----BEGIN"))
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{0x30, 0x03, 0x02, 0x01, 0x01}}), caPEM, leafPEM)
	f.Add(append(append([]byte{}, keyPEM...), keyPEM...), append([]byte("subject=CN=dev\n"), leafPEM...), []byte("\x00\xff"))

	// The disk is written once, with the first seed, to check that the bytes go
	// through Signer and Certificate exactly as through parseKey and parseCerts;
	// after that the fuzzer feeds those two directly, as file system calls cost
	// more than the parsing under test (about 0.5 ms per input here).
	f.Fuzz(func(t *testing.T, keyData, certData, chainData []byte) {
		snap := &Snapshot{Generation: "gen-000001", Files: map[string]File{
			KeyFile:   {Path: "/keys/gen-000001/" + KeyFile, Mode: 0o600, Data: keyData},
			CertFile:  {Path: "/keys/gen-000001/" + CertFile, Mode: 0o600, Data: certData},
			ChainFile: {Path: "/keys/gen-000001/" + ChainFile, Mode: 0o600, Data: chainData},
		}}
		s, err := parseKey(snap)
		switch {
		case err == nil:
			if _, err := keystore.CreateCSR(s, pkixName("fuzz")); err != nil && !errors.Is(err, keystore.ErrUnsupported) {
				t.Fatalf("a loaded key cannot sign a CSR: %v", err)
			}
		case errors.Is(err, keystore.ErrCorrupt), errors.Is(err, keystore.ErrUnsupported):
			if !strings.Contains(err.Error(), KeyFile) {
				t.Fatalf("key error does not name the file: %v", err)
			}
		default:
			t.Fatalf("Signer: unexpected error kind: %v", err)
		}
		leaf, _, err := ParseCertificates(snap)
		switch {
		case err == nil:
			if leaf == nil {
				t.Fatal("Certificate returned no leaf and no error")
			}
		case errors.Is(err, keystore.ErrCorrupt):
		default:
			t.Fatalf("Certificate: unexpected error kind: %v", err)
		}
	})
}

// TestLoadFromDiskMatchesParse writes the fuzz seeds' kind of input to disk
// and checks Signer and Certificate give what parseKey and parseCerts give.
func TestLoadFromDiskMatchesParse(t *testing.T) {
	ca := newCA(t)
	key := newKey(t, "")
	keyPEM, _ := keystore.MarshalPrivateKeyPEM(key)
	leafPEM := keystore.EncodeCertificatesPEM(ca.issue(t, key.Public(), "dev"))
	for i, in := range [][3][]byte{
		{keyPEM, leafPEM, keystore.EncodeCertificatesPEM(ca.cert)},
		{keyPEM[:30], leafPEM[:30], nil},
		{[]byte("x"), []byte("-----BEGIN CERTIFICATE-----"), []byte{0}},
	} {
		dir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		gen := filepath.Join(dir, "gen-000001")
		if err := os.Mkdir(gen, 0o700); err != nil {
			t.Fatal(err)
		}
		files := map[string]File{}
		for j, name := range []string{KeyFile, CertFile, ChainFile} {
			p := filepath.Join(gen, name)
			if err := os.WriteFile(p, in[j], 0o600); err != nil {
				t.Fatal(err)
			}
			files[name] = File{Path: p, Mode: 0o600, Data: in[j]}
		}
		if err := os.Symlink("gen-000001", filepath.Join(dir, currentLink)); err != nil {
			t.Fatal(err)
		}
		ks := open(t, dir)
		snap := &Snapshot{Generation: "gen-000001", Files: files}
		_, errDisk := ks.Signer(ctx)
		_, errMem := parseKey(snap)
		if fmt.Sprint(errDisk) != fmt.Sprint(errMem) {
			t.Fatalf("input %d: Signer %v, parseKey %v", i, errDisk, errMem)
		}
		_, _, errDisk = ks.Certificate(ctx)
		_, _, errMem = ParseCertificates(snap)
		if fmt.Sprint(errDisk) != fmt.Sprint(errMem) {
			t.Fatalf("input %d: Certificate %v, parseCerts %v", i, errDisk, errMem)
		}
	}
}
