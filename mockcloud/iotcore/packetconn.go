package iotcore

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// packetConn is a client's connection as mochi reads it: the plaintext side of
// TLS. It follows MQTT's framing in what mochi reads and gives the rest of a
// packet, once its first byte has arrived, at most PacketTimeout. mochi
// allocates a packet's declared size (up to MaximumPacketSize) before reading
// its body and would otherwise wait for the rest until the keep-alive deadline,
// 1.5 × up to 1,200 s: a few bytes of header would hold 132 KiB for half an hour.
// An idle connection between packets keeps mochi's own deadline.
//
// The framing is followed above TLS on purpose: below it, a packet's first bytes
// may arrive in the same record as the end of the one before, and nothing there
// tells where a packet starts.
type packetConn struct {
	*tls.Conn
	timeout time.Duration
	// done is closed once mochi is through with the connection: its client is
	// torn down, session bookkeeping included (brokerHook.OnSessionEstablish).
	done chan struct{}

	mu sync.Mutex
	// set is the read deadline mochi asked for; applied the one in force.
	set, applied time.Time
	// inPacket: a packet has begun and not ended; its bytes must all be in by due.
	inPacket bool
	due      time.Time
	// The fixed header of the packet being read: the remaining length so far, the
	// multiplier of its next byte, whether it is complete; then the body bytes
	// still to come.
	length, mult int
	lenDone      bool
	remaining    int
}

// newPacketConn bounds each packet of tc to timeout.
func newPacketConn(tc *tls.Conn, timeout time.Duration) *packetConn {
	return &packetConn{Conn: tc, timeout: timeout, done: make(chan struct{})}
}

func (c *packetConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.follow(b[:n])
		_ = c.apply()
		c.mu.Unlock()
	}
	return n, err
}

// follow moves the framing over p; a packet that begins here is due
// PacketTimeout from now.
func (c *packetConn) follow(p []byte) {
	for len(p) > 0 {
		switch {
		case !c.inPacket:
			c.inPacket, c.due = true, time.Now().Add(c.timeout)
			c.length, c.mult, c.lenDone = 0, 1, false
			p = p[1:]
		case !c.lenDone:
			c.length += int(p[0]&0x7f) * c.mult
			c.mult *= 128
			// A fifth length byte is malformed: mochi refuses the packet and closes.
			c.lenDone = p[0]&0x80 == 0 || c.mult > 128*128*128*128
			c.remaining = c.length
			p = p[1:]
		default:
			k := min(c.remaining, len(p))
			c.remaining -= k
			p = p[k:]
		}
		if c.inPacket && c.lenDone && c.remaining == 0 {
			c.inPacket = false
		}
	}
}

// apply puts in force mochi's read deadline, or the packet's if that is sooner.
func (c *packetConn) apply() error {
	d := c.set
	if c.inPacket && (d.IsZero() || c.due.Before(d)) {
		d = c.due
	}
	if d.Equal(c.applied) {
		return nil
	}
	c.applied = d
	return c.Conn.SetReadDeadline(d)
}

func (c *packetConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

func (c *packetConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.set = t
	return c.apply()
}

var _ net.Conn = (*packetConn)(nil)
