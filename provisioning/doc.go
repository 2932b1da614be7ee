// Package provisioning is AWS IoT fleet provisioning by claim, as a device speaks it:
// the wire contract (topics, messages, JSON and CBOR codecs, rejected replies as
// errors) and an MQTT 3.1.1 client for it on paho.mqtt.golang over mutual TLS.
//
// The contract half (topics.go, messages.go, codec.go, errors.go) has no network
// code and is shared with the mock cloud, so both sides read one definition of the
// wire. The client half is Dial, which opens a Conn (also used for the device's
// permanent connection), and Client, which runs CreateKeysAndCertificate,
// CreateCertificateFromCsr and RegisterThing over a Conn.
//
// Wire choices, where AWS leaves room (PROTOCOL.md §1):
//   - Replies are subscribed with QoS 1 and requests published with QoS 1, as the
//     AWS IoT Device Client does; all reply filters go in one SUBSCRIBE (Prepare).
//   - CreateKeysAndCertificate sends {} in JSON and an empty payload in CBOR; see
//     CreateKeysPayload.
//   - There is no correlation token: calls of one operation are serialized and a
//     reply nobody waits for is dropped (see Client).
//
// Secrets (private keys, ownership tokens) never reach logs or error strings: the
// message types hide them from fmt and zap, and the client logs sizes, not payloads.
package provisioning
