package iotcore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/fleetboot/fleetboot/provisioning"
	"go.uber.org/zap/zaptest"
)

const (
	testRegion   = "eu-west-1"
	testAccount  = "123456789012"
	testPrefix   = "a1b2c3d4e5f6g7"
	templateName = "GatewayProvisioning"
	customDomain = "global.iot.example.com"
)

// sharedCA saves a key generation per test.
var sharedCA = sync.OnceValues(func() (*pki.CA, error) { return pki.NewRootCA("iotcore test root") })

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type rig struct {
	t      testing.TB
	ca     *pki.CA
	region *iotcore.Region
	reg    *registry.Store
	clock  *fakeClock
	claim  identity
}

// identity is a device credential.
type identity struct {
	tls    tls.Certificate
	certID string
	keyPEM []byte
	crtPEM []byte
}

func arn(kind, rest string) string {
	return fmt.Sprintf("arn:aws:iot:%s:%s:%s/%s", testRegion, testAccount, kind, rest)
}

// claimPolicy is PROTOCOL.md §1.7, nothing more.
func claimPolicy() string {
	pr := func(kind string) string {
		return fmt.Sprintf(`[%q,%q,%q]`,
			arn(kind, "$aws/certificates/create/*"),
			arn(kind, "$aws/certificates/create-from-csr/*"),
			arn(kind, "$aws/provisioning-templates/"+templateName+"/provision/*"))
	}
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":` + pr("topic") + `},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":` + pr("topicfilter") + `}]}`
}

// devicePolicy is the rig's device policy (mockcloud/defaults.go).
func devicePolicy() string {
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "${iot:Connection.Thing.ThingName}") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:RetainPublish","iot:Receive"],"Resource":"` + arn("topic", "gateways/${iot:Connection.Thing.ThingName}/*") + `"},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn("topicfilter", "gateways/${iot:Connection.Thing.ThingName}/*") + `"}]}`
}

func newRig(t testing.TB, mod ...func(*iotcore.Config)) *rig {
	t.Helper()
	ca, err := sharedCA()
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	cfg := iotcore.Config{
		Region: testRegion, AccountID: testAccount, EndpointPrefix: testPrefix,
		Addr: "127.0.0.1:0", CustomDomains: []string{customDomain}, CA: ca,
		DataDir: t.TempDir(), Clock: clock.Now, KeyPoolSize: 2,
		HandshakeTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second,
		Logger: zaptest.NewLogger(t),
	}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := iotcore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	})
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	rg := &rig{t: t, ca: ca, region: r, reg: r.Registry(), clock: clock}
	body, err := os.ReadFile("testdata/gateway-provisioning.json")
	if err != nil {
		t.Fatal(err)
	}
	must(t, errOnly(rg.reg.CreateThingGroup(registry.ThingGroup{Name: "gateways"})))
	must(t, errOnly(rg.reg.CreatePolicy("GatewayDevicePolicy", devicePolicy())))
	must(t, errOnly(rg.reg.CreateTemplate(registry.Template{Name: templateName, Body: string(body), Enabled: true})))
	rg.claim = rg.newDevice("ClaimPolicy", claimPolicy(), registry.StatusActive)
	return rg
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func errOnly[T any](_ T, err error) error { return err }

// newDevice issues an EC certificate from the rig CA, registers it without CA with
// status and, if policyName is set, creates that policy and attaches it.
func (rg *rig) newDevice(policyName, policyDoc, status string) identity {
	rg.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(rg.t, err)
	c, err := rg.ca.IssueClient(&key.PublicKey, pkix.Name{CommonName: "device"}, time.Time{})
	must(rg.t, err)
	crtPEM := pki.EncodeCertPEM(c)
	rec, err := rg.reg.RegisterCertificate(string(crtPEM), status, "")
	must(rg.t, err)
	if policyName != "" {
		if _, err := rg.reg.GetPolicy(policyName); err != nil {
			must(rg.t, errOnly(rg.reg.CreatePolicy(policyName, policyDoc)))
		}
		must(rg.t, rg.reg.AttachPolicy(policyName, rec.ID))
	}
	der, err := x509.MarshalECPrivateKey(key)
	must(rg.t, err)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	return identityFromPEM(rg.t, crtPEM, keyPEM)
}

func identityFromPEM(t testing.TB, crtPEM, keyPEM []byte) identity {
	t.Helper()
	tc, err := tls.X509KeyPair(crtPEM, keyPEM)
	must(t, err)
	return identity{tls: tc, certID: registry.CertificateID(tc.Certificate[0]), keyPEM: keyPEM, crtPEM: crtPEM}
}

type client struct {
	paho.Client
	lost chan error
}

type dialOpt struct {
	sni      string
	noSNI    bool
	insecure bool // skip server verification: to see the server refuse, not the client
	version  uint
}

