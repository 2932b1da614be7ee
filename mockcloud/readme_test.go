package mockcloud

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// The policies the README tells a user to create on AWS are the ones every rig
// region is seeded with, so what the mock's tests show holds for the README's setup.
func TestReadmePoliciesAreTheRigPolicies(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ marker, doc string }{
		{"claim-policy", claimPolicy},
		{"device-policy", devicePolicy},
	} {
		t.Run(tc.marker, func(t *testing.T) {
			re := regexp.MustCompile("(?s)<!-- " + tc.marker + " -->\\s*```json\\n(.*?)```")
			m := re.FindSubmatch(data)
			if m == nil {
				t.Fatalf("README.md has no json block after <!-- %s -->", tc.marker)
			}
			got, want := canonicalJSON(t, m[1]), canonicalJSON(t, []byte(regionPolicy(tc.doc, "eu-west-1", "123456789012")))
			if !bytes.Equal(got, want) {
				t.Errorf("README's %s differs from the rig's:\nREADME: %s\nrig:    %s", tc.marker, got, want)
			}
		})
	}
}

func canonicalJSON(t *testing.T, b []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(strings.TrimSpace(string(b))), &v); err != nil {
		t.Fatalf("policy is not JSON: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
