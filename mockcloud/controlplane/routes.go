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
		{segs: p("things/*"), ops: map[string]namedOp{
			http.MethodGet:    {"DescribeThing", describeThing},
			http.MethodPost:   {"CreateThing", createThing},
			http.MethodDelete: {"DeleteThing", deleteThing},
		}},
		{segs: p("things/*/principals"), ops: map[string]namedOp{
			http.MethodGet:    {"ListThingPrincipals", listThingPrincipals},
			http.MethodPut:    {"AttachThingPrincipal", attachThingPrincipal},
			http.MethodDelete: {"DetachThingPrincipal", detachThingPrincipal},
		}},
		{segs: p("thing-groups"), ops: get("ListThingGroups", listThingGroups)},
		{segs: p("thing-groups/addThingToThingGroup"), ops: map[string]namedOp{
			http.MethodPut: {"AddThingToThingGroup", addThingToThingGroup},
		}},
		{segs: p("thing-groups/*"), ops: map[string]namedOp{
			http.MethodGet:  {"DescribeThingGroup", describeThingGroup},
			http.MethodPost: {"CreateThingGroup", createThingGroup},
		}},
		{segs: p("thing-groups/*/things"), ops: get("ListThingsInThingGroup", listThingsInThingGroup)},
		{segs: p("certificates"), ops: get("ListCertificates", listCertificates)},
		{segs: p("certificates/*"), ops: map[string]namedOp{
			http.MethodGet:    {"DescribeCertificate", describeCertificate},
			http.MethodPut:    {"UpdateCertificate", updateCertificate},
			http.MethodDelete: {"DeleteCertificate", deleteCertificate},
		}},
		{segs: p("certificate/register-no-ca"), ops: map[string]namedOp{
			http.MethodPost: {"RegisterCertificateWithoutCA", registerCertificateWithoutCA},
		}},
		{segs: p("cacertificate"), ops: map[string]namedOp{
			http.MethodPost: {"RegisterCACertificate", registerCACertificate},
		}},
		{segs: p("cacertificate/*"), ops: get("DescribeCACertificate", describeCACertificate)},
		{segs: p("cacertificates"), ops: get("ListCACertificates", listCACertificates)},
		{segs: p("policies"), ops: get("ListPolicies", listPolicies)},
		{segs: p("policies/*"), ops: map[string]namedOp{
			http.MethodGet:    {"GetPolicy", getPolicy},
			http.MethodPost:   {"CreatePolicy", createPolicy},
			http.MethodDelete: {"DeletePolicy", deletePolicy},
		}},
		{segs: p("target-policies/*"), ops: map[string]namedOp{
			http.MethodPut:  {"AttachPolicy", attachPolicy},
			http.MethodPost: {"DetachPolicy", detachPolicy},
		}},
		{segs: p("policy-targets/*"), ops: map[string]namedOp{
			http.MethodPost: {"ListTargetsForPolicy", listTargetsForPolicy},
		}},
		{segs: p("attached-policies/**"), ops: map[string]namedOp{
			http.MethodPost: {"ListAttachedPolicies", listAttachedPolicies},
		}},
		{segs: p("provisioning-templates"), ops: map[string]namedOp{
			http.MethodGet:  {"ListProvisioningTemplates", listTemplates},
			http.MethodPost: {"CreateProvisioningTemplate", createTemplate},
		}},
		{segs: p("provisioning-templates/*"), ops: map[string]namedOp{
			http.MethodGet:    {"DescribeProvisioningTemplate", describeTemplate},
			http.MethodPatch:  {"UpdateProvisioningTemplate", updateTemplate},
			http.MethodDelete: {"DeleteProvisioningTemplate", deleteTemplate},
		}},
		{segs: p("endpoint"), ops: get("DescribeEndpoint", describeEndpoint)},
		{segs: p("registrationcode"), ops: get("GetRegistrationCode", getRegistrationCode)},
	}
}

func p(path string) []string { return strings.Split(path, "/") }
