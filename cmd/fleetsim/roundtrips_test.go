package main

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/provisioning"
)

// The protocol's limit (beyond TCP) from the first DNS query to the permanent
// CONNACK: DNS one per name an answer did not carry (2 with a CNAME-only answer,
// 1 when it carries the target's addresses), the claim phase 5 (TLS 1.3 flight,
// Finished+CONNECT, SUBSCRIBE, CreateCertificateFromCsr or CreateKeysAndCertificate,
// RegisterThing), the permanent connection 2 with the addresses already resolved.
func TestRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		name      string
		targets   bool
		wantDNS   int
		wantTotal int
	}{
		{"cname-only", false, 2, 9},
		{"with-target-records", true, 1, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startTestRig(t, 1, tc.targets)
			for _, mode := range []string{agent.ModeCSR, agent.ModeKeys} {
				wire := &wireCounter{delay: 20 * time.Millisecond}
				rep, err := Simulate(context.Background(), Params{
					DeviceConfig: c.Files().DeviceConfig, N: 1, Mode: mode, Places: []string{"de"},
					Timeout: time.Minute, WrapDial: wire.wrap,
				})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Online != 1 {
					t.Fatalf("%s: device not online: %v", mode, rep.ErrorSamples)
				}
				rt := rep.Results[0].RoundTrips
				t.Logf("%s %s: %s; claim phase %d; wire: claim connection %d turns, permanent connection %d turns to CONNACK",
					tc.name, mode, rt, rt.Claim(), wire.claim, wire.permanent)
				if !rt.Complete || rt.DNS != tc.wantDNS || rt.Claim() != 5 || rt.PinnedDNS != 0 || rt.Connect != 2 || rt.Total() != tc.wantTotal {
					t.Errorf("%s: round trips %s, want %d (dns %d, claim 5, connect 2)", mode, rt, tc.wantTotal, tc.wantDNS)
				}
				if rt.DialAttempts != 2 {
					t.Errorf("%s: %d dial attempts, want one per connection", mode, rt.DialAttempts)
				}
			}
		})
	}
}

// wireCounter routes the agent's connections through a loopback proxy that
// delays every chunk by delay in each direction and counts turns: a client chunk
// that follows a delivery from the server starts a new flight; flights answered by
// the server are round trips. The delay orders cause and effect: a client write
// made without waiting (CONNECT right after the TLS Finished) reaches the proxy
// long before a server write it could have waited for (the session ticket).
type wireCounter struct {
	delay time.Duration

	mu        sync.Mutex
	claim     int
	permanent int
}

func (w *wireCounter) wrap(next agent.Dialer) agent.Dialer {
	return func(ctx context.Context, cfg provisioning.DialConfig) (*provisioning.Conn, error) {
		claim := len(cfg.ClientID) > len(provisioning.ClaimClientIDPrefix) && strings.HasPrefix(cfg.ClientID, provisioning.ClaimClientIDPrefix)
		px, err := startProxy(cfg.Addrs[0], w.delay)
		if err != nil {
			return nil, err
		}
		cfg.Addrs = []netip.AddrPort{px.addr}
		prev := cfg.Observe
		cfg.Observe = func(e provisioning.Event) {
			// The claim phase ends with RegisterThing accepted, the count with the
			// permanent CONNACK: what follows (DISCONNECT, close_notify) is no wait.
			switch {
			case e.Kind == provisioning.EventConnected && !claim:
				w.mu.Lock()
				w.permanent = px.turns()
				w.mu.Unlock()
			case e.Kind == provisioning.EventRoundTrip && claim && e.Op == provisioning.OpRegisterThing:
				w.mu.Lock()
				w.claim = px.turns()
				w.mu.Unlock()
			}
			if prev != nil {
				prev(e)
			}
		}
		conn, err := next(ctx, cfg)
		if err != nil {
			px.close()
			return nil, err
		}
		go func() {
			<-conn.Done()
			px.wait()
			px.close()
		}()
		return conn, nil
	}
}

type proxy struct {
	ln     net.Listener
	addr   netip.AddrPort
	target netip.AddrPort
	delay  time.Duration
	wg     sync.WaitGroup

	mu       sync.Mutex
	flights  int  // client flights so far
	answered int  // client flights followed by a server delivery
	replied  bool // the server delivered since the last client flight began
	open     bool // a client flight is waiting for its answer
	conns    []net.Conn
}

func startProxy(target netip.AddrPort, delay time.Duration) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{ln: ln, addr: netip.MustParseAddrPort(ln.Addr().String()), target: target, delay: delay, replied: true}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target.String())
		if err != nil {
			c.Close()
			return
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(c, s, true)
		go p.pump(s, c, false)
	}()
	return p, nil
}

type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst, each chunk delay later than it was read.
func (p *proxy) pump(src, dst net.Conn, fromClient bool) {
	defer p.wg.Done()
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range q {
			time.Sleep(time.Until(ch.due))
			if !fromClient {
				p.mu.Lock()
				if p.open {
					p.answered++
					p.open = false
				}
				p.replied = true
				p.mu.Unlock()
			}
			if _, err := dst.Write(ch.data); err != nil {
				break
			}
		}
		for range q {
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if fromClient {
				p.mu.Lock()
				if p.replied {
					p.flights++
					p.replied = false
					p.open = true
				}
				p.mu.Unlock()
			}
			q <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(p.delay)}
		}
		if err != nil { // EOF or closed: the connection is over either way
			break
		}
	}
	close(q)
	<-done
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (p *proxy) turns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.answered
}

func (p *proxy) wait() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}
