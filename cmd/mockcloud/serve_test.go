package main

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func buildMockcloud(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mockcloud")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// serveProc runs `mockcloud serve` and returns its ready line's fields.
func serveProc(t *testing.T, bin, data string, extra ...string) (*exec.Cmd, map[string]string, *bytes.Buffer) {
	t.Helper()
	args := append([]string{"serve", "--config", "../../testdata/rig.yaml", "--data", data, "--ephemeral", "--log-level", "warn"}, extra...)
	cmd := exec.Command(bin, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "mockcloud ready: ") {
			t.Fatalf("first line %q (ok=%v); stderr:\n%s", line, ok, stderr.String())
		}
		go func() {
			for range lines {
			}
		}()
		fields := map[string]string{}
		for _, f := range strings.Fields(strings.TrimPrefix(line, "mockcloud ready: ")) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		return cmd, fields, &stderr
	case <-time.After(60 * time.Second):
		t.Fatalf("no ready line; stderr:\n%s", stderr.String())
	}
	return nil, nil, nil
}

func TestServeReadyStopRestart(t *testing.T) {
	bin := buildMockcloud(t)
	data := t.TempDir()
	cmd, ready, stderr := serveProc(t, bin, data)
	for _, k := range []string{"dns", "control", "us-east-1", "eu-west-1", "ap-northeast-1", "data"} {
		if ready[k] == "" {
			t.Fatalf("ready line lacks %s: %v", k, ready)
		}
	}
	if ready["latency"] != "0s" {
		t.Fatalf("ready line: latency=%q, want 0s", ready["latency"])
	}
	for _, k := range []string{"us-east-1", "eu-west-1", "ap-northeast-1"} {
		if !strings.HasPrefix(ready[k], "127.") {
			t.Fatalf("region %s listens on %s, not loopback", k, ready[k])
		}
	}
	resp, err := http.Get(ready["control"] + "/_mockcloud/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("eu-west-1")) {
		t.Fatalf("health: %d %s", resp.StatusCode, body)
	}
	for name, mode := range map[string]os.FileMode{"root-ca.key": 0o600, "claim.key": 0o600, "root-ca.pem": 0, "claim.pem": 0, "device.yaml": 0} {
		fi, err := os.Stat(filepath.Join(data, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if mode != 0 && fi.Mode().Perm() != mode {
			t.Fatalf("%s mode %v, want %v", name, fi.Mode().Perm(), mode)
		}
	}
	claim, _ := os.ReadFile(filepath.Join(data, "claim.pem"))
	root, _ := os.ReadFile(filepath.Join(data, "root-ca.pem"))

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop within 15 s of SIGTERM")
	}

	_, again, _ := serveProc(t, bin, data)
	if again["data"] != ready["data"] {
		t.Fatalf("data folder moved: %s vs %s", again["data"], ready["data"])
	}
	claim2, _ := os.ReadFile(filepath.Join(data, "claim.pem"))
	root2, _ := os.ReadFile(filepath.Join(data, "root-ca.pem"))
	if !bytes.Equal(claim, claim2) || !bytes.Equal(root, root2) {
		t.Fatal("restart with the same data folder replaced the CA or the claim certificate")
	}
}

func TestServeRefusesBadInput(t *testing.T) {
	bin := buildMockcloud(t)
	bad := filepath.Join(t.TempDir(), "rig.yaml")
	os.WriteFile(bad, []byte("regions:\n  - name: mars-north-1\n    addr: 10.0.0.1:8883\n"), 0o600) //nolint:errcheck
	for _, args := range [][]string{
		{"serve", "--config", bad, "--data", t.TempDir()},
		{"serve", "--config", "../../testdata/rig.yaml"},
		{"serve", "--config", "../../testdata/rig.yaml", "--data", t.TempDir(), "--latency", "-1ms"},
		{"serve", "--config", "../../testdata/rig.yaml", "--data", t.TempDir(), "--latency", "slow"},
		{"launch"},
	} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		var ee *exec.ExitError
		if err == nil || !errorAs(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v: err %v, want exit 2; output %s", args, err, out)
		}
		if len(out) == 0 {
			t.Fatalf("%v: no message", args)
		}
	}
}

func errorAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// --latency delays DNS over UDP and TCP by twice the one-way delay per query,
// and says so in the ready line.
func TestServeLatency(t *testing.T) {
	bin := buildMockcloud(t)
	const oneWay = 60 * time.Millisecond
	_, ready, stderr := serveProc(t, bin, t.TempDir(), "--latency", oneWay.String())
	if ready["latency"] != "60ms" {
		t.Fatalf("ready line: latency=%q, want 60ms", ready["latency"])
	}
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: 10 * time.Second}
		q := new(dns.Msg).SetQuestion("global.iot.example.com.", dns.TypeA)
		start := time.Now()
		r, _, err := c.Exchange(q, ready["dns"])
		if err != nil {
			t.Fatalf("%s query: %v\n%s", network, err, stderr)
		}
		took := time.Since(start)
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Fatalf("%s answer: %v", network, r)
		}
		if took < 2*oneWay {
			t.Errorf("%s query answered in %v, below the added round trip %v", network, took, 2*oneWay)
		}
	}
}
