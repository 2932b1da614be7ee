package iotcore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// makerCA stands for a device maker's own CA, distinct from the rig's root.
var makerCA = sync.OnceValues(func() (*pki.CA, error) { return pki.NewRootCA("Example Maker Device CA") })

// eventRecorder is a test observer on Config.CertificateRegistered.
type eventRecorder struct {
	mu     sync.Mutex
	events []iotcore.CertificateRegisteredEvent
}

func (e *eventRecorder) record(ev iotcore.CertificateRegisteredEvent) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

func (e *eventRecorder) all() []iotcore.CertificateRegisteredEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.events)
}

type jitpRig struct {
	*rig
	maker  *pki.CA
	events *eventRecorder
}

func newJITPRig(t testing.TB, mod ...func(*iotcore.Config)) *jitpRig {
	t.Helper()
	maker, err := makerCA()
	must(t, err)
	ev := &eventRecorder{}
	mod = append([]func(*iotcore.Config){func(c *iotcore.Config) { c.CertificateRegistered = ev.record }}, mod...)
	return &jitpRig{rig: newRig(t, mod...), maker: maker, events: ev}
}

// dial pins MQTT 3.1.1: with version 0 paho retries a failed CONNECT as MQTT 3.1
// on a new connection, which would hide the dropped first connection.
func (jr *jitpRig) dial(id identity, clientID string, o dialOpt) (*client, error) {
	if o.version == 0 {
		o.version = 4
	}
	return jr.rig.dial(id, clientID, o)
}

// registerMaker registers the maker CA with the rig's JITP template.
func (jr *jitpRig) registerMaker(c iotcore.CARegistration) *registry.CACertificate {
	jr.t.Helper()
	ca, err := jr.region.RegisterCA(string(jr.maker.CertPEM()), c)
	must(jr.t, err)
	return ca
}

// makerDevice issues a device certificate from ca; withChain appends the CA
// certificate, so that the client sends leaf + CA.
func makerDevice(t testing.TB, ca *pki.CA, subject pkix.Name, withChain bool) identity {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	c, err := ca.IssueClient(&key.PublicKey, subject, time.Time{})
	must(t, err)
	crtPEM := pki.EncodeCertPEM(c)
	if withChain {
		crtPEM = append(crtPEM, ca.CertPEM()...)
	}
	der, err := x509.MarshalECPrivateKey(key)
	must(t, err)
	return identityFromPEM(t, crtPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

// eventsPolicy lets an application subscribe to registration events, as on AWS:
// iot:Subscribe on the filter and iot:Receive on the topics.
func eventsPolicy() string {
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":"` + arn("topicfilter", "$aws/events/certificates/registered/*") + `"},` +
		`{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn("topic", "$aws/events/certificates/registered/*") + `"}]}`
}

func TestJITP(t *testing.T) {
	jr := newJITPRig(t)
	ca := jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate})
	if ca.Status != registry.StatusActive || !ca.AllowAutoRegistration {
		t.Fatalf("registered CA %+v", ca)
	}
	observer := jr.mustDial(jr.newDevice("EventsPolicy", eventsPolicy(), registry.StatusActive), "observer")
	eventCh, err := observer.subscribe(t, "$aws/events/certificates/registered/+")
	must(t, err)

	for _, tc := range []struct {
		name  string
		chain bool
	}{
		{"leaf only", false},
		{"leaf and CA", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			thing := "gw-jitp-" + strconv.FormatBool(tc.chain)
			dev := makerDevice(t, jr.maker, pkix.Name{CommonName: thing, SerialNumber: "SN1", Country: []string{"DE"}}, tc.chain)

			if _, err := jr.dial(dev, thing, dialOpt{}); err == nil {
				t.Fatal("the connection that registered the certificate was not closed")
			} else {
				t.Logf("first connection: %v", err)
			}

			m, ok := receive(t, eventCh, 10*time.Second)
			if !ok {
				t.Fatal("no registration event delivered")
			}
			if m.topic != iotcore.CertificateRegisteredTopic(ca.ID) {
				t.Fatalf("event topic %q", m.topic)
			}
			var ev map[string]any
			if err := json.Unmarshal(m.payload, &ev); err != nil {
				t.Fatalf("event %q: %v", m.payload, err)
			}
			if ev["certificateId"] != dev.certID || ev["caCertificateId"] != ca.ID || ev["certificateStatus"] != registry.StatusPendingActivation ||
				ev["awsAccountId"] != testAccount {
				t.Fatalf("event %s", m.payload)
			}
			if _, ok := ev["timestamp"].(float64); !ok {
				t.Fatalf("timestamp is not a number: %s", m.payload)
			}
			if s, ok := ev["certificateRegistrationTimestamp"].(string); !ok || s == "" {
				t.Fatalf("certificateRegistrationTimestamp is not a string: %s", m.payload)
			}

			cert, err := jr.reg.GetCertificate(dev.certID)
			must(t, err)
			if cert.Status != registry.StatusActive || cert.CAID != ca.ID {
				t.Fatalf("certificate %s CA %s, want ACTIVE from %s", cert.Status, cert.CAID, ca.ID)
			}
			th, err := jr.reg.GetThing(thing)
			must(t, err)
			if !slices.Contains(th.Groups, "gateways") {
				t.Fatalf("thing groups %v", th.Groups)
			}
			if things, _ := jr.reg.ThingsForCertificate(dev.certID); !slices.Equal(things, []string{thing}) {
				t.Fatalf("certificate attached to %v", things)
			}
			pols, err := jr.reg.PoliciesForCertificate(dev.certID)
			must(t, err)
			if len(pols) != 1 || pols[0].Name != "GatewayDevicePolicy" {
				t.Fatalf("policies %v", pols)
			}

			c, err := jr.dial(dev, thing, dialOpt{})
			if err != nil {
				t.Fatalf("second connection: %v", err)
			}
			must(t, c.publish(t, "gateways/"+thing+"/status", 1, []byte("up")))
		})
	}
	if n := len(jr.events.all()); n != 2 {
		t.Fatalf("%d registrations observed, want 2", n)
	}
}

