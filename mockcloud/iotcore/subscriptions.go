package iotcore

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// subscribedQoS reports whether cl has a subscription that receives a PUBLISH to
// topic, and at what QoS: the highest of its matching filters, as mochi's topic
// index merges them (shared subscriptions excluded, as in
// Subscribers(topic).Subscriptions), matched as AWS matches (awsFilterMatches).
// It reads only cl's own subscriptions, which mochi keeps in step with the index:
// asking the index copies every subscriber of the topic, and every device
// provisioning at the time subscribes to the same reply topics, so a reply would
// cost in proportion to the fleet in flight.
func subscribedQoS(cl *mqtt.Client, topic string) (qos byte, ok bool) {
	if topic == "" {
		return 0, false
	}
	for _, sub := range cl.State.Subscriptions.GetAll() {
		if mqtt.IsSharedFilter(sub.Filter) || !awsFilterMatches(sub.Filter, topic) {
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
func filterMatches(filter, topic string) bool { return matches(filter, topic, true) }

// awsFilterMatches is filterMatches as AWS IoT matches: "a/#" matches "a/" and
// every topic below "a", but not "a" itself ("the parent topic is not matched",
// AWS IoT Developer Guide, mqtt.md, "AWS IoT differences from MQTT version
// 3.1.1"). A shared subscription's filter is the part after $share/<group>/.
func awsFilterMatches(filter, topic string) bool {
	if mqtt.IsSharedFilter(filter) {
		if parts := strings.SplitN(filter, "/", 3); len(parts) == 3 {
			filter = parts[2]
		}
	}
	return matches(filter, topic, false)
}

// wildcardFilter reports whether filter has a wildcard level.
func wildcardFilter(filter string) bool { return strings.ContainsAny(filter, "+#") }

// matches walks filter and topic level by level; parent says whether "<level>/#"
// matches a topic that ends at that level, as in mochi's index.
func matches(filter, topic string, parent bool) bool {
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
			return parent && f != "+" && fRest == "#"
		}
	}
}
