package route53

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

var fixtureSets = []string{"t.example.net. NS", "t.example.net. SOA", "a.t.example.net. A", "g.t.example.net. CNAME default", "g.t.example.net. CNAME na"}

// unchanged checks a refused batch left the zone as the fixture made it.
func unchanged(t *testing.T, f *apiFixture, _ apiReply) {
	t.Helper()
	if got := f.listSets(t, f.zone); !slices.Equal(got, fixtureSets) {
		t.Fatalf("zone changed by a refused batch: %q", got)
	}
}

func TestAPIChangeResourceRecordSets(t *testing.T) {
	a1 := rrChange("CREATE", "a.t.example.net", "A", "300", "", "192.0.2.1")
	naExtra := geoExtra("na", "<ContinentCode>NA</ContinentCode>") + "<HealthCheckId>{hc}</HealthCheckId>"
	runAPICases(t, []apiCase{
		{name: "create is served with its TTL", method: "POST", path: rrsetPath,
			body: changeBody(rrChange("CREATE", "New.T.example.net.", "AAAA", "0", "", "2001:db8::1", "2001:db8::2")), status: 200,
			check: func(t *testing.T, f *apiFixture, rp apiReply) {
				var ch changeInfoResponse
				rp.decode(t, 200, &ch)
				if ch.XMLName.Local != "ChangeResourceRecordSetsResponse" || ch.ChangeInfo.Status != "PENDING" {
					t.Fatalf("%+v", ch)
				}
				m := f.query(t, "new.t.example.net.", dns.TypeAAAA, "127.0.0.1")
				if got := answerData(m); !slices.Equal(got, []string{"AAAA 2001:db8::1", "AAAA 2001:db8::2"}) || m.Answer[0].Header().Ttl != 0 {
					t.Fatalf("answer %v", m.Answer)
				}
			}},
		{name: "upsert replaces", method: "POST", path: rrsetPath,
			body: changeBody(rrChange("UPSERT", "a.t.example.net", "A", "77", "", "192.0.2.7")), status: 200,
			check: func(t *testing.T, f *apiFixture, _ apiReply) {
				m := f.query(t, "a.t.example.net.", dns.TypeA, "127.0.0.1")
				if got := answerData(m); !slices.Equal(got, []string{"A 192.0.2.7"}) || m.Answer[0].Header().Ttl != 77 {
					t.Fatalf("answer %v", m.Answer)
				}
			}},
		{name: "delete then create in one batch", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("DELETE", "a.t.example.net", "A", "300", "", "192.0.2.1"), rrChange("CREATE", "a.t.example.net", "TXT", "60", "", `"moved"`)),
			status: 200, check: func(t *testing.T, f *apiFixture, _ apiReply) {
				if got := answerData(f.query(t, "a.t.example.net.", dns.TypeTXT, "127.0.0.1")); !slices.Equal(got, []string{`TXT "moved"`}) {
					t.Fatalf("answer %v", got)
				}
			}},
		{name: "geolocation sets by location", method: "POST", path: rrsetPath,
			body: changeBody(rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("de", "<CountryCode>DE</CountryCode>"), "de.t.example.net"),
				rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("us-wa", "<CountryCode>US</CountryCode><SubdivisionCode>WA</SubdivisionCode>"), "wa.t.example.net")),
			status: 200, check: func(t *testing.T, f *apiFixture, _ apiReply) {
				for src, want := range map[string]string{"127.0.2.1": "de", "127.0.1.1": "us", "127.0.3.1": "eu"} {
					if got := answerData(f.query(t, "g.t.example.net.", dns.TypeCNAME, src)); !slices.Equal(got, []string{"CNAME " + want + ".t.example.net."}) {
						t.Errorf("from %s: %v, want %s", src, got, want)
					}
				}
				m := exchange(t, f.srv, withECS(question("g.t.example.net.", dns.TypeCNAME), "100.64.1.0/24"), "127.0.0.1", false)
				if got := answerData(m); !slices.Equal(got, []string{"CNAME wa.t.example.net."}) {
					t.Errorf("WA by ECS: %v", got)
				}
			}},
		{name: "create existing", method: "POST", path: rrsetPath, body: changeBody(a1),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to create resource record set [name='a.t.example.net.', type='A'] but it already exists]", check: unchanged},
		{name: "create existing geolocation set", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("default", "<CountryCode>*</CountryCode>"), "x.t.example.net")),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to create resource record set [name='g.t.example.net.', type='CNAME', set-identifier='default'] but it already exists]"},
		{name: "delete missing", method: "POST", path: rrsetPath, body: changeBody(rrChange("DELETE", "b.t.example.net", "A", "300", "", "192.0.2.1")),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to delete resource record set [name='b.t.example.net.', type='A'] but it was not found]"},
		{name: "delete with other values", method: "POST", path: rrsetPath, body: changeBody(rrChange("DELETE", "a.t.example.net", "A", "300", "", "192.0.2.9")),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to delete resource record set [name='a.t.example.net.', type='A'] but the values provided do not match the current values]"},
		{name: "delete with another TTL", method: "POST", path: rrsetPath, body: changeBody(rrChange("DELETE", "a.t.example.net", "A", "60", "", "192.0.2.1")),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to delete resource record set [name='a.t.example.net.', type='A'] but the values provided do not match the current values]"},
		{name: "delete without the health check", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("DELETE", "g.t.example.net", "CNAME", "30", geoExtra("na", "<ContinentCode>NA</ContinentCode>"), "us.t.example.net")),
			status: 400, code: "InvalidChangeBatch", msg: "[Tried to delete resource record set [name='g.t.example.net.', type='CNAME', set-identifier='na'] but the values provided do not match the current values]"},
		{name: "delete geolocation set", method: "POST", path: rrsetPath,
			body: changeBody(rrChange("DELETE", "g.t.example.net", "CNAME", "30", naExtra, "US.t.example.net.")), status: 200,
			check: func(t *testing.T, f *apiFixture, _ apiReply) {
				if got := answerData(f.query(t, "g.t.example.net.", dns.TypeCNAME, "127.0.1.1")); !slices.Equal(got, []string{"CNAME eu.t.example.net."}) {
					t.Fatalf("US after delete: %v", got)
				}
			}},
		{name: "a failed change refuses the batch", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "b.t.example.net", "A", "60", "", "192.0.2.2"), a1),
			status: 400, code: "InvalidChangeBatch", check: unchanged},
		{name: "every failed change is named", method: "POST", path: rrsetPath,
			body: changeBody(a1, rrChange("DELETE", "b.t.example.net", "A", "300", "", "192.0.2.1")), status: 400, code: "InvalidChangeBatch",
			msg: "[Tried to create resource record set [name='a.t.example.net.', type='A'] but it already exists, " +
				"Tried to delete resource record set [name='b.t.example.net.', type='A'] but it was not found]"},
		{name: "geolocation without set identifier", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "<GeoLocation><ContinentCode>EU</ContinentCode></GeoLocation>", "192.0.2.1")),
			status: 400, code: "InvalidInput", msg: "Invalid request: Missing field 'SetIdentifier' in Change with [Action=CREATE, Name=x.t.example.net., Type=A, SetIdentifier=null]"},
		{name: "set identifier without routing policy", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "<SetIdentifier>s</SetIdentifier>", "192.0.2.1")),
			status: 400, code: "InvalidInput", msg: "Invalid request: Expected exactly one of [Weight, Region, Failover, GeoLocation, or MultiValueAnswer], but found none in Change with [Action=CREATE, Name=x.t.example.net., Type=A, SetIdentifier=s]"},
		{name: "no TTL", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "", "", "192.0.2.1")),
			status: 400, code: "InvalidInput", msg: "Invalid request: Expected exactly one of [AliasTarget, all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but found none in Change with [Action=CREATE, Name=x.t.example.net., Type=A, SetIdentifier=null]"},
		{name: "no records", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "")),
			status: 400, code: "InvalidInput"},
		{name: "empty ResourceRecords", method: "POST", path: rrsetPath,
			body:   changeBody(`<Change><Action>CREATE</Action><ResourceRecordSet><Name>x.t.example.net</Name><Type>A</Type><TTL>1</TTL><ResourceRecords/></ResourceRecordSet></Change>`),
			status: 400, code: "InvalidInput"},
		{name: "TTL out of range", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "2147483648", "", "192.0.2.1")),
			status: 400, code: "InvalidInput"},
		{name: "bad action", method: "POST", path: rrsetPath, body: changeBody(rrChange("REPLACE", "x.t.example.net", "A", "60", "", "192.0.2.1")),
			status: 400, code: "InvalidInput", msg: "Invalid XML ; cvc-enumeration-valid: Value 'REPLACE' is not facet-valid with respect to enumeration '[CREATE, DELETE, UPSERT]'. It must be a value from the enumeration."},
		{name: "bad type", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "a", "60", "", "192.0.2.1")),
			status: 400, code: "InvalidInput"},
		{name: "type the mock does not serve", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "SPF", "60", "", `"v=spf1 -all"`)),
			status: 400, code: "InvalidChangeBatch", msg: "[mockcloud does not serve SPF records]"},
		{name: "weighted", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "<SetIdentifier>w</SetIdentifier><Weight>1</Weight>", "192.0.2.1")),
			status: 400, code: "InvalidInput"},
		{name: "alias", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "", "<AliasTarget><HostedZoneId>Z1</HostedZoneId><DNSName>a.t.example.net</DNSName><EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget>")),
			status: 400, code: "InvalidInput"},
		{name: "bad A value", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "", "192.0.2")),
			status: 400, code: "InvalidChangeBatch", msg: "[Invalid Resource Record: FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '192.0.2']"},
		{name: "CNAME with two values", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "CNAME", "60", "", "a.example.", "b.example.")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet of type CNAME with DNS name x.t.example.net. has more than one value]"},
		{name: "name outside the zone", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.example.org", "A", "60", "", "192.0.2.1")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet with DNS name x.example.org. is not permitted in zone t.example.net.]"},
		{name: "CNAME beside other records", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "a.t.example.net", "CNAME", "60", "", "b.example.")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet of type CNAME with DNS name a.t.example.net. is not permitted as it conflicts with other records with the same DNS name in zone t.example.net.]"},
		{name: "records beside a CNAME", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "g.t.example.net", "TXT", "60", "", `"x"`)),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet of type TXT with DNS name g.t.example.net. is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone t.example.net.]"},
		{name: "CNAME at the apex", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "t.example.net", "CNAME", "60", "", "b.example.")),
			status: 400, code: "InvalidChangeBatch"},
		{name: "geolocation beside a simple set", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "a.t.example.net", "A", "60", geoExtra("eu", "<ContinentCode>EU</ContinentCode>"), "192.0.2.5")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet with DNS name a.t.example.net., type A cannot be created as other RRSets exist with the same name and type.]"},
		{name: "simple beside geolocation sets", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "g.t.example.net", "CNAME", "60", "", "b.example.")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet with DNS name g.t.example.net., type CNAME cannot be created as other RRSets exist with the same name and type.]"},
		{name: "two sets for one location", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "g.t.example.net", "CNAME", "30", geoExtra("na2", "<ContinentCode>NA</ContinentCode>"), "x.t.example.net")),
			status: 400, code: "InvalidChangeBatch", msg: "[RRSet with DNS name g.t.example.net., type CNAME, SetIdentifier na2 and GeoLocation [ContinentCode=NA] cannot be created because a geolocation RRSet with the same name, type and location already exists.]"},
		{name: "bad country", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", geoExtra("zz", "<CountryCode>ZZ</CountryCode>"), "192.0.2.1")),
			status: 400, code: "InvalidInput"},
		{name: "continent with country", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", geoExtra("x", "<ContinentCode>EU</ContinentCode><CountryCode>DE</CountryCode>"), "192.0.2.1")),
			status: 400, code: "InvalidInput"},
		{name: "unknown health check", method: "POST", path: rrsetPath,
			body:   changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", geoExtra("x", "<ContinentCode>EU</ContinentCode>")+"<HealthCheckId>nope</HealthCheckId>", "192.0.2.1")),
			status: 404, code: "NoSuchHealthCheck", msg: "A health check with id nope does not exist."},
		{name: "NS below the apex", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "sub.t.example.net", "NS", "60", "", "ns.example.")),
			status: 400, code: "InvalidChangeBatch"},
		{name: "no such zone", method: "POST", path: "/2013-04-01/hostedzone/ZNOPE/rrset", body: changeBody(a1),
			status: 404, code: "NoSuchHostedZone", msg: "No hosted zone found with ID: ZNOPE"},
		{name: "no changes", method: "POST", path: rrsetPath,
			body:   `<ChangeResourceRecordSetsRequest xmlns="` + apiNamespace + `"><ChangeBatch><Changes></Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`,
			status: 400, code: "InvalidInput"},
		{name: "no change batch", method: "POST", path: rrsetPath, body: `<ChangeResourceRecordSetsRequest xmlns="` + apiNamespace + `"/>`,
			status: 400, code: "InvalidInput"},
		{name: "too many records", method: "POST", path: rrsetPath, body: changeBody(rrChange("CREATE", "x.t.example.net", "A", "60", "", manyIPs(1001)...)),
			status: 400, code: "InvalidChangeBatch", msg: "[Number of records limit of 1000 exceeded.]"},
	})
}

