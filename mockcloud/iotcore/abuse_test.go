package iotcore_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/fleetboot/fleetboot/provisioning"
)

// The region under abuse: garbage and stalled connections on its TLS port, MQTT
// that breaks the spec after a good mutual TLS handshake, a thousand certificates
// it never registered, and a claim-certificate client reaching for what its
// policy does not grant. Meanwhile legitimate devices provision, and afterwards
// nothing the abuse started is left running.

// abuseTimeout is the region's TLS handshake and CONNECT deadline in these tests:
// short, so that stalled connections are cut soon, long enough for a loaded machine.
const abuseTimeout = 3 * time.Second

// closeWithin bounds how long a test waits for the region to close a connection
// it must close; it is a failure detector, not a performance target.
const closeWithin = 4 * abuseTimeout

func TestRegionUnderAbuse(t *testing.T) {
	beforeRegion := goleak.IgnoreCurrent()
	rg := newRig(t, func(c *iotcore.Config) {
		c.HandshakeTimeout, c.ConnectTimeout = abuseTimeout, abuseTimeout
		// Every refused connection is logged at info; warnings and above are enough here.
		c.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	})
	heapStart := heapInuse()

	// A claim-certificate client subscribed to every reply topic its policy allows
	// sees none of the replies the legitimate devices get.
	var spied atomic.Int64
	spy, err := rg.dial(rg.claim, "abuse-spy", dialOpt{})
	if err != nil {
		t.Fatalf("spy: %v", err)
	}
	replies := map[string]byte{}
	for _, tp := range []provisioning.Topic{
		provisioning.CreateKeysTopic(provisioning.FormatJSON),
		provisioning.CreateFromCSRTopic(provisioning.FormatJSON),
		provisioning.RegisterThingTopic(templateName, provisioning.FormatJSON),
	} {
		for _, r := range tp.Replies() {
			replies[r] = 1
		}
	}
	if tok := spy.SubscribeMultiple(replies, func(paho.Client, paho.Message) { spied.Add(1) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("spy subscribe: %v", tok.Error())
	}
	// Both flows once, so that what the region starts on demand (the RSA key
	// pool's filler) runs before the baseline of its goroutines is taken.
	provisionLegit(t, rg, 1000)
	provisionLegit(t, rg, 1003)
	aliveBaseline := goleak.IgnoreCurrent()

	abuses := []struct {
		name string
		run  func(t *testing.T, rg *rig)
	}{
		{"garbage before TLS", garbageBeforeTLS},
		{"half-open connections", halfOpen},
		{"MQTT against the spec", mqttViolations},
		{"1000 unregistered certificates", unregisteredCertificates},
		{"claim client beyond its policy", claimBeyondPolicy},
	}
	var wg sync.WaitGroup
	abuseDone := make(chan struct{})
	for _, a := range abuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.Run(a.name, func(t *testing.T) { a.run(t, rg) })
		}()
	}
	go func() { wg.Wait(); close(abuseDone) }()

	var legit int
	t.Run("legitimate devices meanwhile", func(t *testing.T) {
		for {
			provisionLegit(t, rg, legit)
			legit++
			select {
			case <-abuseDone:
				// One more with the region's abusers gone: it still serves.
				provisionLegit(t, rg, legit)
				legit++
				return
			default:
			}
		}
	})
	<-abuseDone
	t.Logf("%d devices provisioned while the region was abused", legit)
	if n := spied.Load(); n != 0 {
		t.Errorf("the spy received %d provisioning replies meant for other devices", n)
	}
	spy.Disconnect(0)

	heapAbused := heapInuse()
	conns, idle, partial := partialPackets(t, rg)
	t.Logf("heap in use: %.1f MiB with the region started, %.1f MiB after the abuse and %d provisionings", mib(heapStart), mib(heapAbused), legit)
	t.Logf("%d idle claim sessions: +%.1f MiB (%.0f KiB each); the same sessions each sending only the header of a %d-byte PUBLISH: +%.1f MiB more (%.0f KiB each)",
		conns, mib(idle), float64(idle)/float64(conns)/1024, provisioning.MaxPayload, mib(partial), float64(partial)/float64(conns)/1024)

	// Alive, with every abusive connection gone, the region runs what it ran before.
	if err := goleak.Find(aliveBaseline); err != nil {
		t.Errorf("goroutines left in the running region after the abuse:\n%v", err)
	}
	if err := rg.region.Close(); err != nil {
		t.Fatal(err)
	}
	goleak.VerifyNone(t, beforeRegion)
}

