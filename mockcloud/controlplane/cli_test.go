package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// authRecorder keeps the Authorization headers the CLI sent.
type authRecorder struct {
	next http.Handler
	mu   sync.Mutex
	auth []string
}

func (a *authRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.auth = append(a.auth, r.Header.Get("Authorization"))
	a.mu.Unlock()
	a.next.ServeHTTP(w, r)
}

type cliRig struct {
	f    *fixture
	bin  string // the aws CLI: Debian's (testenv.Need prefers /usr/bin over a pyenv shim)
	url  string
	home string
	rec  *authRecorder
}

// aws runs the CLI against the rig; it returns stdout, stderr and the exit code.
func (c *cliRig) aws(t *testing.T, region string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"iot"}, args...)
	full = append(full, "--endpoint-url", c.url, "--region", region, "--output", "json")
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + c.home,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=x",
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"AWS_CONFIG_FILE=" + c.home + "/config",
		"AWS_SHARED_CREDENTIALS_FILE=" + c.home + "/credentials",
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("aws %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// awsJSON runs the CLI and decodes its JSON output; a non-zero exit fails.
func (c *cliRig) awsJSON(t *testing.T, region string, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := c.aws(t, region, args...)
	if code != 0 {
		t.Fatalf("aws %v: exit %d: %s", args, code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws %v: output is not JSON: %v: %s", args, err, out)
	}
	return m
}

func newCLIRig(t *testing.T) *cliRig {
	aws := testenv.Need(t, "aws", "awscli")
	f := newFixture(t)
	rec := &authRecorder{next: f.h}
	srv := httptest.NewServer(rec) // 127.0.0.1:0
	t.Cleanup(srv.Close)
	return &cliRig{f: f, bin: aws, url: srv.URL, home: t.TempDir(), rec: rec}
}

func TestAWSCLI(t *testing.T) {
	c := newCLIRig(t)
	dev := c.f.certs["device"]

	t.Run("list-things", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "list-things")
		if got := names(t, m, "things", "thingName"); !slices.Equal(got, []string{"gw-001", "gw-002", "gw-003", "sensor-1"}) {
			t.Fatalf("things %v", got)
		}
		// The CLI walks nextToken itself when told a small page size.
		m = c.awsJSON(t, euWest1, "list-things", "--page-size", "1")
		if got := names(t, m, "things", "thingName"); !slices.Equal(got, []string{"gw-001", "gw-002", "gw-003", "sensor-1"}) {
			t.Fatalf("things in pages of 1: %v", got)
		}
		m = c.awsJSON(t, usEast1, "list-things")
		if got := names(t, m, "things", "thingName"); !slices.Equal(got, []string{"us-only"}) {
			t.Fatalf("us-east-1 things %v", got)
		}
	})
	t.Run("describe-thing", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "describe-thing", "--thing-name", "gw-001")
		if m["thingName"] != "gw-001" || m["version"] != float64(2) || m["thingTypeName"] != "gateway" {
			t.Fatalf("thing %v", m)
		}
	})
	t.Run("list-certificates", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "list-certificates")
		certs := m["certificates"].([]any)
		if len(certs) != 3 {
			t.Fatalf("certificates %v", m)
		}
		// botocore turned our epoch seconds into ISO 8601.
		if d, _ := certs[0].(map[string]any)["creationDate"].(string); !strings.HasPrefix(d, "2026-11-28T") {
			t.Fatalf("creationDate %q", d)
		}
		// --page-size is ListCertificates' own pageSize, so the CLI pages by hand.
		m = c.awsJSON(t, euWest1, "list-certificates", "--page-size", "2")
		marker, _ := m["nextMarker"].(string)
		if len(m["certificates"].([]any)) != 2 || marker == "" {
			t.Fatalf("first page %v", m)
		}
		m = c.awsJSON(t, euWest1, "list-certificates", "--page-size", "2", "--marker", marker)
		if _, more := m["nextMarker"]; len(m["certificates"].([]any)) != 1 || more {
			t.Fatalf("second page %v", m)
		}
	})
	t.Run("describe-certificate", func(t *testing.T) {
		t.Parallel()
		d := c.awsJSON(t, euWest1, "describe-certificate", "--certificate-id", dev)["certificateDescription"].(map[string]any)
		if d["certificateId"] != dev || d["status"] != "ACTIVE" || d["certificateMode"] != "DEFAULT" || d["caCertificateId"] != c.f.caID || d["ownedBy"] != testAccount {
			t.Fatalf("description %v", d)
		}
		if v := d["validity"].(map[string]any); !strings.HasPrefix(v["notAfter"].(string), "2036-01-01T00:00:00") {
			t.Fatalf("validity %v", v)
		}
	})
	t.Run("policies", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "list-policies")
		if got := names(t, m, "policies", "policyName"); !slices.Equal(got, []string{"claim-policy", "device-policy"}) {
			t.Fatalf("policies %v", got)
		}
		m = c.awsJSON(t, euWest1, "get-policy", "--policy-name", "device-policy")
		if m["defaultVersionId"] != "2" {
			t.Fatalf("policy %v", m)
		}
		m = c.awsJSON(t, euWest1, "list-attached-policies", "--target", "arn:aws:iot:eu-west-1:123456789012:cert/"+dev)
		if got := names(t, m, "policies", "policyName"); !slices.Equal(got, []string{"device-policy"}) {
			t.Fatalf("attached %v", got)
		}
	})
	t.Run("groups and principals", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "list-things-in-thing-group", "--thing-group-name", "gateways")
		if got := names(t, m, "things", ""); !slices.Equal(got, []string{"gw-001", "gw-002"}) {
			t.Fatalf("group things %v", got)
		}
		m = c.awsJSON(t, euWest1, "list-thing-principals", "--thing-name", "gw-001")
		if got := names(t, m, "principals", ""); len(got) != 1 || !strings.HasSuffix(got[0], dev) {
			t.Fatalf("principals %v", got)
		}
	})
	t.Run("provisioning templates", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, euWest1, "list-provisioning-templates")
		if got := names(t, m, "templates", "templateName"); !slices.Equal(got, []string{"fleet", "jitp"}) {
			t.Fatalf("templates %v", got)
		}
		m = c.awsJSON(t, euWest1, "describe-provisioning-template", "--template-name", "fleet")
		if m["templateBody"] != `{"Resources":{}}` || m["enabled"] != true {
			t.Fatalf("template %v", m)
		}
	})
	t.Run("describe-endpoint", func(t *testing.T) {
		t.Parallel()
		m := c.awsJSON(t, usEast1, "describe-endpoint", "--endpoint-type", "iot:Data-ATS")
		if m["endpointAddress"] != "abc123-ats.iot.us-east-1.amazonaws.com" {
			t.Fatalf("endpoint %v", m)
		}
	})
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		out, errOut, code := c.aws(t, euWest1, "describe-thing", "--thing-name", "nope")
		if code != 254 || out != "" {
			t.Fatalf("exit %d, stdout %q", code, out)
		}
		if !strings.Contains(errOut, "(ResourceNotFoundException)") || !strings.Contains(errOut, "DescribeThing") || !strings.Contains(errOut, `"nope"`) {
			t.Fatalf("stderr %q", errOut)
		}
	})
	t.Run("unknown region", func(t *testing.T) {
		t.Parallel()
		_, errOut, code := c.aws(t, "sa-east-1", "list-things")
		if code == 0 || !strings.Contains(errOut, "InvalidSignatureException") {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
	})
}

