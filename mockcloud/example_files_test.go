package mockcloud

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
)

// examples/global-provisioning sets an account up with the documents the rig
// seeds itself with, so a setup tested against the mock is the one the default
// rig runs.
func TestGlobalProvisioningExampleUsesTheRigDocuments(t *testing.T) {
	dir := filepath.Join("..", "examples", "global-provisioning")
	for file, want := range map[string]string{
		"claim-policy.json":        claimPolicy,
		"device-policy.json":       devicePolicy,
		"GatewayProvisioning.json": gatewayTemplate,
		"jitp-template.json":       iotcore.GatewayJITPTemplate,
	} {
		got, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(string(got)) != strings.TrimSpace(want) {
			t.Errorf("%s differs from the rig's own document", file)
		}
	}
}
