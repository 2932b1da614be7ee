package iotcore_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// wire is an MQTT connection driven packet by packet, for the answers a client
// library hides: whether a CONNACK came at all, a PUBACK's reason code.
type wire struct {
	t       testing.TB
	c       net.Conn
	r       *bufio.Reader
	version byte
}

// wireWithin bounds every read of a wire: a region that answers at all answers
// in milliseconds on loopback.
const wireWithin = 5 * time.Second

// dialWire opens TLS as id and sends a CONNECT of the given protocol version
// (4: MQTT 3.1.1, 5: MQTT 5) with cp's fields; ProtocolName and Keepalive are
// filled in when empty.
func (rg *rig) dialWire(id identity, version byte, cp packets.ConnectParams) *wire {
	rg.t.Helper()
	return rg.dialWireProps(id, version, cp, packets.Properties{})
}

// dialWireProps is dialWire with MQTT 5 CONNECT properties.
func (rg *rig) dialWireProps(id identity, version byte, cp packets.ConnectParams, props packets.Properties) *wire {
	rg.t.Helper()
	d := &net.Dialer{Timeout: wireWithin}
	c, err := tls.DialWithDialer(d, "tcp", rg.region.Addr().String(), rg.tlsConfig(id, dialOpt{}))
	if err != nil {
		rg.t.Fatalf("TLS handshake: %v", err)
	}
	rg.t.Cleanup(func() { c.Close() })
	w := &wire{t: rg.t, c: c, r: bufio.NewReader(c), version: version}
	if cp.ProtocolName == nil {
		cp.ProtocolName = []byte("MQTT")
	}
	if cp.Keepalive == 0 {
		cp.Keepalive = 60
	}
	w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: version, Connect: cp, Properties: props})
	return w
}

func (w *wire) send(pk packets.Packet) {
	w.t.Helper()
	pk.ProtocolVersion = w.version
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Puback:
		err = pk.PubackEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Pingreq:
		err = pk.PingreqEncode(&buf)
	default:
		w.t.Fatalf("wire: cannot send packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		w.t.Fatalf("encode packet type %d: %v", pk.FixedHeader.Type, err)
	}
	_ = w.c.SetWriteDeadline(time.Now().Add(wireWithin))
	if _, err := w.c.Write(buf.Bytes()); err != nil {
		w.t.Fatalf("write packet type %d: %v", pk.FixedHeader.Type, err)
	}
}

// errClosed: the region closed the connection before sending a whole packet.
var errClosed = errors.New("connection closed by the region")

// next reads one packet. It returns errClosed when the region closed the
// connection, and fails the test when nothing came within wireWithin.
func (w *wire) next() (packets.Packet, error) {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(wireWithin))
	pk, err := w.read()
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		w.t.Fatalf("no packet and no close within %v", wireWithin)
	case err != nil && !errors.Is(err, errMalformed):
		return pk, fmt.Errorf("%w: %w", errClosed, err)
	}
	return pk, err
}

var errMalformed = errors.New("malformed packet from the region")

func (w *wire) read() (packets.Packet, error) {
	hb, err := w.r.ReadByte()
	if err != nil {
		return packets.Packet{}, err
	}
	pk := packets.Packet{ProtocolVersion: w.version}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		return pk, fmt.Errorf("%w: header %#x: %w", errMalformed, hb, err)
	}
	n, mult := 0, 1
	for i := 0; ; i++ {
		b, err := w.r.ReadByte()
		if err != nil {
			return pk, err
		}
		n += int(b&0x7f) * mult
		mult *= 128
		if b&0x80 == 0 {
			break
		}
		if i == 3 {
			return pk, fmt.Errorf("%w: remaining length", errMalformed)
		}
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(w.r, body); err != nil {
		return pk, err
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Publish:
		err = pk.PublishDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	case packets.Suback:
		err = pk.SubackDecode(body)
	case packets.Disconnect:
		err = pk.DisconnectDecode(body)
	}
	if err != nil {
		return pk, fmt.Errorf("%w: type %d: %w", errMalformed, pk.FixedHeader.Type, err)
	}
	return pk, nil
}

// connack reads the answer to the CONNECT: the CONNACK, or nil when the region
// closed the connection without one.
func (w *wire) connack() *packets.Packet {
	w.t.Helper()
	pk, err := w.next()
	switch {
	case errors.Is(err, errClosed):
		return nil
	case err != nil:
		w.t.Fatal(err)
	case pk.FixedHeader.Type != packets.Connack:
		w.t.Fatalf("first packet from the region is type %d, want CONNACK", pk.FixedHeader.Type)
	}
	return &pk
}

// accepted reads the CONNACK and fails the test unless it accepts.
func (w *wire) accepted() {
	w.t.Helper()
	ack := w.connack()
	if ack == nil {
		w.t.Fatal("connection closed without CONNACK, want CONNACK 0")
	}
	if ack.ReasonCode != 0 {
		w.t.Fatalf("CONNACK %#x, want 0", ack.ReasonCode)
	}
}

// closed reads until the region closes the connection, skipping what it sends
// (a DISCONNECT to an MQTT 5 client), and fails the test if it stays open.
func (w *wire) closed() []packets.Packet {
	w.t.Helper()
	var got []packets.Packet
	for {
		pk, err := w.next()
		if errors.Is(err, errClosed) {
			return got
		}
		if err != nil {
			w.t.Fatal(err)
		}
		got = append(got, pk)
	}
}

// alive proves the connection still works: PINGREQ is answered by PINGRESP. It
// returns what came before the PINGRESP; mochi writes PUBLISHes to subscribers
// from a queue and answers directly, so that says nothing of their order.
func (w *wire) alive() []packets.Packet {
	w.t.Helper()
	w.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	var got []packets.Packet
	for {
		pk, err := w.next()
		if err != nil {
			w.t.Fatalf("connection closed, want it open: %v (before: %v)", err, types(got))
		}
		if pk.FixedHeader.Type == packets.Pingresp {
			return got
		}
		got = append(got, pk)
	}
}

func types(pks []packets.Packet) []byte {
	out := make([]byte, len(pks))
	for i, pk := range pks {
		out[i] = pk.FixedHeader.Type
	}
	return out
}

func wirePublish(topic string, qos byte, retain bool, id uint16, payload []byte) packets.Packet {
	return packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName:   topic, PacketID: id, Payload: payload,
	}
}

func wireSubscribe(id uint16, filters ...string) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: 1})
	}
	return pk
}
