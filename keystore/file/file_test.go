package file

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

var ctx = context.Background()

func TestGenerateKeyTwiceKeepsFirst(t *testing.T) {
	for _, alg := range []keystore.Algorithm{"", keystore.ECDSAP256, keystore.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			ks := open(t, "")
			first, err := ks.GenerateKey(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ks.GenerateKey(ctx, keystore.ECDSAP256)
			if !errors.Is(err, keystore.ErrKeyExists) {
				t.Fatalf("second GenerateKey: %v, want ErrKeyExists", err)
			}
			if got := load(t, ks.Dir()); !got.equal(identity{pub: first.Public()}) {
				t.Fatalf("key changed after a refused GenerateKey")
			}
		})
	}
}

func TestGenerateKeyUnknownAlgorithm(t *testing.T) {
	ks := open(t, "")
	if _, err := ks.GenerateKey(ctx, "dsa-1024"); !errors.Is(err, keystore.ErrUnsupported) {
		t.Fatalf("GenerateKey(dsa-1024): %v, want ErrUnsupported", err)
	}
	if _, err := os.Stat(filepath.Join(ks.Dir(), currentLink)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused GenerateKey left a generation: %v", err)
	}
}

func TestKeyFileIsPKCS8(t *testing.T) {
	ks := open(t, "")
	if _, err := ks.GenerateKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(ks.Dir(), currentLink, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := pem.Decode(data); b == nil || b.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PKCS#8 PRIVATE KEY PEM block")
	}
}

func TestStoreCertificate(t *testing.T) {
	ca := newCA(t)
	other := newKey(t, "")
	tests := []struct {
		name      string
		haveKey   bool
		haveCert  bool
		certFor   string // "key" or "other"
		wantErr   error
		wantMatch bool
	}{
		{name: "matching", haveKey: true, certFor: "key"},
		{name: "replaces earlier certificate", haveKey: true, haveCert: true, certFor: "key"},
		{name: "mismatch", haveKey: true, certFor: "other", wantErr: keystore.ErrMismatch},
		{name: "mismatch keeps earlier certificate", haveKey: true, haveCert: true, certFor: "other", wantErr: keystore.ErrMismatch},
		{name: "no key", certFor: "other", wantErr: keystore.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := open(t, "")
			var key crypto.Signer
			if tt.haveKey {
				var err error
				if key, err = ks.GenerateKey(ctx, ""); err != nil {
					t.Fatal(err)
				}
			}
			if tt.haveCert {
				if err := ks.StoreCertificate(ctx, ca.issue(t, key.Public(), "old"), nil); err != nil {
					t.Fatal(err)
				}
			}
			before := load(t, ks.Dir())
			pub := other.Public()
			if tt.certFor == "key" {
				pub = key.Public()
			}
			leaf := ca.issue(t, pub, "new")
			err := ks.StoreCertificate(ctx, leaf, []*x509.Certificate{ca.cert})
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("StoreCertificate: %v, want %v", err, tt.wantErr)
				}
				if after := load(t, ks.Dir()); !after.equal(before) {
					t.Fatal("a refused StoreCertificate changed the keystore")
				}
				if tt.wantErr == keystore.ErrMismatch {
					var me *keystore.MismatchError
					if !errors.As(err, &me) || !strings.Contains(err.Error(), keystore.DescribePublicKey(key.Public())) ||
						!strings.Contains(err.Error(), keystore.DescribePublicKey(other.Public())) {
						t.Fatalf("mismatch error does not name both keys: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, chain, err := ks.Certificate(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(leaf) || len(chain) != 1 || !chain[0].Equal(ca.cert) {
				t.Fatalf("Certificate returned another leaf or chain")
			}
			if after := load(t, ks.Dir()); !after.pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatal("StoreCertificate changed the key")
			}
		})
	}
}

