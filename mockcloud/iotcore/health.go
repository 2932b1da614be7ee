package iotcore

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// Health reports why the region no longer accepts connections: its listener
// failed by itself (not closed by Close). nil while it accepts, or before Start.
func (r *Region) Health() error {
	r.mu.Lock()
	ln := r.ln
	r.mu.Unlock()
	if ln == nil {
		return nil
	}
	if err := ln.failed.Load(); err != nil {
		return fmt.Errorf("region %s: listener failed: %w", r.cfg.Region, *err)
	}
	return nil
}

// temporaryAcceptError reports whether an Accept error passes once resources
// free up (out of file descriptors, a connection aborted before accept, a
// timeout), so the accept loop should retry rather than stop.
func temporaryAcceptError(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.ENOMEM) || errors.Is(err, syscall.EINTR) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
