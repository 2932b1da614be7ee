package iotcore_test

import (
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// retainPolicy allows everything on t/* except iot:RetainPublish, which it
// allows on t/ok only, and everything on the topic "end".
func retainPolicy() string {
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["` + arn("topic", "t/*") + `","` + arn("topic", "end") + `"]},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":["` + arn("topicfilter", "t/*") + `","` + arn("topicfilter", "end") + `"]},` +
		`{"Effect":"Allow","Action":"iot:RetainPublish","Resource":["` + arn("topic", "t/ok") + `","` + arn("topic", "end") + `"]}]}`
}

// A PUBLISH with RETAIN set needs iot:RetainPublish on the topic besides
// iot:Publish; the same PUBLISH without RETAIN needs iot:Publish only.
func TestRetainPublishNeedsRetainPublish(t *testing.T) {
	rg := newRig(t)
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	c := rg.mustDial(dev, "dev")
	if tok := c.Publish("t/ok", 1, true, []byte("kept")); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("retained publish to t/ok: %v", tok.Error())
	}
	must(t, c.publish(t, "t/no", 1, []byte("not retained")))
	if !c.IsConnectionOpen() {
		t.Fatal("connection closed by allowed publishes")
	}
	_ = c.Publish("t/no", 1, true, []byte("retained")).WaitTimeout(5 * time.Second)
	if !c.waitLost(lostWithin) {
		t.Fatal("retained publish without iot:RetainPublish: connection still open")
	}
	// Only t/ok's message was retained: subscribed to t/no first and t/ok next,
	// the first retained message a subscriber gets is t/ok's (the region queues a
	// filter's retained message before it reads the next SUBSCRIBE, and sends its
	// queue in order).
	w := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "reader", Clean: true})
	w.accepted()
	w.send(wireSubscribe(1, "t/no"))
	w.send(wireSubscribe(2, "t/ok"))
	for {
		pk, err := w.next()
		must(t, err)
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		if pk.TopicName != "t/ok" || string(pk.Payload) != "kept" {
			t.Fatalf("first retained message: %s %q, want t/ok \"kept\"", pk.TopicName, pk.Payload)
		}
		break
	}
}

// A CONNECT whose Will is retained needs iot:Publish and iot:RetainPublish on
// the Will topic; a Will that is not retained needs iot:Publish only.
func TestRetainedWillNeedsRetainPublish(t *testing.T) {
	rg := newRig(t)
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	for _, version := range []byte{4, 5} {
		for _, tc := range []struct {
			name   string
			topic  string
			retain bool
			ok     bool
		}{
			{"not retained", "t/no", false, true},
			{"retained with RetainPublish", "t/ok", true, true},
			{"retained without RetainPublish", "t/no", true, false},
		} {
			t.Run(tc.name+"/v"+string('0'+version), func(t *testing.T) {
				w := rg.dialWire(dev, version, packets.ConnectParams{ClientIdentifier: "will", Clean: true,
					WillFlag: true, WillTopic: tc.topic, WillRetain: tc.retain, WillQos: 1, WillPayload: []byte("offline")})
				ack := w.connack()
				accepted := ack != nil && ack.ReasonCode == 0
				if accepted != tc.ok {
					t.Fatalf("CONNECT with Will on %s (retain %v): accepted %v, want %v", tc.topic, tc.retain, accepted, tc.ok)
				}
			})
		}
	}
}

// With ReasonCodes, a retained PUBLISH without iot:RetainPublish from an MQTT 5
// client gets PUBACK 0x87 and the connection stays; MQTT 3.1.1 has no failure
// PUBACK, so a 3.1.1 client is disconnected.
func TestRetainPublishReasonCodes(t *testing.T) {
	rg := newRig(t, func(c *iotcore.Config) { c.ReasonCodes = true })
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)

	w := rg.dialWire(dev, 5, packets.ConnectParams{ClientIdentifier: "v5", Clean: true})
	w.accepted()
	w.send(wirePublish("t/no", 1, true, 7, []byte("x")))
	pk, err := w.next()
	must(t, err)
	if pk.FixedHeader.Type != packets.Puback || pk.PacketID != 7 || pk.ReasonCode != packets.ErrNotAuthorized.Code {
		t.Fatalf("answer to a retained publish without iot:RetainPublish: type %d id %d reason %#x, want PUBACK 7 0x87",
			pk.FixedHeader.Type, pk.PacketID, pk.ReasonCode)
	}
	w.send(wirePublish("t/ok", 1, true, 8, []byte("x")))
	pk, err = w.next()
	must(t, err)
	if pk.FixedHeader.Type != packets.Puback || pk.PacketID != 8 || pk.ReasonCode != 0 {
		t.Fatalf("answer to an allowed retained publish: type %d id %d reason %#x, want PUBACK 8 0", pk.FixedHeader.Type, pk.PacketID, pk.ReasonCode)
	}
	w.alive()

	w = rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "v4", Clean: true})
	w.accepted()
	w.send(wirePublish("t/no", 1, true, 7, []byte("x")))
	if got := w.closed(); len(got) != 0 {
		t.Fatalf("3.1.1 retained publish without iot:RetainPublish: got packets %v before the close, want none", types(got))
	}
}

// No PUBLISH to a reserved topic may be retained, a provisioning request
// included (AWS IoT Developer Guide, "MQTT retained messages").
func TestRetainedPublishToReservedTopicRefused(t *testing.T) {
	rg := newRig(t)
	w := rg.dialWire(rg.claim, 4, packets.ConnectParams{ClientIdentifier: "claim", Clean: true})
	w.accepted()
	w.send(wirePublish("$aws/certificates/create/json", 1, true, 1, []byte("{}")))
	w.closed()
}
