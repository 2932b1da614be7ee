package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// startRig runs the default rig in this process on fresh loopback addresses.
func startTestRig(t *testing.T, pool int, targets bool) *mockcloud.Cloud {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := startRig0(ctx, t.TempDir(), pool, targets)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func startRig0(ctx context.Context, dir string, pool int, targets bool) (*mockcloud.Cloud, error) {
	return startRig(ctx, filepath.Join("..", "..", "testdata", "rig.yaml"), dir, pool, targets)
}

var placeRegion = map[string]string{"us": "us-east-1", "de": "eu-west-1", "jp": "ap-northeast-1"}

func TestSimulate(t *testing.T) {
	c := startTestRig(t, 4, false)
	for _, mode := range []string{agent.ModeCSR, agent.ModeKeys, agent.ModeJITP} {
		t.Run(mode, func(t *testing.T) {
			const n = 20
			var progress bytes.Buffer
			rep, err := Simulate(context.Background(), Params{
				DeviceConfig: c.Files().DeviceConfig, N: n, Mode: mode, Concurrency: 8,
				Places: []string{"us", "de", "jp"}, Timeout: 2 * time.Minute,
				Progress: &progress, CeilingTime: 100 * time.Millisecond, KeyPoolSize: 4,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Online != n || rep.Failed != 0 {
				t.Fatalf("%d online, %d failed (%v), want %d online", rep.Online, rep.Failed, rep.ErrorSamples, n)
			}
			for _, d := range rep.Results {
				want := placeRegion[d.Place]
				if d.Region != want || d.Thing != "gw-"+d.Serial {
					t.Errorf("device %s placed %s: region %q thing %q, want %s gw-%s", d.Serial, d.Place, d.Region, d.Thing, want, d.Serial)
					continue
				}
				for region := range c.Config().Regions {
					name := c.Config().Regions[region].Name
					things, err := c.Region(name).Registry().ListThings(registry.ThingFilter{})
					if err != nil {
						t.Fatal(err)
					}
					got := 0
					for _, th := range things {
						if th.Name == d.Thing {
							got++
						}
					}
					if wantN := map[bool]int{true: 1, false: 0}[name == want]; got != wantN {
						t.Errorf("region %s holds %s %d times, want %d", name, d.Thing, got, wantN)
					}
				}
			}
			if rep.PerSecond <= 0 || rep.TimeToOnline.N != n || rep.TimeToOnline.P50 <= 0 || rep.TimeToOnline.P99 < rep.TimeToOnline.P50 {
				t.Errorf("throughput %v, time to online %+v", rep.PerSecond, rep.TimeToOnline)
			}
			steps := map[string]bool{}
			for _, s := range rep.Steps {
				steps[s.Name] = s.N == n
			}
			want := []agent.StepName{agent.StepResolve, agent.StepClaimConnect, agent.StepSubscribe, agent.StepCreateCertificate, agent.StepRegisterThing, agent.StepConnect, agent.StepPublishStatus}
			if mode == agent.ModeJITP {
				want = []agent.StepName{agent.StepResolve, agent.StepJITPConnect, agent.StepPublishStatus}
			}
			for _, s := range want {
				if !steps[string(s)] {
					t.Errorf("step %s missing or not timed for every device: %+v", s, rep.Steps)
				}
			}
			if rep.Ceiling == nil || rep.Ceiling.DevicesPerSecond <= 0 || rep.Ratio <= 0 {
				t.Errorf("ceiling %+v ratio %v", rep.Ceiling, rep.Ratio)
			}
			// 20 devices over 3 places' pools of 4 keys each: at least 8 made inline.
			if kp := rep.KeyPool; mode == agent.ModeKeys && (kp == nil || kp.RefillPerSecond <= 0 || kp.BurstExtraCPU <= 0 ||
				!kp.Warmed || kp.Pools != 3 || kp.Inline != n-3*4) {
				t.Errorf("keys mode: key pool report %+v", kp)
			}
			if rep.RoundTrips.Incomplete != 0 || rep.RoundTrips.Min <= 0 {
				t.Errorf("round trips %+v", rep.RoundTrips)
			}
			// JITP: the first contact is dropped after the handshake and counts 2.
			if typ := rep.RoundTrips.Typical; mode == agent.ModeJITP && (typ.Dropped != 2 || typ.Claim() != 0 || typ.Connect != 2) {
				t.Errorf("jitp round trips %v, want one dropped connection and no claim phase", typ)
			}
			for _, d := range rep.Results {
				if n := activeAttached(t, c.Region(placeRegion[d.Place]).Registry(), d.Thing); n != 1 {
					t.Errorf("device %s: %d ACTIVE certificates attached, want 1", d.Thing, n)
				}
			}
			var out bytes.Buffer
			if err := WriteReport(&out, rep); err != nil {
				t.Fatal(err)
			}
			for _, field := range []string{"devices/s", "achieved/ceiling", "crypto ceiling", "round trips", "errors by class", "p50", "p95", "p99", string(want[len(want)-2])} {
				if !strings.Contains(out.String(), field) {
					t.Errorf("report lacks %q:\n%s", field, out.String())
				}
			}
			if mode == agent.ModeJITP && !strings.Contains(out.String(), "first contact by design") {
				t.Errorf("jitp report does not explain the failed first contacts:\n%s", out.String())
			}
			if mode == agent.ModeKeys && !strings.Contains(out.String(), "refills at") {
				t.Errorf("keys report lacks the pool refill rate:\n%s", out.String())
			}
			if !strings.Contains(progress.String(), "online") {
				t.Errorf("no progress drawn: %q", progress.String())
			}
			t.Logf("\n%s", out.String())
		})
	}
}

// Hold keeps every device online until all are, so the rig carries all of them
// at once, even when fewer may be in first boot at a time.
func TestSimulateHold(t *testing.T) {
	c := startTestRig(t, 0, false)
	const n = 12
	for _, concurrency := range []int{0, 3} {
		t.Run(fmt.Sprintf("concurrency %d", concurrency), func(t *testing.T) {
			rep, err := Simulate(context.Background(), Params{
				DeviceConfig: c.Files().DeviceConfig, N: n, Mode: agent.ModeCSR, Concurrency: concurrency,
				Hold: true, Timeout: 2 * time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Online != n || rep.PeakOnline != n {
				t.Fatalf("%d online, %d at once (errors %v), want %d", rep.Online, rep.PeakOnline, rep.ErrorSamples, n)
			}
			if rep.Memory.PeakHeap == 0 || rep.Memory.PeakGoroutines == 0 {
				t.Errorf("memory not sampled: %+v", rep.Memory)
			}
			var out bytes.Buffer
			if err := WriteReport(&out, rep); err != nil {
				t.Fatal(err)
			}
			for _, field := range []string{"online at once", "peak heap", "RSS"} {
				if !strings.Contains(out.String(), field) {
					t.Errorf("report lacks %q:\n%s", field, out.String())
				}
			}
		})
	}
}

func activeAttached(t *testing.T, reg *registry.Store, thing string) int {
	t.Helper()
	principals, err := reg.PrincipalsForThing(thing)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range principals {
		if cert, err := reg.GetCertificate(p); err == nil && cert.Status == registry.StatusActive {
			n++
		}
	}
	return n
}

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no rig", []string{"-n", "1"}},
		{"both rigs", []string{"--rig", "x", "--config", "y"}},
		{"unknown place", []string{"--config", "y", "--places", "mars"}},
		{"unknown mode", []string{"--config", "y", "--mode", "psk"}},
		{"stray argument", []string{"--config", "y", "extra"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", code, stderr.String())
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	for _, tc := range []struct {
		total, online, failed int
		want                  string
	}{
		{10, 0, 0, "[" + strings.Repeat(".", barWidth) + "] 0/10 online"},
		{10, 5, 0, "[" + strings.Repeat("#", barWidth/2) + strings.Repeat(".", barWidth/2) + "] 5/10 online"},
		{10, 9, 1, "[" + strings.Repeat("#", barWidth) + "] 9/10 online, 1 failed"},
	} {
		if got := progressLine(tc.total, tc.online, tc.failed, time.Second); !strings.HasPrefix(got, tc.want) {
			t.Errorf("progressLine(%d, %d, %d) = %q, want prefix %q", tc.total, tc.online, tc.failed, got, tc.want)
		}
	}
}

// A run is judged against the higher of the two ceilings and, for CPU, against
// the cheaper one; the CPU ratio only with the rig in process.
func TestRate(t *testing.T) {
	before := &Ceiling{DevicesPerSecond: 1000, CPU: 2 * time.Millisecond}
	after := &Ceiling{DevicesPerSecond: 500, CPU: 3 * time.Millisecond}
	for _, tc := range []struct {
		name            string
		inProcess       bool
		after           *Ceiling
		ratio, cpuRatio float64
	}{
		{"before only", true, nil, 0.25, 0.25},
		{"both", true, after, 0.25, 0.25},
		{"lower after first", true, &Ceiling{DevicesPerSecond: 2000, CPU: time.Millisecond}, 0.125, 0.125},
		{"rig elsewhere", false, after, 0.25, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Report{Params: Params{RigInProcess: tc.inProcess}, Ceiling: before, PerSecond: 250, CPUPerDevice: 8 * time.Millisecond}
			r.rate()
			if tc.after != nil {
				r.SetCeilingAfter(tc.after)
			}
			if r.Ratio != tc.ratio || r.CPURatio != tc.cpuRatio {
				t.Fatalf("ratio %v, cpu ratio %v; want %v, %v", r.Ratio, r.CPURatio, tc.ratio, tc.cpuRatio)
			}
		})
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	p := percentiles(ds)
	if p.N != 100 || p.P50 != 50*time.Millisecond || p.P95 != 95*time.Millisecond || p.P99 != 99*time.Millisecond || p.Max != 100*time.Millisecond {
		t.Fatalf("%+v", p)
	}
	if (percentiles(nil) != Percentiles{}) {
		t.Fatal("empty sample should give zero percentiles")
	}
}

// The jitp flow signs with the maker CA beside the device.yaml; without it the run
// stops before any device, naming where the CA was looked for.
func TestJITPNeedsMakerCA(t *testing.T) {
	c := startTestRig(t, 0, false)
	dir := t.TempDir()
	data, err := os.ReadFile(c.Files().DeviceConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "device.yaml")
	if err := os.WriteFile(cfgPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Simulate(context.Background(), Params{DeviceConfig: cfgPath, N: 1, Mode: agent.ModeJITP})
	if err == nil || !strings.Contains(err.Error(), "maker CA belongs beside "+cfgPath) || !strings.Contains(err.Error(), "maker-ca.pem") {
		t.Fatalf("err %v, want one naming the maker CA beside %s", err, cfgPath)
	}
}
