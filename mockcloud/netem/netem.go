// Package netem adds a fixed one-way delay to sockets in user space, so that a rig
// on loopback behaves like a long link: what a wrapped socket sends reaches its peer
// d later, and what reaches it is handed to the application d after it arrived.
//
// Order is kept, each socket is delayed on its own (a slow peer of one connection
// never holds up another), and the goroutines are per socket, never per packet:
// two for each connection or packet socket. Buffers are bounded. The kernel still
// answers TCP handshakes at once, so a wrapped listener adds no delay before
// Accept; count round trips beyond TCP.
package netem

import (
	"errors"
	"net"
	"os"
	"time"
)

// Size limits of the queues, in bytes, per socket and direction.
const (
	// streamLimit is how much a connection holds in each direction: about what a
	// kernel socket buffer holds. A full outbound queue blocks Write (honouring the
	// write deadline); a full inbound queue stops reading from the socket, so TCP
	// flow control pushes back on the peer.
	streamLimit = 1 << 20
	// packetLimit is how much a packet socket holds in each direction. Datagrams
	// that arrive while the inbound queue is full are dropped, as a kernel drops
	// them when its receive buffer overflows; a full outbound queue blocks WriteTo.
	packetLimit = 4 << 20
	// readSize is the receive buffer of one connection's reader: enough for a TLS
	// record in a few reads, small enough for thousands of connections.
	readSize = 8 << 10
	// maxDatagram is the largest datagram read.
	maxDatagram = 64 << 10
	// lingerTimeout bounds how long a closed connection keeps trying to send what
	// was written before Close, beyond its delay, when the peer does not read.
	lingerTimeout = 5 * time.Second
)

// Listener returns ln with every accepted connection wrapped by Conn. A delay of
// zero or less returns ln itself.
func Listener(ln net.Listener, d time.Duration) net.Listener {
	if d <= 0 {
		return ln
	}
	return &listener{Listener: ln, d: d}
}

type listener struct {
	net.Listener
	d time.Duration
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Conn(c, l.d), nil
}

// queues are a socket's two directions; their deadlines are the socket's.
type queues struct{ in, out *queue }

func (q queues) SetDeadline(t time.Time) error {
	q.in.setDeadline(t)
	q.out.setDeadline(t)
	return nil
}

func (q queues) SetReadDeadline(t time.Time) error {
	q.in.setDeadline(t)
	return nil
}

func (q queues) SetWriteDeadline(t time.Time) error {
	q.out.setDeadline(t)
	return nil
}

// opError gives a queue's own errors (closed, deadline) the shape a socket
// returns; errors of the socket pass as they are.
func opError(op string, local, remote net.Addr, err error) error {
	if err == nil || (!errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded)) {
		return err
	}
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return &net.OpError{Op: op, Net: local.Network(), Source: local, Addr: remote, Err: err}
}
