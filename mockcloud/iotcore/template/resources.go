package template

import (
	"sort"
	"strconv"
	"strings"
)

// Resource types a template may declare.
const (
	TypeThing       = "AWS::IoT::Thing"
	TypeCertificate = "AWS::IoT::Certificate"
	TypePolicy      = "AWS::IoT::Policy"
)

// Override is what to do when a resource the template describes already exists.
type Override string

// Override values. MERGE is valid only for a thing's AttributePayload and ThingGroups.
const (
	OverrideDoNothing Override = "DO_NOTHING"
	OverrideReplace   Override = "REPLACE"
	OverrideFail      Override = "FAIL"
	OverrideMerge     Override = "MERGE"
)

// Keys of Thing.Overrides and Certificate.Overrides. The docs' prose spells them
// ATTRIBUTE_PAYLOAD, THING_TYPE_NAME, THING_GROUPS and every example spells them as
// below; Parse accepts both and normalizes to these.
const (
	OverrideAttributePayload = "AttributePayload"
	OverrideThingTypeName    = "ThingTypeName"
	OverrideThingGroups      = "ThingGroups"
	OverrideStatus           = "Status"
)

// CertificateSource is the property that identifies a template's certificate.
type CertificateSource string

// Certificate sources. Only CertificateSourceID is valid for fleet provisioning and JITP.
const (
	CertificateSourceID  CertificateSource = "CertificateId"
	CertificateSourceCSR CertificateSource = "CertificateSigningRequest"
	CertificateSourcePEM CertificateSource = "CertificatePem"
)

// Certificate statuses a template may set.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// Thing principal types (newer docs; the service default is NON_EXCLUSIVE_THING).
const (
	PrincipalExclusiveThing    = "EXCLUSIVE_THING"
	PrincipalNonExclusiveThing = "NON_EXCLUSIVE_THING"
)

type thingSpec struct {
	logical   string
	path      string
	name      node
	typeName  node // nil if absent
	billing   node
	attrs     *objNode
	groups    node
	overrides map[string]Override
}

type certSpec struct {
	logical       string
	path          string
	source        CertificateSource
	value         node
	caPem         node
	status        node
	principalType node
	overrides     map[string]Override
}

type policySpec struct {
	logical string
	path    string
	name    node
	doc     node
}

func (t *Template) parseResources(v *jsonValue, c *compiler, opts ParseOptions) error {
	if v.kind != jsonObject || isFunctionObject(v) {
		return parseErr(SectionResources, "", "section is %s, want an object", describeJSON(v))
	}
	for i, logical := range v.keys {
		path := joinPath(SectionResources, logical)
		if logical == "" {
			return parseErr(path, "", "logical name is empty")
		}
		r := v.vals[i]
		if r.kind != jsonObject || isFunctionObject(r) {
			return parseErr(path, "", "resource is %s, want an object", describeJSON(r))
		}
		for _, k := range r.keys {
			if k != "Type" && k != "Properties" && k != "OverrideSettings" && !opts.AllowUnknownKeys {
				return parseErr(joinPath(path, k), "", "unknown resource key (want Type, Properties, OverrideSettings)")
			}
		}
		typ := r.get("Type")
		if typ == nil || typ.kind != jsonString {
			return parseErr(joinPath(path, "Type"), "", "is required and must be a string")
		}
		props := r.get("Properties")
		if props == nil || props.kind != jsonObject || isFunctionObject(props) {
			return parseErr(joinPath(path, "Properties"), "", "is required and must be an object")
		}
		ppath := joinPath(path, "Properties")
		over := r.get("OverrideSettings")
		var err error
		switch typ.str {
		case TypeThing:
			if t.thing != nil {
				return parseErr(path, "", "second %s resource (the first is %q); a template declares at most one", TypeThing, t.thing.logical)
			}
			t.thing, err = parseThing(c, logical, ppath, props, over, opts)
		case TypeCertificate:
			if t.cert != nil {
				return parseErr(path, "", "second %s resource (the first is %q); a template declares at most one", TypeCertificate, t.cert.logical)
			}
			t.cert, err = parseCertificate(c, logical, ppath, props, over, opts)
		case TypePolicy:
			if over != nil && !opts.AllowUnknownKeys {
				return parseErr(joinPath(path, "OverrideSettings"), "", "not available for policy resources")
			}
			var p policySpec
			p, err = parsePolicy(c, logical, ppath, props, opts)
			t.policies = append(t.policies, p)
		default:
			return parseErr(joinPath(path, "Type"), "", "unknown resource type (want %s, %s or %s)", TypeThing, TypeCertificate, TypePolicy)
		}
		if err != nil {
			return err
		}
	}
	sort.Slice(t.policies, func(i, j int) bool { return t.policies[i].logical < t.policies[j].logical })
	return nil
}

