package iotcore_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
)

// A packet whose first bytes came must be complete within PacketTimeout, however
// long the client's keep-alive (60 s here): a few bytes of a large PUBLISH must
// not hold its buffer. Between packets, and for a packet that arrives in pieces
// in time, the keep-alive alone counts.
func TestPacketTimeout(t *testing.T) {
	const packetTimeout = 300 * time.Millisecond
	rg := newRig(t, func(c *iotcore.Config) { c.PacketTimeout = packetTimeout })
	pingreq := []byte{0xC0, 0x00}
	// The header of a PUBLISH declaring 100,000 bytes, and 10 of them.
	bigPublish := append([]byte{0x30}, remainingLength(100_000)...)
	bigPublish = append(bigPublish, make([]byte, 10)...)

	for _, tc := range []struct {
		name string
		// send writes to c; a write error fails the test only where the region
		// must keep c open.
		send func(c net.Conn) error
		// closed: the region must close c; else a PINGREQ after send is answered.
		closed bool
	}{
		{"idle between packets", func(net.Conn) error {
			time.Sleep(3 * packetTimeout)
			return nil
		}, false},
		{"a packet in pieces, in time, then idle", func(c net.Conn) error {
			if _, err := c.Write(pingreq[:1]); err != nil {
				return err
			}
			time.Sleep(packetTimeout / 3)
			if _, err := c.Write(pingreq[1:]); err != nil {
				return err
			}
			if err := readPingresp(c); err != nil {
				return err
			}
			time.Sleep(3 * packetTimeout)
			return nil
		}, false},
		{"header of a large packet, then nothing", func(c net.Conn) error {
			_, err := c.Write(bigPublish)
			return err
		}, true},
		{"header glued to a whole packet", func(c net.Conn) error {
			_, err := c.Write(append(append([]byte(nil), pingreq...), bigPublish...))
			return err
		}, true},
		{"trickled a byte at a time", func(c net.Conn) error {
			// Each byte well within the timeout of the one before; the packet's
			// time runs out all the same.
			for i := 0; i < 8; i++ {
				if _, err := c.Write(bigPublish[i : i+1]); err != nil {
					return err
				}
				time.Sleep(packetTimeout / 4)
			}
			return nil
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mqttSession(t, rg, rg.claim.tls, "claim-packet-timeout")
			err := tc.send(c)
			if tc.closed {
				if _, err := closedByServer(c, closeWithin); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err != nil {
				t.Fatalf("the region closed the connection: %v", err)
			}
			if _, err := c.Write(pingreq); err != nil {
				t.Fatal(err)
			}
			if err := readPingresp(c); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func readPingresp(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(closeWithin))
	defer c.SetReadDeadline(time.Time{})
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	if b[0] != 0xD0 || b[1] != 0 {
		return fmt.Errorf("want PINGRESP, got % x", b)
	}
	return nil
}
