package iotcore

import "strings"

// serviceTopic reports whether topic is a topic of an AWS IoT service that a
// policy may let a device publish to: Device Shadow and jobs under
// $aws/things/<thing>/, events under $aws/events/ and Basic Ingest under
// $aws/rules/ (AWS IoT Developer Guide, "Reserved topics"). The mock implements
// none of them: a PUBLISH the policy allows there is accepted and dropped.
func serviceTopic(topic string) bool {
	switch {
	case strings.HasPrefix(topic, "$aws/events/"), strings.HasPrefix(topic, "$aws/rules/"):
		return true
	case strings.HasPrefix(topic, "$aws/things/"):
		name, rest, ok := strings.Cut(strings.TrimPrefix(topic, "$aws/things/"), "/")
		return ok && name != "" && (strings.HasPrefix(rest, "shadow/") || strings.HasPrefix(rest, "jobs/"))
	}
	return false
}
