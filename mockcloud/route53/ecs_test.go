package route53

import (
	"errors"
	"net"
	"testing"

	"github.com/miekg/dns"
)

func TestParseECS(t *testing.T) {
	tests := []struct {
		name    string
		opt     dns.EDNS0_SUBNET
		wantErr bool
		bits    int
		addr    string
	}{
		{"IPv4 /24", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.0")}, false, 24, "198.51.100.0"},
		{"IPv4 /32", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 32, Address: net.ParseIP("198.51.100.7")}, false, 32, "198.51.100.7"},
		{"IPv4 /0", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 0, Address: net.ParseIP("0.0.0.0")}, false, 0, "0.0.0.0"},
		{"IPv6 /56", dns.EDNS0_SUBNET{Family: 2, SourceNetmask: 56, Address: net.ParseIP("2001:db8:1:100::")}, false, 56, "2001:db8:1:100::"},
		{"family 0 as dig sends for +subnet=0", dns.EDNS0_SUBNET{Family: 0, SourceNetmask: 0}, false, 0, "invalid IP"},
		{"family 0 with a prefix", dns.EDNS0_SUBNET{Family: 0, SourceNetmask: 8}, true, 0, ""},
		{"unknown family", dns.EDNS0_SUBNET{Family: 3, SourceNetmask: 8, Address: net.ParseIP("10.0.0.0")}, true, 0, ""},
		{"IPv4 prefix too long", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 33, Address: net.ParseIP("10.0.0.0")}, true, 0, ""},
		{"IPv6 prefix too long", dns.EDNS0_SUBNET{Family: 2, SourceNetmask: 129, Address: net.ParseIP("2001:db8::")}, true, 0, ""},
		{"IPv4 bits beyond the prefix", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.7")}, true, 0, ""},
		{"IPv6 bits beyond the prefix", dns.EDNS0_SUBNET{Family: 2, SourceNetmask: 48, Address: net.ParseIP("2001:db8:1:1::")}, true, 0, ""},
		{"family 1 with an IPv6 address", dns.EDNS0_SUBNET{Family: 1, SourceNetmask: 24, Address: net.ParseIP("2001:db8::")}, true, 0, ""},
		{"family 2 without an address", dns.EDNS0_SUBNET{Family: 2, SourceNetmask: 24}, true, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := parseECS(&tc.opt)
			if tc.wantErr {
				if !errors.Is(err, errMalformedECS) {
					t.Fatalf("got %+v, %v; want errMalformedECS", cs, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cs.bits != tc.bits || cs.addr.String() != tc.addr {
				t.Fatalf("got %s/%d, want %s/%d", cs.addr, cs.bits, tc.addr, tc.bits)
			}
		})
	}
}

func TestMalformedECSIsFormErr(t *testing.T) {
	s := newRigServer(t, nil)
	tests := []struct {
		name string
		opts []dns.EDNS0
	}{
		{"bits beyond the prefix", []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.7")}}},
		{"prefix too long", []dns.EDNS0{&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 40, Address: net.ParseIP("198.51.100.0")}}},
		{"two ECS options", []dns.EDNS0{
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.0")},
			&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("192.0.2.0")},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := question(globalName, dns.TypeA).SetEdns0(1232, false)
			q.IsEdns0().Option = tc.opts
			// Straight to the handler: these would not pack on the wire.
			w := &recorder{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 1, 1), Port: 5300}}
			s.ServeDNS(w, q)
			if len(w.msgs) != 1 {
				t.Fatalf("%d replies", len(w.msgs))
			}
			if got := w.msgs[0]; got.Rcode != dns.RcodeFormatError || len(got.Answer) != 0 {
				t.Fatalf("rcode %s answers %v, want FORMERR and none", dns.RcodeToString[got.Rcode], got.Answer)
			}
		})
	}
}

// rawECS is an ECS option with exactly these data octets.
func rawECS(data ...byte) dns.EDNS0 {
	return &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: data}
}

