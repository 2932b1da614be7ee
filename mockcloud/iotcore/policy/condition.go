package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// condOp describes one supported condition operator.
type condOp struct {
	negate    bool
	fold      bool // compare case-insensitively
	wildcards bool // "*" and "?" in values are wildcards
	boolean   bool // values must be "true" or "false"
}

var condOps = map[string]condOp{
	"StringEquals":              {},
	"StringNotEquals":           {negate: true},
	"StringEqualsIgnoreCase":    {fold: true},
	"StringNotEqualsIgnoreCase": {negate: true, fold: true},
	"StringLike":                {wildcards: true},
	"StringNotLike":             {negate: true, wildcards: true},
	"Bool":                      {fold: true, boolean: true},
}

// setOp is an IAM condition set operator prefix.
type setOp uint8

const (
	setNone setOp = iota
	setAll        // ForAllValues:
	setAny        // ForAnyValue:
)

const (
	prefixForAll   = "ForAllValues:"
	prefixForAny   = "ForAnyValue:"
	suffixIfExists = "IfExists"
)

// condKey is one supported condition key.
type condKey struct {
	v     varID
	multi bool // a multivalued key: only set operators apply
}

const nameConnectAttributes = "iot:ConnectAttributes"

// condKeys maps lower-cased condition key names (IAM compares them case-insensitively)
// to where the request's value comes from.
var condKeys = map[string]condKey{
	strings.ToLower(nameClientID):          {v: varClientID},
	strings.ToLower(nameThingName):         {v: varThingName},
	strings.ToLower(nameIsAttached):        {v: varIsAttached},
	strings.ToLower(nameCertificateID):     {v: varCertificateID},
	strings.ToLower(nameConnectAttributes): {v: varConnectAttributes, multi: true},
}

// condition is one operator applied to one key.
type condition struct {
	opName   string // as written, for MarshalJSON
	key      string // as written, for MarshalJSON
	op       condOp
	set      setOp
	ifExists bool
	v        varID
	values   []pattern
}

// parseOpName splits "ForAnyValue:StringEqualsIfExists" into its parts. ok is false
// when the base operator is not supported.
func parseOpName(name string) (op condOp, set setOp, ifExists, ok bool) {
	base := name
	switch {
	case strings.HasPrefix(base, prefixForAll):
		set, base = setAll, base[len(prefixForAll):]
	case strings.HasPrefix(base, prefixForAny):
		set, base = setAny, base[len(prefixForAny):]
	}
	if b, found := strings.CutSuffix(base, suffixIfExists); found {
		base, ifExists = b, true
	}
	op, ok = condOps[base]
	return op, set, ifExists, ok
}

