package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Process-level tests: the built binaries as processes, the way a gateway and a rig
// run them.

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

func binaries(t *testing.T) (fleetboot, mockcloud string) {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "fleetboot-bin-")
		if buildErr != nil {
			return
		}
		for _, b := range [][]string{
			{"-tags", "faultpoints", "-o", filepath.Join(binDir, "fleetboot"), "."},
			{"-o", filepath.Join(binDir, "mockcloud"), "../mockcloud"},
		} {
			cmd := exec.Command("go", append([]string{"build"}, b...)...)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %v: %v\n%s", b, err, out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "fleetboot"), filepath.Join(binDir, "mockcloud")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

type rigProc struct {
	data    string
	control string
	cmd     *exec.Cmd
}

func startRigProcess(t *testing.T) *rigProc {
	t.Helper()
	return startRigProcessIn(t, t.TempDir())
}

func startRigProcessIn(t *testing.T, data string) *rigProc {
	t.Helper()
	return startRigProcessWith(t, data, "../../testdata/rig.yaml")
}

// startRigProcessWith runs mockcloud serve with the rig file config.
func startRigProcessWith(t *testing.T, data, config string) *rigProc {
	t.Helper()
	_, mc := binaries(t)
	cmd := exec.Command(mc, "serve", "--config", config, "--data", data, "--ephemeral", "--log-level", "warn")
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
		cmd.Wait()                          //nolint:errcheck
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "mockcloud ready:") {
				ready <- sc.Text()
			}
		}
	}()
	select {
	case line := <-ready:
		r := &rigProc{data: data, cmd: cmd}
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "control="); ok {
				r.control = v
			}
		}
		return r
	case <-time.After(60 * time.Second):
		t.Fatalf("mockcloud not ready:\n%s", stderr.String())
	}
	return nil
}

type device struct {
	t        *testing.T
	rig      *rigProc
	stateDir string
	args     []string
}

func newDevice(t *testing.T, rig *rigProc, subnet, serial string, extra ...string) *device {
	return &device{t: t, rig: rig, stateDir: t.TempDir(), args: append([]string{
		"--config", filepath.Join(rig.data, "device.yaml"),
		"--dns-client-subnet", subnet,
		"--param", "SerialNumber=" + serial,
	}, extra...)}
}

// fleetboot runs a subcommand and returns its exit code and output. sub may name
// a command and its subcommand ("factory keygen").
func (d *device) fleetboot(env []string, sub string, args ...string) (int, string) {
	d.t.Helper()
	fb, _ := binaries(d.t)
	all := append(append(strings.Fields(sub), "--state-dir", d.stateDir), d.args...)
	cmd := exec.Command(fb, append(all, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = -int(ws.Signal())
		}
	} else if err != nil {
		d.t.Fatal(err)
	}
	return code, string(out)
}

func (d *device) status() statusJSON {
	d.t.Helper()
	fb, _ := binaries(d.t)
	out, err := exec.Command(fb, append([]string{"status", "--json", "--state-dir", d.stateDir}, d.args...)...).Output()
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}
	var st statusJSON
	if err := json.Unmarshal(out, &st); err != nil {
		d.t.Fatalf("status --json: %v: %s", err, out)
	}
	return st
}

// api reads the rig's control plane as the aws CLI would, for one region.
func (r *rigProc) api(t *testing.T, region, path string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", r.control+path, nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261128/"+region+"/iot/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s: %v: %s", path, err, body)
		}
	}
	return resp.StatusCode
}

// oneIdentity checks the region has the thing with exactly one ACTIVE certificate,
// and returns how many certificates in the region are still pending (orphans).
func (r *rigProc) oneIdentity(t *testing.T, region, thing string) (orphans int) {
	t.Helper()
	if active := r.activeCertificates(t, region, thing); len(active) != 1 {
		t.Fatalf("thing %s: ACTIVE certificates %v, want 1", thing, active)
	}
	return r.pendingIn(t, region)
}

