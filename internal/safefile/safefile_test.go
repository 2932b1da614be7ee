//go:build unix

package safefile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, size int, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, make([]byte, size), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok", 10, 0o600)
	big := write("big", 2000, 0o644)
	wide := write("wide", 10, 0o644)
	narrow := write("narrow", 10, 0o640)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(ok, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		path string
		o    Options
		want error
		msg  string
	}{
		{"regular", ok, Options{Kind: "config", Limit: 100}, nil, ""},
		{"regular secret", ok, Options{Kind: "claim key", Limit: 100, Secret: true}, nil, ""},
		{"too large", big, Options{Kind: "config", Limit: 1000}, ErrTooLarge, "limit of 1000 bytes"},
		{"dev zero", "/dev/zero", Options{Kind: "root CA", Limit: 1000}, ErrNotRegular, "character device"},
		{"dev urandom", "/dev/urandom", Options{Kind: "claim certificate", Limit: 1000}, ErrNotRegular, "/dev/urandom"},
		{"folder", dir, Options{Kind: "config", Limit: 1000}, ErrNotRegular, "a folder"},
		{"fifo does not block", fifo, Options{Kind: "state", Limit: 1000, Secret: true}, ErrNotRegular, "a FIFO"},
		{"secret open to others", wide, Options{Kind: "claim key", Limit: 100, Secret: true}, ErrPermissions, "chmod 600 " + wide},
		{"secret narrowed", narrow, Options{Kind: "state", Limit: 100, Secret: true, Narrow: true}, nil, ""},
		{"secret link refused", link, Options{Kind: "claim key", Limit: 100, Secret: true}, ErrSymlink, link},
		{"link followed when not secret", link, Options{Kind: "root CA", Limit: 100}, nil, ""},
		{"link refused with NoLinks", link, Options{Kind: "certificate", Limit: 100, NoLinks: true}, ErrSymlink, link},
		{"NoLinks leaves the mode alone", wide, Options{Kind: "certificate", Limit: 100, NoLinks: true}, nil, ""},
		{"missing", filepath.Join(dir, "none"), Options{Kind: "config", Limit: 100}, fs.ErrNotExist, "none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Read(tc.path, tc.o)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Read: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Read = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), tc.o.Kind) {
				t.Fatalf("error %q does not name %q and %q", err, tc.o.Kind, tc.msg)
			}
		})
	}
	fi, err := os.Stat(narrow)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("narrowed file has mode %04o, want 0600", fi.Mode().Perm())
	}
}

// A file that grows past the limit after fstat is still cut at the limit.
func TestReadOpenLimit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, fi, err := Open(p, Options{Kind: "state", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.WriteFile(p, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadOpen(f, fi, p, Options{Kind: "state", Limit: 10}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadOpen = %v, want ErrTooLarge", err)
	}
}