func TestECSWire(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"IPv4 /24", []byte{0, 1, 24, 0, 198, 51, 100}, true},
		{"IPv4 /20, low nibble clear", []byte{0, 1, 20, 0, 198, 51, 96}, true},
		{"IPv4 /0", []byte{0, 1, 0, 0}, true},
		{"family 0 /0", []byte{0, 0, 0, 0}, true},
		{"IPv6 /48", []byte{0, 2, 48, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 1}, true},
		{"too short for the header", []byte{0, 1, 24}, false},
		{"one octet too many", []byte{0, 1, 24, 0, 198, 51, 100, 0}, false},
		{"full address with /24", []byte{0, 1, 24, 0, 198, 51, 100, 7}, false},
		{"one octet too few", []byte{0, 1, 24, 0, 198, 51}, false},
		{"bits beyond /20", []byte{0, 1, 20, 0, 198, 51, 100}, false},
		{"IPv4 /33", []byte{0, 1, 33, 0, 1, 2, 3, 4, 5}, false},
		{"IPv6 /129", append([]byte{0, 2, 129, 0}, make([]byte, 17)...), false},
		{"family 0 with a prefix", []byte{0, 0, 8, 0, 10}, false},
		{"family 3", []byte{0, 3, 8, 0, 10}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ecsWireError(tc.data)
			if (err == nil) != tc.ok {
				t.Fatalf("ecsWireError = %v, want ok=%v", err, tc.ok)
			}

			// Through the reader guard and the decoder, as the server
			// sees it: a malformed option must not decode.
			q := question(globalName, dns.TypeA).SetEdns0(1232, false)
			q.IsEdns0().Option = []dns.EDNS0{rawECS(tc.data...)}
			wire, err := q.Pack()
			if err != nil {
				t.Fatal(err)
			}
			poisoned := poisonMalformedECS(wire)
			if poisoned == tc.ok {
				t.Fatalf("poisonMalformedECS = %v, want %v", poisoned, !tc.ok)
			}
			decodeErr := new(dns.Msg).Unpack(wire)
			if (decodeErr == nil) != tc.ok {
				t.Fatalf("unpack after guard: %v, want ok=%v", decodeErr, tc.ok)
			}
		})
	}
}

func TestECSScope(t *testing.T) {
	s := newRigServer(t, func(c *Config) {
		// A /25 inside the US /24 changes the answer for half of it.
		c.Locations = append(c.Locations, Location{CIDR: "198.51.100.128/25", Country: "JP"})
	})
	tests := []struct {
		name   string
		qname  string
		qtype  uint16
		ecs    string
		answer string
		scope  uint8
	}{
		{"entry length", globalName, dns.TypeCNAME, "192.0.2.0/24", "CNAME " + euWest1, 24},
		{"longer source gets the entry's length", globalName, dns.TypeCNAME, "192.0.2.77/32", "CNAME " + euWest1, 24},
		{"nested entry narrows the scope", globalName, dns.TypeCNAME, "198.51.100.0/26", "CNAME " + usEast1, 25},
		{"nested entry beyond the source prefix: more bits needed", globalName, dns.TypeCNAME, "198.51.100.0/24", "CNAME " + usEast1, 25},
		{"the nested entry itself", globalName, dns.TypeCNAME, "198.51.100.200/32", "CNAME " + apNE1, 25},
		{"unmapped: largest network without entries", globalName, dns.TypeCNAME, "10.0.0.0/8", "CNAME " + euWest1, 2},
		{"not geolocated: scope 0", "www.example.com.", dns.TypeA, "192.0.2.0/24", "A 192.0.2.10", 0},
		{"NXDOMAIN: scope 0", "nope.example.com.", dns.TypeA, "192.0.2.0/24", "", 0},
		{"source prefix 0: scope 0", globalName, dns.TypeCNAME, "0.0.0.0/0", "CNAME " + euWest1, 0},
		{"IPv6", globalName, dns.TypeCNAME, "2001:db8:1:2::/64", "CNAME " + usEast1, 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := withECS(question(tc.qname, tc.qtype), tc.ecs)
			got := exchange(t, s, q, "127.0.2.1", false)
			a := answerData(got)
			if (tc.answer == "" && len(a) != 0) || (tc.answer != "" && (len(a) == 0 || a[0] != tc.answer)) {
				t.Errorf("answers %q, want %q first", a, tc.answer)
			}
			e := replyECS(got)
			if e == nil {
				t.Fatal("reply carries no ECS option")
			}
			sent := replyECS(q)
			if e.Family != sent.Family || e.SourceNetmask != sent.SourceNetmask || !e.Address.Equal(sent.Address) {
				t.Errorf("echoed %v, want family/prefix/address of %v", e, sent)
			}
			if e.SourceScope != tc.scope {
				t.Errorf("scope %d, want %d", e.SourceScope, tc.scope)
			}
		})
	}
}
