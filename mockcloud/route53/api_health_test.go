package route53

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestAPIHealthChecks(t *testing.T) {
	http80 := "<IPAddress>192.0.2.80</IPAddress><Type>HTTP</Type>"
	runAPICases(t, []apiCase{
		{name: "create with Route 53's defaults", method: "POST", path: "/2013-04-01/healthcheck",
			body: healthCheckBody("new", "<FullyQualifiedDomainName>a.t.example.net</FullyQualifiedDomainName><Type>HTTPS</Type>"), status: 201,
			check: func(t *testing.T, f *apiFixture, rp apiReply) {
				var h healthCheckResponse
				rp.decode(t, 201, &h)
				c := h.HealthCheck.HealthCheckConfig
				if h.XMLName.Local != "CreateHealthCheckResponse" || h.HealthCheck.HealthCheckVersion != 1 || *c.Port != 443 || *c.RequestInterval != 30 ||
					*c.FailureThreshold != 3 || !*c.EnableSNI || *c.Inverted || *c.Disabled ||
					rp.header.Get("Location") != "https://route53.amazonaws.com/2013-04-01/healthcheck/"+h.HealthCheck.ID {
					t.Fatalf("%+v %v", h, rp.header)
				}
			}},
		{name: "the same request again", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("fixture", http80), status: 201,
			check: func(t *testing.T, f *apiFixture, rp apiReply) {
				var h healthCheckResponse
				rp.decode(t, 201, &h)
				if h.HealthCheck.ID != f.hc {
					t.Fatalf("id %s, want %s", h.HealthCheck.ID, f.hc)
				}
			}},
		{name: "caller reference with other settings", method: "POST", path: "/2013-04-01/healthcheck",
			body:   healthCheckBody("fixture", "<IPAddress>192.0.2.81</IPAddress><Type>HTTP</Type>"),
			status: 409, code: "HealthCheckAlreadyExists"},
		{name: "no type", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<IPAddress>192.0.2.80</IPAddress>"),
			status: 400, code: "InvalidInput"},
		{name: "bad type", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<IPAddress>192.0.2.80</IPAddress><Type>PING</Type>"),
			status: 400, code: "InvalidInput"},
		{name: "no endpoint", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<Type>HTTP</Type>"),
			status: 400, code: "InvalidInput"},
		{name: "TCP without port", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<IPAddress>192.0.2.80</IPAddress><Type>TCP</Type>"),
			status: 400, code: "InvalidInput"},
		{name: "bad IP", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<IPAddress>192.0.2</IPAddress><Type>HTTP</Type>"),
			status: 400, code: "InvalidInput"},
		{name: "string match without string", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", "<IPAddress>192.0.2.1</IPAddress><Type>HTTP_STR_MATCH</Type>"),
			status: 400, code: "InvalidInput"},
		{name: "bad interval", method: "POST", path: "/2013-04-01/healthcheck", body: healthCheckBody("x", http80+"<RequestInterval>20</RequestInterval>"),
			status: 400, code: "InvalidInput"},
		{name: "no caller reference", method: "POST", path: "/2013-04-01/healthcheck",
			body:   `<CreateHealthCheckRequest xmlns="` + apiNamespace + `"><HealthCheckConfig>` + http80 + `</HealthCheckConfig></CreateHealthCheckRequest>`,
			status: 400, code: "InvalidInput"},
		{name: "get", method: "GET", path: "/2013-04-01/healthcheck/{hc}", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var h healthCheckResponse
			rp.decode(t, 200, &h)
			if h.XMLName.Local != "GetHealthCheckResponse" || h.HealthCheck.ID != f.hc || *h.HealthCheck.HealthCheckConfig.Port != 80 {
				t.Fatalf("%+v", h)
			}
		}},
		{name: "get unknown", method: "GET", path: "/2013-04-01/healthcheck/nope", status: 404, code: "NoSuchHealthCheck", msg: "A health check with id nope does not exist."},
		{name: "status", method: "GET", path: "/2013-04-01/healthcheck/{hc}/status", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var s getHealthCheckStatusResponse
			rp.decode(t, 200, &s)
			if len(s.Observations) != len(checkerRegions) || s.Observations[0].StatusReport.Status != "Success: HTTP Status Code 200, OK" ||
				s.Observations[0].Region != "us-east-1" || s.Observations[0].StatusReport.CheckedTime == "" {
				t.Fatalf("%+v", s)
			}
			if err := f.api.SetHealthCheckStatus(f.hc, false); err != nil {
				t.Fatal(err)
			}
			s = getHealthCheckStatusResponse{}
			f.do(t, "GET", "/2013-04-01/healthcheck/"+f.hc+"/status", "").decode(t, 200, &s)
			if !strings.HasPrefix(s.Observations[0].StatusReport.Status, "Failure:") {
				t.Fatalf("failing: %+v", s)
			}
		}},
		{name: "status unknown", method: "GET", path: "/2013-04-01/healthcheck/nope/status", status: 404, code: "NoSuchHealthCheck"},
		{name: "delete", method: "DELETE", path: "/2013-04-01/healthcheck/{hc}", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var e emptyResponse
			rp.decode(t, 200, &e)
			if e.XMLName.Local != "DeleteHealthCheckResponse" {
				t.Fatalf("%+v", e)
			}
			f.do(t, "GET", "/2013-04-01/healthcheck/"+f.hc, "").wantError(t, 404, "NoSuchHealthCheck", "")
			// Route 53 lets a check go while records name it; they then
			// answer as if they had none.
			if got := f.listSets(t, f.zone); !slices.Equal(got, fixtureSets) {
				t.Fatalf("records %q", got)
			}
			// A deleted check's caller reference is not taken again.
			f.do(t, "POST", "/2013-04-01/healthcheck", healthCheckBody("fixture", "<IPAddress>192.0.2.80</IPAddress><Type>HTTP</Type>")).
				wantError(t, 409, "HealthCheckAlreadyExists", "")
		}},
		{name: "delete unknown", method: "DELETE", path: "/2013-04-01/healthcheck/nope", status: 404, code: "NoSuchHealthCheck"},
	})
}

