package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// A fleet provisioning template as the user guide's examples make it.
const cliTemplate = `{
  "Parameters": {"SerialNumber": {"Type": "String"}, "AWS::IoT::Certificate::Id": {"Type": "String"}},
  "Resources": {
    "thing": {"Type": "AWS::IoT::Thing", "Properties": {"ThingName": {"Fn::Join": ["", ["gw-", {"Ref": "SerialNumber"}]]}}},
    "certificate": {"Type": "AWS::IoT::Certificate", "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}}
  }
}`

func TestAWSCLIProvisioningTemplates(t *testing.T) {
	c := newCLIRig(t)
	store := c.f.stores[euWest1]
	dir := t.TempDir()
	body := filepath.Join(dir, "template.json")
	bad := filepath.Join(dir, "bad.json")
	for name, data := range map[string]string{body: cliTemplate, bad: `{"Resources": {"x": {"Type": "AWS::IoT::Nothing"}}}`} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const role = "arn:aws:iam::123456789012:role/FleetProvisioning"
	fails := func(code string, args ...string) {
		t.Helper()
		_, errOut, exit := c.aws(t, euWest1, args...)
		if exit == 0 || !strings.Contains(errOut, code) {
			t.Fatalf("aws %v: exit %d, stderr %q; want a failure naming %s", args, exit, errOut, code)
		}
	}

	m := c.awsJSON(t, euWest1, "create-provisioning-template", "--template-name", "Gateways",
		"--template-body", "file://"+body, "--provisioning-role-arn", role, "--description", "every gateway")
	if m["templateArn"] != "arn:aws:iot:eu-west-1:123456789012:provisioningtemplate/Gateways" || m["defaultVersionId"] != float64(1) {
		t.Fatalf("create-provisioning-template: %v", m)
	}
	tpl, err := store.GetTemplate("Gateways")
	if err != nil || tpl.Enabled || tpl.Type != registry.TemplateFleetProvisioning || tpl.Body != cliTemplate {
		t.Fatalf("stored template %+v, %v; want it disabled (AWS's default), FLEET_PROVISIONING, the body as sent", tpl, err)
	}
	fails("ResourceAlreadyExistsException", "create-provisioning-template", "--template-name", "Gateways",
		"--template-body", "file://"+body, "--provisioning-role-arn", role)
	fails("InvalidRequestException", "create-provisioning-template", "--template-name", "Bad",
		"--template-body", "file://"+bad, "--provisioning-role-arn", role)
	fails("InvalidRequestException", "create-provisioning-template", "--template-name", "NoRole",
		"--template-body", "file://"+body, "--provisioning-role-arn", "arn:aws:iot:eu-west-1:123456789012:thing/x")
	fails("InvalidRequestException", "create-provisioning-template", "--template-name", "Hooked",
		"--template-body", "file://"+body, "--provisioning-role-arn", role,
		"--pre-provisioning-hook", "targetArn=arn:aws:lambda:eu-west-1:123456789012:function:check")
	for _, name := range []string{"Bad", "NoRole", "Hooked"} {
		if _, err := store.GetTemplate(name); err == nil {
			t.Fatalf("refused template %s was stored", name)
		}
	}

	c.awsJSON(t, euWest1, "update-provisioning-template", "--template-name", "Gateways", "--enabled")
	d := c.awsJSON(t, euWest1, "describe-provisioning-template", "--template-name", "Gateways")
	if d["enabled"] != true || d["description"] != "every gateway" || d["provisioningRoleArn"] != role {
		t.Fatalf("after update-provisioning-template --enabled: %v", d)
	}
	fails("ResourceNotFoundException", "update-provisioning-template", "--template-name", "Gateways", "--default-version-id", "2")

	c.awsJSON(t, euWest1, "delete-provisioning-template", "--template-name", "Gateways")
	fails("ResourceNotFoundException", "delete-provisioning-template", "--template-name", "Gateways")
}

// A template a CA certificate uses for JITP cannot be deleted from under it.
func TestDeleteTemplateInUseByJITP(t *testing.T) {
	f := newFixture(t)
	store := f.stores[euWest1]
	ca, err := store.GetCACertificate(f.caID)
	if err != nil {
		t.Fatal(err)
	}
	ca.TemplateName = "jitp"
	if err := store.PutCACertificate(*ca); err != nil {
		t.Fatal(err)
	}
	f.do(t, "DELETE", "/provisioning-templates/jitp", euWest1, "").wantError(t, 409, codeDeleteConflict)
	if _, err := store.GetTemplate("jitp"); err != nil {
		t.Fatalf("template in use was deleted: %v", err)
	}
}
