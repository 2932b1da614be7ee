package template

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"strconv"
	"strings"
)

// Result is a template resolved for one device: the resources the region creates or
// updates, and the deviceConfiguration of the RegisterThing reply. It shares no
// memory with the Template; the caller may change it.
type Result struct {
	Thing       *Thing       // nil without an AWS::IoT::Thing resource
	Certificate *Certificate // nil without an AWS::IoT::Certificate resource
	Policies    []Policy     // sorted by logical name
	// DeviceConfiguration is the evaluated section, nil when the template has none.
	// Values are string, int64, float64, bool, nil, []any or map[string]any, so
	// that the provisioning codecs encode them alike in JSON and CBOR.
	DeviceConfiguration map[string]any
}

// Thing is an evaluated AWS::IoT::Thing resource. Optional properties the template
// leaves out are empty (nil for AttributePayload and ThingGroups).
type Thing struct {
	LogicalName string
	// ThingName is "" when the template has no ThingName property. The docs list it
	// without "Optional" yet their fleet example omits it; what the service then
	// does is [unconf], so the caller decides (reject, or generate a name).
	ThingName        string
	ThingTypeName    string
	BillingGroup     string
	AttributePayload map[string]string
	ThingGroups      []string
	// Overrides holds only the settings the template gives, keyed by
	// OverrideAttributePayload, OverrideThingTypeName and OverrideThingGroups. What
	// the service does for an existing thing without a setting is [unconf].
	Overrides map[string]Override
}

// Certificate is an evaluated AWS::IoT::Certificate resource.
type Certificate struct {
	LogicalName string
	Source      CertificateSource
	// CertificateID is set when Source is CertificateSourceID.
	CertificateID string
	// CertificateSigningRequest, CertificatePem and CACertificatePem are set for
	// the other sources (bulk registration only).
	CertificateSigningRequest string
	CertificatePem            string
	CACertificatePem          string
	// Status is StatusActive or StatusInactive, upper-cased; ACTIVE when absent.
	Status string
	// ThingPrincipalType is PrincipalExclusiveThing, PrincipalNonExclusiveThing
	// or "" when the template does not say (the service then uses non-exclusive).
	ThingPrincipalType string
	// Overrides holds only the settings the template gives, keyed by OverrideStatus.
	Overrides map[string]Override
}

// Policy is an evaluated AWS::IoT::Policy resource.
type Policy struct {
	LogicalName string
	// PolicyName names an existing policy, or, for an inline document, is the hex
	// SHA-256 of PolicyDocument (the docs say only "a hash of the policy document").
	PolicyName string
	// PolicyDocument is the inline policy as JSON text; "" for a named policy.
	PolicyDocument string
}

type evaluator struct {
	t        *Template
	params   map[string]string // as given by the caller
	resolved map[string]string // declared parameters, with defaults applied
}

// lookup returns a parameter's value. Declared parameters were resolved up front;
// undeclared built-ins are taken from the caller's map when referenced.
func (e *evaluator) lookup(name, path string) (any, error) {
	if v, ok := e.resolved[name]; ok {
		return v, nil
	}
	if v, ok := e.params[name]; ok && IsBuiltinParameter(name) {
		return v, nil
	}
	return nil, &MissingParameterError{Name: name, Names: []string{name}, Path: path}
}

