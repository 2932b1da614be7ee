package template

import (
	"encoding/json"
	"slices"
	"sort"
	"strconv"
	"unicode/utf8"
)

// MaxBodyLength is the service's limit on a template body, in characters.
const MaxBodyLength = 10240

// Top-level sections of a template body.
const (
	SectionParameters          = "Parameters"
	SectionResources           = "Resources"
	SectionMappings            = "Mappings"
	SectionDeviceConfiguration = "DeviceConfiguration"
)

// ParseOptions adjusts how strict Parse is where the service's behaviour is not
// documented. The zero value is the default used by Parse.
type ParseOptions struct {
	// AllowUnknownKeys ignores, instead of rejecting, keys the docs do not list:
	// top-level sections, resource keys, properties, parameter attributes and
	// override settings. [unconf] whether the service ignores or rejects them.
	AllowUnknownKeys bool
	// MaxBodyLength replaces MaxBodyLength when positive.
	MaxBodyLength int
}

// Parameter is one entry of the Parameters section.
type Parameter struct {
	Name string
	// Default is used when the caller supplies no value; only if HasDefault.
	Default    string
	HasDefault bool
}

// Template is a parsed, validated provisioning template. It is immutable; its
// methods are safe for concurrent use.
type Template struct {
	body     string
	params   []Parameter // sorted by name
	mappings map[string]map[string]map[string]any
	thing    *thingSpec
	cert     *certSpec
	policies []policySpec // sorted by logical name
	devCfg   node         // nil without a DeviceConfiguration section
}

// Parse validates and compiles a template body with the default ParseOptions.
// Errors wrap ErrInvalidTemplate (as an *Error naming the path) or ErrBodyTooLong.
func Parse(body []byte) (*Template, error) {
	return ParseWithOptions(body, ParseOptions{})
}

// ParseWithOptions is Parse with explicit options.
func ParseWithOptions(body []byte, opts ParseOptions) (*Template, error) {
	limit := MaxBodyLength
	if opts.MaxBodyLength > 0 {
		limit = opts.MaxBodyLength
	}
	if !utf8.Valid(body) {
		return nil, parseErr("", "", "body is not valid UTF-8")
	}
	if n := utf8.RuneCount(body); n > limit {
		return nil, &Error{Reason: "body has " + itoa(n) + " characters, limit " + itoa(limit), kind: ErrBodyTooLong}
	}
	if !json.Valid(body) {
		return nil, parseErr("", "", "body is not valid JSON")
	}
	root, err := decodeJSON(body)
	if err != nil {
		return nil, parseErr("", "", "body is not valid JSON: %v", err)
	}
	if root.kind != jsonObject {
		return nil, parseErr("", "", "body is %s, want an object", root.kind)
	}
	t := &Template{body: string(body)}
	c := &compiler{params: map[string]Parameter{}}
	for _, k := range root.keys {
		switch k {
		case SectionParameters, SectionResources, SectionMappings, SectionDeviceConfiguration:
		default:
			if !opts.AllowUnknownKeys {
				return nil, parseErr(k, "", "unknown section (want Parameters, Resources, Mappings or DeviceConfiguration)")
			}
		}
	}
	// Parameters and Mappings first: the rest is checked against them.
	if v := root.get(SectionParameters); v != nil {
		if err := t.parseParameters(v, c, opts); err != nil {
			return nil, err
		}
	}
	if v := root.get(SectionMappings); v != nil {
		m, err := parseMappings(v)
		if err != nil {
			return nil, err
		}
		t.mappings = m
		c.mappings = m
	}
	res := root.get(SectionResources)
	if res == nil {
		return nil, parseErr(SectionResources, "", "section is required")
	}
	if err := t.parseResources(res, c, opts); err != nil {
		return nil, err
	}
	if v := root.get(SectionDeviceConfiguration); v != nil {
		if v.kind != jsonObject || isFunctionObject(v) {
			return nil, parseErr(SectionDeviceConfiguration, "", "section is %s, want an object", describeJSON(v))
		}
		n, err := c.value(v, SectionDeviceConfiguration, 0)
		if err != nil {
			return nil, err
		}
		t.devCfg = n
	}
	return t, nil
}

