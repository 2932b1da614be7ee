package policy

import "strings"

// ConnectAttributes is the value set of the condition key iot:ConnectAttributes for
// one CONNECT: which of the CONNECT's features beyond a clean, Will-less connection
// it uses. The zero value is the empty set, what AWS calls "default features".
// connect-policy.html and mqtt.html ("Using connectAttributes") document two values.
type ConnectAttributes uint8

// The documented members of iot:ConnectAttributes.
const (
	PersistentConnect ConnectAttributes = 1 << iota // the session outlives the connection
	LastWill                                        // the CONNECT carries a Will
)

// connectAttrNames are the values a policy compares, in bit order.
var connectAttrNames = [...]string{"PersistentConnect", "LastWill"}

// ConnectFlags are the parts of a CONNECT packet iot:ConnectAttributes reports.
type ConnectFlags struct {
	// ProtocolVersion is the CONNECT's protocol level: 4 for MQTT 3.1.1, 5 for MQTT 5.
	ProtocolVersion byte
	// Clean is the Clean Session flag (MQTT 3.1.1) or the Clean Start flag (MQTT 5).
	Clean bool
	// SessionExpiry is the MQTT 5 Session Expiry Interval property in seconds (0 when
	// absent); MQTT 3.1.1 has none and it is ignored there.
	SessionExpiry uint32
	// Will is the Will flag.
	Will bool
}

// Attributes returns the iot:ConnectAttributes set of a CONNECT, for
// Request.ConnectAttributes of its iot:Connect check. A session is persistent when
// MQTT 3.1.1's Clean Session is 0, or MQTT 5's Clean Start is 0 with a Session
// Expiry Interval above 0: an MQTT 5 session with expiry 0 ends with the connection,
// whatever Clean Start says. AWS's pages do not say whether Clean Start 1 with an
// expiry counts; it does not here, as it resumes nothing. LastWill is the Will flag.
func (f ConnectFlags) Attributes() ConnectAttributes {
	var a ConnectAttributes
	persistent := !f.Clean
	if f.ProtocolVersion >= 5 {
		persistent = !f.Clean && f.SessionExpiry > 0
	}
	if persistent {
		a |= PersistentConnect
	}
	if f.Will {
		a |= LastWill
	}
	return a
}

// Has reports whether every member of b is in a.
func (a ConnectAttributes) Has(b ConnectAttributes) bool { return a&b == b }

// Values lists the members as a policy spells them.
func (a ConnectAttributes) Values() []string {
	var out []string
	for i, name := range connectAttrNames {
		if a&(1<<i) != 0 {
			out = append(out, name)
		}
	}
	return out
}

func (a ConnectAttributes) String() string { return "[" + strings.Join(a.Values(), ",") + "]" }
