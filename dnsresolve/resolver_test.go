package dnsresolve

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/dnsresolve/dnstest"
	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"
)

const (
	global   = "global.iot.example.com"
	regional = "a1b2c3-ats.iot.eu-west-1.amazonaws.com"
	soaEx    = "example.com. 300 IN SOA ns.example.com. admin.example.com. 1 7200 900 1209600 60"
	soaAWS   = "amazonaws.com. 300 IN SOA ns.amazonaws.com. admin.amazonaws.com. 1 7200 900 1209600 60"
)

// rigRecords is the usual shape: the global name a CNAME to the regional endpoint, which
// has both families.
func rigRecords() []string {
	return []string{
		soaEx, soaAWS,
		global + ". 60 IN CNAME " + regional + ".",
		regional + ". 300 IN A 127.0.0.12",
		regional + ". 300 IN A 127.0.0.22",
		regional + ". 120 IN AAAA 2001:db8::12",
	}
}

func startServer(t *testing.T, h dns.Handler) *dnstest.Server {
	t.Helper()
	s, err := dnstest.Start(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close dns server: %v", err)
		}
	})
	return s
}

func newTestResolver(t *testing.T, cfg Config) *Resolver {
	t.Helper()
	if cfg.Timeout == 0 {
		cfg.Timeout = 300 * time.Millisecond
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 1
	}
	cfg.Logger = zaptest.NewLogger(t)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func chainLinks(names ...string) []string {
	var out []string
	for i := 0; i+1 < len(names); i++ {
		out = append(out, names[i]+"->"+names[i+1])
	}
	return out
}

func linksOf(res *Result) []string {
	var out []string
	for _, l := range res.Chain {
		out = append(out, l.Name+"->"+l.Target)
	}
	return out
}

// hop is the i-th name of cnameChain: each an endpoint name of eu-west-1.
func hop(i int) string { return fmt.Sprintf("hop%d.iot.eu-west-1.amazonaws.com", i) }

// hops is hop(0) ... hop(n).
func hops(n int) []string {
	var out []string
	for i := 0; i <= n; i++ {
		out = append(out, hop(i))
	}
	return out
}

// cnameChain builds n links hop(0) -> hop(1) -> ... -> hop(n), the last having one A record.
func cnameChain(n int) []string {
	recs := []string{soaAWS}
	for i := 0; i < n; i++ {
		recs = append(recs, fmt.Sprintf("%s. 60 IN CNAME %s.", hop(i), hop(i+1)))
	}
	return append(recs, hop(n)+". 60 IN A 127.0.0.9")
}

func TestResolveChains(t *testing.T) {
	tests := []struct {
		name      string
		records   []string
		chase     bool
		query     string
		wantChain []string
		wantName  string
		wantAddrs []netip.Addr
		wantTTL   time.Duration
		wantReg   string
		wantQ     int
		wantErr   error
	}{
		{
			name: "target records in the answer", records: rigRecords(), chase: true, query: global,
			wantChain: chainLinks(global, regional), wantName: regional,
			wantAddrs: addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"),
			wantTTL:   60 * time.Second, wantReg: "eu-west-1", wantQ: 2,
		},
		{
			name: "target queried separately", records: rigRecords(), chase: false, query: global,
			wantChain: chainLinks(global, regional), wantName: regional,
			wantAddrs: addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"),
			wantTTL:   60 * time.Second, wantReg: "eu-west-1", wantQ: 4,
		},
		{
			name: "no alias", records: rigRecords(), chase: true, query: regional,
			wantName: regional, wantAddrs: addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"),
			wantTTL: 120 * time.Second, wantReg: "eu-west-1", wantQ: 2,
		},
		{
			name: "mixed case query and trailing dot", records: rigRecords(), chase: true,
			query: "GLOBAL.iot.Example.COM.", wantChain: chainLinks(global, regional), wantName: regional,
			wantAddrs: addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"),
			wantTTL:   60 * time.Second, wantReg: "eu-west-1", wantQ: 2,
		},
		{
			name: "IPv4 only, AAAA NODATA at the target", chase: true, query: global,
			records:   []string{soaEx, soaAWS, global + ". 60 IN CNAME " + regional + ".", regional + ". 30 IN A 127.0.0.12"},
			wantChain: chainLinks(global, regional), wantName: regional, wantAddrs: addrs("127.0.0.12"),
			wantTTL: 30 * time.Second, wantReg: "eu-west-1", wantQ: 2,
		},
		{
			name: "IPv6 only, target queried separately", chase: false, query: global,
			records:   []string{soaEx, global + ". 60 IN CNAME " + regional + ".", regional + ". 30 IN AAAA ::1"},
			wantChain: chainLinks(global, regional), wantName: regional, wantAddrs: addrs("::1"),
			wantTTL: 30 * time.Second, wantReg: "eu-west-1", wantQ: 4,
		},
		{
			name: "eight links followed in one answer", records: cnameChain(8), chase: true, query: hop(0),
			wantName: hop(8), wantAddrs: addrs("127.0.0.9"), wantTTL: 60 * time.Second, wantReg: "eu-west-1", wantQ: 2,
			wantChain: chainLinks(hops(8)...),
		},
		{
			name: "eight links, one query per link", records: cnameChain(8), chase: false, query: hop(0),
			wantName: hop(8), wantAddrs: addrs("127.0.0.9"), wantTTL: 60 * time.Second, wantReg: "eu-west-1", wantQ: 18,
			wantChain: chainLinks(hops(8)...),
		},
		{name: "nine links in one answer", records: cnameChain(9), chase: true, query: hop(0), wantErr: ErrChainTooLong},
		{name: "nine links queried", records: cnameChain(9), chase: false, query: hop(0), wantErr: ErrChainTooLong},
		{
			name: "loop in one answer", chase: true, query: "a.example.com", wantErr: ErrCNAMELoop,
			records: []string{"a.example.com. 60 IN CNAME b.example.com.", "b.example.com. 60 IN CNAME c.example.com.", "c.example.com. 60 IN CNAME a.example.com."},
		},
		{
			name: "loop across queries", chase: false, query: "a.example.com", wantErr: ErrCNAMELoop,
			records: []string{"a.example.com. 60 IN CNAME b.example.com.", "b.example.com. 60 IN CNAME A.EXAMPLE.COM."},
		},
		{
			name: "self loop", chase: false, query: "a.example.com", wantErr: ErrCNAMELoop,
			records: []string{"a.example.com. 60 IN CNAME a.example.com."},
		},
		{name: "NXDOMAIN", records: rigRecords(), chase: true, query: "nope.example.com", wantErr: ErrNXDOMAIN},
		{
			name: "NXDOMAIN at the end of the chain", chase: false, query: global, wantErr: ErrNXDOMAIN,
			records: []string{soaEx, global + ". 60 IN CNAME gone.example.com."},
		},
		{
			name: "NODATA", chase: true, query: global, wantErr: ErrNoData,
			records: []string{soaEx, global + ". 60 IN TXT \"no addresses\""},
		},
		{
			name: "NODATA at the target, found in one answer", chase: true, query: global, wantErr: ErrNoData,
			records: []string{soaEx, global + ". 60 IN CNAME t.example.com.", "t.example.com. 60 IN TXT \"x\""},
		},
		{
			name: "NODATA at the target, queried", chase: false, query: global, wantErr: ErrNoData,
			records: []string{soaEx, global + ". 60 IN CNAME t.example.com.", "t.example.com. 60 IN TXT \"x\""},
		},
		{
			name: "China partition", chase: true, query: global,
			records: []string{soaEx, "amazonaws.com.cn. 60 IN SOA ns.amazonaws.com.cn. a.amazonaws.com.cn. 1 2 3 4 5",
				global + ". 10 IN CNAME x-ats.iot.cn-north-1.amazonaws.com.cn.", "x-ats.iot.cn-north-1.amazonaws.com.cn. 60 IN A 127.0.0.6"},
			wantChain: chainLinks(global, "x-ats.iot.cn-north-1.amazonaws.com.cn"), wantName: "x-ats.iot.cn-north-1.amazonaws.com.cn",
			wantAddrs: addrs("127.0.0.6"), wantTTL: 10 * time.Second, wantReg: "cn-north-1", wantQ: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, dnstest.NewZone(tt.chase, tt.records...))
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
			res, err := r.Resolve(context.Background(), tt.query)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				var qe *QueryError
				if !errors.As(err, &qe) || qe.Server != srv.Addr {
					t.Errorf("err %v does not name the server %s", err, srv.Addr)
				}
				if IsTransient(err) {
					t.Errorf("IsTransient(%v) = true", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := linksOf(res); !slices.Equal(got, tt.wantChain) {
				t.Errorf("chain = %v, want %v", got, tt.wantChain)
			}
			if res.Name != tt.wantName {
				t.Errorf("name = %q, want %q", res.Name, tt.wantName)
			}
			if !slices.Equal(res.Addrs, tt.wantAddrs) {
				t.Errorf("addrs = %v, want %v", res.Addrs, tt.wantAddrs)
			}
			if res.TTL != tt.wantTTL {
				t.Errorf("ttl = %v, want %v", res.TTL, tt.wantTTL)
			}
			if res.Region != tt.wantReg {
				t.Errorf("region = %q, want %q", res.Region, tt.wantReg)
			}
			if res.Queries != tt.wantQ || srv.Count() != tt.wantQ {
				t.Errorf("queries = %d (server saw %d), want %d", res.Queries, srv.Count(), tt.wantQ)
			}
			if res.Server != srv.Addr || res.Stale || res.Query != strings.ToLower(strings.TrimSuffix(tt.query, ".")) {
				t.Errorf("server %q stale %v query %q", res.Server, res.Stale, res.Query)
			}
		})
	}
}

// A server may add records for names outside the chain; they must not become addresses.
func TestResolveIgnoresRecordsOffTheChain(t *testing.T) {
	zone := dnstest.NewZone(true, rigRecords()...)
	h := dnstest.Rewrite(zone, func(m *dns.Msg) {
		for _, s := range []string{"evil.example.net. 60 IN A 192.0.2.66", "evil.example.net. 60 IN AAAA 2001:db8::66",
			"other.example.com. 60 IN CNAME evil.example.net."} {
			rr, _ := dns.NewRR(s)
			m.Answer = append([]dns.RR{rr}, m.Answer...)
		}
		// Owner names in another case than asked are still the chain's.
		for _, rr := range m.Answer {
			rr.Header().Name = strings.ToUpper(rr.Header().Name)
		}
	})
	srv := startServer(t, h)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"); !slices.Equal(res.Addrs, want) {
		t.Errorf("addrs = %v, want %v", res.Addrs, want)
	}
	if res.Name != regional || res.Queries != 2 {
		t.Errorf("name %q queries %d", res.Name, res.Queries)
	}
}