// TestAPIHealthCheckRouting: a failing health check takes its geolocation
// set out of the answers; Inverted and Disabled act as in Route 53.
func TestAPIHealthCheckRouting(t *testing.T) {
	f := newAPIFixture(t)
	us := func() []string { return answerData(f.query(t, "g.t.example.net.", dns.TypeCNAME, "127.0.1.1")) }
	if got := us(); !slices.Equal(got, []string{"CNAME us.t.example.net."}) {
		t.Fatalf("healthy: %v", got)
	}
	if err := f.api.SetHealthCheckStatus(f.hc, false); err != nil {
		t.Fatal(err)
	}
	if got := us(); !slices.Equal(got, []string{"CNAME eu.t.example.net."}) {
		t.Fatalf("failing: %v", got)
	}
	if err := f.api.SetHealthCheckStatus("nope", false); !errors.Is(err, ErrUnknownHealthCheck) {
		t.Fatalf("unknown: %v", err)
	}

	var inv, off healthCheckResponse
	f.do(t, "POST", "/2013-04-01/healthcheck", healthCheckBody("inv", "<IPAddress>192.0.2.80</IPAddress><Type>HTTP</Type><Inverted>true</Inverted>")).decode(t, 201, &inv)
	f.do(t, "POST", "/2013-04-01/healthcheck", healthCheckBody("off", "<IPAddress>192.0.2.80</IPAddress><Type>HTTP</Type><Disabled>true</Disabled>")).decode(t, 201, &off)
	set := func(hc string) {
		f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(rrChange("UPSERT", "g.t.example.net", "CNAME", "30",
			geoExtra("na", "<ContinentCode>NA</ContinentCode>")+"<HealthCheckId>"+hc+"</HealthCheckId>", "us.t.example.net"))).decode(t, 200, &changeInfoResponse{})
	}
	set(inv.HealthCheck.ID) // endpoint passes, so the inverted check fails
	if got := us(); !slices.Equal(got, []string{"CNAME eu.t.example.net."}) {
		t.Fatalf("inverted, passing: %v", got)
	}
	if err := f.api.SetHealthCheckStatus(inv.HealthCheck.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := us(); !slices.Equal(got, []string{"CNAME us.t.example.net."}) {
		t.Fatalf("inverted, failing: %v", got)
	}
	set(off.HealthCheck.ID)
	if err := f.api.SetHealthCheckStatus(off.HealthCheck.ID, false); err != nil {
		t.Fatal(err)
	}
	if got := us(); !slices.Equal(got, []string{"CNAME us.t.example.net."}) {
		t.Fatalf("disabled, failing: %v", got)
	}
}

