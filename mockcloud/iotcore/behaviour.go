package iotcore

// Behaviour holds every switch that makes a region depart from what AWS IoT Core
// documents (or, where AWS documents nothing, from the mock's chosen answer). The
// zero value is AWS's behaviour. It is embedded in Config and decoded as is from
// the rig file's `iot:` section, so a new switch is one field here.
type Behaviour struct {
	// AllowMissingSNI and AllowUnknownSNI accept clients that send no SNI or a name
	// that is not this region's; such clients get the ATS certificate. AWS documents
	// both as refused (PROTOCOL.md §3.3).
	AllowMissingSNI bool `yaml:"allowMissingSNI"`
	AllowUnknownSNI bool `yaml:"allowUnknownSNI"`

	// ConnackNotAuthorized answers a CONNECT the policy denies (iot:Connect, or a
	// Will topic without iot:Publish / iot:RetainPublish) with CONNACK 5 (3.1.1) or
	// 0x87 (MQTT 5). AWS closes the connection without a CONNACK: "AWS IoT returns
	// the error code 7 instead of the CONNACK error code 5" (mqtt.md, PROTOCOL.md
	// §7.2).
	ConnackNotAuthorized bool `yaml:"connackNotAuthorized"`

	// MQTT5DisconnectOnDenied closes an MQTT 5 connection on a denied SUBSCRIBE or
	// QoS 1 PUBLISH, as 3.1.1 connections are. AWS answers MQTT 5 clients with
	// reason code 0x87 in the SUBACK / PUBACK (PROTOCOL.md §7.13).
	MQTT5DisconnectOnDenied bool `yaml:"mqtt5DisconnectOnDenied"`
	// MQTT311SubackFailure answers a denied SUBSCRIBE from an MQTT 3.1.1 client with
	// SUBACK 0x80 instead of closing the connection, which is what AWS does
	// (PROTOCOL.md §3.5, §7.13). A denied 3.1.1 PUBLISH always closes: 3.1.1 has
	// no PUBACK failure code.
	MQTT311SubackFailure bool `yaml:"mqtt311SubackFailure"`

	// SpecWildcards applies MQTT 3.1.1 §4.7 as written: "a/#" matches "a", and a
	// retained message is sent to every matching filter, wildcards included. AWS
	// sends retained messages only to a filter equal to the topic, and its "a/#"
	// does not match "a" (mqtt.md, PROTOCOL.md §7.5).
	SpecWildcards bool `yaml:"specWildcards"`

	// NoQuotas turns off AWS's per-connection quotas: one CONNECT per second per
	// client id, 8 filters per SUBSCRIBE, 50 subscriptions per connection, topics
	// of at most 256 bytes and 7 slashes, 8 topic aliases, and the per-account
	// retained message count (AWS IoT Core quotas page, PROTOCOL.md §7.12). The
	// 128 KiB payload limit holds regardless: it also bounds the broker's memory.
	NoQuotas bool `yaml:"noQuotas"`

	// JITPKeepFirstConnection lets the connection that auto-registered its
	// certificate go on to CONNACK when the JITP template made the certificate
	// ACTIVE. By default that connection is closed at its CONNECT without a CONNACK
	// and the device must reconnect, as users of AWS consistently observe although
	// AWS does not document it (PROTOCOL.md §2.2 [obs]). A certificate left
	// PENDING_ACTIVATION (JITR, failed template) always has its connection closed.
	JITPKeepFirstConnection bool `yaml:"jitpKeepFirstConnection"`

	// RegisterThingReplay answers a RegisterThing that repeats an applied one (same
	// ownership token, template and parameters, before the token expires) with the
	// same accepted reply, as if the first reply had been lost. AWS documents the
	// token as proof of ownership but not whether a second use is refused
	// (PROTOCOL.md §1.6, unconfirmed); the default refuses it.
	RegisterThingReplay bool `yaml:"registerThingReplay"`
}
