package controlplane

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// The operations that set a region up the way an AWS account is set up: policies
// and their attachments, certificates registered without a CA, things and thing
// groups. Shapes, status codes and error types follow botocore's iot
// service-2.json (2015-05-28).

const (
	codeMalformedPolicy = "MalformedPolicyException" // 400
	codeDeleteConflict  = "DeleteConflictException"  // 409
	codeVersionConflict = "VersionConflictException" // 409
)

func init() {
	statusOf[codeMalformedPolicy] = http.StatusBadRequest
	statusOf[codeDeleteConflict] = http.StatusConflict
	statusOf[codeVersionConflict] = http.StatusConflict
}

// decodeAPIBody reads a JSON request body of at most maxBody bytes into v. Fields
// this cloud does not keep (tags, billing groups) are ignored, as SDKs send them.
func decodeAPIBody(c *call, v any) error {
	body, err := io.ReadAll(io.LimitReader(c.r.Body, maxBody+1))
	if err != nil {
		return apiErr(codeInvalidRequest, "read body: "+err.Error())
	}
	if len(body) > maxBody {
		return apiErr(codeInvalidRequest, fmt.Sprintf("body larger than %d bytes", maxBody))
	}
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return apiErr(codeInvalidRequest, "body: "+err.Error())
	}
	return nil
}

// createPolicy: POST /policies/{policyName}. The document must parse as an AWS IoT
// policy (MalformedPolicyException otherwise), so a policy the broker could not
// evaluate is never stored.
func createPolicy(c *call) (any, error) {
	var in struct {
		PolicyDocument string `json:"policyDocument"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	name := c.args[0]
	if !validPolicyName(name) {
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("policyName %q: 1 to 128 characters of [\\w+=,.@-]", name))
	}
	if in.PolicyDocument == "" {
		return nil, apiErr(codeInvalidRequest, "policyDocument is required")
	}
	if _, err := policy.Parse([]byte(in.PolicyDocument)); err != nil {
		return nil, apiErr(codeMalformedPolicy, "policy document: "+err.Error())
	}
	p, err := c.store.CreatePolicy(name, in.PolicyDocument)
	if errors.Is(err, registry.ErrAlreadyExists) {
		return nil, apiErr(codeAlreadyExists, fmt.Sprintf("policy %q already exists", name))
	}
	if err != nil {
		return nil, err
	}
	return struct {
		PolicyName      string `json:"policyName"`
		PolicyArn       string `json:"policyArn"`
		PolicyDocument  string `json:"policyDocument"`
		PolicyVersionID string `json:"policyVersionId"`
	}{p.Name, p.ARN, p.Document, strconv.FormatInt(p.Version, 10)}, nil
}

// validPolicyName is the model's PolicyName pattern, [\w+=,.@-]+, 1 to 128.
func validPolicyName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-':
		default:
			return false
		}
	}
	return true
}

// policyTarget reads the body's target: a certificate ARN (thing group targets
// are not kept by this mock and are refused as such).
func policyTarget(c *call) (string, error) {
	var in struct {
		Target string `json:"target"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return "", err
	}
	if in.Target == "" {
		return "", apiErr(codeInvalidRequest, "target is required")
	}
	kind, name := splitTarget(in.Target)
	if kind != "cert" {
		return "", apiErr(codeInvalidRequest, fmt.Sprintf("target %q: this cloud attaches policies to certificate ARNs only", in.Target))
	}
	return certIDArg(name)
}

