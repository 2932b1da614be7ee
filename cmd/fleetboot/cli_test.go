package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/agent"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLIBasics(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"version"}, exitOK, "fleetboot "},
		{[]string{"help"}, exitOK, "Exit codes:"},
		{[]string{"frobnicate"}, exitUsage, "unknown command"},
		{[]string{"status", "--config", "/nonexistent.yaml"}, exitConfig, "nonexistent.yaml"},
		{[]string{"provision", "--param", "novalue", "--config", writeConfig(t)}, exitConfig, "--param"},
		{[]string{"status", "extra", "--config", writeConfig(t)}, exitUsage, "unexpected argument"},
	} {
		code, out, errOut := runCLI(tc.args...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%v: exit %d (want %d), output %q (want %q)", tc.args, code, tc.code, out+errOut, tc.want)
		}
	}
}

// writeConfig writes a valid config whose files need not exist for these commands.
func writeConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	doc := "stateDir: " + filepath.Join(dir, "state") + "\nendpoint:\n  globalName: global.iot.example.com\n  rootCA: /nonexistent/root.pem\nprovisioning:\n  template: GatewayProvisioning\n  claimCertificate: c.pem\n  claimKey: c.key\n"
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestStatusOfNewDeviceAndReset(t *testing.T) {
	cfg := writeConfig(t)
	code, out, errOut := runCLI("status", "--json", "--config", cfg)
	if code != exitOK || !strings.Contains(out, `"state": "new"`) || !strings.Contains(out, `"keystore": "file:`) {
		t.Fatalf("status: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI("reset", "--config", cfg); code != exitUsage || !strings.Contains(errOut, "--yes") {
		t.Fatalf("reset without --yes: %d %s", code, errOut)
	}
	stateDir := filepath.Join(filepath.Dir(cfg), "state")
	if err := agent.SaveState(stateDir, &agent.State{Phase: agent.PhaseOnline, ThingName: "gw-1", Endpoint: "e"}); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI("reset", "--yes", "--config", cfg); code != exitOK {
		t.Fatalf("reset --yes: %d %s %s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.json")); !os.IsNotExist(err) {
		t.Fatalf("state survived reset: %v", err)
	}
}

func TestCheckNamesMissingFiles(t *testing.T) {
	code, _, errOut := runCLI("check", "--config", writeConfig(t))
	if code != exitConfig || !strings.Contains(errOut, "/nonexistent/root.pem") {
		t.Fatalf("check: %d %s", code, errOut)
	}
}

// A provisioned state without a region (written before the resolver refused
// chains that name none) is shown as unknown, not as an empty line.
func TestStatusSaysWhenTheRegionIsUnknown(t *testing.T) {
	cfg := writeConfig(t)
	stateDir := filepath.Join(filepath.Dir(cfg), "state")
	if err := agent.SaveState(stateDir, &agent.State{Phase: agent.PhaseOnline, ThingName: "gw-1", Endpoint: "edge.example.net"}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI("status", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "region:         unknown: no AWS IoT region could be read off the endpoint edge.example.net") {
		t.Fatalf("status: %d\n%s%s", code, out, errOut)
	}
}
