package controlplane

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestListThings(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name  string
		query string
		want  []string
	}{
		{"all", "", []string{"gw-001", "gw-002", "gw-003", "sensor-1"}},
		{"attribute name", "?attributeName=serial", []string{"gw-001", "gw-002", "gw-003"}},
		{"attribute value", "?attributeName=site&attributeValue=fra2", []string{"gw-002"}},
		{"attribute prefix", "?attributeName=serial&attributeValue=S&usePrefixAttributeValue=true", []string{"gw-001", "gw-002"}},
		{"thing type", "?thingTypeName=gateway", []string{"gw-001", "gw-002"}},
		{"thing group extension", "?thingGroupName=gateways", []string{"gw-001", "gw-002"}},
		{"no match", "?attributeName=nope", []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, http.MethodGet, "/things"+tc.query, euWest1, "")
			a.wantOK(t)
			if got := names(t, a.body, "things", "thingName"); !slices.Equal(got, tc.want) {
				t.Fatalf("things %v, want %v", got, tc.want)
			}
			if _, ok := a.body["nextToken"]; ok {
				t.Fatalf("nextToken on the only page: %s", a.raw)
			}
		})
	}
	a := f.do(t, http.MethodGet, "/things?attributeName=site&attributeValue=fra1", euWest1, "")
	th := a.body["things"].([]any)[0].(map[string]any)
	want := map[string]any{"thingName": "gw-001", "thingTypeName": "gateway", "thingArn": "arn:aws:iot:eu-west-1:123456789012:thing/gw-001",
		"attributes": map[string]any{"serial": "S001", "site": "fra1"}, "version": float64(2)}
	if !jsonEqual(th, want) {
		t.Fatalf("thing %v, want %v", th, want)
	}
	a = f.do(t, http.MethodGet, "/things?attributeName=serial&attributeValue=T003", euWest1, "")
	if attrs := a.body["things"].([]any)[0].(map[string]any)["attributes"]; attrs == nil {
		t.Fatalf("attributes missing: %s", a.raw)
	}
	f.do(t, http.MethodGet, "/things?usePrefixAttributeValue=maybe", euWest1, "").wantError(t, 400, codeInvalidRequest)
}

func TestDescribeThing(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/things/gw-001", euWest1, "")
	a.wantOK(t)
	for k, want := range map[string]any{
		"thingName": "gw-001", "defaultClientId": "gw-001", "thingTypeName": "gateway", "version": float64(2),
		"thingArn": "arn:aws:iot:eu-west-1:123456789012:thing/gw-001",
	} {
		if a.body[k] != want {
			t.Errorf("%s = %v, want %v", k, a.body[k], want)
		}
	}
	id, _ := a.body["thingId"].(string)
	if len(id) != 36 || strings.Count(id, "-") != 4 {
		t.Errorf("thingId %q is not UUID-shaped", id)
	}
	if again := f.do(t, http.MethodGet, "/things/gw-001", euWest1, ""); again.body["thingId"] != id {
		t.Errorf("thingId changed: %v then %v", id, again.body["thingId"])
	}
	f.do(t, http.MethodGet, "/things/nope", euWest1, "").wantError(t, 404, codeNotFound)
}

func TestThingGroups(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/thing-groups", euWest1, "")
	a.wantOK(t)
	if got := names(t, a.body, "thingGroups", "groupName"); !slices.Equal(got, []string{"gateways", "gw-lab"}) {
		t.Fatalf("groups %v", got)
	}
	if arn := a.body["thingGroups"].([]any)[0].(map[string]any)["groupArn"]; arn != "arn:aws:iot:eu-west-1:123456789012:thinggroup/gateways" {
		t.Fatalf("groupArn %v", arn)
	}
	a = f.do(t, http.MethodGet, "/thing-groups?namePrefixFilter=gw", euWest1, "")
	if got := names(t, a.body, "thingGroups", "groupName"); !slices.Equal(got, []string{"gw-lab"}) {
		t.Fatalf("prefix groups %v", got)
	}
	a = f.do(t, http.MethodGet, "/thing-groups?parentGroup=gateways", euWest1, "")
	if got := names(t, a.body, "thingGroups", "groupName"); len(got) != 0 {
		t.Fatalf("children of a flat group %v", got)
	}
	f.do(t, http.MethodGet, "/thing-groups?parentGroup=nope", euWest1, "").wantError(t, 404, codeNotFound)

	a = f.do(t, http.MethodGet, "/thing-groups/gateways", euWest1, "")
	a.wantOK(t)
	want := map[string]any{
		"thingGroupName": "gateways", "thingGroupArn": "arn:aws:iot:eu-west-1:123456789012:thinggroup/gateways", "version": float64(1),
		"thingGroupProperties": map[string]any{"thingGroupDescription": "field gateways", "attributePayload": map[string]any{"attributes": map[string]any{"site": "fra1"}}},
	}
	for k, v := range want {
		if !jsonEqual(a.body[k], v) {
			t.Errorf("%s = %v, want %v", k, a.body[k], v)
		}
	}
	md := a.body["thingGroupMetadata"].(map[string]any)
	if _, ok := md["creationDate"].(float64); !ok {
		t.Errorf("creationDate %v is not epoch seconds", md["creationDate"])
	}
	f.do(t, http.MethodGet, "/thing-groups/nope", euWest1, "").wantError(t, 404, codeNotFound)

	a = f.do(t, http.MethodGet, "/thing-groups/gateways/things", euWest1, "")
	if got := names(t, a.body, "things", ""); !slices.Equal(got, []string{"gw-001", "gw-002"}) {
		t.Fatalf("things in group %v", got)
	}
	a = f.do(t, http.MethodGet, "/thing-groups/gw-lab/things", euWest1, "")
	if got := names(t, a.body, "things", ""); len(got) != 0 {
		t.Fatalf("things in empty group %v", got)
	}
	f.do(t, http.MethodGet, "/thing-groups/nope/things", euWest1, "").wantError(t, 404, codeNotFound)
}

