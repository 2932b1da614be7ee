package netem

import (
	"net"
	"testing"
	"time"
)

// FuzzConn writes a script of chunks both ways through a delayed connection and
// checks that every byte arrives once and in order. The first byte picks the
// delay (0–3 ms) and the queue limit; each further byte is one write: the high
// bit picks the side, the rest the size in units of 97 bytes (plus one).
func FuzzConn(f *testing.F) {
	f.Add([]byte{1, 0x01, 0x81})
	f.Add([]byte{2, 0x7f, 0xff, 0x00, 0x80, 0x10, 0x90})
	f.Add([]byte{0x13, 0x05, 0x05, 0x85, 0x85, 0x40, 0xc0})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) < 2 || len(script) > 64 {
			t.Skip()
		}
		d := time.Duration(script[0]%4) * time.Millisecond
		limit := streamLimit
		if script[0]&0x10 != 0 {
			limit = 100 // smaller than most writes
		}
		var steps []int
		for _, b := range script[1:] {
			n := int(b&0x7f)*97 + 1
			if b&0x80 != 0 {
				n = -n
			}
			steps = append(steps, n)
		}
		a, b := net.Pipe()
		defer b.Close()
		if d == 0 {
			defer a.Close()
			if Conn(a, d) != a {
				t.Fatal("no delay wrapped the connection")
			}
			exchange(t, a, b, steps)
			return
		}
		c := newConn(a, d, limit, lingerTimeout)
		exchange(t, c, b, steps)
		c.Close()
		b.Close()
		c.pumps.Wait()
	})
}
