//go:build !notpm

package tpm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

func response(size uint32, body []byte) []byte {
	b := make([]byte, 10, 10+len(body))
	binary.BigEndian.PutUint16(b, 0x8001)
	binary.BigEndian.PutUint32(b[2:], size)
	return append(b, body...)
}

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    []byte // nil: an error
		oneByte bool
	}{
		{"header only", response(10, nil), response(10, nil), false},
		{"with body", response(14, []byte{1, 2, 3, 4}), response(14, []byte{1, 2, 3, 4}), false},
		{"split into single bytes", response(14, []byte{1, 2, 3, 4}), response(14, []byte{1, 2, 3, 4}), true},
		{"trailing bytes stay", append(response(11, []byte{9}), 7, 7), response(11, []byte{9}), false},
		{"empty", nil, nil, false},
		{"short header", response(10, nil)[:6], nil, false},
		{"size below header", response(9, nil), nil, false},
		{"size too large", response(maxResponseSize+1, nil), nil, false},
		{"short body", response(20, []byte{1}), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = bytes.NewReader(tt.in)
			if tt.oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := readResponse(r)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("readResponse = %x, want an error", got)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("readResponse = %x, %v; want %x", got, err, tt.want)
			}
		})
	}
}

// FuzzReadResponse: bytes from the network never panic the framing, and a
// response read is exactly as long as its header says.
func FuzzReadResponse(f *testing.F) {
	f.Add(response(10, nil))
	f.Add(response(14, []byte{0, 0, 0, 0}))
	f.Add(response(0xffffffff, nil))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readResponse(bytes.NewReader(b))
		if err != nil {
			return
		}
		if len(got) < tpmHeaderSize || uint32(len(got)) != binary.BigEndian.Uint32(got[2:6]) || !bytes.HasPrefix(b, got) {
			t.Fatalf("readResponse(%x) = %x", b, got)
		}
	})
}

// TestTCPTransport runs the transport against a loopback peer that answers in
// pieces and then sends garbage: the transport reassembles, and after a bad
// response refuses further commands rather than read a misaligned stream.
func TestTCPTransport(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		cmd := make([]byte, 12)
		if _, err := io.ReadFull(c, cmd); err != nil {
			done <- err
			return
		}
		rsp := response(14, cmd[10:12:12])
		rsp = append(rsp, 0xaa, 0xbb)
		for _, b := range rsp {
			if _, err := c.Write([]byte{b}); err != nil {
				done <- err
				return
			}
		}
		if _, err := io.ReadFull(c, cmd); err != nil {
			done <- err
			return
		}
		_, err = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		done <- err
	}()
	tr, err := dialTCP(context.Background(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	cmd := response(12, []byte{0xaa, 0xbb})
	got, err := tr.Send(cmd)
	if err != nil || !bytes.Equal(got, response(14, []byte{0xaa, 0xbb, 0xaa, 0xbb})) {
		t.Fatalf("Send = %x, %v", got, err)
	}
	if _, err := tr.Send(cmd); err == nil {
		t.Fatal("an HTTP answer was taken for a TPM response")
	}
	if _, err := tr.Send(cmd); !errors.Is(err, errBrokenStream) {
		t.Fatalf("Send after a bad response: %v, want errBrokenStream", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
