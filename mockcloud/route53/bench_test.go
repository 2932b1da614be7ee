package route53

import (
	"net"
	"testing"

	"github.com/miekg/dns"
)

// discard is a dns.ResponseWriter that only counts replies; with pack set
// it also encodes them, as the real writer does.
type discard struct {
	recorder
	pack    bool
	replies int
}

func (d *discard) WriteMsg(m *dns.Msg) error {
	d.replies++
	if d.pack {
		_, err := m.Pack()
		return err
	}
	return nil
}

func BenchmarkServeDNS(b *testing.B) {
	cases := []struct {
		name string
		q    *dns.Msg
		pack bool
	}{
		{"GeoCNAME_ECS", withECS(question(globalName, dns.TypeA), "198.51.100.0/24"), false},
		{"GeoCNAME_ECS_Pack", withECS(question(globalName, dns.TypeA), "198.51.100.0/24"), true},
		{"GeoCNAME_Source", question(globalName, dns.TypeA), false},
		{"NXDOMAIN", question("nope.example.com.", dns.TypeA), false},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s, err := New(rigConfig(b), nil)
			if err != nil {
				b.Fatal(err)
			}
			w := &discard{recorder: recorder{remote: &net.UDPAddr{IP: net.IPv4(127, 0, 1, 1), Port: 5300}}, pack: tc.pack}
			b.ReportAllocs()
			for b.Loop() {
				s.ServeDNS(w, tc.q)
			}
			if w.replies == 0 {
				b.Fatal("no replies")
			}
		})
	}
}
