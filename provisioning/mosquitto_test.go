package provisioning

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// mosquitto is a real broker process with a mutual-TLS listener on loopback.
type mosquitto struct {
	addr netip.AddrPort
	log  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// needMosquitto finds the broker: Debian installs it in /usr/sbin.
func needMosquitto(t *testing.T) string {
	t.Helper()
	return testenv.Need(t, "mosquitto", "mosquitto")
}

// startMosquitto runs a broker that requires a client certificate from ca and
// presents server. allowAnonymous false makes it refuse every CONNECT with code 5,
// since the listener maps no certificate to a user name.
func startMosquitto(t *testing.T, ca *testCA, server issued, allowAnonymous bool) *mosquitto {
	t.Helper()
	bin := needMosquitto(t)
	dir := t.TempDir()
	port := freePort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, "persistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n")
	if os.Geteuid() == 0 {
		// Otherwise mosquitto drops to an unprivileged user that cannot read the
		// test's temporary files.
		conf.WriteString("user root\n")
	}
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\n", port)
	fmt.Fprintf(&conf, "cafile %s\ncertfile %s\nkeyfile %s\n",
		writeFile(t, dir, "ca.pem", ca.pem), writeFile(t, dir, "server.pem", server.certPEM), writeFile(t, dir, "server.key", server.keyPEM))
	fmt.Fprintf(&conf, "require_certificate true\ntls_version tlsv1.2\nallow_anonymous %v\n", allowAnonymous)
	confPath := writeFile(t, dir, "mosquitto.conf", []byte(conf.String()))

	m := &mosquitto{addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)), log: &syncBuffer{}}
	cmd := exec.Command(bin, "-c", confPath)
	cmd.Stdout, cmd.Stderr = m.log, m.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("mosquitto log:\n%s", m.log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", m.addr.String(), time.Second)
		if err == nil {
			c.Close()
			return m
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("mosquitto exited: %v\n%s", err, m.log.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not accepting on %v: %v\n%s", m.addr, err, m.log.String())
		}
	}
}

// responder plays the fleet provisioning service: a second MQTT client that
// subscribes to the request topics and answers on the reply topics.
type responder struct {
	client mqtt.Client

	mu        sync.Mutex
	requests  map[string][][]byte // request topic → payloads received
	tokens    map[string]bool     // ownership tokens issued
	n         int
	duplicate bool // answer every request twice
}

func startResponder(t *testing.T, m *mosquitto, ca *testCA, id issued) *responder {
	t.Helper()
	r := &responder{requests: map[string][][]byte{}, tokens: map[string]bool{}}
	opts := mqtt.NewClientOptions().
		AddBroker("tls://" + m.addr.String()).
		SetClientID("responder").
		SetProtocolVersion(4).
		SetOrderMatters(false).
		SetAutoReconnect(false).
		SetTLSConfig(&tls.Config{RootCAs: ca.pool, ServerName: globalName, Certificates: []tls.Certificate{id.tls}, MinVersion: tls.VersionTLS12})
	r.client = mqtt.NewClient(opts)
	if tok := r.client.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("responder connect: %v", tok.Error())
	}
	t.Cleanup(func() { r.client.Disconnect(100) })
	filters := map[string]byte{
		"$aws/certificates/create/+":                   1,
		"$aws/certificates/create-from-csr/+":          1,
		"$aws/provisioning-templates/+/provision/json": 1,
		"$aws/provisioning-templates/+/provision/cbor": 1,
	}
	tok := r.client.SubscribeMultiple(filters, func(_ mqtt.Client, msg mqtt.Message) { r.answer(msg.Topic(), msg.Payload()) })
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("responder subscribe: %v", tok.Error())
	}
	return r
}

func (r *responder) setDuplicate(d bool) {
	r.mu.Lock()
	r.duplicate = d
	r.mu.Unlock()
}

func (r *responder) received(topic string) [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[topic]
}

func (r *responder) answer(topic string, payload []byte) {
	t, outcome, ok := ParseTopic(topic)
	if !ok || outcome != "" {
		return
	}
	r.mu.Lock()
	r.requests[topic] = append(r.requests[topic], append([]byte(nil), payload...))
	r.n++
	n, dup := r.n, r.duplicate
	r.mu.Unlock()

	out, body := r.handle(t, payload, n)
	data, err := Marshal(t.Format, body)
	if err != nil {
		panic(err)
	}
	for range map[bool]int{false: 1, true: 2}[dup] {
		r.client.Publish(t.Reply(out), 1, false, data).Wait()
	}
}

