package controlplane

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

const (
	testAccount = "123456789012"
	euWest1     = "eu-west-1"
	usEast1     = "us-east-1"
)

// stepClock advances one second per reading, so every record gets its own
// creation time and the certificate order is fixed.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Second)
	return c.t
}

// fixture is two populated regions behind one handler.
type fixture struct {
	h       *Handler
	stores  map[string]*registry.Store
	certs   map[string]string // label → certificate id (eu-west-1)
	caID    string
	hookLog *hookLog
}

type hookLog struct {
	mu    sync.Mutex
	calls []string
	err   error // returned by every hook when set
}

func (l *hookLog) add(s string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
	return l.err
}

func (l *hookLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

func openStore(t testing.TB, region string) *registry.Store {
	t.Helper()
	clk := &stepClock{t: time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)}
	s, err := registry.Open(t.TempDir(), registry.Options{Region: region, AccountID: testAccount, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// selfSigned makes a certificate PEM; with isCA it can sign others via parent.
func selfSigned(t testing.TB, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (string, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	if parent == nil {
		parent, parentKey = tpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf(der), c, key
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func must[T any](t testing.TB) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func populate(t testing.TB, eu, us *registry.Store) (certs map[string]string, caID string) {
	t.Helper()
	ok := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	cert := must[*registry.Certificate](t)
	ok(eu.CreateThingGroup(registry.ThingGroup{Name: "gateways", Description: "field gateways", Attributes: map[string]string{"site": "fra1"}}))
	ok(eu.CreateThingGroup(registry.ThingGroup{Name: "gw-lab"}))
	ok(eu.PutThing(registry.Thing{Name: "gw-001", TypeName: "gateway", Attributes: map[string]string{"serial": "S001", "site": "fra1"}, Groups: []string{"gateways"}}))
	ok(eu.PutThing(registry.Thing{Name: "gw-002", TypeName: "gateway", Attributes: map[string]string{"serial": "S002", "site": "fra2"}, Groups: []string{"gateways"}}))
	ok(eu.PutThing(registry.Thing{Name: "gw-003", Attributes: map[string]string{"serial": "T003"}}))
	ok(eu.PutThing(registry.Thing{Name: "sensor-1"}))
	ok(eu.PutThing(registry.Thing{Name: "gw-001", TypeName: "gateway", Attributes: map[string]string{"serial": "S001", "site": "fra1"}, Groups: []string{"gateways"}})) // version 2
	ok(us.PutThing(registry.Thing{Name: "us-only"}))

	certs = map[string]string{}
	claimPEM, _, _ := selfSigned(t, "claim", false, nil, nil)
	certs["claim"] = cert(eu.RegisterCertificate(claimPEM, registry.StatusActive, "")).ID
	caPEM, caCert, caKey := selfSigned(t, "factory CA", true, nil, nil)
	ca := must[*registry.CACertificate](t)(eu.RegisterCACertificate(registry.CACertificate{PEM: caPEM, Status: registry.StatusActive}))
	devPEM, _, _ := selfSigned(t, "gw-001", false, caCert, caKey)
	certs["device"] = cert(eu.RegisterCertificate(devPEM, registry.StatusActive, ca.ID)).ID
	oldPEM, _, _ := selfSigned(t, "old", false, nil, nil)
	certs["old"] = cert(eu.RegisterCertificate(oldPEM, registry.StatusInactive, "")).ID

	ok(eu.CreatePolicy("claim-policy", `{"Version":"2012-10-17","Statement":[]}`))
	ok(eu.CreatePolicy("device-policy", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`))
	ok(eu.PutPolicy("device-policy", `{"Version":"2012-10-17","Statement":[]}`)) // version 2
	for _, err := range []error{
		eu.AttachPolicy("claim-policy", certs["claim"]),
		eu.AttachPolicy("device-policy", certs["device"]),
		eu.AttachThingPrincipal("gw-001", certs["device"]),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ok(eu.CreateTemplate(registry.Template{Name: "fleet", Body: `{"Resources":{}}`, Enabled: true, Description: "claim flow", RoleARN: "arn:aws:iam::123456789012:role/prov"}))
	ok(eu.CreateTemplate(registry.Template{Name: "jitp", Body: `{"Resources":{}}`, Type: registry.TemplateJITP}))
	return certs, ca.ID
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	eu, us := openStore(t, euWest1), openStore(t, usEast1)
	certs, caID := populate(t, eu, us)
	log := &hookLog{}
	logger := zap.NewNop() // a fuzz target must not log through testing.F
	if tt, ok := t.(*testing.T); ok {
		logger = zaptest.NewLogger(tt, zaptest.Level(zap.InfoLevel))
	}
	h, err := New(Options{
		Regions: []Region{
			{Name: euWest1, Registry: eu, Endpoint: "abc123-ats.iot.eu-west-1.amazonaws.com"},
			{Name: usEast1, Registry: us, Endpoint: "abc123-ats.iot.us-east-1.amazonaws.com"},
		},
		DefaultRegion: euWest1,
		Logger:        logger,
		SetRecordHealth: func(id string, healthy bool) error {
			return log.add("health " + id + " " + boolStr(healthy))
		},
		SetRegionDown: func(region string, down bool) error {
			return log.add("down " + region + " " + boolStr(down))
		},
		SetFaults: func(region string, doc []byte) error {
			if bytes.Contains(doc, []byte("bogus")) {
				return fmt.Errorf("%w: faults: unknown field \"bogus\"", ErrInvalidArgument)
			}
			return log.add("faults " + region + " " + string(doc))
		},
		AdvanceClock: func(d time.Duration) (time.Time, error) {
			return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC).Add(d), log.add("advance " + d.String())
		},
		Now: func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: h, stores: map[string]*registry.Store{euWest1: eu, usEast1: us}, certs: certs, caID: caID, hookLog: log}
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// authFor is what botocore sends, minus a real signature.
func authFor(region string) string {
	return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/" + region +
		"/execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32)
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends one request through the handler; region "" sends no Authorization.
func (f *fixture) do(t testing.TB, method, target, region, body string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "http://127.0.0.1"+target, rd)
	if region != "" {
		req.Header.Set("Authorization", authFor(region))
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	a := answer{status: rec.Code, header: rec.Header(), raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &a.body); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v: %q", method, target, err, a.raw)
	}
	return a
}

// wantError checks the restJson1 error shape.
func (a answer) wantError(t testing.TB, status int, code string) {
	t.Helper()
	if a.status != status || a.header.Get("x-amzn-ErrorType") != code || a.body["__type"] != code {
		t.Fatalf("got %d %q body %s, want %d %s", a.status, a.header.Get("x-amzn-ErrorType"), a.raw, status, code)
	}
	if msg, _ := a.body["message"].(string); msg == "" {
		t.Fatalf("error without message: %s", a.raw)
	}
}

func (a answer) wantOK(t testing.TB) {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("status %d: %s", a.status, a.raw)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

// names pulls one string field out of every element of a list member.
func names(t testing.TB, body map[string]any, list, field string) []string {
	t.Helper()
	items, ok := body[list].([]any)
	if !ok {
		t.Fatalf("no list %q in %v", list, body)
	}
	out := []string{}
	for _, it := range items {
		if field == "" {
			out = append(out, it.(string))
			continue
		}
		out = append(out, it.(map[string]any)[field].(string))
	}
	return out
}

var fixedTime = time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
