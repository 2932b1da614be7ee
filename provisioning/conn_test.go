package provisioning

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

func TestDialSendsExpectedConnect(t *testing.T) {
	env := newFakeEnv(t)
	seen := make(chan packets.ControlPacket, 16)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0, seen))
	cfg := env.dialConfig(b.addr)
	cfg.KeepAlive = 45 * time.Second
	cfg.Will = &Message{Topic: "gw/gw-test/status", Payload: []byte(`{"state":"offline"}`), QoS: 1, Retain: true}
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr() != b.addr {
		t.Errorf("RemoteAddr = %v, want %v", c.RemoteAddr(), b.addr)
	}
	hellos, connects := b.journal()
	if len(hellos) != 1 || len(connects) != 1 {
		t.Fatalf("%d hellos, %d connects; want one each (no MQTT 3.1 fallback, no retry)", len(hellos), len(connects))
	}
	if h := hellos[0]; h.ServerName != globalName || len(h.SupportedProtos) != 0 {
		t.Errorf("ClientHello: SNI %q, ALPN %q; want %q and none on a port other than 443", h.ServerName, h.SupportedProtos, globalName)
	}
	cp := connects[0]
	if cp.ProtocolName != "MQTT" || cp.ProtocolVersion != 4 {
		t.Errorf("protocol %s %d, want MQTT 4 (3.1.1)", cp.ProtocolName, cp.ProtocolVersion)
	}
	if !cp.CleanSession || cp.Keepalive != 45 || cp.ClientIdentifier != "gw-test" || cp.UsernameFlag || cp.PasswordFlag {
		t.Errorf("CONNECT %v", cp)
	}
	if !cp.WillFlag || cp.WillTopic != cfg.Will.Topic || string(cp.WillMessage) != string(cfg.Will.Payload) || cp.WillQos != 1 || !cp.WillRetain {
		t.Errorf("will in CONNECT: %v", cp)
	}

	if err := c.Publish(testCtx(t), "gw/gw-test/status", 1, true, []byte(`{"state":"online"}`)); err != nil {
		t.Fatal(err)
	}
	if p := (<-seen).(*packets.PublishPacket); p.TopicName != "gw/gw-test/status" || p.Qos != 1 || !p.Retain {
		t.Errorf("PUBLISH %v", p)
	}
	if c.Err() != nil {
		t.Errorf("Err() = %v while connected", c.Err())
	}
	c.Close()
	c.Close()
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err() = %v after Close, want ErrClosed", c.Err())
	}
	if _, ok := (<-seen).(*packets.DisconnectPacket); !ok {
		t.Error("Close did not send DISCONNECT (the broker would publish the will)")
	}
	if err := c.Publish(testCtx(t), "t", 0, false, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}
}

func TestDialConnackRefused(t *testing.T) {
	env := newFakeEnv(t)
	for code := byte(1); code <= 5; code++ {
		b := startFakeBroker(t, env.ca, env.server, func(conn net.Conn, _ *packets.ConnectPacket) {
			_ = writeConnack(conn, code)
		})
		_, err := Dial(testCtx(t), env.dialConfig(b.addr))
		var refused *ConnectRefusedError
		if !errors.As(err, &refused) || refused.Code != code {
			t.Fatalf("code %d: err = %v, want *ConnectRefusedError", code, err)
		}
		if got, want := refused.NotAuthorized(), code == 4 || code == 5; got != want {
			t.Errorf("code %d: NotAuthorized() = %v", code, got)
		}
		if _, connects := b.journal(); len(connects) != 1 {
			t.Errorf("code %d: %d CONNECTs, want 1 (no fallback to MQTT 3.1)", code, len(connects))
		}
	}
}

