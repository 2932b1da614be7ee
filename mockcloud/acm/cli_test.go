package acm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

type cli struct {
	bin, url, home string
}

func newCLI(t *testing.T, url string) *cli {
	t.Helper()
	return &cli{bin: testenv.Need(t, "aws", "awscli"), url: url, home: t.TempDir()}
}

func (c *cli) run(t *testing.T, region string, args ...string) (map[string]any, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append(append([]string{"acm"}, args...), "--endpoint-url", c.url, "--region", region, "--output", "json")
	cmd := exec.CommandContext(ctx, c.bin, full...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + c.home, "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "AWS_CONFIG_FILE=" + c.home + "/config", "AWS_SHARED_CREDENTIALS_FILE=" + c.home + "/credentials"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("aws %v: %v", args, err)
	}
	var out map[string]any
	if code == 0 && stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("aws %v: %v: %s", args, err, stdout.String())
		}
	}
	return out, stderr.String(), code
}

func (c *cli) ok(t *testing.T, region string, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := c.run(t, region, args...)
	if code != 0 {
		t.Fatalf("aws acm %v: exit %d: %s", args, code, errOut)
	}
	return out
}

func (c *cli) fails(t *testing.T, region, code string, args ...string) {
	t.Helper()
	_, errOut, exit := c.run(t, region, args...)
	if exit == 0 || !strings.Contains(errOut, code) {
		t.Fatalf("aws acm %v: exit %d, stderr %q; want a failure naming %s", args, exit, errOut, code)
	}
}