func TestJITPKeepFirstConnection(t *testing.T) {
	jr := newJITPRig(t, func(c *iotcore.Config) { c.JITPKeepFirstConnection = true })
	jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate})
	dev := makerDevice(t, jr.maker, pkix.Name{CommonName: "gw-keep"}, true)
	if _, err := jr.dial(dev, "gw-keep", dialOpt{}); err != nil {
		t.Fatalf("first connection with JITPKeepFirstConnection: %v", err)
	}
	if n := len(jr.events.all()); n != 1 {
		t.Fatalf("%d registrations, want 1", n)
	}
}

func TestJITPRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*iotcore.Config)
		reg  *iotcore.CARegistration // nil: the maker CA is not registered
		opt  dialOpt
	}{
		{name: "CA not registered", opt: dialOpt{}},
		{name: "CA inactive", reg: &iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate, Inactive: true}},
		{name: "CA without auto-registration", reg: &iotcore.CARegistration{TemplateBody: iotcore.GatewayJITPTemplate}},
		{name: "no SNI", reg: &iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate},
			mod: func(c *iotcore.Config) { c.AllowMissingSNI = true }, opt: dialOpt{noSNI: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mods []func(*iotcore.Config)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			jr := newJITPRig(t, mods...)
			if tc.reg != nil {
				jr.registerMaker(*tc.reg)
			}
			dev := makerDevice(t, jr.maker, pkix.Name{CommonName: "gw-refused"}, true)
			for attempt := range 2 {
				if _, err := jr.dial(dev, "gw-refused", tc.opt); err == nil {
					t.Fatalf("attempt %d connected", attempt+1)
				}
			}
			if _, err := jr.reg.GetCertificate(dev.certID); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("certificate registered anyway: %v", err)
			}
			if _, err := jr.reg.GetThing("gw-refused"); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("thing created anyway: %v", err)
			}
			if ev := jr.events.all(); len(ev) != 0 {
				t.Fatalf("events %+v", ev)
			}
			if tc.opt.noSNI {
				// The same device with SNI is registered: SNI was the reason.
				_, _ = jr.dial(dev, "gw-refused", dialOpt{})
				if _, err := jr.reg.GetCertificate(dev.certID); err != nil {
					t.Fatalf("with SNI: %v", err)
				}
			}
		})
	}
}

