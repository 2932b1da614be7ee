package policy

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// varID names a policy variable the evaluator knows how to look up.
type varID uint8

const (
	varClientID varID = iota
	varThingName
	varIsAttached
	varCertificateID
	// varNever stands for every variable name this package accepts but never resolves.
	varNever
	// varConnectAttributes is the multivalued condition key iot:ConnectAttributes,
	// which comes from the Request; IAM allows no multivalued key as a variable.
	varConnectAttributes
)

// Exact spellings of the variables that resolve (also the condition keys).
const (
	nameClientID      = "iot:ClientId"
	nameThingName     = "iot:Connection.Thing.ThingName"
	nameIsAttached    = "iot:Connection.Thing.IsAttached"
	nameCertificateID = "iot:CertificateId"
)

var resolvable = map[string]varID{
	nameClientID:      varClientID,
	nameThingName:     varThingName,
	nameIsAttached:    varIsAttached,
	nameCertificateID: varCertificateID,
}

// lookup returns the value of a variable and whether it has one.
func (v *Variables) lookup(id varID) (string, bool) {
	switch id {
	case varClientID:
		return v.ClientID, v.ClientID != ""
	case varThingName:
		return v.ThingName, v.ThingName != ""
	case varIsAttached:
		if v.ThingName != "" {
			return "true", true
		}
		return "false", true
	case varCertificateID:
		return v.CertificateID, v.CertificateID != ""
	}
	return "", false
}

type tokKind uint8

const (
	tokLit  tokKind = iota // lit, compared literally
	tokStar                // any run of characters, possibly empty
	tokOne                 // exactly one character
	tokVar                 // the value of variable v, compared literally
)

type token struct {
	kind tokKind
	v    varID
	lit  string
}

// pattern is one compiled Resource entry, action or condition value.
type pattern struct {
	raw  string  // as written in the document, for MarshalJSON
	toks []token // nil when all or plain
	// all is set for a pattern that matches every string ("*").
	all bool
	// plain is set when the pattern is one literal with no wildcard or variable; lit
	// then holds it.
	plain bool
	lit   string
	// vars is a bit set of the varIDs used; match fails when one has no value.
	vars uint8
	// never is set when the pattern uses a variable that never resolves.
	never bool
}

// compile turns s into a pattern. wildcards enables "*" and "?"; vars enables ${...}
// substitution. The error text names the problem; the caller adds where.
func compile(s string, wildcards, vars bool) (pattern, error) {
	p := pattern{raw: s}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, token{kind: tokLit, lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case wildcards && c == '*':
			flush()
			// Consecutive stars match what one star matches; keep one so matching stays linear.
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != tokStar {
				p.toks = append(p.toks, token{kind: tokStar})
			}
			i++
		case wildcards && c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tokOne})
			i++
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return pattern{}, fmt.Errorf("unterminated policy variable %q", s[i:])
			}
			name := s[i+2 : i+2+end]
			i += 2 + end + 1
			switch name {
			case "*", "?", "$":
				lit.WriteString(name)
				continue
			}
			id, err := classifyVariable(name)
			if err != nil {
				return pattern{}, err
			}
			flush()
			p.toks = append(p.toks, token{kind: tokVar, v: id})
			if id == varNever {
				p.never = true
			} else {
				p.vars |= 1 << id
			}
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	switch {
	case len(p.toks) == 1 && p.toks[0].kind == tokStar:
		p.all, p.toks = true, nil
	case len(p.toks) == 0:
		p.plain = true
	case len(p.toks) == 1 && p.toks[0].kind == tokLit:
		p.plain, p.lit, p.toks = true, p.toks[0].lit, nil
	}
	return p, nil
}

// classifyVariable maps a variable name (what is between "${" and "}") to a varID.
func classifyVariable(name string) (varID, error) {
	if id, ok := resolvable[name]; ok {
		return id, nil
	}
	switch {
	case strings.TrimSpace(name) == "":
		return 0, fmt.Errorf("empty policy variable ${%s}", name)
	case strings.ContainsRune(name, ','):
		return 0, fmt.Errorf("policy variable ${%s}: default values are not supported", name)
	}
	for exact := range resolvable {
		if strings.EqualFold(name, exact) {
			return 0, fmt.Errorf("policy variable ${%s}: names are case-sensitive, AWS IoT spells it ${%s}", name, exact)
		}
	}
	return varNever, nil
}

// resolved reports whether every variable in mask has a value.
func (v *Variables) resolved(mask uint8) bool {
	for id := varClientID; id < varNever; id++ {
		if mask&(1<<id) != 0 {
			if _, ok := v.lookup(id); !ok {
				return false
			}
		}
	}
	return true
}

// unresolvable reports whether the pattern can never match because one of its
// variables has no value for vars.
func (p *pattern) unresolvable(vars *Variables) bool {
	return p.never || (p.vars != 0 && !vars.resolved(p.vars))
}

// match reports whether s matches the pattern, with variables replaced from vars
// (nil when the pattern has none). fold compares literals case-insensitively.
func (p *pattern) match(s string, vars *Variables, fold bool) bool {
	switch {
	case p.all:
		return true
	case p.plain:
		if fold {
			return strings.EqualFold(p.lit, s)
		}
		return p.lit == s
	}
	if p.unresolvable(vars) {
		return false
	}
	// Classic wildcard matching with one backtrack point: on a mismatch, let the most
	// recent star swallow one more character and retry. Literals (and substituted
	// values) are consumed whole, which is equivalent to one token per character.
	toks := p.toks
	ti, si := 0, 0
	starT, starS := -1, 0
	for {
		if ti < len(toks) {
			t := &toks[ti]
			switch t.kind {
			case tokStar:
				starT, starS = ti, si
				ti++
				continue
			case tokOne:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLit, tokVar:
				lit := t.lit
				if t.kind == tokVar {
					lit, _ = vars.lookup(t.v)
				}
				if hasPrefix(s[si:], lit, fold) {
					si += len(lit)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starT < 0 || starS >= len(s) {
			return false
		}
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		ti, si = starT+1, starS
	}
}

func hasPrefix(s, prefix string, fold bool) bool {
	if len(s) < len(prefix) {
		return false
	}
	if fold {
		return strings.EqualFold(s[:len(prefix)], prefix)
	}
	return s[:len(prefix)] == prefix
}
