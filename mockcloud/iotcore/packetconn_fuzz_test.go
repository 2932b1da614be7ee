package iotcore

import (
	"testing"
	"time"
)

// FuzzPacketFraming: packetConn follows MQTT's framing the same however the bytes
// are cut into reads, and never fails on any bytes.
func FuzzPacketFraming(f *testing.F) {
	f.Add([]byte{0xC0, 0x00}, uint16(1))
	f.Add([]byte{0x30, 0xA0, 0x8D, 0x06, 1, 2, 3}, uint16(2))    // PUBLISH header declaring 100,000 bytes
	f.Add([]byte{0xC0, 0x00, 0x30, 0x80, 0x01, 0xFF}, uint16(3)) // a whole packet, then a header
	f.Add([]byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}, uint16(4)) // five length bytes
	f.Fuzz(func(t *testing.T, data []byte, step uint16) {
		whole := &packetConn{timeout: time.Minute}
		whole.follow(data)
		cut := &packetConn{timeout: time.Minute}
		n := int(step)%7 + 1
		for p := data; len(p) > 0; {
			k := min(n, len(p))
			cut.follow(p[:k])
			p = p[k:]
		}
		type state struct {
			in, lenDone       bool
			length, remaining int
		}
		a := state{whole.inPacket, whole.lenDone, whole.length, whole.remaining}
		b := state{cut.inPacket, cut.lenDone, cut.length, cut.remaining}
		if a != b {
			t.Fatalf("% x: whole %+v, in reads of %d %+v", data, a, n, b)
		}
		if whole.remaining < 0 {
			t.Fatalf("% x: %d bytes remaining", data, whole.remaining)
		}
	})
}