func TestResolveServerFailover(t *testing.T) {
	zone := dnstest.NewZone(true, rigRecords()...)
	tests := []struct {
		name    string
		first   dns.Handler
		wantErr error // when the first server is the only one
		// wantFirstQueries is how many messages the first server gets at most for A+AAAA.
		wantFirstQueries int
	}{
		{name: "SERVFAIL", first: dnstest.Rcode(dns.RcodeServerFailure), wantErr: ErrServFail, wantFirstQueries: 2},
		{name: "REFUSED", first: dnstest.Rcode(dns.RcodeRefused), wantErr: ErrRefused, wantFirstQueries: 2},
		{name: "NOTIMP", first: dnstest.Rcode(dns.RcodeNotImplemented), wantErr: ErrRcode, wantFirstQueries: 2},
		{name: "bare REFUSED without question", first: dnstest.Rewrite(dnstest.Rcode(dns.RcodeRefused), func(m *dns.Msg) { m.Question = nil }), wantErr: ErrRefused, wantFirstQueries: 2},
		{name: "timeout", first: dnstest.Drop(), wantErr: ErrTimeout, wantFirstQueries: 2},
		{name: "wrong question", first: dnstest.WrongQuestion(zone), wantErr: ErrMismatch, wantFirstQueries: 2},
		{name: "wrong type in question", first: dnstest.Rewrite(zone, func(m *dns.Msg) { m.Question[0].Qtype = dns.TypeMX }), wantErr: ErrMismatch, wantFirstQueries: 2},
		{name: "not a response", first: dnstest.Rewrite(zone, func(m *dns.Msg) { m.Response = false }), wantErr: ErrMismatch, wantFirstQueries: 2},
		// miekg's UDP client skips replies with another id (late replies to earlier
		// queries) and keeps waiting, so over UDP a wrong id ends as a timeout.
		{name: "wrong id over UDP", first: dnstest.WrongID(zone), wantErr: ErrTimeout, wantFirstQueries: 2},
		{name: "wrong id over TCP", first: dnstest.Truncate(dnstest.WrongID(zone)), wantErr: ErrMismatch, wantFirstQueries: 4},
		{name: "malformed", first: dnstest.Raw([]byte{0, 0, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 7, 'g', 'l'}), wantErr: ErrMalformed, wantFirstQueries: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := startServer(t, tt.first)
			good := startServer(t, zone)
			r := newTestResolver(t, Config{Servers: []string{bad.Addr, good.Addr}, Timeout: 150 * time.Millisecond})
			res, err := r.Resolve(context.Background(), global)
			if err != nil {
				t.Fatal(err)
			}
			if res.Server != good.Addr || res.Name != regional || len(res.Addrs) != 3 {
				t.Errorf("result %+v", res)
			}
			// Once one family has found the second server working, the other may start
			// there: the first server sees one or both families.
			if n := bad.Count(); n < tt.wantFirstQueries/2 || n > tt.wantFirstQueries || good.Count() != 2 {
				t.Errorf("queries: first server %d (want at most %d), second %d", n, tt.wantFirstQueries, good.Count())
			}
			if res.Queries != bad.Count()+good.Count() {
				t.Errorf("Result.Queries = %d, servers saw %d", res.Queries, bad.Count()+good.Count())
			}

			only := newTestResolver(t, Config{Servers: []string{bad.Addr}, Timeout: 150 * time.Millisecond})
			_, err = only.Resolve(context.Background(), global)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Server != bad.Addr || qe.Name != global {
				t.Errorf("err %v: want a QueryError naming %s and %s", err, global, bad.Addr)
			}
		})
	}
}

