package packaging

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// need is testenv.Need: the program, or a skip (a failure under CI) naming its
// Debian package.
func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	return testenv.Need(t, prog, pkg)
}

// The amd64 package, built once for every test of the run by scripts/deb.sh into
// a folder TestMain removes.
var (
	debOnce sync.Once
	debPath string
	debErr  error
	debDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if debDir != "" {
		os.RemoveAll(debDir)
	}
	os.Exit(code)
}

// deb returns the path of the amd64 .deb that scripts/deb.sh builds.
func deb(t *testing.T) string {
	t.Helper()
	debOnce.Do(func() {
		debDir, debErr = os.MkdirTemp("", "fleetboot-deb-")
		if debErr != nil {
			return
		}
		cmd := exec.Command(filepath.Join("..", "scripts", "deb.sh"), debDir, "amd64")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			debErr = fmt.Errorf("scripts/deb.sh: %v\n%s", err, stderr.Bytes())
			return
		}
		debPath = strings.TrimSpace(string(out))
		if _, err := os.Stat(debPath); err != nil {
			debErr = fmt.Errorf("scripts/deb.sh printed %q: %v", out, err)
		}
	})
	if debErr != nil {
		t.Fatal(debErr)
	}
	return debPath
}

// entry is one member of a package's data or control archive.
type entry struct {
	hdr  *tar.Header
	data []byte
}

// archive reads the data (--fsys-tarfile) or control (--ctrl-tarfile) archive of
// a package, keyed by absolute path ("/usr/bin/fleetboot", "/postinst").
func archive(t *testing.T, deb, which string) map[string]entry {
	t.Helper()
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	out, err := exec.Command(dpkgDeb, which, deb).Output()
	if err != nil {
		t.Fatalf("dpkg-deb %s: %v", which, err)
	}
	files := map[string]entry{}
	tr := tar.NewReader(bytes.NewReader(out))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("dpkg-deb %s: %v", which, err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.TrimSuffix(strings.TrimPrefix(hdr.Name, "./"), "/")
		files[name] = entry{hdr: hdr, data: data}
	}
	return files
}

// field is one field of the package's control file.
func field(t *testing.T, deb, name string) string {
	t.Helper()
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	out, err := exec.Command(dpkgDeb, "--field", deb, name).Output()
	if err != nil {
		t.Fatalf("dpkg-deb --field %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
