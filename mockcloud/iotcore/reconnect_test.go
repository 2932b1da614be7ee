package iotcore_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A connection that ends just as the next one with the same client id connects
// must not take the new one with it: mochi removes a clean session's client id
// from its client list, and its subscriptions from the topic index, after its
// connection ended, and the new connection may be in both by then. The new
// connection keeps its subscription and gets its messages, round after round.
func TestReconnectRightAfterClose(t *testing.T) {
	rg := newRig(t)
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	const rounds = 500
	for i := range rounds {
		old := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "twin", Clean: true})
		old.accepted()
		old.send(wireSubscribe(1, "t/x"))
		if pk, err := old.next(); err != nil || pk.FixedHeader.Type != packets.Suback {
			t.Fatalf("round %d: SUBSCRIBE: type %d, %v", i, pk.FixedHeader.Type, err)
		}
		_ = old.c.Close()

		w := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "twin", Clean: true})
		w.accepted()
		w.send(wireSubscribe(1, "t/x"))
		w.send(wirePublish("t/x", 1, false, 2, []byte("mine")))
		for {
			pk, err := w.next() // fails the test if the message never comes
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
			if pk.FixedHeader.Type == packets.Publish {
				break
			}
		}
		_ = w.c.Close()
	}
}