func TestConnectionLost(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0, nil))
	var mu sync.Mutex
	var lost []Event
	cfg := env.dialConfig(b.addr)
	cfg.Observe = func(e Event) {
		if e.Kind == EventConnectionLost {
			mu.Lock()
			lost = append(lost, e)
			mu.Unlock()
		}
	}
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.dropAll()
	waitDone(t, c)
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Errorf("Err() = %v, want ErrConnectionLost", c.Err())
	}
	err = c.Publish(testCtx(t), "t", 1, false, []byte("x"))
	if !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Publish after loss = %v, want ErrConnectionLost", err)
	}
	err = c.Subscribe(testCtx(t), map[string]byte{"t": 1}, func(string, []byte) {})
	if !errors.Is(err, ErrConnectionLost) {
		t.Errorf("Subscribe after loss = %v, want ErrConnectionLost", err)
	}
	c.Close() // after a loss: no panic, Err keeps the cause
	if !errors.Is(c.Err(), ErrConnectionLost) {
		t.Errorf("Err() after Close = %v, want the loss kept", c.Err())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lost) != 1 || lost[0].Err == nil {
		t.Errorf("connection_lost events: %+v", lost)
	}
}

func TestSubscribeRefused(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0x80, nil))
	c, err := Dial(testCtx(t), env.dialConfig(b.addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Subscribe(testCtx(t), map[string]byte{"a/b": 1, "c/+": 0}, func(string, []byte) {})
	if !errors.Is(err, ErrSubscribeRefused) || !strings.Contains(err.Error(), "a/b") || !strings.Contains(err.Error(), "c/+") {
		t.Errorf("err = %v, want ErrSubscribeRefused naming both filters", err)
	}
}

// silentListener accepts TCP and then says nothing, as a broken middlebox would.
func silentListener(t *testing.T) netip.AddrPort {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return netip.MustParseAddrPort(ln.Addr().String())
}

func TestDialHonorsDeadlines(t *testing.T) {
	env := newFakeEnv(t)
	silent := silentListener(t)
	noConnack := startFakeBroker(t, env.ca, env.server, func(conn net.Conn, _ *packets.ConnectPacket) {
		_, _ = conn.Read(make([]byte, 1)) // until the client gives up
	})
	tests := []struct {
		name    string
		addr    netip.AddrPort
		ctxWait time.Duration // 0: only ConnectTimeout bounds the dial
		timeout time.Duration
	}{
		{"tls handshake, context", silent, 200 * time.Millisecond, 0},
		{"tls handshake, ConnectTimeout", silent, 0, 200 * time.Millisecond},
		{"connack, context", noConnack.addr, 200 * time.Millisecond, 0},
		{"connack, ConnectTimeout", noConnack.addr, 0, 200 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctxWait > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctxWait)
				defer cancel()
			}
			cfg := env.dialConfig(tt.addr)
			cfg.ConnectTimeout = tt.timeout
			if cfg.ConnectTimeout == 0 {
				cfg.ConnectTimeout = time.Minute
			}
			c, err := Dial(ctx, cfg)
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want DeadlineExceeded", err)
			}
		})
	}
}

// TestDialHappyEyeballs runs the race through paho: the first address blackholes,
// the second is a broker.
func TestDialHappyEyeballs(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0, nil))
	hole := netip.MustParseAddrPort("[::1]:1") // never dialled: the hook blackholes it
	var mu sync.Mutex
	var events []Event
	cfg := env.dialConfig(hole, b.addr)
	cfg.Observe = func(e Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}
	cfg.dialTCP = func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		if addr == hole {
			<-ctx.Done()
			return nil, errBlackholed
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr.String())
	}
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr() != b.addr {
		t.Errorf("RemoteAddr = %v, want %v", c.RemoteAddr(), b.addr)
	}
	mu.Lock()
	defer mu.Unlock()
	var holeErr, won, connected bool
	for _, e := range events {
		switch {
		case e.Kind == EventDialAttempt && e.Addr == hole:
			holeErr = errors.Is(e.Err, errBlackholed)
		case e.Kind == EventDialAttempt && e.Addr == b.addr:
			won = e.Err == nil
		case e.Kind == EventConnected:
			connected = e.Addr == b.addr
		}
	}
	if !holeErr || !won || !connected {
		t.Errorf("events %+v", events)
	}
}

