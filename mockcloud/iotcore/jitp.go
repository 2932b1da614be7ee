package iotcore

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/template"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"
)

// GatewayJITPTemplate is the rig's JITP template for a maker CA: the thing is named
// after the device certificate's CommonName, joins the thing group "gateways"
// (which must exist) and the certificate becomes ACTIVE with the existing policy
// GatewayDevicePolicy attached, whose client id rule is client id = thing name.
const GatewayJITPTemplate = `{
  "Parameters": {
    "AWS::IoT::Certificate::CommonName": {"Type": "String"},
    "AWS::IoT::Certificate::Id": {"Type": "String"}
  },
  "Resources": {
    "thing": {
      "Type": "AWS::IoT::Thing",
      "Properties": {
        "ThingName": {"Ref": "AWS::IoT::Certificate::CommonName"},
        "ThingGroups": ["gateways"]
      },
      "OverrideSettings": {"ThingGroups": "MERGE"}
    },
    "certificate": {
      "Type": "AWS::IoT::Certificate",
      "Properties": {"CertificateId": {"Ref": "AWS::IoT::Certificate::Id"}, "Status": "ACTIVE"}
    },
    "policy": {
      "Type": "AWS::IoT::Policy",
      "Properties": {"PolicyName": "GatewayDevicePolicy"}
    }
  }
}`

// CARegistration is how RegisterCA registers a CA certificate (AWS's
// RegisterCACertificate with registrationConfig).
type CARegistration struct {
	// AllowAutoRegistration lets the first connection of a certificate the CA
	// issued register it (JITR; JITP with a template).
	AllowAutoRegistration bool
	// TemplateName names a JITP template in the registry; TemplateBody gives one
	// inline. At most one of them; neither means JITR: an auto-registered
	// certificate stays PENDING_ACTIVATION.
	TemplateName string
	TemplateBody string
	// Inactive registers the CA INACTIVE (setAsActive=false); the zero value
	// registers it ACTIVE, which is what a rig wants.
	Inactive bool
	// RoleARN is recorded only; the mock has no IAM.
	RoleARN string
}

// RegisterCA registers a CA certificate (PEM) in this region. A template is
// checked now (it parses; its certificate resource, if any, is given by
// CertificateId), so that a broken template fails here rather than at a device's
// first connection. A CA already registered is registry.ErrAlreadyExists.
func (r *Region) RegisterCA(caPEM string, c CARegistration) (*registry.CACertificate, error) {
	if c.TemplateName != "" && c.TemplateBody != "" {
		return nil, fmt.Errorf("register CA: %w: both a template name and a template body", ErrConfig)
	}
	body := c.TemplateBody
	if c.TemplateName != "" {
		t, err := r.reg.GetTemplate(c.TemplateName)
		if err != nil {
			return nil, fmt.Errorf("register CA: %w", err)
		}
		if t.Type != registry.TemplateJITP {
			return nil, fmt.Errorf("register CA: template %q is %s: %w", c.TemplateName, t.Type, ErrJITPTemplate)
		}
		body = t.Body
	}
	if body != "" {
		t, err := r.prov.template(body)
		if err != nil {
			return nil, fmt.Errorf("register CA: %w: %w", ErrJITPTemplate, err)
		}
		if src := t.CertificateSource(); src != "" && src != template.CertificateSourceID {
			return nil, fmt.Errorf("register CA: %w: the certificate resource must use CertificateId, not %s", ErrJITPTemplate, src)
		}
	}
	status := registry.StatusActive
	if c.Inactive {
		status = registry.StatusInactive
	}
	ca, err := r.reg.RegisterCACertificate(registry.CACertificate{
		PEM: caPEM, Status: status, AllowAutoRegistration: c.AllowAutoRegistration,
		TemplateName: c.TemplateName, TemplateBody: c.TemplateBody, RoleARN: c.RoleARN,
	})
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", r.cfg.Region, err)
	}
	r.log.Info("CA certificate registered", zap.String("ca_certificate_id", ca.ID),
		zap.Bool("auto_registration", ca.AllowAutoRegistration), zap.Bool("jitp", body != ""))
	return ca, nil
}

// CertificateRegisteredTopic is where the region announces a certificate
// auto-registered with CA caID.
func CertificateRegisteredTopic(caID string) string {
	return "$aws/events/certificates/registered/" + caID
}

// CertificateRegisteredEvent is the payload published on
// CertificateRegisteredTopic (PROTOCOL.md §2.2). As in AWS's example, Timestamp is
// a JSON number and CertificateRegistrationTimestamp a string, both milliseconds
// since the epoch [unconf: the exact types]. CertificateStatus is the status of the
// registration itself, PENDING_ACTIVATION, even when a JITP template then
// activated the certificate [unconf].
type CertificateRegisteredEvent struct {
	CertificateID                    string `json:"certificateId"`
	CACertificateID                  string `json:"caCertificateId"`
	Timestamp                        int64  `json:"timestamp"`
	CertificateStatus                string `json:"certificateStatus"`
	AWSAccountID                     string `json:"awsAccountId"`
	CertificateRegistrationTimestamp string `json:"certificateRegistrationTimestamp"`
}

