package dnsresolve

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/dnsresolve/dnstest"
	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// Endpoint names of the mock cloud's rig (testdata/rig.yaml: prefix a1b2c3d4e5f6g7) and
// other AWS names, for the region tests.
const (
	rigUS  = "a1b2c3d4e5f6g7-ats.iot.us-east-1.amazonaws.com"
	rigEU  = "a1b2c3d4e5f6g7-ats.iot.eu-west-1.amazonaws.com"
	rigAP  = "a1b2c3d4e5f6g7-ats.iot.ap-northeast-1.amazonaws.com"
	lbUS   = "abc123-lb-0123.elb.us-east-1.amazonaws.com"
	soaNet = "example.net. 300 IN SOA ns.example.net. admin.example.net. 1 7200 900 1209600 60"
	soaCN  = "amazonaws.com.cn. 300 IN SOA ns.amazonaws.com.cn. admin.amazonaws.com.cn. 1 7200 900 1209600 60"
)

// TestResolveRegion is the trust rule of the package doc, against a real server: which
// chains give which region, which give none, and what a configured region changes.
func TestResolveRegion(t *testing.T) {
	tests := []struct {
		name     string
		records  []string
		query    string
		region   string // Config.Region
		wantErr  error
		wantReg  string
		wantFrom string // Result.RegionName
		wantName string
		wantWarn bool // the log warns of two regions on the chain
	}{
		// No name on the chain is an AWS IoT endpoint name: no region, whatever the
		// addresses are.
		{
			name:    "CNAME to a name outside AWS",
			records: []string{soaEx, soaNet, global + ". 60 IN CNAME edge.example.net.", "edge.example.net. 60 IN A 127.0.0.12"},
			query:   global, wantErr: ErrNoRegion,
		},
		{
			name:    "global name answered with an address",
			records: []string{soaEx, global + ". 60 IN A 127.0.0.12"},
			query:   global, wantErr: ErrNoRegion,
		},
		{
			name:    "CNAME to another AWS service name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + lbUS + ".", lbUS + ". 60 IN A 127.0.0.11"},
			query:   global, wantErr: ErrNoRegion,
		},
		{
			name:    "CNAME to the control-plane name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME iot.us-east-1.amazonaws.com.", "iot.us-east-1.amazonaws.com. 60 IN A 127.0.0.11"},
			query:   global, wantErr: ErrNoRegion,
		},
		{
			name: "CNAME to a look-alike under another domain",
			records: []string{soaEx, soaNet, global + ". 60 IN CNAME " + rigUS + ".example.net.",
				rigUS + ".example.net. 60 IN A 127.0.0.11"},
			query: global, wantErr: ErrNoRegion,
		},
		// The endpoint forms.
		{
			name:    "the rig ATS name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigAP + ".", rigAP + ". 60 IN A 127.0.0.13"},
			query:   global, wantReg: "ap-northeast-1", wantFrom: rigAP, wantName: rigAP,
		},
		{
			name: "legacy data endpoint name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME a1b2c3.iot.eu-central-1.amazonaws.com.",
				"a1b2c3.iot.eu-central-1.amazonaws.com. 60 IN A 127.0.0.14"},
			query: global, wantReg: "eu-central-1", wantFrom: "a1b2c3.iot.eu-central-1.amazonaws.com",
			wantName: "a1b2c3.iot.eu-central-1.amazonaws.com",
		},
		{
			name: "China ATS name",
			records: []string{soaEx, soaCN, global + ". 60 IN CNAME a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn.",
				"a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn. 60 IN A 127.0.0.15"},
			query: global, wantReg: "cn-north-1", wantFrom: "a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn",
			wantName: "a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn",
		},
		{
			name: "FIPS data name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME data.iot-fips.us-gov-west-1.amazonaws.com.",
				"data.iot-fips.us-gov-west-1.amazonaws.com. 60 IN A 127.0.0.16"},
			query: global, wantReg: "us-gov-west-1", wantFrom: "data.iot-fips.us-gov-west-1.amazonaws.com",
			wantName: "data.iot-fips.us-gov-west-1.amazonaws.com",
		},
		{
			name:    "endpoint name asked directly",
			records: []string{soaAWS, rigEU + ". 60 IN A 127.0.0.12"},
			query:   rigEU, wantReg: "eu-west-1", wantFrom: rigEU, wantName: rigEU,
		},
		// Where the chain goes on after the endpoint name.
		{
			name: "one more CNAME after the ATS name",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigUS + ".", rigUS + ". 60 IN CNAME " + lbUS + ".",
				lbUS + ". 60 IN A 127.0.0.21"},
			query: global, wantReg: "us-east-1", wantFrom: rigUS, wantName: lbUS,
		},
		{
			name: "name outside AWS after the ATS name is not judged",
			records: []string{soaEx, soaAWS, soaNet, global + ". 60 IN CNAME " + rigUS + ".", rigUS + ". 60 IN CNAME edge.example.net.",
				"edge.example.net. 60 IN A 127.0.0.21"},
			query: global, wantReg: "us-east-1", wantFrom: rigUS, wantName: "edge.example.net",
		},
		{
			name: "regional name aliased to another region, the later wins",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigUS + ".", rigUS + ". 60 IN CNAME " + rigEU + ".",
				rigEU + ". 60 IN A 127.0.0.12"},
			query: global, wantReg: "eu-west-1", wantFrom: rigEU, wantName: rigEU, wantWarn: true,
		},
		{
			name: "another region behind the load balancer hop, the later wins",
			records: []string{soaAWS, rigUS + ". 60 IN CNAME " + lbUS + ".", lbUS + ". 60 IN CNAME " + rigAP + ".",
				rigAP + ". 60 IN A 127.0.0.13"},
			query: rigUS, wantReg: "ap-northeast-1", wantFrom: rigAP, wantName: rigAP, wantWarn: true,
		},
		{
			// 127.0.0.12 is eu-west-1's address in the rig: addresses never decide.
			name:    "regional name answered with another region address",
			records: []string{soaAWS, rigUS + ". 60 IN A 127.0.0.12"},
			query:   rigUS, wantReg: "us-east-1", wantFrom: rigUS, wantName: rigUS,
		},
		// A configured region.
		{
			name:    "configured region covers a chain without one",
			records: []string{soaEx, soaNet, global + ". 60 IN CNAME proxy.example.net.", "proxy.example.net. 60 IN A 127.0.0.12"},
			query:   global, region: "eu-west-1", wantReg: "eu-west-1", wantName: "proxy.example.net",
		},
		{
			name:    "configured region agrees with the chain",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigEU + ".", rigEU + ". 60 IN A 127.0.0.12"},
			query:   global, region: "eu-west-1", wantReg: "eu-west-1", wantFrom: rigEU, wantName: rigEU,
		},
		{
			name:    "chain leads to another region than configured",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigUS + ".", rigUS + ". 60 IN A 127.0.0.11"},
			query:   global, region: "eu-west-1", wantErr: ErrRegionMismatch,
		},
		{
			name: "configured region is the earlier of two on the chain",
			records: []string{soaEx, soaAWS, global + ". 60 IN CNAME " + rigEU + ".", rigEU + ". 60 IN CNAME " + rigUS + ".",
				rigUS + ". 60 IN A 127.0.0.11"},
			query: global, region: "eu-west-1", wantErr: ErrRegionMismatch,
		},
	}
	for _, tt := range tests {
		for _, chase := range []bool{true, false} {
			name := tt.name + "/target in the answer"
			if !chase {
				name = tt.name + "/target queried"
			}
			t.Run(name, func(t *testing.T) {
				srv := startServer(t, dnstest.NewZone(chase, tt.records...))
				core, logs := observer.New(zapcore.WarnLevel)
				log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
				r, err := New(Config{Servers: []string{srv.Addr}, Region: tt.region, Attempts: 1, Logger: log})
				if err != nil {
					t.Fatal(err)
				}
				res, err := r.ResolveCached(context.Background(), tt.query)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) || res != nil {
						t.Fatalf("got %+v, %v; want %v", res, err, tt.wantErr)
					}
					var re *RegionError
					if !errors.As(err, &re) || re.Query != tt.query || re.Name == "" {
						t.Fatalf("err %v is not a *RegionError for %s", err, tt.query)
					}
					// The message shows the chain as the DNS answered it.
					chain := re.Query
					for _, l := range re.Chain {
						chain += " -> " + l.Target
					}
					if !strings.Contains(err.Error(), chain) || !strings.HasSuffix(chain, re.Name) {
						t.Errorf("message %q does not show the chain %q", err, chain)
					}
					if got, want := IsTransient(err), tt.wantErr == ErrNoRegion; got != want {
						t.Errorf("IsTransient = %v, want %v", got, want)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if res.Region != tt.wantReg || res.RegionName != tt.wantFrom || res.Name != tt.wantName {
					t.Errorf("region %q from %q, name %q; want %q from %q, name %q",
						res.Region, res.RegionName, res.Name, tt.wantReg, tt.wantFrom, tt.wantName)
				}
				if len(res.Addrs) == 0 {
					t.Error("no addresses")
				}
				warned := logs.FilterMessageSnippet("two regions").Len() > 0
				if warned != tt.wantWarn {
					t.Errorf("warned of two regions: %v, want %v (%v)", warned, tt.wantWarn, logs.All())
				}
			})
		}
	}
}