func TestDialUnknownServerAndWrongName(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0, nil))

	cfg := env.dialConfig(b.addr)
	cfg.ServerName = "other.example.com"
	_, err := Dial(testCtx(t), cfg)
	var hostErr x509.HostnameError
	if !errors.As(err, &hostErr) {
		t.Errorf("wrong server name: err = %v, want x509.HostnameError", err)
	}

	cfg = env.dialConfig(b.addr)
	cfg.RootCAs = newTestCA(t, "other root").pool
	_, err = Dial(testCtx(t), cfg)
	var authErr x509.UnknownAuthorityError
	if !errors.As(err, &authErr) {
		t.Errorf("server from another CA: err = %v, want x509.UnknownAuthorityError", err)
	}
	var refused *ConnectRefusedError
	if errors.As(err, &refused) {
		t.Errorf("a TLS failure reported as a CONNACK refusal: %v", err)
	}
}

// TestDialUntrustedClock: a device without a believable clock accepts a server
// certificate that starts after its floor, and still refuses an expired one.
func TestDialUntrustedClock(t *testing.T) {
	ca := newTestCA(t, "root")
	client := ca.issue(t, leafOpts{cn: "claim"})
	now := time.Now()
	tests := []struct {
		name      string
		notBefore time.Time
		notAfter  time.Time
		trusted   bool
		ok        bool
	}{
		{"future cert, trusted clock", now.Add(time.Hour), now.Add(2 * time.Hour), true, false},
		{"future cert, untrusted clock", now.Add(time.Hour), now.Add(2 * time.Hour), false, true},
		{"expired cert, untrusted clock", now.Add(-90 * time.Minute), now.Add(-time.Hour), false, false},
		{"valid cert, untrusted clock", now.Add(-time.Hour), now.Add(time.Hour), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := ca.issue(t, leafOpts{cn: globalName, dnsNames: []string{globalName}, server: true, notBefore: tt.notBefore, notAfter: tt.notAfter})
			b := startFakeBroker(t, ca, server, acceptAndAnswer(0, nil))
			env := fakeEnv{ca: ca, server: server, client: client}
			cfg := env.dialConfig(b.addr)
			cfg.Now = func() (time.Time, bool) { return now, tt.trusted }
			c, err := Dial(testCtx(t), cfg)
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.Close()
				return
			}
			var ie x509.CertificateInvalidError
			if !errors.As(err, &ie) || ie.Reason != x509.Expired {
				t.Errorf("err = %v, want x509 Expired", err)
			}
		})
	}
}