// provisionLegit runs one device's whole claim flow and proves its identity.
func provisionLegit(t *testing.T, rg *rig, n int) {
	t.Helper()
	serial := fmt.Sprintf("ABUSE-OK-%03d", n)
	f := provisioning.FormatJSON
	claim, err := dialUntracked(rg, rg.claim, "claim-"+serial)
	if err != nil {
		t.Fatalf("%s: claim connect: %v", serial, err)
	}
	defer claim.Disconnect(0)
	id, token := credentials(t, claim, f, n%4 != 3) // every fourth with CreateKeysAndCertificate
	out, reply := claim.request(t, provisioning.RegisterThingTopic(templateName, f), marshal(t, f,
		provisioning.RegisterThingRequest{CertificateOwnershipToken: token, Parameters: map[string]string{"SerialNumber": serial}}))
	claim.Disconnect(0)
	if out != provisioning.Accepted {
		t.Fatalf("%s: RegisterThing %s: %s", serial, out, truncate(reply))
	}
	thing := "gw-" + serial
	dev, err := dialUntracked(rg, id, thing)
	if err != nil {
		t.Fatalf("%s: connect as the thing: %v", serial, err)
	}
	defer dev.Disconnect(0)
	status := "gateways/" + thing + "/status"
	ch, err := dev.subscribe(t, status)
	if err != nil {
		t.Fatalf("%s: %v", serial, err)
	}
	if err := dev.publish(t, status, 1, []byte(`{"state":"online"}`)); err != nil {
		t.Fatalf("%s: %v", serial, err)
	}
	if _, ok := receive(t, ch, 10*time.Second); !ok {
		t.Fatalf("%s: own status not received", serial)
	}
}

// dialUntracked is rig.dial without a test cleanup holding on to the client, so
// that the heap figures count the region, not hundreds of closed test clients.
// The caller disconnects.
func dialUntracked(rg *rig, id identity, clientID string) (*client, error) {
	c := &client{lost: make(chan error, 1)}
	c.Client = paho.NewClient(paho.NewClientOptions().
		AddBroker("tls://" + rg.region.Addr().String()).
		SetClientID(clientID).
		SetTLSConfig(rg.tlsConfig(id, dialOpt{})).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetCleanSession(true).
		SetConnectTimeout(closeWithin).
		SetWriteTimeout(closeWithin).
		SetKeepAlive(60 * time.Second).
		SetOrderMatters(false))
	tok := c.Connect()
	if !tok.WaitTimeout(closeWithin) {
		c.Disconnect(0)
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	return c, nil
}

// garbageBeforeTLS: bytes that are not a TLS ClientHello. The region closes each
// connection without ever reaching MQTT.
func garbageBeforeTLS(t *testing.T, rg *rig) {
	random := make([]byte, 4096)
	_, _ = rand.Read(random)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"random bytes", random},
		{"zeros", make([]byte, 512)},
		{"plain HTTP", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"MQTT CONNECT without TLS", connectPacket("plain")},
		{"TLS record longer than allowed", []byte{0x16, 0x03, 0x01, 0xff, 0xff}},
		{"TLS alert before hello", []byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28}},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range 20 {
				c := dialTCP(t, rg)
				_, _ = c.Write(tc.data) // the region may already have hung up
				if _, err := closedByServer(c, closeWithin); err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
			}
		})
	}
}

