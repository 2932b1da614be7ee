package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.json")
	// Debris of an interrupted write, holding an older secret.
	debris := filepath.Join(dir, ".f.json.tmp-123")
	if err := os.WriteFile(debris, []byte("old token"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data string
		mode os.FileMode
	}{
		{"first", 0o600},
		{"second, wider", 0o644},
		{"third, narrow again", 0o600},
	} {
		if err := WriteAtomic(path, []byte(tc.data), tc.mode); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != tc.data {
			t.Fatalf("after WriteAtomic(%q): %q, %v", tc.data, got, err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tc.mode {
			t.Fatalf("mode %04o, want %04o", fi.Mode().Perm(), tc.mode)
		}
	}
	if _, err := os.Stat(debris); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("debris of an interrupted write left behind: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("folder holds %d entries, want the file alone", len(entries))
	}
}

// A write that cannot complete leaves the old file and no temporary one.
func TestWriteAtomicFailureKeepsTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteAtomic(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A folder at the final name: the rename fails after the data is written.
	blocked := filepath.Join(dir, "blocked")
	if err := os.MkdirAll(filepath.Join(blocked, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(blocked, []byte("new"), 0o600); err == nil {
		t.Fatal("WriteAtomic over a non-empty folder succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("old file now %q", got)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, ".blocked.tmp-*"))
	if len(matches) != 0 {
		t.Fatalf("temporary files left: %v", matches)
	}
}
