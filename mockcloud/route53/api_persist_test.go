package route53

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// What is made through the API survives a restart of the rig with the same
// state file: the hosted zone and its ID, records with their TTLs (TTL 0 as 0),
// health checks with their status, and caller references already used.
func TestAPIPersistAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "route53.json")
	first := newAPIRig(t, nil)
	if err := first.api.Persist(path); err != nil {
		t.Fatal(err)
	}
	var cz createHostedZoneResponse
	first.do(t, "POST", "/2013-04-01/hostedzone", createZoneBody("kept.example.org", "ref-1", "kept")).decode(t, 201, &cz)
	zone := strings.TrimPrefix(cz.HostedZone.ID, "/hostedzone/")
	var hc healthCheckResponse
	first.do(t, "POST", "/2013-04-01/healthcheck", healthCheckBody("hc-1", "<IPAddress>192.0.2.9</IPAddress><Type>TCP</Type><Port>8883</Port>")).decode(t, 201, &hc)
	first.do(t, "POST", "/2013-04-01/hostedzone/"+zone+"/rrset/", changeBody(
		rrChange("CREATE", "zero.kept.example.org", "A", "0", "", "192.0.2.10"),
		rrChange("CREATE", "g.kept.example.org", "CNAME", "60", geoExtra("eu", "<ContinentCode>EU</ContinentCode>")+"<HealthCheckId>"+hc.HealthCheck.ID+"</HealthCheckId>", "eu.kept.example.org"),
	)).decode(t, 200, new(changeInfoResponse))
	if err := first.api.SetHealthCheckStatus(hc.HealthCheck.ID, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v, %v", fi, err)
	}

	second := newAPIRig(t, nil)
	if err := second.api.Persist(path); err != nil {
		t.Fatal(err)
	}
	var gz getHostedZoneResponse
	second.do(t, "GET", "/2013-04-01/hostedzone/"+zone, "").decode(t, 200, &gz)
	if gz.HostedZone.Name != "kept.example.org." {
		t.Fatalf("hosted zone after the restart: %+v", gz.HostedZone)
	}
	q := new(dns.Msg)
	q.SetQuestion("zero.kept.example.org.", dns.TypeA)
	in, err := dns.Exchange(q, second.srv.Addr())
	if err != nil || len(in.Answer) != 1 || in.Answer[0].Header().Ttl != 0 {
		t.Fatalf("record after the restart: %v, %v; want one A with TTL 0", in, err)
	}
	if ok, err := second.srv.HealthCheck(hc.HealthCheck.ID); err != nil || ok {
		t.Fatalf("health check after the restart: healthy=%v, %v; want it failing as it was left", ok, err)
	}
	second.do(t, "POST", "/2013-04-01/hostedzone", createZoneBody("again.example.org", "ref-1", "")).wantError(t, 409, "HostedZoneAlreadyExists", "A hosted zone has already been created with the specified caller reference.")
}
