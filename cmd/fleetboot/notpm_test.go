//go:build notpm

package main

import (
	"strings"
	"testing"
)

// A binary built without TPM support says so when the configuration asks for a
// TPM, as a configuration error, before it touches anything.
func TestNoTPMBuildRefusesTPMKeystore(t *testing.T) {
	code, _, errOut := runCLI("factory", "keygen", "--config", writeConfig(t), "--keystore", "tpm:///dev/tpmrm0", "--cn", "GW-1")
	if code != exitConfig || !strings.Contains(errOut, "without TPM support") {
		t.Fatalf("factory keygen with a tpm keystore: exit %d, %s", code, errOut)
	}
}
