//go:build !unix

package safefile

import "syscall"

// Without O_NOFOLLOW a link is caught by the Lstat in Open.
const (
	openFlags   = 0
	noFollow    = 0
	errLinkLoop = syscall.Errno(0)
)