func manyIPs(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	return out
}

// TestAPIDeleteApexRecords deletes the zone's own SOA and NS, with their
// values as listed: Route 53 keeps both while the zone lives.
func TestAPIDeleteApexRecords(t *testing.T) {
	f := newAPIFixture(t)
	var l listRRSetsResponse
	f.do(t, "GET", "/2013-04-01/hostedzone/"+f.zone+"/rrset?maxitems=2", "").decode(t, 200, &l)
	for _, s := range l.ResourceRecordSets {
		var values []string
		for _, v := range s.ResourceRecords.ResourceRecord {
			values = append(values, *v.Value)
		}
		msg := map[string]string{"SOA": "[A HostedZone must contain exactly one SOA record.]", "NS": "[A HostedZone must contain at least one NS record for the zone itself.]"}[*s.Type]
		f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(rrChange("DELETE", *s.Name, *s.Type, fmt.Sprint(*s.TTL), "", values...))).
			wantError(t, 400, "InvalidChangeBatch", msg)
	}
}

func TestAPIListResourceRecordSets(t *testing.T) {
	runAPICases(t, []apiCase{
		{name: "all, in Route 53's order", method: "GET", path: rrsetPath, status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listRRSetsResponse
			rp.decode(t, 200, &l)
			if len(l.ResourceRecordSets) != 5 || l.IsTruncated || l.MaxItems != "300" {
				t.Fatalf("%+v", l)
			}
			na := l.ResourceRecordSets[4]
			if *na.SetIdentifier != "na" || *na.GeoLocation.ContinentCode != "NA" || *na.HealthCheckID != f.hc || *na.TTL != 30 ||
				*na.ResourceRecords.ResourceRecord[0].Value != "us.t.example.net" {
				t.Fatalf("geolocation set %+v", na)
			}
		}},
		{name: "pages", method: "GET", path: rrsetPath + "?maxitems=3", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listRRSetsResponse
			rp.decode(t, 200, &l)
			if len(l.ResourceRecordSets) != 3 || !l.IsTruncated || l.NextRecordName != "g.t.example.net." || l.NextRecordType != "CNAME" || l.NextRecordIdentifier != "default" {
				t.Fatalf("%+v", l)
			}
			l = listRRSetsResponse{}
			f.do(t, "GET", f.expand(rrsetPath)+"?name=g.t.example.net.&type=CNAME&identifier=default&maxitems=3", "").decode(t, 200, &l)
			if len(l.ResourceRecordSets) != 2 || l.IsTruncated || *l.ResourceRecordSets[1].SetIdentifier != "na" {
				t.Fatalf("second page %+v", l)
			}
		}},
		{name: "from a name", method: "GET", path: rrsetPath + "?name=g.t.example.net", status: 200, check: func(t *testing.T, f *apiFixture, rp apiReply) {
			var l listRRSetsResponse
			rp.decode(t, 200, &l)
			if len(l.ResourceRecordSets) != 2 {
				t.Fatalf("%+v", l)
			}
		}},
		{name: "type without name", method: "GET", path: rrsetPath + "?type=A", status: 400, code: "InvalidInput"},
		{name: "identifier without type", method: "GET", path: rrsetPath + "?name=a.t.example.net&identifier=x", status: 400, code: "InvalidInput"},
		{name: "bad type", method: "GET", path: rrsetPath + "?name=a.t.example.net&type=ZZ", status: 400, code: "InvalidInput"},
		{name: "bad maxitems", method: "GET", path: rrsetPath + "?maxitems=-1", status: 400, code: "InvalidInput"},
		{name: "no such zone", method: "GET", path: "/2013-04-01/hostedzone/ZNOPE/rrset", status: 404, code: "NoSuchHostedZone"},
	})
}

