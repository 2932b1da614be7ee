package agent_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docs/RELIABILITY.md proves each behaviour by naming a test: every test and fuzz
// target it names must exist somewhere in the repository, so a renamed or deleted
// test cannot leave the document pointing at nothing.
func TestFaultReliabilityDocNamesExistingTests(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "RELIABILITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Z]\w*)\(`)
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
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
	named := regexp.MustCompile("`(?:[\\w/]+ )?((?:Test|Fuzz)[A-Z]\\w*)(?:/[^`]*)?`").FindAllSubmatch(doc, -1)
	if len(named) < 50 {
		t.Fatalf("only %d test names found in RELIABILITY.md: the pattern no longer matches the document", len(named))
	}
	for _, m := range named {
		if name := string(m[1]); !defined[name] {
			t.Errorf("RELIABILITY.md names %s, which no test file defines", name)
		}
	}
}
