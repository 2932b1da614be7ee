package route53

import (
	"net"
	"sync/atomic"
	"syscall"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

type emfileListener struct {
	net.Listener
	n atomic.Int32
}

func (f *emfileListener) Accept() (net.Conn, error) {
	if f.n.Add(-1) >= 0 {
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}
	}
	return f.Listener.Accept()
}

func TestBackoffListenerLogsAndRecovers(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	fl := &emfileListener{Listener: raw}
	fl.n.Store(3)
	core, logs := observer.New(zap.DebugLevel)
	ln := &backoffListener{Listener: fl, log: zap.New(core)}
	c, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var errs int
	for {
		conn, err := ln.Accept()
		if err == nil {
			conn.Close()
			break
		}
		errs++
	}
	if errs != 3 || ln.backoff != 0 {
		t.Fatalf("errors %d, backoff after success %v; want 3, 0", errs, ln.backoff)
	}
	if logs.FilterMessage("dns tcp accept failed; retrying").Len() != 1 {
		t.Fatalf("want one rate-limited log line, got %d", logs.Len())
	}
}
