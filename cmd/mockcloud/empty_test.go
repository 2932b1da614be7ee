package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// awsCLI runs Debian's aws CLI (testenv.Need prefers it to a shim on PATH) against a
// control plane and decodes its JSON output; args start with the service.
func awsCLI(t *testing.T, control, home string, args ...string) map[string]any {
	t.Helper()
	awsPath := testenv.Need(t, "aws", "awscli")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsPath, append(args, "--endpoint-url", control, "--region", "eu-west-1", "--output", "json")...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_CONFIG_FILE=" + home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + home + "/credentials"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aws %v: %v: %s", args, err, stderr.String())
	}
	var out map[string]any
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("aws %v: %v: %s", args, err, stdout.String())
		}
	}
	return out
}

// `serve --empty` starts regions with nothing registered; what the aws CLI makes
// in them survives a restart with the same data folder.
func TestServeEmptyKeepsWhatIsMade(t *testing.T) {
	bin := buildMockcloud(t)
	data, home := t.TempDir(), t.TempDir()
	cmd, ready, stderr := serveProc(t, bin, data, "--empty")
	for _, list := range [][2]string{{"list-policies", "policies"}, {"list-certificates", "certificates"}, {"list-provisioning-templates", "templates"}, {"list-ca-certificates", "certificates"}} {
		if got, _ := awsCLI(t, ready["control"], home, "iot", list[0])[list[1]].([]any); len(got) != 0 {
			t.Fatalf("%s on an empty rig: %v", list[0], got)
		}
	}
	// ACM and Route 53 answer on the same port, each in its own protocol.
	if got, _ := awsCLI(t, ready["control"], home, "acm", "list-certificates")["CertificateSummaryList"].([]any); len(got) != 0 {
		t.Fatalf("acm list-certificates on an empty rig: %v", got)
	}
	if got, _ := awsCLI(t, ready["control"], home, "route53", "list-hosted-zones")["HostedZones"].([]any); len(got) != 0 {
		t.Fatalf("route53 list-hosted-zones on an empty rig: %v", got)
	}
	doc := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(doc, []byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iot:Connect","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	awsCLI(t, ready["control"], home, "iot", "create-policy", "--policy-name", "made-by-hand", "--policy-document", "file://"+doc)
	awsCLI(t, ready["control"], home, "route53", "create-hosted-zone", "--name", "example.com", "--caller-reference", "empty-rig")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
	}
	_, again, _ := serveProc(t, bin, data, "--empty")
	p := awsCLI(t, again["control"], home, "iot", "get-policy", "--policy-name", "made-by-hand")
	if p["policyName"] != "made-by-hand" {
		t.Fatalf("get-policy after a restart: %v", p)
	}
	if got, _ := awsCLI(t, again["control"], home, "iot", "list-policies")["policies"].([]any); len(got) != 1 {
		t.Fatalf("policies after a restart: %v", got)
	}
	if got, _ := awsCLI(t, again["control"], home, "route53", "list-hosted-zones")["HostedZones"].([]any); len(got) != 1 || got[0].(map[string]any)["Name"] != "example.com." {
		t.Fatalf("hosted zones after a restart: %v", got)
	}
}
