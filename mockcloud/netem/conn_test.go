package netem

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// tcpPair connects a raw client to a server side accepted through Listener(d),
// on loopback.
func tcpPair(t *testing.T, d time.Duration) (client, server net.Conn) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(raw, d)
	t.Cleanup(func() { ln.Close() })
	if ln.Addr().String() != raw.Addr().String() {
		t.Fatalf("Addr %s, want %s", ln.Addr(), raw.Addr())
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() {
		client.Close()
		server.Close()
		if c, ok := server.(*conn); ok {
			c.pumps.Wait()
		}
	})
	return client, server
}

// pipePair is a delayed conn and its raw peer over net.Pipe: nothing buffers
// between them but the delayed side's queues.
func pipePair(t *testing.T, d time.Duration, limit int, linger time.Duration) (delayed *conn, peer net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	delayed = newConn(a, d, limit, linger)
	t.Cleanup(func() {
		delayed.Close()
		b.Close()
		delayed.pumps.Wait()
	})
	return delayed, b
}

func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	buf := make([]byte, n)
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return buf
}

func TestZeroDelayIsIdentity(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	for _, d := range []time.Duration{0, -time.Second} {
		if Conn(a, d) != a || Listener(ln, d) != ln || PacketConn(pc, d) != pc {
			t.Errorf("delay %v wrapped the socket", d)
		}
	}
}

// Each direction is delayed by d: a message is never readable before d after it
// was written, and a request/reply takes at least 2d.
func TestConnDelaysEachDirection(t *testing.T) {
	for _, d := range []time.Duration{5 * time.Millisecond, 40 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			client, server := tcpPair(t, d)
			start := time.Now()
			if _, err := client.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			if got := readN(t, server, 4); string(got) != "ping" {
				t.Fatalf("server read %q", got)
			}
			if in := time.Since(start); in < d {
				t.Errorf("inbound after %v, before the delay %v", in, d)
			}
			sent := time.Now()
			if _, err := server.Write([]byte("pong")); err != nil {
				t.Fatal(err)
			}
			if got := readN(t, client, 4); string(got) != "pong" {
				t.Fatalf("client read %q", got)
			}
			if out := time.Since(sent); out < d {
				t.Errorf("outbound after %v, before the delay %v", out, d)
			}
			if rtt := time.Since(start); rtt < 2*d {
				t.Errorf("round trip %v, below twice the delay %v", rtt, d)
			}
		})
	}
}

// exchange writes each script step from its side while both sides read, and
// checks that every byte arrives once and in order.
func exchange(t *testing.T, delayed, peer net.Conn, steps []int) {
	t.Helper()
	var fromDelayed, fromPeer bytes.Buffer
	var b byte
	for _, n := range steps {
		w := &fromPeer
		if n < 0 {
			w, n = &fromDelayed, -n
		}
		for range n {
			b++
			w.WriteByte(b)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	read := func(c net.Conn, want []byte, who string) {
		defer wg.Done()
		got := make([]byte, len(want))
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			errs <- errors.New(who + ": " + err.Error())
			return
		}
		if !bytes.Equal(got, want) {
			errs <- errors.New(who + ": bytes out of order or altered")
		}
	}
	write := func(c net.Conn, sign int) {
		defer wg.Done()
		var src *bytes.Buffer
		if sign > 0 {
			src = bytes.NewBuffer(bytes.Clone(fromPeer.Bytes()))
		} else {
			src = bytes.NewBuffer(bytes.Clone(fromDelayed.Bytes()))
		}
		for _, n := range steps {
			if n*sign <= 0 {
				continue
			}
			if _, err := c.Write(src.Next(n * sign)); err != nil {
				errs <- err
				return
			}
		}
	}
	wg.Add(4)
	go read(delayed, fromPeer.Bytes(), "delayed side")
	go read(peer, fromDelayed.Bytes(), "peer")
	go write(peer, 1)
	go write(delayed, -1)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestConnKeepsOrder(t *testing.T) {
	tests := []struct {
		name  string
		limit int
		steps []int // > 0: the peer writes that many bytes; < 0: the delayed side
	}{
		{"one byte each way", streamLimit, []int{1, -1}},
		{"many small writes", streamLimit, []int{1, 2, 3, -1, -2, -3, 5, 8, 13, -21, -34, 55, 89, -144}},
		{"larger than the read buffer", streamLimit, []int{3 * readSize, -5 * readSize, readSize + 1, -(readSize - 1)}},
		{"queue smaller than the writes", 100, []int{1000, -1000, 250, -250, 99, -101}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			delayed, peer := pipePair(t, 2*time.Millisecond, tc.limit, lingerTimeout)
			exchange(t, delayed, peer, tc.steps)
		})
	}
}

// A connection whose peer does not read fills its own queue only: another
// connection's bytes still flow.
func TestConnsAreIndependent(t *testing.T) {
	stuck, _ := pipePair(t, time.Millisecond, 4096, 50*time.Millisecond)
	filled := make(chan error, 1)
	go func() {
		// The first write goes to the send pump, blocked in the pipe; the next ones
		// fill the queue, then block until the deadline.
		_ = stuck.SetWriteDeadline(time.Now().Add(time.Minute))
		for {
			if _, err := stuck.Write(make([]byte, 1024)); err != nil {
				filled <- err
				return
			}
		}
	}()
	waitFor(t, "the stuck queue to fill", func() bool {
		stuck.out.mu.Lock()
		defer stuck.out.mu.Unlock()
		return stuck.out.size >= 4096
	})
	client, server := tcpPair(t, time.Millisecond)
	if _, err := server.Write([]byte("still flowing")); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, client, 13); string(got) != "still flowing" {
		t.Fatalf("read %q", got)
	}
	stuck.Close()
	if err := <-filled; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked Write after Close: %v, want net.ErrClosed", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) && errors.As(err, &ne) && ne.Timeout()
}

