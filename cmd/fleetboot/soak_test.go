package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
)

// Random power cuts: kill -9 of the agent at random instants of first boot, then
// boots until it is online. The deterministic cuts at every phase boundary are
// TestProcessKillAtEveryPhase; these land wherever the clock says, including in
// the middle of a network exchange or a file write.
//
// A short run is part of go test; FLEETBOOT_SOAK=1 (make soak) makes it long.
// FLEETBOOT_SOAK_SEED replays a run.
//
// It runs against two rigs. With iot.registerThingReplay (a repeated
// RegisterThing gets its answer again) every device must end with exactly one
// ACTIVE certificate. With the default rig, which refuses a used ownership token
// (AWS's behaviour here is unconfirmed), one more outcome is allowed: a cut while
// the state held "credentialed" can come after the cloud applied RegisterThing
// and before the reply was saved; fleet provisioning cannot be asked whether that
// happened, so the next boot provisions a second certificate and the first stays
// ACTIVE on the thing (the agent warns, naming it). That run allows exactly that
// certificate and counts how often it happens.

// soakRegions places devices in every region of the rig.
var soakRegions = []struct{ subnet, region string }{
	{"198.51.100.0/24", "us-east-1"},
	{"192.0.2.0/24", "eu-west-1"},
	{"203.0.113.0/24", "ap-northeast-1"},
}

func TestSoakRandomKills(t *testing.T) {
	kills := 6
	if os.Getenv("FLEETBOOT_SOAK") == "1" {
		kills = 60
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FLEETBOOT_SOAK_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("FLEETBOOT_SOAK_SEED=%q: %v", s, err)
		}
		seed = v
	}
	t.Logf("seed %d (replay with FLEETBOOT_SOAK_SEED=%d)", seed, seed)
	// fleetboot refuses FLEETBOOT_ variables it does not know, and the boots
	// inherit this process's environment.
	for _, k := range []string{"FLEETBOOT_SOAK", "FLEETBOOT_SOAK_SEED"} {
		if v, ok := os.LookupEnv(k); ok {
			t.Setenv(k, v) // restored after the test
			os.Unsetenv(k)
		}
	}
	rig, _ := os.ReadFile("../../testdata/rig.yaml")
	replayRig := filepath.Join(t.TempDir(), "rig-replay.yaml")
	replayDoc := strings.Replace(string(rig), "registerThingReplay: false", "registerThingReplay: true", 1)
	if replayDoc == string(rig) {
		t.Fatal("testdata/rig.yaml has no registerThingReplay line to switch")
	}
	if err := os.WriteFile(replayRig, []byte(replayDoc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, flavour := range []struct {
		name, config string
		strict       bool
	}{
		{"refuse-used-token", "../../testdata/rig.yaml", false},
		{"replay", replayRig, true},
	} {
		t.Run(flavour.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5eed))
			soakRandomKills(t, startRigProcessWith(t, t.TempDir(), flavour.config), rng, kills, flavour.strict)
		})
	}
}

