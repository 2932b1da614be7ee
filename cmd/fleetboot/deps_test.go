package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The device binary must never link the mock cloud or its broker, and must build
// without cgo.
func TestDeviceBinaryDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list printed %d packages: %q", len(deps), out)
	}
	for _, d := range deps {
		for _, banned := range []string{
			"github.com/fleetboot/fleetboot/mockcloud",
			"github.com/mochi-mqtt/",
			"go.etcd.io/bbolt",
			"github.com/fleetboot/fleetboot/interop",
			"github.com/fleetboot/fleetboot/internal/testenv",
		} {
			if strings.HasPrefix(d, banned) {
				t.Errorf("cmd/fleetboot depends on %s", d)
			}
		}
	}
	for _, need := range []string{"github.com/fleetboot/fleetboot/agent", "github.com/fleetboot/fleetboot/keystore/file", "github.com/eclipse/paho.mqtt.golang"} {
		found := false
		for _, d := range deps {
			found = found || d == need
		}
		if !found {
			t.Errorf("cmd/fleetboot does not link %s", need)
		}
	}
}
