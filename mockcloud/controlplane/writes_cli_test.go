package controlplane

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// The setup a user makes in an AWS account for fleet provisioning, made with the
// aws CLI: a policy, a claim certificate registered without a CA, the attachment,
// a thing, a thing group and the thing in it; then each step undone in the order
// AWS demands, and the refusals AWS gives when the order is wrong.
func TestAWSCLISetsUpARegion(t *testing.T) {
	c := newCLIRig(t)
	store := c.f.stores[usEast1]
	dir := t.TempDir()
	claimPEM, _, _ := selfSigned(t, "claim", false, nil, nil)
	claimFile := filepath.Join(dir, "claim.pem")
	policyFile := filepath.Join(dir, "claim-policy.json")
	badPolicyFile := filepath.Join(dir, "bad-policy.json")
	for name, data := range map[string]string{
		claimFile:     claimPEM,
		policyFile:    `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"arn:aws:iot:us-east-1:123456789012:client/fleetboot-claim-*"}]}`,
		badPolicyFile: `{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Action":"iot:Connect","Resource":"*"}]}`,
	} {
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fails := func(code string, args ...string) {
		t.Helper()
		_, errOut, exit := c.aws(t, usEast1, args...)
		if exit == 0 || !strings.Contains(errOut, code) {
			t.Fatalf("aws %v: exit %d, stderr %q; want a failure naming %s", args, exit, errOut, code)
		}
	}

	p := c.awsJSON(t, usEast1, "create-policy", "--policy-name", "claim", "--policy-document", "file://"+policyFile)
	if p["policyName"] != "claim" || p["policyArn"] != "arn:aws:iot:us-east-1:123456789012:policy/claim" || p["policyVersionId"] != "1" {
		t.Fatalf("create-policy: %v", p)
	}
	fails("ResourceAlreadyExistsException", "create-policy", "--policy-name", "claim", "--policy-document", "file://"+policyFile)
	fails("MalformedPolicyException", "create-policy", "--policy-name", "bad", "--policy-document", "file://"+badPolicyFile)
	if _, err := store.GetPolicy("bad"); err == nil {
		t.Fatal("a malformed policy was stored")
	}

	r := c.awsJSON(t, usEast1, "register-certificate-without-ca", "--certificate-pem", "file://"+claimFile, "--status", "ACTIVE")
	id, _ := r["certificateId"].(string)
	arn, _ := r["certificateArn"].(string)
	if len(id) != 64 || arn != "arn:aws:iot:us-east-1:123456789012:cert/"+id {
		t.Fatalf("register-certificate-without-ca: %v", r)
	}
	if x, err := store.GetCertificate(id); err != nil || x.Status != registry.StatusActive || x.CAID != "" {
		t.Fatalf("registered certificate: %+v, %v", x, err)
	}
	fails("ResourceAlreadyExistsException", "register-certificate-without-ca", "--certificate-pem", "file://"+claimFile)

	c.awsJSON(t, usEast1, "attach-policy", "--policy-name", "claim", "--target", arn)
	if pols, _ := store.PoliciesForCertificate(id); len(pols) != 1 || pols[0].Name != "claim" {
		t.Fatalf("policies of the claim after attach-policy: %v", pols)
	}
	tg := c.awsJSON(t, usEast1, "list-targets-for-policy", "--policy-name", "claim")
	if got := names(t, tg, "targets", ""); !slices.Equal(got, []string{arn}) {
		t.Fatalf("list-targets-for-policy: %v", got)
	}
	fails("ResourceNotFoundException", "attach-policy", "--policy-name", "none", "--target", arn)

	th := c.awsJSON(t, usEast1, "create-thing", "--thing-name", "gw-100", "--attribute-payload", `{"attributes":{"serial":"100"}}`)
	if th["thingName"] != "gw-100" || th["thingArn"] != "arn:aws:iot:us-east-1:123456789012:thing/gw-100" || th["thingId"] == "" {
		t.Fatalf("create-thing: %v", th)
	}
	again := c.awsJSON(t, usEast1, "create-thing", "--thing-name", "gw-100", "--attribute-payload", `{"attributes":{"serial":"100"}}`)
	if again["thingId"] != th["thingId"] {
		t.Fatalf("an identical create-thing answered %v, want the thing it has (%v)", again, th)
	}
	fails("ResourceAlreadyExistsException", "create-thing", "--thing-name", "gw-100", "--attribute-payload", `{"attributes":{"serial":"101"}}`)
	fails("InvalidRequestException", "create-thing", "--thing-name", "no spaces")

	c.awsJSON(t, usEast1, "attach-thing-principal", "--thing-name", "gw-100", "--principal", arn)
	pr := c.awsJSON(t, usEast1, "list-thing-principals", "--thing-name", "gw-100")
	if got := names(t, pr, "principals", ""); !slices.Equal(got, []string{arn}) {
		t.Fatalf("list-thing-principals: %v", got)
	}

	g := c.awsJSON(t, usEast1, "create-thing-group", "--thing-group-name", "fleet", "--thing-group-properties", `{"thingGroupDescription":"every gateway"}`)
	if g["thingGroupName"] != "fleet" || g["thingGroupArn"] != "arn:aws:iot:us-east-1:123456789012:thinggroup/fleet" {
		t.Fatalf("create-thing-group: %v", g)
	}
	fails("ResourceAlreadyExistsException", "create-thing-group", "--thing-group-name", "fleet")
	c.awsJSON(t, usEast1, "add-thing-to-thing-group", "--thing-group-name", "fleet", "--thing-name", "gw-100")
	in := c.awsJSON(t, usEast1, "list-things-in-thing-group", "--thing-group-name", "fleet")
	if got := names(t, in, "things", ""); !slices.Equal(got, []string{"gw-100"}) {
		t.Fatalf("list-things-in-thing-group: %v", got)
	}
	fails("ResourceNotFoundException", "add-thing-to-thing-group", "--thing-group-name", "none", "--thing-name", "gw-100")

	// Undone in AWS's order: an attached policy, a thing with a principal, an ACTIVE
	// certificate, then an attached one, are refused.
	fails("DeleteConflictException", "delete-policy", "--policy-name", "claim")
	fails("InvalidRequestException", "delete-thing", "--thing-name", "gw-100")
	fails("VersionConflictException", "delete-thing", "--thing-name", "gw-100", "--expected-version", "99")
	fails("CertificateStateException", "delete-certificate", "--certificate-id", id)
	c.awsJSON(t, usEast1, "update-certificate", "--certificate-id", id, "--new-status", "INACTIVE")
	fails("DeleteConflictException", "delete-certificate", "--certificate-id", id)
	c.awsJSON(t, usEast1, "detach-thing-principal", "--thing-name", "gw-100", "--principal", arn)
	fails("DeleteConflictException", "delete-certificate", "--certificate-id", id)
	c.awsJSON(t, usEast1, "detach-policy", "--policy-name", "claim", "--target", arn)
	if pols, _ := store.PoliciesForCertificate(id); len(pols) != 0 {
		t.Fatalf("policies after detach-policy: %v", pols)
	}
	c.awsJSON(t, usEast1, "delete-certificate", "--certificate-id", id)
	if _, err := store.GetCertificate(id); err == nil {
		t.Fatal("certificate still there after delete-certificate")
	}
	c.awsJSON(t, usEast1, "delete-policy", "--policy-name", "claim")
	c.awsJSON(t, usEast1, "delete-thing", "--thing-name", "gw-100")
	for what, err := range map[string]error{"policy": errOf(store.GetPolicy("claim")), "thing": errOf(store.GetThing("gw-100"))} {
		if !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("%s after its delete: %v, want not found", what, err)
		}
	}
	// AWS answers a delete of a thing that is not there with success.
	c.awsJSON(t, usEast1, "delete-thing", "--thing-name", "gw-100")
	fails("ResourceNotFoundException", "delete-policy", "--policy-name", "claim")
	// eu-west-1 saw none of it: every call is scoped to its region.
	if _, err := c.f.stores[euWest1].GetPolicy("claim"); err == nil {
		t.Fatal("a policy made in us-east-1 appeared in eu-west-1")
	}
}

// forceDelete lifts the policy attachments of an inactive certificate, never a thing's.
func TestDeleteCertificateForce(t *testing.T) {
	f := newFixture(t)
	store := f.stores[euWest1]
	pemText, _, _ := selfSigned(t, "spare", false, nil, nil)
	x, err := store.RegisterCertificate(pemText, registry.StatusInactive, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AttachPolicy("device-policy", x.ID); err != nil {
		t.Fatal(err)
	}
	f.do(t, "DELETE", "/certificates/"+x.ID, euWest1, "").wantError(t, 409, codeDeleteConflict)
	if a := f.do(t, "DELETE", "/certificates/"+x.ID+"?forceDelete=true", euWest1, ""); a.status != 200 {
		t.Fatalf("forceDelete: %d %s", a.status, a.raw)
	}
	if _, err := store.GetCertificate(x.ID); err == nil {
		t.Fatal("certificate kept after forceDelete")
	}
}

func errOf[T any](_ T, err error) error { return err }