// TestAWSCLIUpdateCertificate runs apart from the read-only calls above, which
// look at the same certificates.
func TestAWSCLIUpdateCertificate(t *testing.T) {
	c := newCLIRig(t)
	id := c.f.certs["claim"]
	for _, st := range []string{"INACTIVE", "REVOKED"} {
		if m := c.awsJSON(t, euWest1, "update-certificate", "--certificate-id", id, "--new-status", st); m != nil {
			t.Fatalf("update-certificate printed %v", m)
		}
		d := c.awsJSON(t, euWest1, "describe-certificate", "--certificate-id", id)["certificateDescription"].(map[string]any)
		if d["status"] != st {
			t.Fatalf("status %v, want %s", d["status"], st)
		}
	}
	_, errOut, code := c.aws(t, euWest1, "update-certificate", "--certificate-id", id, "--new-status", "ACTIVE")
	if code != 254 || !strings.Contains(errOut, "CertificateStateException") {
		t.Fatalf("reactivating a revoked certificate: exit %d, stderr %q", code, errOut)
	}

	// Every request carried a SigV4 credential scope naming the region.
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	for _, h := range c.rec.auth {
		if r, err := regionFromAuthorization(h); err != nil || r != euWest1 {
			t.Fatalf("CLI Authorization %q: %q, %v", h, r, err)
		}
	}
	t.Logf("the CLI signs as: %s", strings.SplitN(c.rec.auth[0], ",", 2)[0])
}
