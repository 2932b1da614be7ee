package interop

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	errProxyProtocol = errors.New("proxy protocol error")
	errNoRoute       = errors.New("no route to target")
)

// proxy stands in for DNS on the rig: clients connect to it and ask for a target by
// name, and it forwards to the one address it knows for that name. Either protocol
// leaves TLS to the client, end to end.
type proxy struct {
	t      testing.TB
	ln     net.Listener
	routes map[string]string // lowercase "host:port" → dial address
	// handshake reads the client's request (through br, which buffers c) and
	// returns the target it asked for; reply answers it (ok or refused).
	handshake func(c net.Conn, br *bufio.Reader) (string, error)
	reply     func(c net.Conn, ok bool) error

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	targets []string // every target asked for, in order
	closed  bool
	wg      sync.WaitGroup
}

// startConnectProxy is an HTTP CONNECT proxy, the tunnel aws-crt speaks.
func startConnectProxy(t testing.TB, routes map[string]string) *proxy {
	hs := func(_ net.Conn, br *bufio.Reader) (string, error) { return parseConnect(br) }
	return startProxy(t, routes, hs, func(c net.Conn, ok bool) error {
		status := "HTTP/1.1 200 Connection established\r\n\r\n"
		if !ok {
			status = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
		}
		_, err := io.WriteString(c, status)
		return err
	})
}

// startSOCKS5Proxy is a SOCKS5 proxy without authentication, the one libmosquitto
// speaks; socks5h:// URLs make the client send the name rather than an address.
func startSOCKS5Proxy(t testing.TB, routes map[string]string) *proxy {
	return startProxy(t, routes, func(c net.Conn, br *bufio.Reader) (string, error) {
		if err := parseSOCKS5Greeting(br); err != nil {
			return "", err
		}
		// Method "no authentication"; the request follows.
		if _, err := c.Write([]byte{5, 0}); err != nil {
			return "", fmt.Errorf("socks5 method reply: %w", err)
		}
		return parseSOCKS5Request(br)
	}, func(c net.Conn, ok bool) error {
		code := byte(0) // succeeded
		if !ok {
			code = 2 // connection not allowed by ruleset
		}
		_, err := c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0})
		return err
	})
}

func startProxy(t testing.TB, routes map[string]string, hs func(net.Conn, *bufio.Reader) (string, error), reply func(net.Conn, bool) error) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, routes: map[string]string{}, handshake: hs, reply: reply, conns: map[net.Conn]struct{}{}}
	for k, v := range routes {
		p.routes[strings.ToLower(k)] = v
	}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() netip.AddrPort { return netip.MustParseAddrPort(p.ln.Addr().String()) }

// asked is every target the clients asked for.
func (p *proxy) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

func (p *proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer p.untrack(c)
			if err := p.handle(c); err != nil {
				p.t.Logf("proxy %s: %v", c.RemoteAddr(), err)
			}
		}()
	}
}

func (p *proxy) handle(c net.Conn) error {
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	target, err := p.handshake(c, br)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.targets = append(p.targets, target)
	p.mu.Unlock()
	addr, ok := p.routes[strings.ToLower(target)]
	if !ok {
		_ = p.reply(c, false)
		return fmt.Errorf("%w: %q", errNoRoute, target)
	}
	var d net.Dialer
	up, err := d.Dial("tcp", addr)
	if err != nil {
		_ = p.reply(c, false)
		return fmt.Errorf("dial %s for %s: %w", addr, target, err)
	}
	if !p.track(up) {
		up.Close()
		return nil
	}
	defer p.untrack(up)
	if err := p.reply(c, true); err != nil {
		return fmt.Errorf("reply to %s: %w", c.RemoteAddr(), err)
	}
	_ = c.SetDeadline(time.Time{})
	// Bytes the client sent right behind its request (a TLS ClientHello) are
	// already buffered in br.
	done := make(chan struct{}, 2)
	go func() {
		_, _ = io.Copy(up, br)
		closeWrite(up)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(c, up)
		closeWrite(c)
		done <- struct{}{}
	}()
	<-done
	<-done
	return nil
}

