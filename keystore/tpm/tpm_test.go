//go:build !notpm

package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
)

func TestGenerateKeyPersistsAndIsReused(t *testing.T) {
	for _, alg := range []keystore.Algorithm{"", keystore.ECDSAP256, keystore.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			sim := tpmtest.NewSimulator(t)
			dir := filepath.Join(t.TempDir(), "keys")
			ks := openKS(t, sim, dir)

			if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Signer before GenerateKey: %v, want ErrNotFound", err)
			}
			s, err := ks.GenerateKey(ctx, alg)
			if err != nil {
				t.Fatalf("GenerateKey: %v", err)
			}
			tpmtest.CheckNoTransients(t, sim)
			if !s.(*Signer).MadeInTPM() {
				t.Error("generated key is not fixedTPM")
			}
			a := readPublic(t, sim, DefaultHandle).ObjectAttributes
			want := tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, SignEncrypt: true}
			if a != want {
				t.Errorf("attributes %+v, want %+v", a, want)
			}
			if _, err := ks.GenerateKey(ctx, alg); !errors.Is(err, keystore.ErrKeyExists) {
				t.Fatalf("second GenerateKey: %v, want ErrKeyExists", err)
			}
			if hs := persistentHandles(t, sim); len(hs) != 1 || uint32(hs[0]) != DefaultHandle {
				t.Fatalf("persistent handles %v, want just 0x%08x", hs, DefaultHandle)
			}

			csrPEM, err := keystore.CreateCSR(s, pkix.Name{CommonName: "dev-1"})
			if err != nil {
				t.Fatalf("CreateCSR: %v", err)
			}
			block, _ := pem.Decode(csrPEM)
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if err := csr.CheckSignature(); err != nil {
				t.Fatalf("CSR signature: %v", err)
			}
			if err := keystore.MatchCertificate(s.Public(), &x509.Certificate{PublicKey: csr.PublicKey}); err != nil {
				t.Fatalf("CSR key: %v", err)
			}
			if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Certificate before StoreCertificate: %v, want ErrNotFound", err)
			}

			// A reboot before the certificate came: the same key is used next time.
			if err := ks.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrClosed) {
				t.Fatalf("Signer after Close: %v, want ErrClosed", err)
			}
			if _, err := s.Sign(rand.Reader, make([]byte, 32), crypto.SHA256); !errors.Is(err, keystore.ErrClosed) {
				t.Fatalf("Sign after Close: %v, want ErrClosed", err)
			}
			if err := sim.Restart(); err != nil {
				t.Fatal(err)
			}
			ks = openKS(t, sim, dir)
			s2, err := ks.Signer(ctx)
			if err != nil {
				t.Fatalf("Signer after restart: %v", err)
			}
			if !s2.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Fatal("key changed across a restart")
			}

			ca := newCA(t)
			leaf := ca.issue(t, csr.PublicKey, "dev-1", x509.ExtKeyUsageClientAuth)
			if err := ks.StoreCertificate(ctx, leaf, []*x509.Certificate{ca.cert}); err != nil {
				t.Fatalf("StoreCertificate: %v", err)
			}
			other := ca.issue(t, softwareKey(t, "ecdsa-p256").Public(), "other", x509.ExtKeyUsageClientAuth)
			if err := ks.StoreCertificate(ctx, other, nil); !errors.Is(err, keystore.ErrMismatch) {
				t.Fatalf("StoreCertificate for another key: %v, want ErrMismatch", err)
			}
			got, chain, err := ks.Certificate(ctx)
			if err != nil || !got.Equal(leaf) || len(chain) != 1 || !chain[0].Equal(ca.cert) {
				t.Fatalf("Certificate = %v, %d chain, %v", got, len(chain), err)
			}
			if _, err := keystore.TLSCertificate(ctx, ks); err != nil {
				t.Fatalf("TLSCertificate: %v", err)
			}
			checkModes(t, dir)

			if err := ks.Reset(ctx); err != nil {
				t.Fatalf("Reset: %v", err)
			}
			if hs := persistentHandles(t, sim); len(hs) != 0 {
				t.Fatalf("persistent handles after Reset: %v", hs)
			}
			if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Signer after Reset: %v, want ErrNotFound", err)
			}
			if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("Certificate after Reset: %v, want ErrNotFound", err)
			}
			if err := ks.Reset(ctx); err != nil {
				t.Fatalf("second Reset: %v", err)
			}
			s3, err := ks.GenerateKey(ctx, alg)
			if err != nil {
				t.Fatalf("GenerateKey after Reset: %v", err)
			}
			if s3.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(s.Public()) {
				t.Fatal("a key made after Reset equals the evicted one")
			}
		})
	}
}

