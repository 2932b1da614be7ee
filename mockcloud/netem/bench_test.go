package netem

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkConn streams 4 KiB writes through a delayed connection to a reader on
// the other end of a pipe. The delay is 1 ns, so what is measured is the cost of
// the queue, the timer and the send pump per write, not the wait.
func BenchmarkConn(b *testing.B) {
	a, peer := net.Pipe()
	c := newConn(a, time.Nanosecond, streamLimit, lingerTimeout)
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, peer)
		done <- err
	}()
	buf := make([]byte, 4096)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	c.Close()
	<-done
	peer.Close()
	c.pumps.Wait()
}

// BenchmarkPacketConn sends 512-byte datagrams on loopback to a delayed socket
// that reads each: one datagram through the receive pump and the inbound queue per
// op. The delay is 1 ns: the cost is measured, not the wait.
func BenchmarkPacketConn(b *testing.B) {
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	p := newPacketConn(raw, time.Nanosecond, packetLimit)
	defer p.Close()
	client, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	msg := make([]byte, 512)
	in := make([]byte, 2048)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.WriteTo(msg, p.LocalAddr()); err != nil {
			b.Fatal(err)
		}
		if _, _, err := p.ReadFrom(in); err != nil {
			b.Fatal(err)
		}
	}
}
