package netem

import (
	"bytes"
	"net"
	"sync"
	"time"
)

// PacketConn returns pc with a one-way delay of d on every datagram, both ways:
// a datagram sent reaches its destination d after WriteTo returned, and one
// received is returned by ReadFrom d after it arrived. A delay of zero or less
// returns pc itself.
//
// Datagrams keep their order. Deadlines apply to ReadFrom and WriteTo as usual.
// Datagrams that arrive while the inbound queue is full are dropped, as by a
// kernel whose receive buffer is full. Close closes pc and discards what is still
// queued either way (datagrams in flight on a link are not owed to anyone); it
// returns once both pumps have stopped.
func PacketConn(pc net.PacketConn, d time.Duration) net.PacketConn {
	if d <= 0 {
		return pc
	}
	return newPacketConn(pc, d, packetLimit)
}

func newPacketConn(pc net.PacketConn, d time.Duration, limit int) *packetConn {
	p := &packetConn{
		pc:     pc,
		d:      d,
		queues: queues{in: newQueue(limit, d, false), out: newQueue(limit, d, false)},
	}
	p.pumps.Add(2)
	go p.receive()
	go p.send()
	return p
}

type packetConn struct {
	pc net.PacketConn
	d  time.Duration
	queues
	once  sync.Once
	pumps sync.WaitGroup // receive and send
}

// receive reads datagrams into the inbound queue, each stamped with the time it
// becomes readable, until the socket fails (closed, most likely): that error is
// queued after the datagrams before it.
func (p *packetConn) receive() {
	defer p.pumps.Done()
	buf := make([]byte, maxDatagram)
	for {
		n, addr, err := p.pc.ReadFrom(buf)
		due := time.Now().Add(p.d)
		if err != nil {
			p.in.arrive(item{due: due, err: err}, true)
			return
		}
		if !p.in.arrive(item{due: due, data: bytes.Clone(buf[:n]), addr: addr}, true) {
			return
		}
	}
}

// send writes each queued datagram when due, until Close. A datagram the socket
// refuses is lost, as on a link: its sender returned long ago.
func (p *packetConn) send() {
	defer p.pumps.Done()
	for {
		it, ok := p.out.next()
		if !ok {
			return
		}
		_, _ = p.pc.WriteTo(it.data, it.addr)
	}
}

func (p *packetConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := p.in.readFrom(b)
	return n, addr, p.opError("read", nil, err)
}

func (p *packetConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if err := p.out.put(bytes.Clone(b), cloneAddr(addr)); err != nil {
		return 0, p.opError("write", addr, err)
	}
	return len(b), nil
}

// Close closes the socket, discards both queues and waits for the pumps.
func (p *packetConn) Close() error {
	first := false
	p.once.Do(func() { first = true })
	if !first {
		return p.opError("close", nil, net.ErrClosed)
	}
	p.in.close()
	p.out.close()
	err := p.pc.Close()
	p.pumps.Wait()
	return err
}

func (p *packetConn) LocalAddr() net.Addr { return p.pc.LocalAddr() }

func (p *packetConn) opError(op string, addr net.Addr, err error) error {
	return opError(op, p.pc.LocalAddr(), addr, err)
}

// cloneAddr copies a UDP address, which the caller may change after WriteTo
// returns; other address types are taken as they are.
func cloneAddr(a net.Addr) net.Addr {
	u, ok := a.(*net.UDPAddr)
	if !ok || u == nil {
		return a
	}
	c := *u
	c.IP = bytes.Clone(u.IP)
	return &c
}