// checkModes: files 0600 and folders 0700, as the file backend keeps them.
func checkModes(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v", p, fi.Mode())
		}
		n++
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walk %s: %d entries, %v", dir, n, err)
	}
}

func TestImportIdentity(t *testing.T) {
	for _, kind := range []string{"rsa-2048", "ecdsa-p256", "ecdsa-p384"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			sim := tpmtest.NewSimulator(t)
			dir := t.TempDir()
			ks := openKS(t, sim, dir)
			ca := newCA(t)
			key := softwareKey(t, kind)
			leaf := ca.issue(t, key.Public(), "dev-1", x509.ExtKeyUsageClientAuth)

			wrongLeaf := ca.issue(t, softwareKey(t, "ecdsa-p256").Public(), "x", x509.ExtKeyUsageClientAuth)
			if err := ks.ImportIdentity(ctx, key, wrongLeaf, nil); !errors.Is(err, keystore.ErrMismatch) {
				t.Fatalf("ImportIdentity with another key's certificate: %v, want ErrMismatch", err)
			}
			if hs := persistentHandles(t, sim); len(hs) != 0 {
				t.Fatalf("a refused import left handles %v", hs)
			}

			if err := ks.ImportIdentity(ctx, key, leaf, nil); err != nil {
				t.Fatalf("ImportIdentity: %v", err)
			}
			tpmtest.CheckNoTransients(t, sim)
			a := readPublic(t, sim, DefaultHandle).ObjectAttributes
			if a.FixedTPM || a.FixedParent || a.SensitiveDataOrigin || !a.SignEncrypt || !a.UserWithAuth {
				t.Errorf("imported key attributes %+v", a)
			}
			s, err := ks.Signer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if s.(*Signer).MadeInTPM() {
				t.Error("imported key claims fixedTPM")
			}
			if err := keystore.MatchCertificate(s.Public(), leaf); err != nil {
				t.Fatal(err)
			}
			if _, err := ks.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrKeyExists) {
				t.Fatalf("GenerateKey over an imported key: %v, want ErrKeyExists", err)
			}
			checkSigns(t, s)

			// The same identity again changes only the files.
			if err := ks.ImportIdentity(ctx, key, leaf, []*x509.Certificate{ca.cert}); err != nil {
				t.Fatalf("second ImportIdentity: %v", err)
			}
			if _, chain, err := ks.Certificate(ctx); err != nil || len(chain) != 1 {
				t.Fatalf("Certificate after re-import: %d chain, %v", len(chain), err)
			}

			// Restart, then replace the identity with another imported key.
			ks.Close()
			if err := sim.Restart(); err != nil {
				t.Fatal(err)
			}
			ks = openKS(t, sim, dir)
			if got, _, err := ks.Certificate(ctx); err != nil || !got.Equal(leaf) {
				t.Fatalf("Certificate after restart: %v", err)
			}
			key2 := softwareKey(t, kind)
			leaf2 := ca.issue(t, key2.Public(), "dev-1", x509.ExtKeyUsageClientAuth)
			if err := ks.ImportIdentity(ctx, key2, leaf2, nil); err != nil {
				t.Fatalf("replacing ImportIdentity: %v", err)
			}
			if got, _, err := ks.Certificate(ctx); err != nil || !got.Equal(leaf2) {
				t.Fatalf("Certificate after replacement: %v", err)
			}
			if hs := persistentHandles(t, sim); len(hs) != 1 {
				t.Fatalf("persistent handles %v, want one", hs)
			}
			s2, _ := ks.Signer(ctx)
			if err := keystore.MatchCertificate(s2.Public(), leaf2); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// checkSigns signs with every hash and padding TLS may ask for and verifies in
// software.
func checkSigns(t *testing.T, s crypto.Signer) {
	t.Helper()
	msg := []byte("fleetboot")
	digests := map[crypto.Hash][]byte{}
	d256 := sha256.Sum256(msg)
	d384 := sha512.Sum384(msg)
	d512 := sha512.Sum512(msg)
	digests[crypto.SHA256], digests[crypto.SHA384], digests[crypto.SHA512] = d256[:], d384[:], d512[:]
	for h, d := range digests {
		switch pub := s.Public().(type) {
		case *ecdsa.PublicKey:
			sig, err := s.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatalf("ECDSA %v: %v", h, err)
			}
			if !ecdsa.VerifyASN1(pub, d, sig) {
				t.Errorf("ECDSA %v signature does not verify", h)
			}
		case *rsa.PublicKey:
			sig, err := s.Sign(rand.Reader, d, h)
			if err != nil {
				t.Fatalf("PKCS1v15 %v: %v", h, err)
			}
			if err := rsa.VerifyPKCS1v15(pub, h, d, sig); err != nil {
				t.Errorf("PKCS1v15 %v: %v", h, err)
			}
			for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
				sig, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: salt, Hash: h})
				if err != nil {
					t.Fatalf("PSS %v: %v", h, err)
				}
				// TLS 1.3 verifies with the salt as long as the hash.
				if err := rsa.VerifyPSS(pub, h, d, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
					t.Errorf("PSS %v salt %d: %v", h, salt, err)
				}
			}
			if _, err := s.Sign(rand.Reader, d, &rsa.PSSOptions{SaltLength: 7, Hash: h}); !errors.Is(err, keystore.ErrUnsupported) {
				t.Errorf("PSS with salt 7: %v, want ErrUnsupported", err)
			}
		}
	}
	if _, err := s.Sign(rand.Reader, d256[:20], crypto.SHA256); err == nil {
		t.Error("a short digest was signed")
	}
	if _, err := s.Sign(rand.Reader, make([]byte, 16), crypto.MD5); !errors.Is(err, keystore.ErrUnsupported) {
		t.Errorf("MD5: %v, want ErrUnsupported", err)
	}
}

