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

// condKeys maps lower-cased condition key names (IAM compares them case-insensitively)
// to the variable holding the request's value.
var condKeys = map[string]varID{
	strings.ToLower(nameClientID):      varClientID,
	strings.ToLower(nameThingName):     varThingName,
	strings.ToLower(nameIsAttached):    varIsAttached,
	strings.ToLower(nameCertificateID): varCertificateID,
}

// condition is one operator applied to one key: true when the key's value matches any
// of values (or, negated, none of them).
type condition struct {
	opName string // as written, for MarshalJSON
	key    string // as written, for MarshalJSON
	op     condOp
	v      varID
	values []pattern
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
		op, ok := condOps[opName]
		if !ok {
			return nil, malformed(stmt, opPath, "%s", unsupportedOp(opName))
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
			v, ok := condKeys[strings.ToLower(key)]
			if !ok {
				return nil, malformed(stmt, keyPath, "condition key not supported (supported: %s, %s, %s, %s)",
					nameClientID, nameThingName, nameIsAttached, nameCertificateID)
			}
			if op.boolean && v != varIsAttached {
				return nil, malformed(stmt, keyPath, "Bool applies only to %s", nameIsAttached)
			}
			strs, err := decodeConditionValues(keys[key], op.boolean)
			if err != nil {
				return nil, malformed(stmt, keyPath, "%v", err)
			}
			c := condition{opName: opName, key: key, op: op, v: v}
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

func unsupportedOp(name string) string {
	switch {
	case strings.HasPrefix(name, "ForAllValues:"), strings.HasPrefix(name, "ForAnyValue:"):
		return "set operators (ForAllValues:, ForAnyValue:) are not supported"
	case strings.HasSuffix(name, "IfExists"):
		return "...IfExists operators are not supported"
	}
	ops := slices.Sorted(func(yield func(string) bool) {
		for k := range condOps {
			if !yield(k) {
				return
			}
		}
	})
	return "condition operator not supported (supported: " + strings.Join(ops, ", ") + ")"
}

// decodeConditionValues reads a string or a list of strings; for Bool, JSON true and
// false are accepted too, and every value must spell a boolean.
func decodeConditionValues(raw json.RawMessage, boolean bool) ([]string, error) {
	if boolean {
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return []string{fmt.Sprint(b)}, nil
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

// holds evaluates the condition for vars. A key with no value fails a positive
// operator and satisfies a negated one, as in IAM.
func (c *condition) holds(vars *Variables) bool {
	subject, ok := vars.lookup(c.v)
	if !ok {
		return c.op.negate
	}
	matched := false
	for i := range c.values {
		if c.values[i].match(subject, vars, c.op.fold) {
			matched = true
			break
		}
	}
	return matched != c.op.negate
}
