package controlplane

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLimitListenerCapHolds(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(raw, 2)
	defer ln.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	first, second := <-accepted, <-accepted
	select {
	case <-accepted:
		t.Fatal("third connection accepted while two are open")
	case <-time.After(50 * time.Millisecond):
	}
	_ = first.Close()
	<-accepted // a slot freed: the waiting client gets in
	_ = second.Close()
}

// A client that drips its body, or holds a keep-alive connection idle, loses the
// connection once the server's limits run out; a body over the limit is cut off.
func TestNewServerTimeouts(t *testing.T) {
	s := NewServer(nil)
	if s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.ReadHeaderTimeout == 0 {
		t.Fatalf("NewServer leaves a timeout unset: %+v", s)
	}
	lim := serverLimits{read: 300 * time.Millisecond, readHeader: 300 * time.Millisecond,
		write: time.Second, idle: 300 * time.Millisecond, body: 1024}
	bodyErr := make(chan error, 4)
	srv := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		bodyErr <- err
		if err != nil {
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		}
	}), lim)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	closedWithin := func(t *testing.T, c net.Conn, d time.Duration) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					t.Fatalf("connection still open after %v", d)
				}
				return
			}
		}
	}

	t.Run("dripped body", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
		if err := <-bodyErr; err == nil {
			t.Fatal("a body that stopped arriving was read to the end")
		}
		closedWithin(t, c, 5*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-bodyErr
		closedWithin(t, c, 5*time.Second)
	})
	t.Run("body over the limit", func(t *testing.T) {
		resp, err := http.Post("http://"+ln.Addr().String()+"/", "application/json", strings.NewReader(strings.Repeat("x", 2048)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := <-bodyErr; err == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("a 2 KiB body under a 1 KiB limit: read error %v, HTTP %d", err, resp.StatusCode)
		}
	})
}

func TestHealthReportsFailedComponent(t *testing.T) {
	f := newFixture(t)
	f.h.opts.Health = func() error { return errors.New("region eu-west-1: listener failed: accept: broken") }
	a := f.do(t, http.MethodGet, "/_mockcloud/health", "", "")
	a.wantError(t, http.StatusServiceUnavailable, codeUnavailable)
	if !strings.Contains(a.raw, "eu-west-1") {
		t.Fatalf("health does not name the component: %s", a.raw)
	}
}
