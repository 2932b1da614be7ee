package netem

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// Conn returns c with a one-way delay of d in both directions: bytes written
// reach the peer d after Write returned, and bytes from the peer are readable d
// after they arrived. A delay of zero or less returns c itself.
//
// Write returns once the bytes are queued, as a kernel socket returns once they
// are in its buffer; it blocks only while a full queue drains. Deadlines apply to
// the application's Read and Write as usual. Close discards what was received
// and not yet read; what was written before Close still reaches the peer, then
// the connection closes (its FIN delayed like the data), within d plus a
// few seconds if the peer does not read.
func Conn(c net.Conn, d time.Duration) net.Conn {
	if d <= 0 {
		return c
	}
	return newConn(c, d, streamLimit, lingerTimeout)
}

func newConn(c net.Conn, d time.Duration, limit int, linger time.Duration) *conn {
	dc := &conn{
		nc:     c,
		d:      d,
		linger: linger,
		queues: queues{in: newQueue(limit, d, false), out: newQueue(limit, d, true)},
	}
	dc.pumps.Add(2)
	go dc.receive()
	go dc.send()
	return dc
}

type conn struct {
	nc     net.Conn
	d      time.Duration
	linger time.Duration // see lingerTimeout
	queues
	once  sync.Once
	pumps sync.WaitGroup // receive and send
}

// receive reads from the socket into the inbound queue, stamping each chunk with
// the time it becomes readable. It stops at the socket's first error (queued
// like data, so EOF comes after the bytes before it) or once the application has
// closed the connection.
func (c *conn) receive() {
	defer c.pumps.Done()
	buf := make([]byte, readSize)
	for {
		n, err := c.nc.Read(buf)
		due := time.Now().Add(c.d)
		if n > 0 && !c.in.arrive(item{due: due, data: bytes.Clone(buf[:n])}, false) {
			return
		}
		if err != nil {
			c.in.arrive(item{due: due, err: err}, false)
			return
		}
	}
}

// send writes each queued chunk when due, in order, and closes the socket at the
// FIN that Close queues.
func (c *conn) send() {
	defer c.pumps.Done()
	for {
		it, _ := c.out.next() // the outbound queue lingers: it ends with the FIN
		if it.fin {
			_ = c.nc.Close()
			return
		}
		if _, err := c.nc.Write(it.data); err != nil {
			c.out.fail(err)
		}
	}
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.in.read(p)
	return n, c.opError("read", err)
}

func (c *conn) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if err := c.out.put(bytes.Clone(p), nil); err != nil {
		return 0, c.opError("write", err)
	}
	return len(p), nil
}

// Close ends the connection for the application at once; see Conn for what
// still travels.
func (c *conn) Close() error {
	first := false
	c.once.Do(func() { first = true })
	if !first {
		return c.opError("close", net.ErrClosed)
	}
	c.in.close()
	fin := c.out.close()
	// A peer that does not read must not keep the socket and the send pump
	// forever: the last write gives up this long after the FIN was due.
	_ = c.nc.SetWriteDeadline(fin.Add(c.linger))
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return c.nc.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// opError: see the package's opError.
func (c *conn) opError(op string, err error) error {
	return opError(op, c.nc.LocalAddr(), c.nc.RemoteAddr(), err)
}