func TestResolveAllServersFail(t *testing.T) {
	sf := startServer(t, dnstest.Rcode(dns.RcodeServerFailure))
	ref := startServer(t, dnstest.Rcode(dns.RcodeRefused))
	r := newTestResolver(t, Config{Servers: []string{sf.Addr, ref.Addr}, Attempts: 2})
	_, err := r.Resolve(context.Background(), global)
	if !errors.Is(err, ErrServFail) || !errors.Is(err, ErrRefused) {
		t.Fatalf("err = %v, want both SERVFAIL and REFUSED", err)
	}
	if !IsTransient(err) {
		t.Errorf("SERVFAIL from one server is transient: %v", err)
	}
	// Two attempts over two servers for each family.
	if sf.Count() != 4 || ref.Count() != 4 {
		t.Errorf("queries %d and %d, want 4 each", sf.Count(), ref.Count())
	}
	for _, s := range []string{sf.Addr, ref.Addr} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
}

func TestResolveNXDOMAINIsFinal(t *testing.T) {
	nx := startServer(t, dnstest.NewZone(true, soaEx))
	good := startServer(t, dnstest.NewZone(true, rigRecords()...))
	r := newTestResolver(t, Config{Servers: []string{nx.Addr, good.Addr}})
	_, err := r.Resolve(context.Background(), global)
	if !errors.Is(err, ErrNXDOMAIN) {
		t.Fatalf("err = %v", err)
	}
	if good.Count() != 0 {
		t.Errorf("second server asked %d times after NXDOMAIN", good.Count())
	}
}

