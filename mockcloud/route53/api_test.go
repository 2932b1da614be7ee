package route53

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// apiFixture is a rig with the API, one hosted zone made through it
// (t.example.net: a simple A record and geolocation CNAMEs, the North
// America one under a health check) and that health check.
type apiFixture struct {
	*apiRig
	zone string // bare ID
	hc   string
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	f := &apiFixture{apiRig: newAPIRig(t, nil)}
	var cz createHostedZoneResponse
	f.do(t, "POST", "/2013-04-01/hostedzone", createZoneBody("t.example.net", "fixture", "fixture zone")).decode(t, 201, &cz)
	f.zone = strings.TrimPrefix(cz.HostedZone.ID, "/hostedzone/")
	var hc healthCheckResponse
	f.do(t, "POST", "/2013-04-01/healthcheck", healthCheckBody("fixture", "<IPAddress>192.0.2.80</IPAddress><Type>HTTP</Type>")).decode(t, 201, &hc)
	f.hc = hc.HealthCheck.ID
	var ch changeInfoResponse
	f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset/", changeBody(
		rrChange("CREATE", "a.t.example.net", "A", "300", "", "192.0.2.1"),
		rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("na", "<ContinentCode>NA</ContinentCode>")+"<HealthCheckId>"+f.hc+"</HealthCheckId>", "us.t.example.net"),
		rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("default", "<CountryCode>*</CountryCode>"), "eu.t.example.net"),
	)).decode(t, 200, &ch)
	return f
}

func (f *apiFixture) expand(s string) string {
	return strings.NewReplacer("{zone}", f.zone, "{hc}", f.hc).Replace(s)
}

// listSets returns "name type setID" of every record set of the zone.
func (f *apiFixture) listSets(t *testing.T, zone string) []string {
	t.Helper()
	var l listRRSetsResponse
	f.do(t, "GET", "/2013-04-01/hostedzone/"+zone+"/rrset", "").decode(t, 200, &l)
	var out []string
	for _, s := range l.ResourceRecordSets {
		id := ""
		if s.SetIdentifier != nil {
			id = *s.SetIdentifier
		}
		out = append(out, strings.TrimSpace(*s.Name+" "+*s.Type+" "+id))
	}
	return out
}

// query asks the fixture's DNS server as a client at src would.
func (f *apiFixture) query(t *testing.T, name string, qtype uint16, src string) *dns.Msg {
	t.Helper()
	return exchange(t, f.srv, question(name, qtype), src, false)
}

type apiCase struct {
	name         string
	method, path string
	body         string
	status       int
	code, msg    string // for errors
	check        func(t *testing.T, f *apiFixture, rp apiReply)
}

func runAPICases(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t)
			rp := f.do(t, tc.method, f.expand(tc.path), f.expand(tc.body))
			if tc.code != "" {
				rp.wantError(t, tc.status, tc.code, f.expand(tc.msg))
			} else if rp.status != tc.status {
				t.Fatalf("status %d, want %d: %s", rp.status, tc.status, rp.body)
			}
			if tc.check != nil {
				tc.check(t, f, rp)
			}
		})
	}
}

const (
	zonePath  = "/2013-04-01/hostedzone/{zone}"
	rrsetPath = "/2013-04-01/hostedzone/{zone}/rrset/"
)

