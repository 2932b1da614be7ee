package agent_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/dnsresolve/dnstest"
)

// NewResolver follows the dns section: queries go to its servers, from
// sourceAddress, with clientSubnet as EDNS Client Subnet.
func TestNewResolverFollowsTheDNSSection(t *testing.T) {
	srv, err := dnstest.Start(dnstest.Rcode(dns.RcodeNameError))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	source := netip.MustParseAddr("127.0.0.9")
	r, err := agent.NewResolver(agent.DNSConfig{
		Servers: []string{srv.Addr}, SourceAddress: source.String(), ClientSubnet: "203.0.113.77/24",
		Timeout: agent.Duration(5 * time.Second),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.Resolve(ctx, "global.iot.example.com"); err == nil {
		t.Fatal("resolved a name the server does not have")
	}
	qs := srv.Queries()
	if len(qs) == 0 {
		t.Fatal("no query reached the server")
	}
	for _, q := range qs {
		if q.Source.Addr() != source {
			t.Errorf("query from %s, want from %s", q.Source, source)
		}
		opt := q.Msg.IsEdns0()
		if opt == nil {
			t.Errorf("query without EDNS: no client subnet")
			continue
		}
		var subnet string
		for _, o := range opt.Option {
			if s, ok := o.(*dns.EDNS0_SUBNET); ok {
				subnet = netip.PrefixFrom(netip.MustParseAddr(s.Address.String()), int(s.SourceNetmask)).String()
			}
		}
		if subnet != "203.0.113.0/24" {
			t.Errorf("client subnet %q, want 203.0.113.0/24", subnet)
		}
	}
}