// halfOpen: connections that open and go quiet or trickle, at each stage, all
// held at once. The region's deadlines cut every one of them, whatever the
// client does after.
func halfOpen(t *testing.T, rg *rig) {
	const conns = 50
	stages := []struct {
		name string
		open func(t *testing.T) net.Conn
	}{
		{"TCP open, silent", func(t *testing.T) net.Conn { return dialTCP(t, rg) }},
		{"partial ClientHello, then FIN", func(t *testing.T) net.Conn {
			c := dialTCP(t, rg)
			_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x80, 0x01})
			_ = c.(*net.TCPConn).CloseWrite()
			return c
		}},
		{"ClientHello trickled a byte at a time", func(t *testing.T) net.Conn {
			c := dialTCP(t, rg)
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				_, _ = c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x80})
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte{0x01}); err != nil {
						return
					}
				}
			}()
			t.Cleanup(func() { close(stop); wg.Wait() })
			return c
		}},
		{"TLS done, no CONNECT", func(t *testing.T) net.Conn { return dialTLS(t, rg, rg.claim.tls) }},
		{"TLS done, CONNECT cut short", func(t *testing.T) net.Conn {
			c := dialTLS(t, rg, rg.claim.tls)
			p := connectPacket("half-open")
			_, _ = c.Write(p[:len(p)-3])
			return c
		}},
	}
	open := make([][]net.Conn, len(stages))
	for i, st := range stages {
		for range conns {
			open[i] = append(open[i], st.open(t))
		}
	}
	for i, st := range stages {
		for j, c := range open[i] {
			if _, err := closedByServer(c, closeWithin); err != nil {
				t.Errorf("%s, connection %d: %v", st.name, j, err)
			}
		}
	}
}