func TestAPIHostedZones(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "create", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("New.Example.Org", "r1", "hi"), status: 201,
			check: func(t *testing.T, f *apiFixture, rp apiReply) {
				var cz createHostedZoneResponse
				rp.decode(t, 201, &cz)
				hz := cz.HostedZone
				if hz.Name != "new.example.org." || hz.CallerReference != "r1" || hz.Config.Comment != "hi" || hz.ResourceRecordSetCount != 2 ||
					len(cz.DelegationSet.NameServers) != 4 || cz.ChangeInfo.Status != "PENDING" ||
					rp.header.Get("Location") != "https://route53.amazonaws.com/2013-04-01"+hz.ID {
					t.Fatalf("%+v\n%v", cz, rp.header)
				}
				// Served at once: SOA and NS at the apex.
				if m := f.query(t, "new.example.org.", dns.TypeNS, "127.0.0.1"); len(m.Answer) != 4 || !m.Authoritative {
					t.Fatalf("NS answer %v", m)
				}
			}},
		{name: "caller reference used", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("other.example.org", "fixture", ""),
			status: 409, code: "HostedZoneAlreadyExists", msg: "A hosted zone has already been created with the specified caller reference."},
		{name: "name served already", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("t.example.net.", "r2", ""),
			status: 409, code: "HostedZoneAlreadyExists", msg: "mockcloud serves one hosted zone per name: t.example.net. already has hosted zone {zone}"},
		{name: "bad name", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("a..b", "r2", ""),
			status: 400, code: "InvalidDomainName", msg: "a..b is not a valid domain name."},
		{name: "no caller reference", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>x.example.org</Name></CreateHostedZoneRequest>`,
			status: 400, code: "InvalidInput"},
		{name: "VPC", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>x.example.org</Name><VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-1</VPCId></VPC><CallerReference>r</CallerReference></CreateHostedZoneRequest>`,
			status: 400, code: "InvalidVPCId"},
		{name: "private zone", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>x.example.org</Name><CallerReference>r</CallerReference><HostedZoneConfig><PrivateZone>true</PrivateZone></HostedZoneConfig></CreateHostedZoneRequest>`,
			status: 400, code: "InvalidInput"},
		{name: "delegation set", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>x.example.org</Name><CallerReference>r</CallerReference><DelegationSetId>N1</DelegationSetId></CreateHostedZoneRequest>`,
			status: 400, code: "NoSuchDelegationSet"},
		{name: "wrong namespace", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="https://route53.amazonaws.com/doc/2012-12-12/"><Name>x.example.org</Name><CallerReference>r</CallerReference></CreateHostedZoneRequest>`,
			status: 400, code: "InvalidInput"},
		{name: "unknown element", method: "POST", path: "/2013-04-01/hostedzone",
			body:   `<CreateHostedZoneRequest xmlns="` + apiNamespace + `"><Name>x.example.org</Name><Colour>red</Colour><CallerReference>r</CallerReference></CreateHostedZoneRequest>`,
			status: 400, code: "InvalidInput", msg: "Invalid XML ; cvc-complex-type.2.4.a: invalid content was found starting with element 'Colour'"},
		{name: "content after the root", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("x.example.org", "r", "") + "<more/>",
			status: 400, code: "InvalidInput"},
		{name: "not XML", method: "POST", path: "/2013-04-01/hostedzone", body: "{}", status: 400, code: "InvalidInput"},
		{name: "empty body", method: "POST", path: "/2013-04-01/hostedzone", body: "", status: 400, code: "InvalidInput"},
		{name: "body too large", method: "POST", path: "/2013-04-01/hostedzone", body: createZoneBody("x.example.org", strings.Repeat("r", maxAPIBody), ""),
			status: 400, code: "InvalidInput", msg: "Invalid request: the request body is larger than 1048576 bytes"},
		{name: "get", method: "GET", path: zonePath, status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var g getHostedZoneResponse
			rp.decode(t, 200, &g)
			if g.HostedZone.ID != "/hostedzone/"+f.zone || g.HostedZone.ResourceRecordSetCount != 5 || len(g.DelegationSet.NameServers) != 4 {
				t.Fatalf("%+v", g)
			}
		}},
		{name: "get with the ID as Route 53 returns it", method: "GET", path: "/2013-04-01/hostedzone/%2Fhostedzone%2F{zone}", status: 200},
		{name: "get unknown", method: "GET", path: "/2013-04-01/hostedzone/ZNOPE", status: 404, code: "NoSuchHostedZone", msg: "No hosted zone found with ID: ZNOPE"},
		{name: "get ID too long", method: "GET", path: "/2013-04-01/hostedzone/" + strings.Repeat("Z", 33), status: 400, code: "InvalidInput"},
		{name: "delete not empty", method: "DELETE", path: zonePath, status: 400, code: "HostedZoneNotEmpty",
			msg: "The specified hosted zone contains non-required resource record sets and so cannot be deleted."},
		{name: "delete unknown", method: "DELETE", path: "/2013-04-01/hostedzone/ZNOPE", status: 404, code: "NoSuchHostedZone"},
		{name: "list", method: "GET", path: "/2013-04-01/hostedzone", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listHostedZonesResponse
			rp.decode(t, 200, &l)
			var names []string
			for _, z := range l.HostedZones {
				names = append(names, z.Name)
			}
			if !slices.Equal(names, []string{"example.com.", "amazonaws.com.", "t.example.net."}) || l.IsTruncated || l.MaxItems != "100" {
				t.Fatalf("%v %+v", names, l)
			}
		}},
		{name: "list in pages", method: "GET", path: "/2013-04-01/hostedzone?maxitems=2", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listHostedZonesResponse
			rp.decode(t, 200, &l)
			if len(l.HostedZones) != 2 || !l.IsTruncated || l.NextMarker != f.zone {
				t.Fatalf("%+v", l)
			}
			marker := l.NextMarker
			l = listHostedZonesResponse{}
			f.do(t, "GET", "/2013-04-01/hostedzone?maxitems=2&marker="+marker, "").decode(t, 200, &l)
			if len(l.HostedZones) != 1 || l.IsTruncated || l.Marker != f.zone || l.HostedZones[0].Name != "t.example.net." {
				t.Fatalf("second page %+v", l)
			}
		}},
		{name: "list bad maxitems", method: "GET", path: "/2013-04-01/hostedzone?maxitems=x", status: 400, code: "InvalidInput"},
		{name: "list bad marker", method: "GET", path: "/2013-04-01/hostedzone?marker=ZNOPE", status: 400, code: "InvalidInput"},
		{name: "list by delegation set", method: "GET", path: "/2013-04-01/hostedzone?delegationsetid=N1", status: 400, code: "NoSuchDelegationSet"},
		{name: "list by name", method: "GET", path: "/2013-04-01/hostedzonesbyname", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listHostedZonesByNameResponse
			rp.decode(t, 200, &l)
			var names []string
			for _, z := range l.HostedZones {
				names = append(names, z.Name)
			}
			// com.amazonaws < com.example < net.example.t
			if !slices.Equal(names, []string{"amazonaws.com.", "example.com.", "t.example.net."}) {
				t.Fatalf("%v", names)
			}
		}},
		{name: "list by name from a name, in pages", method: "GET", path: "/2013-04-01/hostedzonesbyname?dnsname=example.com&maxitems=1", status: 200,
			check: func(t *testing.T, f *apiFixture, rp apiReply) {
				var l listHostedZonesByNameResponse
				rp.decode(t, 200, &l)
				if len(l.HostedZones) != 1 || l.HostedZones[0].Name != "example.com." || !l.IsTruncated ||
					l.NextDNSName != "t.example.net." || l.NextHostedZoneID != f.zone || l.DNSName != "example.com" {
					t.Fatalf("%+v", l)
				}
				next := "/2013-04-01/hostedzonesbyname?dnsname=" + l.NextDNSName + "&hostedzoneid=" + l.NextHostedZoneID
				l = listHostedZonesByNameResponse{}
				f.do(t, "GET", next, "").decode(t, 200, &l)
				if len(l.HostedZones) != 1 || l.HostedZones[0].Name != "t.example.net." || l.IsTruncated {
					t.Fatalf("second page %+v", l)
				}
			}},
		{name: "list by name, zone ID without name", method: "GET", path: "/2013-04-01/hostedzonesbyname?hostedzoneid={zone}", status: 400, code: "InvalidInput"},
		{name: "list by bad name", method: "GET", path: "/2013-04-01/hostedzonesbyname?dnsname=a..b", status: 400, code: "InvalidDomainName"},
	})
}

func TestAPIDeleteHostedZone(t *testing.T) {
	f := newAPIFixture(t)
	f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(
		rrChange("DELETE", "a.t.example.net", "A", "300", "", "192.0.2.1"),
		rrChange("DELETE", "g.t.example.net", "CNAME", "30", geoExtra("na", "<ContinentCode>NA</ContinentCode>")+"<HealthCheckId>"+f.hc+"</HealthCheckId>", "us.t.example.net"),
		rrChange("DELETE", "g.t.example.net", "CNAME", "30", geoExtra("default", "<CountryCode>*</CountryCode>"), "eu.t.example.net"),
	)).decode(t, 200, &changeInfoResponse{})
	var d changeInfoResponse
	f.do(t, "DELETE", "/2013-04-01/hostedzone/"+f.zone, "").decode(t, 200, &d)
	if d.XMLName.Local != "DeleteHostedZoneResponse" || d.ChangeInfo.Status != "PENDING" {
		t.Fatalf("%+v", d)
	}
	f.do(t, "GET", "/2013-04-01/hostedzone/"+f.zone, "").wantError(t, 404, "NoSuchHostedZone", "")
	f.do(t, "POST", "/2013-04-01/hostedzone", createZoneBody("t.example.net", "fixture", "")).wantError(t, 409, "HostedZoneAlreadyExists",
		"A hosted zone has already been created with the specified caller reference.")
	if m := f.query(t, "t.example.net.", dns.TypeSOA, "127.0.0.1"); m.Rcode != dns.RcodeRefused {
		t.Fatalf("after delete: %v", m)
	}
	// The rig file's zones are hosted zones like any other.
	var rig listHostedZonesByNameResponse
	f.do(t, "GET", "/2013-04-01/hostedzonesbyname?dnsname=amazonaws.com&maxitems=1", "").decode(t, 200, &rig)
	f.do(t, "DELETE", "/2013-04-01"+rig.HostedZones[0].ID, "").wantError(t, 400, "HostedZoneNotEmpty", "")
}

func TestAPIGetChange(t *testing.T) {
	f := newAPIFixture(t)
	var ch changeInfoResponse
	f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(rrChange("UPSERT", "b.t.example.net", "A", "60", "", "192.0.2.2"))).decode(t, 200, &ch)
	if ch.ChangeInfo.Status != "PENDING" || ch.ChangeInfo.Comment != "c" || !strings.HasPrefix(ch.ChangeInfo.ID, "/change/C") {
		t.Fatalf("%+v", ch)
	}
	for _, p := range []string{ch.ChangeInfo.ID, "/change/" + strings.ReplaceAll(ch.ChangeInfo.ID, "/", "%2F")} {
		var g changeInfoResponse
		f.do(t, "GET", "/2013-04-01"+p, "").decode(t, 200, &g)
		if g.XMLName.Local != "GetChangeResponse" || g.ChangeInfo.Status != "INSYNC" || g.ChangeInfo.ID != ch.ChangeInfo.ID ||
			g.ChangeInfo.SubmittedAt != ch.ChangeInfo.SubmittedAt {
			t.Fatalf("%s: %+v", p, g)
		}
	}
	f.do(t, "GET", "/2013-04-01/change/CNOPE", "").wantError(t, 404, "NoSuchChange", "A change with the specified change ID does not exist.")
}

func TestAPIRouting(t *testing.T) {
	f := newAPIFixture(t)
	f.do(t, "GET", "/2013-04-01/nothing", "").wantError(t, 404, "UnknownOperationException", "")
	f.do(t, "GET", "/2013-04-01/", "").wantError(t, 404, "UnknownOperationException", "")
	rp := f.do(t, "PUT", "/2013-04-01/hostedzone", "")
	rp.wantError(t, 405, "MethodNotAllowed", "")
	if rp.header.Get("Allow") != "POST, GET" {
		t.Errorf("Allow %q", rp.header.Get("Allow"))
	}
	// No Authorization header at all is accepted too.
	req, _ := http.NewRequest("GET", f.url+"/2013-04-01/hostedzone", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("unsigned: %d", resp.StatusCode)
	}
}