func soakRandomKills(t *testing.T, rig *rigProc, rng *rand.Rand, kills int, strict bool) {
	baseline := rig.pendingCertificates(t)

	// How long a whole first boot takes here, as a process, in each mode: the
	// cuts are spread over that span.
	var span time.Duration
	for i, mode := range []string{"csr", "keys"} {
		at := soakRegions[i%len(soakRegions)]
		d := newDevice(t, rig, at.subnet, "SOAK-MEASURE-"+mode, "--provisioning-mode", mode)
		start := time.Now()
		if code, out := d.fleetboot(nil, "provision", "--timeout", "60s"); code != exitOK {
			t.Fatalf("first boot (%s) without a cut: exit %d\n%s", mode, code, out)
		}
		took := time.Since(start)
		t.Logf("first boot as a process, %s mode: %v", mode, took.Round(time.Millisecond))
		span = max(span, took)
		d.checkConverged(t, at.region, "gw-SOAK-MEASURE-"+mode, nil)
	}

	var (
		delivered  int // cuts that hit a running process
		missed     int // boots that finished before their cut
		atPhase    = map[string]int{}
		bootsAfter []int // boots each device needed after its last cut
		debris     int   // state temp files left by cuts
		doubled    int   // devices left with a second ACTIVE certificate by a cut during RegisterThing
	)
	for n := 0; delivered < kills; n++ {
		at := soakRegions[n%len(soakRegions)]
		mode := []string{"csr", "keys"}[rng.IntN(2)]
		serial := fmt.Sprintf("SOAK-%03d", n)
		d := newDevice(t, rig, at.subnet, serial, "--provisioning-mode", mode)

		// One or two cuts on successive boots, the second into a resumed boot.
		var inFlight []string // certificates whose RegisterThing a cut may have hidden
		for range 1 + rng.IntN(2) {
			// Mostly provision, which ends once online, so that most cuts land in
			// first boot; run stays up and is cut online too.
			sub := "provision"
			if rng.IntN(4) == 0 {
				sub = "run"
			}
			delay := time.Duration(rng.Int64N(int64(span) + 1))
			killed, out := d.bootAndCut(t, sub, delay)
			if !killed {
				missed++
				continue
			}
			delivered++
			st := d.stateAfterCut(t, out)
			atPhase[string(st.Phase)]++
			if st.Phase == agent.PhaseCredentialed && !strict {
				inFlight = append(inFlight, st.CertificateID)
			}
			t.Logf("%s (%s, %s): cut after %v in %s", serial, mode, sub, delay.Round(time.Microsecond), st.Phase)
		}

		boots := 0
		for {
			boots++
			code, out := d.fleetboot(nil, "provision", "--timeout", "60s")
			if code == exitOK {
				break
			}
			if boots == 5 {
				t.Fatalf("%s: still not online after %d boots since the last cut; last exit %d:\n%s", serial, boots, code, out)
			}
			t.Logf("%s: boot %d after the cut: exit %d", serial, boots, code)
		}
		bootsAfter = append(bootsAfter, boots)
		if d.checkConverged(t, at.region, "gw-"+serial, inFlight) > 0 {
			doubled++
		}
		debris += d.stateDebris(t)
	}

	orphans := rig.pendingCertificates(t) - baseline
	t.Logf("%d cuts delivered (%d boots finished before their cut), spread over [0, %v]; phase the state file held after each cut: %v",
		delivered, missed, span.Round(time.Millisecond), atPhase)
	t.Logf("boots needed after the last cut: max %d; %d state temp files left by cuts", slices.Max(bootsAfter), debris)
	t.Logf("devices left with a second ACTIVE certificate by a cut during RegisterThing: %d of %d", doubled, len(bootsAfter))
	t.Logf("orphaned certificates (PENDING_ACTIVATION, never activated) left in the mock: %d after %d cuts", orphans, delivered)
	// A cut can orphan at most the one certificate its boot was issued: a boot
	// asks for credentials once, and a resumed boot reuses its saved token.
	if orphans > delivered {
		t.Errorf("%d orphaned certificates from %d cuts: some boot asked for credentials more than once", orphans, delivered)
	}
}

