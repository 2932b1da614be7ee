//go:build !unix

package file

import (
	"errors"
	"os"
)

// errInvalid never matches: only unix readlink reports EINVAL.
var errInvalid = errors.New("not a symlink")

// flock is a no-op where flock(2) does not exist: writers are then serialised
// only within one process.
func flock(*os.File) error { return nil }
