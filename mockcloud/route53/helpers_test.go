package route53

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"
	"go.yaml.in/yaml/v3"
)

// Addresses of the rig endpoints in testdata/rig.yaml.
const (
	globalName = "global.iot.example.com."
	usEast1    = "abc123-ats.iot.us-east-1.amazonaws.com."
	euWest1    = "abc123-ats.iot.eu-west-1.amazonaws.com."
	apNE1      = "abc123-ats.iot.ap-northeast-1.amazonaws.com."
)

func rigConfig(t testing.TB) Config {
	t.Helper()
	b, err := os.ReadFile("testdata/rig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("parse rig.yaml: %v", err)
	}
	return cfg
}

func newRigServer(t testing.TB, edit func(*Config)) *Server {
	t.Helper()
	cfg := rigConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	s, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func startRigServer(t testing.TB, edit func(*Config)) *Server {
	t.Helper()
	s := newRigServer(t, edit)
	if err := s.Start(context.Background()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// recorder is a dns.ResponseWriter that keeps what the handler writes.
type recorder struct {
	remote net.Addr
	msgs   []*dns.Msg
}

func (r *recorder) LocalAddr() net.Addr {
	if _, ok := r.remote.(*net.TCPAddr); ok {
		return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
	}
	return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}
}
func (r *recorder) RemoteAddr() net.Addr { return r.remote }
func (r *recorder) WriteMsg(m *dns.Msg) error {
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recorder) Write(b []byte) (int, error) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return 0, err
	}
	r.msgs = append(r.msgs, m)
	return len(b), nil
}
func (r *recorder) Close() error        { return nil }
func (r *recorder) TsigStatus() error   { return nil }
func (r *recorder) TsigTimersOnly(bool) {}
func (r *recorder) Hijack()             {}

// exchange hands q to s.ServeDNS as if it came from src over UDP (or TCP),
// and returns the reply after a round trip through the wire format, so
// every reply is also checked to pack and parse.
func exchange(t testing.TB, s *Server, q *dns.Msg, src string, tcp bool) *dns.Msg {
	t.Helper()
	ap := netip.AddrPortFrom(netip.MustParseAddr(src), 53000)
	w := &recorder{remote: net.UDPAddrFromAddrPort(ap)}
	if tcp {
		w.remote = net.TCPAddrFromAddrPort(ap)
	}
	s.ServeDNS(w, q)
	if len(w.msgs) != 1 {
		t.Fatalf("ServeDNS wrote %d messages, want 1", len(w.msgs))
	}
	wire, err := w.msgs[0].Pack()
	if err != nil {
		t.Fatalf("pack reply: %v\n%v", err, w.msgs[0])
	}
	if !tcp && len(wire) > udpLimit(q) {
		t.Fatalf("UDP reply of %d bytes exceeds the client's %d", len(wire), udpLimit(q))
	}
	reply := new(dns.Msg)
	if err := reply.Unpack(wire); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	if reply.Id != q.Id || !reply.Response {
		t.Fatalf("reply id %d response %v, want id %d response", reply.Id, reply.Response, q.Id)
	}
	return reply
}

func udpLimit(q *dns.Msg) int {
	if o := q.IsEdns0(); o != nil {
		return max(int(o.UDPSize()), dns.MinMsgSize)
	}
	return dns.MinMsgSize
}

func question(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	return q
}

// withECS adds EDNS0 (payload 1232) and an ECS option for cidr.
func withECS(q *dns.Msg, cidr string) *dns.Msg {
	q.SetEdns0(1232, false)
	pfx := netip.MustParsePrefix(cidr)
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(pfx.Bits())}
	if pfx.Addr().Is4() {
		e.Family = 1
	} else {
		e.Family = 2
	}
	e.Address = net.IP(pfx.Addr().AsSlice())
	q.IsEdns0().Option = append(q.IsEdns0().Option, e)
	return q
}

// answerData lists the answer section as "TYPE data" strings.
func answerData(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		h := rr.Header()
		out = append(out, dns.TypeToString[h.Rrtype]+" "+rr.String()[len(h.String()):])
	}
	return out
}

func replyECS(m *dns.Msg) *dns.EDNS0_SUBNET {
	o := m.IsEdns0()
	if o == nil {
		return nil
	}
	for _, e := range o.Option {
		if s, ok := e.(*dns.EDNS0_SUBNET); ok {
			return s
		}
	}
	return nil
}
