package route53

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// client returns a miekg/dns client over net ("udp" or "tcp") whose
// queries leave from src.
func client(network, src string) *dns.Client {
	d := &net.Dialer{Timeout: 2 * time.Second}
	ip := net.ParseIP(src)
	if network == "tcp" {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	} else {
		d.LocalAddr = &net.UDPAddr{IP: ip}
	}
	return &dns.Client{Net: network, Dialer: d, Timeout: 2 * time.Second}
}

func TestLoopbackUDPAndTCP(t *testing.T) {
	s := startRigServer(t, nil)
	tests := []struct {
		name string
		src  string
		ecs  string
		want []string
	}{
		{"source US", "127.0.1.1", "", []string{"CNAME " + usEast1, "A 127.0.0.11"}},
		{"source DE", "127.0.2.1", "", []string{"CNAME " + euWest1, "A 127.0.0.12"}},
		{"source JP", "127.0.3.1", "", []string{"CNAME " + apNE1, "A 127.0.0.13"}},
		{"unmapped source", "127.0.0.1", "", []string{"CNAME " + euWest1, "A 127.0.0.12"}},
		{"ECS wins over source", "127.0.3.1", "198.51.100.0/24", []string{"CNAME " + usEast1, "A 127.0.0.11"}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+" "+tc.name, func(t *testing.T) {
				q := question(globalName, dns.TypeA)
				if tc.ecs != "" {
					q = withECS(q, tc.ecs)
				}
				r, _, err := client(network, tc.src).Exchange(q, s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
					t.Fatalf("rcode %s AA %v", dns.RcodeToString[r.Rcode], r.Authoritative)
				}
				if got := answerData(r); !slices.Equal(got, tc.want) {
					t.Fatalf("answers %q, want %q", got, tc.want)
				}
				if tc.ecs != "" {
					if e := replyECS(r); e == nil || e.SourceScope != 24 {
						t.Fatalf("ECS echo %v, want scope 24", e)
					}
				}
			})
		}
	}
}

// TestTruncationRetryOverTCP plays a stub resolver: a UDP answer with TC
// set is asked again over TCP, which carries everything.
func TestTruncationRetryOverTCP(t *testing.T) {
	s := startRigServer(t, nil)
	q := question("big.example.com.", dns.TypeTXT)
	r, _, err := client("udp", "127.0.0.1").Exchange(q, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated {
		t.Fatalf("UDP answer of %d records without TC", len(r.Answer))
	}
	r.Compress = true // as it came over the wire
	if n := r.Len(); n > dns.MinMsgSize {
		t.Fatalf("UDP answer is %d bytes, over 512", n)
	}
	r, _, err = client("tcp", "127.0.0.1").Exchange(q, s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 8 {
		t.Fatalf("TCP answer: TC %v, %d records, want 8 untruncated", r.Truncated, len(r.Answer))
	}
	// A big enough EDNS payload size makes UDP carry it all.
	r, _, err = client("udp", "127.0.0.1").Exchange(question("big.example.com.", dns.TypeTXT).SetEdns0(1232, false), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if r.Truncated || len(r.Answer) != 8 {
		t.Fatalf("UDP with EDNS: TC %v, %d records, want 8", r.Truncated, len(r.Answer))
	}
}

// TestMalformedECSOnTheWire sends options miekg/dns would decode without
// complaint; the reader guard must turn them into FORMERR.
func TestMalformedECSOnTheWire(t *testing.T) {
	s := startRigServer(t, nil)
	tests := []struct {
		name string
		data []byte
	}{
		{"address octet too many", []byte{0, 1, 24, 0, 198, 51, 100, 0}},
		{"address octet too few", []byte{0, 1, 24, 0, 198, 51}},
		{"bits beyond the prefix", []byte{0, 1, 20, 0, 198, 51, 100}},
		{"unknown family", []byte{0, 7, 24, 0, 198, 51, 100}},
		{"prefix too long", []byte{0, 1, 40, 0, 198, 51, 100, 0, 0}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range tests {
			t.Run(network+" "+tc.name, func(t *testing.T) {
				q := question(globalName, dns.TypeA).SetEdns0(1232, false)
				q.IsEdns0().Option = []dns.EDNS0{rawECS(tc.data...)}
				r, _, err := client(network, "127.0.1.1").Exchange(q, s.Addr())
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != dns.RcodeFormatError || len(r.Answer) != 0 {
					t.Fatalf("rcode %s answers %v, want FORMERR", dns.RcodeToString[r.Rcode], r.Answer)
				}
			})
		}
	}
}

func TestWireRcodes(t *testing.T) {
	s := startRigServer(t, nil)
	tests := []struct {
		name  string
		build func() *dns.Msg
		rcode int
	}{
		{"NXDOMAIN", func() *dns.Msg { return question("nope.example.com.", dns.TypeA) }, dns.RcodeNameError},
		{"REFUSED", func() *dns.Msg { return question("example.org.", dns.TypeA) }, dns.RcodeRefused},
		{"NOTIMP", func() *dns.Msg {
			q := question("example.com.", dns.TypeSOA)
			q.Opcode = dns.OpcodeStatus
			return q
		}, dns.RcodeNotImplemented},
		{"FORMERR for two questions", func() *dns.Msg {
			q := question("www.example.com.", dns.TypeA)
			q.Question = append(q.Question, q.Question[0])
			return q
		}, dns.RcodeFormatError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _, err := client("udp", "127.0.0.1").Exchange(tc.build(), s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	s := newRigServer(t, nil)
	if s.Addr() != "" {
		t.Fatalf("Addr before Start = %q", s.Addr())
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr = %q, want 127.0.0.1 and the picked port", addr)
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrAlreadyStarted) {
		t.Fatalf("second Start = %v, want ErrAlreadyStarted", err)
	}
	// The port is held for both protocols.
	if pc, err := net.ListenPacket("udp", addr); err == nil {
		pc.Close()
		t.Fatalf("UDP %s still free while serving", addr)
	}
	if ln, err := net.Listen("tcp", addr); err == nil {
		ln.Close()
		t.Fatalf("TCP %s still free while serving", addr)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if s.Addr() != "" {
		t.Fatalf("Addr after Close = %q", s.Addr())
	}
	if err := s.Start(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Start after Close = %v, want ErrClosed", err)
	}
	// Both sockets were released.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("TCP %s not released: %v", addr, err)
	}
	ln.Close()
}

func TestStartFixedPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s := newRigServer(t, func(c *Config) { c.Addr = ln.Addr().String() })
	err = s.Start(context.Background())
	if err == nil {
		s.Close()
		t.Fatal("Start on a port taken for TCP succeeded")
	}
	// A failed start leaves the server startable and closable.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStartCancelled(t *testing.T) {
	s := newRigServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Start(ctx); err == nil {
		s.Close()
		t.Fatal("Start with a cancelled context succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestStartIPv6Loopback(t *testing.T) {
	if pc, err := net.ListenPacket("udp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		pc.Close()
	}
	s := startRigServer(t, func(c *Config) { c.Addr = "[::1]:0" })
	r, _, err := client("tcp", "::1").Exchange(question("www.example.com.", dns.TypeA), s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Answer) != 2 {
		t.Fatalf("answers %v", r.Answer)
	}
}
