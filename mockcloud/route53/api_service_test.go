package route53

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// A zone AWS serves itself (a region's IoT endpoint names) answers queries but is
// no hosted zone of the account: ListHostedZones leaves it out.
func TestAPIServiceZonesAreNotHostedZones(t *testing.T) {
	r := newAPIRig(t, func(c *Config) {
		c.Zones = append(c.Zones, Zone{Name: "iot.ap-south-1.amazonaws.com", Service: true, Records: []Record{
			{Name: "abc-ats.iot.ap-south-1.amazonaws.com", Type: "A", Values: []string{"127.0.0.12"}}}})
	})
	var l listHostedZonesResponse
	r.do(t, "GET", "/2013-04-01/hostedzone", "").decode(t, 200, &l)
	if len(l.HostedZones) == 0 {
		t.Fatal("the rig file's own zone is not listed")
	}
	for _, z := range l.HostedZones {
		if strings.Contains(z.Name, "ap-south-1") {
			t.Fatalf("ListHostedZones lists the service zone %s", z.Name)
		}
	}
	q := new(dns.Msg)
	q.SetQuestion("abc-ats.iot.ap-south-1.amazonaws.com.", dns.TypeA)
	in, err := dns.Exchange(q, r.srv.Addr())
	if err != nil || len(in.Answer) != 1 {
		t.Fatalf("the service zone does not answer: %v, %v", in, err)
	}
}