// mqttViolations: after a good mutual TLS handshake and (mostly) a CONNACK, one
// packet that breaks MQTT 3.1.1 or AWS IoT's rules. The region must close the
// connection and send nothing that accepts the packet.
func mqttViolations(t *testing.T, rg *rig) {
	createTopic := provisioning.CreateKeysTopic(provisioning.FormatJSON).Request()
	big := bytes.Repeat([]byte{'x'}, provisioning.MaxPayload+1)
	for i, tc := range []struct {
		name       string
		noConnect  bool // the packet replaces CONNECT
		packet     []byte
		refusalsOK bool // a CONNACK with a refusal code may precede the close
	}{
		{name: "remaining length of five bytes", packet: []byte{0x30, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{name: "remaining length beyond the maximum packet size", packet: []byte{0x30, 0xff, 0xff, 0xff, 0x7f}},
		{name: "remaining length beyond the maximum, as first packet", noConnect: true, packet: []byte{0x10, 0xff, 0xff, 0xff, 0x7f}},
		{name: "CONNECT twice", packet: connectPacket("again")},
		{name: "PUBLISH before CONNECT", noConnect: true, packet: publishPacket(0, createTopic, 0, nil)},
		{name: "protocol name MQTX", noConnect: true, packet: packet(0x10, mqttString("MQTX"), []byte{4, 0x02, 0, 60}, mqttString("x")), refusalsOK: true},
		{name: "protocol level 9", noConnect: true, packet: packet(0x10, mqttString("MQTT"), []byte{9, 0x02, 0, 60}, mqttString("x")), refusalsOK: true},
		{name: "CONNECT reserved flag", noConnect: true, packet: packet(0x10, mqttString("MQTT"), []byte{4, 0x03, 0, 60}, mqttString("x")), refusalsOK: true},
		{name: "QoS 2 PUBLISH", packet: publishPacket(0x04, createTopic, 1, nil)},
		{name: "QoS 3 PUBLISH", packet: publishPacket(0x06, createTopic, 1, nil)},
		{name: "QoS 1 PUBLISH with packet id 0", packet: publishPacket(0x02, createTopic, 0, nil)},
		{name: "payload over 128 KiB", packet: publishPacket(0x02, createTopic, 1, big)},
		{name: "wildcard + in PUBLISH topic", packet: publishPacket(0x02, "$aws/certificates/create/+", 1, nil)},
		{name: "wildcard # in PUBLISH topic", packet: publishPacket(0, "$aws/certificates/#", 0, nil)},
		{name: "PUBLISH to $SYS", packet: publishPacket(0, "$SYS/broker/clients", 0, nil)},
		{name: "PUBLISH to a shadow topic", packet: publishPacket(0x02, "$aws/things/gw-x/shadow/update", 1, []byte("{}"))},
		{name: "PUBLISH spoofing a reply", packet: publishPacket(0x02, createTopic+"/accepted", 1, []byte("{}"))},
		{name: "PUBLISH with an empty topic", packet: publishPacket(0, "", 0, nil)},
		{name: "PUBLISH topic with U+0000", packet: publishPacket(0, "a\x00b", 0, nil)},
		{name: "PUBLISH topic not UTF-8", packet: publishPacket(0, "a\xffb", 0, nil)},
		{name: "SUBSCRIBE $SYS", packet: subscribePacket(0x82, 1, "$SYS/#")},
		{name: "SUBSCRIBE with reserved flags 0", packet: subscribePacket(0x80, 1, createTopic+"/accepted")},
		{name: "SUBSCRIBE without filters", packet: packet(0x82, []byte{0, 1})},
		{name: "SUBSCRIBE with packet id 0", packet: subscribePacket(0x82, 0, createTopic+"/accepted")},
		{name: "reserved packet type 0", packet: []byte{0x00, 0x00}},
		{name: "reserved packet type 15 (AUTH in MQTT 5)", packet: []byte{0xf0, 0x00}},
		{name: "CONNACK from the client", packet: []byte{0x20, 0x02, 0x00, 0x00}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c net.Conn
			if tc.noConnect {
				c = dialTLS(t, rg, rg.claim.tls)
			} else {
				c = mqttSession(t, rg, rg.claim.tls, fmt.Sprintf("abuse-spec-%d", i))
			}
			_, _ = c.Write(tc.packet) // the region may hang up before it is all read
			got, err := closedByServer(c, closeWithin)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range splitPackets(got) {
				if tc.refusalsOK && p.kind == 2 && len(p.body) == 2 && p.body[1] != 0 {
					continue // CONNACK refusing the connection
				}
				t.Fatalf("the region answered with packet type %d (% x) before closing", p.kind, p.body)
			}
		})
	}
}

// unregisteredCertificates: 1,000 TLS handshakes with certificates this region
// never registered, half from a CA it does not know, half from its own CA. None
// reaches MQTT and none is registered by the attempt.
func unregisteredCertificates(t *testing.T, rg *rig) {
	const total, workers = 1000, 16
	rogue, err := pki.NewRootCA("rogue root")
	must(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	certs := make([]tls.Certificate, total)
	ids := make([]string, total)
	for i := range certs {
		ca := rg.ca
		if i%2 == 0 {
			ca = rogue
		}
		c, err := ca.IssueClient(&key.PublicKey, pkix.Name{CommonName: fmt.Sprintf("stranger-%d", i)}, time.Time{})
		must(t, err)
		certs[i] = tls.Certificate{Certificate: [][]byte{c.Raw}, PrivateKey: key}
		ids[i] = registry.CertificateID(c.Raw)
	}
	var next atomic.Int64
	var accepted atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total {
					return
				}
				if strangerConnected(rg, certs[i], fmt.Sprintf("stranger-%d", i)) {
					accepted.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d of %d unregistered certificates got a CONNACK", n, total)
	}
	for i, id := range ids {
		if _, err := rg.reg.GetCertificate(id); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("certificate %d (%s) after its refused connection: %v, want not found", i, id, err)
		}
	}
}

// strangerConnected tries one connection with cert and reports whether the region
// accepted its CONNECT.
func strangerConnected(rg *rig, cert tls.Certificate, clientID string) bool {
	cfg := rg.tlsConfig(identity{tls: cert}, dialOpt{})
	d := &net.Dialer{Timeout: closeWithin}
	c, err := tls.DialWithDialer(d, "tcp", rg.region.Addr().String(), cfg)
	if err != nil {
		return false // TLS 1.2, or the alert arrived with the handshake
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(closeWithin))
	if _, err := c.Write(connectPacket(clientID)); err != nil {
		return false
	}
	b := make([]byte, 4)
	_, err = io.ReadFull(c, b)
	return err == nil && b[0] == 0x20 && b[3] == 0
}

// claimBeyondPolicy: a client with the claim certificate asks for what the claim
// policy does not grant: other devices' topics, wildcards over the reply topics,
// another template, the events. Each attempt costs it the connection, and nothing
// is granted first.
func claimBeyondPolicy(t *testing.T, rg *rig) {
	for i, tc := range []struct {
		name   string
		packet []byte
	}{
		{"subscribe to a device's status", subscribePacket(0x82, 1, "gateways/gw-ABUSE-OK-000/status")},
		{"subscribe to every device", subscribePacket(0x82, 1, "gateways/#")},
		{"subscribe to everything", subscribePacket(0x82, 1, "#")},
		{"subscribe to every certificate reply", subscribePacket(0x82, 1, "$aws/certificates/#")},
		{"subscribe to every template's replies", subscribePacket(0x82, 1, "$aws/provisioning-templates/+/provision/json/accepted")},
		{"subscribe to a device's shadow", subscribePacket(0x82, 1, "$aws/things/gw-ABUSE-OK-000/shadow/#")},
		{"subscribe to registration events", subscribePacket(0x82, 1, "$aws/events/#")},
		{"allowed filter beside a forbidden one", subscribePacket(0x82, 1, "$aws/certificates/create/json/accepted", "gateways/+/status")},
		{"publish as a device", publishPacket(0x02, "gateways/gw-ABUSE-OK-000/status", 1, []byte(`{"state":"offline"}`))},
		{"publish to another template", publishPacket(0x02, provisioning.RegisterThingTopic("OtherTemplate", provisioning.FormatJSON).Request(), 1, []byte("{}"))},
		{"publish a registration event", publishPacket(0x02, "$aws/events/certificates/registered/abc", 1, []byte("{}"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mqttSession(t, rg, rg.claim.tls, fmt.Sprintf("abuse-policy-%d", i))
			_, _ = c.Write(tc.packet)
			got, err := closedByServer(c, closeWithin)
			if err != nil {
				t.Fatal(err)
			}
			if ps := splitPackets(got); len(ps) > 0 {
				t.Fatalf("the region answered with packet type %d (% x) before closing", ps[0].kind, ps[0].body)
			}
		})
	}
}

// partialPackets holds sessions authenticated with the claim certificate, idle
// first, then each with the header of a PUBLISH as large as the region accepts
// and nothing more, and measures the heap each state pins. A legitimate device
// still provisions meanwhile; the caller checks that closing them frees every
// goroutine they held.
func partialPackets(t *testing.T, rg *rig) (conns int, idle, partial uint64) {
	t.Helper()
	conns = 200
	before := heapInuse()
	held := make([]net.Conn, 0, conns)
	for i := range conns {
		held = append(held, mqttSession(t, rg, rg.claim.tls, fmt.Sprintf("abuse-partial-%d", i)))
	}
	idleHeap := heapInuse()
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON).Request()
	header := publishPacket(0x02, topic, 1, make([]byte, provisioning.MaxPayload))[:8] // fixed header, length, start of the topic
	for i, c := range held {
		if _, err := c.Write(header); err != nil {
			t.Fatalf("partial packet %d: %v", i, err)
		}
	}
	// A device provisions while they are held; by then the region has read every
	// header (it offers no signal for that, so the figure is a measurement only).
	provisionLegit(t, rg, 900)
	partialHeap := heapInuse()
	for _, c := range held {
		c.Close()
	}
	return conns, sub(idleHeap, before), sub(partialHeap, idleHeap)
}

func sub(a, b uint64) uint64 {
	if a < b {
		return 0
	}
	return a - b
}

// Raw connections and packets.

func dialTCP(t *testing.T, rg *rig) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", rg.region.Addr().String(), closeWithin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func dialTLS(t *testing.T, rg *rig, cert tls.Certificate) net.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: closeWithin}
	c, err := tls.DialWithDialer(d, "tcp", rg.region.Addr().String(), rg.tlsConfig(identity{tls: cert}, dialOpt{}))
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mqttSession is a TLS connection whose CONNECT the region accepted.
func mqttSession(t *testing.T, rg *rig, cert tls.Certificate, clientID string) net.Conn {
	t.Helper()
	c := dialTLS(t, rg, cert)
	_ = c.SetDeadline(time.Now().Add(closeWithin))
	if _, err := c.Write(connectPacket(clientID)); err != nil {
		t.Fatalf("CONNECT %s: %v", clientID, err)
	}
	b := make([]byte, 4)
	if _, err := io.ReadFull(c, b); err != nil || b[0] != 0x20 || b[1] != 2 || b[3] != 0 {
		t.Fatalf("CONNACK for %s: % x, %v", clientID, b, err)
	}
	_ = c.SetDeadline(time.Time{})
	return c
}

// closedByServer reads until the region closes c and returns what it sent. An
// error means c was still open after within.
func closedByServer(c net.Conn, within time.Duration) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(within))
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got.Write(buf[:n])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return got.Bytes(), fmt.Errorf("the region left the connection open for %v (it sent % x)", within, got.Bytes())
		}
		return got.Bytes(), nil // EOF, reset or a TLS alert: closed
	}
}