// activeCertificates lists the ACTIVE certificates attached to thing in region.
func (r *rigProc) activeCertificates(t *testing.T, region, thing string) []string {
	t.Helper()
	var principals struct {
		Principals []string `json:"principals"`
	}
	if code := r.api(t, region, "/things/"+thing+"/principals", &principals); code != 200 {
		t.Fatalf("thing %s in %s: HTTP %d", thing, region, code)
	}
	var active []string
	for _, arn := range principals.Principals {
		id := arn[strings.LastIndex(arn, "/")+1:]
		var d struct {
			CertificateDescription struct {
				Status string `json:"status"`
			} `json:"certificateDescription"`
		}
		if code := r.api(t, region, "/certificates/"+id, &d); code != 200 {
			t.Fatalf("certificate %s in %s: HTTP %d", id, region, code)
		}
		if d.CertificateDescription.Status == "ACTIVE" {
			active = append(active, id)
		}
	}
	return active
}

// pendingIn counts the certificates of region that were issued and never activated.
func (r *rigProc) pendingIn(t *testing.T, region string) int {
	t.Helper()
	var certs struct {
		Certificates []struct {
			Status string `json:"status"`
		} `json:"certificates"`
		NextMarker string `json:"nextMarker"`
	}
	if code := r.api(t, region, "/certificates?pageSize=250", &certs); code != 200 {
		t.Fatalf("list certificates in %s: HTTP %d", region, code)
	}
	if certs.NextMarker != "" {
		t.Fatalf("more than 250 certificates in %s", region)
	}
	n := 0
	for _, c := range certs.Certificates {
		if c.Status == "PENDING_ACTIVATION" {
			n++
		}
	}
	return n
}

func TestProcessFirstBootAndRun(t *testing.T) {
	rig := startRigProcess(t)
	d := newDevice(t, rig, "198.51.100.0/24", "PROC-1")
	code, out := d.fleetboot(nil, "provision", "--steps")
	if code != exitOK {
		t.Fatalf("provision exit %d:\n%s", code, out)
	}
	for _, step := range []string{"resolve", "claim-connect", "register-thing", "connect", "total"} {
		if !strings.Contains(out, step) {
			t.Errorf("--steps output lacks %s:\n%s", step, out)
		}
	}
	st := d.status()
	if st.State != "online" || st.Region != "us-east-1" || st.ThingName != "gw-PROC-1" || st.CertificateID == "" || st.NotAfter == "" || !strings.HasPrefix(st.Keystore, "file:") {
		t.Fatalf("status %+v", st)
	}
	rig.oneIdentity(t, "us-east-1", "gw-PROC-1")

	// run stays online until SIGTERM, then exits 0. Once online, it hands the
	// pages of first-boot code back, once.
	const released = "released the pages of first-boot code"
	fb, _ := binaries(t)
	cmd := exec.Command(fb, append([]string{"run", "--state-dir", d.stateDir, "--log-level", "debug"}, d.args...)...)
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), released) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "online") {
		t.Fatalf("run never went online:\n%s", logs.String())
	}
	if n := strings.Count(logs.String(), released); n != 1 {
		t.Fatalf("%q logged %d times, want once after going online:\n%s", released, n, logs.String())
	}
}