func (rg *rig) tlsConfig(id identity, o dialOpt) *tls.Config {
	cfg := &tls.Config{RootCAs: rg.ca.Pool(), Certificates: []tls.Certificate{id.tls}, ServerName: rg.region.Endpoint(), MinVersion: tls.VersionTLS12}
	if o.sni != "" {
		cfg.ServerName = o.sni
	}
	if o.insecure {
		cfg.InsecureSkipVerify = true
	}
	if o.noSNI {
		// Go sends no SNI for an IP literal; verify against the ATS name instead.
		cfg.ServerName = "127.0.0.1"
		cfg.InsecureSkipVerify = true
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			leaf, err := x509.ParseCertificate(raw[0])
			if err != nil {
				return err
			}
			_, err = leaf.Verify(x509.VerifyOptions{Roots: rg.ca.Pool(), DNSName: rg.region.Endpoint()})
			return err
		}
	}
	return cfg
}

// dial connects with paho (MQTT 3.1.1) and fails the test only through the error.
func (rg *rig) dial(id identity, clientID string, o dialOpt) (*client, error) {
	c := &client{lost: make(chan error, 1)}
	opts := paho.NewClientOptions().
		AddBroker("tls://" + rg.region.Addr().String()).
		SetClientID(clientID).
		SetTLSConfig(rg.tlsConfig(id, o)).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetCleanSession(true).
		SetConnectTimeout(5 * time.Second).
		SetWriteTimeout(5 * time.Second).
		SetKeepAlive(60 * time.Second).
		SetOrderMatters(false).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		})
	if o.version != 0 {
		opts.SetProtocolVersion(o.version)
	}
	c.Client = paho.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, errors.New("connect timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	rg.t.Cleanup(func() { c.Disconnect(0) })
	return c, nil
}

func (rg *rig) mustDial(id identity, clientID string) *client {
	rg.t.Helper()
	c, err := rg.dial(id, clientID, dialOpt{})
	if err != nil {
		rg.t.Fatalf("connect %q: %v", clientID, err)
	}
	return c
}

type message struct {
	topic   string
	payload []byte
}

// subscribe subscribes to filters at QoS 1 and returns the channel of deliveries.
func (c *client) subscribe(t testing.TB, filters ...string) (chan message, error) {
	t.Helper()
	ch := make(chan message, 16)
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	tok := c.SubscribeMultiple(m, func(_ paho.Client, msg paho.Message) {
		ch <- message{topic: msg.Topic(), payload: msg.Payload()}
	})
	if !tok.WaitTimeout(5 * time.Second) {
		return nil, errors.New("subscribe timed out")
	}
	if err := tok.Error(); err != nil {
		return nil, err
	}
	for f, q := range tok.(*paho.SubscribeToken).Result() {
		if q == 0x80 {
			return ch, fmt.Errorf("subscribe %q: SUBACK 0x80: %w", f, errSubackFailure)
		}
	}
	return ch, nil
}

var errSubackFailure = errors.New("subscription refused")

func (c *client) publish(t testing.TB, topic string, qos byte, payload []byte) error {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(5 * time.Second) {
		return errors.New("publish timed out")
	}
	return tok.Error()
}

func receive(t testing.TB, ch chan message, within time.Duration) (message, bool) {
	t.Helper()
	select {
	case m := <-ch:
		return m, true
	case <-time.After(within):
		return message{}, false
	}
}

// request runs one provisioning operation and returns the outcome and payload.
func (c *client) request(t testing.TB, topic provisioning.Topic, payload []byte) (provisioning.Outcome, []byte) {
	t.Helper()
	ch, err := c.subscribe(t, topic.Replies()...)
	if err != nil {
		t.Fatalf("subscribe replies: %v", err)
	}
	defer c.Unsubscribe(topic.Replies()...)
	if err := c.publish(t, topic.Request(), 1, payload); err != nil {
		t.Fatalf("publish request: %v", err)
	}
	m, ok := receive(t, ch, 20*time.Second)
	if !ok {
		t.Fatalf("%s: no reply", topic.Op)
	}
	_, outcome, _ := provisioning.ParseTopic(m.topic)
	return outcome, m.payload
}

// waitLost waits for the connection to be closed by the server.
func (c *client) waitLost(within time.Duration) bool {
	select {
	case <-c.lost:
		return true
	case <-time.After(within):
		return !c.IsConnectionOpen()
	}
}

func marshal(t testing.TB, f provisioning.Format, v any) []byte {
	t.Helper()
	b, err := provisioning.Marshal(f, v)
	must(t, err)
	return b
}

func unmarshal(t testing.TB, f provisioning.Format, b []byte, v any) {
	t.Helper()
	if err := provisioning.Unmarshal(f, b, v); err != nil {
		t.Fatalf("decode %s reply %q: %v", f, truncate(b), err)
	}
}

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