// A template that cannot be applied leaves the certificate registered,
// PENDING_ACTIVATION, attached to nothing, and the device refused.
func TestJITPTemplateFailure(t *testing.T) {
	needsSerial := `{"Parameters":{"AWS::IoT::Certificate::SerialNumber":{"Type":"String"},"AWS::IoT::Certificate::CommonName":{"Type":"String"}},
 "Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"},"ThingGroups":["gateways"]}},
  "certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}},
  "policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"GatewayDevicePolicy"}}}}`
	missingGroup := `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"},"ThingGroups":["no-such-group"]}},
  "certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}},
  "policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"GatewayDevicePolicy"}}}}`
	for _, tc := range []struct {
		name, body, cn string
	}{
		{"subject lacks a declared parameter", needsSerial, "gw-no-serial"},
		{"thing group missing", missingGroup, "gw-no-group"},
		{"common name is no thing name", iotcore.GatewayJITPTemplate, "gw with spaces"},
		{"JITR: no template", "", "gw-jitr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			jr := newJITPRig(t)
			ca := jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: tc.body})
			dev := makerDevice(t, jr.maker, pkix.Name{CommonName: tc.cn}, false)
			if _, err := jr.dial(dev, tc.cn, dialOpt{}); err == nil {
				t.Fatal("first connection accepted")
			}
			cert, err := jr.reg.GetCertificate(dev.certID)
			must(t, err)
			if cert.Status != registry.StatusPendingActivation || cert.CAID != ca.ID {
				t.Fatalf("certificate %s from %s, want PENDING_ACTIVATION from %s", cert.Status, cert.CAID, ca.ID)
			}
			if things, _ := jr.reg.ThingsForCertificate(dev.certID); len(things) != 0 {
				t.Fatalf("certificate attached to things %v", things)
			}
			if pols, _ := jr.reg.PoliciesForCertificate(dev.certID); len(pols) != 0 {
				t.Fatalf("certificate attached to policies %v", pols)
			}
			if _, err := jr.reg.GetThing(tc.cn); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("thing %q: %v, want not found", tc.cn, err)
			}
			if ev := jr.events.all(); len(ev) != 1 || ev[0].CertificateID != dev.certID {
				t.Fatalf("events %+v, want one for the certificate", ev)
			}
			if _, err := jr.dial(dev, tc.cn, dialOpt{}); err == nil {
				t.Fatal("a PENDING_ACTIVATION certificate connected")
			}
			if n := len(jr.events.all()); n != 1 {
				t.Fatalf("%d events after the second attempt, want 1", n)
			}
		})
	}
}

func TestRegisterCAInvalid(t *testing.T) {
	jr := newJITPRig(t)
	must(t, errOnly(jr.reg.CreateTemplate(registry.Template{Name: "Fleet", Body: iotcore.GatewayJITPTemplate, Enabled: true})))
	csrTemplate := `{"Resources":{"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateSigningRequest":"x"}}}}`
	for _, tc := range []struct {
		name string
		pem  string
		reg  iotcore.CARegistration
		want error
	}{
		{"both name and body", string(jr.maker.CertPEM()), iotcore.CARegistration{TemplateName: "Fleet", TemplateBody: iotcore.GatewayJITPTemplate}, iotcore.ErrConfig},
		{"fleet template", string(jr.maker.CertPEM()), iotcore.CARegistration{TemplateName: "Fleet"}, iotcore.ErrJITPTemplate},
		{"unknown template", string(jr.maker.CertPEM()), iotcore.CARegistration{TemplateName: "Nope"}, registry.ErrNotFound},
		{"body does not parse", string(jr.maker.CertPEM()), iotcore.CARegistration{TemplateBody: "{"}, iotcore.ErrJITPTemplate},
		{"certificate by CSR", string(jr.maker.CertPEM()), iotcore.CARegistration{TemplateBody: csrTemplate}, iotcore.ErrJITPTemplate},
		{"not a CA", string(jr.claim.crtPEM), iotcore.CARegistration{}, registry.ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := jr.region.RegisterCA(tc.pem, tc.reg); !errors.Is(err, tc.want) {
				t.Fatalf("RegisterCA: %v, want %v", err, tc.want)
			}
		})
	}
	// By name: a JITP template in the registry.
	must(t, errOnly(jr.reg.CreateTemplate(registry.Template{Name: "MakerJITP", Body: iotcore.GatewayJITPTemplate, Enabled: true, Type: registry.TemplateJITP})))
	jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateName: "MakerJITP"})
	if _, err := jr.region.RegisterCA(string(jr.maker.CertPEM()), iotcore.CARegistration{}); !errors.Is(err, registry.ErrAlreadyExists) {
		t.Fatalf("second registration: %v, want ErrAlreadyExists", err)
	}
	dev := makerDevice(t, jr.maker, pkix.Name{CommonName: "gw-by-name"}, false)
	if _, err := jr.dial(dev, "gw-by-name", dialOpt{}); err == nil {
		t.Fatal("first connection accepted")
	}
	if _, err := jr.dial(dev, "gw-by-name", dialOpt{}); err != nil {
		t.Fatalf("second connection: %v", err)
	}
}

