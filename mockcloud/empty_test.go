package mockcloud

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// An empty rig holds nothing a user did not make; set up through the control
// plane's AWS operations the way an account is set up for fleet provisioning
// (claim registered without a CA, the two policies, the thing group, the
// template, in each region), a gateway provisions and gets online.
func TestEmptyRigSetUpThroughTheControlPlane(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := defaultRig(t)
	cfg.IoT.KeyPoolSize = 0
	c, err := Start(ctx, cfg, Options{DataDir: t.TempDir(), Ephemeral: true, Empty: true, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, ri := range c.Regions() {
		reg := c.Region(ri.Name).Registry()
		certs, _ := reg.ListCertificates("")
		pols, _ := reg.ListPolicies()
		tpls, _ := reg.ListTemplates()
		cas, _ := reg.ListCACertificates()
		if len(certs)+len(pols)+len(tpls)+len(cas) != 0 {
			t.Fatalf("empty rig, region %s holds %d certificates, %d policies, %d templates, %d CAs", ri.Name, len(certs), len(pols), len(tpls), len(cas))
		}
	}

	call := func(region, method, path string, body any) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = strings.NewReader(string(b))
		}
		req, err := http.NewRequestWithContext(ctx, method, c.ControlPlaneURL()+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		// The region comes from the SigV4 credential scope, as the CLI signs it.
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/"+region+"/iot/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s in %s: HTTP %d %s", method, path, region, resp.StatusCode, data)
		}
		var out map[string]any
		_ = json.Unmarshal(data, &out)
		return out
	}
	claimPEM, err := os.ReadFile(c.Files().Claim)
	if err != nil {
		t.Fatal(err)
	}
	for _, ri := range c.Regions() {
		r := ri.Name
		claim := call(r, http.MethodPost, "/certificate/register-no-ca", map[string]string{"certificatePem": string(claimPEM), "status": "ACTIVE"})
		for name, doc := range map[string]string{ClaimPolicyName: claimPolicy, DevicePolicyName: devicePolicy} {
			call(r, http.MethodPost, "/policies/"+name, map[string]string{"policyDocument": regionPolicy(doc, r, cfg.AccountID)})
		}
		call(r, http.MethodPut, "/target-policies/"+ClaimPolicyName, map[string]any{"target": claim["certificateArn"]})
		call(r, http.MethodPost, "/thing-groups/"+GatewayThingGroup, map[string]any{})
		call(r, http.MethodPost, "/provisioning-templates", map[string]any{
			"templateName": TemplateName, "templateBody": gatewayTemplate, "enabled": true,
			"provisioningRoleArn": fmt.Sprintf("arn:aws:iam::%s:role/FleetbootProvisioningRole", cfg.AccountID),
		})
	}

	// The global name as the design's source sets it up in Route 53: North America
	// to us-east-1, everything else to eu-west-1.
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(cfg.GlobalName), dns.TypeCNAME)
	if in, _, err := new(dns.Client).ExchangeContext(ctx, q, c.dns.Addr()); err != nil || len(in.Answer) != 0 {
		t.Fatalf("an empty rig answers the global name before any hosted zone is made: %v, %v", in, err)
	}
	r53 := func(path, body string) string {
		t.Helper()
		resp, err := http.Post(c.ControlPlaneURL()+"/2013-04-01/"+path, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("route 53 %s: HTTP %d %s", path, resp.StatusCode, data)
		}
		return string(data)
	}
	const ns = `xmlns="https://route53.amazonaws.com/doc/2013-04-01/"`
	zone := r53("hostedzone", `<CreateHostedZoneRequest `+ns+`><Name>example.com</Name><CallerReference>empty-rig</CallerReference></CreateHostedZoneRequest>`)
	_, rest, _ := strings.Cut(zone, "<Id>/hostedzone/")
	zoneID, _, _ := strings.Cut(rest, "</Id>")
	endpoint := func(region string) string {
		for _, ri := range c.Regions() {
			if ri.Name == region {
				return ri.Endpoint
			}
		}
		t.Fatalf("no region %s", region)
		return ""
	}
	geo := func(setID, loc, region string) string {
		return `<Change><Action>CREATE</Action><ResourceRecordSet><Name>` + cfg.GlobalName + `</Name><Type>CNAME</Type><SetIdentifier>` + setID +
			`</SetIdentifier><GeoLocation>` + loc + `</GeoLocation><TTL>60</TTL><ResourceRecords><ResourceRecord><Value>` + endpoint(region) +
			`</Value></ResourceRecord></ResourceRecords></ResourceRecordSet></Change>`
	}
	r53("hostedzone/"+zoneID+"/rrset", `<ChangeResourceRecordSetsRequest `+ns+`><ChangeBatch><Changes>`+
		geo("na", "<ContinentCode>NA</ContinentCode>", "us-east-1")+geo("default", "<CountryCode>*</CountryCode>", "eu-west-1")+
		`</Changes></ChangeBatch></ChangeResourceRecordSetsRequest>`)

	acfg, err := agent.LoadConfig(c.Files().DeviceConfig)
	if err != nil {
		t.Fatal(err)
	}
	acfg.StateDir = filepath.Join(t.TempDir(), "dev")
	acfg.DNS.ClientSubnet = "192.0.2.0/24"
	acfg.Provisioning.Parameters = map[string]string{"SerialNumber": "EMPTY-1"}
	acfg.SetDefaults()
	a, err := agent.New(ctx, agent.Options{Config: acfg, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	st, err := a.Prove(ctx)
	if err != nil {
		t.Fatalf("first boot against the rig set up through the control plane: %v", err)
	}
	if st.Region != "eu-west-1" {
		t.Fatalf("a device in DE provisioned in %s, want eu-west-1 (the default location)", st.Region)
	}
	th, err := c.Region(st.Region).Registry().GetThing("gw-EMPTY-1")
	if err != nil || len(th.Groups) != 1 || th.Groups[0] != GatewayThingGroup {
		t.Fatalf("thing after first boot: %+v, %v", th, err)
	}
	if x, err := c.Region(st.Region).Registry().GetCertificate(st.CertificateID); err != nil || x.Status != registry.StatusActive {
		t.Fatalf("device certificate: %+v, %v; want it ACTIVE", x, err)
	}
}
