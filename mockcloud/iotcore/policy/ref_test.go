package policy

import (
	"regexp"
	"strings"
	"testing"
)

// refMatch is an independent matcher for tests: substitute the variables (quoted),
// translate the rest to a regular expression and let package regexp decide. It
// returns false for a pattern whose variables do not all resolve.
func refMatch(t testing.TB, pattern, s string, vars *Variables) bool {
	t.Helper()
	var re strings.Builder
	re.WriteString(`(?s)\A`)
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; {
		case c == '*':
			re.WriteString(`.*`)
			i++
		case c == '?':
			re.WriteString(`.`)
			i++
		case strings.HasPrefix(pattern[i:], "${"):
			end := strings.IndexByte(pattern[i:], '}')
			if end < 0 {
				t.Fatalf("refMatch: unterminated variable in %q", pattern)
			}
			name := pattern[i+2 : i+end]
			i += end + 1
			var val string
			switch name {
			case "*", "?", "$":
				val = name
			default:
				id, ok := resolvable[name]
				if !ok {
					return false
				}
				if val, ok = vars.lookup(id); !ok {
					return false
				}
			}
			re.WriteString(regexp.QuoteMeta(val))
		default:
			j := i + 1
			for j < len(pattern) && !strings.ContainsRune("*?$", rune(pattern[j])) {
				j++
			}
			re.WriteString(regexp.QuoteMeta(pattern[i:j]))
			i = j
		}
	}
	re.WriteString(`\z`)
	return regexp.MustCompile(re.String()).MatchString(s)
}
