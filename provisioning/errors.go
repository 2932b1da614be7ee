package provisioning

import (
	"errors"
	"fmt"
	"net"
	"strings"
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

// ConnectClosedError is a connection the broker closed after the TLS handshake
// completed and the whole CONNECT was sent, before any CONNACK byte arrived. It is
// how AWS IoT answers an MQTT 3.1.1 CONNECT its policy denies (iot:Connect for the
// client id, or iot:Publish/iot:RetainPublish for the Will topic): "AWS IoT Core
// closes the connection" rather than sending CONNACK 5 (PROTOCOL.md §7). A TCP,
// DNS or handshake failure is never one: the CONNECT did not reach the broker.
type ConnectClosedError struct {
	// Will is the Will the CONNECT carried, if any: a policy that denies its topic
	// gets the same answer as one that denies the connect itself.
	Will *Message
	// Err is how the read ended (io.EOF, a reset).
	Err error
}

func (e *ConnectClosedError) Error() string {
	will := ""
	if e.Will != nil {
		will = fmt.Sprintf(" (the CONNECT carried a Will on %s, retain=%t)", e.Will.Topic, e.Will.Retain)
	}
	return fmt.Sprintf("the broker closed the connection after CONNECT without a CONNACK%s: %v", will, e.Err)
}

func (e *ConnectClosedError) Unwrap() error { return e.Err }

// CertificateAlert returns the TLS alert the server ended the connection with when
// it was about the client's certificate (bad_certificate, unsupported_certificate,
// certificate_revoked, certificate_expired, certificate_unknown, unknown_ca,
// access_denied, certificate_required): the server does not accept this identity.
// With TLS 1.3 such an alert arrives after the client's side of the handshake is
// done, on the first read (the CONNACK's), so it can end a Dial at either point.
func CertificateAlert(err error) (string, bool) {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op != "remote error" || op.Err == nil {
			continue
		}
		msg := op.Err.Error()
		for _, a := range certificateAlerts {
			if strings.HasSuffix(msg, a) {
				return msg, true
			}
		}
		return "", false
	}
	return "", false
}

// certificateAlerts are crypto/tls's texts of the alerts about the peer's
// certificate (RFC 8446 §6.2).
var certificateAlerts = []string{
	"bad certificate", "unsupported certificate", "revoked certificate", "expired certificate",
	"unknown certificate", "unknown certificate authority", "access denied", "certificate required",
}
