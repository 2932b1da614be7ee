// Package safefile reads the agent's local files with a size limit and refuses what is
// not a regular file, so a wrong path (/dev/zero, /dev/urandom, a FIFO, a 100 MB
// file) is an error that names the file instead of an out-of-memory crash or a
// process blocked before its first log line and deaf to SIGTERM.
//
// Every file is opened with O_NONBLOCK, so opening a FIFO returns at once, then
// checked with fstat on the open handle (no race with a rename in between). A
// regular file never blocks a read, so signals keep working while it is read.
//
// Secrets (private keys, the state file with its ownership token) are refused when
// they are symbolic links or open to group or others. A link is refused rather than
// followed so that the `chmod` printed in the error changes the file named, never
// a link's target elsewhere on the system.
//
// WriteAtomic is the one atomic replace of a file, for the agent and the mock alike.
package safefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Limits per kind of file. They are far above what a real file holds and far below
// what would hurt a gateway with 64 MiB of RAM.
const (
	// LimitConfig bounds the YAML configuration.
	LimitConfig = 1 << 20
	// LimitPEM bounds a PEM file: a key, a certificate, a chain, a root CA bundle
	// (the system bundle of ~150 roots is about 220 KiB).
	LimitPEM = 256 << 10
	// LimitState bounds state.json and the agent's other state files.
	LimitState = 1 << 20
)

// Sentinel errors; an *Error wraps one of them.
var (
	ErrTooLarge    = errors.New("larger than the limit")
	ErrNotRegular  = errors.New("not a regular file")
	ErrSymlink     = errors.New("is a symbolic link")
	ErrPermissions = errors.New("open to group or others")
)

// Error names the file, what it is for, and what is wrong with it.
type Error struct {
	Path string
	Kind string // "config", "root CA", "claim key", ...
	// Limit is set for ErrTooLarge.
	Limit int64
	// Mode is set for ErrPermissions and ErrNotRegular.
	Mode fs.FileMode
	Err  error
}

func (e *Error) Error() string {
	switch {
	case errors.Is(e.Err, ErrTooLarge):
		return fmt.Sprintf("%s %s: %v of %d bytes", e.Kind, e.Path, e.Err, e.Limit)
	case errors.Is(e.Err, ErrNotRegular):
		return fmt.Sprintf("%s %s: %v (%s)", e.Kind, e.Path, e.Err, kindOf(e.Mode))
	case errors.Is(e.Err, ErrSymlink):
		return fmt.Sprintf("%s %s: %v; secrets are not read through links: point the setting at the file itself", e.Kind, e.Path, e.Err)
	case errors.Is(e.Err, ErrPermissions):
		return fmt.Sprintf("%s %s has mode %04o, %v: run `chmod 600 %s`", e.Kind, e.Path, uint32(e.Mode.Perm()), e.Err, e.Path)
	}
	return fmt.Sprintf("%s %s: %v", e.Kind, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeDir != 0:
		return "a folder"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "mode " + m.String()
}

// Options say how a file is checked.
type Options struct {
	Kind  string
	Limit int64
	// Secret refuses a symbolic link and a file open to group or others.
	Secret bool
	// NoLinks refuses a symbolic link (Secret implies it): for files a program
	// writes itself, where a link can only be debris or an attack.
	NoLinks bool
	// Narrow, with Secret, makes a file open to group or others 0600 through the
	// open handle instead of refusing it: for files the agent itself writes (the
	// state), whose mode an image or an older version may have left wide.
	Narrow bool
}

// Read returns the file's bytes: a regular file of at most o.Limit bytes. A missing
// file is an error that wraps fs.ErrNotExist.
func Read(path string, o Options) ([]byte, error) {
	f, fi, err := Open(path, o)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readAll(f, fi, path, o)
}

// Open opens path for reading and checks it as Read does, without reading it: the
// caller may read the handle with ReadOpen. O_NONBLOCK stays set, which changes
// nothing for a regular file.
func Open(path string, o Options) (*os.File, fs.FileInfo, error) {
	flags := os.O_RDONLY | openFlags
	if o.Secret || o.NoLinks {
		flags |= noFollow
		// O_NOFOLLOW covers the last element only, as intended: a folder reached
		// through a link is the administrator's layout, a key behind a link is not.
		if li, err := os.Lstat(path); err == nil && li.Mode()&fs.ModeSymlink != 0 {
			return nil, nil, &Error{Path: path, Kind: o.Kind, Err: ErrSymlink}
		}
	}
	f, err := os.OpenFile(path, flags, 0)
	if err != nil {
		if (o.Secret || o.NoLinks) && noFollow != 0 && errors.Is(err, errLinkLoop) {
			return nil, nil, &Error{Path: path, Kind: o.Kind, Err: ErrSymlink}
		}
		return nil, nil, fmt.Errorf("%s: %w", o.Kind, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s %s: %w", o.Kind, path, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, &Error{Path: path, Kind: o.Kind, Mode: fi.Mode(), Err: ErrNotRegular}
	}
	if o.Secret && fi.Mode().Perm()&0o077 != 0 {
		if !o.Narrow {
			f.Close()
			return nil, nil, &Error{Path: path, Kind: o.Kind, Mode: fi.Mode(), Err: ErrPermissions}
		}
		if err := f.Chmod(fi.Mode().Perm() & 0o600); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s %s: narrow mode %04o to 0600: %w", o.Kind, path, uint32(fi.Mode().Perm()), err)
		}
	}
	if o.Limit > 0 && fi.Size() > o.Limit {
		f.Close()
		return nil, nil, &Error{Path: path, Kind: o.Kind, Limit: o.Limit, Err: ErrTooLarge}
	}
	return f, fi, nil
}

// ReadOpen reads a handle from Open, with the same limit.
func ReadOpen(f *os.File, fi fs.FileInfo, path string, o Options) ([]byte, error) {
	return readAll(f, fi, path, o)
}

func readAll(f *os.File, fi fs.FileInfo, path string, o Options) ([]byte, error) {
	limit := o.Limit
	if limit <= 0 {
		limit = LimitState
	}
	// The size from fstat sizes the buffer; the limited reader still bounds a file
	// that grows while it is read.
	data := make([]byte, 0, min(fi.Size(), limit)+1)
	buf := make([]byte, 32<<10)
	defer clear(buf)
	r := io.LimitReader(f, limit+1)
	for {
		n, err := r.Read(buf)
		data = append(data, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			clear(data)
			return nil, fmt.Errorf("%s %s: %w", o.Kind, path, err)
		}
	}
	if int64(len(data)) > limit {
		clear(data)
		return nil, &Error{Path: path, Kind: o.Kind, Limit: limit, Err: ErrTooLarge}
	}
	return data, nil
}