// stringProp compiles a property whose value must be a string.
func stringProp(c *compiler, v *jsonValue, path string) (node, error) {
	n, err := c.value(v, path, 0)
	if err != nil {
		return nil, err
	}
	if err := want(n, kindString, path, "", "value"); err != nil {
		return nil, err
	}
	return n, nil
}

func parseThing(c *compiler, logical, path string, props, over *jsonValue, opts ParseOptions) (*thingSpec, error) {
	s := &thingSpec{logical: logical, path: path}
	for i, k := range props.keys {
		v, p := props.vals[i], joinPath(path, k)
		var err error
		switch k {
		case "ThingName":
			s.name, err = stringProp(c, v, p)
		case "ThingTypeName":
			s.typeName, err = stringProp(c, v, p)
		case "BillingGroup":
			s.billing, err = stringProp(c, v, p)
		case "AttributePayload":
			if v.kind != jsonObject || isFunctionObject(v) {
				return nil, parseErr(p, "", "is %s, want an object of names and values", describeJSON(v))
			}
			attrs := &objNode{keys: v.keys, vals: make([]node, len(v.vals))}
			for j, name := range v.keys {
				if attrs.vals[j], err = stringProp(c, v.vals[j], joinPath(p, name)); err != nil {
					return nil, err
				}
			}
			s.attrs = attrs
		case "ThingGroups":
			s.groups, err = c.value(v, p, 0)
			if err == nil {
				err = want(s.groups, kindList, p, "", "value")
			}
			if l, ok := s.groups.(listNode); ok && err == nil {
				for j, it := range l.items {
					if err = want(it, kindString, p+"["+strconv.Itoa(j)+"]", "", "group name"); err != nil {
						break
					}
				}
			}
		case "PackageVersions":
			// Documented by newer docs without a format; checked for valid
			// functions and otherwise ignored: the mock has no software packages.
			_, err = c.value(v, p, 0)
		default:
			if !opts.AllowUnknownKeys {
				return nil, parseErr(p, "", "unknown thing property (want ThingName, AttributePayload, ThingTypeName, ThingGroups, BillingGroup, PackageVersions)")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	o, err := parseOverrides(over, strings.TrimSuffix(path, ".Properties"), map[string]string{
		"AttributePayload": OverrideAttributePayload, "ATTRIBUTE_PAYLOAD": OverrideAttributePayload,
		"ThingTypeName": OverrideThingTypeName, "THING_TYPE_NAME": OverrideThingTypeName,
		"ThingGroups": OverrideThingGroups, "THING_GROUPS": OverrideThingGroups,
	}, opts)
	if err != nil {
		return nil, err
	}
	s.overrides = o
	return s, nil
}

func parseCertificate(c *compiler, logical, path string, props, over *jsonValue, opts ParseOptions) (*certSpec, error) {
	s := &certSpec{logical: logical, path: path}
	var sources []string
	for i, k := range props.keys {
		v, p := props.vals[i], joinPath(path, k)
		var err error
		switch k {
		// The property list in the docs spells CertificateID; every example
		// spells CertificateId. Both are accepted, but not together.
		case "CertificateId", "CertificateID", "CertificateSigningRequest", "CertificatePem":
			sources = append(sources, k)
			s.value, err = stringProp(c, v, p)
			s.source = CertificateSource(k)
			if k == "CertificateID" {
				s.source = CertificateSourceID
			}
		case "CACertificatePem":
			s.caPem, err = stringProp(c, v, p)
		case "Status":
			s.status, err = stringProp(c, v, p)
			if l, ok := s.status.(litNode); ok && err == nil {
				if _, ok := normalizeStatus(l.v.(string)); !ok {
					return nil, parseErr(p, "", "want ACTIVE or INACTIVE (any case)")
				}
			}
		case "ThingPrincipalType":
			s.principalType, err = stringProp(c, v, p)
			if l, ok := s.principalType.(litNode); ok && err == nil && !validPrincipalType(l.v.(string)) {
				return nil, parseErr(p, "", "want %s or %s", PrincipalExclusiveThing, PrincipalNonExclusiveThing)
			}
		default:
			if !opts.AllowUnknownKeys {
				return nil, parseErr(p, "", "unknown certificate property (want one of CertificateId, CertificateSigningRequest, CertificatePem; CACertificatePem, Status, ThingPrincipalType)")
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if len(sources) != 1 {
		return nil, parseErr(path, "", "exactly one of CertificateId, CertificateSigningRequest or CertificatePem is required, found %d", len(sources))
	}
	if s.caPem != nil && s.source != CertificateSourcePEM {
		return nil, parseErr(joinPath(path, "CACertificatePem"), "", "only valid with CertificatePem")
	}
	o, err := parseOverrides(over, strings.TrimSuffix(path, ".Properties"), map[string]string{
		"Status": OverrideStatus, "STATUS": OverrideStatus,
	}, opts)
	if err != nil {
		return nil, err
	}
	s.overrides = o
	return s, nil
}

func parsePolicy(c *compiler, logical, path string, props *jsonValue, opts ParseOptions) (policySpec, error) {
	s := policySpec{logical: logical, path: path}
	for i, k := range props.keys {
		v, p := props.vals[i], joinPath(path, k)
		var err error
		switch k {
		case "PolicyName":
			s.name, err = stringProp(c, v, p)
		case "PolicyDocument":
			// An escaped JSON string in the JITP and bulk examples, an object in the
			// fleet example: both are accepted.
			s.doc, err = c.value(v, p, 0)
			if err != nil {
				break
			}
			switch n := s.doc.(type) {
			case litNode:
				str, ok := n.v.(string)
				if !ok {
					return s, parseErr(p, "", "want a JSON object or a string holding one")
				}
				if reason := checkPolicyText(str); reason != "" {
					return s, parseErr(p, "", "%s", reason)
				}
			case listNode:
				return s, parseErr(p, "", "want a JSON object or a string holding one")
			}
		default:
			if !opts.AllowUnknownKeys {
				return s, parseErr(p, "", "unknown policy property (want PolicyName or PolicyDocument)")
			}
		}
		if err != nil {
			return s, err
		}
	}
	if (s.name == nil) == (s.doc == nil) {
		return s, parseErr(path, "", "exactly one of PolicyName or PolicyDocument is required")
	}
	return s, nil
}

func parseOverrides(v *jsonValue, path string, keys map[string]string, opts ParseOptions) (map[string]Override, error) {
	if v == nil {
		return nil, nil
	}
	path = joinPath(path, "OverrideSettings")
	if v.kind != jsonObject || isFunctionObject(v) {
		return nil, parseErr(path, "", "is %s, want an object", describeJSON(v))
	}
	out := make(map[string]Override, len(v.keys))
	for i, k := range v.keys {
		p := joinPath(path, k)
		norm, ok := keys[k]
		if !ok {
			if opts.AllowUnknownKeys {
				continue
			}
			return nil, parseErr(p, "", "no override setting for this property")
		}
		if _, dup := out[norm]; dup {
			return nil, parseErr(p, "", "%s set twice (CamelCase and UPPER_SNAKE spellings)", norm)
		}
		val := v.vals[i]
		if val.kind != jsonString {
			return nil, parseErr(p, "", "is %s, want DO_NOTHING, REPLACE, FAIL or MERGE", val.kind)
		}
		switch o := Override(val.str); o {
		case OverrideDoNothing, OverrideReplace, OverrideFail:
			out[norm] = o
		case OverrideMerge:
			if norm != OverrideAttributePayload && norm != OverrideThingGroups {
				return nil, parseErr(p, "", "MERGE is valid only for AttributePayload and ThingGroups")
			}
			out[norm] = o
		default:
			return nil, parseErr(p, "", "want DO_NOTHING, REPLACE, FAIL or MERGE")
		}
	}
	return out, nil
}

// normalizeStatus accepts any case: the docs' own fleet example says "Active".
func normalizeStatus(s string) (string, bool) {
	u := strings.ToUpper(s)
	if u == StatusActive || u == StatusInactive {
		return u, true
	}
	return "", false
}

func validPrincipalType(s string) bool {
	return s == PrincipalExclusiveThing || s == PrincipalNonExclusiveThing
}

func checkPolicyText(s string) string {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "{") || !jsonValid(t) {
		return "policy document is not a JSON object"
	}
	return ""
}
