package template

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, body string) *Template {
	t.Helper()
	tp, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tp
}

const publishPolicy = `{ "Version": "2012-10-17", "Statement": [{ "Effect": "Allow", "Action":["iot:Publish"], "Resource": ["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"] }] }`

func TestFixtures(t *testing.T) {
	jitpBody := func(t testing.TB) []byte {
		var cfg struct {
			TemplateBody string `json:"templateBody"`
		}
		if err := json.Unmarshal(readFixture(t, "aws_jitp_registration_config.json"), &cfg); err != nil {
			t.Fatal(err)
		}
		return []byte(cfg.TemplateBody)
	}
	tests := []struct {
		name       string
		body       func(testing.TB) []byte
		params     map[string]string
		wantParams []string
		want       *Result
	}{
		{
			name:       "PROTOCOL.md 1.11",
			body:       func(t testing.TB) []byte { return readFixture(t, "protocol_fleet.json") },
			params:     map[string]string{"SerialNumber": "GW-000123", ParamCertificateID: "abc123"},
			wantParams: []string{ParamCertificateID, "SerialNumber"},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingName: "gw-GW-000123",
					AttributePayload: map[string]string{"serial": "GW-000123"}, ThingGroups: []string{"gateways"}},
				Certificate:         &Certificate{LogicalName: "certificate", Source: CertificateSourceID, CertificateID: "abc123", Status: StatusActive},
				Policies:            []Policy{{LogicalName: "policy", PolicyName: "GatewayPolicy"}},
				DeviceConfiguration: map[string]any{"region": "eu-central-1"},
			},
		},
		{
			name:       "default gateway template, Site defaulted",
			body:       func(t testing.TB) []byte { return readFixture(t, "gateway_default.json") },
			params:     map[string]string{"SerialNumber": "7", ParamCertificateID: "c1", "Unused": "x"},
			wantParams: []string{ParamCertificateID, "SerialNumber", "Site"},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingName: "gw-7",
					AttributePayload: map[string]string{"serial": "7", "site": ""}, ThingGroups: []string{"gateways"}},
				Certificate:         &Certificate{LogicalName: "certificate", Source: CertificateSourceID, CertificateID: "c1", Status: StatusActive},
				Policies:            []Policy{{LogicalName: "policy", PolicyName: "GatewayDevicePolicy"}},
				DeviceConfiguration: map[string]any{"statusTopic": "gateways/gw-7/status"},
			},
		},
		{
			name:       "AWS bulk template with CSR, Location defaulted",
			body:       func(t testing.TB) []byte { return readFixture(t, "aws_bulk_csr.json") },
			params:     map[string]string{"SerialNumber": "123", "CSR": "-----BEGIN CERTIFICATE REQUEST-----"},
			wantParams: []string{"CSR", "Location", "SerialNumber"},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingTypeName: "lightBulb-versionA",
					AttributePayload: map[string]string{"version": "v1", "serialNumber": "123"},
					ThingGroups:      []string{"v1-lightbulbs", "WA"}},
				Certificate: &Certificate{LogicalName: "certificate", Source: CertificateSourceCSR,
					CertificateSigningRequest: "-----BEGIN CERTIFICATE REQUEST-----", Status: StatusActive},
				Policies: []Policy{{LogicalName: "policy", PolicyName: sha256Hex(publishPolicy), PolicyDocument: publishPolicy}},
			},
		},
		{
			name:       "AWS bulk template with certificate ID",
			body:       func(t testing.TB) []byte { return readFixture(t, "aws_bulk_certid.json") },
			params:     map[string]string{"SerialNumber": "123", "Location": "OR", "CertificateId": "c2"},
			wantParams: []string{"CertificateId", "Location", "SerialNumber"},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingTypeName: "lightBulb-versionA",
					AttributePayload: map[string]string{"version": "v1", "serialNumber": "123"},
					ThingGroups:      []string{"v1-lightbulbs", "OR"}},
				Certificate: &Certificate{LogicalName: "certificate", Source: CertificateSourceID, CertificateID: "c2", Status: StatusActive},
				Policies:    []Policy{{LogicalName: "policy", PolicyName: sha256Hex(publishPolicy), PolicyDocument: publishPolicy}},
			},
		},
		{
			name: "AWS JITP registration config",
			body: jitpBody,
			params: map[string]string{ParamCommonName: "dev-1", ParamSerialNumber: "S1", ParamCountry: "DE",
				ParamCertificateID: "c3", ParamOrganization: "ignored"},
			wantParams: []string{ParamCommonName, ParamCountry, ParamCertificateID, ParamSerialNumber},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingName: "dev-1", ThingTypeName: "lightBulb-versionA",
					AttributePayload: map[string]string{"version": "v1", "serialNumber": "S1"},
					ThingGroups:      []string{"v1-lightbulbs", "DE"},
					Overrides: map[string]Override{OverrideAttributePayload: OverrideMerge,
						OverrideThingTypeName: OverrideReplace, OverrideThingGroups: OverrideDoNothing}},
				Certificate: &Certificate{LogicalName: "certificate", Source: CertificateSourceID, CertificateID: "c3",
					Status: StatusActive, Overrides: map[string]Override{OverrideStatus: OverrideDoNothing}},
				Policies: []Policy{{LogicalName: "policy", PolicyName: sha256Hex(publishPolicy), PolicyDocument: publishPolicy}},
			},
		},
		{
			name:       "AWS fleet example (extra brace removed)",
			body:       func(t testing.TB) []byte { return readFixture(t, "aws_fleet.json") },
			params:     map[string]string{"SerialNumber": "42", "DeviceLocation": "Seattle", ParamCertificateID: "c4"},
			wantParams: []string{"DeviceLocation", "SerialNumber"},
			want: &Result{
				Thing: &Thing{LogicalName: "thing", ThingTypeName: "ThingPrefix_42", BillingGroup: "LightBulbBillingGroup",
					AttributePayload: map[string]string{"version": "v1", "serialNumber": "serialNumber"},
					ThingGroups:      []string{"v1-lightbulbs", "WA"},
					Overrides: map[string]Override{OverrideAttributePayload: OverrideMerge,
						OverrideThingTypeName: OverrideReplace, OverrideThingGroups: OverrideDoNothing}},
				Certificate: &Certificate{LogicalName: "certificate", Source: CertificateSourceID, CertificateID: "c4", Status: StatusActive},
				Policies: []Policy{{LogicalName: "policy",
					PolicyName:     sha256Hex(`{"Statement":[{"Action":["iot:Publish"],"Effect":"Allow","Resource":["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"]}],"Version":"2012-10-17"}`),
					PolicyDocument: `{"Statement":[{"Action":["iot:Publish"],"Effect":"Allow","Resource":["arn:aws:iot:us-east-1:123456789012:topic/foo/bar"]}],"Version":"2012-10-17"}`}},
				DeviceConfiguration: map[string]any{"FallbackUrl": "https://www.example.com/test-site", "LocationUrl": "https://example.aws"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp, err := Parse(tc.body(t))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := tp.ParameterNames(); !reflect.DeepEqual(got, tc.wantParams) {
				t.Errorf("ParameterNames = %q, want %q", got, tc.wantParams)
			}
			got, err := tp.Evaluate(tc.params)
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				gj, _ := json.MarshalIndent(got, "", " ")
				wj, _ := json.MarshalIndent(tc.want, "", " ")
				t.Errorf("Evaluate =\n%s\nwant\n%s", gj, wj)
			}
		})
	}
}