// An answer that names no region does not replace the last one that did: ResolveCached
// serves that one, stale, and Resolve says why.
func TestResolveCachedCoversNoRegion(t *testing.T) {
	srv := startServer(t, dnstest.NewZone(true, rigRecords()...))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	ctx := context.Background()
	if _, err := r.ResolveCached(ctx, global); err != nil {
		t.Fatal(err)
	}
	srv.SetHandler(dnstest.NewZone(true, soaEx, global+". 60 IN A 192.0.2.1"))
	if res, err := r.Resolve(ctx, global); !errors.Is(err, ErrNoRegion) || res != nil {
		t.Fatalf("Resolve: %+v, %v; want ErrNoRegion", res, err)
	}
	res, err := r.ResolveCached(ctx, global)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Stale || !errors.Is(res.StaleReason, ErrNoRegion) || res.Region != "eu-west-1" || res.RegionName != regional ||
		slices.Contains(res.Addrs, netip.MustParseAddr("192.0.2.1")) {
		t.Errorf("stale result %+v", res)
	}
}

// When A and AAAA lead to different names and only one of them names a region, that one
// is used, with its own addresses only.
func TestResolveFamilyThatNamesARegionIsUsed(t *testing.T) {
	for _, tt := range []struct {
		name           string
		regionalFamily uint16
		want           []netip.Addr
	}{
		{"AAAA names it", dns.TypeAAAA, addrs("2001:db8::12")},
		{"A names it", dns.TypeA, addrs("127.0.0.12")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			good := dnstest.NewZone(true, soaEx, soaAWS, global+". 60 IN CNAME "+regional+".",
				regional+". 60 IN A 127.0.0.12", regional+". 60 IN AAAA 2001:db8::12")
			bad := dnstest.NewZone(true, soaEx, soaNet, global+". 60 IN CNAME edge.example.net.",
				"edge.example.net. 60 IN A 192.0.2.1", "edge.example.net. 60 IN AAAA 2001:db8::66")
			srv := startServer(t, dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
				if r.Question[0].Qtype == tt.regionalFamily {
					good.ServeDNS(w, r)
					return
				}
				bad.ServeDNS(w, r)
			}))
			r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
			res, err := r.Resolve(context.Background(), global)
			if err != nil {
				t.Fatal(err)
			}
			if res.Name != regional || res.Region != "eu-west-1" || !slices.Equal(res.Addrs, tt.want) {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// RegionFromName is the parser of the endpoint forms; FuzzRegionFromName checks its
// invariants on any input.
func FuzzRegionFromName(f *testing.F) {
	for _, s := range []string{rigUS, rigEU + ".", "A1B2-ATS.IOT.AP-NORTHEAST-1.AMAZONAWS.COM",
		"a1b2c3.ats.iot.cn-north-1.amazonaws.com.cn", "data.iot-fips.us-gov-west-1.amazonaws.com",
		"a1b2c3.credentials.iot.eu-central-1.amazonaws.com", "iot.us-east-1.amazonaws.com", lbUS,
		"a..iot.us-east-1.amazonaws.com", rigUS + ".example.net", global, "", "."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		region := RegionFromName(name)
		if region == "" {
			return
		}
		if !validRegion(region) {
			t.Fatalf("RegionFromName(%q) = %q, not a region", name, region)
		}
		lower := strings.ToLower(strings.TrimSuffix(name, "."))
		if !strings.Contains(lower, ".iot."+region+".amazonaws.com") && !strings.Contains(lower, ".iot-fips."+region+".amazonaws.com") {
			t.Fatalf("RegionFromName(%q) = %q, not in an endpoint form", name, region)
		}
		if !strings.HasSuffix(lower, ".amazonaws.com") && !strings.HasSuffix(lower, ".amazonaws.com.cn") {
			t.Fatalf("RegionFromName(%q) = %q outside AWS's domains", name, region)
		}
		if got := RegionFromName(strings.ToUpper(name)); got != region {
			t.Fatalf("upper case %q gives %q, want %q", name, got, region)
		}
		if got := RegionFromName("x." + name); got != region {
			t.Fatalf("one more label before %q gives %q, want %q", name, got, region)
		}
	})
}

// FuzzChainRegion checks the chain rule on any list of names (space-separated, the first
// the query): the region is that of the last endpoint name, a conflict is another
// region of an earlier one.
func FuzzChainRegion(f *testing.F) {
	for _, s := range []string{
		global + " " + rigUS,
		global + " " + rigUS + " " + lbUS,
		global + " " + rigUS + " " + rigEU,
		rigUS + " " + lbUS + " " + rigAP + " edge.example.net",
		global + " edge.example.net",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names := strings.Fields(s)
		if len(names) == 0 {
			return
		}
		var chain []Link
		for i := 1; i < len(names); i++ {
			chain = append(chain, Link{Name: names[i-1], Target: names[i]})
		}
		region, from, conflict := chainRegion(names[0], chain)
		last, lastName := "", ""
		regions := map[string]bool{}
		for _, n := range names {
			if r := RegionFromName(n); r != "" {
				last, lastName = r, n
				regions[r] = true
			}
		}
		if region != last || from != lastName {
			t.Fatalf("chainRegion(%q) = %q from %q, want %q from %q", names, region, from, last, lastName)
		}
		if (conflict != "") != (len(regions) > 1) || conflict == region && conflict != "" {
			t.Fatalf("chainRegion(%q) conflict %q with region %q, regions %v", names, conflict, region, regions)
		}
	})
}