func TestConnDeadlines(t *testing.T) {
	past := time.Unix(1, 0)
	tests := []struct {
		name string
		run  func(t *testing.T, c *conn, peer net.Conn)
	}{
		{"read deadline in the past", func(t *testing.T, c *conn, _ net.Conn) {
			_ = c.SetReadDeadline(past)
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("Read: %v, want a timeout", err)
			}
		}},
		{"read deadline passes while waiting", func(t *testing.T, c *conn, _ net.Conn) {
			_ = c.SetDeadline(time.Now().Add(20 * time.Millisecond))
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("Read: %v, want a timeout", err)
			}
		}},
		{"deadline set while Read blocks", func(t *testing.T, c *conn, _ net.Conn) {
			done := make(chan error, 1)
			go func() {
				_, err := c.Read(make([]byte, 1))
				done <- err
			}()
			_ = c.SetReadDeadline(past)
			if err := <-done; !isTimeout(err) {
				t.Fatalf("Read: %v, want a timeout", err)
			}
		}},
		{"cleared deadline reads again", func(t *testing.T, c *conn, peer net.Conn) {
			_ = c.SetReadDeadline(past)
			if _, err := c.Read(make([]byte, 1)); !isTimeout(err) {
				t.Fatalf("Read: %v, want a timeout", err)
			}
			_ = c.SetReadDeadline(time.Time{})
			go peer.Write([]byte("x")) //nolint:errcheck
			buf := make([]byte, 1)
			if n, err := c.Read(buf); n != 1 || err != nil || buf[0] != 'x' {
				t.Fatalf("Read: %d %q %v", n, buf, err)
			}
		}},
		{"data waiting for its delay is not readable at the deadline", func(t *testing.T, c *conn, peer net.Conn) {
			if _, err := peer.Write([]byte("late")); err != nil {
				t.Fatal(err)
			}
			// The bytes are in the queue now (the pipe returned), due 100 ms later.
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
			if n, err := c.Read(make([]byte, 4)); n != 0 || !isTimeout(err) {
				t.Fatalf("Read: %d, %v, want a timeout", n, err)
			}
		}},
		{"write deadline while the queue is full", func(t *testing.T, c *conn, _ net.Conn) {
			_ = c.SetWriteDeadline(time.Now().Add(20 * time.Millisecond))
			var err error
			for i := 0; err == nil && i < 1000; i++ {
				_, err = c.Write(make([]byte, 512))
			}
			if !isTimeout(err) {
				t.Fatalf("Write: %v, want a timeout", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, peer := pipePair(t, 100*time.Millisecond, 4096, 10*time.Millisecond)
			tc.run(t, c, peer)
		})
	}
}

func TestConnClose(t *testing.T) {
	t.Run("written bytes still arrive, then EOF", func(t *testing.T) {
		c, peer := pipePair(t, 5*time.Millisecond, streamLimit, lingerTimeout)
		if _, err := c.Write([]byte("bye")); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, peer, 3); string(got) != "bye" {
			t.Fatalf("read %q", got)
		}
		if n, err := peer.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after the data: %d, %v, want EOF", n, err)
		}
		c.pumps.Wait()
	})
	t.Run("blocked Read and Write end, later calls fail", func(t *testing.T) {
		c, _ := pipePair(t, 300*time.Millisecond, 1024, 10*time.Millisecond)
		read := make(chan error, 1)
		go func() {
			_, err := c.Read(make([]byte, 1))
			read <- err
		}()
		if _, err := c.Write(make([]byte, 2048)); err != nil { // fills the queue
			t.Fatal(err)
		}
		write := make(chan error, 1)
		go func() {
			_, err := c.Write([]byte("x"))
			write <- err
		}()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		for name, ch := range map[string]chan error{"Read": read, "Write": write} {
			if err := <-ch; !errors.Is(err, net.ErrClosed) {
				t.Errorf("blocked %s: %v, want net.ErrClosed", name, err)
			}
		}
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Read after Close: %v", err)
		}
		if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
			t.Errorf("Write after Close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, net.ErrClosed) {
			t.Errorf("second Close: %v", err)
		}
		// The peer never reads: the linger deadline ends the send pump.
		c.pumps.Wait()
	})
	t.Run("peer's EOF comes after its data and the delay", func(t *testing.T) {
		client, server := tcpPair(t, 10*time.Millisecond)
		start := time.Now()
		if _, err := client.Write([]byte("last words")); err != nil {
			t.Fatal(err)
		}
		client.Close()
		got, err := io.ReadAll(server)
		if err != nil || string(got) != "last words" {
			t.Fatalf("ReadAll: %q, %v", got, err)
		}
		if since := time.Since(start); since < 10*time.Millisecond {
			t.Errorf("EOF after %v, before the delay", since)
		}
	})
	t.Run("a failed send is returned by later writes", func(t *testing.T) {
		c, peer := pipePair(t, time.Millisecond, streamLimit, lingerTimeout)
		peer.Close()
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatalf("first Write: %v (it is only queued)", err)
		}
		waitFor(t, "the send pump to fail", func() bool {
			c.out.mu.Lock()
			defer c.out.mu.Unlock()
			return c.out.err != nil
		})
		if _, err := c.Write([]byte("x")); !errors.Is(err, io.ErrClosedPipe) {
			t.Fatalf("Write to a closed peer: %v, want io.ErrClosedPipe", err)
		}
	})
}

func TestListenerClose(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := Listener(raw, time.Millisecond)
	done := make(chan error, 1)
	go func() {
		_, err := ln.Accept()
		done <- err
	}()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}
