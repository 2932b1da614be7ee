package provisioning

import (
	"errors"
	"fmt"
)

// Sentinel errors. Callers compare with errors.Is.
var (
	// ErrPayloadTooLarge: a payload is over MaxPayload, AWS IoT's PUBLISH limit.
	ErrPayloadTooLarge = errors.New("payload larger than 128 KiB")
	// ErrInvalidConfig: a DialConfig, topic, QoS or filter set that cannot work.
	ErrInvalidConfig = errors.New("invalid configuration")
	// ErrClosed: Close was called on the connection.
	ErrClosed = errors.New("connection closed")
	// ErrConnectionLost: the connection dropped; the wrapped error says why.
	ErrConnectionLost = errors.New("connection lost")
	// ErrSubscribeRefused: the broker answered a filter with SUBACK 0x80.
	ErrSubscribeRefused = errors.New("subscription refused")
	// ErrMalformedReply: an accepted reply decoded but lacks a field the flow needs.
	ErrMalformedReply = errors.New("malformed reply")
)

// ConnectRefusedError is a CONNACK with a non-zero return code (MQTT 3.1.1 §3.2.2.3).
// It is distinct from network and TLS failures: the broker spoke MQTT and said no.
type ConnectRefusedError struct {
	Code byte
}

func (e *ConnectRefusedError) Error() string {
	return fmt.Sprintf("connection refused by broker: CONNACK return code %d (%s)", e.Code, connackText(e.Code))
}

// NotAuthorized reports whether the broker refused the credentials: code 5 (not
// authorized) or 4 (bad user name or password, what brokers with custom
// authentication answer). With certificate authentication this means the
// certificate is not accepted, or its policy does not allow iot:Connect.
func (e *ConnectRefusedError) NotAuthorized() bool { return e.Code == 4 || e.Code == 5 }

// ServerUnavailable reports code 3: worth retrying later.
func (e *ConnectRefusedError) ServerUnavailable() bool { return e.Code == 3 }

func connackText(code byte) string {
	switch code {
	case 1:
		return "unacceptable protocol version"
	case 2:
		return "identifier rejected"
	case 3:
		return "server unavailable"
	case 4:
		return "bad user name or password"
	case 5:
		return "not authorized"
	}
	return "unknown"
}
