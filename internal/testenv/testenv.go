// Package testenv is what tests share about the machine they run on: the
// external programs they need. Only tests import it; the device binary never
// links it (cmd/fleetboot's deps test checks).
//
// The rule for a missing program is the design's: on a developer's machine the
// test skips with a message naming the Debian package to install; in CI (CI=true)
// a missing tool is a failure, so nothing passes there by being skipped.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need returns the path of the program prog, from Debian's /usr/bin or /usr/sbin
// (a shim on PATH, such as pyenv's, may shadow the packaged one) or else from
// PATH. If there is none it calls Missing, naming debianPkg.
func Need(t testing.TB, prog, debianPkg string) string {
	t.Helper()
	for _, dir := range []string{"/usr/bin", "/usr/sbin"} {
		p := filepath.Join(dir, prog)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p
		}
	}
	if p, err := exec.LookPath(prog); err == nil {
		return p
	}
	Missing(t, fmt.Sprintf("%s not found: install Debian package %s", prog, debianPkg))
	return ""
}

// Missing ends a test that lacks something outside the repository: it skips with
// msg, or fails with it when CI is "true".
func Missing(t testing.TB, msg string) {
	t.Helper()
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// InCI reports whether the tests run in CI, where nothing may be skipped for a
// missing tool.
func InCI() bool { return os.Getenv("CI") == "true" }
