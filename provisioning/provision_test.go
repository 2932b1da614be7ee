package provisioning

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// mosquittoRig is one broker, a responder and a claim identity shared by the
// subtests of TestMosquitto.
type mosquittoRig struct {
	ca     *testCA
	broker *mosquitto
	resp   *responder
	claim  issued
}

// device is one client connection under test, with everything it logged, observed
// and wrote.
type device struct {
	conn    *Conn
	logs    *observer.ObservedLogs
	logger  *zap.Logger
	packets *packetLog

	mu     sync.Mutex
	events []Event
}

func (d *device) observe(e Event) {
	d.mu.Lock()
	d.events = append(d.events, e)
	d.mu.Unlock()
}

func (d *device) eventsOf(k EventKind) []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Event
	for _, e := range d.events {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

func (rig *mosquittoRig) config(clientID string) DialConfig {
	return DialConfig{
		ServerName:     globalName,
		Addrs:          []netip.AddrPort{rig.broker.addr},
		RootCAs:        rig.ca.pool,
		Certificate:    rig.claim.tls,
		ClientID:       clientID,
		KeepAlive:      30 * time.Second,
		ConnectTimeout: 10 * time.Second,
	}
}

func (rig *mosquittoRig) dial(t *testing.T, cfg DialConfig) *device {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	d := &device{logs: logs, logger: zap.New(core), packets: &packetLog{}}
	cfg.Logger = d.logger
	cfg.Observe = d.observe
	cfg.wrapConn = d.packets.wrap
	conn, err := Dial(testCtx(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conn.Close)
	d.conn = conn
	return d
}

// assertNoSecrets looks for secrets in every log entry, message and fields.
func (d *device) assertNoSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	for _, e := range d.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		for _, s := range secrets {
			if s != "" && strings.Contains(line, s) {
				t.Errorf("log entry holds a secret: %s", line)
			}
		}
	}
}

func TestMosquitto(t *testing.T) {
	needMosquitto(t)
	ca := newTestCA(t, "test root")
	rig := &mosquittoRig{
		ca:     ca,
		broker: startMosquitto(t, ca, ca.issue(t, leafOpts{cn: globalName, dnsNames: []string{globalName}, server: true}), true),
		claim:  ca.issue(t, leafOpts{cn: "claim"}),
	}
	rig.resp = startResponder(t, rig.broker, ca, ca.issue(t, leafOpts{cn: "responder"}))

	for _, f := range []Format{FormatJSON, FormatCBOR} {
		t.Run("keys/"+string(f), func(t *testing.T) { testKeysFlow(t, rig, f) })
		t.Run("csr/"+string(f), func(t *testing.T) { testCSRFlow(t, rig, f) })
	}
	t.Run("unexpected reply dropped", func(t *testing.T) { testUnexpectedReply(t, rig) })
	t.Run("concurrent calls serialized", func(t *testing.T) { testConcurrentCalls(t, rig) })
	t.Run("tls", func(t *testing.T) { testMosquittoTLS(t, rig) })
	t.Run("loss and will", func(t *testing.T) { testLossAndWill(t, rig) })
	t.Run("connack refused", func(t *testing.T) {
		refusing := startMosquitto(t, ca, ca.issue(t, leafOpts{cn: globalName, dnsNames: []string{globalName}, server: true}), false)
		cfg := rig.config("refused")
		cfg.Addrs = []netip.AddrPort{refusing.addr}
		_, err := Dial(testCtx(t), cfg)
		var refused *ConnectRefusedError
		if !errors.As(err, &refused) || !refused.NotAuthorized() {
			t.Fatalf("err = %v, want *ConnectRefusedError, not authorized", err)
		}
	})
}

// checkSingleSubscribe: the device wrote exactly one SUBSCRIBE, before its first
// PUBLISH, carrying want filters.
func checkSingleSubscribe(t *testing.T, d *device, want int) {
	t.Helper()
	sent := d.packets.sent()
	if n := bytes.Count(sent, []byte{pktSubscribe}); n != 1 {
		t.Errorf("%d SUBSCRIBE packets on the wire (%v), want 1", n, sent)
	}
	sub, pub := bytes.IndexByte(sent, pktSubscribe), bytes.IndexByte(sent, pktPublish)
	if sent[0] != pktConnect || sub < 0 || pub < 0 || sub > pub {
		t.Errorf("packet order %v: want CONNECT, then SUBSCRIBE before the first PUBLISH", sent)
	}
	subs := d.eventsOf(EventSubscribe)
	if len(subs) != 1 || len(subs[0].Topics) != want || subs[0].Err != nil {
		t.Errorf("subscribe events %+v, want one with %d filters", subs, want)
	}
}

