//go:build unix

package file

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore"
)

// wantFolderRefused checks err is the refusal of folder with mode, and that its
// message names the folder, the mode and the command that fixes it.
func wantFolderRefused(t *testing.T, what string, err error, folder string, mode fs.FileMode) {
	t.Helper()
	var fe *FolderPermissionError
	if !errors.Is(err, keystore.ErrInsecurePermissions) || !errors.As(err, &fe) {
		t.Fatalf("%s: %v, want a FolderPermissionError (ErrInsecurePermissions)", what, err)
	}
	for _, want := range []string{folder, fmt.Sprintf("%04o", mode), "chmod 700 " + folder} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: error %q does not mention %q", what, err, want)
		}
	}
}

// A keystore folder or generation folder that group or others can reach is
// refused for every use of the key, by a fresh instance and by one that already
// loaded it, and accepted again once the chmod the message names is run.
// Certificate (read by fleetboot status) and Reset still work.
func TestInsecureFolderRefused(t *testing.T) {
	ca := newCA(t)
	for _, which := range []string{"keystore folder", "generation folder"} {
		for _, mode := range []fs.FileMode{0o750, 0o755, 0o705, 0o770, 0o701, 0o777} {
			t.Run(fmt.Sprintf("%s %04o", which, mode), func(t *testing.T) {
				ks := open(t, "")
				s := ca.provision(t, ks, "", "dev", nil)
				before := load(t, ks.Dir())
				gen, err := ks.gens.Current()
				if err != nil {
					t.Fatal(err)
				}
				folder := ks.Dir()
				if which == "generation folder" {
					folder = filepath.Join(ks.Dir(), gen)
				}
				if err := os.Chmod(folder, mode); err != nil {
					t.Fatal(err)
				}

				_, err = open(t, ks.Dir()).Signer(ctx)
				wantFolderRefused(t, "Signer, fresh instance", err, folder, mode)
				_, err = ks.Signer(ctx)
				wantFolderRefused(t, "Signer, key already loaded", err, folder, mode)
				_, err = keystore.TLSCertificate(ctx, ks)
				wantFolderRefused(t, "TLSCertificate", err, folder, mode)
				err = ks.StoreCertificate(ctx, ca.issue(t, s.Public(), "again"), nil)
				wantFolderRefused(t, "StoreCertificate", err, folder, mode)
				if which == "keystore folder" {
					_, err = ks.GenerateKey(ctx, "")
					wantFolderRefused(t, "GenerateKey", err, folder, mode)
					k := newKey(t, "")
					err = ks.ImportIdentity(ctx, k, ca.issue(t, k.Public(), "imp"), nil)
					wantFolderRefused(t, "ImportIdentity", err, folder, mode)
				}
				if leaf, _, err := ks.Certificate(ctx); err != nil || !leaf.Equal(before.leaf) {
					t.Fatalf("Certificate on a refused folder: %v", err)
				}

				if err := os.Chmod(folder, 0o700); err != nil {
					t.Fatal(err)
				}
				if got := load(t, ks.Dir()); !got.equal(before) {
					t.Fatal("the identity changed while its folder was refused")
				}
				if _, err := ks.Signer(ctx); err != nil {
					t.Fatalf("Signer after chmod 700: %v", err)
				}
			})
		}
	}
}

// A new keystore in a folder someone made with the wrong mode makes no key.
func TestGenerateKeyInInsecureFolderWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	_, err := open(t, dir).GenerateKey(ctx, "")
	wantFolderRefused(t, "GenerateKey", err, dir, 0o755)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Fatalf("refused GenerateKey left %v", ents)
	}
	if err := open(t, dir).Reset(ctx); err != nil {
		t.Fatalf("Reset on a refused folder: %v", err)
	}
}

// A key file opened up by hand is not copied into the next generation: storing
// a certificate refuses it, and nothing is written.
func TestStoreCertificateRefusesInsecureKeyFile(t *testing.T) {
	ca := newCA(t)
	k := open(t, "")
	s, err := k.GenerateKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	gen, _ := k.gens.Current()
	path := filepath.Join(k.Dir(), gen, KeyFile)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	err = k.StoreCertificate(ctx, ca.issue(t, s.Public(), "dev"), []*x509.Certificate{ca.cert})
	var pe *keystore.PermissionError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "chmod 600 "+path) {
		t.Fatalf("StoreCertificate with a 0644 key file: %v, want a PermissionError naming chmod 600", err)
	}
	if now, _ := k.gens.Current(); now != gen {
		t.Fatalf("a refused StoreCertificate committed generation %s", now)
	}
}
