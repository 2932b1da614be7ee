package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// A save removes temp files a power cut left behind, and narrows a state folder
// that exists with a wider mode.
func TestSaveStateCleansUpAndNarrowsFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // whatever the umask
		t.Fatal(err)
	}
	debris := filepath.Join(dir, "."+stateFileName+".tmp-123456")
	if err := os.WriteFile(debris, []byte(`{"ownershipToken":"old"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveState(dir, &State{Phase: PhaseNew}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(debris); !os.IsNotExist(err) {
		t.Fatalf("temp file of an interrupted write survived: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("state folder mode %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

func TestSaveStateRefusesSharedFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := SaveState(dir, &State{Phase: PhaseNew}); err == nil {
		t.Fatal("saved state into a sticky, world-writable folder")
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("the shared folder was changed: %v %v", fi.Mode(), err)
	}
}