func TestImportIdentity(t *testing.T) {
	ca := newCA(t)
	for _, alg := range []keystore.Algorithm{keystore.ECDSAP256, keystore.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			ks := open(t, "")
			old, err := ks.GenerateKey(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			key := newKey(t, alg)
			leaf := ca.issue(t, key.Public(), "imported")
			if err := ks.ImportIdentity(ctx, key, ca.issue(t, old.Public(), "x"), nil); !errors.Is(err, keystore.ErrMismatch) {
				t.Fatalf("import of a key with another key's certificate: %v, want ErrMismatch", err)
			}
			if err := ks.ImportIdentity(ctx, key, leaf, nil); err != nil {
				t.Fatal(err)
			}
			if got := load(t, ks.Dir()); !got.equal(identity{pub: key.Public(), leaf: leaf}) {
				t.Fatal("imported identity not loaded back")
			}
			s, err := ks.Signer(ctx)
			if err != nil || !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
				t.Fatalf("Signer after import returns the old key (%v)", err)
			}
			if _, err := ks.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrKeyExists) {
				t.Fatalf("GenerateKey after import: %v, want ErrKeyExists", err)
			}
		})
	}
}

func TestPruneKeepsEarlierGenerations(t *testing.T) {
	ca := newCA(t)
	ks := open(t, "")
	for i := range 7 {
		key := newKey(t, "")
		if err := ks.ImportIdentity(ctx, key, ca.issue(t, key.Public(), fmt.Sprint(i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	gens, err := ks.gens.list()
	if err != nil {
		t.Fatal(err)
	}
	if len(gens) != 1+keepOld {
		t.Fatalf("%d generations kept (%v), want %d", len(gens), gens, 1+keepOld)
	}
	cur, _ := ks.gens.Current()
	if gens[len(gens)-1] != cur {
		t.Fatalf("newest generation %s is not current %s", gens[len(gens)-1], cur)
	}
}

func TestConcurrentGenerateKeyMakesOneKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []crypto.Signer
		errs    []error
	)
	for range n {
		ks := open(t, dir) // separate instances: the flock, not the mutex, decides
		wg.Go(func() {
			s, err := ks.GenerateKey(ctx, "")
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				winners = append(winners, s)
			} else {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if len(winners) != 1 {
		t.Fatalf("%d GenerateKey calls succeeded, want 1", len(winners))
	}
	for _, err := range errs {
		if !errors.Is(err, keystore.ErrKeyExists) {
			t.Fatalf("losing GenerateKey: %v, want ErrKeyExists", err)
		}
	}
	if got := load(t, dir); !got.equal(identity{pub: winners[0].Public()}) {
		t.Fatal("stored key is not the one handed out")
	}
}

func TestCorruptFilesGiveClearErrorsAndStay(t *testing.T) {
	ca := newCA(t)
	tests := []struct {
		name    string
		file    string
		data    []byte
		wantErr error
		wantIn  string
	}{
		{name: "key garbage", file: KeyFile, data: []byte("not a key"), wantErr: keystore.ErrCorrupt, wantIn: "no PEM block"},
		{name: "key truncated", file: KeyFile, wantErr: keystore.ErrCorrupt, wantIn: "truncated"},
		{name: "key bad DER", file: KeyFile, data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("secretsecretsecret")}), wantErr: keystore.ErrCorrupt, wantIn: "does not hold a valid key"},
		{name: "key encrypted", file: KeyFile, data: pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte("x")}), wantErr: keystore.ErrUnsupported},
		{name: "key is a certificate", file: KeyFile, data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), wantErr: keystore.ErrCorrupt, wantIn: "not a private key"},
		{name: "cert garbage", file: CertFile, data: []byte("-----BEGIN CERTIFICATE-----\nAAAA\n"), wantErr: keystore.ErrCorrupt, wantIn: "truncated"},
		{name: "cert empty", file: CertFile, data: nil, wantErr: keystore.ErrCorrupt, wantIn: "no CERTIFICATE"},
		{name: "cert two leaves", file: CertFile, data: keystore.EncodeCertificatesPEM(ca.cert, ca.cert), wantErr: keystore.ErrCorrupt, wantIn: "want the leaf alone"},
		{name: "chain bad block", file: ChainFile, data: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), wantErr: keystore.ErrCorrupt, wantIn: "chain file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks := open(t, "")
			ca.provision(t, ks, "", "dev", []*x509.Certificate{ca.cert})
			gen, _ := ks.gens.Current()
			path := filepath.Join(ks.Dir(), gen, tt.file)
			data := tt.data
			if tt.name == "key truncated" {
				good, _ := os.ReadFile(path)
				data = good[:len(good)/2]
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			fresh := open(t, ks.Dir())
			var err error
			if tt.file == KeyFile {
				_, err = fresh.Signer(ctx)
			} else {
				_, _, err = fresh.Certificate(ctx)
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantIn) {
				t.Fatalf("error %v, want %v mentioning %q", err, tt.wantErr, tt.wantIn)
			}
			if tt.file == KeyFile && !strings.Contains(err.Error(), path) && !errors.Is(err, keystore.ErrUnsupported) {
				t.Fatalf("error %q does not name the file", err)
			}
			if strings.Contains(err.Error(), base64.StdEncoding.EncodeToString([]byte("secretsecretsecret"))[:12]) {
				t.Fatalf("error quotes key bytes: %v", err)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil || !bytes.Equal(after, data) {
				t.Fatalf("the corrupt file was changed or removed (%v)", rerr)
			}
			if _, err := fresh.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrKeyExists) {
				t.Fatalf("GenerateKey over a corrupt key: %v, want ErrKeyExists", err)
			}
		})
	}
}

