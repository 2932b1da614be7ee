package iotcore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// connectRefusals are CONNECTs the region refuses after a good TLS handshake,
// with the CONNACK codes that name the reason (MQTT 3.1.1, MQTT 5).
func connectRefusals(rg *rig) []struct {
	name   string
	id     identity
	cp     packets.ConnectParams
	v3, v5 byte
} {
	// No thing is attached, so ${iot:Connection.Thing.ThingName} resolves to nothing.
	noThing := rg.newDevice("GatewayDevicePolicy", "", registry.StatusActive)
	willPolicy := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	return []struct {
		name   string
		id     identity
		cp     packets.ConnectParams
		v3, v5 byte
	}{
		{"iot:Connect denied", noThing, packets.ConnectParams{ClientIdentifier: "gw-none", Clean: true}, 5, 0x87},
		{"will topic denied", rg.claim, packets.ConnectParams{ClientIdentifier: "claim-will", Clean: true,
			WillFlag: true, WillTopic: "gateways/x/status", WillPayload: []byte("offline")}, 5, 0x87},
		{"retained will without iot:RetainPublish", willPolicy, packets.ConnectParams{ClientIdentifier: "will", Clean: true,
			WillFlag: true, WillRetain: true, WillTopic: "t/no", WillPayload: []byte("offline")}, 5, 0x87},
		{"client id of 129 bytes", rg.claim, packets.ConnectParams{ClientIdentifier: strings.Repeat("c", 129), Clean: true}, 2, 0x85},
		{"client id starting with $", rg.claim, packets.ConnectParams{ClientIdentifier: "$aws", Clean: true}, 2, 0x85},
	}
}

// AWS answers a CONNECT it refuses from an MQTT 3.1.1 client by closing the
// connection without CONNACK; an MQTT 5 client gets CONNACK with the reason code.
func TestConnectRefusedWithoutConnack(t *testing.T) {
	rg := newRig(t)
	for _, tc := range connectRefusals(rg) {
		t.Run(tc.name, func(t *testing.T) {
			w := rg.dialWire(tc.id, 4, tc.cp)
			if ack := w.connack(); ack != nil {
				t.Fatalf("MQTT 3.1.1: CONNACK %#x, want the connection closed without CONNACK", ack.ReasonCode)
			}
			w = rg.dialWire(tc.id, 5, tc.cp)
			ack := w.connack()
			if ack == nil || ack.ReasonCode != tc.v5 {
				t.Fatalf("MQTT 5: CONNACK %v, want reason code %#x", connackCode(ack), tc.v5)
			}
			w.closed()
		})
	}
	// The limit itself is accepted, and a $ after the first character.
	for _, id := range []string{strings.Repeat("c", 128), "c$"} {
		w := rg.dialWire(rg.claim, 4, packets.ConnectParams{ClientIdentifier: id, Clean: true})
		w.accepted()
	}
}

// With ConnackOnRefusal, the mock answers a refused MQTT 3.1.1 CONNECT with
// CONNACK 5 or 2 before closing, as the MQTT specification has it; MQTT 5 is
// answered as without the switch.
func TestConnackOnRefusal(t *testing.T) {
	rg := newRig(t, func(c *iotcore.Config) { c.ConnackOnRefusal = true })
	for _, tc := range connectRefusals(rg) {
		t.Run(tc.name, func(t *testing.T) {
			for version, want := range map[byte]byte{4: tc.v3, 5: tc.v5} {
				w := rg.dialWire(tc.id, version, tc.cp)
				ack := w.connack()
				if ack == nil || ack.ReasonCode != want {
					t.Fatalf("protocol level %d: CONNACK %v, want %#x", version, connackCode(ack), want)
				}
				w.closed()
			}
		})
	}
}

func connackCode(ack *packets.Packet) string {
	if ack == nil {
		return "none (closed)"
	}
	return fmt.Sprintf("%#x", ack.ReasonCode)
}
