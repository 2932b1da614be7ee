package agent

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeBlocks returns the fenced blocks that follow a marker comment in README.md.
func readmeBlocks(t *testing.T, marker string) []string {
	t.Helper()
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- " + regexp.QuoteMeta(marker) + " -->\\s*```[a-z]*\\n(.*?)```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		// Blocks inside list items are indented; YAML needs them flush left.
		lines := strings.Split(m[1], "\n")
		indent := len(lines[0]) - len(strings.TrimLeft(lines[0], " "))
		for i, l := range lines {
			if len(l) >= indent {
				lines[i] = l[indent:]
			}
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return out
}

// The configuration examples in the README are real configurations.
func TestReadmeConfigExamples(t *testing.T) {
	blocks := readmeBlocks(t, "fleetboot-config")
	if len(blocks) < 2 {
		t.Fatalf("found %d config examples in README.md, want at least 2", len(blocks))
	}
	for i, b := range blocks {
		c, err := ParseConfig([]byte(b))
		if err != nil {
			t.Fatalf("example %d: %v\n%s", i, err, b)
		}
		c.SetDefaults()
		if err := c.Validate(); err != nil {
			t.Fatalf("example %d: %v\n%s", i, err, b)
		}
	}
}

// The Route 53 change batch in the README has the API's shape.
func TestReadmeRoute53Example(t *testing.T) {
	blocks := readmeBlocks(t, "route53-change-batch")
	if len(blocks) != 1 {
		t.Fatalf("found %d change batches", len(blocks))
	}
	var batch struct {
		Changes []struct {
			Action            string
			ResourceRecordSet struct {
				Name, Type, SetIdentifier string
				TTL                       int
				GeoLocation               struct{ ContinentCode, CountryCode, SubdivisionCode string }
				ResourceRecords           []struct{ Value string }
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(blocks[0]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&batch); err != nil {
		t.Fatal(err)
	}
	def := false
	for _, c := range batch.Changes {
		rr := c.ResourceRecordSet
		g := rr.GeoLocation
		if rr.Type != "CNAME" || rr.SetIdentifier == "" || len(rr.ResourceRecords) != 1 || (g.ContinentCode == "") == (g.CountryCode == "") {
			t.Fatalf("bad record set %+v", rr)
		}
		if !strings.Contains(rr.ResourceRecords[0].Value, "-ats.iot.") {
			t.Fatalf("target %q is not an ATS endpoint", rr.ResourceRecords[0].Value)
		}
		def = def || g.CountryCode == "*"
	}
	if !def {
		t.Fatal("no default location record")
	}
}