func TestDialConfigValidation(t *testing.T) {
	env := newFakeEnv(t)
	addr := netip.MustParseAddrPort("127.0.0.1:8883")
	tests := []struct {
		name   string
		modify func(*DialConfig)
	}{
		{"no server name", func(c *DialConfig) { c.ServerName = "" }},
		{"no addresses", func(c *DialConfig) { c.Addrs = nil }},
		{"zero address", func(c *DialConfig) { c.Addrs = []netip.AddrPort{{}} }},
		{"port zero", func(c *DialConfig) { c.Addrs = []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:0")} }},
		{"no roots", func(c *DialConfig) { c.RootCAs = nil }},
		{"no certificate", func(c *DialConfig) { c.Certificate.Certificate = nil }},
		{"key not a signer", func(c *DialConfig) { c.Certificate.PrivateKey = "pem text" }},
		{"empty client id", func(c *DialConfig) { c.ClientID = "" }},
		{"$ client id", func(c *DialConfig) { c.ClientID = "$aws" }},
		{"long client id", func(c *DialConfig) { c.ClientID = strings.Repeat("x", 129) }},
		{"client id not utf-8", func(c *DialConfig) { c.ClientID = "gw\xff" }},
		{"keep-alive too short", func(c *DialConfig) { c.KeepAlive = 10 * time.Second }},
		{"keep-alive too long", func(c *DialConfig) { c.KeepAlive = 1201 * time.Second }},
		{"negative timeout", func(c *DialConfig) { c.ConnectTimeout = -time.Second }},
		{"will qos 2", func(c *DialConfig) { c.Will = &Message{Topic: "t", QoS: 2} }},
		{"will wildcard", func(c *DialConfig) { c.Will = &Message{Topic: "t/#"} }},
		{"will empty topic", func(c *DialConfig) { c.Will = &Message{} }},
		{"will too large", func(c *DialConfig) { c.Will = &Message{Topic: "t", Payload: make([]byte, MaxPayload+1)} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := env.dialConfig(addr)
			tt.modify(&cfg)
			if _, err := Dial(testCtx(t), cfg); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("err = %v, want ErrInvalidConfig", err)
			}
		})
	}
	ok := env.dialConfig(addr)
	ok.ClientID = strings.Repeat("x", 128)
	ok.KeepAlive = 30 * time.Second
	if err := ok.validate(); err != nil {
		t.Errorf("128-byte client id, 30 s keep-alive: %v", err)
	}
}

func TestTLSConfig(t *testing.T) {
	env := newFakeEnv(t)
	cfg := env.dialConfig(netip.MustParseAddrPort("127.0.0.1:443"))
	for _, tt := range []struct {
		port uint16
		alpn []string
	}{{443, []string{"x-amzn-mqtt-ca"}}, {8883, nil}} {
		c := cfg.tlsConfig(tt.port, time.Time{})
		if strings.Join(c.NextProtos, ",") != strings.Join(tt.alpn, ",") {
			t.Errorf("port %d: ALPN %q, want %q", tt.port, c.NextProtos, tt.alpn)
		}
		if c.MinVersion != 0x0303 || c.InsecureSkipVerify || c.ServerName != globalName || c.RootCAs != env.ca.pool || c.Time != nil {
			t.Errorf("port %d: %+v", tt.port, c)
		}
	}
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if c := cfg.tlsConfig(8883, at); c.Time == nil || !c.Time().Equal(at) {
		t.Error("verification time not applied")
	}
}

func TestPublishAndSubscribeValidation(t *testing.T) {
	tests := []struct {
		name    string
		filters map[string]byte
	}{
		{"none", map[string]byte{}},
		{"nine", map[string]byte{"a": 0, "b": 0, "c": 0, "d": 0, "e": 0, "f": 0, "g": 0, "h": 0, "i": 0}},
		{"qos 2", map[string]byte{"a": 2}},
		{"hash not last", map[string]byte{"a/#/b": 1}},
		{"hash inside level", map[string]byte{"a/b#": 1}},
		{"plus inside level", map[string]byte{"a/b+/c": 1}},
		{"empty filter", map[string]byte{"": 1}},
	}
	for _, tt := range tests {
		if err := validFilters(tt.filters); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", tt.name, err)
		}
	}
	if err := validFilters(map[string]byte{"$aws/certificates/create/+/accepted": 1, "#": 0, "a/+/b/#": 1}); err != nil {
		t.Errorf("valid filters: %v", err)
	}
	for _, p := range []struct {
		topic   string
		qos     byte
		payload []byte
	}{{"", 0, nil}, {"a/+", 0, nil}, {"a/#", 1, nil}, {"a", 2, nil}, {"a", 1, make([]byte, MaxPayload+1)}} {
		if err := validPublish(p.topic, p.qos, p.payload); err == nil {
			t.Errorf("publish %q qos %d %d bytes: no error", p.topic, p.qos, len(p.payload))
		}
	}
	if err := validPublish("a", 1, make([]byte, MaxPayload+1)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("oversize publish: %v, want ErrPayloadTooLarge", err)
	}
}

// TestDialALPNOn443: dialing port 443 offers x-amzn-mqtt-ca; the hook carries the
// connection to the fake broker's ephemeral port.
func TestDialALPNOn443(t *testing.T) {
	env := newFakeEnv(t)
	b := startFakeBroker(t, env.ca, env.server, acceptAndAnswer(0, nil))
	on443 := netip.AddrPortFrom(b.addr.Addr(), 443)
	cfg := env.dialConfig(on443)
	cfg.dialTCP = func(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
		if addr != on443 {
			return nil, errors.New("unexpected address")
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", b.addr.String())
	}
	c, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	hellos, _ := b.journal()
	if len(hellos) != 1 || strings.Join(hellos[0].SupportedProtos, ",") != "x-amzn-mqtt-ca" || hellos[0].ServerName != globalName {
		t.Errorf("hellos %+v, want SNI %s and ALPN x-amzn-mqtt-ca", hellos, globalName)
	}
}