func TestResolveTruncatedRetriesOverTCP(t *testing.T) {
	srv := startServer(t, dnstest.Truncate(dnstest.NewZone(true, rigRecords()...)))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Addrs) != 3 || res.Queries != 4 {
		t.Errorf("addrs %v queries %d", res.Addrs, res.Queries)
	}
	nets := map[string]int{}
	for _, q := range srv.Queries() {
		nets[q.Net]++
	}
	if nets["udp"] != 2 || nets["tcp"] != 2 {
		t.Errorf("queries by transport %v, want 2 udp and 2 tcp", nets)
	}
}

// A truncated reply cut in the middle of a record does not parse, but its header says TC.
func TestResolveTruncatedUnparsableRetriesOverTCP(t *testing.T) {
	zone := dnstest.NewZone(true, rigRecords()...)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if w.LocalAddr().Network() == "tcp" {
			zone.ServeDNS(w, r)
			return
		}
		m := zone.Answer(r)
		m.Truncated = true
		b, err := m.Pack()
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(b[:len(b)-3])
	})
	srv := startServer(t, h)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Addrs) != 3 || res.Queries != 4 {
		t.Errorf("addrs %v queries %d", res.Addrs, res.Queries)
	}
}

func TestResolveClientSubnet(t *testing.T) {
	tests := []struct {
		prefix     string
		wantFamily uint16
		wantBits   uint8
		wantAddr   string
	}{
		{"198.51.100.77/24", 1, 24, "198.51.100.0"},
		{"203.0.113.9/32", 1, 32, "203.0.113.9"},
		{"2001:db8:1:2::5/48", 2, 48, "2001:db8:1::"},
		{"0.0.0.0/0", 1, 0, "0.0.0.0"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			srv := startServer(t, dnstest.Truncate(dnstest.NewZone(true, rigRecords()...)))
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, ClientSubnet: netip.MustParsePrefix(tt.prefix)})
			if _, err := r.Resolve(context.Background(), global); err != nil {
				t.Fatal(err)
			}
			qs := srv.Queries()
			if len(qs) != 4 {
				t.Fatalf("%d queries", len(qs))
			}
			for _, q := range qs {
				opt := q.Msg.IsEdns0()
				if opt == nil {
					t.Fatalf("%s query without OPT", q.Net)
				}
				if opt.UDPSize() != 1232 {
					t.Errorf("UDP size %d", opt.UDPSize())
				}
				var ecs *dns.EDNS0_SUBNET
				for _, o := range opt.Option {
					if e, ok := o.(*dns.EDNS0_SUBNET); ok {
						ecs = e
					}
				}
				if ecs == nil {
					t.Fatalf("%s query without ECS option", q.Net)
				}
				got, _ := netip.AddrFromSlice(ecs.Address)
				if ecs.Family != tt.wantFamily || ecs.SourceNetmask != tt.wantBits || ecs.SourceScope != 0 ||
					got.Unmap() != netip.MustParseAddr(tt.wantAddr) {
					t.Errorf("ECS family %d source /%d scope %d address %v", ecs.Family, ecs.SourceNetmask, ecs.SourceScope, ecs.Address)
				}
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		srv := startServer(t, dnstest.NewZone(true, rigRecords()...))
		r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
		if _, err := r.Resolve(context.Background(), global); err != nil {
			t.Fatal(err)
		}
		for _, q := range srv.Queries() {
			if q.Msg.IsEdns0() != nil {
				t.Errorf("OPT sent without a client subnet")
			}
		}
	})
}