func TestSignGenerated(t *testing.T) {
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256, keystore.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			sim := tpmtest.NewSimulator(t)
			s, err := openKS(t, sim, "").GenerateKey(context.Background(), alg)
			if err != nil {
				t.Fatal(err)
			}
			checkSigns(t, s)
		})
	}
}

// An import interrupted between the TPM and the disk leaves a certificate for a
// key that is no longer at the handle: it must read as absent, not as the
// identity.
func TestCertificateForAnotherKeyIsNotFound(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.NewSimulator(t)
	ks := openKS(t, sim, "")
	ca := newCA(t)
	key := softwareKey(t, "ecdsa-p256")
	if err := ks.ImportIdentity(ctx, key, ca.issue(t, key.Public(), "d", x509.ExtKeyUsageClientAuth), nil); err != nil {
		t.Fatal(err)
	}
	rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(DefaultHandle)}.Execute(sim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tpm2.EvictControl{Auth: tpm2.TPMRHOwner, ObjectHandle: tpm2.NamedHandle{Handle: tpm2.TPMHandle(DefaultHandle), Name: rsp.Name}, PersistentHandle: tpm2.TPMHandle(DefaultHandle)}).Execute(sim); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Certificate with the key evicted: %v, want ErrNotFound", err)
	}
	if _, err := ks.GenerateKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Certificate for a replaced key: %v, want ErrNotFound", err)
	}
	if _, err := keystore.TLSCertificate(ctx, ks); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("TLSCertificate: %v, want ErrNotFound", err)
	}
}

func TestHandleHeldByAnotherObject(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.NewSimulator(t)
	srk, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(sim)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpm2.EvictControl{Auth: tpm2.TPMRHOwner, ObjectHandle: tpm2.NamedHandle{Handle: srk.ObjectHandle, Name: srk.Name}, PersistentHandle: tpm2.TPMHandle(DefaultHandle)}.Execute(sim)
	tpm2.FlushContext{FlushHandle: srk.ObjectHandle}.Execute(sim)
	if err != nil {
		t.Fatal(err)
	}
	ks := openKS(t, sim, "")
	if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrUnsupported) || !strings.Contains(err.Error(), "handle=") {
		t.Fatalf("Signer on a storage key: %v, want ErrUnsupported naming handle=", err)
	}
	if _, err := ks.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrKeyExists) {
		t.Fatalf("GenerateKey on an occupied handle: %v, want ErrKeyExists", err)
	}
}

