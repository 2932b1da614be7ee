package iotcore_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.mqtt.golang/packets"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

const lostWithin = 5 * time.Second

// A refused CONNECT fails a paho client with a closed connection, not a CONNACK
// refusal code (TestConnectRefusedWithoutConnack reads the wire).
func TestConnectDenied(t *testing.T) {
	for _, connack := range []bool{false, true} {
		t.Run(fmt.Sprintf("ConnackOnRefusal=%v", connack), func(t *testing.T) {
			rg := newRig(t, func(c *iotcore.Config) { c.ConnackOnRefusal = connack })
			dev := rg.newDevice("GatewayDevicePolicy", "", registry.StatusActive)
			// No thing is attached, so ${iot:Connection.Thing.ThingName} resolves to nothing.
			_, err := rg.dial(dev, "gw-none", dialOpt{})
			if err == nil || errors.Is(err, packets.ErrorRefusedNotAuthorised) != connack {
				t.Fatalf("connect without policy match: %v, want CONNACK not authorized: %v", err, connack)
			}
			long := strings.Repeat("c", 129)
			if _, err := rg.dial(rg.claim, long, dialOpt{}); err == nil || errors.Is(err, packets.ErrorRefusedIDRejected) != connack {
				t.Fatalf("129-byte client id: %v, want identifier rejected: %v", err, connack)
			}
			if _, err := rg.dial(rg.claim, strings.Repeat("c", 128), dialOpt{}); err != nil {
				t.Fatalf("128-byte client id: %v", err)
			}
		})
	}
}

func TestCertificateNotActive(t *testing.T) {
	rg := newRig(t)
	for _, status := range []string{registry.StatusPendingActivation, registry.StatusInactive, registry.StatusRevoked} {
		t.Run(status, func(t *testing.T) {
			dev := rg.newDevice("ClaimPolicy", "", status)
			if _, err := rg.dial(dev, "dev", dialOpt{}); err == nil {
				t.Fatalf("%s certificate connected", status)
			}
			must(t, rg.reg.SetCertificateStatus(dev.certID, registry.StatusActive))
			if _, err := rg.dial(dev, "dev", dialOpt{}); err != nil {
				t.Fatalf("after activation: %v", err)
			}
		})
	}
	t.Run("unknown", func(t *testing.T) {
		dev := rg.newDevice("", "", registry.StatusActive)
		must(t, rg.reg.SetCertificateStatus(dev.certID, registry.StatusInactive))
		must(t, rg.reg.DeleteCertificate(dev.certID))
		if _, err := rg.dial(dev, "dev", dialOpt{}); err == nil {
			t.Fatal("unregistered certificate connected")
		}
	})
}

func TestPublishDeniedDisconnects(t *testing.T) {
	rg := newRig(t)
	for _, tc := range []struct {
		name  string
		topic string
		qos   byte
	}{
		{"qos0", "gateways/x/status", 0},
		{"qos1", "gateways/x/status", 1},
		{"reply topic", "$aws/certificates/create/json/accepted", 0},
		{"reserved", "$SYS/broker/x", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := rg.mustDial(rg.claim, "claim-"+tc.name)
			_ = c.publish(t, tc.topic, tc.qos, []byte("x"))
			if !c.waitLost(lostWithin) {
				t.Fatalf("publish to %s: connection still open", tc.topic)
			}
		})
	}
}

func TestSubscribeDeniedDisconnects(t *testing.T) {
	rg := newRig(t)
	for _, filter := range []string{"gateways/#", "$SYS/#", "$aws/things/x/shadow/get"} {
		c := rg.mustDial(rg.claim, "claim")
		_, _ = c.subscribe(t, filter)
		if !c.waitLost(lostWithin) {
			t.Fatalf("subscribe %s: connection still open", filter)
		}
	}
}

