package iotcore_test

import (
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/mochi-mqtt/server/v2/packets"
)

// A PUBLISH to an AWS service topic (Device Shadow, jobs, events, Basic Ingest)
// is judged by the policy like any other; one the policy allows is accepted and
// dropped, as the mock implements none of those services; one it denies closes
// the connection.
func TestServiceTopicPublishJudgedByPolicy(t *testing.T) {
	rg := newRig(t)
	shadow := "$aws/things/dev/shadow/update"
	doc := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"iot:Connect","Resource":"` + arn("client", "*") + `"},` +
		`{"Effect":"Allow","Action":["iot:Publish","iot:Receive"],"Resource":["` + arn("topic", "$aws/things/dev/*") + `","` + arn("topic", "$aws/rules/r/*") + `","` + arn("topic", "t/*") + `"]},` +
		`{"Effect":"Allow","Action":"iot:Subscribe","Resource":["` + arn("topicfilter", "$aws/things/dev/*") + `","` + arn("topicfilter", "t/*") + `"]}]}`
	dev := rg.newDevice("ShadowDev", doc, registry.StatusActive)

	w := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "dev", Clean: true})
	w.accepted()
	w.send(wireSubscribe(1, shadow, "t/x"))
	if pk, err := w.next(); err != nil || pk.FixedHeader.Type != packets.Suback {
		t.Fatalf("SUBSCRIBE: type %d, %v", pk.FixedHeader.Type, err)
	}
	for i, topic := range []string{shadow, "$aws/things/dev/jobs/get", "$aws/rules/r/x"} {
		w.send(wirePublish(topic, 1, false, uint16(10+i), []byte("{}")))
		pk, err := w.next()
		if err != nil || pk.FixedHeader.Type != packets.Puback || pk.PacketID != uint16(10+i) {
			t.Fatalf("publish to %s: type %d id %d, %v; want its PUBACK", topic, pk.FixedHeader.Type, pk.PacketID, err)
		}
	}
	// The region queues one publisher's messages for a subscriber in order: had
	// the shadow PUBLISH gone to subscribers, it would come before t/x.
	w.send(wirePublish("t/x", 0, false, 0, []byte("x")))
	for {
		pk, err := w.next()
		must(t, err)
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		if pk.TopicName != "t/x" {
			t.Fatalf("received %s, want only t/x: a service topic PUBLISH is dropped", pk.TopicName)
		}
		break
	}

	for _, topic := range []string{"$aws/things/other/shadow/update", "$aws/events/presence/connected/dev", "$aws/things/dev/unknown", "$SYS/x"} {
		t.Run(topic, func(t *testing.T) {
			w := rg.dialWire(dev, 4, packets.ConnectParams{ClientIdentifier: "dev", Clean: true})
			w.accepted()
			w.send(wirePublish(topic, 1, false, 1, []byte("{}")))
			if got := w.closed(); len(got) != 0 {
				t.Fatalf("publish to %s: got packets %v before the close, want none", topic, types(got))
			}
		})
	}
}
