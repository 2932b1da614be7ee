package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/dnsresolve/dnstest"
)

// A simulated device resolves as a device with the same dns section does:
// dns.sourceAddress is the address its queries come from, and its place's EDNS
// Client Subnet goes with them.
func TestDeviceDNSHonoursSourceAddress(t *testing.T) {
	srv, err := dnstest.Start(dnstest.Rcode(dns.RcodeNameError))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	source := netip.MustParseAddr("127.0.0.7")
	base, err := agent.ParseConfig([]byte(`
stateDir: /var/lib/fleetboot
endpoint:
  globalName: global.iot.example.com
  rootCA: /etc/fleetboot/root-ca.pem
dns:
  servers: ["` + srv.Addr + `"]
  sourceAddress: ` + source.String() + `
provisioning:
  template: GatewayProvisioning
  claimCertificate: /etc/fleetboot/claim.pem
  claimKey: /etc/fleetboot/claim.key
`))
	if err != nil {
		t.Fatal(err)
	}
	// The claim and roots are never used: resolution fails first.
	fl := &fleet{base: base, claim: &tls.Certificate{}, roots: x509.NewCertPool()}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := &Device{Serial: "SIM-DNS-000001", Place: "de", Subnet: placeSubnets["de"]}
	p := Params{Mode: agent.ModeCSR}
	runDevice(ctx, ctx, p, fl, d, zaptest.NewLogger(t), func() {})
	if d.Online || d.Err == nil {
		t.Fatalf("device online %v, err %v: want resolution to fail", d.Online, d.Err)
	}
	qs := srv.Queries()
	if len(qs) == 0 {
		t.Fatal("no DNS query reached the server")
	}
	for _, q := range qs {
		if q.Source.Addr() != source {
			t.Errorf("query for %s from %s, want from %s (dns.sourceAddress)", q.Msg.Question[0].Name, q.Source, source)
		}
		var subnet string
		if opt := q.Msg.IsEdns0(); opt != nil {
			for _, o := range opt.Option {
				if s, ok := o.(*dns.EDNS0_SUBNET); ok {
					subnet = netip.PrefixFrom(netip.MustParseAddr(s.Address.String()), int(s.SourceNetmask)).String()
				}
			}
		}
		if subnet != placeSubnets["de"] {
			t.Errorf("query for %s carries client subnet %q, want %s", q.Msg.Question[0].Name, subnet, placeSubnets["de"])
		}
	}
}
