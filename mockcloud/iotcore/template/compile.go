package template

import (
	"math"
	"strconv"
	"strings"
)

// compiler turns decoded JSON into nodes, checking everything that does not depend
// on parameter values: function arity, argument types known in advance, and that
// every Ref and ${Var} names something that will exist.
type compiler struct {
	params   map[string]Parameter
	mappings map[string]map[string]map[string]any
}

func (c *compiler) known(name string) bool {
	_, ok := c.params[name]
	return ok || IsBuiltinParameter(name)
}

// value compiles any template value. depth counts enclosing intrinsic functions.
func (c *compiler) value(v *jsonValue, path string, depth int) (node, error) {
	switch v.kind {
	case jsonNull:
		return litNode{nil}, nil
	case jsonBool:
		return litNode{v.b}, nil
	case jsonString:
		return litNode{v.str}, nil
	case jsonNumber:
		n, ok := number(v.str)
		if !ok {
			return nil, parseErr(path, "", "number %s out of range", v.str)
		}
		return litNode{n}, nil
	case jsonArray:
		items := make([]node, len(v.vals))
		for i, e := range v.vals {
			n, err := c.value(e, path+"["+strconv.Itoa(i)+"]", depth)
			if err != nil {
				return nil, err
			}
			items[i] = n
		}
		return listNode{items}, nil
	}
	for _, k := range v.keys {
		if isFunctionKey(k) {
			if len(v.keys) != 1 {
				return nil, parseErr(path, k, "an intrinsic function must be the only key of its object, found %d keys", len(v.keys))
			}
			return c.function(k, v.vals[0], joinPath(path, k), depth+1)
		}
	}
	obj := objNode{keys: v.keys, vals: make([]node, len(v.vals))}
	for i, e := range v.vals {
		n, err := c.value(e, joinPath(path, v.keys[i]), depth)
		if err != nil {
			return nil, err
		}
		obj.vals[i] = n
	}
	return obj, nil
}

func isFunctionKey(k string) bool { return k == FnRef || strings.HasPrefix(k, "Fn:") }

func (c *compiler) function(name string, arg *jsonValue, path string, depth int) (node, error) {
	if depth > MaxFunctionDepth {
		return nil, parseErr(path, name, "intrinsic functions nested deeper than %d", MaxFunctionDepth)
	}
	switch name {
	case FnRef:
		if arg.kind != jsonString {
			return nil, parseErr(path, name, "argument is %s, want a parameter name", arg.kind)
		}
		if !c.known(arg.str) {
			return nil, parseErr(path, name, "%q is not a declared parameter", arg.str)
		}
		return refNode{name: arg.str, path: path}, nil
	case FnJoin:
		args, err := c.args(name, arg, path, depth, 2)
		if err != nil {
			return nil, err
		}
		if err := want(args[0], kindString, path+"[0]", name, "delimiter"); err != nil {
			return nil, err
		}
		if err := want(args[1], kindList, path+"[1]", name, "second argument"); err != nil {
			return nil, err
		}
		if l, ok := args[1].(listNode); ok {
			for i, it := range l.items {
				if err := want(it, kindString, path+"[1]["+strconv.Itoa(i)+"]", name, "list element"); err != nil {
					return nil, err
				}
			}
		}
		return joinNode{delim: args[0], list: args[1], path: path}, nil
	case FnSub:
		return c.sub(arg, path, depth)
	case FnSelect:
		args, err := c.args(name, arg, path, depth, 2)
		if err != nil {
			return nil, err
		}
		if lit, ok := args[0].(litNode); ok {
			if _, ok := toIndex(lit.v); !ok {
				return nil, parseErr(path+"[0]", name, "index must be a non-negative integer")
			}
			if l, ok := args[1].(listNode); ok {
				if i, _ := toIndex(lit.v); i >= len(l.items) {
					return nil, parseErr(path+"[0]", name, "index %d out of range for a list of %d", i, len(l.items))
				}
			}
		} else if err := want(args[0], kindString, path+"[0]", name, "index"); err != nil {
			return nil, err
		}
		if err := want(args[1], kindList, path+"[1]", name, "second argument"); err != nil {
			return nil, err
		}
		return selectNode{index: args[0], list: args[1], path: path}, nil
	case FnSplit:
		args, err := c.args(name, arg, path, depth, 2)
		if err != nil {
			return nil, err
		}
		if err := want(args[0], kindString, path+"[0]", name, "delimiter"); err != nil {
			return nil, err
		}
		if lit, ok := args[0].(litNode); ok && lit.v == "" {
			return nil, parseErr(path+"[0]", name, "delimiter is empty")
		}
		if err := want(args[1], kindString, path+"[1]", name, "source"); err != nil {
			return nil, err
		}
		return splitNode{delim: args[0], source: args[1], path: path}, nil
	case FnFindInMap:
		args, err := c.args(name, arg, path, depth, 3)
		if err != nil {
			return nil, err
		}
		n := findInMapNode{path: path}
		var lits [3]string
		allLit := true
		for i, what := range [3]string{"map name", "top-level key", "second-level key"} {
			if err := want(args[i], kindString, path+"["+strconv.Itoa(i)+"]", name, what); err != nil {
				return nil, err
			}
			n.args[i] = args[i]
			if l, ok := args[i].(litNode); ok {
				lits[i] = l.v.(string)
			} else {
				allLit = false
			}
		}
		if allLit {
			if _, reason := lookupMapping(c.mappings, lits); reason != "" {
				return nil, parseErr(path, name, "%s", reason)
			}
		}
		return n, nil
	}
	if strings.HasPrefix(name, "Fn::") {
		return nil, parseErr(path, name, "unsupported intrinsic function (provisioning templates support Ref, Fn::Join, Fn::Select, Fn::Split, Fn::Sub and Fn::FindInMap)")
	}
	return nil, parseErr(path, name, "unknown intrinsic function: names are spelled with two colons, e.g. Fn::Join")
}

