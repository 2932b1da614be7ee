// Package dnstest runs programmable DNS servers on loopback for tests: UDP and TCP on one
// ephemeral port, answers from a handler, every query recorded. Production code never
// imports it.
package dnstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"github.com/miekg/dns"
)

// Query is one query a Server received.
type Query struct {
	Msg    *dns.Msg
	Net    string         // "udp" or "tcp"
	Source netip.AddrPort // the client's address
}

// Server is a DNS server on a loopback address, UDP and TCP on the same port.
type Server struct {
	// Addr is the bound "ip:port", for both UDP and TCP.
	Addr string

	udp, tcp *dns.Server
	served   sync.WaitGroup

	mu      sync.Mutex
	handler dns.Handler
	queries []Query
}

// Start runs a server with handler h on 127.0.0.1 at an ephemeral port.
func Start(h dns.Handler) (*Server, error) {
	return StartOn(netip.AddrFrom4([4]byte{127, 0, 0, 1}), h)
}

// StartOn runs a server with handler h on the loopback address ip at an ephemeral port.
// Any other address is refused: tests never listen beyond loopback.
func StartOn(ip netip.Addr, h dns.Handler) (*Server, error) {
	if !ip.IsLoopback() {
		return nil, fmt.Errorf("dnstest: %s is not a loopback address", ip)
	}
	s := &Server{handler: h}
	var pc net.PacketConn
	var ln net.Listener
	// The UDP port is chosen by the kernel; the same TCP port is usually free too, but
	// another test may take it in between, so try a few times.
	for try := 0; ; try++ {
		var err error
		pc, err = net.ListenPacket("udp", netip.AddrPortFrom(ip, 0).String())
		if err != nil {
			return nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
		if try == 9 {
			return nil, fmt.Errorf("dnstest: listen tcp: %w", err)
		}
	}
	s.Addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	s.tcp = &dns.Server{Listener: ln, Handler: dns.HandlerFunc(s.serve)}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		started := make(chan struct{})
		failed := make(chan error, 1)
		srv.NotifyStartedFunc = sync.OnceFunc(func() { close(started) })
		s.served.Add(1)
		go func() {
			defer s.served.Done()
			if err := srv.ActivateAndServe(); err != nil {
				failed <- err
			}
		}()
		select {
		case <-started:
		case err := <-failed:
			pc.Close()
			ln.Close()
			s.Close()
			return nil, fmt.Errorf("dnstest: serve: %w", err)
		}
	}
	return s, nil
}

// SetHandler replaces the handler for the queries that follow.
func (s *Server) SetHandler(h dns.Handler) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

func (s *Server) serve(w dns.ResponseWriter, r *dns.Msg) {
	q := Query{Msg: r.Copy(), Net: "udp"}
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		q.Source = a.AddrPort()
	case *net.TCPAddr:
		q.Net, q.Source = "tcp", a.AddrPort()
	}
	q.Source = netip.AddrPortFrom(q.Source.Addr().Unmap(), q.Source.Port())
	s.mu.Lock()
	s.queries = append(s.queries, q)
	h := s.handler
	s.mu.Unlock()
	if h != nil {
		h.ServeDNS(w, r)
	}
}

// Queries returns the queries received so far, in arrival order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// Count is the number of queries received so far.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}

// Close stops both listeners and waits for the serving goroutines to end.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv == nil {
			continue
		}
		if err := srv.ShutdownContext(context.Background()); err != nil && !isNotStarted(err) {
			errs = append(errs, err)
		}
	}
	s.served.Wait()
	return errors.Join(errs...)
}

func isNotStarted(err error) bool { return err != nil && err.Error() == "dns: server not started" }