// Concurrent first connections of one new certificate register it once.
func TestJITPConcurrentFirstConnections(t *testing.T) {
	jr := newJITPRig(t)
	jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate})
	dev := makerDevice(t, jr.maker, pkix.Name{CommonName: "gw-race"}, true)
	const n = 8
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			_, err := jr.dial(dev, "gw-race", dialOpt{})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	failed := 0
	for err := range errs {
		if err != nil {
			failed++
		}
	}
	// The registering connection is closed; the others either waited for the
	// registration and were accepted or lost a client id takeover race.
	if failed == 0 {
		t.Fatal("no connection was closed, yet one registered the certificate")
	}
	if ev := jr.events.all(); len(ev) != 1 {
		t.Fatalf("%d registrations, want 1", len(ev))
	}
	certs, err := jr.reg.ListCertificates(jr.events.all()[0].CACertificateID)
	must(t, err)
	if len(certs) != 1 || certs[0].Status != registry.StatusActive {
		t.Fatalf("certificates of the maker CA: %+v", certs)
	}
	if p, _ := jr.reg.PrincipalsForThing("gw-race"); !slices.Equal(p, []string{dev.certID}) {
		t.Fatalf("thing principals %v", p)
	}
	t.Logf("%d of %d concurrent first connections failed", failed, n)
}

// JITP the way AWS's own walkthroughs show it: mosquitto_pub with the device
// certificate and its CA in one file, through a name (SNI). The first attempt is
// dropped, the second goes through, and the thing exists.
func TestMosquittoJITP(t *testing.T) {
	pub := needTool(t, "mosquitto_pub", "mosquitto-clients")
	jr := newJITPRig(t, func(c *iotcore.Config) { c.CustomDomains = []string{"localhost"} })
	jr.registerMaker(iotcore.CARegistration{AllowAutoRegistration: true, TemplateBody: iotcore.GatewayJITPTemplate})
	const thing = "gw-mosquitto-jitp"
	dev := makerDevice(t, jr.maker, pkix.Name{CommonName: thing, SerialNumber: "M-1"}, true)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	args := []string{
		"-h", "localhost", "-p", strconv.Itoa(int(jr.region.Addr().Port())),
		"--cafile", write("root-ca.pem", jr.ca.CertPEM()),
		"--cert", write("device-and-ca.pem", dev.crtPEM),
		"--key", write("device.key", dev.keyPEM),
		"-i", thing, "-q", "1", "-t", "gateways/" + thing + "/status", "-m", "up",
	}
	run := func() ([]byte, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, pub, args...).CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("mosquitto_pub hung: %s", out)
		}
		return out, err
	}
	if out, err := run(); err == nil {
		t.Fatalf("first mosquitto_pub succeeded:\n%s", out)
	} else {
		t.Logf("first mosquitto_pub: %v: %s", err, out)
	}
	if out, err := run(); err != nil {
		t.Fatalf("second mosquitto_pub: %v\n%s", err, out)
	}
	if _, err := jr.reg.GetThing(thing); err != nil {
		t.Fatalf("thing after JITP: %v", err)
	}
}
