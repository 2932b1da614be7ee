//go:build unix

package safefile

import "syscall"

const (
	openFlags   = syscall.O_NONBLOCK | syscall.O_CLOEXEC
	noFollow    = syscall.O_NOFOLLOW
	errLinkLoop = syscall.ELOOP
)