func testKeysFlow(t *testing.T, rig *mosquittoRig, f Format) {
	d := rig.dial(t, rig.config("claim-keys-"+string(f)))
	c := NewClient(d.conn, f, d.logger)
	ctx := testCtx(t)
	if err := c.Prepare(ctx, "GatewayTemplate", OpCreateKeysAndCertificate, OpRegisterThing); err != nil {
		t.Fatal(err)
	}
	keys, err := c.CreateKeysAndCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.CertificateID) != 64 || !strings.Contains(keys.PrivateKey, "PRIVATE KEY") || keys.CertificateOwnershipToken == "" {
		t.Errorf("keys response %#v", keys)
	}
	reqs := rig.resp.received(CreateKeysTopic(f).Request())
	if len(reqs) == 0 || !bytes.Equal(reqs[len(reqs)-1], CreateKeysPayload(f)) {
		t.Errorf("CreateKeysAndCertificate payloads %q, want %q", reqs, CreateKeysPayload(f))
	}

	reg, err := c.RegisterThing(ctx, "GatewayTemplate", RegisterThingRequest{
		CertificateOwnershipToken: keys.CertificateOwnershipToken,
		Parameters:                map[string]string{"SerialNumber": "GW-000123"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg.ThingName != "gw-GW-000123" || reg.DeviceConfiguration["region"] != "eu-west-1" {
		t.Errorf("register response %+v", reg)
	}
	if nested, _ := reg.DeviceConfiguration["nested"].(map[string]any); nested["k"] != "v" {
		t.Errorf("nested deviceConfiguration %#v", reg.DeviceConfiguration["nested"])
	}

	// The token is single use: the second registration is rejected, as a typed error.
	_, err = c.RegisterThing(ctx, "GatewayTemplate", RegisterThingRequest{CertificateOwnershipToken: keys.CertificateOwnershipToken})
	rej, ok := AsRejected(err)
	if !ok {
		t.Fatalf("err = %v, want a RejectedError", err)
	}
	if rej.Op != OpRegisterThing || rej.StatusCode != 400 || rej.ErrorCode != CodeInvalidOwnershipToken || rej.ErrorMessage == "" || !rej.TokenRejected() {
		t.Errorf("rejected %+v", rej)
	}
	if strings.Contains(err.Error(), keys.CertificateOwnershipToken) {
		t.Errorf("error string holds the token: %v", err)
	}

	checkSingleSubscribe(t, d, 4)
	if rt := d.eventsOf(EventRoundTrip); len(rt) != 3 {
		t.Errorf("%d round trips observed, want 3", len(rt))
	}
	d.assertNoSecrets(t, keys.PrivateKey, keys.CertificateOwnershipToken)
}

func testCSRFlow(t *testing.T, rig *mosquittoRig, f Format) {
	d := rig.dial(t, rig.config("claim-csr-"+string(f)))
	c := NewClient(d.conn, f, d.logger)
	ctx := testCtx(t)
	if err := c.Prepare(ctx, "GatewayTemplate"); err != nil { // all three operations
		t.Fatal(err)
	}
	cert, err := c.CreateCertificateFromCSR(ctx, csrPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.CertificateID) != 64 || cert.CertificatePEM == "" || cert.CertificateOwnershipToken == "" {
		t.Errorf("csr response %#v", cert)
	}
	_, err = c.CreateCertificateFromCSR(ctx, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n")
	if rej, ok := AsRejected(err); !ok || rej.ErrorCode != CodeInvalidCSR || rej.Op != OpCreateCertificateFromCSR {
		t.Errorf("bad CSR: err = %v, want rejected %s", err, CodeInvalidCSR)
	}
	reg, err := c.RegisterThing(ctx, "GatewayTemplate", RegisterThingRequest{
		CertificateOwnershipToken: cert.CertificateOwnershipToken,
		Parameters:                map[string]string{"SerialNumber": "GW-7"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if reg.ThingName != "gw-GW-7" {
		t.Errorf("thing %q", reg.ThingName)
	}
	// RegisterThing for a template not prepared subscribes on its own first.
	_, err = c.RegisterThing(ctx, "OtherTemplate", RegisterThingRequest{CertificateOwnershipToken: "forged"})
	if rej, ok := AsRejected(err); !ok || !rej.TokenRejected() {
		t.Errorf("forged token: err = %v", err)
	}
	if subs := d.eventsOf(EventSubscribe); len(subs) != 2 || len(subs[0].Topics) != 6 || len(subs[1].Topics) != 2 {
		t.Errorf("subscribe events %+v, want 6 filters then the 2 of OtherTemplate", subs)
	}
	d.assertNoSecrets(t, cert.CertificateOwnershipToken)
}

func testUnexpectedReply(t *testing.T, rig *mosquittoRig) {
	rig.resp.setDuplicate(true)
	defer rig.resp.setDuplicate(false)
	d := rig.dial(t, rig.config("claim-dup"))
	c := NewClient(d.conn, FormatJSON, d.logger)
	ctx := testCtx(t)
	if err := c.Prepare(ctx, "", OpCreateKeysAndCertificate); err != nil {
		t.Fatal(err)
	}
	keys, err := c.CreateKeysAndCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for d.logs.FilterMessage("reply nobody waits for dropped").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the duplicate reply was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.assertNoSecrets(t, keys.PrivateKey, keys.CertificateOwnershipToken)
}

// testConcurrentCalls: two CreateKeysAndCertificate calls at once on one connection
// each get one reply; the Client serializes them so the replies cannot cross.
func testConcurrentCalls(t *testing.T, rig *mosquittoRig) {
	d := rig.dial(t, rig.config("claim-concurrent"))
	c := NewClient(d.conn, FormatCBOR, d.logger)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	ids := make([]string, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			r, err := c.CreateKeysAndCertificate(ctx)
			errs[i] = err
			if err == nil {
				ids[i] = r.CertificateID
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if ids[0] == ids[1] {
		t.Errorf("both calls got certificate %s", ids[0])
	}
	if n := d.logs.FilterMessage("reply nobody waits for dropped").Len(); n != 0 {
		t.Errorf("%d replies dropped", n)
	}
	// Not prepared: the first call subscribed, the second found the filters in place.
	if subs := d.eventsOf(EventSubscribe); len(subs) != 1 {
		t.Errorf("%d SUBSCRIBE packets, want 1", len(subs))
	}
}

func testMosquittoTLS(t *testing.T, rig *mosquittoRig) {
	t.Run("wrong server name", func(t *testing.T) {
		cfg := rig.config("tls-name")
		cfg.ServerName = "wrong.iot.example.com"
		_, err := Dial(testCtx(t), cfg)
		var hostErr x509.HostnameError
		if !errors.As(err, &hostErr) {
			t.Errorf("err = %v, want x509.HostnameError", err)
		}
	})
	t.Run("server from another CA", func(t *testing.T) {
		cfg := rig.config("tls-ca")
		cfg.RootCAs = newTestCA(t, "other root").pool
		_, err := Dial(testCtx(t), cfg)
		var authErr x509.UnknownAuthorityError
		if !errors.As(err, &authErr) {
			t.Errorf("err = %v, want x509.UnknownAuthorityError", err)
		}
	})
	t.Run("client from another CA", func(t *testing.T) {
		cfg := rig.config("tls-client")
		cfg.Certificate = newTestCA(t, "rogue").issue(t, leafOpts{cn: "rogue"}).tls
		c, err := Dial(testCtx(t), cfg)
		if err == nil {
			c.Close()
			t.Fatal("connected with a certificate the broker does not trust")
		}
		var refused *ConnectRefusedError
		if errors.As(err, &refused) {
			t.Errorf("a TLS refusal reported as CONNACK: %v", err)
		}
	})
}

// testLossAndWill cuts the device's TCP connection under paho: the device sees the
// loss, the broker publishes the will.
func testLossAndWill(t *testing.T, rig *mosquittoRig) {
	willTopic := "gw/gw-will/status"
	got := make(chan []byte, 1)
	tok := rig.resp.client.Subscribe(willTopic, 1, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- m.Payload():
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	cfg := rig.config("gw-will")
	cfg.Certificate = rig.ca.issue(t, leafOpts{cn: "gw-will"}).tls
	cfg.Will = &Message{Topic: willTopic, Payload: []byte(`{"state":"offline"}`), QoS: 1}
	d := rig.dial(t, cfg)
	if err := d.conn.Publish(testCtx(t), willTopic, 1, false, []byte(`{"state":"online"}`)); err != nil {
		t.Fatal(err)
	}
	if p := <-got; string(p) != `{"state":"online"}` {
		t.Fatalf("status %s", p)
	}
	d.packets.cutNetwork()
	waitDone(t, d.conn)
	if err := d.conn.Err(); !errors.Is(err, ErrConnectionLost) || !errors.Is(err, errCut) {
		t.Errorf("Err() = %v, want ErrConnectionLost", d.conn.Err())
	}
	select {
	case p := <-got:
		if string(p) != `{"state":"offline"}` {
			t.Errorf("will payload %s", p)
		}
	case <-time.After(10 * time.Second):
		t.Error("will not published")
	}
	if lost := d.eventsOf(EventConnectionLost); len(lost) != 1 {
		t.Errorf("connection_lost events %+v", lost)
	}
	if !slices.Contains(d.packets.sent(), pktPublish) {
		t.Error("no PUBLISH recorded")
	}
}