// Evaluate resolves the template for one device. params holds the device's
// parameters (after any pre-provisioning hook overrides) plus the built-ins the
// caller knows: AWS::IoT::Certificate::Id always, the subject fields for JITP (see
// SubjectParameters). Keys the template does not use are ignored.
//
// Every declared parameter must have a value or a Default, whether referenced or
// not (the JITP rule); otherwise the error is a *MissingParameterError. Other
// failures are *Error values wrapping ErrEvaluation. Evaluate is deterministic.
func (t *Template) Evaluate(params map[string]string) (*Result, error) {
	e := &evaluator{t: t, params: params, resolved: make(map[string]string, len(t.params))}
	var missing []string
	for _, p := range t.params {
		if v, ok := params[p.Name]; ok {
			e.resolved[p.Name] = v
		} else if p.HasDefault {
			e.resolved[p.Name] = p.Default
		} else {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		return nil, &MissingParameterError{Name: missing[0], Names: missing}
	}
	r := &Result{}
	var err error
	if t.thing != nil {
		if r.Thing, err = t.thing.eval(e); err != nil {
			return nil, err
		}
	}
	if t.cert != nil {
		if r.Certificate, err = t.cert.eval(e); err != nil {
			return nil, err
		}
	}
	for _, ps := range t.policies {
		p, err := ps.eval(e)
		if err != nil {
			return nil, err
		}
		r.Policies = append(r.Policies, p)
	}
	if t.devCfg != nil {
		v, err := t.devCfg.eval(e)
		if err != nil {
			return nil, err
		}
		r.DeviceConfiguration = v.(map[string]any)
	}
	return r, nil
}

func optString(e *evaluator, n node, base, suffix string) (string, error) {
	if n == nil {
		return "", nil
	}
	return evalString(e, n, base, suffix, "", "value")
}

func (s *thingSpec) eval(e *evaluator) (*Thing, error) {
	th := &Thing{LogicalName: s.logical, Overrides: maps.Clone(s.overrides)}
	var err error
	if s.name != nil {
		if th.ThingName, err = evalString(e, s.name, s.path, ".ThingName", "", "thing name"); err != nil {
			return nil, err
		}
		if th.ThingName == "" {
			return nil, evalErr(s.path+".ThingName", "", "thing name is empty")
		}
	}
	if th.ThingTypeName, err = optString(e, s.typeName, s.path, ".ThingTypeName"); err != nil {
		return nil, err
	}
	if th.BillingGroup, err = optString(e, s.billing, s.path, ".BillingGroup"); err != nil {
		return nil, err
	}
	if s.attrs != nil {
		th.AttributePayload = make(map[string]string, len(s.attrs.keys))
		for i, k := range s.attrs.keys {
			v, err := evalString(e, s.attrs.vals[i], s.path, ".AttributePayload."+k, "", "attribute")
			if err != nil {
				return nil, err
			}
			th.AttributePayload[k] = v
		}
	}
	if s.groups != nil {
		items, err := evalList(e, s.groups, s.path, ".ThingGroups", "")
		if err != nil {
			return nil, err
		}
		th.ThingGroups = make([]string, len(items))
		for i, it := range items {
			g, ok := it.(string)
			if !ok {
				return nil, evalErr(s.path+".ThingGroups["+strconv.Itoa(i)+"]", "", "group name is %s, want a string", describe(it))
			}
			th.ThingGroups[i] = g
		}
	}
	return th, nil
}

func (s *certSpec) eval(e *evaluator) (*Certificate, error) {
	c := &Certificate{LogicalName: s.logical, Source: s.source, Status: StatusActive, Overrides: maps.Clone(s.overrides)}
	v, err := evalString(e, s.value, s.path, "."+string(s.source), "", "value")
	if err != nil {
		return nil, err
	}
	if v == "" {
		return nil, evalErr(s.path+"."+string(s.source), "", "is empty")
	}
	switch s.source {
	case CertificateSourceID:
		c.CertificateID = v
	case CertificateSourceCSR:
		c.CertificateSigningRequest = v
	case CertificateSourcePEM:
		c.CertificatePem = v
	}
	if c.CACertificatePem, err = optString(e, s.caPem, s.path, ".CACertificatePem"); err != nil {
		return nil, err
	}
	if s.status != nil {
		st, err := evalString(e, s.status, s.path, ".Status", "", "status")
		if err != nil {
			return nil, err
		}
		norm, ok := normalizeStatus(st)
		if !ok {
			return nil, evalErr(s.path+".Status", "", "status must be ACTIVE or INACTIVE")
		}
		c.Status = norm
	}
	if s.principalType != nil {
		pt, err := evalString(e, s.principalType, s.path, ".ThingPrincipalType", "", "value")
		if err != nil {
			return nil, err
		}
		if !validPrincipalType(pt) {
			return nil, evalErr(s.path+".ThingPrincipalType", "", "want %s or %s", PrincipalExclusiveThing, PrincipalNonExclusiveThing)
		}
		c.ThingPrincipalType = pt
	}
	return c, nil
}

func (s *policySpec) eval(e *evaluator) (Policy, error) {
	p := Policy{LogicalName: s.logical}
	if s.name != nil {
		name, err := evalString(e, s.name, s.path, ".PolicyName", "", "policy name")
		if err != nil {
			return p, err
		}
		if name == "" {
			return p, evalErr(s.path+".PolicyName", "", "policy name is empty")
		}
		p.PolicyName = name
		return p, nil
	}
	path := joinPath(s.path, "PolicyDocument")
	v, err := s.doc.eval(e)
	if err != nil {
		return p, err
	}
	switch d := v.(type) {
	case string:
		if reason := checkPolicyText(d); reason != "" {
			return p, evalErr(path, "", "%s", reason)
		}
		p.PolicyDocument = d
	case map[string]any:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false) // policies quote ARNs and conditions, not HTML
		if err := enc.Encode(d); err != nil {
			return p, evalErr(path, "", "cannot encode policy document: %v", err)
		}
		p.PolicyDocument = strings.TrimSuffix(b.String(), "\n")
	default:
		return p, evalErr(path, "", "policy document is %s, want an object or a string holding one", describe(v))
	}
	sum := sha256.Sum256([]byte(p.PolicyDocument))
	p.PolicyName = hex.EncodeToString(sum[:])
	return p, nil
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }
