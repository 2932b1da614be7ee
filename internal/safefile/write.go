package safefile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteAtomic replaces path with data: after it returns, a power cut leaves the new
// file; before, the old one. The data is written to a temporary file in the same
// folder, synced, renamed over path, and the folder synced so the rename is
// durable. The temporary file gets mode before its first byte, so the final name
// never holds the data with a wider mode. Temporary files of earlier writes that a
// power cut interrupted are removed: they may hold older secrets.
func WriteAtomic(path string, data []byte, mode os.FileMode) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	pattern := "." + base + ".tmp-*"
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	// CreateTemp makes 0600 files.
	if mode.Perm() != 0o600 {
		if err := tmp.Chmod(mode.Perm()); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	done = true
	if stale, err := filepath.Glob(filepath.Join(dir, pattern)); err == nil {
		for _, f := range stale {
			os.Remove(f)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync folder of %s: %w", path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder of %s: %w", path, err)
	}
	return nil
}