func TestAWSFleetExampleVerbatimIsInvalidJSON(t *testing.T) {
	_, err := Parse(readFixture(t, "aws_fleet_verbatim.json"))
	if !errors.Is(err, ErrInvalidTemplate) || !strings.Contains(err.Error(), "JSON") {
		t.Fatalf("Parse = %v, want an invalid JSON error", err)
	}
}

func TestParseErrors(t *testing.T) {
	const (
		thing  = `"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"t"}}`
		cert   = `"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"c"}}`
		policy = `"policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"p"}}`
	)
	res := func(r string) string { return `{"Resources":{` + r + `}}` }
	tests := []struct {
		name     string
		body     string
		wantPath string // Error.Path
		wantIn   string // substring of the message
	}{
		{"not JSON", `{"Resources":`, "", "not valid JSON"},
		{"not an object", `[]`, "", "want an object"},
		{"trailing data", `{"Resources":{}} {}`, "", "not valid JSON"},
		{"duplicate key", `{"Resources":{},"Resources":{}}`, "", "duplicate key"},
		{"invalid UTF-8", "{\"Resources\":{\"\xff\":1}}", "", "UTF-8"},
		{"too deep", `{"Resources":{},"DeviceConfiguration":{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}}`, "", "nested deeper"},
		{"no Resources", `{"Parameters":{}}`, "Resources", "required"},
		{"unknown section", `{"Resources":{},"Conditions":{}}`, "Conditions", "unknown section"},
		{"Resources not object", `{"Resources":[]}`, "Resources", "want an object"},
		{"parameter type", `{"Parameters":{"A":{"Type":"Number"}},"Resources":{}}`, "Parameters.A.Type", `"String"`},
		{"parameter without type", `{"Parameters":{"A":{}},"Resources":{}}`, "Parameters.A.Type", "required"},
		{"parameter default not string", `{"Parameters":{"A":{"Type":"String","Default":1}},"Resources":{}}`, "Parameters.A.Default", "want a string"},
		{"parameter unknown attribute", `{"Parameters":{"A":{"Type":"String","AllowedValues":["x"]}},"Resources":{}}`, "Parameters.A.AllowedValues", "unknown"},
		{"unknown type", res(`"x":{"Type":"AWS::IoT::ThingGroup","Properties":{}}`), "Resources.x.Type", "unknown resource type"},
		{"missing type", res(`"x":{"Properties":{}}`), "Resources.x.Type", "required"},
		{"missing properties", res(`"x":{"Type":"AWS::IoT::Thing"}`), "Resources.x.Properties", "required"},
		{"unknown resource key", res(`"x":{"Type":"AWS::IoT::Thing","Properties":{},"Condition":"c"}`), "Resources.x.Condition", "unknown resource key"},
		{"two things", res(thing + `,"thing2":{"Type":"AWS::IoT::Thing","Properties":{}}`), "Resources.thing2", "at most one"},
		{"two certificates", res(cert + `,"c2":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"d"}}`), "Resources.c2", "at most one"},
		{"unknown thing property", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"Name":"t"}}`), "Resources.thing.Properties.Name", "unknown thing property"},
		{"thing name not string", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":["t"]}}`), "Resources.thing.Properties.ThingName", "want a string"},
		{"thing name undeclared ref", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"Serial"}}}`), "Resources.thing.Properties.ThingName.Ref", "not a declared parameter"},
		{"attribute not string", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"AttributePayload":{"n":1}}}`), "Resources.thing.Properties.AttributePayload.n", "want a string"},
		{"attributes not object", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"AttributePayload":{"Ref":"AWS::IoT::Certificate::Id"}}}`), "Resources.thing.Properties.AttributePayload", "want an object"},
		{"groups not list", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingGroups":"g"}}`), "Resources.thing.Properties.ThingGroups", "want a list"},
		{"group not string", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingGroups":["g",{}]}}`), "Resources.thing.Properties.ThingGroups[1]", "want a string"},
		{"no certificate source", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"Status":"ACTIVE"}}`), "Resources.c.Properties", "exactly one of CertificateId"},
		{"two certificate sources", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","CertificatePem":"b"}}`), "Resources.c.Properties", "found 2"},
		{"CertificateId and CertificateID", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","CertificateID":"b"}}`), "Resources.c.Properties", "found 2"},
		{"CA PEM without PEM", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","CACertificatePem":"b"}}`), "Resources.c.Properties.CACertificatePem", "only valid with CertificatePem"},
		{"bad status", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","Status":"REVOKED"}}`), "Resources.c.Properties.Status", "ACTIVE or INACTIVE"},
		{"bad principal type", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","ThingPrincipalType":"exclusive"}}`), "Resources.c.Properties.ThingPrincipalType", "EXCLUSIVE_THING"},
		{"unknown certificate property", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a","Active":true}}`), "Resources.c.Properties.Active", "unknown certificate property"},
		{"policy with neither", res(`"p":{"Type":"AWS::IoT::Policy","Properties":{}}`), "Resources.p.Properties", "exactly one of PolicyName or PolicyDocument"},
		{"policy with both", res(`"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"a","PolicyDocument":{}}}`), "Resources.p.Properties", "exactly one of PolicyName or PolicyDocument"},
		{"policy document not JSON", res(`"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":"{Version"}}`), "Resources.p.Properties.PolicyDocument", "not a JSON object"},
		{"policy document a list", res(`"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":[]}}`), "Resources.p.Properties.PolicyDocument", "want a JSON object"},
		{"policy overrides", res(`"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"a"},"OverrideSettings":{}}`), "Resources.p.OverrideSettings", "not available"},
		{"override unknown key", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{},"OverrideSettings":{"BillingGroup":"REPLACE"}}`), "Resources.thing.OverrideSettings.BillingGroup", "no override setting"},
		{"override bad value", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{},"OverrideSettings":{"ThingGroups":"merge"}}`), "Resources.thing.OverrideSettings.ThingGroups", "want DO_NOTHING"},
		{"override MERGE on type", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{},"OverrideSettings":{"THING_TYPE_NAME":"MERGE"}}`), "Resources.thing.OverrideSettings.THING_TYPE_NAME", "MERGE is valid only"},
		{"override MERGE on status", res(`"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"a"},"OverrideSettings":{"Status":"MERGE"}}`), "Resources.c.OverrideSettings.Status", "MERGE is valid only"},
		{"override both spellings", res(`"thing":{"Type":"AWS::IoT::Thing","Properties":{},"OverrideSettings":{"ThingGroups":"FAIL","THING_GROUPS":"FAIL"}}`), "Resources.thing.OverrideSettings.THING_GROUPS", "set twice"},
		{"mapping with function", `{"Mappings":{"M":{"a":{"b":{"Ref":"X"}}}},"Resources":{}}`, "Mappings.M.a.b", "not allowed in Mappings"},
		{"mapping value number", `{"Mappings":{"M":{"a":{"b":1}}},"Resources":{}}`, "Mappings.M.a.b", "want a string or a list"},
		{"mapping not two levels", `{"Mappings":{"M":{"a":"b"}},"Resources":{}}`, "Mappings.M.a", "want an object"},
		{"device configuration not object", `{"Resources":{},"DeviceConfiguration":"x"}`, "DeviceConfiguration", "want an object"},
		{"device configuration is a function", `{"Resources":{},"DeviceConfiguration":{"Fn::Join":["",[]]}}`, "DeviceConfiguration", "want an object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.body))
			var te *Error
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("Parse = %v, want an *Error wrapping ErrInvalidTemplate", err)
			}
			if te.Path != tc.wantPath {
				t.Errorf("Path = %q, want %q (error %q)", te.Path, tc.wantPath, err)
			}
			if !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("error %q does not contain %q", err, tc.wantIn)
			}
		})
	}
}