func TestInsecureKeyFileRefused(t *testing.T) {
	for _, mode := range []fs.FileMode{0o640, 0o644, 0o604, 0o660, 0o602} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			ks := open(t, "")
			if _, err := ks.GenerateKey(ctx, ""); err != nil {
				t.Fatal(err)
			}
			gen, _ := ks.gens.Current()
			path := filepath.Join(ks.Dir(), gen, KeyFile)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			_, err := open(t, ks.Dir()).Signer(ctx)
			var pe *keystore.PermissionError
			if !errors.Is(err, keystore.ErrInsecurePermissions) || !errors.As(err, &pe) {
				t.Fatalf("Signer: %v, want ErrInsecurePermissions", err)
			}
			for _, want := range []string{path, fmt.Sprintf("%04o", mode), "chmod 600 " + path} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("error %q does not mention %q", err, want)
				}
			}
		})
	}
}

func TestBrokenCurrentLink(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
	}{
		{"regular file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, currentLink), []byte("gen-000001"), 0o600)
		}},
		{"escapes the folder", func(dir string) error { return os.Symlink("../../etc", filepath.Join(dir, currentLink)) }},
		{"absolute", func(dir string) error { return os.Symlink("/etc", filepath.Join(dir, currentLink)) }},
		{"dangling", func(dir string) error { return os.Symlink("gen-000042", filepath.Join(dir, currentLink)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "keys")
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			ks := open(t, dir)
			if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrCorrupt) {
				t.Fatalf("Signer: %v, want ErrCorrupt", err)
			}
			if _, err := ks.GenerateKey(ctx, ""); err == nil {
				t.Fatal("GenerateKey wrote over a broken keystore")
			}
		})
	}
}