func (t *Template) parseParameters(v *jsonValue, c *compiler, opts ParseOptions) error {
	if v.kind != jsonObject {
		return parseErr(SectionParameters, "", "section is %s, want an object", v.kind)
	}
	for i, name := range v.keys {
		path := joinPath(SectionParameters, name)
		if name == "" {
			return parseErr(path, "", "parameter name is empty")
		}
		p := v.vals[i]
		if p.kind != jsonObject {
			return parseErr(path, "", "parameter is %s, want an object", p.kind)
		}
		param := Parameter{Name: name}
		for j, k := range p.keys {
			a := p.vals[j]
			switch k {
			case "Type":
				if a.kind != jsonString || a.str != "String" {
					return parseErr(joinPath(path, k), "", `type must be "String"`)
				}
			case "Default":
				if a.kind != jsonString {
					return parseErr(joinPath(path, k), "", "default is %s, want a string", a.kind)
				}
				param.Default, param.HasDefault = a.str, true
			default:
				if !opts.AllowUnknownKeys {
					return parseErr(joinPath(path, k), "", "unknown parameter attribute (want Type, Default)")
				}
			}
		}
		if p.get("Type") == nil {
			return parseErr(joinPath(path, "Type"), "", "is required")
		}
		t.params = append(t.params, param)
		c.params[name] = param
	}
	sort.Slice(t.params, func(i, j int) bool { return t.params[i].Name < t.params[j].Name })
	return nil
}

// parseMappings reads the two-level Mappings section. Values are strings or lists
// of strings, as in CloudFormation; intrinsic functions are not allowed there.
func parseMappings(v *jsonValue) (map[string]map[string]map[string]any, error) {
	if v.kind != jsonObject {
		return nil, parseErr(SectionMappings, "", "section is %s, want an object", v.kind)
	}
	out := make(map[string]map[string]map[string]any, len(v.keys))
	for i, mapName := range v.keys {
		mp := joinPath(SectionMappings, mapName)
		m := v.vals[i]
		if m.kind != jsonObject || isFunctionObject(m) {
			return nil, parseErr(mp, "", "mapping is %s, want an object of objects", describeJSON(m))
		}
		top := make(map[string]map[string]any, len(m.keys))
		for j, topKey := range m.keys {
			tp := joinPath(mp, topKey)
			second := m.vals[j]
			if second.kind != jsonObject || isFunctionObject(second) {
				return nil, parseErr(tp, "", "is %s, want an object", describeJSON(second))
			}
			vals := make(map[string]any, len(second.keys))
			for k, key := range second.keys {
				vp := joinPath(tp, key)
				val := second.vals[k]
				switch val.kind {
				case jsonString:
					vals[key] = val.str
				case jsonArray:
					l := make([]any, len(val.vals))
					for n, e := range val.vals {
						if e.kind != jsonString {
							return nil, parseErr(vp+"["+itoa(n)+"]", "", "is %s, want a string", e.kind)
						}
						l[n] = e.str
					}
					vals[key] = l
				default:
					if isFunctionObject(val) {
						return nil, parseErr(vp, val.keys[0], "intrinsic functions are not allowed in Mappings")
					}
					return nil, parseErr(vp, "", "is %s, want a string or a list of strings", val.kind)
				}
			}
			top[topKey] = vals
		}
		out[mapName] = top
	}
	return out, nil
}

func (t *Template) lookupMapping(keys [3]string) (any, string) {
	return lookupMapping(t.mappings, keys)
}

// lookupMapping returns a copy of a mapping value, so that a caller changing a
// Result cannot reach into the Template.
func lookupMapping(m map[string]map[string]map[string]any, keys [3]string) (any, string) {
	top, ok := m[keys[0]]
	if !ok {
		return nil, "no mapping " + quote(keys[0])
	}
	second, ok := top[keys[1]]
	if !ok {
		return nil, "mapping " + quote(keys[0]) + " has no key " + quote(keys[1])
	}
	v, ok := second[keys[2]]
	if !ok {
		return nil, "mapping " + quote(keys[0]) + "." + quote(keys[1]) + " has no key " + quote(keys[2])
	}
	if l, ok := v.([]any); ok {
		return slices.Clone(l), ""
	}
	return v, ""
}

// ParameterNames returns the declared parameter names, sorted. Built-in parameters
// appear only if the template declares them.
func (t *Template) ParameterNames() []string {
	out := make([]string, len(t.params))
	for i, p := range t.params {
		out[i] = p.Name
	}
	return out
}

// Parameters returns the declared parameters, sorted by name.
func (t *Template) Parameters() []Parameter { return slices.Clone(t.params) }

// Body returns the template body as given to Parse.
func (t *Template) Body() string { return t.body }

// CertificateSource says how the certificate resource names its certificate, or ""
// without one. Fleet provisioning and JITP accept only CertificateSourceID; the
// caller checks that when it stores a template of those types.
func (t *Template) CertificateSource() CertificateSource {
	if t.cert == nil {
		return ""
	}
	return t.cert.source
}

// HasThing reports whether the template declares an AWS::IoT::Thing resource.
func (t *Template) HasThing() bool { return t.thing != nil }

func isFunctionObject(v *jsonValue) bool {
	return v.kind == jsonObject && len(v.keys) > 0 && isFunctionKey(v.keys[0])
}

func describeJSON(v *jsonValue) string {
	if isFunctionObject(v) {
		return "an intrinsic function"
	}
	return v.kind.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

func quote(s string) string { return strconv.Quote(s) }