// A device pins the endpoint it was provisioned at. Behind an extra hop the end of the
// chain (a load balancer's name) names no region, so what can be resolved again later
// with the same region and addresses is RegionName, not Name.
func TestResolveRegionNameResolvesAgain(t *testing.T) {
	srv := startServer(t, dnstest.NewZone(false, soaEx, soaAWS, global+". 60 IN CNAME "+rigUS+".",
		rigUS+". 60 IN CNAME "+lbUS+".", lbUS+". 60 IN A 127.0.0.21", lbUS+". 60 IN AAAA 2001:db8::21"))
	r := newTestResolver(t, Config{Servers: []string{srv.Addr}})
	ctx := context.Background()
	first, err := r.Resolve(ctx, global)
	if err != nil {
		t.Fatal(err)
	}
	if first.Name != lbUS || first.RegionName != rigUS || first.Region != "us-east-1" {
		t.Fatalf("first boot: name %q region %q from %q", first.Name, first.Region, first.RegionName)
	}
	again, err := r.Resolve(ctx, first.RegionName)
	if err != nil {
		t.Fatal(err)
	}
	if again.Region != first.Region || again.RegionName != first.RegionName || !slices.Equal(again.Addrs, first.Addrs) {
		t.Errorf("again: %+v, want the region and addresses of %+v", again, first)
	}
	if res, err := r.Resolve(ctx, first.Name); !errors.Is(err, ErrNoRegion) {
		t.Errorf("the load balancer's name alone: %+v, %v; want ErrNoRegion", res, err)
	}
}
