package controlplane

import (
	"errors"
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

func TestNewServerTimeouts(t *testing.T) {
	s := NewServer(nil)
	if s.ReadTimeout == 0 || s.WriteTimeout == 0 || s.IdleTimeout == 0 || s.ReadHeaderTimeout == 0 {
		t.Fatalf("NewServer leaves a timeout unset: %+v", s)
	}
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
