package netem

import (
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"
)

// udpPair is a delayed packet socket and a raw one, both on loopback.
func udpPair(t *testing.T, d time.Duration, limit int) (delayed *packetConn, peer *net.UDPConn) {
	t.Helper()
	raw, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	delayed = newPacketConn(raw, d, limit)
	t.Cleanup(func() { delayed.Close() })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return delayed, pc.(*net.UDPConn)
}

func readDatagram(t *testing.T, pc net.PacketConn) ([]byte, net.Addr) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, addr, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatalf("ReadFrom: %v", err)
	}
	return buf[:n], addr
}

func TestPacketConnDelaysEachWay(t *testing.T) {
	for _, d := range []time.Duration{5 * time.Millisecond, 40 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			server, client := udpPair(t, d, packetLimit)
			start := time.Now()
			if _, err := client.WriteTo([]byte("query"), server.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			got, from := readDatagram(t, server)
			if string(got) != "query" || from.String() != client.LocalAddr().String() {
				t.Fatalf("server got %q from %v", got, from)
			}
			if in := time.Since(start); in < d {
				t.Errorf("inbound after %v, before the delay %v", in, d)
			}
			sent := time.Now()
			if _, err := server.WriteTo([]byte("answer"), from); err != nil {
				t.Fatal(err)
			}
			got, from = readDatagram(t, client)
			if string(got) != "answer" || from.String() != server.LocalAddr().String() {
				t.Fatalf("client got %q from %v", got, from)
			}
			if out := time.Since(sent); out < d {
				t.Errorf("outbound after %v, before the delay %v", out, d)
			}
		})
	}
}

func TestPacketConnKeepsOrder(t *testing.T) {
	server, client := udpPair(t, 2*time.Millisecond, packetLimit)
	const n = 100
	for i := range n {
		if _, err := client.WriteTo(binary.BigEndian.AppendUint32(nil, uint32(i)), server.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, _ := readDatagram(t, server)
		if v := binary.BigEndian.Uint32(got); v != uint32(i) {
			t.Fatalf("inbound datagram %d is %d", i, v)
		}
		if _, err := server.WriteTo(got, client.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		got, _ := readDatagram(t, client)
		if v := binary.BigEndian.Uint32(got); v != uint32(i) {
			t.Fatalf("outbound datagram %d is %d", i, v)
		}
	}
}

func TestPacketConnDropsWhenFull(t *testing.T) {
	server, client := udpPair(t, 20*time.Millisecond, 100)
	for i := range 10 {
		if _, err := client.WriteTo(make([]byte, 50), server.LocalAddr()); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
	}
	// The queue holds two 50-byte datagrams: the pump keeps the first two and
	// drops the other eight.
	waitFor(t, "the pump to read every datagram", func() bool {
		server.in.mu.Lock()
		defer server.in.mu.Unlock()
		return len(server.in.items)+server.in.dropped == 10
	})
	server.in.mu.Lock()
	kept, dropped := len(server.in.items), server.in.dropped
	server.in.mu.Unlock()
	if kept != 2 || dropped != 8 {
		t.Fatalf("kept %d, dropped %d; want 2 and 8", kept, dropped)
	}
	for i := range 2 {
		if got, _ := readDatagram(t, server); len(got) != 50 {
			t.Fatalf("datagram %d has %d bytes", i, len(got))
		}
	}
	_ = server.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := server.ReadFrom(make([]byte, 64)); !isTimeout(err) {
		t.Fatalf("third read: %d bytes, %v; want a timeout (the rest was dropped)", n, err)
	}
}

func TestPacketConnDeadlines(t *testing.T) {
	past := time.Unix(1, 0)
	tests := []struct {
		name string
		run  func(t *testing.T, p *packetConn)
	}{
		{"read deadline in the past", func(t *testing.T, p *packetConn) {
			_ = p.SetReadDeadline(past)
			_, _, err := p.ReadFrom(make([]byte, 1))
			var ne net.Error
			// miekg/dns goes on reading after a temporary error and stops at any other.
			//lint:ignore SA1019 miekg/dns decides with Temporary
			if !isTimeout(err) || !errors.As(err, &ne) || !ne.Temporary() {
				t.Fatalf("ReadFrom: %v, want a temporary timeout", err)
			}
		}},
		{"deadline set while ReadFrom blocks", func(t *testing.T, p *packetConn) {
			done := make(chan error, 1)
			go func() {
				_, _, err := p.ReadFrom(make([]byte, 1))
				done <- err
			}()
			_ = p.SetDeadline(past)
			if err := <-done; !isTimeout(err) {
				t.Fatalf("ReadFrom: %v, want a timeout", err)
			}
		}},
		{"write deadline while the queue is full", func(t *testing.T, p *packetConn) {
			_ = p.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
			var err error
			for i := 0; err == nil && i < 100; i++ {
				_, err = p.WriteTo(make([]byte, 64), p.LocalAddr())
			}
			if !isTimeout(err) {
				t.Fatalf("WriteTo: %v, want a timeout", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, _ := udpPair(t, time.Hour, 256)
			tc.run(t, p)
		})
	}
}

// Close returns with both pumps stopped, even with datagrams queued an hour ahead,
// and ends a blocked ReadFrom.
func TestPacketConnClose(t *testing.T) {
	p, client := udpPair(t, time.Hour, packetLimit)
	if _, err := p.WriteTo([]byte("never sent"), client.LocalAddr()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := p.ReadFrom(make([]byte, 16))
		done <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked ReadFrom: %v, want net.ErrClosed", err)
	}
	if _, err := p.WriteTo([]byte("x"), client.LocalAddr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("WriteTo after Close: %v", err)
	}
	if err := p.Close(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, _, err := client.ReadFrom(make([]byte, 16)); !isTimeout(err) {
		t.Fatalf("the peer got %d bytes (%v) from a socket closed before they were due", n, err)
	}
}