// A custom domain's server certificate brought to ACM with the aws CLI, as the
// design's source does, and ACM's import checks as the CLI reports them.
func TestAWSCLI(t *testing.T) {
	dir := t.TempDir()
	_, srv := newService(t, dir, nil)
	c := newCLI(t, srv.URL)
	files := t.TempDir()
	write := func(name string, data ...[]byte) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, bytes.Join(data, nil), 0o600); err != nil {
			t.Fatal(err)
		}
		return "fileb://" + p
	}
	rsa := newChain(t, "global.iot.example.com", rsaKey(t, 2048))
	ec := newChain(t, "ec.iot.example.com", ecKey(t))
	cert, key := write("cert.pem", rsa.leaf.certPEM), write("key.pem", rsa.leaf.keyPEM)
	chain := write("chain.pem", rsa.inter.certPEM, rsa.root.certPEM)

	arn, _ := c.ok(t, "eu-west-1", "import-certificate", "--certificate", cert, "--private-key", key, "--certificate-chain", chain)["CertificateArn"].(string)
	if !strings.HasPrefix(arn, "arn:aws:acm:eu-west-1:"+testAccount+":certificate/") {
		t.Fatalf("import-certificate ARN %q", arn)
	}
	d, _ := c.ok(t, "eu-west-1", "describe-certificate", "--certificate-arn", arn)["Certificate"].(map[string]any)
	if d["DomainName"] != "global.iot.example.com" || d["KeyAlgorithm"] != "RSA_2048" || d["Type"] != "IMPORTED" || d["Status"] != "ISSUED" {
		t.Fatalf("describe-certificate: %v", d)
	}
	g := c.ok(t, "eu-west-1", "get-certificate", "--certificate-arn", arn)
	if g["Certificate"] != string(rsa.leaf.certPEM) || g["CertificateChain"] != string(rsa.inter.certPEM)+string(rsa.root.certPEM) {
		t.Fatalf("get-certificate: %v", g)
	}

	ecArn, _ := c.ok(t, "eu-west-1", "import-certificate", "--certificate", write("ec.pem", ec.leaf.certPEM),
		"--private-key", write("ec.key", ec.leaf.keyPEM), "--certificate-chain", write("ec-chain.pem", ec.inter.certPEM))["CertificateArn"].(string)
	listed := func(args ...string) []string {
		var arns []string
		for _, s := range c.ok(t, "eu-west-1", append([]string{"list-certificates"}, args...)...)["CertificateSummaryList"].([]any) {
			arns = append(arns, s.(map[string]any)["CertificateArn"].(string))
		}
		return arns
	}
	if got := listed(); len(got) != 1 || got[0] != arn {
		t.Fatalf("list-certificates without key types: %v, want the RSA_2048 certificate alone (ACM's default filter)", got)
	}
	if got := listed("--includes", "keyTypes=EC_prime256v1"); len(got) != 1 || got[0] != ecArn {
		t.Fatalf("list-certificates --includes keyTypes=EC_prime256v1: %v", got)
	}

	other := newChain(t, "other.example.com", ecKey(t))
	expired := issue(t, "old.example.com", ecKey(t), nil, false, time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		name, code string
		args       []string
	}{
		{"key of another certificate", "ValidationException", []string{"--certificate", cert, "--private-key", write("other.key", other.leaf.keyPEM)}},
		{"two certificates in the certificate field", "ValidationException", []string{"--certificate", write("two.pem", rsa.leaf.certPEM, rsa.inter.certPEM), "--private-key", key}},
		{"chain out of order", "ValidationException", []string{"--certificate", cert, "--private-key", key, "--certificate-chain", write("reversed.pem", rsa.root.certPEM, rsa.inter.certPEM)}},
		{"expired", "ValidationException", []string{"--certificate", write("expired.pem", expired.certPEM), "--private-key", write("expired.key", expired.keyPEM)}},
		{"re-import over an unknown ARN", "ResourceNotFoundException", []string{"--certificate-arn", "arn:aws:acm:eu-west-1:" + testAccount + ":certificate/00000000-0000-4000-8000-000000000000", "--certificate", cert, "--private-key", key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.fails(t, "eu-west-1", tc.code, append([]string{"import-certificate"}, tc.args...)...)
		})
	}
	c.fails(t, "eu-west-1", "InvalidArnException", "describe-certificate", "--certificate-arn", "arn:aws:iot:eu-west-1:"+testAccount+":cert/x")
	// Regions are separate.
	c.fails(t, "us-east-1", "InvalidArnException", "describe-certificate", "--certificate-arn", arn)

	c.ok(t, "eu-west-1", "delete-certificate", "--certificate-arn", ecArn)
	c.fails(t, "eu-west-1", "ResourceNotFoundException", "describe-certificate", "--certificate-arn", ecArn)

	// What was imported survives a restart with the same data folder, in a 0600 file.
	_, again := newService(t, dir, nil)
	c2 := newCLI(t, again.URL)
	if d, _ := c2.ok(t, "eu-west-1", "describe-certificate", "--certificate-arn", arn)["Certificate"].(map[string]any); d["CertificateArn"] != arn {
		t.Fatalf("after a restart: %v", d)
	}
	fi, err := os.Stat(filepath.Join(dir, "eu-west-1", "acm.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v, %v; want 0600 (it holds private keys)", fi, err)
	}
}

func TestDeleteCertificateInUse(t *testing.T) {
	var inUse string
	s, _ := newService(t, t.TempDir(), func(region, arn string) []string {
		if arn == inUse {
			return []string{"arn:aws:iot:" + region + ":" + testAccount + ":domainconfiguration/global/abc"}
		}
		return nil
	})
	ch := newChain(t, "global.iot.example.com", ecKey(t))
	rec, err := checkImport(ch.leaf.certPEM, ch.leaf.keyPEM, ch.inter.certPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	x, err := s.stores["eu-west-1"].put(rec, func() string { return "arn:aws:acm:eu-west-1:" + testAccount + ":certificate/" + newUUID() })
	if err != nil {
		t.Fatal(err)
	}
	inUse = x.ARN
	c := &call{s: s, region: "eu-west-1", st: s.stores["eu-west-1"], body: []byte(`{"CertificateArn":"` + x.ARN + `"}`)}
	var ae *apiError
	if _, err := c.deleteCertificate(); !errors.As(err, &ae) || ae.code != "ResourceInUseException" {
		t.Fatalf("delete of a certificate in use: %v", err)
	}
	if _, err := s.Certificate("eu-west-1", x.ARN); err != nil {
		t.Fatalf("the certificate in use is gone: %v", err)
	}
}
