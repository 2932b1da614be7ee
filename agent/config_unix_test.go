//go:build unix

package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// The config is read through safefile, so what is not a config file is
// an error naming it, at once, without reading it whole.
func TestLoadConfigRefusesWhatIsNotAConfigFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sized := func(name string, size int64) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(validConfig); err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil { // sparse: no disk used
			t.Fatal(err)
		}
		return p
	}
	// A valid config padded with comment lines to exactly size bytes.
	padded := func(name string, size int) string {
		line := "#" + strings.Repeat("x", 62) + "\n"
		doc := []byte(validConfig + strings.Repeat(line, (size-len(validConfig))/len(line)+1))[:size]
		doc[size-1] = '\n'
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, path string
		want       error // nil: accepted
		msg        string
	}{
		{"dev zero", "/dev/zero", safefile.ErrNotRegular, "character device"},
		{"fifo does not block", fifo, safefile.ErrNotRegular, "FIFO"},
		{"folder", dir, safefile.ErrNotRegular, "folder"},
		{"100 MB sparse file", sized("big.yaml", 100<<20), safefile.ErrTooLarge, "limit"},
		{"one byte over the limit", padded("over.yaml", safefile.LimitConfig+1), safefile.ErrTooLarge, "limit"},
		{"missing", filepath.Join(dir, "none.yaml"), fs.ErrNotExist, ""},
		{"at the limit", padded("full.yaml", safefile.LimitConfig), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			done := make(chan error, 1)
			go func() { _, err := LoadConfig(tc.path); done <- err }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("LoadConfig(%s) still reading after 10s", tc.path)
			}
			runtime.ReadMemStats(&after)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("LoadConfig(%s) = %v, want %v naming the file and %q", tc.path, err, tc.want, tc.msg)
			}
			if !strings.HasPrefix(err.Error(), "config") {
				t.Errorf("error %q does not say it is about the config", err)
			}
			// Refused from fstat, before reading: far less than the limit allocated.
			if grew := after.TotalAlloc - before.TotalAlloc; grew > safefile.LimitConfig/2 {
				t.Errorf("refusing %s allocated %d bytes", tc.path, grew)
			}
		})
	}
}
