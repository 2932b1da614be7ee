package interop

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"testing"
)

// The proxies read what clients send; neither parser may panic or accept a target
// that is not host:port.
func FuzzParseConnect(f *testing.F) {
	f.Add([]byte("CONNECT global.iot.example.com:8883 HTTP/1.1\r\nHost: global.iot.example.com:8883\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("CONNECT [::1]:443 HTTP/1.1\r\n\r\n"))
	f.Add([]byte("CONNECT example.com HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		target, err := parseConnect(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			if !errors.Is(err, errProxyProtocol) {
				t.Fatalf("error %v is not errProxyProtocol", err)
			}
			return
		}
		if _, _, err := net.SplitHostPort(target); err != nil {
			t.Fatalf("accepted target %q: %v", target, err)
		}
	})
}

func FuzzParseSOCKS5(f *testing.F) {
	f.Add([]byte("\x05\x01\x00\x05\x01\x00\x03\x16global.iot.example.com\x22\xb3"))
	f.Add([]byte("\x05\x02\x02\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x01\xbb"))
	f.Add([]byte("\x05\x01\x00\x05\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x01\xbb"))
	f.Add([]byte("\x04\x01\x00"))
	f.Add([]byte("\x05\x01\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		if err := parseSOCKS5Greeting(r); err != nil {
			if !errors.Is(err, errProxyProtocol) {
				t.Fatalf("greeting error %v is not errProxyProtocol", err)
			}
			return
		}
		target, err := parseSOCKS5Request(r)
		if err != nil {
			if !errors.Is(err, errProxyProtocol) {
				t.Fatalf("request error %v is not errProxyProtocol", err)
			}
			return
		}
		if _, _, err := splitHostPort(target); err != nil {
			t.Fatalf("accepted target %q: %v", target, err)
		}
	})
}

// Table test of the parsers' verdicts on well-known inputs.
func TestProxyParsers(t *testing.T) {
	tests := []struct {
		name   string
		socks  bool
		in     string
		target string // "" means refused
	}{
		{"connect by name", false, "CONNECT global.iot.example.com:8883 HTTP/1.1\r\nHost: global.iot.example.com:8883\r\n\r\n", "global.iot.example.com:8883"},
		{"connect without port", false, "CONNECT global.iot.example.com HTTP/1.1\r\n\r\n", ""},
		{"GET is not CONNECT", false, "GET http://x/ HTTP/1.1\r\nHost: x:80\r\n\r\n", ""},
		{"socks5 by name", true, "\x05\x01\x00\x05\x01\x00\x03\x16global.iot.example.com\x22\xb3", "global.iot.example.com:8883"},
		{"socks5 by IPv4", true, "\x05\x01\x00\x05\x01\x00\x01\x7f\x00\x00\x01\x01\xbb", "127.0.0.1:443"},
		{"socks5 auth only", true, "\x05\x01\x02", ""},
		{"socks5 BIND", true, "\x05\x01\x00\x05\x02\x00\x01\x7f\x00\x00\x01\x01\xbb", ""},
		{"socks4", true, "\x04\x01\x00\x50\x7f\x00\x00\x01\x00", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var target string
			var err error
			if tc.socks {
				r := bytes.NewReader([]byte(tc.in))
				if err = parseSOCKS5Greeting(r); err == nil {
					target, err = parseSOCKS5Request(r)
				}
			} else {
				target, err = parseConnect(bufio.NewReader(bytes.NewReader([]byte(tc.in))))
			}
			if tc.target == "" {
				if err == nil {
					t.Fatalf("accepted %q as %q", tc.in, target)
				}
				return
			}
			if err != nil || target != tc.target {
				t.Fatalf("got %q, %v; want %q", target, err, tc.target)
			}
		})
	}
}