func TestListThingPrincipals(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/things/gw-001/principals", euWest1, "")
	a.wantOK(t)
	want := []string{"arn:aws:iot:eu-west-1:123456789012:cert/" + f.certs["device"]}
	if got := names(t, a.body, "principals", ""); !slices.Equal(got, want) {
		t.Fatalf("principals %v, want %v", got, want)
	}
	a = f.do(t, http.MethodGet, "/things/gw-002/principals", euWest1, "")
	if got := names(t, a.body, "principals", ""); len(got) != 0 {
		t.Fatalf("principals of a bare thing %v", got)
	}
	f.do(t, http.MethodGet, "/things/nope/principals", euWest1, "").wantError(t, 404, codeNotFound)
}

func TestListCertificates(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/certificates", euWest1, "")
	a.wantOK(t)
	// Newest first by default: registered claim, device, old.
	want := []string{f.certs["old"], f.certs["device"], f.certs["claim"]}
	if got := names(t, a.body, "certificates", "certificateId"); !slices.Equal(got, want) {
		t.Fatalf("certificates %v, want %v", got, want)
	}
	a = f.do(t, http.MethodGet, "/certificates?isAscendingOrder=true", euWest1, "")
	slices.Reverse(want)
	if got := names(t, a.body, "certificates", "certificateId"); !slices.Equal(got, want) {
		t.Fatalf("ascending %v, want %v", got, want)
	}
	modes := map[string]string{}
	for _, c := range a.body["certificates"].([]any) {
		m := c.(map[string]any)
		modes[m["certificateId"].(string)] = m["certificateMode"].(string)
		if _, ok := m["creationDate"].(float64); !ok || m["status"] == "" || !strings.HasSuffix(m["certificateArn"].(string), ":cert/"+m["certificateId"].(string)) {
			t.Errorf("certificate summary %v", m)
		}
	}
	if modes[f.certs["claim"]] != "SNI_ONLY" || modes[f.certs["device"]] != "DEFAULT" {
		t.Errorf("modes %v", modes)
	}
}

func TestDescribeCertificate(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/certificates/"+f.certs["device"], euWest1, "")
	a.wantOK(t)
	d := a.body["certificateDescription"].(map[string]any)
	for k, want := range map[string]any{
		"certificateArn": "arn:aws:iot:eu-west-1:123456789012:cert/" + f.certs["device"], "certificateId": f.certs["device"],
		"status": "ACTIVE", "ownedBy": testAccount, "certificateMode": "DEFAULT", "caCertificateId": f.caID,
	} {
		if d[k] != want {
			t.Errorf("%s = %v, want %v", k, d[k], want)
		}
	}
	if !strings.HasPrefix(d["certificatePem"].(string), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("certificatePem %v", d["certificatePem"])
	}
	v := d["validity"].(map[string]any)
	if v["notAfter"] != float64(time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("validity %v", v)
	}
	created, _ := d["creationDate"].(float64)
	if created < float64(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).Unix()) {
		t.Errorf("creationDate %v", d["creationDate"])
	}

	d = f.do(t, http.MethodGet, "/certificates/"+f.certs["claim"], euWest1, "").body["certificateDescription"].(map[string]any)
	if d["certificateMode"] != "SNI_ONLY" {
		t.Errorf("claim certificateMode %v", d["certificateMode"])
	}
	if _, ok := d["caCertificateId"]; ok {
		t.Errorf("caCertificateId on a certificate without CA: %v", d["caCertificateId"])
	}
	f.do(t, http.MethodGet, "/certificates/"+strings.Repeat("0", 64), euWest1, "").wantError(t, 404, codeNotFound)
	f.do(t, http.MethodGet, "/certificates/xyz", euWest1, "").wantError(t, 400, codeInvalidRequest)
}

