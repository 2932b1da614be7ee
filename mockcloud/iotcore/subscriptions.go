package iotcore

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// subscribedQoS reports whether cl has a subscription that receives a PUBLISH to
// topic, and at what QoS: the highest of its matching filters, as mochi's topic
// index merges them (shared subscriptions excluded, as in
// Subscribers(topic).Subscriptions). It reads only cl's own subscriptions, which
// mochi keeps in step with the index: asking the index copies every subscriber of
// the topic, and every device provisioning at the time subscribes to the same
// reply topics, so a reply would cost in proportion to the fleet in flight.
func subscribedQoS(cl *mqtt.Client, topic string) (qos byte, ok bool) {
	if topic == "" {
		return 0, false
	}
	for _, sub := range cl.State.Subscriptions.GetAll() {
		if mqtt.IsSharedFilter(sub.Filter) || !filterMatches(sub.Filter, topic) {
			continue
		}
		if !ok || sub.Qos > qos {
			qos = sub.Qos
		}
		ok = true
	}
	return qos, ok
}

// filterMatches reports whether mochi's topic index delivers topic to a
// subscription with filter. It follows the index's walk (TopicsIndex.
// scanSubscribers) level by level, including where that walk departs from
// MQTT 4.7: a filter ending "+/#" does not match a topic that ends at the "+".
// Top-level wildcards never match a "$" topic [MQTT-4.7.2-1].
func filterMatches(filter, topic string) bool {
	if filter == "" || topic == "" {
		return false
	}
	if topic[0] == '$' && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		f, fRest, fMore := strings.Cut(filter, "/")
		t, tRest, tMore := strings.Cut(topic, "/")
		switch {
		case f == "#":
			return !fMore
		case f != t && f != "+":
			return false
		case tMore:
			if !fMore {
				return false
			}
			filter, topic = fRest, tRest
		case !fMore:
			return true
		default:
			// The topic ends here and the filter goes on: only "<level>/#"
			// still matches, and not after a "+".
			return f != "+" && fRest == "#"
		}
	}
}
