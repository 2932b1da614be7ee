package controlplane

import (
	"fmt"
	"slices"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/template"
)

// maxBody bounds a request body; a CA certificate with a template is a few KB.
const maxBody = 256 << 10

type registrationConfig struct {
	TemplateBody string `json:"templateBody,omitempty"`
	TemplateName string `json:"templateName,omitempty"`
	RoleArn      string `json:"roleArn,omitempty"`
}

// registerCACertificate is RegisterCACertificate. In DEFAULT mode the
// proof-of-possession is checked as AWS checks it (regcode.go). certificateMode
// SNI_ONLY is accepted and recorded as DEFAULT, the only mode JITP works with.
func registerCACertificate(c *call) (any, error) {
	var in struct {
		CACertificate           string              `json:"caCertificate"`
		VerificationCertificate string              `json:"verificationCertificate"`
		RegistrationConfig      *registrationConfig `json:"registrationConfig"`
		CertificateMode         string              `json:"certificateMode"`
	}
	if err := decodeAPIBody(c, &in); err != nil {
		return nil, err
	}
	if in.CACertificate == "" {
		return nil, apiErr(codeInvalidRequest, "caCertificate is required")
	}
	if err := checkVerificationCertificate(c, in.CACertificate, in.VerificationCertificate, in.CertificateMode); err != nil {
		return nil, err
	}
	active, _, err := c.boolArg("setAsActive")
	if err != nil {
		return nil, err
	}
	auto, _, err := c.boolArg("allowAutoRegistration")
	if err != nil {
		return nil, err
	}
	ca := registry.CACertificate{PEM: in.CACertificate, Status: registry.StatusInactive, AllowAutoRegistration: auto}
	if active {
		ca.Status = registry.StatusActive
	}
	if rc := in.RegistrationConfig; rc != nil {
		if err := checkJITPTemplate(c.store, rc); err != nil {
			return nil, err
		}
		ca.TemplateBody, ca.TemplateName, ca.RoleARN = rc.TemplateBody, rc.TemplateName, rc.RoleArn
	}
	out, err := c.store.RegisterCACertificate(ca)
	if err != nil {
		return nil, err
	}
	return struct {
		CertificateArn string `json:"certificateArn"`
		CertificateID  string `json:"certificateId"`
	}{out.ARN, out.ID}, nil
}

// checkJITPTemplate refuses a template a device's first connection could not
// use, so the mistake shows at registration rather than in the field.
func checkJITPTemplate(store *registry.Store, rc *registrationConfig) error {
	if rc.TemplateBody != "" && rc.TemplateName != "" {
		return apiErr(codeInvalidRequest, "registrationConfig: templateBody and templateName are exclusive")
	}
	body := rc.TemplateBody
	if rc.TemplateName != "" {
		t, err := store.GetTemplate(rc.TemplateName)
		if err != nil {
			return err
		}
		if t.Type != registry.TemplateJITP {
			return apiErr(codeInvalidRequest, fmt.Sprintf("template %s is of type %s, want JITP", t.Name, t.Type))
		}
		body = t.Body
	}
	if body == "" {
		return nil
	}
	t, err := template.Parse([]byte(body))
	if err != nil {
		return apiErr(codeInvalidRequest, "registrationConfig template: "+err.Error())
	}
	if src := t.CertificateSource(); src != "" && src != template.CertificateSourceID {
		return apiErr(codeInvalidRequest, "registrationConfig template: the certificate resource must use CertificateId")
	}
	return nil
}

// listCACertificates is ListCACertificates: by creation date, newest first unless
// isAscendingOrder=true; marker/pageSize paging. templateName filters.
func listCACertificates(c *call) (any, error) {
	cas, err := c.store.ListCACertificates()
	if err != nil {
		return nil, err
	}
	if name := c.query.Get("templateName"); name != "" {
		cas = slices.DeleteFunc(cas, func(x registry.CACertificate) bool { return x.TemplateName != name })
	}
	return certificatePage(c, cas, func(x registry.CACertificate) certSummary {
		return certSummary{x.ARN, x.ID, x.Status, modeDefault, ts(x.CreatedAt)}
	}, func(x registry.CACertificate) string { return timeKey(x.CreatedAt, x.ID) })
}

// describeCACertificate is DescribeCACertificate.
func describeCACertificate(c *call) (any, error) {
	id, err := certIDArg(c.args[0])
	if err != nil {
		return nil, err
	}
	x, err := c.store.GetCACertificate(id)
	if err != nil {
		return nil, err
	}
	auto := "DISABLE"
	if x.AllowAutoRegistration {
		auto = "ENABLE"
	}
	d := struct {
		CertificateArn         string        `json:"certificateArn"`
		CertificateID          string        `json:"certificateId"`
		Status                 string        `json:"status"`
		CertificatePem         string        `json:"certificatePem"`
		OwnedBy                string        `json:"ownedBy"`
		CreationDate           *epoch        `json:"creationDate,omitempty"`
		AutoRegistrationStatus string        `json:"autoRegistrationStatus"`
		LastModifiedDate       *epoch        `json:"lastModifiedDate,omitempty"`
		CustomerVersion        int           `json:"customerVersion"`
		Validity               *certValidity `json:"validity,omitempty"`
		CertificateMode        string        `json:"certificateMode"`
	}{
		CertificateArn: x.ARN, CertificateID: x.ID, Status: x.Status, CertificatePem: x.PEM,
		OwnedBy: c.store.AccountID(), CreationDate: ts(x.CreatedAt), AutoRegistrationStatus: auto,
		LastModifiedDate: ts(x.CreatedAt), CustomerVersion: 1, CertificateMode: modeDefault,
	}
	if pc, err := registry.ParseCertificatePEM(x.PEM); err == nil {
		d.Validity = &certValidity{ts(pc.NotBefore), ts(pc.NotAfter)}
	}
	out := struct {
		CertificateDescription any                 `json:"certificateDescription"`
		RegistrationConfig     *registrationConfig `json:"registrationConfig,omitempty"`
	}{CertificateDescription: d}
	if x.TemplateBody != "" || x.TemplateName != "" || x.RoleARN != "" {
		out.RegistrationConfig = &registrationConfig{x.TemplateBody, x.TemplateName, x.RoleARN}
	}
	return out, nil
}