// syncBuffer is a bytes.Buffer a process writes to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A power cut right after each phase is written: the next boot resumes and the
// device ends with exactly one thing and one ACTIVE certificate.
func TestProcessKillAtEveryPhase(t *testing.T) {
	rig := startRigProcess(t)
	for _, mode := range []string{"csr", "keys"} {
		for _, phase := range []string{"credentialed", "registered", "online"} {
			serial := "KILL-" + mode + "-" + phase
			d := newDevice(t, rig, "192.0.2.0/24", serial, "--provisioning-mode", mode)
			code, out := d.fleetboot([]string{"FLEETBOOT_TEST_KILL_AT=" + phase}, "provision")
			if code != -int(syscall.SIGKILL) {
				t.Fatalf("%s/%s: exit %d, want killed:\n%s", mode, phase, code, out)
			}
			if st := d.status(); st.State != phase {
				t.Fatalf("%s/%s: state after the cut %q", mode, phase, st.State)
			}
			if code, out := d.fleetboot(nil, "provision"); code != exitOK {
				t.Fatalf("%s/%s: resume exit %d:\n%s", mode, phase, code, out)
			}
			rig.oneIdentity(t, "eu-west-1", "gw-"+serial)
		}
	}
	if orphans := rig.oneIdentity(t, "eu-west-1", "gw-KILL-csr-online"); orphans != 0 {
		t.Errorf("%d never-activated certificates left in the region", orphans)
	}
}

func TestProcessExitCodes(t *testing.T) {
	rig := startRigProcess(t)
	// RegisterThing without the template's required parameter: rejected by the cloud.
	d := &device{t: t, rig: rig, stateDir: t.TempDir(), args: []string{"--config", filepath.Join(rig.data, "device.yaml")}}
	if code, out := d.fleetboot(nil, "provision", "--timeout", "30s"); code != exitRejected || !strings.Contains(out, "SerialNumber") {
		t.Fatalf("missing parameter: exit %d, want %d:\n%s", code, exitRejected, out)
	}
	// A config mistake names the key.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("endpoint:\n  globalName: global.iot.example.com\n  port: 70000\n"), 0o600) //nolint:errcheck
	d2 := &device{t: t, rig: rig, stateDir: t.TempDir(), args: []string{"--config", bad}}
	// 78 and 64 literally: the shipped unit's RestartPreventExitStatus names them.
	if code, out := d2.fleetboot(nil, "check"); code != 78 || !strings.Contains(out, "endpoint.port") {
		t.Fatalf("bad config: exit %d, want 78 (EX_CONFIG):\n%s", code, out)
	}
	if code, out := d2.fleetboot(nil, "frobnicate"); code != 64 {
		t.Fatalf("unknown command: exit %d, want 64 (EX_USAGE):\n%s", code, out)
	}
	// Nobody answers DNS: transient, after the timeout.
	d3 := newDevice(t, rig, "192.0.2.0/24", "NODNS", "--dns-server", "127.0.0.1:9")
	if code, out := d3.fleetboot(nil, "provision", "--timeout", "3s"); code != exitTransient {
		t.Fatalf("no DNS: exit %d, want %d:\n%s", code, exitTransient, out)
	}
}

// kill -9 of the cloud: the registry keeps everything it acknowledged, and devices
// converge once it is back (on new addresses: they re-resolve their pinned endpoint).
func TestProcessCloudKilled(t *testing.T) {
	data := t.TempDir()
	rig := startRigProcessIn(t, data)
	d := newDevice(t, rig, "198.51.100.0/24", "SURVIVOR")
	if code, out := d.fleetboot(nil, "provision"); code != exitOK {
		t.Fatalf("provision: %d\n%s", code, out)
	}
	rig.cmd.Process.Kill() //nolint:errcheck
	rig.cmd.Wait()         //nolint:errcheck

	again := startRigProcessIn(t, data)
	d.rig = again
	if code, out := d.fleetboot(nil, "provision"); code != exitOK {
		t.Fatalf("proof after the cloud restarted: %d\n%s", code, out)
	}
	again.oneIdentity(t, "us-east-1", "gw-SURVIVOR")
	e := newDevice(t, again, "198.51.100.0/24", "LATECOMER")
	if code, out := e.fleetboot(nil, "provision"); code != exitOK {
		t.Fatalf("new device after restart: %d\n%s", code, out)
	}
	again.oneIdentity(t, "us-east-1", "gw-LATECOMER")
}