func TestReasonCodes(t *testing.T) {
	rg := newRig(t, func(c *iotcore.Config) { c.ReasonCodes = true })
	c := rg.mustDial(rg.claim, "claim")
	if _, err := c.subscribe(t, "gateways/#"); !errors.Is(err, errSubackFailure) {
		t.Fatalf("denied subscribe with ReasonCodes: %v, want SUBACK 0x80", err)
	}
	// Still connected and useful.
	if out, _ := c.request(t, provisioning.CreateKeysTopic(provisioning.FormatJSON), nil); out != provisioning.Accepted {
		t.Fatalf("request after refused subscription: %s", out)
	}
	// $SYS still disconnects.
	_, _ = c.subscribe(t, "$SYS/#")
	if !c.waitLost(lostWithin) {
		t.Fatal("subscribe $SYS/#: connection still open")
	}
}

// Subscribe and Receive are separate: a delivery iot:Receive denies is dropped and
// the connection stays.
func TestReceiveDroppedSilently(t *testing.T) {
	rg := newRig(t)
	doc := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Subscribe"],"Resource":["` + arn("topic", "t/*") + `","` + arn("topicfilter", "t/*") + `"]},` +
		`{"Effect":"Allow","Action":"iot:Receive","Resource":"` + arn("topic", "t/ok") + `"}]}`
	dev := rg.newDevice("ReceiveSome", doc, registry.StatusActive)
	c := rg.mustDial(dev, "dev")
	ch, err := c.subscribe(t, "t/#")
	must(t, err)
	must(t, c.publish(t, "t/no", 1, []byte("no")))
	must(t, c.publish(t, "t/ok", 1, []byte("ok")))
	m, ok := receive(t, ch, 5*time.Second)
	if !ok || m.topic != "t/ok" {
		t.Fatalf("got %v %q, want t/ok", ok, m.topic)
	}
	if m, ok := receive(t, ch, 300*time.Millisecond); ok {
		t.Fatalf("received %s although iot:Receive denies it", m.topic)
	}
	if !c.IsConnectionOpen() {
		t.Fatal("connection closed by a denied delivery")
	}
}

func TestSNI(t *testing.T) {
	rg := newRig(t)
	if _, err := rg.dial(rg.claim, "custom", dialOpt{sni: customDomain}); err != nil {
		t.Fatalf("custom domain: %v", err)
	}
	if _, err := rg.dial(rg.claim, "unknown", dialOpt{sni: "other.example.com", insecure: true}); err == nil {
		t.Fatal("unknown SNI accepted")
	}
	if _, err := rg.dial(rg.claim, "missing", dialOpt{noSNI: true}); err == nil {
		t.Fatal("missing SNI accepted")
	}
	lax := newRig(t, func(c *iotcore.Config) { c.AllowMissingSNI = true })
	if _, err := lax.dial(lax.claim, "missing", dialOpt{noSNI: true}); err != nil {
		t.Fatalf("missing SNI with AllowMissingSNI: %v", err)
	}
}

func TestSameClientIDTakesOver(t *testing.T) {
	rg := newRig(t)
	first := rg.mustDial(rg.claim, "twin")
	second := rg.mustDial(rg.claim, "twin")
	if !first.waitLost(lostWithin) {
		t.Fatal("first connection not dropped")
	}
	if !second.IsConnectionOpen() {
		t.Fatal("second connection closed")
	}
}

func TestQoS2AndOversize(t *testing.T) {
	rg := newRig(t)
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON).Request()
	c := rg.mustDial(rg.claim, "qos2")
	_ = c.publish(t, topic, 2, nil)
	if !c.waitLost(lostWithin) {
		t.Fatal("QoS 2 publish: connection still open")
	}
	c = rg.mustDial(rg.claim, "big")
	_ = c.publish(t, topic, 1, bytes.Repeat([]byte{'x'}, provisioning.MaxPayload+1))
	if !c.waitLost(lostWithin) {
		t.Fatal("oversize publish: connection still open")
	}
	c = rg.mustDial(rg.claim, "max")
	out, _ := c.request(t, provisioning.CreateKeysTopic(provisioning.FormatJSON), bytes.Repeat([]byte{' '}, provisioning.MaxPayload))
	if out != provisioning.Accepted {
		t.Fatalf("128 KiB of whitespace: %s", out)
	}
}
