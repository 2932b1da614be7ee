package template

import (
	"strconv"
	"strings"
)

// MaxFunctionDepth is how deeply intrinsic functions may nest inside one another.
// The service's limit is not documented [unconf]; real templates nest two or three.
const MaxFunctionDepth = 16

// Intrinsic function names. The service docs misprint the headings with one colon
// ("Fn:Join"); every example, and the service, use two.
const (
	FnRef       = "Ref"
	FnJoin      = "Fn::Join"
	FnSub       = "Fn::Sub"
	FnSelect    = "Fn::Select"
	FnSplit     = "Fn::Split"
	FnFindInMap = "Fn::FindInMap"
)

// valueKind is what a node is known, before evaluation, to produce.
type valueKind uint8

const (
	kindUnknown valueKind = iota // depends on parameters or mappings
	kindString
	kindList
	kindObject
	kindScalar // number, boolean or null
)

// node is a compiled template value. Evaluating it yields string, []any,
// map[string]any, int64, float64, bool or nil.
type node interface {
	eval(e *evaluator) (any, error)
	kind() valueKind
}

type litNode struct{ v any }

func (n litNode) eval(*evaluator) (any, error) { return n.v, nil }
func (n litNode) kind() valueKind {
	switch n.v.(type) {
	case string:
		return kindString
	default:
		return kindScalar
	}
}

type listNode struct{ items []node }

func (n listNode) eval(e *evaluator) (any, error) {
	out := make([]any, len(n.items))
	for i, it := range n.items {
		v, err := it.eval(e)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}
func (listNode) kind() valueKind { return kindList }

type objNode struct {
	keys []string
	vals []node
}

func (n objNode) eval(e *evaluator) (any, error) {
	out := make(map[string]any, len(n.keys))
	for i, k := range n.keys {
		v, err := n.vals[i].eval(e)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}
func (objNode) kind() valueKind { return kindObject }

type refNode struct{ name, path string }

func (n refNode) eval(e *evaluator) (any, error) { return e.lookup(n.name, n.path) }
func (refNode) kind() valueKind                  { return kindString }

type joinNode struct {
	delim, list node
	path        string
}

func (n joinNode) eval(e *evaluator) (any, error) {
	d, err := evalString(e, n.delim, n.path, "[0]", FnJoin, "delimiter")
	if err != nil {
		return nil, err
	}
	items, err := evalList(e, n.list, n.path, "[1]", FnJoin)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	for i, it := range items {
		s, ok := it.(string)
		if !ok {
			return nil, evalErr(n.path+"[1]", FnJoin, "element %d is %s, want a string", i, describe(it))
		}
		parts[i] = s
	}
	return strings.Join(parts, d), nil
}
func (joinNode) kind() valueKind { return kindString }

// subPart is a literal run of text (name == "") or a ${name} reference.
type subPart struct {
	text, name string
}

type subNode struct {
	parts []subPart
	vars  map[string]node
	path  string
}

func (n subNode) eval(e *evaluator) (any, error) {
	var b strings.Builder
	for _, p := range n.parts {
		if p.name == "" {
			b.WriteString(p.text)
			continue
		}
		if v, ok := n.vars[p.name]; ok {
			s, err := evalString(e, v, n.path, "[1]."+p.name, FnSub, "variable")
			if err != nil {
				return nil, err
			}
			b.WriteString(s)
			continue
		}
		s, err := e.lookup(p.name, n.path)
		if err != nil {
			return nil, err
		}
		b.WriteString(s.(string))
	}
	return b.String(), nil
}
func (subNode) kind() valueKind { return kindString }

type selectNode struct {
	index, list node
	path        string
}

func (n selectNode) eval(e *evaluator) (any, error) {
	iv, err := n.index.eval(e)
	if err != nil {
		return nil, err
	}
	idx, ok := toIndex(iv)
	if !ok {
		return nil, evalErr(n.path+"[0]", FnSelect, "index is %s, want a non-negative integer", describe(iv))
	}
	items, err := evalList(e, n.list, n.path, "[1]", FnSelect)
	if err != nil {
		return nil, err
	}
	if idx >= len(items) {
		return nil, evalErr(n.path+"[0]", FnSelect, "index %d out of range for a list of %d", idx, len(items))
	}
	if items[idx] == nil {
		return nil, evalErr(n.path+"[1]", FnSelect, "element %d is null", idx)
	}
	return items[idx], nil
}
func (selectNode) kind() valueKind { return kindUnknown }

type splitNode struct {
	delim, source node
	path          string
}

func (n splitNode) eval(e *evaluator) (any, error) {
	d, err := evalString(e, n.delim, n.path, "[0]", FnSplit, "delimiter")
	if err != nil {
		return nil, err
	}
	if d == "" {
		return nil, evalErr(n.path+"[0]", FnSplit, "delimiter is empty")
	}
	s, err := evalString(e, n.source, n.path, "[1]", FnSplit, "source")
	if err != nil {
		return nil, err
	}
	parts := strings.Split(s, d)
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}
func (splitNode) kind() valueKind { return kindList }

type findInMapNode struct {
	args [3]node
	path string
}

func (n findInMapNode) eval(e *evaluator) (any, error) {
	var keys [3]string
	for i, what := range [3]string{"map name", "top-level key", "second-level key"} {
		s, err := evalString(e, n.args[i], n.path, [3]string{"[0]", "[1]", "[2]"}[i], FnFindInMap, what)
		if err != nil {
			return nil, err
		}
		keys[i] = s
	}
	v, reason := e.t.lookupMapping(keys)
	if reason != "" {
		return nil, evalErr(n.path, FnFindInMap, "%s", reason)
	}
	return v, nil
}
func (findInMapNode) kind() valueKind { return kindUnknown }

// evalString evaluates a node that must yield a string. The error path is
// base+suffix, joined only on failure: Evaluate is on the RegisterThing hot path.
func evalString(e *evaluator, n node, base, suffix, fn, what string) (string, error) {
	v, err := n.eval(e)
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", evalErr(base+suffix, fn, "%s is %s, want a string", what, describe(v))
	}
	return s, nil
}

func evalList(e *evaluator, n node, base, suffix, fn string) ([]any, error) {
	v, err := n.eval(e)
	if err != nil {
		return nil, err
	}
	l, ok := v.([]any)
	if !ok {
		return nil, evalErr(base+suffix, fn, "list argument is %s, want a list", describe(v))
	}
	return l, nil
}

// toIndex accepts 1 and "1": CloudFormation's own examples quote the index.
func toIndex(v any) (int, bool) {
	switch x := v.(type) {
	case int64:
		if x >= 0 && x <= int64(^uint32(0)>>1) {
			return int(x), true
		}
	case string:
		i, err := strconv.Atoi(x)
		if err == nil && i >= 0 {
			return i, true
		}
	}
	return 0, false
}

func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	case bool:
		return "a boolean"
	default:
		return "a number"
	}
}