func parseConditions(stmt int, path string, raw json.RawMessage, vars bool) ([]condition, error) {
	if firstByte(raw) != '{' {
		return nil, malformed(stmt, path, "must be an object of operator to {key: values}")
	}
	ops, err := decodeObject(raw)
	if err != nil {
		return nil, malformed(stmt, path, "%v", err)
	}
	if len(ops) == 0 {
		return nil, malformed(stmt, path, "empty")
	}
	var out []condition
	for _, opName := range sortedKeys(ops) {
		opPath := path + "." + opName
		op, set, ifExists, ok := parseOpName(opName)
		if !ok {
			return nil, malformed(stmt, opPath, "%s", unsupportedOp())
		}
		if firstByte(ops[opName]) != '{' {
			return nil, malformed(stmt, opPath, "must be an object of key to values")
		}
		keys, err := decodeObject(ops[opName])
		if err != nil {
			return nil, malformed(stmt, opPath, "%v", err)
		}
		if len(keys) == 0 {
			return nil, malformed(stmt, opPath, "empty")
		}
		for _, key := range sortedKeys(keys) {
			keyPath := opPath + "." + key
			k, ok := condKeys[strings.ToLower(key)]
			if !ok {
				return nil, malformed(stmt, keyPath, "condition key not supported (supported: %s, %s, %s, %s, %s)",
					nameClientID, nameThingName, nameIsAttached, nameCertificateID, nameConnectAttributes)
			}
			if op.boolean && k.v != varIsAttached {
				return nil, malformed(stmt, keyPath, "Bool applies only to %s", nameIsAttached)
			}
			if k.multi && set == setNone {
				// IAM: "Multivalued context keys require a condition set operator"; what
				// a plain operator does with one is not documented.
				return nil, malformed(stmt, keyPath, "%s is multivalued: use %s or %s with it", nameConnectAttributes, prefixForAll, prefixForAny)
			}
			// An empty list is a set operator's empty set: AWS's "only allows connect
			// using default features" example is ForAllValues:StringEquals over [].
			strs, err := decodeConditionValues(keys[key], op.boolean, set != setNone)
			if err != nil {
				return nil, malformed(stmt, keyPath, "%v", err)
			}
			c := condition{opName: opName, key: key, op: op, set: set, ifExists: ifExists, v: k.v, values: make([]pattern, 0, len(strs))}
			for j, s := range strs {
				p, err := compile(s, op.wildcards, vars && !op.boolean)
				if err != nil {
					return nil, malformed(stmt, fmt.Sprintf("%s[%d]", keyPath, j), "%v", err)
				}
				c.values = append(c.values, p)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func unsupportedOp() string {
	ops := slices.Sorted(func(yield func(string) bool) {
		for k := range condOps {
			if !yield(k) {
				return
			}
		}
	})
	return "condition operator not supported (supported: " + strings.Join(ops, ", ") +
		", each optionally prefixed " + prefixForAll + " or " + prefixForAny + " and suffixed " + suffixIfExists + ")"
}

// decodeConditionValues reads a string or a list of strings; for Bool, JSON true and
// false are accepted too, and every value must spell a boolean. allowEmptyList lets
// [] through.
func decodeConditionValues(raw json.RawMessage, boolean, allowEmptyList bool) ([]string, error) {
	if boolean {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return []string{fmt.Sprint(b)}, nil
		}
	}
	if allowEmptyList && firstByte(raw) == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err == nil && len(elems) == 0 {
			return nil, nil
		}
	}
	strs, err := decodeStrings(raw, true)
	if err != nil {
		return nil, err
	}
	if boolean {
		for _, s := range strs {
			if !strings.EqualFold(s, "true") && !strings.EqualFold(s, "false") {
				return nil, fmt.Errorf(`value %q: Bool wants "true" or "false"`, s)
			}
		}
	}
	return strs, nil
}

// holds evaluates the condition for one request, following IAM:
//   - A plain operator on a key with no value fails, unless negated or ...IfExists.
//   - The values of the condition are ORed (a negated operator: NORed).
//   - ForAllValues: holds when every value of the request's set satisfies the
//     operator, so also when the set is empty or the key absent.
//   - ForAnyValue: holds when at least one does, so never for an empty set.
//   - With a set operator IfExists changes nothing: it is applied to each member, and
//     a member always exists (IAM's documented results for ForAnyValue:...IfExists
//     over a missing key agree: false).
//
// A single-valued key is a set of zero or one member.
func (c *condition) holds(req *Request, vars *Variables) bool {
	if c.v == varConnectAttributes {
		// Parse admits this key only with a set operator.
		all := true
		for i, name := range connectAttrNames {
			if req.ConnectAttributes&(1<<i) == 0 {
				continue
			}
			ok := c.member(name, vars)
			if c.set == setAny && ok {
				return true
			}
			all = all && ok
		}
		return c.set == setAll && all
	}
	subject, ok := vars.lookup(c.v)
	switch {
	case ok:
		return c.member(subject, vars)
	case c.set == setAll:
		return true
	case c.set == setAny:
		return false
	case c.ifExists:
		return true
	}
	return c.op.negate
}

// member applies the operator to one value of the request.
func (c *condition) member(subject string, vars *Variables) bool {
	matched := false
	for i := range c.values {
		if c.values[i].match(subject, vars, c.op.fold) {
			matched = true
			break
		}
	}
	return matched != c.op.negate
}