// args compiles a function's argument list, which must have exactly n elements.
func (c *compiler) args(name string, arg *jsonValue, path string, depth, n int) ([]node, error) {
	if arg.kind != jsonArray || len(arg.vals) != n {
		return nil, parseErr(path, name, "argument must be a list of %d values", n)
	}
	out := make([]node, n)
	for i, a := range arg.vals {
		nd, err := c.value(a, path+"["+strconv.Itoa(i)+"]", depth)
		if err != nil {
			return nil, err
		}
		out[i] = nd
	}
	return out, nil
}

func (c *compiler) sub(arg *jsonValue, path string, depth int) (node, error) {
	var tmpl string
	var vars map[string]node
	switch {
	case arg.kind == jsonString:
		tmpl = arg.str
	case arg.kind == jsonArray && len(arg.vals) == 2 && arg.vals[0].kind == jsonString && arg.vals[1].kind == jsonObject:
		tmpl = arg.vals[0].str
		m := arg.vals[1]
		vars = make(map[string]node, len(m.keys))
		for i, k := range m.keys {
			vp := joinPath(path+"[1]", k)
			nd, err := c.value(m.vals[i], vp, depth)
			if err != nil {
				return nil, err
			}
			if err := want(nd, kindString, vp, FnSub, "variable"); err != nil {
				return nil, err
			}
			vars[k] = nd
		}
	default:
		return nil, parseErr(path, FnSub, "argument must be a string or a list of a string and an object of variables")
	}
	parts, err := splitSub(tmpl)
	if err != "" {
		return nil, parseErr(path, FnSub, "%s", err)
	}
	for _, p := range parts {
		if p.name == "" {
			continue
		}
		if _, ok := vars[p.name]; !ok && !c.known(p.name) {
			return nil, parseErr(path, FnSub, "${%s} is neither a variable nor a declared parameter (write ${!%s} for a literal)", p.name, p.name)
		}
	}
	return subNode{parts: parts, vars: vars, path: path}, nil
}

// splitSub cuts a Fn::Sub string into text and ${name} references. As in
// CloudFormation, "${!x}" is the literal text "${x}", which is how IoT policy
// variables such as ${iot:Connection.Thing.ThingName} survive substitution.
func splitSub(s string) ([]subPart, string) {
	var parts []subPart
	var lit strings.Builder
	for {
		j := strings.Index(s, "${")
		if j < 0 {
			lit.WriteString(s)
			break
		}
		lit.WriteString(s[:j])
		s = s[j+2:]
		if strings.HasPrefix(s, "!") {
			lit.WriteString("${")
			s = s[1:]
			continue
		}
		k := strings.IndexByte(s, '}')
		if k < 0 {
			return nil, "unterminated ${"
		}
		if k == 0 {
			return nil, "empty ${}"
		}
		if lit.Len() > 0 {
			parts = append(parts, subPart{text: lit.String()})
			lit.Reset()
		}
		parts = append(parts, subPart{name: s[:k]})
		s = s[k+1:]
	}
	if lit.Len() > 0 {
		parts = append(parts, subPart{text: lit.String()})
	}
	return parts, ""
}

// want rejects, at parse time, a node whose kind is known and is not k.
func want(n node, k valueKind, path, fn, what string) error {
	got := n.kind()
	if got == kindUnknown || got == k {
		return nil
	}
	return parseErr(path, fn, "%s is %s, want %s", what, kindName(got), kindName(k))
}

func kindName(k valueKind) string {
	switch k {
	case kindString:
		return "a string"
	case kindList:
		return "a list"
	case kindObject:
		return "an object"
	case kindScalar:
		return "a number, boolean or null"
	}
	return "a value"
}

// number converts JSON number text to int64 when it is an integer, else float64,
// so that DeviceConfiguration encodes as a number in both JSON and CBOR replies.
func number(s string) (any, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, false
	}
	return f, true
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}
