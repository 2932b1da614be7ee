package dnsresolve

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"github.com/fleetboot/fleetboot/dnsresolve/dnstest"
	"github.com/miekg/dns"
)

func mustRR(tb testing.TB, s string) dns.RR {
	tb.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		tb.Fatal(err)
	}
	return rr
}

func query(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	return q
}

func replyTo(tb testing.TB, q *dns.Msg, rcode int, answer []string, ns ...string) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetRcode(q, rcode)
	for _, s := range answer {
		m.Answer = append(m.Answer, mustRR(tb, s))
	}
	for _, s := range ns {
		m.Ns = append(m.Ns, mustRR(tb, s))
	}
	return m
}

func TestProcessReply(t *testing.T) {
	g := global + "."
	r := regional + "."
	tests := []struct {
		name      string
		qtype     uint16
		rcode     int
		answer    []string
		ns        []string
		edit      func(*dns.Msg)
		wantNext  string
		wantAddrs []string
		wantLinks int
		wantErr   error
	}{
		{name: "chain with addresses", qtype: dns.TypeA, answer: []string{g + " 60 IN CNAME " + r, r + " 30 IN A 127.0.0.12"},
			wantAddrs: []string{"127.0.0.12"}, wantLinks: 1},
		{name: "records out of order", qtype: dns.TypeA, answer: []string{r + " 30 IN A 127.0.0.12", g + " 60 IN CNAME " + r},
			wantAddrs: []string{"127.0.0.12"}, wantLinks: 1},
		{name: "duplicate address once", qtype: dns.TypeA, answer: []string{r + " 30 IN A 127.0.0.12", g + " 60 IN CNAME " + r, r + " 30 IN A 127.0.0.12"},
			wantAddrs: []string{"127.0.0.12"}, wantLinks: 1},
		{name: "CNAME only", qtype: dns.TypeAAAA, answer: []string{g + " 60 IN CNAME " + r}, wantNext: r, wantLinks: 1},
		{name: "CNAME with target zone SOA is NODATA", qtype: dns.TypeAAAA, answer: []string{g + " 60 IN CNAME " + r},
			ns: []string{soaAWS}, wantErr: ErrNoData},
		{name: "CNAME with another zone's SOA", qtype: dns.TypeAAAA, answer: []string{g + " 60 IN CNAME " + r},
			ns: []string{soaEx}, wantNext: r, wantLinks: 1},
		{name: "other family ignored", qtype: dns.TypeAAAA, answer: []string{g + " 60 IN CNAME " + r, r + " 30 IN A 127.0.0.12"}, wantNext: r, wantLinks: 1},
		{name: "addresses of an unrelated name ignored", qtype: dns.TypeA, answer: []string{"evil.example. 60 IN A 192.0.2.1"},
			wantErr: ErrNoData},
		{name: "address at the alias ignored", qtype: dns.TypeA, answer: []string{g + " 60 IN CNAME " + r, g + " 60 IN A 192.0.2.1"},
			wantNext: r, wantLinks: 1},
		{name: "empty", qtype: dns.TypeA, wantErr: ErrNoData},
		{name: "NXDOMAIN", qtype: dns.TypeA, rcode: dns.RcodeNameError, wantErr: ErrNXDOMAIN},
		{name: "SERVFAIL", qtype: dns.TypeA, rcode: dns.RcodeServerFailure, wantErr: ErrServFail},
		{name: "REFUSED", qtype: dns.TypeA, rcode: dns.RcodeRefused, wantErr: ErrRefused},
		{name: "FORMERR", qtype: dns.TypeA, rcode: dns.RcodeFormatError, wantErr: ErrRcode},
		{name: "question name in other case", qtype: dns.TypeA, answer: []string{"GLOBAL.iot.example.com. 60 IN A 127.0.0.1"},
			edit: func(m *dns.Msg) { m.Question[0].Name = "Global.IoT.Example.Com." }, wantAddrs: []string{"127.0.0.1"}},
		{name: "wrong id", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Id++ }, wantErr: ErrMismatch},
		{name: "wrong name", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question[0].Name = "x." }, wantErr: ErrMismatch},
		{name: "wrong class", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS }, wantErr: ErrMismatch},
		{name: "two questions", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question = append(m.Question, m.Question[0]) }, wantErr: ErrMismatch},
		{name: "no question NOERROR", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Question = nil }, wantErr: ErrMismatch},
		{name: "no question NXDOMAIN", qtype: dns.TypeA, rcode: dns.RcodeNameError, edit: func(m *dns.Msg) { m.Question = nil }, wantErr: ErrMismatch},
		{name: "not a response", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Response = false }, wantErr: ErrMismatch},
		{name: "other opcode", qtype: dns.TypeA, edit: func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify }, wantErr: ErrMismatch},
		{name: "nil reply", qtype: dns.TypeA, edit: func(m *dns.Msg) { *m = dns.Msg{} }, wantErr: ErrMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := query(global, tt.qtype)
			reply := replyTo(t, q, tt.rcode, tt.answer, tt.ns...)
			if tt.edit != nil {
				tt.edit(reply)
			}
			l := newLookup(global+".", tt.qtype)
			next, err := l.processReply(q, reply)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !errors.Is(tt.wantErr, ErrNoData) && !errors.Is(tt.wantErr, ErrNXDOMAIN) && (len(l.links) != 0 || len(l.addrs) != 0) {
					t.Errorf("a rejected reply changed the lookup: %+v", l)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if next != tt.wantNext || len(l.links) != tt.wantLinks {
				t.Errorf("next %q links %d", next, len(l.links))
			}
			var got []string
			for _, a := range l.addrs {
				got = append(got, a.String())
			}
			if !slices.Equal(got, tt.wantAddrs) {
				t.Errorf("addrs %v, want %v", got, tt.wantAddrs)
			}
		})
	}
	t.Run("nil", func(t *testing.T) {
		if _, err := newLookup("a.", dns.TypeA).processReply(query("a", dns.TypeA), nil); !errors.Is(err, ErrMalformed) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestRegionFromName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a1b2c3-ats.iot.us-east-1.amazonaws.com", "us-east-1"},
		{"a1b2c3-ats.iot.eu-west-1.amazonaws.com.", "eu-west-1"},
		{"A1B2C3-ATS.IOT.AP-NORTHEAST-1.AMAZONAWS.COM", "ap-northeast-1"},
		{"x.y.iot.us-gov-west-1.amazonaws.com", "us-gov-west-1"},
		{"a-ats.iot.cn-north-1.amazonaws.com.cn", "cn-north-1"},
		{"a-ats.iot.eu-central-2.amazonaws.com", "eu-central-2"},
		{"a1b2c3.ats.iot.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"},
		{"a1b2c3-beta.iot.us-east-1.amazonaws.com", "us-east-1"},
		{"a1b2c3.credentials.iot.eu-west-1.amazonaws.com", "eu-west-1"},
		{"a1b2c3.jobs.iot.eu-west-1.amazonaws.com", "eu-west-1"},
		{"data.iot-fips.us-east-1.amazonaws.com", "us-east-1"},
		{"a1b2c3d4e5f6g7-ats.iot.ap-northeast-1.amazonaws.com", "ap-northeast-1"},
		{"iot-fips.us-east-1.amazonaws.com", ""},
		{"data.iotfips.us-east-1.amazonaws.com", ""},
		{"abc123-lb-0123.elb.us-east-1.amazonaws.com", ""},
		{"a.iot.us-east-1.vpce.amazonaws.com", ""},
		{"a.iot.us-east-1.amazonaws.com.cn.evil.example", ""},
		{"a.b..iot.us-east-1.amazonaws.com", ""},
		{"iot.us-east-1.amazonaws.com", ""},
		{".iot.us-east-1.amazonaws.com", ""},
		{"a..iot.us-east-1.amazonaws.com", ""},
		{"a-ats.iot.amazonaws.com", ""},
		{"a-ats.iotx.us-east-1.amazonaws.com", ""},
		{"a-ats.iot.useast1.amazonaws.com", ""},
		{"a-ats.iot.us-east.amazonaws.com", ""},
		{"a-ats.iot.us-east-100.amazonaws.com", ""},
		{"a-ats.iot.usa-east-1.amazonaws.com", ""},
		{"a-ats.iot.us--1.amazonaws.com", ""},
		{"a-ats.iot.u1-east-1.amazonaws.com", ""},
		{"a-ats.iot.us-east-1.amazonaws.com.evil.example", ""},
		{"a-ats.iot.us-east-1.notamazonaws.com", ""},
		{"global.iot.example.com", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RegionFromName(tt.name); got != tt.want {
			t.Errorf("RegionFromName(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHappyEyeballsOrder(t *testing.T) {
	tests := []struct{ in, want []string }{
		{nil, nil},
		{[]string{"127.0.0.1"}, []string{"127.0.0.1"}},
		{[]string{"127.0.0.1", "127.0.0.2", "::1", "2001:db8::1"}, []string{"::1", "127.0.0.1", "2001:db8::1", "127.0.0.2"}},
		{[]string{"::1", "::2", "::3", "10.0.0.1"}, []string{"::1", "10.0.0.1", "::2", "::3"}},
		{[]string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "::1"}, []string{"::1", "10.0.0.1", "10.0.0.2", "10.0.0.3"}},
		{[]string{"::ffff:10.0.0.1", "::1", "::1"}, []string{"::1", "::ffff:10.0.0.1"}},
	}
	for _, tt := range tests {
		in := addrs(tt.in...)
		orig := slices.Clone(in)
		got := HappyEyeballsOrder(in)
		if !slices.Equal(got, addrs(tt.want...)) {
			t.Errorf("HappyEyeballsOrder(%v) = %v, want %v", tt.in, got, tt.want)
		}
		if !slices.Equal(in, orig) {
			t.Errorf("input modified")
		}
	}
	if got := HappyEyeballsOrder([]netip.Addr{{}}); len(got) != 0 {
		t.Errorf("invalid address kept: %v", got)
	}
}

// sentinels are the errors FuzzAnswer accepts from processReply.
var sentinels = []error{ErrNXDOMAIN, ErrNoData, ErrServFail, ErrRefused, ErrRcode, ErrMismatch,
	ErrMalformed, ErrCNAMELoop, ErrChainTooLong}

// answerFromBytes is the receive path for one reply: parse, then processReply.
func answerFromBytes(q *dns.Msg, b []byte) (*lookup, string, error) {
	l := newLookup(q.Question[0].Name, q.Question[0].Qtype)
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		return l, "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	next, err := l.processReply(q, m)
	return l, next, err
}

func FuzzAnswer(f *testing.F) {
	for _, chase := range []bool{true, false} {
		zone := dnstest.NewZone(chase, rigRecords()...)
		for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
			for _, name := range []string{global, regional, "nope.example.com"} {
				q := query(name, qt)
				q.Id = 0
				b, err := zone.Answer(q).Pack()
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
			}
		}
	}
	loop := dnstest.NewZone(true, "global.iot.example.com. 60 IN CNAME b.example.com.", "b.example.com. 60 IN CNAME global.iot.example.com.")
	b, _ := loop.Answer(query(global, dns.TypeA)).Pack()
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, b []byte) {
		// The reply's id and question type pick the query, so parsing gets past the checks.
		q := query(global, dns.TypeA)
		q.Id = 0
		if len(b) >= 2 {
			q.Id = uint16(b[0])<<8 | uint16(b[1])
		}
		if len(b) >= 1 && b[len(b)-1]&1 == 1 {
			q.Question[0].Qtype = dns.TypeAAAA
		}
		l, next, err := answerFromBytes(q, b)
		if err != nil {
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("untyped error %v", err)
		}
		if len(l.links) > MaxChain {
			t.Fatalf("%d links", len(l.links))
		}
		if next == "" && len(l.addrs) == 0 {
			t.Fatal("finished without addresses")
		}
		if next != "" && (len(l.links) == 0 || next != l.current()) {
			t.Fatalf("next %q without a new link", next)
		}
		for _, a := range l.addrs {
			if !a.IsValid() || (q.Question[0].Qtype == dns.TypeA) != a.Is4() {
				t.Fatalf("address %v for type %d", a, q.Question[0].Qtype)
			}
		}
	})
}