func TestOwnerAuth(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.NewSimulator(t)
	secret := []byte("owner-secret-1234")
	if _, err := (tpm2.HierarchyChangeAuth{AuthHandle: tpm2.TPMRHOwner, NewAuth: tpm2.TPM2BAuth{Buffer: secret}}).Execute(sim); err != nil {
		t.Fatal(err)
	}

	ks := openKS(t, sim, "")
	_, err := ks.GenerateKey(ctx, "")
	if err == nil || !strings.Contains(err.Error(), "owner authorization") {
		t.Fatalf("GenerateKey without the owner auth: %v", err)
	}
	tpmtest.CheckNoTransients(t, sim)

	withAuth, err := keystore.Open(ctx, "tpm:///dev/null?handle=0x81000020", keystore.Options{BaseDir: t.TempDir(), Device: &Device{TPM: sim, OwnerAuth: secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer withAuth.Close()
	s, err := withAuth.(keystore.KeyGenerator).GenerateKey(ctx, "")
	if err != nil {
		t.Fatalf("GenerateKey with the owner auth: %v", err)
	}
	if got := s.(*Signer).Handle(); got != 0x81000020 {
		t.Fatalf("handle 0x%08x", got)
	}
	if err := withAuth.(keystore.Resetter).Reset(ctx); err != nil {
		t.Fatalf("Reset with the owner auth: %v", err)
	}
	for _, s := range []string{withAuth.Describe(), (&Device{TPM: sim, OwnerAuth: secret}).String()} {
		if strings.Contains(s, string(secret)) {
			t.Fatalf("%q shows the owner auth", s)
		}
	}
}

func TestOpenThroughRegistry(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.NewSimulator(t)
	base := t.TempDir()
	tests := []struct {
		name    string
		uri     string
		device  any
		wantDir string
		wantErr error
	}{
		{"device only", "tpm:///dev/tpmrm0", sim, filepath.Join(base, DefaultDir), nil},
		{"relative dir", "tpm:///dev/tpmrm0?dir=tpmkeys", &Device{TPM: sim}, filepath.Join(base, "tpmkeys"), nil},
		{"absolute dir", "tpm://127.0.0.1:2321?dir=" + filepath.Join(base, "abs"), sim, filepath.Join(base, "abs"), nil},
		{"bad handle", "tpm:///dev/tpmrm0?handle=0x81800000", sim, "", keystore.ErrInvalidURI},
		{"not a TPM", "tpm:///dev/tpmrm0", os.Stdin, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dev interface{ Close() error }
			if tt.device != nil {
				dev = tt.device.(interface{ Close() error })
			}
			ks, err := keystore.Open(ctx, tt.uri, keystore.Options{BaseDir: base, Device: dev})
			if tt.wantDir == "" {
				if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("Open = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer ks.Close()
			if got := ks.(*Keystore).Dir(); got != tt.wantDir {
				t.Errorf("Dir = %s, want %s", got, tt.wantDir)
			}
			if !strings.Contains(ks.Describe(), "0x81000010") {
				t.Errorf("Describe = %s", ks.Describe())
			}
		})
	}
	// The keystore did not close a device it was given.
	if _, err := tpmtest.Handles(sim, tpm2.TPMHTPersistent); err != nil {
		t.Fatalf("the simulator was closed by a keystore: %v", err)
	}
}

func TestOpenFailsWithoutTPM(t *testing.T) {
	ctx := context.Background()
	_, err := keystore.Open(ctx, "tpm:///nonexistent/tpm", keystore.Options{BaseDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/tpm") {
		t.Fatalf("Open of a missing device: %v", err)
	}
	// A loopback port where nothing listens.
	_, err = keystore.Open(ctx, "tpm://127.0.0.1:1", keystore.Options{BaseDir: t.TempDir()})
	if err == nil {
		t.Fatal("Open of a closed port succeeded")
	}
	if _, err := Open(ctx, nil, Config{Dir: t.TempDir()}); err == nil {
		t.Fatal("Open(nil) succeeded")
	}
	if _, err := Open(ctx, brokenTPM{}, Config{Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("Open on a broken TPM: %v", err)
	}
}

type brokenTPM struct{}

func (brokenTPM) Send([]byte) ([]byte, error) { return nil, errors.New("gone") }
func (brokenTPM) Close() error                { return nil }

func TestUnsupportedInputs(t *testing.T) {
	ctx := context.Background()
	sim := tpmtest.NewSimulator(t)
	ks := openKS(t, sim, "")
	if _, err := ks.GenerateKey(ctx, "ed25519"); !errors.Is(err, keystore.ErrUnsupported) {
		t.Errorf("GenerateKey(ed25519): %v", err)
	}
	ca := newCA(t)
	for _, bits := range []int{1024, 3072} {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.ImportIdentity(ctx, k, ca.issue(t, k.Public(), "d", x509.ExtKeyUsageClientAuth), nil); !errors.Is(err, keystore.ErrUnsupported) {
			t.Errorf("import RSA-%d: %v, want ErrUnsupported", bits, err)
		}
	}
	p521 := softwareKeyP521(t)
	if err := ks.ImportIdentity(ctx, p521, ca.issue(t, p521.Public(), "d", x509.ExtKeyUsageClientAuth), nil); !errors.Is(err, keystore.ErrUnsupported) {
		t.Errorf("import P-521: %v, want ErrUnsupported", err)
	}
	if err := ks.ImportIdentity(ctx, "not a key", ca.cert, nil); err == nil {
		t.Error("import of a string succeeded")
	}
	if hs := persistentHandles(t, sim); len(hs) != 0 {
		t.Errorf("handles %v", hs)
	}
	if !bytes.Contains([]byte(ks.Describe()), []byte("tpm")) {
		t.Errorf("Describe = %q", ks.Describe())
	}
}