// attachPolicy: PUT /target-policies/{policyName}. The broker reads a
// certificate's policies on every operation, so the next PUBLISH is judged by it.
func attachPolicy(c *call) (any, error) {
	id, err := policyTarget(c)
	if err != nil {
		return nil, err
	}
	if err := c.store.AttachPolicy(c.args[0], id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// detachPolicy: POST /target-policies/{policyName}.
func detachPolicy(c *call) (any, error) {
	id, err := policyTarget(c)
	if err != nil {
		return nil, err
	}
	if _, err := c.store.GetPolicy(c.args[0]); err != nil {
		return nil, err
	}
	if err := c.store.DetachPolicy(c.args[0], id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// listTargetsForPolicy: POST /policy-targets/{policyName}.
func listTargetsForPolicy(c *call) (any, error) {
	limit, token, err := c.pageArgs("pageSize", "marker")
	if err != nil {
		return nil, err
	}
	if _, err := c.store.GetPolicy(c.args[0]); err != nil {
		return nil, err
	}
	ids, err := c.store.PolicyTargets(c.args[0])
	if err != nil {
		return nil, err
	}
	arns := make([]string, len(ids))
	for i, id := range ids {
		arns[i] = c.store.ARN("cert", id)
	}
	slices.Sort(arns)
	page, next, err := paginate(arns, func(s string) string { return s }, false, token, limit)
	if err != nil {
		return nil, err
	}
	return struct {
		Targets    []string `json:"targets"`
		NextMarker string   `json:"nextMarker,omitempty"`
	}{append([]string{}, page...), next}, nil
}

// registerCertificateWithoutCA: POST /certificate/register-no-ca, the way a claim
// certificate from the maker's own tooling is registered in every region. status
// defaults to INACTIVE, as RegisterCertificate's setAsActive does.
func registerCertificateWithoutCA(c *call) (any, error) {
	var in struct {
		CertificatePem string `json:"certificatePem"`
		Status         string `json:"status"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	if in.CertificatePem == "" {
		return nil, apiErr(codeInvalidRequest, "certificatePem is required")
	}
	status := in.Status
	switch status {
	case "":
		status = registry.StatusInactive
	case registry.StatusActive, registry.StatusInactive, registry.StatusRevoked:
	default:
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("status %q cannot be set on registration", in.Status))
	}
	x, err := c.store.RegisterCertificate(in.CertificatePem, status, "")
	switch {
	case errors.Is(err, registry.ErrAlreadyExists):
		return nil, apiErr(codeAlreadyExists, "the certificate is already registered")
	case errors.Is(err, registry.ErrInvalid):
		return nil, apiErr("CertificateValidationException", err.Error())
	case err != nil:
		return nil, err
	}
	return struct {
		CertificateArn string `json:"certificateArn"`
		CertificateID  string `json:"certificateId"`
	}{x.ARN, x.ID}, nil
}

// deleteCertificate: DELETE /certificates/{certificateId}. AWS refuses an ACTIVE
// certificate (CertificateStateException) and one still attached
// (DeleteConflictException); forceDelete lifts the policy attachments only, never
// a thing's.
func deleteCertificate(c *call) (any, error) {
	id, err := certIDArg(c.args[0])
	if err != nil {
		return nil, err
	}
	force, _, err := c.boolArg("forceDelete")
	if err != nil {
		return nil, err
	}
	x, err := c.store.GetCertificate(id)
	if err != nil {
		return nil, err
	}
	if x.Status == registry.StatusActive {
		return nil, apiErr(codeCertificateState, "certificate "+id+" is ACTIVE: deactivate it first")
	}
	things, err := c.store.ThingsForCertificate(id)
	if err != nil {
		return nil, err
	}
	if len(things) > 0 {
		return nil, apiErr(codeDeleteConflict, fmt.Sprintf("certificate %s is attached to thing %q: detach it first", id, things[0]))
	}
	pols, err := c.store.PoliciesForCertificate(id)
	if err != nil {
		return nil, err
	}
	if len(pols) > 0 && !force {
		return nil, apiErr(codeDeleteConflict, fmt.Sprintf("certificate %s has policy %q attached: detach it or use forceDelete", id, pols[0].Name))
	}
	for _, p := range pols {
		if err := c.store.DetachPolicy(p.Name, id); err != nil {
			return nil, err
		}
	}
	if err := c.store.DeleteCertificate(id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// createThing: POST /things/{thingName}. AWS answers a second identical create
// with the thing it has, and ResourceAlreadyExistsException when the type or the
// attributes differ.
func createThing(c *call) (any, error) {
	var in struct {
		ThingTypeName    string `json:"thingTypeName"`
		AttributePayload struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"attributePayload"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	name := c.args[0]
	if !validThingName(name) {
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("thingName %q: 1 to 128 characters of [a-zA-Z0-9:_-]", name))
	}
	t, err := c.store.GetThing(name)
	switch {
	case err == nil:
		if t.TypeName != in.ThingTypeName || !maps.Equal(t.Attributes, in.AttributePayload.Attributes) && len(t.Attributes)+len(in.AttributePayload.Attributes) > 0 {
			return nil, apiErr(codeAlreadyExists, fmt.Sprintf("thing %q already exists with different properties", name))
		}
	case errors.Is(err, registry.ErrNotFound):
		t, err = c.store.PutThing(registry.Thing{Name: name, TypeName: in.ThingTypeName, Attributes: in.AttributePayload.Attributes})
		if err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	return struct {
		ThingName string `json:"thingName"`
		ThingArn  string `json:"thingArn"`
		ThingID   string `json:"thingId"`
	}{t.Name, t.ARN, stableID(t.ARN)}, nil
}

// validThingName is the model's ThingName pattern, [a-zA-Z0-9:_-]+, 1 to 128.
func validThingName(s string) bool {
	if len(s) == 0 || len(s) > 128 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ':', r == '_', r == '-':
		default:
			return false
		}
	}
	return true
}

// thingPrincipal reads the x-amzn-principal header: a certificate ARN.
func thingPrincipal(c *call) (string, error) {
	p := c.r.Header.Get("x-amzn-principal")
	if p == "" {
		return "", apiErr(codeInvalidRequest, "the x-amzn-principal header is required")
	}
	kind, name := splitTarget(p)
	if kind != "cert" {
		return "", apiErr(codeInvalidRequest, fmt.Sprintf("principal %q is not a certificate ARN", p))
	}
	return certIDArg(name)
}

// attachThingPrincipal: PUT /things/{thingName}/principals.
func attachThingPrincipal(c *call) (any, error) {
	id, err := thingPrincipal(c)
	if err != nil {
		return nil, err
	}
	if err := c.store.AttachThingPrincipal(c.args[0], id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// detachThingPrincipal: DELETE /things/{thingName}/principals.
func detachThingPrincipal(c *call) (any, error) {
	id, err := thingPrincipal(c)
	if err != nil {
		return nil, err
	}
	if _, err := c.store.GetThing(c.args[0]); err != nil {
		return nil, err
	}
	if err := c.store.DetachThingPrincipal(c.args[0], id); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// createThingGroup: POST /thing-groups/{thingGroupName}; static groups without a
// parent (parentGroupName is refused rather than ignored).
func createThingGroup(c *call) (any, error) {
	var in struct {
		ParentGroupName      string `json:"parentGroupName"`
		ThingGroupProperties struct {
			ThingGroupDescription string `json:"thingGroupDescription"`
			AttributePayload      struct {
				Attributes map[string]string `json:"attributes"`
			} `json:"attributePayload"`
		} `json:"thingGroupProperties"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	name := c.args[0]
	if !validThingName(name) {
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("thingGroupName %q: 1 to 128 characters of [a-zA-Z0-9:_-]", name))
	}
	if in.ParentGroupName != "" {
		return nil, apiErr(codeInvalidRequest, "parentGroupName: nested thing groups are not kept by this cloud")
	}
	g, err := c.store.CreateThingGroup(registry.ThingGroup{Name: name,
		Description: in.ThingGroupProperties.ThingGroupDescription, Attributes: in.ThingGroupProperties.AttributePayload.Attributes})
	if errors.Is(err, registry.ErrAlreadyExists) {
		return nil, apiErr(codeAlreadyExists, fmt.Sprintf("thing group %q already exists", name))
	}
	if err != nil {
		return nil, err
	}
	return struct {
		ThingGroupName string `json:"thingGroupName"`
		ThingGroupArn  string `json:"thingGroupArn"`
		ThingGroupID   string `json:"thingGroupId"`
	}{g.Name, g.ARN, stableID(g.ARN)}, nil
}

// addThingToThingGroup: PUT /thing-groups/addThingToThingGroup, by name or ARN.
func addThingToThingGroup(c *call) (any, error) {
	var in struct {
		ThingGroupName string `json:"thingGroupName"`
		ThingGroupArn  string `json:"thingGroupArn"`
		ThingName      string `json:"thingName"`
		ThingArn       string `json:"thingArn"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	group, err := nameOrARN(in.ThingGroupName, in.ThingGroupArn, "thinggroup", "thingGroup")
	if err != nil {
		return nil, err
	}
	thing, err := nameOrARN(in.ThingName, in.ThingArn, "thing", "thing")
	if err != nil {
		return nil, err
	}
	if _, err := c.store.GetThingGroup(group); err != nil {
		return nil, err
	}
	t, err := c.store.GetThing(thing)
	if err != nil {
		return nil, err
	}
	for _, g := range t.Groups {
		if g == group {
			return struct{}{}, nil
		}
	}
	t.Groups = append(t.Groups, group)
	if _, err := c.store.PutThing(*t); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// nameOrARN takes a resource's name from its name or its ARN, whichever is given.
func nameOrARN(name, arn, kind, field string) (string, error) {
	if name != "" {
		return name, nil
	}
	if arn == "" {
		return "", apiErr(codeInvalidRequest, field+"Name or "+field+"Arn is required")
	}
	k, n := splitTarget(arn)
	if k != kind {
		return "", apiErr(codeInvalidRequest, fmt.Sprintf("%sArn %q is not a %s ARN", field, arn, kind))
	}
	return n, nil
}

// deletePolicy: DELETE /policies/{policyName}; an attached policy is refused.
func deletePolicy(c *call) (any, error) {
	err := c.store.DeletePolicy(c.args[0])
	if errors.Is(err, registry.ErrConflict) {
		return nil, apiErr(codeDeleteConflict, fmt.Sprintf("policy %q is attached: detach it from every target first", c.args[0]))
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// deleteThing: DELETE /things/{thingName}. AWS answers success for a thing that
// does not exist, refuses one with principals attached, and checks
// expectedVersion when given (VersionConflictException).
func deleteThing(c *call) (any, error) {
	name := c.args[0]
	t, err := c.store.GetThing(name)
	if errors.Is(err, registry.ErrNotFound) {
		return struct{}{}, nil
	}
	if err != nil {
		return nil, err
	}
	if v := c.query.Get("expectedVersion"); v != "" {
		want, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, apiErr(codeInvalidRequest, fmt.Sprintf("expectedVersion %q is not a number", v))
		}
		if want != t.Version {
			return nil, apiErr(codeVersionConflict, fmt.Sprintf("thing %q is at version %d, not %d", name, t.Version, want))
		}
	}
	err = c.store.DeleteThing(name)
	switch {
	case errors.Is(err, registry.ErrConflict):
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("thing %q has principals attached: detach them first", name))
	case errors.Is(err, registry.ErrNotFound):
		return struct{}{}, nil
	case err != nil:
		return nil, err
	}
	return struct{}{}, nil
}
