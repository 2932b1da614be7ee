package provisioning

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAttempts plays one scripted behaviour per address and keeps a journal.
type fakeAttempts struct {
	mu       sync.Mutex
	started  []netip.AddrPort
	canceled []netip.AddrPort
	conns    []*trackedConn
	behave   map[netip.AddrPort]func(ctx context.Context) (net.Conn, error)
}

func (f *fakeAttempts) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	f.mu.Lock()
	f.started = append(f.started, addr)
	b := f.behave[addr]
	f.mu.Unlock()
	conn, err := b(ctx)
	if ctx.Err() != nil {
		f.mu.Lock()
		f.canceled = append(f.canceled, addr)
		f.mu.Unlock()
	}
	return conn, err
}

func (f *fakeAttempts) newConn() *trackedConn {
	a, b := net.Pipe()
	_ = b.Close()
	c := &trackedConn{Conn: a}
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	return c
}

type trackedConn struct {
	net.Conn
	mu     sync.Mutex
	closed bool
}

func (c *trackedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.Conn.Close()
}

func (c *trackedConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

var (
	v6a = netip.MustParseAddrPort("[2001:db8::1]:8883")
	v4a = netip.MustParseAddrPort("192.0.2.1:8883")
	v6b = netip.MustParseAddrPort("[2001:db8::2]:8883")
)

func blackhole(ctx context.Context) (net.Conn, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func failWith(err error) func(context.Context) (net.Conn, error) {
	return func(context.Context) (net.Conn, error) { return nil, err }
}

func TestRaceDialBlackholeThenWorking(t *testing.T) {
	f := &fakeAttempts{}
	f.behave = map[netip.AddrPort]func(context.Context) (net.Conn, error){
		v6a: blackhole,
		v4a: func(context.Context) (net.Conn, error) { return f.newConn(), nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, addr, err := raceDial(ctx, []netip.AddrPort{v6a, v4a}, 20*time.Millisecond, f.dial)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if addr != v4a {
		t.Errorf("winner %v, want %v", addr, v4a)
	}
	// raceDial waits for the losers, so the journal is complete here.
	if len(f.started) != 2 || f.started[0] != v6a || f.started[1] != v4a {
		t.Errorf("started %v, want [%v %v]", f.started, v6a, v4a)
	}
	if len(f.canceled) != 1 || f.canceled[0] != v6a {
		t.Errorf("canceled %v, want the blackholed %v", f.canceled, v6a)
	}
	if f.conns[0].isClosed() {
		t.Error("the winning connection was closed")
	}
}

// TestRaceDialFailureStartsNextAtOnce: RFC 8305 starts the next attempt as soon as
// one fails. The delay is an hour, so only that rule lets the test finish.
func TestRaceDialFailureStartsNextAtOnce(t *testing.T) {
	f := &fakeAttempts{}
	f.behave = map[netip.AddrPort]func(context.Context) (net.Conn, error){
		v6a: failWith(errors.New("connection refused")),
		v4a: func(context.Context) (net.Conn, error) { return f.newConn(), nil },
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, addr, err := raceDial(ctx, []netip.AddrPort{v6a, v4a}, time.Hour, f.dial)
	if err != nil {
		t.Fatalf("%v (the second attempt waited for the delay?)", err)
	}
	conn.Close()
	if addr != v4a {
		t.Errorf("winner %v, want %v", addr, v4a)
	}
}

func TestRaceDialAllFail(t *testing.T) {
	errRefused := errors.New("connection refused")
	errReset := errors.New("connection reset")
	errTLS := errors.New("tls: bad certificate")
	f := &fakeAttempts{behave: map[netip.AddrPort]func(context.Context) (net.Conn, error){
		v6a: failWith(errRefused), v4a: failWith(errReset), v6b: failWith(errTLS),
	}}
	_, _, err := raceDial(context.Background(), []netip.AddrPort{v6a, v4a, v6b}, time.Hour, f.dial)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []error{errRefused, errReset, errTLS} {
		if !errors.Is(err, want) {
			t.Errorf("error %q does not wrap %q", err, want)
		}
	}
	for _, a := range []netip.AddrPort{v6a, v4a, v6b} {
		if !strings.Contains(err.Error(), a.String()) {
			t.Errorf("error %q does not name %v", err, a)
		}
	}
}

// TestRaceDialLateWinnerClosed: an attempt that connects after another won is closed.
func TestRaceDialLateWinnerClosed(t *testing.T) {
	f := &fakeAttempts{}
	late := make(chan *trackedConn, 1)
	f.behave = map[netip.AddrPort]func(context.Context) (net.Conn, error){
		v6a: func(ctx context.Context) (net.Conn, error) {
			<-ctx.Done() // connects just as it is cancelled
			c := f.newConn()
			late <- c
			return c, nil
		},
		v4a: func(context.Context) (net.Conn, error) { return f.newConn(), nil },
	}
	conn, addr, err := raceDial(context.Background(), []netip.AddrPort{v6a, v4a}, time.Millisecond, f.dial)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if addr != v4a {
		t.Errorf("winner %v, want %v", addr, v4a)
	}
	if c := <-late; !c.isClosed() {
		t.Error("late connection left open")
	}
}

func TestRaceDialContextEnds(t *testing.T) {
	f := &fakeAttempts{behave: map[netip.AddrPort]func(context.Context) (net.Conn, error){
		v6a: blackhole, v4a: blackhole,
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err := raceDial(ctx, []netip.AddrPort{v6a, v4a}, time.Millisecond, f.dial)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if len(f.canceled) != 2 {
		t.Errorf("canceled %v, want both attempts", f.canceled)
	}
}
