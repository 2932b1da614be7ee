//go:build unix

package file

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fleetboot/fleetboot/internal/safefile"
	"github.com/fleetboot/fleetboot/keystore"
)

// The keystore writes every file of a generation itself, so a link or a FIFO in
// one is refused as corrupt, never followed: a followed key link would make the
// printed `chmod` change a file outside the keystore.
func TestGenerationFilesAreNeverFollowed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		replace func(t *testing.T, path string)
		want    error
	}{
		{"key is a link", func(t *testing.T, path string) {
			elsewhere := filepath.Join(t.TempDir(), "key.pem")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(elsewhere, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(elsewhere, path); err != nil {
				t.Fatal(err)
			}
		}, safefile.ErrSymlink},
		{"key is a FIFO", func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}, safefile.ErrNotRegular},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ks := open(t, "")
			if _, err := ks.GenerateKey(ctx, ""); err != nil {
				t.Fatal(err)
			}
			gen, _ := ks.gens.Current()
			path := filepath.Join(ks.Dir(), gen, KeyFile)
			tc.replace(t, path)
			_, err := open(t, ks.Dir()).Signer(ctx)
			if !errors.Is(err, keystore.ErrCorrupt) || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("Signer = %v, want ErrCorrupt and %v naming %s", err, tc.want, path)
			}
		})
	}
}
