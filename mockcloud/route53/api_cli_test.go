package route53

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// awsCLI runs the aws CLI against a rig's Route 53 API.
type awsCLI struct {
	path, url, home string
}

func newAWSCLI(t *testing.T, r *apiRig) *awsCLI {
	return &awsCLI{path: testenv.Need(t, "aws", "awscli"), url: r.url, home: t.TempDir()}
}

// run returns stdout, stderr and the exit code of aws route53 args...
func (c *awsCLI) run(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	argv := append([]string{"route53"}, args...)
	argv = append(argv, "--endpoint-url", c.url, "--output", "json")
	cmd := exec.CommandContext(ctx, c.path, argv...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + c.home,
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=",
		"AWS_CONFIG_FILE=" + filepath.Join(c.home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(c.home, "credentials"),
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return stdout.String(), stderr.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("aws %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), 0
}

// json runs the CLI, fails on a non-zero exit and decodes the output.
func (c *awsCLI) json(t *testing.T, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("aws route53 %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws route53 %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return m
}

// fails runs the CLI and wants it to fail with Route 53's error code and a
// message containing msg, as the CLI prints them.
func (c *awsCLI) fails(t *testing.T, code, msg string, args ...string) {
	t.Helper()
	_, errOut, exit := c.run(t, args...)
	want := "An error occurred (" + code + ")"
	if exit == 0 || !strings.Contains(errOut, want) || !strings.Contains(errOut, msg) {
		t.Fatalf("aws route53 %s: exit %d, stderr %q; want %q and %q", strings.Join(args, " "), exit, errOut, want, msg)
	}
}

// str digs a string out of decoded JSON by keys and list indexes.
func str(t *testing.T, v any, path ...any) string {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: not an object: %v", p, v)
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: not a list that long: %v", p, v)
			}
			v = l[k]
		}
	}
	switch x := v.(type) {
	case string:
		return x
	case float64, bool:
		b, _ := json.Marshal(x)
		return string(b)
	case nil:
		return ""
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func writeBatch(t *testing.T, dir, name, batch string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(batch), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file://" + p
}

// TestAWSCLI drives every operation with the aws CLI (Debian awscli),
// errors included, and checks the DNS server serves what it made.
func TestAWSCLI(t *testing.T) {
	r := newAPIRig(t, nil)
	c := newAWSCLI(t, r)
	dir := t.TempDir()

	// The rig file's zone is a hosted zone already.
	m := c.json(t, "list-hosted-zones-by-name", "--dns-name", "example.com")
	if got := str(t, m, "HostedZones", 0, "Name"); got != "example.com." {
		t.Fatalf("first zone by name %q", got)
	}

	m = c.json(t, "create-hosted-zone", "--name", "cli.example.net", "--caller-reference", "cli-1",
		"--hosted-zone-config", "Comment=made by the CLI")
	zoneID := str(t, m, "HostedZone", "Id")
	if !strings.HasPrefix(zoneID, "/hostedzone/Z") || str(t, m, "ChangeInfo", "Status") != "PENDING" ||
		!strings.HasSuffix(str(t, m, "Location"), strings.TrimPrefix(zoneID, "/hostedzone")) ||
		!strings.Contains(str(t, m, "DelegationSet", "NameServers", 0), ".awsdns-") {
		t.Fatalf("create-hosted-zone: %v", m)
	}
	c.json(t, "wait", "resource-record-sets-changed", "--id", str(t, m, "ChangeInfo", "Id"))
	c.fails(t, "HostedZoneAlreadyExists", "caller reference",
		"create-hosted-zone", "--name", "other.example.net", "--caller-reference", "cli-1")
	c.fails(t, "InvalidDomainName", "", "create-hosted-zone", "--name", "a..b", "--caller-reference", "cli-2")

	m = c.json(t, "get-hosted-zone", "--id", zoneID)
	if str(t, m, "HostedZone", "Config", "Comment") != "made by the CLI" || str(t, m, "HostedZone", "ResourceRecordSetCount") != "2" {
		t.Fatalf("get-hosted-zone: %v", m)
	}
	m = c.json(t, "list-hosted-zones", "--page-size", "1") // NextMarker, page by page
	var names []string
	for i := range m["HostedZones"].([]any) {
		names = append(names, str(t, m, "HostedZones", i, "Name"))
	}
	if len(names) != 3 || !slices.Contains(names, "cli.example.net.") || !slices.Contains(names, "example.com.") {
		t.Fatalf("list-hosted-zones: %v", names)
	}
	c.fails(t, "NoSuchHostedZone", "No hosted zone found with ID: ZNOPE", "get-hosted-zone", "--id", "ZNOPE")

	m = c.json(t, "create-health-check", "--caller-reference", "hc-1",
		"--health-check-config", "Type=HTTPS,IPAddress=192.0.2.80,ResourcePath=/health")
	hcID := str(t, m, "HealthCheck", "Id")
	if str(t, m, "HealthCheck", "HealthCheckConfig", "Port") != "443" {
		t.Fatalf("create-health-check: %v", m)
	}
	m = c.json(t, "get-health-check", "--health-check-id", hcID)
	if str(t, m, "HealthCheck", "HealthCheckConfig", "ResourcePath") != "/health" {
		t.Fatalf("get-health-check: %v", m)
	}
	c.fails(t, "InvalidInput", "", "create-health-check", "--caller-reference", "hc-2", "--health-check-config", "Type=TCP,IPAddress=192.0.2.80")
	m = c.json(t, "get-health-check-status", "--health-check-id", hcID)
	if got := str(t, m, "HealthCheckObservations", 0, "StatusReport", "Status"); !strings.HasPrefix(got, "Success") {
		t.Fatalf("status %q", got)
	}

	geo := `{"Changes":[
	 {"Action":"CREATE","ResourceRecordSet":{"Name":"global.cli.example.net","Type":"CNAME","SetIdentifier":"na","GeoLocation":{"ContinentCode":"NA"},"TTL":45,"HealthCheckId":"` + hcID + `","ResourceRecords":[{"Value":"us.cli.example.net"}]}},
	 {"Action":"CREATE","ResourceRecordSet":{"Name":"global.cli.example.net","Type":"CNAME","SetIdentifier":"default","GeoLocation":{"CountryCode":"*"},"TTL":45,"ResourceRecords":[{"Value":"eu.cli.example.net"}]}},
	 {"Action":"UPSERT","ResourceRecordSet":{"Name":"us.cli.example.net","Type":"A","TTL":120,"ResourceRecords":[{"Value":"192.0.2.1"}]}}]}`
	m = c.json(t, "change-resource-record-sets", "--hosted-zone-id", zoneID, "--change-batch", writeBatch(t, dir, "geo.json", geo))
	changeID := str(t, m, "ChangeInfo", "Id")
	m = c.json(t, "get-change", "--id", changeID)
	if str(t, m, "ChangeInfo", "Status") != "INSYNC" {
		t.Fatalf("get-change: %v", m)
	}
	c.fails(t, "NoSuchChange", "", "get-change", "--id", "CNOPE")

	// Served by DNS at once, with its TTL.
	dns := runDig(t, digPath(t), r.srv.Addr(), "-b", "127.0.1.1", "global.cli.example.net", "CNAME")
	if !slices.Equal(dns.answer, []string{"CNAME us.cli.example.net."}) {
		t.Fatalf("dig: %v", dns.answer)
	}

	m = c.json(t, "list-resource-record-sets", "--hosted-zone-id", zoneID)
	var sets []string
	for i := range m["ResourceRecordSets"].([]any) {
		sets = append(sets, str(t, m, "ResourceRecordSets", i, "Name")+" "+str(t, m, "ResourceRecordSets", i, "Type")+" "+
			str(t, m, "ResourceRecordSets", i, "SetIdentifier"))
	}
	want := []string{"cli.example.net. NS ", "cli.example.net. SOA ", "global.cli.example.net. CNAME default",
		"global.cli.example.net. CNAME na", "us.cli.example.net. A "}
	if !slices.Equal(sets, want) {
		t.Fatalf("list-resource-record-sets:\n%q\nwant\n%q", sets, want)
	}
	// The CLI's paginator follows NextRecordName/Type/Identifier through
	// pages of two (--page-size) and stops where --max-items says.
	m = c.json(t, "list-resource-record-sets", "--hosted-zone-id", zoneID, "--page-size", "2")
	if n := len(m["ResourceRecordSets"].([]any)); n != len(want) {
		t.Fatalf("pages of 2: %d sets, %v", n, m)
	}
	m = c.json(t, "list-resource-record-sets", "--hosted-zone-id", zoneID, "--max-items", "2")
	if n := len(m["ResourceRecordSets"].([]any)); n != 2 || str(t, m, "NextToken") == "" {
		t.Fatalf("max 2: %d sets, %v", n, m)
	}

	m = c.json(t, "test-dns-answer", "--hosted-zone-id", zoneID, "--record-name", "global.cli.example.net",
		"--record-type", "CNAME", "--edns0-client-subnet-ip", "198.51.100.7")
	if str(t, m, "RecordData", 0) != "us.cli.example.net." || str(t, m, "ResponseCode") != "NOERROR" || str(t, m, "Protocol") != "UDP" {
		t.Fatalf("test-dns-answer (ECS US): %v", m)
	}
	m = c.json(t, "test-dns-answer", "--hosted-zone-id", zoneID, "--record-name", "global.cli.example.net",
		"--record-type", "CNAME", "--resolver-ip", "192.0.2.53")
	if str(t, m, "RecordData", 0) != "eu.cli.example.net." {
		t.Fatalf("test-dns-answer (resolver DE): %v", m)
	}
	if err := r.api.SetHealthCheckStatus(hcID, false); err != nil {
		t.Fatal(err)
	}
	m = c.json(t, "test-dns-answer", "--hosted-zone-id", zoneID, "--record-name", "global.cli.example.net",
		"--record-type", "CNAME", "--resolver-ip", "198.51.100.53")
	if str(t, m, "RecordData", 0) != "eu.cli.example.net." {
		t.Fatalf("test-dns-answer (US, check failing): %v", m)
	}
	m = c.json(t, "get-health-check-status", "--health-check-id", hcID)
	if got := str(t, m, "HealthCheckObservations", 0, "StatusReport", "Status"); !strings.HasPrefix(got, "Failure") {
		t.Fatalf("status %q", got)
	}

	// Route 53's validation errors, as the CLI prints them.
	c.fails(t, "InvalidChangeBatch", "[Tried to create resource record set [name='us.cli.example.net.', type='A'] but it already exists]",
		"change-resource-record-sets", "--hosted-zone-id", zoneID, "--change-batch", writeBatch(t, dir, "dup.json",
			`{"Changes":[{"Action":"CREATE","ResourceRecordSet":{"Name":"us.cli.example.net","Type":"A","TTL":120,"ResourceRecords":[{"Value":"192.0.2.1"}]}}]}`))
	c.fails(t, "InvalidChangeBatch", "[Tried to delete resource record set [name='gone.cli.example.net.', type='A'] but it was not found]",
		"change-resource-record-sets", "--hosted-zone-id", zoneID, "--change-batch", writeBatch(t, dir, "del.json",
			`{"Changes":[{"Action":"DELETE","ResourceRecordSet":{"Name":"gone.cli.example.net","Type":"A","TTL":120,"ResourceRecords":[{"Value":"192.0.2.1"}]}}]}`))
	c.fails(t, "InvalidInput", "Missing field 'SetIdentifier'",
		"change-resource-record-sets", "--hosted-zone-id", zoneID, "--change-batch", writeBatch(t, dir, "noid.json",
			`{"Changes":[{"Action":"CREATE","ResourceRecordSet":{"Name":"x.cli.example.net","Type":"A","GeoLocation":{"ContinentCode":"EU"},"TTL":60,"ResourceRecords":[{"Value":"192.0.2.1"}]}}]}`))
	c.fails(t, "NoSuchHostedZone", "",
		"change-resource-record-sets", "--hosted-zone-id", "ZNOPE", "--change-batch", writeBatch(t, dir, "nozone.json",
			`{"Changes":[{"Action":"CREATE","ResourceRecordSet":{"Name":"x.cli.example.net","Type":"A","TTL":60,"ResourceRecords":[{"Value":"192.0.2.1"}]}}]}`))
	c.fails(t, "HostedZoneNotEmpty", "non-required resource record sets", "delete-hosted-zone", "--id", zoneID)

	// Empty the zone, delete it and the health check.
	del := strings.ReplaceAll(geo, `"CREATE"`, `"DELETE"`)
	del = strings.ReplaceAll(del, `"UPSERT"`, `"DELETE"`)
	c.json(t, "change-resource-record-sets", "--hosted-zone-id", zoneID, "--change-batch", writeBatch(t, dir, "delall.json", del))
	m = c.json(t, "delete-hosted-zone", "--id", zoneID)
	if str(t, m, "ChangeInfo", "Status") != "PENDING" {
		t.Fatalf("delete-hosted-zone: %v", m)
	}
	c.fails(t, "NoSuchHostedZone", "", "get-hosted-zone", "--id", zoneID)
	c.json(t, "delete-health-check", "--health-check-id", hcID)
	c.fails(t, "NoSuchHealthCheck", hcID, "get-health-check-status", "--health-check-id", hcID)
	dns = runDig(t, digPath(t), r.srv.Addr(), "global.cli.example.net", "CNAME")
	if dns.status != "REFUSED" {
		t.Fatalf("dig after delete: %s", dns.status)
	}
}
