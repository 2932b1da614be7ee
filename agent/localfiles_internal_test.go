//go:build unix

package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// writeClaim writes a self-signed claim certificate and its key into dir.
func writeClaim(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "claim"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "claim.pem"), filepath.Join(dir, "claim.key")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// The claim key is the fleet's shared secret and gets a device key's rules; the
// claim certificate is public but still bounded and must be a regular file.
func TestLoadClaimChecksItsFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir, cert, key string) (string, string)
		want  error
		msg   string
	}{
		{"sound", func(t *testing.T, dir, cert, key string) (string, string) { return cert, key }, nil, ""},
		{"key open to others", func(t *testing.T, dir, cert, key string) (string, string) {
			if err := os.Chmod(key, 0o644); err != nil {
				t.Fatal(err)
			}
			return cert, key
		}, safefile.ErrPermissions, "chmod 600 "},
		{"key behind a link", func(t *testing.T, dir, cert, key string) (string, string) {
			link := filepath.Join(dir, "link.key")
			if err := os.Symlink(key, link); err != nil {
				t.Fatal(err)
			}
			return cert, link
		}, safefile.ErrSymlink, "link.key"},
		{"certificate is /dev/urandom", func(t *testing.T, dir, cert, key string) (string, string) {
			return "/dev/urandom", key
		}, safefile.ErrNotRegular, "/dev/urandom"},
		{"key is /dev/zero", func(t *testing.T, dir, cert, key string) (string, string) {
			return cert, "/dev/zero"
		}, safefile.ErrNotRegular, "/dev/zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cert, key := writeClaim(t, dir)
			cert, key = tc.setup(t, dir, cert, key)
			a := &Agent{cfg: &Config{Provisioning: ProvisioningConfig{ClaimCertificate: cert, ClaimKey: key}}}
			_, err := a.loadClaim()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("loadClaim: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("loadClaim = %v, want %v naming %q", err, tc.want, tc.msg)
			}
			if ClassOf(err) != ClassConfig {
				t.Fatalf("class of %v = %v, want config", err, ClassOf(err))
			}
		})
	}
}

func TestLoadRootsRefusesWhatIsNotAFile(t *testing.T) {
	_, err := LoadRoots(EndpointConfig{RootCA: "/dev/zero"})
	if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), "/dev/zero") {
		t.Fatalf("LoadRoots(/dev/zero) = %v, want a not-a-regular-file error naming it", err)
	}
}

// noHang runs f and fails the test if it has not returned after a minute: a read
// that blocks is the defect under test, and the test must end either way.
func noHang(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		t.Fatalf("%s blocked", what)
		return nil
	}
}

func TestLoadStateRefusesWhatIsNotAFile(t *testing.T) {
	t.Run("fifo", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mkfifo(filepath.Join(dir, stateFileName), 0o600); err != nil {
			t.Fatal(err)
		}
		err := noHang(t, "LoadState of a FIFO", func() error { _, err := LoadState(dir); return err })
		if !errors.Is(err, safefile.ErrNotRegular) || !strings.Contains(err.Error(), "a FIFO") {
			t.Fatalf("LoadState(FIFO) = %v, want a not-a-regular-file error", err)
		}
	})
	t.Run("link", func(t *testing.T) {
		dir := t.TempDir()
		real := filepath.Join(t.TempDir(), "elsewhere.json")
		if err := os.WriteFile(real, []byte(`{"version":1,"phase":"new"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(real, filepath.Join(dir, stateFileName)); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadState(dir); !errors.Is(err, safefile.ErrSymlink) {
			t.Fatalf("LoadState(link) = %v, want ErrSymlink", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		dir := t.TempDir()
		f, err := os.OpenFile(filepath.Join(dir, stateFileName), os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(100 << 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if _, err := LoadState(dir); !errors.Is(err, ErrStateCorrupt) || !errors.Is(err, safefile.ErrTooLarge) {
			t.Fatalf("LoadState(100 MB) = %v, want ErrStateCorrupt and ErrTooLarge", err)
		}
	})
}

// state.json holds the ownership token while credentialed: a wide mode left by an
// image or an older version is narrowed on the first read.
func TestLoadStateNarrowsAWideStateFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, stateFileName)
	if err := os.WriteFile(path, []byte(`{"version":1,"phase":"new"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadState(dir); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("state.json mode %04o after LoadState, want 0600", fi.Mode().Perm())
	}
}

func TestLoadRehomeRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, rehomeFileName), 0o600); err != nil {
		t.Fatal(err)
	}
	err := noHang(t, "LoadRehome of a FIFO", func() error { _, err := RehomeFile(dir).LoadRehome(); return err })
	if !errors.Is(err, safefile.ErrNotRegular) {
		t.Fatalf("LoadRehome(FIFO) = %v, want ErrNotRegular", err)
	}
}

// Reset makes the device new: state, keys and the re-provisioning backoff of the
// identity it had.
func TestResetRemovesStateAndRehomeRecord(t *testing.T) {
	dir := t.TempDir()
	if err := writeFileAtomic(dir, stateFileName, []byte(`{"version":1,"phase":"new"}`), 0o600, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := RehomeFile(dir).SaveRehome(RehomeRecord{Attempts: 3}); err != nil {
		t.Fatal(err)
	}
	if err := Reset(context.Background(), &Config{StateDir: dir}, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{stateFileName, rehomeFileName} {
		if _, err := os.Stat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after Reset: %v, want it gone", name, err)
		}
	}
}
