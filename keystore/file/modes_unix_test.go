//go:build unix

package file

import (
	"crypto/x509"
	"fmt"
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"
)

// TestModes checks every file and folder the keystore creates after every kind
// of write, under umasks that would widen (000), leave (022) or narrow (077)
// modes. umask can only remove bits, so 0600/0700 at creation hold under all.
// Not parallel: umask is per process.
func TestModes(t *testing.T) {
	ca := newCA(t)
	writes := []struct {
		name string
		do   func(t *testing.T, ks *Keystore)
	}{
		{"generate", func(t *testing.T, ks *Keystore) {
			if _, err := ks.GenerateKey(ctx, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"store certificate", func(t *testing.T, ks *Keystore) {
			s, err := ks.Signer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := ks.StoreCertificate(ctx, ca.issue(t, s.Public(), "dev"), []*x509.Certificate{ca.cert}); err != nil {
				t.Fatal(err)
			}
		}},
		{"import", func(t *testing.T, ks *Keystore) {
			k := newKey(t, "")
			if err := ks.ImportIdentity(ctx, k, ca.issue(t, k.Public(), "imp"), []*x509.Certificate{ca.cert}); err != nil {
				t.Fatal(err)
			}
		}},
		{"reset and generate", func(t *testing.T, ks *Keystore) {
			if err := ks.Reset(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := ks.GenerateKey(ctx, ""); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, mask := range []int{0o000, 0o022, 0o077} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			old := syscall.Umask(mask)
			t.Cleanup(func() { syscall.Umask(old) })
			state := filepath.Join(t.TempDir(), "state")
			ks := open(t, filepath.Join(state, "keys"))
			for _, w := range writes {
				w.do(t, ks)
				checkModes(t, w.name, state)
			}
		})
	}
}

func checkModes(t *testing.T, after, root string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			return nil // symlink modes mean nothing on Linux
		case d.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("after %s: folder %s has mode %04o, want 0700", after, path, uint32(fi.Mode().Perm()))
		case d.Type().IsRegular() && fi.Mode().Perm() != 0o600:
			t.Errorf("after %s: file %s has mode %04o, want 0600", after, path, uint32(fi.Mode().Perm()))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 4 {
		t.Fatalf("after %s: only %d entries under %s", after, n, root)
	}
}
