package template

import (
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestMissingParameters(t *testing.T) {
	tp := mustParse(t, string(readFixture(t, "gateway_default.json")))
	_, err := tp.Evaluate(map[string]string{})
	var me *MissingParameterError
	if !errors.As(err, &me) || !errors.Is(err, ErrMissingParameter) {
		t.Fatalf("Evaluate = %v, want *MissingParameterError", err)
	}
	// Site has a default; the others are reported in sorted order.
	if me.Name != ParamCertificateID || !reflect.DeepEqual(me.Names, []string{ParamCertificateID, "SerialNumber"}) || me.Path != "" {
		t.Errorf("error = %+v", me)
	}
	if got := err.Error(); got != `missing parameters "AWS::IoT::Certificate::Id", "SerialNumber"` {
		t.Errorf("Error() = %q", got)
	}

	// A declared parameter is required even where nothing references it (JITP rule).
	unused := mustParse(t, `{"Parameters":{"AWS::IoT::Certificate::Country":{"Type":"String"}},"Resources":{}}`)
	_, err = unused.Evaluate(map[string]string{ParamCommonName: "x"})
	if !errors.As(err, &me) || me.Name != ParamCountry || err.Error() != `missing parameter "AWS::IoT::Certificate::Country"` {
		t.Errorf("Evaluate(unreferenced) = %v", err)
	}

	// An empty value is a value, not a missing parameter.
	if _, err := unused.Evaluate(map[string]string{ParamCountry: ""}); err != nil {
		t.Errorf("Evaluate(empty value) = %v", err)
	}

	// An undeclared built-in is looked up where it is referenced.
	ref := mustParse(t, `{"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"}}}}}`)
	_, err = ref.Evaluate(map[string]string{"Other": "x"})
	if !errors.As(err, &me) || me.Name != ParamCertificateID || me.Path != "Resources.c.Properties.CertificateId.Ref" {
		t.Errorf("Evaluate(undeclared built-in) = %#v", err)
	}
	if !strings.HasPrefix(err.Error(), "Resources.c.Properties.CertificateId.Ref: ") {
		t.Errorf("Error() = %q, want the path first", err)
	}
}

func TestOverridesNormalization(t *testing.T) {
	tests := []struct {
		name      string
		overrides string
		want      map[string]Override
	}{
		{"CamelCase", `{"AttributePayload":"MERGE","ThingTypeName":"REPLACE","ThingGroups":"DO_NOTHING"}`,
			map[string]Override{OverrideAttributePayload: OverrideMerge, OverrideThingTypeName: OverrideReplace, OverrideThingGroups: OverrideDoNothing}},
		{"UPPER_SNAKE", `{"ATTRIBUTE_PAYLOAD":"REPLACE","THING_TYPE_NAME":"FAIL","THING_GROUPS":"MERGE"}`,
			map[string]Override{OverrideAttributePayload: OverrideReplace, OverrideThingTypeName: OverrideFail, OverrideThingGroups: OverrideMerge}},
		{"mixed", `{"ATTRIBUTE_PAYLOAD":"FAIL","ThingGroups":"FAIL"}`,
			map[string]Override{OverrideAttributePayload: OverrideFail, OverrideThingGroups: OverrideFail}},
		{"empty", `{}`, map[string]Override{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := mustParse(t, `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"t"},"OverrideSettings":`+tc.overrides+`},
			  "cert":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":"c"},"OverrideSettings":{"STATUS":"REPLACE"}}}}`)
			r, err := tp.Evaluate(nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Thing.Overrides, tc.want) {
				t.Errorf("thing overrides = %v, want %v", r.Thing.Overrides, tc.want)
			}
			if want := map[string]Override{OverrideStatus: OverrideReplace}; !reflect.DeepEqual(r.Certificate.Overrides, want) {
				t.Errorf("certificate overrides = %v, want %v", r.Certificate.Overrides, want)
			}
		})
	}
}

func TestCertificateStatus(t *testing.T) {
	tests := []struct {
		status string // JSON value, "" for absent
		params map[string]string
		want   string
		errIn  string
	}{
		{"", nil, StatusActive, ""},
		{`"ACTIVE"`, nil, StatusActive, ""},
		{`"Active"`, nil, StatusActive, ""},
		{`"active"`, nil, StatusActive, ""},
		{`"INACTIVE"`, nil, StatusInactive, ""},
		{`"Inactive"`, nil, StatusInactive, ""},
		{`{"Ref":"S"}`, map[string]string{"S": "inactive"}, StatusInactive, ""},
		{`{"Ref":"S"}`, map[string]string{"S": "PENDING_ACTIVATION"}, "", "Resources.c.Properties.Status: status must be ACTIVE or INACTIVE"},
	}
	for _, tc := range tests {
		t.Run(tc.status, func(t *testing.T) {
			props := `"CertificateId":"c"`
			if tc.status != "" {
				props += `,"Status":` + tc.status
			}
			tp := mustParse(t, `{"Parameters":{"S":{"Type":"String","Default":"x"}},"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{`+props+`}}}}`)
			r, err := tp.Evaluate(tc.params)
			if tc.errIn != "" {
				if !errors.Is(err, ErrEvaluation) || !strings.Contains(err.Error(), tc.errIn) {
					t.Fatalf("Evaluate = %v, want %q", err, tc.errIn)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Certificate.Status != tc.want {
				t.Errorf("Status = %q, want %q", r.Certificate.Status, tc.want)
			}
		})
	}
}

func TestCertificateSources(t *testing.T) {
	tests := []struct {
		props string
		want  Certificate
	}{
		{`"CertificateID":"id1","ThingPrincipalType":"EXCLUSIVE_THING"`,
			Certificate{LogicalName: "c", Source: CertificateSourceID, CertificateID: "id1", Status: StatusActive, ThingPrincipalType: PrincipalExclusiveThing}},
		{`"CertificateSigningRequest":"csr","Status":"INACTIVE"`,
			Certificate{LogicalName: "c", Source: CertificateSourceCSR, CertificateSigningRequest: "csr", Status: StatusInactive}},
		{`"CertificatePem":"pem","CACertificatePem":"ca"`,
			Certificate{LogicalName: "c", Source: CertificateSourcePEM, CertificatePem: "pem", CACertificatePem: "ca", Status: StatusActive}},
	}
	for _, tc := range tests {
		tp := mustParse(t, `{"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{`+tc.props+`}}}}`)
		r, err := tp.Evaluate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*r.Certificate, tc.want) {
			t.Errorf("%s: Certificate = %+v, want %+v", tc.props, *r.Certificate, tc.want)
		}
		if tp.CertificateSource() != tc.want.Source {
			t.Errorf("%s: CertificateSource = %q", tc.props, tp.CertificateSource())
		}
	}
	empty := mustParse(t, `{"Parameters":{"I":{"Type":"String"}},"Resources":{"c":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"I"}}}}}`)
	if _, err := empty.Evaluate(map[string]string{"I": ""}); !errors.Is(err, ErrEvaluation) {
		t.Errorf("Evaluate(empty certificate ID) = %v, want ErrEvaluation", err)
	}
}

func TestPolicyDocumentForms(t *testing.T) {
	const doc = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}]}`
	escaped, _ := json.Marshal(doc)
	params := map[string]string{"Region": "eu-west-1"}
	tests := []struct {
		name     string
		policies string
		want     []Policy
	}{
		{"escaped string", `"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":` + string(escaped) + `}}`,
			[]Policy{{LogicalName: "p", PolicyName: sha256Hex(doc), PolicyDocument: doc}}},
		{"object", `"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":` + doc + `}}`,
			[]Policy{{LogicalName: "p", PolicyName: sha256Hex(
				`{"Statement":[{"Action":"iot:Connect","Effect":"Allow","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}],"Version":"2012-10-17"}`),
				PolicyDocument: `{"Statement":[{"Action":"iot:Connect","Effect":"Allow","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}],"Version":"2012-10-17"}`}}},
		{"object with functions", `"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect",
			"Resource":{"Fn::Sub":"arn:aws:iot:${Region}:123456789012:client/${!iot:Connection.Thing.ThingName}"}}]}}}`,
			[]Policy{{LogicalName: "p", PolicyName: sha256Hex(
				`{"Statement":[{"Action":"iot:Connect","Effect":"Allow","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}],"Version":"2012-10-17"}`),
				PolicyDocument: `{"Statement":[{"Action":"iot:Connect","Effect":"Allow","Resource":"arn:aws:iot:eu-west-1:123456789012:client/${iot:Connection.Thing.ThingName}"}],"Version":"2012-10-17"}`}}},
		{"string from Fn::Sub", `"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":{"Fn::Sub":"{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"iot:*\",\"Resource\":\"arn:aws:iot:${Region}:1:*\"}]}"}}}`,
			[]Policy{{LogicalName: "p", PolicyName: sha256Hex(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:eu-west-1:1:*"}]}`),
				PolicyDocument: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:*","Resource":"arn:aws:iot:eu-west-1:1:*"}]}`}}},
		{"several, sorted by logical name", `"z":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":"Zed"}},"a":{"Type":"AWS::IoT::Policy","Properties":{"PolicyName":{"Fn::Join":["-",["p",{"Ref":"Region"}]]}}}`,
			[]Policy{{LogicalName: "a", PolicyName: "p-eu-west-1"}, {LogicalName: "z", PolicyName: "Zed"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tp := mustParse(t, `{"Parameters":{"Region":{"Type":"String"}},"Resources":{`+tc.policies+`}}`)
			r, err := tp.Evaluate(params)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Policies, tc.want) {
				t.Errorf("Policies = %+v\nwant %+v", r.Policies, tc.want)
			}
		})
	}
	bad := mustParse(t, `{"Parameters":{"D":{"Type":"String"}},"Resources":{"p":{"Type":"AWS::IoT::Policy","Properties":{"PolicyDocument":{"Ref":"D"}}}}}`)
	if _, err := bad.Evaluate(map[string]string{"D": "not json"}); !errors.Is(err, ErrEvaluation) || !strings.Contains(err.Error(), "Resources.p.Properties.PolicyDocument") {
		t.Errorf("Evaluate(bad document) = %v", err)
	}
}

func TestThingProperties(t *testing.T) {
	tp := mustParse(t, `{"Parameters":{"G":{"Type":"String"},"N":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{
	  "ThingName":{"Fn::Sub":"dev-${N}"},"ThingTypeName":"gw","BillingGroup":{"Ref":"G"},
	  "ThingGroups":{"Fn::Split":[",",{"Ref":"G"}]},"PackageVersions":{"pkg":"1.0"}}}}}`)
	r, err := tp.Evaluate(map[string]string{"G": "a,b", "N": "1"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Thing{LogicalName: "thing", ThingName: "dev-1", ThingTypeName: "gw", BillingGroup: "a,b", ThingGroups: []string{"a", "b"}}
	if !reflect.DeepEqual(r.Thing, want) {
		t.Errorf("Thing = %+v, want %+v", r.Thing, want)
	}
	empty := mustParse(t, `{"Parameters":{"N":{"Type":"String"}},"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"N"}}}}}`)
	if _, err := empty.Evaluate(map[string]string{"N": ""}); !errors.Is(err, ErrEvaluation) {
		t.Errorf("Evaluate(empty thing name) = %v, want ErrEvaluation", err)
	}
	groups := mustParse(t, `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingGroups":{"Fn::Select":[0,[["a",["b"]]]]}}}}}`)
	if _, err := groups.Evaluate(nil); !errors.Is(err, ErrEvaluation) || !strings.Contains(err.Error(), "ThingGroups[1]") {
		t.Errorf("Evaluate(nested group) = %v", err)
	}
}

func TestSubjectParameters(t *testing.T) {
	subject := pkix.Name{
		Country: []string{"DE", "FR"}, Organization: []string{"Acme"}, OrganizationalUnit: []string{"Gateways"},
		Province: []string{"Bavaria"}, CommonName: "gw-1", SerialNumber: "SN-9",
		Names: []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 46}, Value: "q1"}},
	}
	want := map[string]string{
		ParamCertificateID: "cid", ParamCountry: "DE", ParamOrganization: "Acme", ParamOrganizationalUnit: "Gateways",
		ParamStateName: "Bavaria", ParamCommonName: "gw-1", ParamSerialNumber: "SN-9", ParamDistinguishedNameQualifier: "q1",
	}
	if got := SubjectParameters(subject, "cid"); !reflect.DeepEqual(got, want) {
		t.Errorf("SubjectParameters = %v, want %v", got, want)
	}
	if got := SubjectParameters(pkix.Name{CommonName: "x"}, "cid"); !reflect.DeepEqual(got, map[string]string{ParamCertificateID: "cid", ParamCommonName: "x"}) {
		t.Errorf("SubjectParameters(CN only) = %v", got)
	}
	for _, name := range BuiltinParameters() {
		if _, ok := want[name]; !ok || !IsBuiltinParameter(name) {
			t.Errorf("built-in %q not produced or not recognised", name)
		}
	}
	if len(BuiltinParameters()) != len(want) || IsBuiltinParameter("AWS::IoT::Certificate::Locality") {
		t.Error("built-in list differs from the documented eight")
	}

	// The JITP fixture fails as the service does when the subject lacks Country.
	var cfg struct {
		TemplateBody string `json:"templateBody"`
	}
	if err := json.Unmarshal(readFixture(t, "aws_jitp_registration_config.json"), &cfg); err != nil {
		t.Fatal(err)
	}
	tp := mustParse(t, cfg.TemplateBody)
	_, err := tp.Evaluate(SubjectParameters(pkix.Name{CommonName: "gw-1", SerialNumber: "1"}, "cid"))
	var me *MissingParameterError
	if !errors.As(err, &me) || me.Name != ParamCountry {
		t.Errorf("Evaluate(no Country) = %v, want missing %s", err, ParamCountry)
	}
}

// TestResultIsolation checks that a caller changing a Result cannot change the
// Template or later Results, and that concurrent Evaluate calls agree.
func TestResultIsolation(t *testing.T) {
	tp := mustParse(t, fnTemplate(`{"Fn::FindInMap":["M","eu","hosts"]}`)+``)
	thingTp := mustParse(t, `{"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":"t"},"OverrideSettings":{"ThingGroups":"MERGE"}}}}`)
	r1, _ := tp.Evaluate(fnParams)
	r1.DeviceConfiguration["v"].([]any)[0] = "changed"
	r2, _ := tp.Evaluate(fnParams)
	if r2.DeviceConfiguration["v"].([]any)[0] != "h1" {
		t.Error("changing a Result changed the Template's mapping")
	}
	t1, _ := thingTp.Evaluate(nil)
	t1.Thing.Overrides[OverrideThingGroups] = OverrideFail
	if t2, _ := thingTp.Evaluate(nil); t2.Thing.Overrides[OverrideThingGroups] != OverrideMerge {
		t.Error("changing a Result changed the Template's overrides")
	}

	gw := mustParse(t, string(readFixture(t, "gateway_default.json")))
	want, err := gw.Evaluate(map[string]string{"SerialNumber": "1", ParamCertificateID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := gw.Evaluate(map[string]string{"SerialNumber": "1", ParamCertificateID: "c"})
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent Evaluate = %+v, %v", got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
