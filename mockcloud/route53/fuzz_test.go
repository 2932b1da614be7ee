package route53

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"go.yaml.in/yaml/v3"
)

// fuzzSources are the client addresses FuzzServeDNS rotates through: US,
// DE, JP, unmapped, IPv6.
var fuzzSources = []string{"127.0.1.1", "127.0.2.1", "127.0.3.1", "127.0.0.1", "::1"}

// checkReply runs q through s as if from src and checks the reply is one
// well-formed message for q that fits the transport.
func serveChecked(s *Server, q *dns.Msg, src string, tcp bool) error {
	ap := netip.AddrPortFrom(netip.MustParseAddr(src), 5300)
	w := &recorder{remote: net.UDPAddrFromAddrPort(ap)}
	if tcp {
		w.remote = net.TCPAddrFromAddrPort(ap)
	}
	s.ServeDNS(w, q)
	if q.Response {
		if len(w.msgs) != 0 {
			return fmt.Errorf("answered a response")
		}
		return nil
	}
	if len(w.msgs) != 1 {
		return fmt.Errorf("%d replies, want 1", len(w.msgs))
	}
	wire, err := w.msgs[0].Pack()
	if err != nil {
		return fmt.Errorf("reply does not pack: %w\n%v", err, w.msgs[0])
	}
	if !tcp && len(wire) > min(udpLimit(q), maxUDPSize) {
		return fmt.Errorf("UDP reply of %d bytes over the client's %d", len(wire), udpLimit(q))
	}
	back := new(dns.Msg)
	if err := back.Unpack(wire); err != nil {
		return fmt.Errorf("reply does not parse: %w", err)
	}
	if back.Id != q.Id || !back.Response {
		return fmt.Errorf("reply id %d response %v for query id %d", back.Id, back.Response, q.Id)
	}
	return nil
}

func fuzzQueries() [][]byte {
	var out [][]byte
	add := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	add(withECS(question(globalName, dns.TypeA), "198.51.100.0/24"))
	add(withECS(question(globalName, dns.TypeAAAA), "2001:db8:1::/48"))
	add(question("ladder.example.com.", dns.TypeTXT))
	add(question("nope.example.com.", dns.TypeA))
	add(question("iot.example.com.", dns.TypeA))
	add(question("example.org.", dns.TypeA))
	add(question("big.example.com.", dns.TypeTXT))
	add(question("www.example.com.", dns.TypeANY).SetEdns0(512, true))
	two := question("www.example.com.", dns.TypeA)
	two.Question = append(two.Question, two.Question[0])
	add(two)
	notify := question("example.com.", dns.TypeSOA)
	notify.Opcode = dns.OpcodeNotify
	add(notify)
	bad := question(globalName, dns.TypeA).SetEdns0(1232, false)
	bad.IsEdns0().Option = []dns.EDNS0{rawECS(0, 1, 24, 0, 198, 51, 100, 7)}
	add(bad)
	v1 := question(globalName, dns.TypeA).SetEdns0(1232, false)
	v1.IsEdns0().SetVersion(1)
	add(v1)
	return out
}

func FuzzServeDNS(f *testing.F) {
	cfg := rigConfig(f)
	s, err := New(cfg, nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, q := range fuzzQueries() {
		f.Add(q)
	}
	f.Add([]byte{})
	f.Add([]byte("\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		wire := slices.Clone(data)
		poisonMalformedECS(wire) // what the server's reader does
		q := new(dns.Msg)
		if err := q.Unpack(wire); err != nil {
			return // miekg/dns answers FORMERR or drops it before ServeDNS
		}
		src := fuzzSources[len(data)%len(fuzzSources)]
		for _, tcp := range []bool{false, true} {
			if err := serveChecked(s, q, src, tcp); err != nil {
				t.Fatalf("tcp=%v src=%s: %v\nquery: %v", tcp, src, err, q)
			}
		}
	})
}

func FuzzConfig(f *testing.F) {
	rig, err := os.ReadFile("testdata/rig.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rig)
	f.Add([]byte("zones: [{name: example.com}]"))
	f.Add([]byte("zones: [{name: example.com, records: [{name: a.example.com, type: A, setIdentifier: x, geo: {country: XX}, values: [1.2.3.4]}]}]"))
	f.Add([]byte("locations: [{cidr: 10.0.0.0/8, continent: EU, country: DE}]\nzones: [{name: x.}]"))
	f.Add([]byte("addr: 0.0.0.0:53"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var cfg Config
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return
		}
		verr := cfg.Validate()
		s, nerr := New(cfg, nil)
		if (verr == nil) != (nerr == nil) {
			t.Fatalf("Validate = %v but New = %v", verr, nerr)
		}
		if nerr != nil {
			return
		}
		// Every record of a valid config answers with a well-formed reply.
		for _, z := range cfg.Zones {
			if err := serveChecked(s, question(dns.Fqdn(z.Name), dns.TypeSOA), "127.0.0.1", false); err != nil {
				t.Fatal(err)
			}
			for _, r := range z.Records {
				name := r.Name
				if name == "@" {
					name = z.Name
				}
				q := question(dns.Fqdn(name), supportedTypes[r.Type])
				for _, src := range fuzzSources {
					if err := serveChecked(s, q, src, false); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	})
}
