//go:build unix

package file

import (
	"errors"
	"os"
	"syscall"
)

// errInvalid is what readlink(2) says for something that is not a symlink.
var errInvalid = syscall.EINVAL

// flock blocks until f is exclusively locked. Writers hold it for the few
// milliseconds of a commit.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
