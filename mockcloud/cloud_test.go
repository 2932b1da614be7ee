package mockcloud

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/dnsresolve"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

func defaultRig(t testing.TB) *Config {
	t.Helper()
	cfg, err := LoadConfig("../testdata/rig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// The default rig is a documented interface: scripts rely on these addresses.
func TestDefaultRigIsStable(t *testing.T) {
	cfg := defaultRig(t)
	want := map[string]string{"us-east-1": "127.0.0.11:8883", "eu-west-1": "127.0.0.12:8883", "ap-northeast-1": "127.0.0.13:8883"}
	for _, r := range cfg.Regions {
		if want[r.Name] != r.Addr {
			t.Errorf("region %s on %s, want %s", r.Name, r.Addr, want[r.Name])
		}
		delete(want, r.Name)
	}
	if len(want) != 0 || cfg.DNS.Addr != "127.0.0.1:1053" || cfg.ControlPlane.Addr != "127.0.0.1:4566" || cfg.GlobalName != "global.iot.example.com" {
		t.Fatalf("default rig changed: %+v", cfg)
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct{ name, doc, want string }{
		{"unknown key", "regions: [{name: eu-west-1}]\nbogus: 1\n", "bogus"},
		{"no regions", "accountId: \"123456789012\"\n", "regions"},
		{"bad region", "regions: [{name: mars-north}]\n", "regions[0].name"},
		{"twice", "regions: [{name: eu-west-1}, {name: eu-west-1}]\n", "regions[1].name"},
		{"not loopback", "regions: [{name: eu-west-1, addr: \"192.0.2.1:8883\"}]\n", "regions[0].addr"},
		{"dns not loopback", "dns: {addr: \"0.0.0.0:53\"}\nregions: [{name: eu-west-1}]\n", "dns.addr"},
		{"account", "accountId: \"12\"\nregions: [{name: eu-west-1}]\n", "accountId"},
		{"duration", "iot: {tokenLifetime: forever}\nregions: [{name: eu-west-1}]\n", "forever"},
	} {
		_, err := ParseConfig([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	data, _ := os.ReadFile("../testdata/rig.yaml")
	f.Add(data)
	f.Add([]byte("regions: [{name: eu-west-1, serves: [{country: \"*\"}]}]\nlocations: [{cidr: 10.0.0.0/8, country: DE}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data)
		if err != nil {
			return
		}
		for _, r := range cfg.Regions {
			if r.Addr != "" && loopbackAddr(r.Addr) != nil {
				t.Fatalf("accepted a non-loopback region address %q", r.Addr)
			}
		}
		// Whatever the rig file says, the DNS it generates validates or is refused
		// cleanly by the DNS server's own checks.
		var regions []RegionInfo
		for i, r := range cfg.Regions {
			regions = append(regions, RegionInfo{Name: r.Name, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, byte(11 + i)}), 8883), Endpoint: endpointName(cfg, r.Name)})
		}
		_ = dnsConfig(cfg, "127.0.0.1:0", regions, false).Validate()
	})
}

func TestStartSeedsResolvesAndRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: dir, Ephemeral: true, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	claim, err := os.ReadFile(c.Files().Claim)
	if err != nil {
		t.Fatal(err)
	}
	// Every region: the claim certificate ACTIVE with the claim policy, the group,
	// both policies and the template.
	for _, r := range c.Regions() {
		reg := c.Region(r.Name).Registry()
		id, err := certificateID(claim)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := reg.GetCertificate(id)
		if err != nil || cert.Status != registry.StatusActive || cert.CAID != "" {
			t.Fatalf("%s: claim certificate %+v, %v", r.Name, cert, err)
		}
		pols, err := reg.PoliciesForCertificate(id)
		if err != nil || len(pols) != 1 || pols[0].Name != ClaimPolicyName {
			t.Fatalf("%s: claim policies %v, %v", r.Name, pols, err)
		}
		if !strings.Contains(pols[0].Document, "arn:aws:iot:"+r.Name+":123456789012:topic/$aws/provisioning-templates/GatewayProvisioning/provision/*") {
			t.Fatalf("%s: claim policy is not scoped to the region and template:\n%s", r.Name, pols[0].Document)
		}
		if _, err := reg.GetPolicy(DevicePolicyName); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if _, err := reg.GetThingGroup(GatewayThingGroup); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		if tpl, err := reg.GetTemplate(TemplateName); err != nil || !tpl.Enabled {
			t.Fatalf("%s: template %+v, %v", r.Name, tpl, err)
		}
	}
	// dnsresolve against the geolocation DNS: each place lands in its region.
	for _, tc := range []struct{ subnet, region string }{
		{"198.51.100.0/24", "us-east-1"},
		{"192.0.2.0/24", "eu-west-1"},
		{"203.0.113.0/24", "ap-northeast-1"},
		{"", "eu-west-1"}, // 127.0.0.1 is in no location: the default record
	} {
		rc := dnsresolve.Config{Servers: []string{c.DNSAddr()}}
		if tc.subnet != "" {
			rc.ClientSubnet = netip.MustParsePrefix(tc.subnet)
		}
		res, err := mustResolver(t, rc).Resolve(ctx, cfg.GlobalName)
		if err != nil {
			t.Fatalf("%s: %v", tc.subnet, err)
		}
		want := regionInfo(c, tc.region)
		if res.Region != tc.region || res.Name != want.Endpoint || len(res.Addrs) != 1 || res.Addrs[0] != want.Addr.Addr() {
			t.Fatalf("%s: resolved %+v, want %s at %v", tc.subnet, res, want.Endpoint, want.Addr)
		}
	}
	// A device config for this rig, nothing per device.
	dev, err := os.ReadFile(c.Files().DeviceConfig)
	if err != nil || !bytes.Contains(dev, []byte(c.DNSAddr())) || bytes.Contains(dev, []byte("parameters:")) || bytes.Contains(dev, []byte("stateDir")) {
		t.Fatalf("device.yaml: %v\n%s", err, dev)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2, err := Start(ctx, cfg, Options{DataDir: dir, Ephemeral: true, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	defer c2.Close()
	claim2, _ := os.ReadFile(c2.Files().Claim)
	if !bytes.Equal(claim, claim2) {
		t.Fatal("restart replaced the claim certificate")
	}
	tpls, err := c2.Region("eu-west-1").Registry().ListTemplates()
	if err != nil || len(tpls) != 1 {
		t.Fatalf("templates after restart: %v, %v", tpls, err)
	}
}

func TestRegionDownAndUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := startEphemeral(ctx, t, defaultRig(t))
	before := regionInfo(c, "us-east-1").Addr
	if err := c.SetRegionDown("us-east-1", true); err != nil {
		t.Fatal(err)
	}
	if c.Region("us-east-1") != nil {
		t.Fatal("region still running")
	}
	if err := c.SetRegionDown("us-east-1", false); err != nil {
		t.Fatal(err)
	}
	if r := c.Region("us-east-1"); r == nil || r.Addr() != before {
		t.Fatalf("region back on %v, want %v", r.Addr(), before)
	}
	if err := c.SetRegionDown("mars-north-1", true); err == nil {
		t.Fatal("unknown region accepted")
	}
}

// startEphemeral starts cfg without key pools on fresh loopback addresses; the
// test's end closes it.
func startEphemeral(ctx context.Context, t *testing.T, cfg *Config) *Cloud {
	t.Helper()
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func regionInfo(c *Cloud, name string) RegionInfo {
	for _, r := range c.Regions() {
		if r.Name == name {
			return r
		}
	}
	return RegionInfo{}
}

func mustResolver(t *testing.T, rc dnsresolve.Config) *dnsresolve.Resolver {
	t.Helper()
	r, err := dnsresolve.New(rc)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
