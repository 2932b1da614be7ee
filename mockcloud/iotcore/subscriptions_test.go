package iotcore

import (
	"strconv"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestFilterMatchesAsMochi checks filterMatches against mochi's own topic index
// for every filter and topic of up to four levels over a small alphabet, so that
// a reply goes where mochi would route a PUBLISH, quirks included.
func TestFilterMatchesAsMochi(t *testing.T) {
	var topics, filters []string
	var grow func(prefix []string, levels []string, wild bool, depth int)
	grow = func(prefix []string, levels []string, wild bool, depth int) {
		for _, l := range levels {
			p := append(append([]string(nil), prefix...), l)
			s := strings.Join(p, "/")
			if wild {
				filters = append(filters, s)
			} else {
				topics = append(topics, s)
			}
			if l != "#" && depth > 1 {
				grow(p, levels, wild, depth-1)
			}
		}
	}
	grow(nil, []string{"a", "b", "", "$aws"}, false, 4)
	grow(nil, []string{"a", "", "$aws", "+", "#"}, true, 4)
	filters = append(filters, "$share/g/a", "$SHARE/g/#", "$aws/certificates/create-from-csr/json/accepted")
	topics = append(topics, "$aws/certificates/create-from-csr/json/accepted")
	n := 0
	for _, f := range filters {
		if !mqtt.IsValidFilter(f, false) {
			continue
		}
		ix := mqtt.NewTopicsIndex()
		ix.Subscribe("c", packets.Subscription{Filter: f, Qos: 1})
		for _, topic := range topics {
			if !mqtt.IsValidFilter(topic, true) {
				continue
			}
			_, want := ix.Subscribers(topic).Subscriptions["c"]
			if got := !mqtt.IsSharedFilter(f) && filterMatches(f, topic); got != want {
				t.Errorf("filter %q, topic %q: filterMatches %v, mochi %v", f, topic, got, want)
			}
			n++
		}
	}
	if n < 10000 {
		t.Fatalf("only %d pairs compared", n)
	}
}

// TestSubscribedQoS: the highest QoS of the client's matching filters; shared
// subscriptions and other topics do not count.
func TestSubscribedQoS(t *testing.T) {
	const topic = "$aws/certificates/create-from-csr/json/accepted"
	srv := mqtt.New(nil)
	for _, c := range []struct {
		name    string
		filters map[string]byte
		wantQoS byte
		wantOK  bool
	}{
		{"exact", map[string]byte{topic: 1}, 1, true},
		{"exact at QoS 0", map[string]byte{topic: 0}, 0, true},
		{"wildcard and exact, highest wins", map[string]byte{"$aws/certificates/create-from-csr/json/+": 0, topic: 1}, 1, true},
		{"multi-level wildcard", map[string]byte{"$aws/certificates/create-from-csr/#": 1}, 1, true},
		{"multi-level wildcard under the topic", map[string]byte{topic + "/#": 1}, 0, false},
		{"other reply only", map[string]byte{"$aws/certificates/create-from-csr/json/rejected": 1}, 0, false},
		{"top-level wildcard on a $ topic", map[string]byte{"#": 1, "+/certificates/create-from-csr/json/accepted": 1}, 0, false},
		{"shared subscription", map[string]byte{"$share/g/" + topic: 1}, 0, false},
		{"none", nil, 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cl := srv.NewClient(nil, "test", "c", false)
			for f, q := range c.filters {
				cl.State.Subscriptions.Add(f, packets.Subscription{Filter: f, Qos: q})
			}
			qos, ok := subscribedQoS(cl, topic)
			if qos != c.wantQoS || ok != c.wantOK {
				t.Errorf("subscribedQoS = %d, %v; want %d, %v", qos, ok, c.wantQoS, c.wantOK)
			}
		})
	}
}

// BenchmarkReplySubscription is the subscription check of one provisioning
// reply while n devices are subscribed to the same reply topics, as a fleet in
// its claim phase is: mochi's index (Topics.Subscribers, what the region asked
// before) against the client's own subscriptions (subscribedQoS).
func BenchmarkReplySubscription(b *testing.B) {
	const topic = "$aws/certificates/create-from-csr/json/accepted"
	filters := []string{topic, "$aws/certificates/create-from-csr/json/rejected",
		"$aws/provisioning-templates/T/provision/json/accepted", "$aws/provisioning-templates/T/provision/json/rejected"}
	for _, n := range []int{16, 64, 1000} {
		srv := mqtt.New(nil)
		var cl *mqtt.Client
		for i := range n {
			cl = srv.NewClient(nil, "test", "device-"+strconv.Itoa(i), false)
			for _, f := range filters {
				sub := packets.Subscription{Filter: f, Qos: 1}
				srv.Topics.Subscribe(cl.ID, sub)
				cl.State.Subscriptions.Add(f, sub)
			}
		}
		b.Run("index/subscribers="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := srv.Topics.Subscribers(topic).Subscriptions[cl.ID]; !ok {
					b.Fatal("not subscribed")
				}
			}
		})
		b.Run("client/subscribers="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := subscribedQoS(cl, topic); !ok {
					b.Fatal("not subscribed")
				}
			}
		})
	}
}