func TestUpdateCertificate(t *testing.T) {
	f := newFixture(t)
	id := f.certs["claim"]
	status := func() string {
		t.Helper()
		return f.do(t, http.MethodGet, "/certificates/"+id, euWest1, "").body["certificateDescription"].(map[string]any)["status"].(string)
	}
	steps := []struct {
		newStatus  string
		wantStatus int
		wantCode   string
		after      string
	}{
		{"INACTIVE", 200, "", "INACTIVE"},
		{"ACTIVE", 200, "", "ACTIVE"},
		{"PENDING_ACTIVATION", 400, codeInvalidRequest, "ACTIVE"},
		{"PENDING_TRANSFER", 400, codeInvalidRequest, "ACTIVE"},
		{"active", 400, codeInvalidRequest, "ACTIVE"},
		{"", 400, codeInvalidRequest, "ACTIVE"},
		{"REVOKED", 200, "", "REVOKED"},
		{"REVOKED", 200, "", "REVOKED"}, // idempotent
		{"ACTIVE", 406, codeCertificateState, "REVOKED"},
	}
	for _, s := range steps {
		a := f.do(t, http.MethodPut, "/certificates/"+id+"?newStatus="+s.newStatus, euWest1, "")
		if s.wantCode == "" {
			a.wantOK(t)
		} else {
			a.wantError(t, s.wantStatus, s.wantCode)
		}
		if got := status(); got != s.after {
			t.Fatalf("after newStatus=%s: status %s, want %s", s.newStatus, got, s.after)
		}
	}
	f.do(t, http.MethodPut, "/certificates/"+strings.Repeat("a", 64)+"?newStatus=ACTIVE", euWest1, "").wantError(t, 404, codeNotFound)
}

// With SetCertificateStatus set (a running rig sets it to the region's broker),
// UpdateCertificate goes through it, so the broker can close the connections of a
// certificate that is no longer ACTIVE; refused changes never reach it.
func TestUpdateCertificateThroughBroker(t *testing.T) {
	f := newFixture(t)
	var calls []string
	f.h.opts.SetCertificateStatus = func(region, id, status string) error {
		calls = append(calls, region+" "+id+" "+status)
		return f.stores[region].SetCertificateStatus(id, status)
	}
	id := f.certs["claim"]
	f.do(t, http.MethodPut, "/certificates/"+id+"?newStatus=INACTIVE", euWest1, "").wantOK(t)
	f.do(t, http.MethodPut, "/certificates/"+id+"?newStatus=PENDING_TRANSFER", euWest1, "").wantError(t, 400, codeInvalidRequest)
	f.do(t, http.MethodPut, "/certificates/"+id+"?newStatus=REVOKED", euWest1, "").wantOK(t)
	f.do(t, http.MethodPut, "/certificates/"+id+"?newStatus=ACTIVE", euWest1, "").wantError(t, 406, codeCertificateState)
	want := []string{euWest1 + " " + id + " INACTIVE", euWest1 + " " + id + " REVOKED"}
	if !slices.Equal(calls, want) {
		t.Fatalf("broker calls %q, want %q", calls, want)
	}
}

func TestPolicies(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/policies", euWest1, "")
	a.wantOK(t)
	if got := names(t, a.body, "policies", "policyName"); !slices.Equal(got, []string{"claim-policy", "device-policy"}) {
		t.Fatalf("policies %v", got)
	}
	a = f.do(t, http.MethodGet, "/policies?isAscendingOrder=false", euWest1, "")
	if got := names(t, a.body, "policies", "policyName"); !slices.Equal(got, []string{"device-policy", "claim-policy"}) {
		t.Fatalf("descending policies %v", got)
	}
	a = f.do(t, http.MethodGet, "/policies/device-policy", euWest1, "")
	a.wantOK(t)
	for k, want := range map[string]any{
		"policyName": "device-policy", "policyArn": "arn:aws:iot:eu-west-1:123456789012:policy/device-policy",
		"policyDocument": `{"Version":"2012-10-17","Statement":[]}`, "defaultVersionId": "2",
	} {
		if a.body[k] != want {
			t.Errorf("%s = %v, want %v", k, a.body[k], want)
		}
	}
	f.do(t, http.MethodGet, "/policies/nope", euWest1, "").wantError(t, 404, codeNotFound)
}

