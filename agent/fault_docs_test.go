package agent_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/RELIABILITY.md and docs/FIDELITY.md prove each behaviour by naming a test:
// every test and fuzz target they name must exist somewhere in the repository, so a
// renamed or deleted test cannot leave a document pointing at nothing.
func TestFaultReliabilityDocNamesExistingTests(t *testing.T) {
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Z]\w*)\(`)
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			defined[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		doc      string
		minNames int
	}{{"RELIABILITY.md", 50}, {"FIDELITY.md", 5}} {
		t.Run(tc.doc, func(t *testing.T) { checkDocNamesTests(t, tc.doc, tc.minNames, defined) })
	}
}

func checkDocNamesTests(t *testing.T, name string, minNames int, defined map[string]bool) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", name))
	if err != nil {
		t.Fatal(err)
	}
	named := regexp.MustCompile("`(?:[\\w/]+ )?((?:Test|Fuzz)[A-Z]\\w*)(?:/[^`]*)?`").FindAllSubmatch(doc, -1)
	if len(named) < minNames {
		t.Fatalf("only %d test names found in %s: the pattern no longer matches the document", len(named), name)
	}
	for _, m := range named {
		if test := string(m[1]); !defined[test] {
			t.Errorf("%s names %s, which no test file defines", name, test)
		}
	}
}
