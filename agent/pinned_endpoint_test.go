package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

// With a further CNAME after the ATS name (a load balancer's, as AWS's endpoint
// names may carry), the device pins the ATS name its region was read from, not
// the end of the chain: resolving the load balancer's name alone names no region.
func TestPinsTheEndpointNameTheRegionCameFrom(t *testing.T) {
	c := startRig(t)
	var ats string
	for _, ri := range c.Regions() {
		if ri.Name == "eu-west-1" {
			ats = ri.Endpoint
		}
	}
	const lb = "gw-lb-1.elb.eu-west-1.amazonaws.com"
	err := c.DNS().UpdateZones(func(zs []route53.Zone) ([]route53.Zone, error) {
		for i := range zs {
			if zs[i].Name != "iot.eu-west-1.amazonaws.com" {
				continue
			}
			for j, r := range zs[i].Records {
				if r.Name == ats {
					zs = append(zs, route53.Zone{Name: "elb.eu-west-1.amazonaws.com", Service: true,
						Records: []route53.Record{{Name: lb, Type: r.Type, TTL: r.TTL, Values: r.Values}}})
					zs[i].Records[j] = route53.Record{Name: ats, Type: "CNAME", TTL: r.TTL, Values: []string{lb + "."}}
					return zs, nil
				}
			}
		}
		t.Fatalf("no A record for %s", ats)
		return nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", "PINNED-1")
	a := newAgent(t, cfg, agent.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := a.Prove(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Region != "eu-west-1" || st.Endpoint != ats {
		t.Fatalf("pinned %s in %s, want %s in eu-west-1", st.Endpoint, st.Region, ats)
	}
}
