package controlplane

import (
	"fmt"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

type templateSummary struct {
	TemplateArn      string `json:"templateArn"`
	TemplateName     string `json:"templateName"`
	Description      string `json:"description,omitempty"`
	CreationDate     *epoch `json:"creationDate,omitempty"`
	LastModifiedDate *epoch `json:"lastModifiedDate,omitempty"`
	Enabled          bool   `json:"enabled"`
	Type             string `json:"type"`
}

func listTemplates(c *call) (any, error) {
	limit, token, err := c.pageArgs("maxResults", "nextToken")
	if err != nil {
		return nil, err
	}
	tpls, err := c.store.ListTemplates()
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(tpls, func(t registry.Template) string { return t.Name }, false, token, limit)
	if err != nil {
		return nil, err
	}
	out := struct {
		Templates []templateSummary `json:"templates"`
		NextToken string            `json:"nextToken,omitempty"`
	}{Templates: []templateSummary{}, NextToken: next}
	for _, t := range page {
		out.Templates = append(out.Templates, templateSummary{t.ARN, t.Name, t.Description, ts(t.CreatedAt), ts(t.CreatedAt), t.Enabled, t.Type})
	}
	return out, nil
}

// describeTemplate is DescribeProvisioningTemplate. The registry keeps one
// version per template, so defaultVersionId is 1 and lastModifiedDate the
// creation date; there is no pre-provisioning hook to describe.
func describeTemplate(c *call) (any, error) {
	t, err := c.store.GetTemplate(c.args[0])
	if err != nil {
		return nil, err
	}
	return struct {
		TemplateArn         string `json:"templateArn"`
		TemplateName        string `json:"templateName"`
		Description         string `json:"description,omitempty"`
		CreationDate        *epoch `json:"creationDate,omitempty"`
		LastModifiedDate    *epoch `json:"lastModifiedDate,omitempty"`
		DefaultVersionID    int    `json:"defaultVersionId"`
		TemplateBody        string `json:"templateBody"`
		Enabled             bool   `json:"enabled"`
		ProvisioningRoleArn string `json:"provisioningRoleArn,omitempty"`
		Type                string `json:"type"`
	}{t.ARN, t.Name, t.Description, ts(t.CreatedAt), ts(t.CreatedAt), 1, t.Body, t.Enabled, t.RoleARN, t.Type}, nil
}

// describeEndpoint is DescribeEndpoint. A mock region has one data endpoint, its
// ATS name, so iot:Data-ATS, the legacy iot:Data and no type at all (AWS's default
// is iot:Data) all return it; iot:CredentialProvider and iot:Jobs are not served.
func describeEndpoint(c *call) (any, error) {
	switch et := c.query.Get("endpointType"); et {
	case "", "iot:Data", "iot:Data-ATS":
	case "iot:CredentialProvider", "iot:Jobs":
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("endpoint type %s is not served by this mock cloud", et))
	default:
		return nil, apiErr(codeInvalidRequest, fmt.Sprintf("unknown endpoint type %q", et))
	}
	if c.region.Endpoint == "" {
		return nil, apiErr(codeNotFound, "region "+c.region.Name+" has no data endpoint configured")
	}
	return struct {
		EndpointAddress string `json:"endpointAddress"`
	}{c.region.Endpoint}, nil
}