func TestAPITestDNSAnswer(t *testing.T) {
	q := "/2013-04-01/testdnsanswer?hostedzoneid={zone}"
	answer := func(data []string, rcode string) func(*testing.T, *apiFixture, apiReply) {
		return func(t *testing.T, f *apiFixture, rp apiReply) {
			var a testDNSAnswerResponse
			rp.decode(t, 200, &a)
			if !slices.Equal(a.RecordData, data) || a.ResponseCode != rcode || a.Protocol != "UDP" || !strings.Contains(a.Nameserver, ".awsdns-") {
				t.Fatalf("%+v, want %q %s", a, data, rcode)
			}
		}
	}
	runAPICases(t, []apiCase{
		{name: "simple", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=A", status: 200, check: answer([]string{"192.0.2.1"}, "NOERROR")},
		{name: "no resolver: one in Virginia", method: "GET", path: q + "&recordname=g.t.example.net&recordtype=CNAME", status: 200,
			check: answer([]string{"us.t.example.net."}, "NOERROR")},
		{name: "resolver the table does not place: the default", method: "GET", path: q + "&recordname=g.t.example.net&recordtype=CNAME&resolverip=10.9.9.9", status: 200,
			check: answer([]string{"eu.t.example.net."}, "NOERROR")},
		{name: "resolver in the US", method: "GET", path: q + "&recordname=g.t.example.net&recordtype=CNAME&resolverip=198.51.100.53", status: 200,
			check: answer([]string{"us.t.example.net."}, "NOERROR")},
		{name: "ECS in the US from a German resolver", method: "GET",
			path:   q + "&recordname=g.t.example.net&recordtype=CNAME&resolverip=192.0.2.53&edns0clientsubnetip=198.51.100.200",
			status: 200, check: answer([]string{"us.t.example.net."}, "NOERROR")},
		{name: "ECS mask shorter than the table", method: "GET",
			path:   q + "&recordname=g.t.example.net&recordtype=CNAME&edns0clientsubnetip=198.51.100.200&edns0clientsubnetmask=16",
			status: 200, check: answer([]string{"eu.t.example.net."}, "NOERROR")},
		{name: "ECS IPv6", method: "GET", path: q + "&recordname=g.t.example.net&recordtype=CNAME&edns0clientsubnetip=2001:db8:1::5",
			status: 200, check: answer([]string{"us.t.example.net."}, "NOERROR")},
		{name: "NXDOMAIN", method: "GET", path: q + "&recordname=nope.t.example.net&recordtype=A", status: 200, check: answer([]string{}, "NXDOMAIN")},
		{name: "NODATA", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=TXT", status: 200, check: answer([]string{}, "NOERROR")},
		{name: "no zone ID", method: "GET", path: "/2013-04-01/testdnsanswer?recordname=a.t.example.net&recordtype=A", status: 400, code: "InvalidInput"},
		{name: "no such zone", method: "GET", path: "/2013-04-01/testdnsanswer?hostedzoneid=ZNOPE&recordname=a.t.example.net&recordtype=A", status: 404, code: "NoSuchHostedZone"},
		{name: "no name", method: "GET", path: q + "&recordtype=A", status: 400, code: "InvalidInput"},
		{name: "bad type", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=ZZ", status: 400, code: "InvalidInput"},
		{name: "bad resolver", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=A&resolverip=x", status: 400, code: "InvalidInput"},
		{name: "bad ECS address", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=A&edns0clientsubnetip=x", status: 400, code: "InvalidInput"},
		{name: "bad ECS mask", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=A&edns0clientsubnetip=192.0.2.1&edns0clientsubnetmask=33", status: 400, code: "InvalidInput"},
		{name: "ECS mask alone", method: "GET", path: q + "&recordname=a.t.example.net&recordtype=A&edns0clientsubnetmask=24", status: 400, code: "InvalidInput"},
		{name: "name outside the zone", method: "GET", path: q + "&recordname=www.example.com&recordtype=A", status: 400, code: "InvalidInput"},
	})
}

// TestAPIChangeSeenByDNSClient: after ChangeResourceRecordSets a real
// query over UDP and TCP to the running server sees the record, its TTL
// and the geolocation choice.
func TestAPIChangeSeenByDNSClient(t *testing.T) {
	f := newAPIFixture(t)
	f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(
		rrChange("CREATE", "dev.t.example.net", "A", "42", geoExtra("dev-eu", "<ContinentCode>EU</ContinentCode>"), "192.0.2.42"),
		rrChange("CREATE", "dev.t.example.net", "A", "43", geoExtra("dev-any", "<CountryCode>*</CountryCode>"), "192.0.2.43"),
	)).decode(t, 200, &changeInfoResponse{})
	for _, tc := range []struct {
		net, subnet, want string
		ttl               uint32
	}{
		{"udp", "192.0.2.0/24", "A 192.0.2.42", 42},
		{"tcp", "192.0.2.0/24", "A 192.0.2.42", 42},
		{"udp", "203.0.113.0/24", "A 192.0.2.43", 43},
	} {
		c := &dns.Client{Net: tc.net, Timeout: 5 * time.Second}
		m, _, err := c.ExchangeContext(context.Background(), withECS(question("dev.t.example.net.", dns.TypeA), tc.subnet), f.srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if got := answerData(m); !slices.Equal(got, []string{tc.want}) || m.Answer[0].Header().Ttl != tc.ttl || !m.Authoritative {
			t.Errorf("%s from %s: %v, want %s TTL %d", tc.net, tc.subnet, m.Answer, tc.want, tc.ttl)
		}
	}
}
