package iotcore_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// AWS sends a retained message on SUBSCRIBE only to a filter equal to its topic:
// wildcard filters that match it get later messages, not the retained one.
func TestRetainedOnlyForExactFilter(t *testing.T) {
	rg := newRig(t)
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	pub := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "publisher", Clean: true})
	pub.accepted()
	for i, topic := range []string{"t/ok", "end"} {
		pub.send(wirePublish(topic, 1, true, uint16(i+1), []byte(topic)))
		if pk, err := pub.next(); err != nil || pk.FixedHeader.Type != packets.Puback {
			t.Fatalf("retained publish to %s: type %d, %v; want PUBACK", topic, pk.FixedHeader.Type, err)
		}
	}
	for _, version := range []byte{4, 5} {
		w := rg.dialWire(dev, version, packets.ConnectParams{ClientIdentifier: "reader", Clean: true})
		w.accepted()
		// The region queues a SUBSCRIBE's retained messages before it reads the
		// next one, and sends its queue in order: "end", subscribed last, comes
		// after every retained message the other filters got.
		w.send(wireSubscribe(1, "t/+"))
		w.send(wireSubscribe(2, "t/#"))
		w.send(wireSubscribe(3, "t/ok"))
		w.send(wireSubscribe(4, "end"))
		var got []string
		for {
			pk, err := w.next()
			must(t, err)
			if pk.FixedHeader.Type != packets.Publish {
				continue
			}
			if pk.TopicName == "end" {
				break
			}
			got = append(got, pk.TopicName)
		}
		if len(got) != 1 || got[0] != "t/ok" {
			t.Fatalf("v%d: retained messages for t/+, t/#, t/ok: %q, want one t/ok (for the exact filter)", version, got)
		}
		w.alive()
	}
}

// "a/#" matches "a/" and what is below "a", but not "a" itself.
func TestHashDoesNotMatchParent(t *testing.T) {
	rg := newRig(t)
	dev := rg.newDevice("RetainOnOK", retainPolicy(), registry.StatusActive)
	w := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "dev", Clean: true})
	w.accepted()
	w.send(wireSubscribe(1, "t/a/#"))
	// The region queues one publisher's messages for a subscriber in the order it
	// read them; the last one ends the list.
	for i, topic := range []string{"t/a", "t/a/", "t/a/b", "t/a/b/c"} {
		w.send(wirePublish(topic, 0, false, uint16(i+1), []byte(topic)))
	}
	var got []string
	for {
		pk, err := w.next()
		must(t, err)
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		got = append(got, pk.TopicName)
		if pk.TopicName == "t/a/b/c" {
			break
		}
	}
	if want := []string{"t/a/", "t/a/b", "t/a/b/c"}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("t/a/# received %q, want %q", got, want)
	}
}
