package dnstest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestServerUDPAndTCP(t *testing.T) {
	z := NewZone(false,
		"example.com. 60 IN SOA ns.example.com. a.example.com. 1 2 3 4 5",
		"a.example.com. 60 IN CNAME b.example.com.",
		"b.example.com. 60 IN A 127.0.0.7",
		"c.example.com. 60 IN TXT \"t\"")
	s, err := Start(z)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	tests := []struct {
		net     string
		name    string
		qtype   uint16
		rcode   int
		answers int
		ns      int
	}{
		{"udp", "a.example.com.", dns.TypeA, dns.RcodeSuccess, 1, 0},
		{"tcp", "b.example.com.", dns.TypeA, dns.RcodeSuccess, 1, 0},
		{"udp", "c.example.com.", dns.TypeA, dns.RcodeSuccess, 0, 1},
		{"tcp", "x.example.com.", dns.TypeA, dns.RcodeNameError, 0, 1},
	}
	for _, tt := range tests {
		c := &dns.Client{Net: tt.net, Timeout: 2 * time.Second}
		q := new(dns.Msg)
		q.SetQuestion(tt.name, tt.qtype)
		r, _, err := c.Exchange(q, s.Addr)
		if err != nil {
			t.Fatalf("%s %s: %v", tt.net, tt.name, err)
		}
		if r.Rcode != tt.rcode || len(r.Answer) != tt.answers || len(r.Ns) != tt.ns || !r.Authoritative {
			t.Errorf("%s %s: %v", tt.net, tt.name, r)
		}
	}
	qs := s.Queries()
	if len(qs) != len(tests) {
		t.Fatalf("%d queries recorded", len(qs))
	}
	for i, q := range qs {
		if q.Net != tests[i].net || q.Msg.Question[0].Name != tests[i].name || q.Source.Addr() != netip.MustParseAddr("127.0.0.1") {
			t.Errorf("query %d: %s %v from %v", i, q.Net, q.Msg.Question, q.Source)
		}
	}
}

func TestZoneChase(t *testing.T) {
	z := NewZone(true, "a.example. 60 IN CNAME b.example.", "b.example. 60 IN CNAME a.example.", "c.example. 60 IN CNAME d.example.", "d.example. 60 IN A 127.0.0.1")
	for _, tt := range []struct {
		name string
		want int
	}{{"a.example.", 2}, {"c.example.", 2}} {
		q := new(dns.Msg)
		q.SetQuestion(tt.name, dns.TypeA)
		if got := len(z.Answer(q).Answer); got != tt.want {
			t.Errorf("%s: %d answers, want %d", tt.name, got, tt.want)
		}
	}
}

func TestStartOnRefusesNonLoopback(t *testing.T) {
	if _, err := StartOn(netip.MustParseAddr("192.0.2.1"), Drop()); err == nil {
		t.Fatal("started on a non-loopback address")
	}
}
