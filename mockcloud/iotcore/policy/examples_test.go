package policy

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// exampleFile is testdata/aws_examples.json: AWS documentation policies with requests
// and the decisions AWS semantics give.
type exampleFile struct {
	Examples []struct {
		Name     string            `json:"name"`
		Source   string            `json:"source"`
		Policies []json.RawMessage `json:"policies"`
		Cases    []struct {
			Action   string `json:"action"`
			Resource string `json:"resource"`
			Vars     struct {
				ClientID      string `json:"clientId"`
				ThingName     string `json:"thingName"`
				CertificateID string `json:"certificateId"`
			} `json:"vars"`
			Want string `json:"want"`
			Why  string `json:"why"`
		} `json:"cases"`
	} `json:"examples"`
}

const exampleARNPrefix = "arn:aws:iot:us-east-1:123456789012:"

func loadExamples(t testing.TB) exampleFile {
	t.Helper()
	raw, err := os.ReadFile("testdata/aws_examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var f exampleFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("testdata/aws_examples.json: %v", err)
	}
	if len(f.Examples) == 0 {
		t.Fatal("testdata/aws_examples.json: no examples")
	}
	return f
}

func TestAWSExamples(t *testing.T) {
	f := loadExamples(t)
	for _, ex := range f.Examples {
		t.Run(ex.Name, func(t *testing.T) {
			if ex.Source == "" || len(ex.Cases) == 0 || len(ex.Policies) == 0 {
				t.Fatal("example needs a source, policies and cases")
			}
			docs := make([]*Document, len(ex.Policies))
			for i, p := range ex.Policies {
				d, err := Parse(p)
				if err != nil {
					t.Fatalf("policy %d: %v", i, err)
				}
				docs[i] = d
			}
			for _, c := range ex.Cases {
				res := c.Resource
				if !strings.HasPrefix(res, "arn:") {
					res = exampleARNPrefix + res
				}
				vars := Variables{ClientID: c.Vars.ClientID, ThingName: c.Vars.ThingName, CertificateID: c.Vars.CertificateID}
				got := Evaluate(docs, Request{Action: c.Action, Resource: res}, vars)
				if got.String() != c.Want {
					t.Errorf("%s %s %+v = %v, want %s (%s)", c.Action, res, vars, got, c.Want, c.Why)
				}
				if got.Allowed() != (c.Want == "Allow") {
					t.Errorf("%s %s: Allowed() = %v for %v", c.Action, res, got.Allowed(), got)
				}
				// The canonical re-encoding must decide the same way.
				again := make([]*Document, len(docs))
				for i, d := range docs {
					out, err := d.MarshalJSON()
					if err != nil {
						t.Fatal(err)
					}
					if again[i], err = Parse(out); err != nil {
						t.Fatalf("re-parse of %s: %v", out, err)
					}
				}
				if got2 := Evaluate(again, Request{Action: c.Action, Resource: res}, vars); got2 != got {
					t.Errorf("%s %s: re-encoded policy gives %v, original %v", c.Action, res, got2, got)
				}
			}
		})
	}
}
