package iotcore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/policy"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/template"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/fleetboot/fleetboot/provisioning"
	"go.uber.org/zap"
)

// deviceSubject is the subject AWS IoT gives the certificates it issues.
var deviceSubject = pkix.Name{CommonName: "AWS IoT Certificate"}

// certIDParam is the built-in template parameter naming the new certificate.
const certIDParam = "AWS::IoT::Certificate::Id"

// Provisioner answers the three fleet provisioning operations. It knows nothing of
// MQTT: a request comes in as topic + payload, a reply goes out as outcome + payload
// in the request's format. Safe for concurrent use.
type Provisioner struct {
	reg      *registry.Store
	ca       *pki.CA
	keys     *keyPool
	now      func() time.Time
	lifetime time.Duration
	log      *zap.Logger
	// replay answers a repeated RegisterThing (same token, template and
	// parameters) with the same thing instead of refusing the used token.
	replay bool

	mu        sync.Mutex
	templates map[[32]byte]*template.Template // parsed bodies by content
}

func newProvisioner(reg *registry.Store, ca *pki.CA, keys *keyPool, now func() time.Time, lifetime time.Duration, log *zap.Logger) *Provisioner {
	return &Provisioner{reg: reg, ca: ca, keys: keys, now: now, lifetime: lifetime, log: log,
		templates: map[[32]byte]*template.Template{}}
}

// Handle answers one request. clientID is the requesting connection's, for logs.
func (p *Provisioner) Handle(ctx context.Context, t provisioning.Topic, payload []byte, clientID string) (provisioning.Outcome, []byte) {
	log := p.log.With(zap.String("client_id", clientID), zap.String("op", string(t.Op)))
	var (
		reply any
		rej   *provisioning.ErrorResponse
	)
	switch t.Op {
	case provisioning.OpCreateKeysAndCertificate:
		reply, rej = p.createKeys(t.Format, payload)
	case provisioning.OpCreateCertificateFromCSR:
		reply, rej = p.createFromCSR(t.Format, payload)
	case provisioning.OpRegisterThing:
		reply, rej = p.registerThing(t, payload)
	default:
		rej = reject(400, provisioning.CodeInvalidPayload, "unknown operation")
	}
	if rej == nil {
		out, err := provisioning.Marshal(t.Format, reply)
		if err == nil {
			log.Debug("provisioning request accepted")
			return provisioning.Accepted, out
		}
		rej = reject(500, provisioning.CodeInternal, "cannot encode the reply")
		log.Error("encode reply", zap.Error(err))
	}
	log.Info("provisioning request rejected", zap.Int("status", rej.StatusCode),
		zap.String("code", rej.ErrorCode), zap.String("message", rej.ErrorMessage))
	out, err := provisioning.Marshal(t.Format, rej)
	if err != nil { // cannot happen for three plain fields; keep the reply well-formed anyway
		out = []byte(`{"statusCode":500,"errorCode":"InternalFailure","errorMessage":"encode"}`)
	}
	return provisioning.Rejected, out
}

func reject(status int, code, msg string) *provisioning.ErrorResponse {
	return &provisioning.ErrorResponse{StatusCode: status, ErrorCode: code, ErrorMessage: msg}
}

func internal(err error) *provisioning.ErrorResponse {
	_ = err // logged by the caller's reject line; details stay out of the reply
	return reject(500, provisioning.CodeInternal, "internal failure")
}

