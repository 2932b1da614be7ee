package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/agent"
	_ "github.com/fleetboot/fleetboot/keystore/file"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// startRig runs the default rig on fresh loopback addresses.
func startRig(t *testing.T) *mockcloud.Cloud {
	t.Helper()
	cfg, err := mockcloud.LoadConfig(filepath.Join("..", "testdata", "rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 2
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true, Logger: zaptest.NewLogger(t).Named("cloud")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// deviceConfig is the rig's device.yaml with one device's state folder and place.
func deviceConfig(t *testing.T, c *mockcloud.Cloud, stateDir, mode, format, subnet, serial string) *agent.Config {
	t.Helper()
	cfg, err := agent.LoadConfig(c.Files().DeviceConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.StateDir = stateDir
	cfg.Provisioning.Mode = mode
	cfg.Provisioning.Format = format
	cfg.Provisioning.Parameters = map[string]string{"SerialNumber": serial}
	cfg.Provisioning.Timeout = agent.Duration(10 * time.Second)
	cfg.DNS.ClientSubnet = subnet
	cfg.Log.Level = "debug"
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newAgent(t *testing.T, cfg *agent.Config, opts agent.Options) *agent.Agent {
	t.Helper()
	opts.Config = cfg
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t).Named("agent")
	}
	a, err := agent.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// checkOneIdentity asserts the region holds exactly one thing for the device and
// exactly one ACTIVE certificate attached to it.
func checkOneIdentity(t *testing.T, c *mockcloud.Cloud, region, thing string) {
	t.Helper()
	checkOneThing(t, c, region, thing)
	if active := activeFor(t, c, region, thing); len(active) != 1 {
		t.Fatalf("thing %s: ACTIVE certificates attached %v, want 1", thing, active)
	}
}

func TestFirstBootFlows(t *testing.T) {
	c := startRig(t)
	for _, tc := range []struct {
		mode, format, subnet, serial, region string
	}{
		{agent.ModeCSR, "json", "198.51.100.0/24", "CSR-JSON", "us-east-1"},
		{agent.ModeCSR, "cbor", "192.0.2.0/24", "CSR-CBOR", "eu-west-1"},
		{agent.ModeKeys, "json", "203.0.113.0/24", "KEYS-JSON", "ap-northeast-1"},
		{agent.ModeKeys, "cbor", "198.51.100.0/24", "KEYS-CBOR", "us-east-1"},
	} {
		t.Run(tc.mode+"-"+tc.format, func(t *testing.T) {
			dir := t.TempDir()
			cfg := deviceConfig(t, c, dir, tc.mode, tc.format, tc.subnet, tc.serial)
			var steps []agent.StepName
			a := newAgent(t, cfg, agent.Options{Observe: func(s agent.Step) { steps = append(steps, s.Name) }})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := a.Prove(ctx)
			if err != nil {
				t.Fatalf("prove: %v (steps %v)", err, steps)
			}
			if st.Phase != agent.PhaseOnline || st.Region != tc.region || st.ThingName != "gw-"+tc.serial {
				t.Fatalf("state %+v, want online in %s as gw-%s", st, tc.region, tc.serial)
			}
			if st.ServerName != cfg.Endpoint.GlobalName {
				t.Fatalf("server name %q, want the global name", st.ServerName)
			}
			checkOneIdentity(t, c, tc.region, st.ThingName)
			saved, err := agent.LoadState(dir)
			if err != nil || saved.Phase != agent.PhaseOnline || saved.OwnershipToken != "" {
				t.Fatalf("saved state %+v, %v: want online without a token", saved, err)
			}
			fi, err := os.Stat(filepath.Join(dir, "state.json"))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("state.json mode %v, %v; want 0600", fi.Mode(), err)
			}
		})
	}
}

// cut stands for a power cut: the fault point panics with it and the test
// recovers, so no more agent code runs after the state write.
type cut struct{ phase agent.Phase }

func TestResumeAfterEveryPhase(t *testing.T) {
	c := startRig(t)
	for _, mode := range []string{agent.ModeCSR, agent.ModeKeys} {
		for _, at := range []agent.Phase{agent.PhaseCredentialed, agent.PhaseRegistered, agent.PhaseOnline} {
			t.Run(mode+"-after-"+string(at), func(t *testing.T) {
				dir := t.TempDir()
				serial := "RESUME-" + mode + "-" + string(at)
				cfg := deviceConfig(t, c, dir, mode, "json", "192.0.2.0/24", serial)
				a := newAgent(t, cfg, agent.Options{FaultPoint: func(p agent.Phase) {
					if p == at {
						panic(cut{p})
					}
				}})
				func() {
					defer func() {
						r := recover()
						if _, ok := r.(cut); !ok {
							t.Fatalf("want a power cut at %s, got %v", at, r)
						}
					}()
					_, err := a.Prove(context.Background())
					t.Fatalf("prove returned %v without reaching %s", err, at)
				}()
				saved, err := agent.LoadState(dir)
				if err != nil || saved.Phase != at {
					t.Fatalf("after the cut: state %v, %v; want %s", saved, err, at)
				}
				a.Close()
				b := newAgent(t, cfg, agent.Options{})
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				defer cancel()
				st, err := b.Prove(ctx)
				if err != nil {
					t.Fatalf("resume from %s: %v", at, err)
				}
				checkOneIdentity(t, c, "eu-west-1", st.ThingName)
			})
		}
	}
}

func TestClockAt1970(t *testing.T) {
	c := startRig(t)
	dir := t.TempDir()
	cfg := deviceConfig(t, c, dir, agent.ModeCSR, "json", "203.0.113.0/24", "EPOCH")
	a := newAgent(t, cfg, agent.Options{Now: func() time.Time { return time.Unix(0, 0) }})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := a.Prove(ctx)
	if err != nil {
		t.Fatalf("prove with the clock at 1970: %v", err)
	}
	if st.Region != "ap-northeast-1" {
		t.Fatalf("region %s, want ap-northeast-1", st.Region)
	}
	checkOneIdentity(t, c, "ap-northeast-1", st.ThingName)
}

func TestExpiredTokenLeadsToNewCredentials(t *testing.T) {
	c := startRig(t)
	dir := t.TempDir()
	cfg := deviceConfig(t, c, dir, agent.ModeCSR, "json", "192.0.2.0/24", "EXPIRED")
	a := newAgent(t, cfg, agent.Options{FaultPoint: func(p agent.Phase) {
		if p == agent.PhaseCredentialed {
			panic(cut{p})
		}
	}})
	func() {
		defer func() { recover() }()
		a.Prove(context.Background()) //nolint:errcheck
	}()
	first, err := agent.LoadState(dir)
	if err != nil || first.Phase != agent.PhaseCredentialed {
		t.Fatalf("state %v, %v", first, err)
	}
	a.Close()
	// The cloud's clock moves past the token's hour; the device's clock is stuck at
	// 1970, so only the cloud's refusal can tell it the token is gone.
	c.AdvanceClock(2 * time.Hour)
	b := newAgent(t, cfg, agent.Options{Now: func() time.Time { return time.Unix(0, 0) }})
	st, err := b.Prove(context.Background())
	if err != nil {
		t.Fatalf("prove after token expiry: %v", err)
	}
	if st.CertificateID == first.CertificateID {
		t.Fatal("device kept the certificate of the expired token")
	}
	checkOneIdentity(t, c, "eu-west-1", st.ThingName)
	if _, err := c.Region("eu-west-1").Registry().GetCertificate(first.CertificateID); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("certificate of the expired token: %v, want deleted", err)
	}
}

// deviceConfiguration reaches other gateway software through its own file, and the
// onProvisioned command runs once with the facts in its environment.
func TestHandoff(t *testing.T) {
	c := startRig(t)
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "hook.out")
	cfg := deviceConfig(t, c, dir, agent.ModeCSR, "json", "192.0.2.0/24", "HANDOFF")
	// Folders that do not exist yet: they are made readable, as the file is.
	handoffDir := t.TempDir()
	if err := os.Chmod(handoffDir, 0o711); err != nil {
		t.Fatal(err)
	}
	cfg.Device.ConfigPath = filepath.Join(handoffDir, "run", "gateway", "device-config.json")
	cfg.Device.OnProvisioned = `echo "$FLEETBOOT_THING_NAME $FLEETBOOT_REGION $FLEETBOOT_DEVICE_CONFIG" >> ` + out
	a := newAgent(t, cfg, agent.Options{})
	if _, err := a.Prove(context.Background()); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(cfg.Device.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(data, &doc); err != nil || doc["statusTopic"] != "gateways/gw-HANDOFF/status" {
		t.Fatalf("device configuration %s: %v", data, err)
	}
	if fi, _ := os.Stat(cfg.Device.ConfigPath); fi.Mode().Perm() != 0o644 {
		t.Fatalf("device configuration mode %v, want 0644", fi.Mode().Perm())
	}
	for _, d := range []string{filepath.Join(handoffDir, "run"), filepath.Join(handoffDir, "run", "gateway")} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 {
			t.Fatalf("folder %s made for the device configuration: %v, %v; want 0755", d, fi.Mode(), err)
		}
	}
	if fi, err := os.Stat(handoffDir); err != nil || fi.Mode().Perm() != 0o711 {
		t.Fatalf("folder %s that existed: %v, %v; want it left 0711", handoffDir, fi.Mode(), err)
	}
	// A second boot does not run the hook again.
	b := newAgent(t, cfg, agent.Options{})
	if _, err := b.Prove(context.Background()); err != nil {
		t.Fatal(err)
	}
	hook, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := "gw-HANDOFF eu-west-1 " + cfg.Device.ConfigPath + "\n"; string(hook) != want {
		t.Fatalf("hook output %q, want %q", hook, want)
	}
}

// Run stays online: when its region goes away and comes back, it reconnects with
// the permanent identity, never with the claim certificate.
func TestRunReconnects(t *testing.T) {
	c := startRig(t)
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "203.0.113.0/24", "RECONNECT")
	connects := make(chan struct{}, 16)
	var claimConnects int
	a := newAgent(t, cfg, agent.Options{Observe: func(s agent.Step) {
		if s.Name == agent.StepClaimConnect {
			claimConnects++
		}
		if s.Name == agent.StepConnect && s.Err == nil {
			connects <- struct{}{}
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-connects:
		case err := <-done:
			t.Fatalf("run returned %v while waiting for %s", err, what)
		case <-time.After(60 * time.Second):
			t.Fatalf("no %s", what)
		}
	}
	wait("first connection")
	if err := c.SetRegionDown("ap-northeast-1", true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if err := c.SetRegionDown("ap-northeast-1", false); err != nil {
		t.Fatal(err)
	}
	wait("reconnection")
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if claimConnects != 1 {
		t.Fatalf("%d claim connections, want 1", claimConnects)
	}
}

// A provisioned device whose certificate the region no longer accepts: with rehome
// never it keeps trying its own identity; with rehome claim it provisions again.
func TestRehome(t *testing.T) {
	c := startRig(t)
	for _, policy := range []string{agent.RehomeNever, agent.RehomeClaim} {
		t.Run(policy, func(t *testing.T) {
			serial := "REHOME-" + policy
			cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", serial)
			cfg.Provisioning.Rehome = policy
			first := newAgent(t, cfg, agent.Options{})
			st, err := first.Prove(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Region("eu-west-1").Registry().SetCertificateStatus(st.CertificateID, registry.StatusInactive); err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var identityFailures, claimConnects int
			online := make(chan struct{}, 1)
			// Retry shortens the waits, the one before re-provisioning too.
			a := newAgent(t, cfg, agent.Options{Retry: faultRetry, Observe: func(s agent.Step) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case s.Name == agent.StepClaimConnect:
					claimConnects++
				case s.Name == agent.StepConnect && s.Err != nil && agent.ClassOf(s.Err) == agent.ClassIdentity:
					identityFailures++
				case s.Name == agent.StepConnect && s.Err == nil:
					select {
					case online <- struct{}{}:
					default:
					}
				}
			}})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			if policy == agent.RehomeClaim {
				select {
				case <-online:
				case <-ctx.Done():
					t.Fatal("never came back online")
				}
				cancel()
				<-done
				now := a.State()
				if now.CertificateID == st.CertificateID || now.ThingName != st.ThingName {
					t.Fatalf("after rehome: %+v (before %+v)", now, st)
				}
				checkOneIdentity(t, c, "eu-west-1", st.ThingName)
				return
			}
			time.Sleep(4 * time.Second)
			cancel()
			<-done
			mu.Lock()
			defer mu.Unlock()
			if claimConnects != 0 || identityFailures < 2 {
				t.Fatalf("rehome never: %d claim connections, %d refusals", claimConnects, identityFailures)
			}
		})
	}
}