func closeWrite(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

func (p *proxy) close() {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
	p.wg.Wait()
}

// parseConnect reads one HTTP CONNECT request and returns its authority.
func parseConnect(br *bufio.Reader) (string, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return "", fmt.Errorf("%w: read CONNECT: %w", errProxyProtocol, err)
	}
	if req.Body != nil {
		req.Body.Close()
	}
	if req.Method != http.MethodConnect {
		return "", fmt.Errorf("%w: method %q, want CONNECT", errProxyProtocol, req.Method)
	}
	if _, _, err := splitHostPort(req.Host); err != nil {
		return "", err
	}
	return req.Host, nil
}

func splitHostPort(hp string) (string, uint16, error) {
	h, ps, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%w: target %q: %w", errProxyProtocol, hp, err)
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil || h == "" || port == 0 {
		return "", 0, fmt.Errorf("%w: target %q", errProxyProtocol, hp)
	}
	return h, uint16(port), nil
}

// parseSOCKS5Greeting reads the version/methods message (RFC 1928 §3) and insists
// on the "no authentication" method.
func parseSOCKS5Greeting(r io.Reader) error {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return fmt.Errorf("%w: socks5 greeting: %w", errProxyProtocol, err)
	}
	if hdr[0] != 5 || hdr[1] == 0 {
		return fmt.Errorf("%w: socks5 greeting version %d, %d methods", errProxyProtocol, hdr[0], hdr[1])
	}
	methods := make([]byte, hdr[1])
	if _, err := io.ReadFull(r, methods); err != nil {
		return fmt.Errorf("%w: socks5 methods: %w", errProxyProtocol, err)
	}
	for _, m := range methods {
		if m == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: socks5 client does not offer no-authentication", errProxyProtocol)
}

// parseSOCKS5Request reads a CONNECT request (RFC 1928 §4) and returns host:port.
func parseSOCKS5Request(r io.Reader) (string, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", fmt.Errorf("%w: socks5 request: %w", errProxyProtocol, err)
	}
	if hdr[0] != 5 || hdr[1] != 1 || hdr[2] != 0 {
		return "", fmt.Errorf("%w: socks5 request version %d command %d", errProxyProtocol, hdr[0], hdr[1])
	}
	var host string
	switch hdr[3] {
	case 1, 4: // IPv4, IPv6
		b := make([]byte, 4)
		if hdr[3] == 4 {
			b = make([]byte, 16)
		}
		if _, err := io.ReadFull(r, b); err != nil {
			return "", fmt.Errorf("%w: socks5 address: %w", errProxyProtocol, err)
		}
		a, _ := netip.AddrFromSlice(b)
		host = a.String()
	case 3: // domain name
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return "", fmt.Errorf("%w: socks5 name length: %w", errProxyProtocol, err)
		}
		b := make([]byte, n[0])
		if _, err := io.ReadFull(r, b); err != nil {
			return "", fmt.Errorf("%w: socks5 name: %w", errProxyProtocol, err)
		}
		if !validHostName(string(b)) {
			return "", fmt.Errorf("%w: socks5 name %q", errProxyProtocol, b)
		}
		host = string(b)
	default:
		return "", fmt.Errorf("%w: socks5 address type %d", errProxyProtocol, hdr[3])
	}
	var port [2]byte
	if _, err := io.ReadFull(r, port[:]); err != nil {
		return "", fmt.Errorf("%w: socks5 port: %w", errProxyProtocol, err)
	}
	p := binary.BigEndian.Uint16(port[:])
	if p == 0 {
		return "", fmt.Errorf("%w: socks5 port 0", errProxyProtocol)
	}
	return net.JoinHostPort(host, strconv.Itoa(int(p))), nil
}

// validHostName admits letters, digits, '-', '_' and '.', which is all a DNS name
// a client may ask for needs.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
