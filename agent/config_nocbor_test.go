//go:build nocbor

package agent

import (
	"strings"
	"testing"
)

func TestConfigRefusesCBORWithoutSupport(t *testing.T) {
	c, err := ParseConfig([]byte(strings.Replace(validConfig, "  template:", "  format: cbor\n  template:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	err = c.Validate()
	if err == nil || !strings.Contains(err.Error(), "provisioning.format") || !strings.Contains(err.Error(), "nocbor") {
		t.Fatalf("Validate = %v, want an error naming provisioning.format and the build tag", err)
	}
}