func TestResolveLocalAddr(t *testing.T) {
	srv := startServer(t, dnstest.Truncate(dnstest.NewZone(true, rigRecords()...)))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, LocalAddr: netip.MustParseAddr("127.0.1.1")})
	if _, err := r.Resolve(context.Background(), global); err != nil {
		t.Fatal(err)
	}
	qs := srv.Queries()
	if len(qs) != 4 {
		t.Fatalf("%d queries", len(qs))
	}
	for _, q := range qs {
		if q.Source.Addr() != netip.MustParseAddr("127.0.1.1") {
			t.Errorf("%s query from %v, want 127.0.1.1", q.Net, q.Source)
		}
	}
}

func TestResolveCachedServesStale(t *testing.T) {
	zone := dnstest.NewZone(true, rigRecords()...)
	srv := startServer(t, zone)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond})
	ctx := context.Background()

	if _, err := r.ResolveCached(ctx, "other.example.com"); !errors.Is(err, ErrNXDOMAIN) {
		t.Fatalf("other name: %v", err)
	}
	fresh, err := r.ResolveCached(ctx, global)
	if err != nil || fresh.Stale {
		t.Fatalf("fresh: %+v, %v", fresh, err)
	}
	fresh.Addrs[0] = netip.MustParseAddr("192.0.2.1") // a caller's change must not reach the cache

	for _, tt := range []struct {
		name    string
		h       dns.Handler
		wantErr error
		stale   bool
	}{
		{"SERVFAIL", dnstest.Rcode(dns.RcodeServerFailure), ErrServFail, true},
		{"timeout", dnstest.Drop(), ErrTimeout, true},
		{"mismatch", dnstest.WrongQuestion(zone), ErrMismatch, true},
		{"REFUSED", dnstest.Rcode(dns.RcodeRefused), ErrRefused, false},
		{"NXDOMAIN", dnstest.NewZone(true, soaEx), ErrNXDOMAIN, false},
		{"NODATA", dnstest.NewZone(true, soaEx, global+". 60 IN TXT \"x\""), ErrNoData, false},
		{"no region", dnstest.NewZone(true, soaEx, global+". 60 IN CNAME edge.example.com.", "edge.example.com. 60 IN A 192.0.2.1"), ErrNoRegion, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv.SetHandler(tt.h)
			if _, err := r.Resolve(ctx, global); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Resolve: %v, want %v", err, tt.wantErr)
			}
			res, err := r.ResolveCached(ctx, "Global.IOT.example.com.")
			if !tt.stale {
				if !errors.Is(err, tt.wantErr) || res != nil {
					t.Fatalf("ResolveCached: %+v, %v; want %v", res, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.Stale || !errors.Is(res.StaleReason, tt.wantErr) || res.Queries != 2 {
				t.Errorf("stale %v reason %v queries %d", res.Stale, res.StaleReason, res.Queries)
			}
			if want := addrs("2001:db8::12", "127.0.0.12", "127.0.0.22"); !slices.Equal(res.Addrs, want) || res.Region != "eu-west-1" {
				t.Errorf("stale result %+v", res)
			}
		})
	}

	// A cancelled context is the caller's choice, not a failure to cover.
	srv.SetHandler(dnstest.Drop())
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if res, err := r.ResolveCached(cctx, global); !errors.Is(err, context.Canceled) || res != nil {
		t.Errorf("cancelled: %+v, %v", res, err)
	}
}