// newToken is an opaque random ownership token; only its hash is stored.
func newToken() (string, error) {
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// issue signs pub as a device certificate, stores it PENDING_ACTIVATION with a new
// token and returns (id, PEM, token).
func (p *Provisioner) issue(pub any) (id, certPEM, token string, err error) {
	c, err := p.ca.IssueClient(pub, deviceSubject, time.Time{})
	if err != nil {
		return "", "", "", err
	}
	token, err = newToken()
	if err != nil {
		return "", "", "", err
	}
	certPEM = string(pki.EncodeCertPEM(c))
	rec, err := p.reg.CreatePendingCertificate(certPEM, registry.HashToken(token), p.now().Add(p.lifetime))
	if err != nil {
		return "", "", "", err
	}
	return rec.ID, certPEM, token, nil
}

func (p *Provisioner) createKeys(f provisioning.Format, payload []byte) (any, *provisioning.ErrorResponse) {
	// Docs: empty payload; the Python SDK sends {}. Any object is accepted.
	var req struct{}
	if err := provisioning.Unmarshal(f, payload, &req); err != nil {
		return nil, reject(400, provisioning.CodeInvalidPayload, "payload is not a "+string(f)+" object")
	}
	key, err := p.keys.get()
	if err != nil {
		return nil, internal(err)
	}
	id, certPEM, token, err := p.issue(&key.PublicKey)
	if err != nil {
		p.log.Error("issue certificate", zap.Error(err))
		return nil, internal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	return provisioning.CreateKeysAndCertificateResponse{
		CertificateID: id, CertificatePEM: certPEM, PrivateKey: string(keyPEM), CertificateOwnershipToken: token,
	}, nil
}

func (p *Provisioner) createFromCSR(f provisioning.Format, payload []byte) (any, *provisioning.ErrorResponse) {
	var req provisioning.CreateCertificateFromCSRRequest
	if err := provisioning.Unmarshal(f, payload, &req); err != nil {
		return nil, reject(400, provisioning.CodeInvalidPayload, "payload is not a valid "+string(f)+" request")
	}
	csr, msg := parseCSR(req.CertificateSigningRequest)
	if msg != "" {
		return nil, reject(400, provisioning.CodeInvalidCSR, msg)
	}
	id, certPEM, token, err := p.issue(csr.PublicKey)
	if err != nil {
		p.log.Error("issue certificate", zap.Error(err))
		return nil, internal(err)
	}
	return provisioning.CreateCertificateFromCSRResponse{
		CertificateID: id, CertificatePEM: certPEM, CertificateOwnershipToken: token,
	}, nil
}

// parseCSR applies AWS's key rules: RSA of 2048 bits or more, EC P-256/384/521.
// The message says what is wrong.
func parseCSR(text string) (*x509.CertificateRequest, string) {
	if text == "" {
		return nil, "certificateSigningRequest is missing"
	}
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, "certificateSigningRequest is not PEM"
	}
	if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
		return nil, fmt.Sprintf("certificateSigningRequest PEM type is %q, want CERTIFICATE REQUEST", b.Type)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, "certificateSigningRequest does not parse: " + err.Error()
	}
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Sprintf("RSA key of %d bits; at least 2048 required", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return nil, "EC key on an unsupported curve; P-256, P-384 or P-521 required"
		}
	default:
		return nil, fmt.Sprintf("key type %T not supported; RSA (2048 bits or more) or EC P-256/P-384/P-521 required", k)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, "certificateSigningRequest signature does not verify: " + err.Error()
	}
	return csr, ""
}

func (p *Provisioner) template(body string) (*template.Template, error) {
	key := sha256.Sum256([]byte(body))
	p.mu.Lock()
	t, ok := p.templates[key]
	p.mu.Unlock()
	if ok {
		return t, nil
	}
	t, err := template.Parse([]byte(body))
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.templates[key] = t
	p.mu.Unlock()
	return t, nil
}