type rawPacket struct {
	kind byte
	body []byte
}

// splitPackets cuts what a server sent into packets, as far as it parses.
func splitPackets(b []byte) []rawPacket {
	var out []rawPacket
	for len(b) >= 2 {
		n, mult, i := 0, 1, 1
		for ; i < len(b) && i <= 4; i++ {
			n += int(b[i]&0x7f) * mult
			mult *= 128
			if b[i]&0x80 == 0 {
				break
			}
		}
		end := i + 1 + n
		if i >= len(b) || end > len(b) {
			return append(out, rawPacket{kind: b[0] >> 4, body: b[1:]})
		}
		out = append(out, rawPacket{kind: b[0] >> 4, body: b[i+1 : end]})
		b = b[end:]
	}
	if len(b) > 0 {
		out = append(out, rawPacket{kind: b[0] >> 4, body: b})
	}
	return out
}

func mqttString(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

func remainingLength(n int) []byte {
	var out []byte
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			return out
		}
	}
}

func packet(header byte, parts ...[]byte) []byte {
	body := bytes.Join(parts, nil)
	return append(append([]byte{header}, remainingLength(len(body))...), body...)
}

// connectPacket is an MQTT 3.1.1 CONNECT: clean session, keep-alive 60 s.
func connectPacket(clientID string) []byte {
	return packet(0x10, mqttString("MQTT"), []byte{4, 0x02, 0, 60}, mqttString(clientID))
}

// publishPacket is a PUBLISH with the given flag bits (DUP, QoS, RETAIN); a
// packet id is written when the QoS bits ask for one.
func publishPacket(flags byte, topic string, id uint16, payload []byte) []byte {
	var pid []byte
	if flags&0x06 != 0 {
		pid = []byte{byte(id >> 8), byte(id)}
	}
	return packet(0x30|flags, mqttString(topic), pid, payload)
}

func subscribePacket(header byte, id uint16, filters ...string) []byte {
	parts := [][]byte{{byte(id >> 8), byte(id)}}
	for _, f := range filters {
		parts = append(parts, mqttString(f), []byte{1})
	}
	return packet(header, parts...)
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
