package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

const (
	// MaxDocumentChars is the service's limit on a policy document, counted in
	// characters excluding whitespace (CreatePolicy: "maximum length of 2048,
	// excluding whitespace").
	MaxDocumentChars = 2048
	// MaxRawBytes caps the input Parse reads at all, whitespace included. The service
	// states no such limit; this one only keeps Parse's work bounded.
	MaxRawBytes = 64 << 10
)

// Policy language versions. Only VersionCurrent replaces policy variables.
const (
	VersionCurrent = "2012-10-17"
	VersionLegacy  = "2008-10-17"
)

// Document is one parsed policy document. It is immutable and safe for concurrent use.
type Document struct {
	version string
	id      string
	stmts   []statement
}

// Version returns the document's Version element, "" when it had none.
func (d *Document) Version() string { return d.version }

// Len returns the number of statements.
func (d *Document) Len() int { return len(d.stmts) }

type effect uint8

const (
	effectAllow effect = iota + 1
	effectDeny
)

func (e effect) String() string {
	if e == effectDeny {
		return "Deny"
	}
	return "Allow"
}

type statement struct {
	sid         string
	effect      effect
	notAction   bool
	actions     []pattern
	notResource bool
	resources   []pattern
	conds       []condition
}

// Parse parses one AWS IoT policy document. The returned error is a *ParseError that
// names the statement and field at fault; see the package documentation for what is
// accepted.
func Parse(doc []byte) (*Document, error) {
	if len(doc) > MaxRawBytes {
		return nil, tooLarge("%d bytes, at most %d are read", len(doc), MaxRawBytes)
	}
	if n := countNonSpace(doc); n > MaxDocumentChars {
		return nil, tooLarge("%d characters excluding whitespace, at most %d", n, MaxDocumentChars)
	} else if n == 0 {
		return nil, malformed(-1, "", "empty document")
	}
	top, err := decodeObject(doc)
	if err != nil {
		return nil, malformed(-1, "", "%v", err)
	}
	for _, k := range sortedKeys(top) {
		switch k {
		case "Version", "Id", "Statement":
		default:
			return nil, malformed(-1, k, "unknown element (want Version, Id, Statement)")
		}
	}
	d := &Document{}
	if raw, ok := top["Version"]; ok {
		if err := json.Unmarshal(raw, &d.version); err != nil {
			return nil, malformed(-1, "Version", "must be a string")
		}
		if d.version != VersionCurrent && d.version != VersionLegacy {
			return nil, malformed(-1, "Version", "must be %q (or %q), got %q", VersionCurrent, VersionLegacy, d.version)
		}
	}
	if raw, ok := top["Id"]; ok {
		if err := json.Unmarshal(raw, &d.id); err != nil {
			return nil, malformed(-1, "Id", "must be a string")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return nil, malformed(-1, "Statement", "missing")
	}
	var objs []json.RawMessage
	single := false
	switch firstByte(raw) {
	case '{':
		objs, single = []json.RawMessage{raw}, true
	case '[':
		if err := json.Unmarshal(raw, &objs); err != nil {
			return nil, malformed(-1, "Statement", "%v", err)
		}
		if len(objs) == 0 {
			return nil, malformed(-1, "Statement", "empty list")
		}
	default:
		return nil, malformed(-1, "Statement", "must be an object or a list of objects")
	}
	vars := d.version == VersionCurrent
	for i, o := range objs {
		path := fmt.Sprintf("Statement[%d]", i)
		if single {
			path = "Statement"
		}
		s, err := parseStatement(i, path, o, vars)
		if err != nil {
			return nil, err
		}
		d.stmts = append(d.stmts, s)
	}
	return d, nil
}

func parseStatement(i int, path string, raw json.RawMessage, vars bool) (statement, error) {
	var s statement
	if firstByte(raw) != '{' {
		return s, malformed(i, path, "must be an object")
	}
	m, err := decodeObject(raw)
	if err != nil {
		return s, malformed(i, path, "%v", err)
	}
	for _, k := range sortedKeys(m) {
		switch k {
		case "Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition":
		case "Principal", "NotPrincipal":
			return s, malformed(i, path+"."+k, "not allowed in an AWS IoT policy (it applies to the principal it is attached to)")
		default:
			return s, malformed(i, path+"."+k, "unknown element (want Sid, Effect, Action, NotAction, Resource, NotResource, Condition)")
		}
	}
	if raw, ok := m["Sid"]; ok {
		if err := json.Unmarshal(raw, &s.sid); err != nil {
			return s, malformed(i, path+".Sid", "must be a string")
		}
	}
	var eff string
	if raw, ok := m["Effect"]; !ok {
		return s, malformed(i, path+".Effect", "missing")
	} else if err := json.Unmarshal(raw, &eff); err != nil {
		return s, malformed(i, path+".Effect", "must be a string")
	}
	switch eff {
	case "Allow":
		s.effect = effectAllow
	case "Deny":
		s.effect = effectDeny
	default:
		return s, malformed(i, path+".Effect", `must be "Allow" or "Deny", got %q`, eff)
	}

	field, list, err := exactlyOne(m, "Action", "NotAction")
	if err != nil {
		return s, malformed(i, path, "%v", err)
	}
	s.notAction = field == "NotAction"
	strs, err := decodeStrings(list, false)
	if err != nil {
		return s, malformed(i, path+"."+field, "%v", err)
	}
	for j, a := range strs {
		if err := checkAction(a); err != nil {
			return s, malformed(i, fmt.Sprintf("%s.%s[%d]", path, field, j), "%v", err)
		}
		p, err := compile(a, true, false)
		if err != nil {
			return s, malformed(i, fmt.Sprintf("%s.%s[%d]", path, field, j), "%v", err)
		}
		s.actions = append(s.actions, p)
	}

	field, list, err = exactlyOne(m, "Resource", "NotResource")
	if err != nil {
		return s, malformed(i, path, "%v", err)
	}
	s.notResource = field == "NotResource"
	strs, err = decodeStrings(list, false)
	if err != nil {
		return s, malformed(i, path+"."+field, "%v", err)
	}
	for j, r := range strs {
		p, err := compile(r, true, vars)
		if err != nil {
			return s, malformed(i, fmt.Sprintf("%s.%s[%d]", path, field, j), "%v", err)
		}
		s.resources = append(s.resources, p)
	}

	if raw, ok := m["Condition"]; ok {
		s.conds, err = parseConditions(i, path+".Condition", raw, vars)
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

// checkAction accepts "*" and "<service>:<name>", either part possibly with wildcards.
func checkAction(a string) error {
	if a == "*" {
		return nil
	}
	colon := strings.IndexByte(a, ':')
	if colon <= 0 || colon == len(a)-1 {
		return fmt.Errorf(`action %q: want "*" or "<service>:<action>", e.g. "iot:Publish"`, a)
	}
	return nil
}

// exactlyOne returns which of the two keys m holds, failing unless it is exactly one.
func exactlyOne(m map[string]json.RawMessage, a, b string) (string, json.RawMessage, error) {
	ra, okA := m[a]
	rb, okB := m[b]
	switch {
	case okA && okB:
		return "", nil, fmt.Errorf("has both %s and %s", a, b)
	case okA:
		return a, ra, nil
	case okB:
		return b, rb, nil
	}
	return "", nil, fmt.Errorf("needs %s or %s", a, b)
}

// decodeStrings reads a JSON string or a non-empty list of strings; unless
// allowEmpty, none may be empty.
func decodeStrings(raw json.RawMessage, allowEmpty bool) ([]string, error) {
	var out []string
	switch firstByte(raw) {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		out = []string{s}
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		if len(elems) == 0 {
			return nil, errors.New("empty list")
		}
		for j, e := range elems {
			var s string
			if firstByte(e) != '"' || json.Unmarshal(e, &s) != nil {
				return nil, fmt.Errorf("element %d must be a string", j)
			}
			out = append(out, s)
		}
	default:
		return nil, errors.New("must be a string or a list of strings")
	}
	for j, s := range out {
		if s == "" && !allowEmpty {
			return nil, fmt.Errorf("element %d is empty", j)
		}
	}
	return out, nil
}

// decodeObject decodes one JSON object and nothing after it.
func decodeObject(raw []byte) (map[string]json.RawMessage, error) {
	if firstByte(raw) != '{' {
		return nil, errors.New("must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var m map[string]json.RawMessage
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the top-level object")
	}
	return m, nil
}

func firstByte(raw []byte) byte {
	for _, c := range raw {
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// countNonSpace counts the characters of doc that are not whitespace. A byte that is
// not valid UTF-8 counts as one character.
func countNonSpace(doc []byte) int {
	n := 0
	for len(doc) > 0 {
		r, size := utf8.DecodeRune(doc)
		doc = doc[size:]
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}
