package mockcloud

import (
	"context"
	"crypto/tls"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/dnsresolve"
)

// With Options.Latency every DNS and MQTT socket of the rig answers at least one
// added round trip later, a query's source address still places the client, and
// a region brought back up keeps the delay.
func TestLatency(t *testing.T) {
	const oneWay = 50 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	if _, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true, Latency: -time.Second}); err == nil {
		t.Fatal("negative latency accepted")
	}
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true, Latency: oneWay})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Latency() != oneWay {
		t.Fatalf("Latency() = %v", c.Latency())
	}

	// The default rig answers the CNAME alone: two names, two round trips. The
	// source address 127.0.3.1 is in Japan.
	start := time.Now()
	res, err := mustResolver(t, dnsresolve.Config{Servers: []string{c.DNSAddr()}, LocalAddr: netip.MustParseAddr("127.0.3.1")}).Resolve(ctx, cfg.GlobalName)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.Region != "ap-northeast-1" {
		t.Fatalf("resolved %+v, want ap-northeast-1 (placed by source address)", res)
	}
	if took < 4*oneWay {
		t.Errorf("resolution took %v, below two added round trips (%v)", took, 4*oneWay)
	}

	tlsRoundTrip := func(name string) {
		t.Helper()
		addr := regionInfo(c, name).Addr.String()
		start := time.Now()
		d := &net.Dialer{Timeout: 10 * time.Second}
		// The ClientHello goes out and the server's flight comes back: one round
		// trip before the client has what it needs, whatever the outcome (no client
		// certificate here, so the server refuses after its flight).
		conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{ServerName: cfg.GlobalName, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}) //nolint:gosec // only timing the flight
		if err == nil {
			conn.Close()
		}
		if took := time.Since(start); took < 2*oneWay {
			t.Errorf("%s: TLS flight took %v, below one added round trip (%v); err %v", name, took, 2*oneWay, err)
		}
	}
	tlsRoundTrip("eu-west-1")
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	if err := c.SetRegionDown("eu-west-1", false); err != nil {
		t.Fatal(err)
	}
	tlsRoundTrip("eu-west-1")
}