func TestResolveContextDeadline(t *testing.T) {
	srv := startServer(t, dnstest.Drop())
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: 5 * time.Second, Attempts: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := r.Resolve(ctx, global)
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
}

// A server that drops AAAA queries costs one timeout once A has answered.
func TestResolveAAAADropped(t *testing.T) {
	zone := dnstest.NewZone(true, rigRecords()...)
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Question[0].Qtype == dns.TypeAAAA {
			return
		}
		zone.ServeDNS(w, r)
	})
	srv := startServer(t, h)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond, Attempts: 3})
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if want := addrs("127.0.0.12", "127.0.0.22"); !slices.Equal(res.Addrs, want) {
		t.Errorf("addrs = %v, want %v", res.Addrs, want)
	}
}

func TestResolveOneFamilyNoDataOtherTimeout(t *testing.T) {
	zone := dnstest.NewZone(true, soaEx, global+". 60 IN TXT \"x\"")
	h := dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Question[0].Qtype == dns.TypeA {
			return
		}
		zone.ServeDNS(w, r)
	})
	srv := startServer(t, h)
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}, Timeout: 100 * time.Millisecond})
	_, err := r.Resolve(context.Background(), global)
	// NODATA for AAAA says nothing about A: the outcome is A's timeout.
	if !errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoData) || !IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
}

