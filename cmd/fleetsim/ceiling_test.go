package main

import (
	"context"
	"net"
	"testing"
	"time"
)

func TestMeasureCeiling(t *testing.T) {
	c, err := MeasureCeiling(context.Background(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if c.Devices == 0 || c.DevicesPerSecond <= 0 || c.Workers != gomaxprocs() {
		t.Fatalf("ceiling %+v", c)
	}
	for name, d := range map[string]time.Duration{"handshakes": c.Handshakes, "key": c.KeyGen, "csr": c.CSR, "certificate": c.CertSign} {
		if d <= 0 {
			t.Errorf("%s: %v per device", name, d)
		}
	}
	// The agent and the rig both leave Go's default key exchange on.
	if c.Group != "X25519MLKEM768" {
		t.Errorf("key exchange %q, want Go's default X25519MLKEM768", c.Group)
	}
}

// The ceiling's server takes only registered certificates, as a region does.
func TestCeilingRefusesUnregistered(t *testing.T) {
	p, err := newCeilingPKI()
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := newCeilingPKI()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.handshake(ctx, p.claim); err != nil {
		t.Fatalf("registered claim: %v", err)
	}
	// Same root, unregistered key: the registry check alone refuses it.
	p.mu.Lock()
	clear(p.registered)
	p.mu.Unlock()
	if _, err := p.handshake(ctx, p.claim); err == nil {
		t.Fatal("unregistered certificate accepted")
	}
	if _, err := p.handshake(ctx, stranger.claim); err == nil {
		t.Fatal("certificate of another root accepted")
	}
}

// BenchmarkCeilingDevice is one device's crypto as the ceiling counts it, its
// two handshakes over net.Pipe, and the same over loopback TCP: what the
// kernel's sockets add to the crypto before any MQTT, registry or agent code
// runs. cpu-µs/device is the process's CPU time, both ends included.
func BenchmarkCeilingDevice(b *testing.B) {
	for _, transport := range []string{"pipe", "tcp"} {
		b.Run(transport, func(b *testing.B) {
			p, err := newCeilingPKI()
			if err != nil {
				b.Fatal(err)
			}
			if transport == "tcp" {
				p.pair = loopbackPair(b)
			}
			var c Ceiling
			cpu0 := processCPU()
			for b.Loop() {
				if err := p.oneDevice(context.Background(), &c); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/device")
		})
	}
}

// loopbackPair connects a TCP client to a listener on 127.0.0.1 for each pair.
func loopbackPair(b *testing.B) func() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	return func() (net.Conn, net.Conn, error) {
		cli, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return nil, nil, err
		}
		srv, err := ln.Accept()
		if err != nil {
			cli.Close()
			return nil, nil, err
		}
		return cli, srv, nil
	}
}
