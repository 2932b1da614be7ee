package controlplane

import (
	"net/http"
	"strings"
)

// apiRoutes is the REST shape of the operations served, as botocore's iot
// service-2.json (2015-05-28) declares them.
func (h *Handler) apiRoutes() []route {
	get := func(name string, fn opFunc) map[string]namedOp {
		return map[string]namedOp{http.MethodGet: {name, fn}}
	}
	return []route{
		{segs: p("things"), ops: get("ListThings", listThings)},
		{segs: p("things/*"), ops: get("DescribeThing", describeThing)},
		{segs: p("things/*/principals"), ops: get("ListThingPrincipals", listThingPrincipals)},
		{segs: p("thing-groups"), ops: get("ListThingGroups", listThingGroups)},
		{segs: p("thing-groups/*"), ops: get("DescribeThingGroup", describeThingGroup)},
		{segs: p("thing-groups/*/things"), ops: get("ListThingsInThingGroup", listThingsInThingGroup)},
		{segs: p("certificates"), ops: get("ListCertificates", listCertificates)},
		{segs: p("certificates/*"), ops: map[string]namedOp{
			http.MethodGet: {"DescribeCertificate", describeCertificate},
			http.MethodPut: {"UpdateCertificate", updateCertificate},
		}},
		{segs: p("cacertificate"), ops: map[string]namedOp{
			http.MethodPost: {"RegisterCACertificate", registerCACertificate},
		}},
		{segs: p("cacertificate/*"), ops: get("DescribeCACertificate", describeCACertificate)},
		{segs: p("cacertificates"), ops: get("ListCACertificates", listCACertificates)},
		{segs: p("policies"), ops: get("ListPolicies", listPolicies)},
		{segs: p("policies/*"), ops: get("GetPolicy", getPolicy)},
		{segs: p("attached-policies/**"), ops: map[string]namedOp{
			http.MethodPost: {"ListAttachedPolicies", listAttachedPolicies},
		}},
		{segs: p("provisioning-templates"), ops: get("ListProvisioningTemplates", listTemplates)},
		{segs: p("provisioning-templates/*"), ops: get("DescribeProvisioningTemplate", describeTemplate)},
		{segs: p("endpoint"), ops: get("DescribeEndpoint", describeEndpoint)},
	}
}

func p(path string) []string { return strings.Split(path, "/") }
