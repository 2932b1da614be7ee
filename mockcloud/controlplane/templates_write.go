package controlplane

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/template"
	"github.com/fleetboot/fleetboot/provisioning"
)

// maxTemplateBody is the model's TemplateBody maximum.
const maxTemplateBody = 10240

// provisioningHook is the model's ProvisioningHook. This cloud does not call
// hooks yet, so a template that names one is refused rather than stored and
// ignored: a test passing here would then pass a request AWS's hook refuses.
type provisioningHook struct {
	TargetArn      string `json:"targetArn"`
	PayloadVersion string `json:"payloadVersion"`
}

// checkRoleARN accepts an IAM role ARN, the shape AWS requires of
// provisioningRoleArn; the role itself is not assumed by this cloud.
func checkRoleARN(arn string) error {
	f := strings.SplitN(arn, ":", 6)
	if len(f) != 6 || f[0] != "arn" || f[2] != "iam" || !strings.HasPrefix(f[5], "role/") || len(f[5]) == len("role/") {
		return apiErr(codeInvalidRequest, fmt.Sprintf("provisioningRoleArn %q is not an IAM role ARN", arn))
	}
	return nil
}

// checkTemplateBody parses the body as the regions will when a device uses it.
func checkTemplateBody(body, typ string) error {
	if len(body) > maxTemplateBody {
		return apiErr(codeInvalidRequest, fmt.Sprintf("templateBody is %d bytes, more than %d", len(body), maxTemplateBody))
	}
	t, err := template.Parse([]byte(body))
	if err != nil {
		return apiErr(codeInvalidRequest, "templateBody: "+err.Error())
	}
	if typ == registry.TemplateJITP {
		if src := t.CertificateSource(); src != "" && src != template.CertificateSourceID {
			return apiErr(codeInvalidRequest, "templateBody: a JITP template's certificate resource must use CertificateId")
		}
	}
	return nil
}

// createTemplate: POST /provisioning-templates. enabled defaults to false and
// type to FLEET_PROVISIONING, as AWS's.
func createTemplate(c *call) (any, error) {
	var in struct {
		TemplateName        string            `json:"templateName"`
		Description         string            `json:"description"`
		TemplateBody        string            `json:"templateBody"`
		Enabled             bool              `json:"enabled"`
		ProvisioningRoleArn string            `json:"provisioningRoleArn"`
		PreProvisioningHook *provisioningHook `json:"preProvisioningHook"`
		Type                string            `json:"type"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	nameErr := provisioning.ValidTemplateName(in.TemplateName)
	switch {
	case nameErr != nil:
		return nil, apiErr(codeInvalidRequest, "templateName: "+nameErr.Error())
	case in.TemplateBody == "":
		return nil, apiErr(codeInvalidRequest, "templateBody is required")
	case in.ProvisioningRoleArn == "":
		return nil, apiErr(codeInvalidRequest, "provisioningRoleArn is required")
	case in.PreProvisioningHook != nil:
		return nil, apiErr(codeInvalidRequest, "preProvisioningHook: this cloud does not call pre-provisioning hooks")
	}
	typ := in.Type
	switch typ {
	case "":
		typ = registry.TemplateFleetProvisioning
	case registry.TemplateFleetProvisioning, registry.TemplateJITP:
	default:
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("type %q: FLEET_PROVISIONING or JITP", in.Type))
	}
	if err := checkRoleARN(in.ProvisioningRoleArn); err != nil {
		return nil, err
	}
	if err := checkTemplateBody(in.TemplateBody, typ); err != nil {
		return nil, err
	}
	t, err := c.store.CreateTemplate(registry.Template{Name: in.TemplateName, Body: in.TemplateBody, Enabled: in.Enabled,
		Type: typ, Description: in.Description, RoleARN: in.ProvisioningRoleArn})
	if errors.Is(err, registry.ErrAlreadyExists) {
		return nil, apiErr(codeAlreadyExists, fmt.Sprintf("provisioning template %q already exists", in.TemplateName))
	}
	if err != nil {
		return nil, err
	}
	return struct {
		TemplateArn      string `json:"templateArn"`
		TemplateName     string `json:"templateName"`
		DefaultVersionID int    `json:"defaultVersionId"`
	}{t.ARN, t.Name, 1}, nil
}

// updateTemplate: PATCH /provisioning-templates/{templateName}. Only the fields
// given change. This cloud keeps one version per template, so defaultVersionId
// may only name version 1.
func updateTemplate(c *call) (any, error) {
	var in struct {
		Description               *string           `json:"description"`
		Enabled                   *bool             `json:"enabled"`
		DefaultVersionID          *int              `json:"defaultVersionId"`
		ProvisioningRoleArn       *string           `json:"provisioningRoleArn"`
		PreProvisioningHook       *provisioningHook `json:"preProvisioningHook"`
		RemovePreProvisioningHook bool              `json:"removePreProvisioningHook"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	t, err := c.store.GetTemplate(c.args[0])
	if err != nil {
		return nil, err
	}
	if in.PreProvisioningHook != nil {
		return nil, apiErr(codeInvalidRequest, "preProvisioningHook: this cloud does not call pre-provisioning hooks")
	}
	if in.DefaultVersionID != nil && *in.DefaultVersionID != 1 {
		return nil, apiErr(codeNotFound, fmt.Sprintf("template %q has no version %d", t.Name, *in.DefaultVersionID))
	}
	if in.Description != nil {
		t.Description = *in.Description
	}
	if in.Enabled != nil {
		t.Enabled = *in.Enabled
	}
	if in.ProvisioningRoleArn != nil {
		if err := checkRoleARN(*in.ProvisioningRoleArn); err != nil {
			return nil, err
		}
		t.RoleARN = *in.ProvisioningRoleArn
	}
	if _, err := c.store.PutTemplate(*t); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// deleteTemplate: DELETE /provisioning-templates/{templateName}; a template a CA
// uses for JITP is refused.
func deleteTemplate(c *call) (any, error) {
	err := c.store.DeleteTemplate(c.args[0])
	if errors.Is(err, registry.ErrConflict) {
		return nil, apiErr(codeDeleteConflict, fmt.Sprintf("provisioning template %q: %v", c.args[0], err))
	}
	if err != nil {
		return nil, err
	}
	return struct{}{}, nil
}