func benchReply(b *testing.B, chase bool) (*dns.Msg, []byte) {
	q := query(global, dns.TypeA)
	m := dnstest.NewZone(chase, rigRecords()...).Answer(q)
	raw, err := m.Pack()
	if err != nil {
		b.Fatal(err)
	}
	return q, raw
}

// BenchmarkAnswer measures the receive path for the usual reply (CNAME plus the target's
// two A records): parse and process.
func BenchmarkAnswer(b *testing.B) {
	q, raw := benchReply(b, true)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		l, next, err := answerFromBytes(q, raw)
		if err != nil || next != "" || len(l.addrs) != 2 {
			b.Fatal(next, err)
		}
	}
}

// BenchmarkProcessReply measures answer handling alone, on an already parsed reply.
func BenchmarkProcessReply(b *testing.B) {
	for _, chase := range []bool{true, false} {
		b.Run(fmt.Sprintf("target_in_answer=%v", chase), func(b *testing.B) {
			q, raw := benchReply(b, chase)
			m := new(dns.Msg)
			if err := m.Unpack(raw); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				l := newLookup(global+".", dns.TypeA)
				if _, err := l.processReply(q, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkHappyEyeballsOrder(b *testing.B) {
	in := addrs("127.0.0.1", "127.0.0.2", "127.0.0.3", "::1", "2001:db8::1", "2001:db8::2")
	b.ReportAllocs()
	for b.Loop() {
		HappyEyeballsOrder(in)
	}
}
