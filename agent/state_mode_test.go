//go:build unix

package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The state file holds the ownership token while credentialed: it is 0600 after
// every write, whatever the umask, and a state folder the agent creates is 0700.
// Not parallel: umask is per process.
func TestStateFileModeThroughWrites(t *testing.T) {
	states := []*State{
		{Phase: PhaseNew, Region: "eu-west-1"},
		{Phase: PhaseCredentialed, Region: "eu-west-1", CertificateID: "ab", OwnershipToken: "token-1", TokenIssued: time.Unix(1_800_000_000, 0)},
		{Phase: PhaseNew, Region: "eu-west-1"}, // token refused: start over
		{Phase: PhaseCredentialed, Region: "eu-west-1", CertificateID: "cd", OwnershipToken: "token-2"},
		{Phase: PhaseRegistered, Region: "eu-west-1", CertificateID: "cd", ThingName: "gw-1", Endpoint: "a-ats.iot.eu-west-1.amazonaws.com"},
		{Phase: PhaseOnline, Region: "eu-west-1", CertificateID: "cd", ThingName: "gw-1", Endpoint: "a-ats.iot.eu-west-1.amazonaws.com"},
		{Phase: PhaseOnline, Region: "eu-west-1", CertificateID: "cd", ThingName: "gw-1", Endpoint: "a-ats.iot.eu-west-1.amazonaws.com", HandoffDone: true},
	}
	for _, mask := range []int{0o000, 0o022, 0o077} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			old := syscall.Umask(mask)
			t.Cleanup(func() { syscall.Umask(old) })
			dir := filepath.Join(t.TempDir(), "state") // made by SaveState
			for i, st := range states {
				if err := SaveState(dir, st); err != nil {
					t.Fatalf("write %d (%s): %v", i, st.Phase, err)
				}
				wantStateModes(t, fmt.Sprintf("write %d (%s)", i, st.Phase), dir)
			}
		})
	}
}

// A state file someone opened up (an older tool, a restore from backup, a
// chmod by hand) is 0600 again after the next write: the write replaces the
// file, it does not rewrite it in place.
func TestStateFileModeRestoredByWrite(t *testing.T) {
	for _, mode := range []fs.FileMode{0o644, 0o666, 0o640, 0o604} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "state")
			if err := SaveState(dir, &State{Phase: PhaseNew}); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, stateFileName)
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := SaveState(dir, &State{Phase: PhaseCredentialed, CertificateID: "ab", OwnershipToken: "secret-token"}); err != nil {
				t.Fatal(err)
			}
			wantStateModes(t, "write over a "+fmt.Sprintf("%04o", mode)+" file", dir)
		})
	}
}

// wantStateModes checks the state file is 0600, the folder 0700, and that no
// temporary file is left beside them.
func wantStateModes(t *testing.T, after, dir string) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, stateFileName))
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("after %s: state file mode %04o, want 0600", after, uint32(fi.Mode().Perm()))
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if di.Mode().Perm() != 0o700 {
		t.Errorf("after %s: state folder mode %04o, want 0700", after, uint32(di.Mode().Perm()))
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != stateFileName || strings.Contains(e.Name(), ".tmp") {
			t.Errorf("after %s: %s left in the state folder", after, e.Name())
		}
	}
}

// The folders made for the device configuration are 0755 and the file 0644
// whatever the umask, so other gateway software can read it; folders made for the
// agent's own files are 0700. A folder that exists keeps its mode.
// Not parallel: umask is per process.
func TestWriteFileAtomicFolderModes(t *testing.T) {
	for _, mask := range []int{0o000, 0o022, 0o077} {
		t.Run(fmt.Sprintf("umask %03o", mask), func(t *testing.T) {
			old := syscall.Umask(mask)
			t.Cleanup(func() { syscall.Umask(old) })
			root := t.TempDir()
			if err := os.Chmod(root, 0o750); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				sub           string
				mode, dirMode fs.FileMode
			}{
				{"shared", 0o644, 0o755},
				{"private", 0o600, 0o700},
			} {
				dir := filepath.Join(root, tc.sub, "nested")
				if err := writeFileAtomic(dir, "f.json", []byte("{}\n"), tc.mode, tc.dirMode); err != nil {
					t.Fatal(err)
				}
				for _, d := range []string{filepath.Join(root, tc.sub), dir} {
					if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != tc.dirMode {
						t.Errorf("folder %s: %v, %v; want %04o", d, fi.Mode(), err, tc.dirMode)
					}
				}
				if fi, err := os.Stat(filepath.Join(dir, "f.json")); err != nil || fi.Mode().Perm() != tc.mode {
					t.Errorf("file in %s: %v, %v; want %04o", dir, fi.Mode(), err, tc.mode)
				}
			}
			if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o750 {
				t.Errorf("folder that existed: %v, %v; want it left 0750", fi.Mode(), err)
			}
		})
	}
}
