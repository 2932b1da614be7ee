package provisioning

import (
	"net/netip"
	"time"
)

// EventKind names what an Event reports. The names are stable: they may be used as
// metric labels.
type EventKind string

const (
	// EventDialAttempt: one TCP+TLS attempt to Addr ended (Err nil: it connected,
	// which does not mean it won the race).
	EventDialAttempt EventKind = "dial_attempt"
	// EventConnected: CONNACK accepted from Addr; Duration covers the whole Dial.
	EventConnected EventKind = "connected"
	// EventSubscribe: one SUBSCRIBE packet for Topics was acknowledged (or failed).
	EventSubscribe EventKind = "subscribe"
	// EventPublish: one PUBLISH to Topics[0] completed (QoS 1: PUBACK received).
	EventPublish EventKind = "publish"
	// EventMessage: a PUBLISH arrived on Topics[0].
	EventMessage EventKind = "message"
	// EventRoundTrip: a provisioning request got its reply (or failed); Op is set.
	EventRoundTrip EventKind = "round_trip"
	// EventConnectionLost: the connection dropped; Err says why.
	EventConnectionLost EventKind = "connection_lost"
)

// Event is what DialConfig.Observe receives: enough to count packets and time
// round trips, never a payload.
type Event struct {
	Kind     EventKind
	Addr     netip.AddrPort
	Topics   []string
	Op       Operation
	Bytes    int
	Duration time.Duration
	Err      error
}
