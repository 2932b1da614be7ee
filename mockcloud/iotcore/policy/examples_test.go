package policy

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// exampleFiles hold AWS documentation policies with requests and the decisions AWS
// semantics give.
var exampleFiles = []string{"testdata/aws_examples.json", "testdata/aws_connect_attributes.json"}

// exampleFile is one of exampleFiles.
type exampleFile struct {
	Comment  string `json:"comment"`
	Examples []struct {
		Name     string            `json:"name"`
		Source   string            `json:"source"`
		Note     string            `json:"note"`
		Policies []json.RawMessage `json:"policies"`
		Cases    []struct {
			Action   string `json:"action"`
			Resource string `json:"resource"`
			Vars     struct {
				ClientID      string `json:"clientId"`
				ThingName     string `json:"thingName"`
				CertificateID string `json:"certificateId"`
			} `json:"vars"`
			// ConnectAttributes is the iot:ConnectAttributes set of a CONNECT.
			ConnectAttributes []string `json:"connectAttributes"`
			Want              string   `json:"want"`
			Why               string   `json:"why"`
		} `json:"cases"`
	} `json:"examples"`
	// Refused are documented policies Parse refuses; the error names WantParseError.
	Refused []struct {
		Name           string            `json:"name"`
		Source         string            `json:"source"`
		Policies       []json.RawMessage `json:"policies"`
		WantParseError string            `json:"wantParseError"`
		Why            string            `json:"why"`
	} `json:"refused"`
}

const exampleARNPrefix = "arn:aws:iot:us-east-1:123456789012:"

// loadExamples reads every file of exampleFiles into one.
func loadExamples(t testing.TB) exampleFile {
	t.Helper()
	var all exampleFile
	for _, name := range exampleFiles {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var f exampleFile
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(f.Examples) == 0 {
			t.Fatalf("%s: no examples", name)
		}
		all.Examples = append(all.Examples, f.Examples...)
		all.Refused = append(all.Refused, f.Refused...)
	}
	return all
}

// connectAttributes turns the names of a test vector into the set.
func connectAttributes(t testing.TB, names []string) ConnectAttributes {
	t.Helper()
	var a ConnectAttributes
	for _, n := range names {
		i := slices.Index(connectAttrNames[:], n)
		if i < 0 {
			t.Fatalf("unknown connect attribute %q", n)
		}
		a |= 1 << i
	}
	return a
}

func TestAWSRefusedExamples(t *testing.T) {
	f := loadExamples(t)
	if len(f.Refused) == 0 {
		t.Fatal("no refused examples")
	}
	for _, ex := range f.Refused {
		t.Run(ex.Name, func(t *testing.T) {
			if ex.Source == "" || ex.WantParseError == "" || len(ex.Policies) == 0 {
				t.Fatal("refused example needs a source, policies and wantParseError")
			}
			for i, p := range ex.Policies {
				_, err := Parse(p)
				if err == nil || !strings.Contains(err.Error(), ex.WantParseError) {
					t.Errorf("policy %d: Parse error %v, want one naming %q", i, err, ex.WantParseError)
				}
			}
		})
	}
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
				req := Request{Action: c.Action, Resource: res, ConnectAttributes: connectAttributes(t, c.ConnectAttributes)}
				got := Evaluate(docs, req, vars)
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
				if got2 := Evaluate(again, req, vars); got2 != got {
					t.Errorf("%s %s: re-encoded policy gives %v, original %v", c.Action, res, got2, got)
				}
			}
		})
	}
}