func TestListAttachedPolicies(t *testing.T) {
	f := newFixture(t)
	certARN := "arn:aws:iot:eu-west-1:123456789012:cert/" + f.certs["device"]
	tests := []struct {
		name   string
		target string // as it goes in the path
		want   []string
		code   string
	}{
		{"escaped ARN as botocore sends it", url.PathEscape(certARN), []string{"device-policy"}, ""},
		{"raw ARN", certARN, []string{"device-policy"}, ""},
		{"bare id", f.certs["claim"], []string{"claim-policy"}, ""},
		{"certificate without policies", "arn:aws:iot:eu-west-1:123456789012:cert/" + f.certs["old"], []string{}, ""},
		{"thing group", url.PathEscape("arn:aws:iot:eu-west-1:123456789012:thinggroup/gateways"), []string{}, ""},
		{"unknown certificate", url.PathEscape("arn:aws:iot:eu-west-1:123456789012:cert/" + strings.Repeat("b", 64)), nil, codeNotFound},
		{"unknown group", url.PathEscape("arn:aws:iot:eu-west-1:123456789012:thinggroup/nope"), nil, codeNotFound},
		{"not an IoT ARN", url.PathEscape("arn:aws:s3:::bucket/key"), nil, codeInvalidRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := f.do(t, http.MethodPost, "/attached-policies/"+tc.target, euWest1, "")
			if tc.code != "" {
				a.wantError(t, statusOf[tc.code], tc.code)
				return
			}
			a.wantOK(t)
			if got := names(t, a.body, "policies", "policyName"); !slices.Equal(got, tc.want) {
				t.Fatalf("policies %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProvisioningTemplates(t *testing.T) {
	f := newFixture(t)
	a := f.do(t, http.MethodGet, "/provisioning-templates", euWest1, "")
	a.wantOK(t)
	if got := names(t, a.body, "templates", "templateName"); !slices.Equal(got, []string{"fleet", "jitp"}) {
		t.Fatalf("templates %v", got)
	}
	first := a.body["templates"].([]any)[0].(map[string]any)
	for k, want := range map[string]any{"templateArn": "arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/fleet",
		"description": "claim flow", "enabled": true, "type": "FLEET_PROVISIONING"} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v", k, first[k], want)
		}
	}
	a = f.do(t, http.MethodGet, "/provisioning-templates/fleet", euWest1, "")
	a.wantOK(t)
	for k, want := range map[string]any{"templateName": "fleet", "templateBody": `{"Resources":{}}`, "enabled": true,
		"defaultVersionId": float64(1), "provisioningRoleArn": "arn:aws:iam::123456789012:role/prov", "type": "FLEET_PROVISIONING"} {
		if a.body[k] != want {
			t.Errorf("%s = %v, want %v", k, a.body[k], want)
		}
	}
	if a := f.do(t, http.MethodGet, "/provisioning-templates/jitp", euWest1, ""); a.body["type"] != "JITP" || a.body["enabled"] != false {
		t.Errorf("jitp template %s", a.raw)
	}
	f.do(t, http.MethodGet, "/provisioning-templates/nope", euWest1, "").wantError(t, 404, codeNotFound)
}

func TestDescribeEndpoint(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		query, region, want, code string
	}{
		{"?endpointType=iot:Data-ATS", euWest1, "abc123-ats.iot.eu-west-1.amazonaws.com", ""},
		{"?endpointType=iot%3AData-ATS", usEast1, "abc123-ats.iot.us-east-1.amazonaws.com", ""},
		{"?endpointType=iot:Data", euWest1, "abc123-ats.iot.eu-west-1.amazonaws.com", ""},
		{"", "", "abc123-ats.iot.eu-west-1.amazonaws.com", ""},
		{"?endpointType=iot:Jobs", euWest1, "", codeInvalidRequest},
		{"?endpointType=bogus", euWest1, "", codeInvalidRequest},
	}
	for _, tc := range tests {
		a := f.do(t, http.MethodGet, "/endpoint"+tc.query, tc.region, "")
		if tc.code != "" {
			a.wantError(t, 400, tc.code)
			continue
		}
		a.wantOK(t)
		if a.body["endpointAddress"] != tc.want {
			t.Errorf("%s in %q: %v, want %s", tc.query, tc.region, a.body["endpointAddress"], tc.want)
		}
	}
}

func jsonEqual(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !jsonEqual(x[k], y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		return ok && slices.EqualFunc(x, y, jsonEqual)
	}
	return a == b
}