// PolicyNameForDocument is the name given to a policy a template defines by document:
// the hex SHA-256 of the document, so the same document maps to the same policy.
func PolicyNameForDocument(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// errTemplateResult means a template evaluated but asks for something the region
// does not do for this certificate.
var errTemplateResult = errors.New("template result not applicable")

// provisionSpec turns an evaluated template into what the registry applies to the
// certificate certID. Error messages name what is wrong, never certificate material.
func provisionSpec(res *template.Result, certID string) (registry.ProvisionSpec, error) {
	spec := registry.ProvisionSpec{CertStatus: registry.StatusActive}
	if c := res.Certificate; c != nil {
		if c.Source != "" && c.Source != template.CertificateSourceID {
			return spec, fmt.Errorf("%w: the certificate resource must be given by CertificateId, not %s", errTemplateResult, c.Source)
		}
		if c.CertificateID != "" && c.CertificateID != certID {
			return spec, fmt.Errorf("%w: the template's certificate is not the one being provisioned", errTemplateResult)
		}
		if c.Status != "" {
			spec.CertStatus = c.Status
		}
	}
	if th := res.Thing; th != nil {
		ov := make(map[string]string, len(th.Overrides))
		for k, v := range th.Overrides {
			ov[k] = string(v)
		}
		spec.Thing = &registry.ThingSpec{Name: th.ThingName, TypeName: th.ThingTypeName,
			Attributes: th.AttributePayload, Groups: th.ThingGroups, Overrides: ov}
	}
	for _, pol := range res.Policies {
		ps := registry.PolicySpec{Name: pol.PolicyName}
		if pol.PolicyDocument != "" {
			if _, err := policy.Parse([]byte(pol.PolicyDocument)); err != nil {
				return spec, fmt.Errorf("%w: template policy document is invalid: %w", errTemplateResult, err)
			}
			ps = registry.PolicySpec{Name: PolicyNameForDocument(pol.PolicyDocument), Document: pol.PolicyDocument}
		}
		spec.Policies = append(spec.Policies, ps)
	}
	return spec, nil
}

func (p *Provisioner) registerThing(t provisioning.Topic, payload []byte) (any, *provisioning.ErrorResponse) {
	var req provisioning.RegisterThingRequest
	if err := provisioning.Unmarshal(t.Format, payload, &req); err != nil {
		return nil, reject(400, provisioning.CodeInvalidPayload, "payload is not a valid "+string(t.Format)+" request")
	}
	if req.CertificateOwnershipToken == "" {
		return nil, reject(400, provisioning.CodeInvalidOwnershipToken, "Certificate ownership token cannot be empty.")
	}
	tmplRec, err := p.reg.GetTemplate(t.Template)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return nil, reject(404, provisioning.CodeTemplateNotFound, fmt.Sprintf("provisioning template %s not found", t.Template))
	case err != nil:
		return nil, internal(err)
	case tmplRec.Type != registry.TemplateFleetProvisioning:
		return nil, reject(404, provisioning.CodeTemplateNotFound, fmt.Sprintf("provisioning template %s is not a fleet provisioning template", t.Template))
	case !tmplRec.Enabled:
		return nil, reject(400, provisioning.CodeTemplateNotFound, fmt.Sprintf("provisioning template %s is disabled", t.Template))
	}
	hash := registry.HashToken(req.CertificateOwnershipToken)
	tok, err := p.reg.LookupToken(hash)
	if err != nil {
		if errors.Is(err, registry.ErrTokenInvalid) {
			return nil, reject(400, provisioning.CodeInvalidOwnershipToken, "Certificate ownership token is invalid, expired or already used.")
		}
		return nil, internal(err)
	}
	request := registerRequestID(t.Template, req.Parameters)
	if tok.Used && (!p.replay || tok.Request != request) {
		return nil, reject(400, provisioning.CodeInvalidOwnershipToken, "Certificate ownership token is invalid, expired or already used.")
	}
	tmpl, err := p.template(tmplRec.Body)
	if err != nil {
		return nil, reject(400, provisioning.CodeInvalidParameters, "provisioning template does not parse: "+err.Error())
	}
	params := maps.Clone(req.Parameters)
	if params == nil {
		params = map[string]string{}
	}
	params[certIDParam] = tok.CertID
	res, err := tmpl.Evaluate(params)
	if err != nil {
		var missing *template.MissingParameterError
		if errors.As(err, &missing) {
			return nil, reject(400, provisioning.CodeInvalidParameters, err.Error())
		}
		return nil, reject(400, provisioning.CodeInvalidParameters, "template evaluation failed: "+err.Error())
	}
	spec, err := provisionSpec(res, tok.CertID)
	if err != nil {
		return nil, reject(400, provisioning.CodeInvalidParameters, err.Error())
	}
	if tok.Used {
		// The same request again, after its reply was lost: the same answer.
		p.log.Info("register thing repeated with a used token: answered again", zap.String("thing", tok.ThingName), zap.String("certificate_id", tok.CertID))
		resp := provisioning.RegisterThingResponse{DeviceConfiguration: res.DeviceConfiguration, ThingName: tok.ThingName}
		if resp.DeviceConfiguration == nil {
			resp.DeviceConfiguration = map[string]any{}
		}
		return resp, nil
	}
	rreq := registry.RegisterThingRequest{TokenHash: hash, Thing: spec.Thing, CertStatus: spec.CertStatus, Policies: spec.Policies,
		KeepToken: p.replay, Request: request}
	out, err := p.reg.RegisterThing(rreq)
	switch {
	case errors.Is(err, registry.ErrTokenInvalid):
		return nil, reject(400, provisioning.CodeInvalidOwnershipToken, "Certificate ownership token is invalid, expired or already used.")
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, registry.ErrConflict), errors.Is(err, registry.ErrInvalid):
		return nil, reject(400, provisioning.CodeInvalidParameters, err.Error())
	case err != nil:
		p.log.Error("register thing", zap.Error(err))
		return nil, internal(err)
	}
	resp := provisioning.RegisterThingResponse{DeviceConfiguration: res.DeviceConfiguration}
	if out.Thing != nil {
		resp.ThingName = out.Thing.Name
	}
	if resp.DeviceConfiguration == nil {
		resp.DeviceConfiguration = map[string]any{}
	}
	return resp, nil
}

// registerRequestID names a RegisterThing request by its template and parameters;
// json.Marshal sorts map keys, so equal requests hash equal.
func registerRequestID(template string, params map[string]string) string {
	b, _ := json.Marshal(struct {
		T string            `json:"t"`
		P map[string]string `json:"p"`
	}{template, params})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
