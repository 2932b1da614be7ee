package route53

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/dnsresolve"
)

// The agent resolves the rig's endpoint names with dnsresolve and reads the
// region off the chain, as it does against AWS, whose ATS names may alias a
// load-balancer name before the addresses.
func TestEndpointChainsResolveForTheAgent(t *testing.T) {
	const lb = "abc123-lb-0123.elb.us-east-1.amazonaws.com"
	tests := []struct {
		name      string
		extraHop  bool
		wantName  string
		wantChain int
		wantAddr  string
	}{
		{"global to ats to A", false, "abc123-ats.iot.us-east-1.amazonaws.com", 1, "127.0.0.11"},
		{"global to ats to load balancer to A", true, lb, 2, "127.0.0.21"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startRigServer(t, func(c *Config) {
				if !tc.extraHop {
					return
				}
				z := &c.Zones[len(c.Zones)-1]
				for i, r := range z.Records {
					if r.Name == "abc123-ats.iot.us-east-1.amazonaws.com" {
						z.Records[i] = Record{Name: r.Name, Type: "CNAME", Values: []string{lb + "."}}
					}
				}
				z.Records = append(z.Records, Record{Name: lb, Type: "A", Values: []string{"127.0.0.21"}})
			})
			r, err := dnsresolve.New(dnsresolve.Config{
				Servers:      []string{s.Addr()},
				ClientSubnet: netip.MustParsePrefix("127.0.1.0/24"), // NA in rig.yaml
				Logger:       zaptest.NewLogger(t),
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Resolve(context.Background(), "global.iot.example.com")
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if res.Name != tc.wantName || len(res.Chain) != tc.wantChain {
				t.Fatalf("name %q chain %v, want %q with %d links", res.Name, res.Chain, tc.wantName, tc.wantChain)
			}
			if !slices.Contains(res.Addrs, netip.MustParseAddr(tc.wantAddr)) {
				t.Fatalf("addrs %v, want %s", res.Addrs, tc.wantAddr)
			}
			// The region is on the chain's last ATS-shaped name; the
			// load-balancer name past it carries none.
			region := ""
			for _, l := range res.Chain {
				if rg := dnsresolve.RegionFromName(l.Target); rg != "" {
					region = rg
				}
			}
			if region != "us-east-1" {
				t.Errorf("region on the chain %q, want us-east-1", region)
			}
			// Past the extra hop the end of the chain names no region: the
			// agent's region is that of the ATS name on the way.
			if res.Region != "us-east-1" {
				t.Errorf("Result.Region %q, want us-east-1", res.Region)
			}
		})
	}
}