func (r *responder) issue(n int) string {
	tok := fmt.Sprintf("token-%d-%s", n, strings.Repeat("z", 16))
	r.mu.Lock()
	r.tokens[tok] = true
	r.mu.Unlock()
	return tok
}

func (r *responder) handle(t Topic, payload []byte, n int) (Outcome, any) {
	switch t.Op {
	case OpCreateKeysAndCertificate:
		return Accepted, CreateKeysAndCertificateResponse{
			CertificateID:             fmt.Sprintf("%064x", n),
			CertificatePEM:            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
			PrivateKey:                fmt.Sprintf("-----BEGIN PRIVATE KEY-----\nKEY%d\n-----END PRIVATE KEY-----\n", n),
			CertificateOwnershipToken: r.issue(n),
		}
	case OpCreateCertificateFromCSR:
		var req CreateCertificateFromCSRRequest
		if err := Unmarshal(t.Format, payload, &req); err != nil {
			return Rejected, ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidPayload, ErrorMessage: err.Error()}
		}
		block, _ := pem.Decode([]byte(req.CertificateSigningRequest))
		if block == nil {
			return Rejected, ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidCSR, ErrorMessage: "not PEM"}
		}
		csr, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil || csr.CheckSignature() != nil {
			return Rejected, ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidCSR, ErrorMessage: "bad CSR"}
		}
		return Accepted, CreateCertificateFromCSRResponse{
			CertificateID:             fmt.Sprintf("%064x", n),
			CertificatePEM:            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
			CertificateOwnershipToken: r.issue(n),
		}
	case OpRegisterThing:
		var req RegisterThingRequest
		if err := Unmarshal(t.Format, payload, &req); err != nil {
			return Rejected, ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidPayload, ErrorMessage: err.Error()}
		}
		r.mu.Lock()
		valid := r.tokens[req.CertificateOwnershipToken]
		delete(r.tokens, req.CertificateOwnershipToken)
		r.mu.Unlock()
		if !valid {
			return Rejected, ErrorResponse{StatusCode: 400, ErrorCode: CodeInvalidOwnershipToken, ErrorMessage: "Certificate ownership token is invalid."}
		}
		return Accepted, RegisterThingResponse{
			ThingName:           "gw-" + req.Parameters["SerialNumber"],
			DeviceConfiguration: map[string]any{"region": "eu-west-1", "nested": map[string]any{"k": "v"}},
		}
	}
	return Rejected, ErrorResponse{StatusCode: 500, ErrorCode: CodeInternal}
}

// packetLog records the type of every MQTT packet the client writes, read off the
// plaintext stream, so a test can count SUBSCRIBE packets on the wire.
type packetLog struct {
	mu     sync.Mutex
	types  []byte
	skip   int
	header bool
	length int
	mult   int
	typ    byte
	conn   *loggedConn
}

func (l *packetLog) wrap(c net.Conn) net.Conn {
	lc := &loggedConn{Conn: c, log: l}
	l.mu.Lock()
	l.conn = lc
	l.mu.Unlock()
	return lc
}

type loggedConn struct {
	net.Conn
	log *packetLog
	cut atomic.Bool
}

var errCut = errors.New("connection cut by the test")

// cutNetwork closes the connection underneath the client and makes its reads fail
// the way a dead network does. (A plain local Close would not do: paho ignores
// "use of closed network connection" and would notice only at the next ping.)
func (l *packetLog) cutNetwork() {
	l.mu.Lock()
	c := l.conn
	l.mu.Unlock()
	c.cut.Store(true)
	_ = c.Conn.Close()
}

func (c *loggedConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if err != nil && c.cut.Load() {
		err = errCut
	}
	return n, err
}

func (c *loggedConn) Write(p []byte) (int, error) {
	c.log.feed(p)
	return c.Conn.Write(p)
}

func (l *packetLog) feed(p []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; i < len(p); i++ {
		switch {
		case l.skip > 0:
			n := min(l.skip, len(p)-i)
			l.skip -= n
			i += n - 1
		case !l.header:
			l.typ, l.header, l.length, l.mult = p[i]>>4, true, 0, 1
		default:
			l.length += int(p[i]&0x7f) * l.mult
			l.mult *= 128
			if p[i]&0x80 == 0 {
				l.header = false
				l.types = append(l.types, l.typ)
				l.skip = l.length
			}
		}
	}
}

func (l *packetLog) sent() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.types...)
}

// MQTT control packet types (MQTT 3.1.1 §2.2.1).
const (
	pktConnect   = 1
	pktPublish   = 3
	pktSubscribe = 8
)