// TestAPIRigZone: the rig file's zone lists as Route 53 would list it (its
// SOA as a record, TTL 0 as the zone's TTL) and takes changes like any.
func TestAPIRigZone(t *testing.T) {
	f := &apiFixture{apiRig: newAPIRig(t, nil)}
	var l listHostedZonesByNameResponse
	f.do(t, "GET", "/2013-04-01/hostedzonesbyname?dnsname=example.com&maxitems=1", "").decode(t, 200, &l)
	id := strings.TrimPrefix(l.HostedZones[0].ID, "/hostedzone/")
	if id != nameZoneID("example.com.") {
		t.Fatalf("rig zone ID %s", id)
	}
	var rs listRRSetsResponse
	f.do(t, "GET", "/2013-04-01/hostedzone/"+id+"/rrset?name=example.com&type=SOA&maxitems=2", "").decode(t, 200, &rs)
	soa, next := rs.ResourceRecordSets[0], rs.ResourceRecordSets[1]
	if *soa.Type != "SOA" || *soa.TTL != int64(DefaultSOATTL) || *soa.ResourceRecords.ResourceRecord[0].Value != "ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60" {
		t.Fatalf("SOA %+v", soa)
	}
	if *next.Name != "big.example.com." || *next.TTL != int64(DefaultTTL) {
		t.Fatalf("next %+v %d", *next.Name, *next.TTL)
	}
	before := f.query(t, "example.com.", dns.TypeSOA, "127.0.0.1")
	if got := answerData(before); !slices.Equal(got, []string{"SOA ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 60"}) {
		t.Fatalf("SOA served %v", got)
	}
	// Re-point the North America record of global.iot.example.com.
	f.do(t, "POST", "/2013-04-01/hostedzone/"+id+"/rrset", changeBody(rrChange("UPSERT", globalName, "CNAME", "5",
		geoExtra("us-east-1", "<ContinentCode>NA</ContinentCode>"), apNE1))).decode(t, 200, &changeInfoResponse{})
	m := f.query(t, globalName, dns.TypeCNAME, "127.0.1.1")
	if got := answerData(m); !slices.Equal(got, []string{"CNAME " + apNE1}) || m.Answer[0].Header().Ttl != 5 {
		t.Fatalf("US after UPSERT: %v", m.Answer)
	}
	// SetHealthy still takes a set identifier out.
	if err := f.srv.SetHealthy("us-east-1", false); err != nil {
		t.Fatal(err)
	}
	if got := answerData(f.query(t, globalName, dns.TypeCNAME, "127.0.1.1")); !slices.Equal(got, []string{"CNAME " + euWest1}) {
		t.Fatalf("US with us-east-1 unhealthy: %v", got)
	}
}

// TestAPIConcurrentChanges runs batches from many clients at once against
// queries; every batch lands and -race checks the locking.
func TestAPIConcurrentChanges(t *testing.T) {
	f := newAPIFixture(t)
	const clients = 8
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("c%d.t.example.net", i)
			rp := f.do(t, "POST", "/2013-04-01/hostedzone/"+f.zone+"/rrset", changeBody(rrChange("CREATE", name, "A", "60", "", fmt.Sprintf("192.0.2.%d", 100+i))))
			if rp.status != 200 {
				t.Errorf("%s: %d %s", name, rp.status, rp.body)
			}
			if err := serveChecked(f.srv, question("g.t.example.net.", dns.TypeCNAME), "127.0.1.1", false); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := f.listSets(t, f.zone); len(got) != len(fixtureSets)+clients {
		t.Fatalf("%d record sets after %d batches: %q", len(got), clients, got)
	}
	for i := range clients {
		want := []string{fmt.Sprintf("A 192.0.2.%d", 100+i)}
		if got := answerData(f.query(t, fmt.Sprintf("c%d.t.example.net.", i), dns.TypeA, "127.0.0.1")); !slices.Equal(got, want) {
			t.Errorf("c%d: %v", i, got)
		}
	}
}