func TestDebrisIgnoredThenPruned(t *testing.T) {
	ca := newCA(t)
	ks := open(t, "")
	key, err := ks.GenerateKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	dir := ks.Dir()
	// What a crash mid-commit leaves: a newer, partial generation with a garbage
	// key, a temporary link to it, and a stray temp file.
	partial := filepath.Join(dir, "gen-000007")
	if err := os.Mkdir(partial, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(partial, KeyFile), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("gen-000007", filepath.Join(dir, tmpPrefix+"gen-000007")); err != nil {
		t.Fatal(err)
	}
	if got := load(t, dir); !got.equal(identity{pub: key.Public()}) {
		t.Fatal("debris changed what is loaded")
	}
	if _, err := os.Stat(partial); err != nil {
		t.Fatalf("Open removed debris (it must only ignore it): %v", err)
	}
	leaf := ca.issue(t, key.Public(), "dev")
	if err := ks.StoreCertificate(ctx, leaf, nil); err != nil {
		t.Fatal(err)
	}
	if got := load(t, dir); !got.equal(identity{pub: key.Public(), leaf: leaf}) {
		t.Fatal("commit after debris lost the identity")
	}
	assertNoDebris(t, ks)
}

func assertNoDebris(t *testing.T, ks *Keystore) {
	t.Helper()
	cur, err := ks.gens.Current()
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(ks.Dir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), tmpPrefix) || (genName.MatchString(e.Name()) && genNumber(e.Name()) > genNumber(cur)) {
			t.Fatalf("debris %s survived a commit", e.Name())
		}
	}
}

func TestReset(t *testing.T) {
	ca := newCA(t)
	ks := open(t, "")
	ca.provision(t, ks, "", "dev", nil)
	if err := ks.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Signer after Reset: %v, want ErrNotFound", err)
	}
	if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
		t.Fatalf("Certificate after Reset: %v, want ErrNotFound", err)
	}
	gens, _ := ks.gens.list()
	if len(gens) != 0 {
		t.Fatalf("Reset left generations %v", gens)
	}
	if _, err := ks.GenerateKey(ctx, ""); err != nil {
		t.Fatalf("GenerateKey after Reset: %v", err)
	}
	if err := open(t, "").Reset(ctx); err != nil {
		t.Fatalf("Reset of a keystore never written: %v", err)
	}
}

func TestClosed(t *testing.T) {
	ks := open(t, "")
	ks.Close()
	if _, err := ks.Signer(ctx); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("Signer after Close: %v", err)
	}
	if _, err := ks.GenerateKey(ctx, ""); !errors.Is(err, keystore.ErrClosed) {
		t.Fatalf("GenerateKey after Close: %v", err)
	}
}

func TestURI(t *testing.T) {
	base := t.TempDir()
	odd := filepath.Join(base, "with space", "per%cent", "q?mark")
	tests := []struct {
		uri     string
		want    string
		wantErr error
	}{
		{uri: "file:///var/lib/fleetboot/keys", want: "/var/lib/fleetboot/keys"},
		{uri: "file:/var/lib/fleetboot/keys", want: "/var/lib/fleetboot/keys"},
		{uri: "file://localhost/var/lib/x", want: "/var/lib/x"},
		{uri: "file:keys", want: filepath.Join(base, "keys")},
		{uri: "file:state/../keys", want: filepath.Join(base, "keys")},
		{uri: URI(odd), want: odd},
		{uri: "file://gateway.example/keys", wantErr: keystore.ErrInvalidURI},
		{uri: "file:", wantErr: keystore.ErrInvalidURI},
		{uri: "file:keys?mode=0644", wantErr: keystore.ErrInvalidURI},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DirFromURI(u, base)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DirFromURI: %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("DirFromURI = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestOpenThroughRegistry(t *testing.T) {
	base := t.TempDir()
	ks, err := keystore.Open(ctx, "file:keys", keystore.Options{BaseDir: base})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Close()
	if want := "file:" + filepath.Join(base, "keys"); ks.Describe() != want {
		t.Fatalf("Describe = %q, want %q", ks.Describe(), want)
	}
	if _, err := ks.(keystore.KeyGenerator).GenerateKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(base, "keys", currentLink, KeyFile)); err != nil {
		t.Fatalf("key not where the URI says: %v", err)
	}
	notDir := filepath.Join(base, "plain")
	if err := os.WriteFile(notDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.Open(ctx, URI(notDir), keystore.Options{}); !errors.Is(err, keystore.ErrInvalidURI) {
		t.Fatalf("Open on a file: %v, want ErrInvalidURI", err)
	}
}