// autoRegister registers leaf, unknown to the registry, if a registered CA issued
// it and allows auto-registration, and runs the CA's JITP template. It returns the
// stored certificate and whether this call registered it; false means another
// connection did meanwhile and the caller judges the certificate as any other.
//
// The registration is all or nothing: the certificate is written together with
// everything the template creates, or, when the template cannot be evaluated or
// applied, alone and PENDING_ACTIVATION, which is what AWS leaves behind (the
// device then stays refused until someone activates it).
func (r *Region) autoRegister(leaf *x509.Certificate, serverName string) (*registry.Certificate, bool, error) {
	id := registry.CertificateID(leaf.Raw)
	log := r.log.With(zap.String("certificate_id", id))
	// Current AWS docs: presenting the CA is optional, SNI is not (PROTOCOL.md §2.4).
	if serverName == "" {
		return nil, false, fmt.Errorf("%w: certificate %s unknown, and auto-registration needs SNI", ErrCertificateRejected, id)
	}
	cas, err := r.reg.IssuingCAs(leaf)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrCertificateRejected, err)
	}
	if len(cas) == 0 {
		return nil, false, fmt.Errorf("%w: certificate %s unknown and not issued by a registered CA", ErrCertificateRejected, id)
	}
	var ca *registry.CACertificate
	for i := range cas {
		if cas[i].Status == registry.StatusActive && cas[i].AllowAutoRegistration {
			ca = &cas[i]
			break
		}
	}
	if ca == nil {
		return nil, false, fmt.Errorf("%w: certificate %s unknown; its CA %s is %s, auto-registration %t",
			ErrCertificateRejected, id, cas[0].ID, cas[0].Status, cas[0].AllowAutoRegistration)
	}

	// One registration per certificate however many first connections race.
	r.jitpMu.Lock()
	defer r.jitpMu.Unlock()
	switch cert, err := r.reg.GetCertificate(id); {
	case err == nil:
		return cert, false, nil
	case !errors.Is(err, registry.ErrNotFound):
		return nil, false, fmt.Errorf("%w: %w", ErrCertificateRejected, err)
	}

	certPEM := string(pki.EncodeCertPEM(leaf))
	spec, why := r.jitpSpec(ca, leaf.Subject, id)
	var res *registry.AutoRegisterResult
	if spec != nil {
		res, err = r.reg.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: certPEM, CAID: ca.ID, Provision: spec})
		if err != nil && (errors.Is(err, registry.ErrNotFound) || errors.Is(err, registry.ErrConflict) || errors.Is(err, registry.ErrInvalid)) {
			// The template's result does not apply (a group or policy missing, a
			// thing name AWS refuses): register the certificate alone.
			why, res, err = err.Error(), nil, nil
		}
	}
	if res == nil && err == nil {
		res, err = r.reg.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: certPEM, CAID: ca.ID})
	}
	if err != nil {
		return nil, false, fmt.Errorf("%w: auto-registration: %w", ErrCertificateRejected, err)
	}
	fields := []zap.Field{zap.String("ca_certificate_id", ca.ID), zap.String("status", res.Certificate.Status)}
	if res.Thing != nil {
		fields = append(fields, zap.String("thing", res.Thing.Name))
	}
	if why != "" {
		fields = append(fields, zap.String("jitp_failure", why))
		log.Warn("certificate auto-registered; JITP template not applied", fields...)
	} else {
		log.Info("certificate auto-registered", fields...)
	}
	r.publishRegistered(res.Certificate)
	return &res.Certificate, true, nil
}

// jitpSpec evaluates the CA's JITP template for a certificate. nil with a reason
// means the certificate is to be registered alone (no template: JITR; or the
// template fails, e.g. the subject lacks a declared parameter).
func (r *Region) jitpSpec(ca *registry.CACertificate, subject pkix.Name, certID string) (*registry.ProvisionSpec, string) {
	body := ca.TemplateBody
	if body == "" && ca.TemplateName == "" {
		return nil, "" // JITR
	}
	if body == "" {
		t, err := r.reg.GetTemplate(ca.TemplateName)
		switch {
		case err != nil:
			return nil, err.Error()
		case t.Type != registry.TemplateJITP:
			return nil, fmt.Sprintf("template %q is not a JITP template", t.Name)
		case !t.Enabled:
			return nil, fmt.Sprintf("template %q is disabled", t.Name)
		}
		body = t.Body
	}
	tmpl, err := r.prov.template(body)
	if err != nil {
		return nil, "template does not parse: " + err.Error()
	}
	res, err := tmpl.Evaluate(template.SubjectParameters(subject, certID))
	if err != nil {
		return nil, err.Error()
	}
	spec, err := provisionSpec(res, certID)
	if err != nil {
		return nil, err.Error()
	}
	return &spec, ""
}

// publishRegistered publishes the registration event through the broker, so that
// it reaches exactly the subscribers whose policies allow iot:Receive on it, as
// any other message; then tells Config.CertificateRegistered.
func (r *Region) publishRegistered(c registry.Certificate) {
	ms := r.cfg.Clock().UnixMilli()
	ev := CertificateRegisteredEvent{
		CertificateID: c.ID, CACertificateID: c.CAID, Timestamp: ms,
		CertificateStatus: registry.StatusPendingActivation, AWSAccountID: r.cfg.AccountID,
		CertificateRegistrationTimestamp: strconv.FormatInt(c.CreatedAt.UnixMilli(), 10),
	}
	payload, err := json.Marshal(ev)
	if err != nil { // plain strings and numbers: cannot fail
		r.log.Error("encode registration event", zap.Error(err))
		return
	}
	topic := CertificateRegisteredTopic(c.CAID)
	if r.events != nil {
		err := r.broker.InjectPacket(r.events, packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
			TopicName:   topic,
			Payload:     payload,
			PacketID:    1, // required for QoS 1; mochi reissues ids per subscriber
		})
		if err != nil {
			r.log.Warn("publish registration event", zap.String("topic", topic), zap.Error(err))
		}
	}
	if r.cfg.CertificateRegistered != nil {
		r.cfg.CertificateRegistered(ev)
	}
}