// bootAndCut starts a boot and SIGKILLs it after delay unless it has exited by
// then. It reports whether the kill hit a running process, and its output.
func (d *device) bootAndCut(t *testing.T, sub string, delay time.Duration) (bool, string) {
	t.Helper()
	fb, _ := binaries(t)
	cmd := exec.Command(fb, append([]string{sub, "--state-dir", d.stateDir}, d.args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case err := <-done:
		// Only a provision that succeeded may end before its cut: run stays online.
		if err != nil || sub != "provision" {
			t.Fatalf("%s ended on its own before its cut: %v\n%s", sub, err, out.String())
		}
		return false, out.String()
	case <-timer.C:
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	err := <-done
	ee, ok := err.(*exec.ExitError)
	if !ok {
		// It exited by itself in the instant before the signal.
		return false, out.String()
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL, out.String()
}

// stateAfterCut is the state file after a cut; it must load whatever instant
// the cut hit.
func (d *device) stateAfterCut(t *testing.T, out string) *agent.State {
	t.Helper()
	st, err := agent.LoadState(d.stateDir)
	if err != nil {
		t.Fatalf("state file after a cut: %v\nboot output:\n%s", err, out)
	}
	return st
}

// checkConverged asserts what a device must end with however often it was cut:
// online as thing in region with one ACTIVE certificate, the one the device
// holds, a key that loads and matches it, and an intact state file with the
// modes of its folder. Another ACTIVE certificate is allowed only if it is in
// inFlight; checkConverged returns how many there are.
func (d *device) checkConverged(t *testing.T, region, thing string, inFlight []string) (extra int) {
	t.Helper()
	st := d.status()
	if st.State != "online" || st.Region != region || st.ThingName != thing || st.CertificateID == "" || st.KeyDigest == "" {
		t.Fatalf("%s: status %+v, want online in %s with a certificate", thing, st, region)
	}
	active := d.rig.activeCertificates(t, region, thing)
	if !slices.Contains(active, st.CertificateID) {
		t.Fatalf("%s: the certificate the device holds, %s, is not an ACTIVE principal of the thing in %s (ACTIVE: %v)", thing, st.CertificateID, region, active)
	}
	for _, id := range active {
		switch {
		case id == st.CertificateID:
		case slices.Contains(inFlight, id):
			extra++
		default:
			t.Errorf("%s: certificate %s is ACTIVE on the thing besides %s, the one the device holds, and no cut explains it", thing, id, st.CertificateID)
		}
	}

	// factory show loads the key itself (status reads only the certificate).
	code, out := d.fleetboot(nil, "factory show")
	if code != exitOK {
		t.Fatalf("%s: factory show: exit %d\n%s", thing, code, out)
	}
	keyDigest := ""
	for line := range strings.Lines(out) {
		if rest, ok := strings.CutPrefix(line, "public key:"); ok {
			if i := strings.LastIndex(rest, "sha256:"); i >= 0 {
				keyDigest = strings.TrimSpace(rest[i+len("sha256:"):])
			}
		}
	}
	if keyDigest != st.KeyDigest {
		t.Fatalf("%s: the stored key (sha256:%s) is not the certificate's (sha256:%s)\n%s", thing, keyDigest, st.KeyDigest, out)
	}

	saved, err := agent.LoadState(d.stateDir)
	if err != nil {
		t.Fatalf("%s: state file: %v", thing, err)
	}
	if saved.Phase != agent.PhaseOnline || saved.CertificateID != st.CertificateID || saved.OwnershipToken != "" {
		t.Fatalf("%s: saved state %v, want online with certificate %s and no token", thing, saved, st.CertificateID)
	}
	err = filepath.WalkDir(d.stateDir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == d.stateDir {
			return nil // made by the test, not by the agent
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir() && fi.Mode().Perm() != 0o700:
			t.Errorf("%s: folder %s has mode %04o, want 0700", thing, path, uint32(fi.Mode().Perm()))
		case e.Type().IsRegular() && fi.Mode().Perm() != 0o600:
			t.Errorf("%s: file %s has mode %04o, want 0600", thing, path, uint32(fi.Mode().Perm()))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return extra
}

// stateDebris counts temp files a cut left beside the state file.
func (d *device) stateDebris(t *testing.T) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d.stateDir, ".state.json.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// pendingCertificates counts certificates in every region of the rig that were
// issued and never activated.
func (r *rigProc) pendingCertificates(t *testing.T) int {
	t.Helper()
	n := 0
	for _, at := range soakRegions {
		n += r.pendingIn(t, at.region)
	}
	return n
}