func TestResolveResolvConf(t *testing.T) {
	srv := startServer(t, dnstest.NewZone(true, rigRecords()...))
	dir := t.TempDir()
	path := filepath.Join(dir, "resolv.conf")
	r := newTestResolver(t, Config{ResolvConf: path})

	// Missing, then empty: no servers (transient: DHCP may write it any moment).
	_, err := r.Resolve(context.Background(), global)
	if !errors.Is(err, ErrNoServers) || !IsTransient(err) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(path, []byte("# written by dhcp\nsearch example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve(context.Background(), global); !errors.Is(err, ErrNoServers) {
		t.Fatalf("empty file: %v", err)
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	conf := fmt.Sprintf("nameserver ns.example.com\nnameserver [%s]:%s\noptions ndots:1\n", host, port)
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if res.Server != srv.Addr || res.Region != "eu-west-1" {
		t.Errorf("server %q region %q", res.Server, res.Region)
	}
}

func TestResolvConfServer(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"127.0.0.53", "127.0.0.53:53", true},
		{"::1", "[::1]:53", true},
		{"fe80::1%eth0", "[fe80::1%eth0]:53", true},
		{"[127.0.0.1]:1053", "127.0.0.1:1053", true},
		{"[::1]:1053", "[::1]:1053", true},
		{"[::1]:port", "", false},
		{"ns.example.com", "", false},
		{"127.0.0.1:1053", "", false},
	}
	for _, tt := range tests {
		got, ok := resolvConfServer(tt.in, "53")
		if got != tt.want || ok != tt.ok {
			t.Errorf("resolvConfServer(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		servers []string
	}{
		{name: "zero", cfg: Config{}},
		{name: "servers", cfg: Config{Servers: []string{"127.0.0.1:1053", "::1", "[::1]:5300", "127.0.0.53"}},
			servers: []string{"127.0.0.1:1053", "[::1]:53", "[::1]:5300", "127.0.0.53:53"}},
		{name: "host name server", cfg: Config{Servers: []string{"dns.example.com:53"}}, wantErr: true},
		{name: "bad port", cfg: Config{Servers: []string{"127.0.0.1:99999"}}, wantErr: true},
		{name: "mapped subnet", cfg: Config{ClientSubnet: netip.MustParsePrefix("::ffff:198.51.100.0/120")}, wantErr: true},
		{name: "region", cfg: Config{Region: "eu-west-1"}},
		{name: "not a region", cfg: Config{Region: "eu-west"}, wantErr: true},
		{name: "upper-case region", cfg: Config{Region: "EU-WEST-1"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New(tt.cfg)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidConfig) {
					t.Fatalf("err = %v, want ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(r.servers, tt.servers) || r.timeout != DefaultTimeout || r.attempts != DefaultAttempts || r.resolvConf != DefaultResolvConf {
				t.Errorf("resolver %+v", r)
			}
		})
	}
}

func TestResolveInvalidName(t *testing.T) {
	r := newTestResolver(t, Config{Servers: []string{"127.0.0.1:9"}})
	for _, name := range []string{"", ".", "a..b", strings.Repeat("x", 64) + ".example.com"} {
		if _, err := r.Resolve(context.Background(), name); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Resolve(%q) = %v", name, err)
		}
	}
}

func TestResolveConcurrent(t *testing.T) {
	srv := startServer(t, dnstest.NewZone(false, rigRecords()...))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			res, err := r.ResolveCached(context.Background(), global)
			if err == nil && res.Region != "eu-west-1" {
				err = fmt.Errorf("region %q", res.Region)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A reply too big for 512 bytes is truncated over UDP and fetched over TCP; the 1232-byte
// EDNS buffer sent with a client subnet makes room for it.
func TestResolveLargeAnswer(t *testing.T) {
	recs := []string{soaEx, soaAWS, global + ". 60 IN CNAME " + regional + "."}
	for i := 1; i <= 40; i++ {
		recs = append(recs, fmt.Sprintf("%s. 60 IN A 127.0.3.%d", regional, i))
	}
	tests := []struct {
		name    string
		subnet  netip.Prefix
		wantTCP int
	}{
		{"plain DNS", netip.Prefix{}, 1},
		{"EDNS with client subnet", netip.MustParsePrefix("203.0.113.0/24"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startServer(t, dnstest.NewZone(true, recs...))
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}, ClientSubnet: tt.subnet})
			res, err := r.Resolve(context.Background(), global)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Addrs) != 40 || res.Queries != 2+tt.wantTCP {
				t.Errorf("%d addresses, %d queries", len(res.Addrs), res.Queries)
			}
			tcp := 0
			for _, q := range srv.Queries() {
				if q.Net == "tcp" {
					tcp++
				}
			}
			if tcp != tt.wantTCP {
				t.Errorf("%d TCP queries, want %d", tcp, tt.wantTCP)
			}
		})
	}
}

// When A and AAAA lead to different endpoints, addresses of two regions are not mixed.
func TestResolveFamiliesDisagree(t *testing.T) {
	other := "zzz-ats.iot.us-east-1.amazonaws.com"
	v4 := dnstest.NewZone(true, soaEx, soaAWS, global+". 60 IN CNAME "+regional+".", regional+". 60 IN A 127.0.0.12")
	v6 := dnstest.NewZone(true, soaEx, soaAWS, global+". 60 IN CNAME "+other+".", other+". 60 IN AAAA ::1")
	srv := startServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		if r.Question[0].Qtype == dns.TypeAAAA {
			v6.ServeDNS(w, r)
			return
		}
		v4.ServeDNS(w, r)
	}))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	res, err := r.Resolve(context.Background(), global)
	if err != nil {
		t.Fatal(err)
	}
	if res.Name != regional || res.Region != "eu-west-1" || !slices.Equal(res.Addrs, addrs("127.0.0.12")) {
		t.Errorf("result %+v", res)
	}
}
