package iotcore

import (
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// flakyListener fails Accept with err the first n times, as a process out of
// file descriptors does.
type flakyListener struct {
	net.Listener
	n   atomic.Int32
	err error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.n.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.Listener.Accept()
}

func TestListenerAcceptErrors(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		wantAccept bool
	}{
		{"EMFILE retried", &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}, true},
		{"ECONNABORTED retried", &net.OpError{Op: "accept", Net: "tcp", Err: syscall.ECONNABORTED}, true},
		{"permanent failure marks unhealthy", errors.New("listener broke"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			fl := &flakyListener{Listener: raw, err: tc.err}
			fl.n.Store(3)
			core, logs := observer.New(zap.DebugLevel)
			l := newTLSListener("t", fl, nil, time.Second, time.Second, time.Second, zap.New(core))
			release := make(chan struct{})
			accepted := make(chan struct{}, 1)
			l.stall = func() (bool, <-chan struct{}) { accepted <- struct{}{}; return true, release }
			served := make(chan struct{})
			go func() { l.Serve(nil); close(served) }()
			t.Cleanup(func() { close(release); l.Close(func(string) {}) })

			if !tc.wantAccept {
				<-served
				if l.failed.Load() == nil {
					t.Fatal("listener failure not recorded")
				}
				r := &Region{ln: l}
				if r.Health() == nil {
					t.Fatal("Health() = nil after the listener failed")
				}
				return
			}
			c, err := net.Dial("tcp", raw.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			<-accepted // the old loop returned on the first error and never got here
			if l.failed.Load() != nil {
				t.Fatalf("temporary error recorded as failure: %v", *l.failed.Load())
			}
			if logs.FilterMessage("accept failed; retrying").Len() == 0 {
				t.Fatal("temporary accept error not logged")
			}
		})
	}
}