func TestBodyLength(t *testing.T) {
	base := `{"Resources":{},"DeviceConfiguration":{"pad":"`
	pad := func(n int) []byte { // a body of exactly n characters, most of them 2-byte
		return []byte(base + strings.Repeat("é", n-len(base)-3) + `"}}`)
	}
	if _, err := Parse(pad(MaxBodyLength)); err != nil {
		t.Fatalf("Parse(%d characters) = %v", MaxBodyLength, err)
	}
	_, err := Parse(pad(MaxBodyLength + 1))
	if !errors.Is(err, ErrBodyTooLong) {
		t.Fatalf("Parse(%d characters) = %v, want ErrBodyTooLong", MaxBodyLength+1, err)
	}
	if _, err := ParseWithOptions(pad(MaxBodyLength+1), ParseOptions{MaxBodyLength: 2 * MaxBodyLength}); err != nil {
		t.Fatalf("ParseWithOptions(raised limit) = %v", err)
	}
}

func TestAllowUnknownKeys(t *testing.T) {
	body := `{"Version":"2018-11-30","Description":"x",
	  "Parameters":{"A":{"Type":"String","Description":"d"}},
	  "Resources":{
	    "thing":{"Type":"AWS::IoT::Thing","Condition":"c","Properties":{"ThingName":{"Ref":"A"},"Extra":1},
	             "OverrideSettings":{"BillingGroup":"REPLACE","ThingGroups":"MERGE"}},
	    "policy":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"p"},"OverrideSettings":{}}}}`
	if _, err := Parse([]byte(body)); !errors.Is(err, ErrInvalidTemplate) {
		t.Fatalf("Parse = %v, want ErrInvalidTemplate", err)
	}
	tp, err := ParseWithOptions([]byte(body), ParseOptions{AllowUnknownKeys: true})
	if err != nil {
		t.Fatalf("ParseWithOptions: %v", err)
	}
	r, err := tp.Evaluate(map[string]string{"A": "t1"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Thing.ThingName != "t1" || !reflect.DeepEqual(r.Thing.Overrides, map[string]Override{OverrideThingGroups: OverrideMerge}) {
		t.Errorf("thing = %+v", r.Thing)
	}
}

func TestTemplateAccessors(t *testing.T) {
	tp := mustParse(t, string(readFixture(t, "aws_bulk_csr.json")))
	if got := tp.CertificateSource(); got != CertificateSourceCSR {
		t.Errorf("CertificateSource = %q", got)
	}
	if !tp.HasThing() {
		t.Error("HasThing = false")
	}
	if tp.Body() != string(readFixture(t, "aws_bulk_csr.json")) {
		t.Error("Body differs from the input")
	}
	want := []Parameter{{Name: "CSR"}, {Name: "Location", Default: "WA", HasDefault: true}, {Name: "SerialNumber"}}
	if got := tp.Parameters(); !reflect.DeepEqual(got, want) {
		t.Errorf("Parameters = %+v, want %+v", got, want)
	}
	empty := mustParse(t, `{"Resources":{}}`)
	if empty.CertificateSource() != "" || empty.HasThing() || len(empty.ParameterNames()) != 0 {
		t.Error("empty template reports resources or parameters")
	}
	r, err := empty.Evaluate(nil)
	if err != nil || !reflect.DeepEqual(r, &Result{}) {
		t.Errorf("Evaluate(empty) = %+v, %v", r, err)
	}
}
