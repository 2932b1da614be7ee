package agent_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

// faultRetry keeps retry loops short: a fault test is about what the agent does,
// not about how long it waits.
var faultRetry = &agent.Backoff{Base: 20 * time.Millisecond, Cap: 200 * time.Millisecond}

// faultTimeout bounds one request/reply exchange in fault tests: a lost reply
// costs this much.
const faultTimeout = 2 * time.Second

// journal records the steps an agent reports, and signals each successful
// permanent connection.
type journal struct {
	mu     sync.Mutex
	steps  []agent.Step
	online chan struct{}
}

func newJournal() *journal { return &journal{online: make(chan struct{}, 16)} }

func (j *journal) observe(s agent.Step) {
	j.mu.Lock()
	j.steps = append(j.steps, s)
	j.mu.Unlock()
	if s.Name == agent.StepConnect && s.Err == nil {
		j.online <- struct{}{}
	}
}

// count returns how many steps named name ended with err matching match (nil:
// any outcome).
func (j *journal) count(name agent.StepName, match func(error) bool) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, s := range j.steps {
		if s.Name == name && (match == nil || match(s.Err)) {
			n++
		}
	}
	return n
}

func failedWith(c agent.Class) func(error) bool {
	return func(err error) bool { return err != nil && agent.ClassOf(err) == c }
}

// waitFor polls cond until it holds or the test's patience runs out.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// running is an agent's Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

func startRun(a *agent.Agent) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx) }()
	return r
}

// waitOnline waits for the next successful permanent connection.
func (r *running) waitOnline(t *testing.T, j *journal) {
	t.Helper()
	select {
	case <-j.online:
	case err := <-r.done:
		t.Fatalf("run returned %v before the device was online", err)
	case <-time.After(60 * time.Second):
		t.Fatal("device never came online")
	}
}

// stop ends Run and checks it ended cleanly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// faultDevice is a CSR-flow device in eu-west-1 with short timeouts and retries.
func faultDevice(t *testing.T, c *mockcloud.Cloud, serial string, opts agent.Options) (*agent.Agent, *agent.Config, *journal) {
	t.Helper()
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", serial)
	cfg.Provisioning.Timeout = agent.Duration(faultTimeout)
	j := newJournal()
	opts.Observe = j.observe
	opts.Retry = faultRetry
	return newAgent(t, cfg, opts), cfg, j
}

func pendingIn(t *testing.T, c *mockcloud.Cloud, region string) int {
	t.Helper()
	certs, err := c.Region(region).Registry().ListCertificates("")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, x := range certs {
		if x.Status == registry.StatusPendingActivation {
			n++
		}
	}
	return n
}

// activeFor returns the ACTIVE certificates attached to thing.
func activeFor(t *testing.T, c *mockcloud.Cloud, region, thing string) []string {
	t.Helper()
	reg := c.Region(region).Registry()
	principals, err := reg.PrincipalsForThing(thing)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range principals {
		cert, err := reg.GetCertificate(p)
		if err != nil {
			t.Fatal(err)
		}
		if cert.Status == registry.StatusActive {
			out = append(out, p)
		}
	}
	return out
}

// checkOrphansSwept moves the cloud past the token lifetime and checks that the
// never-activated certificates a fault left are deleted.
func checkOrphansSwept(t *testing.T, c *mockcloud.Cloud, region string) {
	t.Helper()
	c.AdvanceClock(2 * time.Hour)
	if _, err := c.Region(region).SweepExpiredTokens(); err != nil {
		t.Fatal(err)
	}
	if n := pendingIn(t, c, region); n != 0 {
		t.Fatalf("%d never-activated certificates left after the token sweep", n)
	}
}

var (
	opCSR      = provisioning.OpCreateCertificateFromCSR
	opRegister = provisioning.OpRegisterThing
)

// A reply lost after the request was applied, or one that comes after the agent
// stopped waiting: the exchange fails with ErrNoReply (transient) and Run tries
// again on a new claim connection. A lost CreateCertificateFromCsr reply leaves one
// never-activated certificate, deleted when its token expires; the device ends
// with one thing and one ACTIVE certificate.
func TestFaultReplyLostOrLate(t *testing.T) {
	c := startRig(t)
	for _, tc := range []struct {
		name   string
		faults iotcore.Faults
		step   agent.StepName
	}{
		{"lost", iotcore.Faults{LoseReply: &iotcore.Match{Ops: []provisioning.Operation{opCSR}, Times: 1}}, agent.StepCreateCertificate},
		{"late", iotcore.Faults{DelayReply: &iotcore.Delay{Match: iotcore.Match{Ops: []provisioning.Operation{opCSR}, Times: 1}, By: 2 * faultTimeout}}, agent.StepCreateCertificate},
		{"dropped-after-request", iotcore.Faults{Drop: &iotcore.Drop{At: iotcore.DropAfterRequest, Match: iotcore.Match{Ops: []provisioning.Operation{opCSR}, Times: 1}}}, agent.StepCreateCertificate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pending := pendingIn(t, c, "eu-west-1")
			c.Region("eu-west-1").SetFaults(tc.faults)
			t.Cleanup(func() { c.Region("eu-west-1").SetFaults(iotcore.Faults{}) })
			a, _, j := faultDevice(t, c, "LOST-"+tc.name, agent.Options{})
			r := startRun(a)
			r.waitOnline(t, j)
			r.stop(t)
			if n := j.count(tc.step, failedWith(agent.ClassTransient)); n != 1 {
				t.Fatalf("%d transient %s failures, want 1", n, tc.step)
			}
			if tc.name != "dropped-after-request" && j.count(tc.step, func(err error) bool { return errors.Is(err, agent.ErrNoReply) }) != 1 {
				t.Fatalf("%s failure is not ErrNoReply", tc.step)
			}
			if n := j.count(agent.StepClaimConnect, nil); n != 2 {
				t.Fatalf("%d claim connections, want 2: the retry uses a new one", n)
			}
			checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
			if n := pendingIn(t, c, "eu-west-1") - pending; n != 1 {
				t.Fatalf("%d never-activated certificates, want the 1 of the lost exchange", n)
			}
		})
	}
	checkOrphansSwept(t, c, "eu-west-1")
}

// A lost RegisterThing reply is the one case fleet provisioning cannot make
// exactly-once: the agent repeats RegisterThing with the same token on a new
// connection, the cloud refuses the used token, and the agent gets new
// credentials. The thing then holds two ACTIVE certificates, the device uses the
// newer, and the agent names the other in a warning so it can be deactivated.
func TestFaultRegisterThingReplyLost(t *testing.T) {
	c := startRig(t)
	c.Region("eu-west-1").SetFaults(iotcore.Faults{LoseReply: &iotcore.Match{Ops: []provisioning.Operation{opRegister}, Times: 1}})
	core, logs := observer.New(zapcore.WarnLevel)
	log := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))
	var first string
	var stateDir string
	a, cfg, j := faultDevice(t, c, "LOST-REGISTER", agent.Options{Logger: log, FaultPoint: func(p agent.Phase) {
		if st, err := agent.LoadState(stateDir); err == nil && p == agent.PhaseCredentialed && first == "" {
			first = st.CertificateID
		}
	}})
	stateDir = cfg.StateDir
	r := startRun(a)
	r.waitOnline(t, j)
	r.stop(t)
	if n := j.count(agent.StepRegisterThing, func(err error) bool { return errors.Is(err, agent.ErrNoReply) }); n != 1 {
		t.Fatalf("%d RegisterThing timeouts, want 1", n)
	}
	st := a.State()
	active := activeFor(t, c, "eu-west-1", st.ThingName)
	if len(active) != 2 || st.CertificateID == first {
		t.Fatalf("ACTIVE certificates %v, device uses %s, lost exchange %s: want both ACTIVE, the device on the newer", active, st.CertificateID, first)
	}
	warned := logs.FilterMessageSnippet("may have been applied").FilterField(zap.String("certificate", first))
	if warned.Len() != 1 {
		t.Fatalf("no warning naming certificate %s; warnings: %v", first, logs.All())
	}
	checkOneThing(t, c, "eu-west-1", st.ThingName)
}

func checkOneThing(t *testing.T, c *mockcloud.Cloud, region, thing string) {
	t.Helper()
	things, err := c.Region(region).Registry().ListThings(registry.ThingFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, th := range things {
		if th.Name == thing {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d things named %s, want 1", n, thing)
	}
}

// Every reply sent twice: the agent uses the first and drops the copy; nothing
// is created twice.
func TestFaultDuplicateReplies(t *testing.T) {
	c := startRig(t)
	c.Region("eu-west-1").SetFaults(iotcore.Faults{DuplicateReply: &iotcore.Match{}})
	a, _, j := faultDevice(t, c, "DUPLICATE", agent.Options{})
	st, err := a.Prove(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := c.Region("eu-west-1").FaultCounts().RepliesDuplicated; n != 2 {
		t.Fatalf("%d replies duplicated, want 2 (certificate and registration)", n)
	}
	if n := j.count(agent.StepClaimConnect, nil); n != 1 {
		t.Fatalf("%d claim connections, want 1", n)
	}
	checkOneIdentity(t, c, "eu-west-1", st.ThingName)
	if n := pendingIn(t, c, "eu-west-1"); n != 0 {
		t.Fatalf("%d never-activated certificates, want 0", n)
	}
}

// The connection dropped at each step before the service applied anything: Run
// retries on a new connection and nothing is left behind.
func TestFaultConnectionDroppedAtEachStep(t *testing.T) {
	c := startRig(t)
	for _, tc := range []struct {
		name  string
		drop  iotcore.Drop
		step  agent.StepName // the step that fails
		class agent.Class
	}{
		// A close at CONNECT without CONNACK is how AWS refuses an identity over
		// MQTT 3.1.1: counted as such, and Run still retries it.
		{"connect", iotcore.Drop{At: iotcore.DropAtConnect}, agent.StepClaimConnect, agent.ClassIdentity},
		{"subscribe", iotcore.Drop{At: iotcore.DropAtSubscribe}, agent.StepSubscribe, agent.ClassTransient},
		{"create-request", iotcore.Drop{At: iotcore.DropAtRequest, Match: iotcore.Match{Ops: []provisioning.Operation{opCSR}}}, agent.StepCreateCertificate, agent.ClassTransient},
		{"register-request", iotcore.Drop{At: iotcore.DropAtRequest, Match: iotcore.Match{Ops: []provisioning.Operation{opRegister}}}, agent.StepRegisterThing, agent.ClassTransient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.drop.Times = 1
			c.Region("eu-west-1").SetFaults(iotcore.Faults{Drop: &tc.drop})
			t.Cleanup(func() { c.Region("eu-west-1").SetFaults(iotcore.Faults{}) })
			a, _, j := faultDevice(t, c, "DROP-"+tc.name, agent.Options{})
			r := startRun(a)
			r.waitOnline(t, j)
			r.stop(t)
			if n := j.count(tc.step, failedWith(tc.class)); n != 1 {
				t.Fatalf("%d %s %s failures, want 1", n, tc.class, tc.step)
			}
			if n := j.count(agent.StepClaimConnect, nil); n != 2 {
				t.Fatalf("%d claim connections, want 2", n)
			}
			checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
			if n := pendingIn(t, c, "eu-west-1"); n != 0 {
				t.Fatalf("%d never-activated certificates, want 0", n)
			}
		})
	}
}

// TCP accepted, TLS never answered: the connect attempt times out (transient) and
// the next one, once the server answers, goes through.
func TestFaultTLSHandshakeStall(t *testing.T) {
	c := startRig(t)
	c.Region("eu-west-1").SetFaults(iotcore.Faults{StallHandshake: &iotcore.Stall{Times: 1}})
	a, _, j := faultDevice(t, c, "STALL", agent.Options{})
	r := startRun(a)
	r.waitOnline(t, j)
	r.stop(t)
	if n := j.count(agent.StepClaimConnect, failedWith(agent.ClassTransient)); n != 1 {
		t.Fatalf("%d transient claim-connect failures, want 1", n)
	}
	if n := c.Region("eu-west-1").FaultCounts().HandshakesStalled; n != 1 {
		t.Fatalf("%d handshakes stalled, want 1", n)
	}
	checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
}

// The home region down at first boot: connection refused is transient; the agent
// keeps trying and provisions once the region is back.
func TestFaultRegionDownAtFirstBoot(t *testing.T) {
	c := startRig(t)
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	a, _, j := faultDevice(t, c, "DOWN", agent.Options{})
	r := startRun(a)
	waitFor(t, "two refused connections", func() bool {
		return j.count(agent.StepClaimConnect, failedWith(agent.ClassTransient)) >= 2
	})
	if err := c.SetRegionDown("eu-west-1", false); err != nil {
		t.Fatal(err)
	}
	r.waitOnline(t, j)
	r.stop(t)
	checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
}

// Throttled provisioning requests (429 ThrottlingException): the failure is
// ClassThrottled, Run backs off and retries on its own, and succeeds when the
// throttle lifts. A single Prove returns the class for the caller (exit code 5).
func TestFaultThrottled(t *testing.T) {
	c := startRig(t)
	region := c.Region("eu-west-1")
	region.SetFaults(iotcore.Faults{Throttle: &iotcore.Throttle{}})

	once, _, _ := faultDevice(t, c, "THROTTLED-ONCE", agent.Options{})
	_, err := once.Prove(context.Background())
	var e *agent.Error
	if !errors.As(err, &e) || e.Class != agent.ClassThrottled {
		t.Fatalf("prove while throttled: %v, want class throttled", err)
	}

	a, _, j := faultDevice(t, c, "THROTTLED", agent.Options{})
	r := startRun(a)
	waitFor(t, "three throttled attempts", func() bool {
		return j.count(agent.StepCreateCertificate, failedWith(agent.ClassThrottled)) >= 3
	})
	region.SetFaults(iotcore.Faults{})
	r.waitOnline(t, j)
	r.stop(t)
	checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
	// Throttled requests are not applied: no certificate was issued for them.
	if n := pendingIn(t, c, "eu-west-1"); n != 0 {
		t.Fatalf("%d never-activated certificates, want 0", n)
	}
}

// AWS allows one CONNECT per second per client id. A device that connects again
// too soon as its thing is refused (the connection closes without CONNACK), backs
// off and gets in; it never falls back to the claim certificate.
func TestFaultConnectRatePerClientID(t *testing.T) {
	c := startRig(t)
	region := c.Region("eu-west-1")
	// A minute, so the CONNECT after Prove's is refused however slow the machine;
	// then AWS's second, which has passed by then. Claim connections use a new
	// client id each, so the limit does not touch them.
	region.SetFaults(iotcore.Faults{ClientIDConnectInterval: time.Minute})
	first, cfg, _ := faultDevice(t, c, "RATE", agent.Options{})
	if _, err := first.Prove(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	j := newJournal()
	a := newAgent(t, cfg, agent.Options{Observe: j.observe, Retry: faultRetry})
	r := startRun(a)
	// AWS closes a CONNECT over the rate without CONNACK, as it does one its policy
	// denies: on the wire it is a refusal of the identity, which the agent retries.
	waitFor(t, "a refused connect", func() bool { return j.count(agent.StepConnect, failedWith(agent.ClassIdentity)) >= 1 })
	region.SetFaults(iotcore.Faults{ClientIDConnectInterval: iotcore.ConnectIntervalAWS})
	r.waitOnline(t, j)
	r.stop(t)
	if n := region.FaultCounts().ConnectsThrottled; n < 1 {
		t.Fatalf("%d connects throttled, want at least 1", n)
	}
	if n := j.count(agent.StepClaimConnect, nil); n != 0 {
		t.Fatalf("%d claim connections after provisioning, want 0", n)
	}
}

// The ownership token expires between CreateCertificateFromCsr and RegisterThing
// (the cloud's clock jumps): RegisterThing is refused, the agent gets new
// credentials in the same call, and the certificate of the expired token is gone.
func TestFaultTokenExpiresBeforeRegisterThing(t *testing.T) {
	c := startRig(t)
	var stateDir, first string
	a, cfg, j := faultDevice(t, c, "EXPIRES", agent.Options{FaultPoint: func(p agent.Phase) {
		if p == agent.PhaseCredentialed && first == "" {
			st, err := agent.LoadState(stateDir)
			if err == nil {
				first = st.CertificateID
			}
			c.AdvanceClock(2 * time.Hour)
		}
	}})
	stateDir = cfg.StateDir
	st, err := a.Prove(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n := j.count(agent.StepRegisterThing, func(err error) bool {
		r, ok := provisioning.AsRejected(err)
		return ok && r.TokenRejected()
	}); n != 1 {
		t.Fatalf("%d refused tokens, want 1", n)
	}
	if n := j.count(agent.StepCreateCertificate, nil); n != 2 {
		t.Fatalf("%d certificates requested, want 2", n)
	}
	checkOneIdentity(t, c, "eu-west-1", st.ThingName)
	if _, err := c.Region("eu-west-1").Registry().GetCertificate(first); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("certificate of the expired token: %v, want deleted", err)
	}
}

// A certificate made INACTIVE or REVOKED while the device is online: the region
// drops the connection, reconnects fail with ClassIdentity, and then the rehome
// setting decides: never keeps trying its own identity without touching the claim
// certificate; claim provisions again after repeated refusals.
func TestFaultCertificateDeactivatedWhileOnline(t *testing.T) {
	c := startRig(t)
	for _, status := range []string{registry.StatusInactive, registry.StatusRevoked} {
		for _, rehome := range []string{agent.RehomeNever, agent.RehomeClaim} {
			t.Run(status+"-rehome-"+rehome, func(t *testing.T) {
				cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", "OFF-"+status+"-"+rehome)
				cfg.Provisioning.Timeout = agent.Duration(faultTimeout)
				cfg.Provisioning.Rehome = rehome
				j := newJournal()
				a := newAgent(t, cfg, agent.Options{Observe: j.observe, Retry: faultRetry})
				r := startRun(a)
				r.waitOnline(t, j)
				before := a.State()
				if err := c.Region("eu-west-1").SetCertificateStatus(before.CertificateID, status); err != nil {
					t.Fatal(err)
				}
				if rehome == agent.RehomeNever {
					waitFor(t, "four refused reconnects", func() bool {
						return j.count(agent.StepConnect, failedWith(agent.ClassIdentity)) >= 4
					})
					r.stop(t)
					if n := j.count(agent.StepClaimConnect, nil); n != 1 {
						t.Fatalf("%d claim connections, want only the first boot's", n)
					}
					if st := a.State(); st.CertificateID != before.CertificateID || st.Phase != agent.PhaseOnline {
						t.Fatalf("state changed with rehome never: %+v", st)
					}
					return
				}
				r.waitOnline(t, j)
				r.stop(t)
				after := a.State()
				if after.CertificateID == before.CertificateID || after.ThingName != before.ThingName {
					t.Fatalf("after rehome: %+v (before %+v)", after, before)
				}
				if n := j.count(agent.StepConnect, failedWith(agent.ClassIdentity)); n < 3 {
					t.Fatalf("%d refused reconnects before rehoming, want at least 3", n)
				}
				checkOneIdentity(t, c, "eu-west-1", after.ThingName)
			})
		}
	}
	if n := c.Region("eu-west-1").FaultCounts().CertificateDisconnects; n != 4 {
		t.Fatalf("%d connections closed for a deactivated certificate, want 4", n)
	}
}

// Offline first: a provisioned device whose DNS is gone and whose home region is
// down boots with its saved addresses and identity, keeps trying its pinned
// region, and is online as soon as the region is back. It never falls back to
// the claim certificate for a transient failure.
func TestFaultDNSAndRegionDownAfterProvisioning(t *testing.T) {
	c := startRig(t)
	first, cfg, _ := faultDevice(t, c, "OFFLINE", agent.Options{})
	if _, err := first.Prove(context.Background()); err != nil {
		t.Fatal(err)
	}
	first.Close()
	// Nothing listens on the discard port: every DNS query fails.
	cfg.DNS.Servers = []string{"127.0.0.1:9"}
	cfg.DNS.Timeout = agent.Duration(200 * time.Millisecond)
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.WarnLevel)
	j := newJournal()
	a := newAgent(t, cfg, agent.Options{Observe: j.observe, Retry: faultRetry,
		Logger: zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core))})
	r := startRun(a)
	waitFor(t, "two refused connects to the pinned region", func() bool {
		return j.count(agent.StepConnect, failedWith(agent.ClassTransient)) >= 2
	})
	if err := c.SetRegionDown("eu-west-1", false); err != nil {
		t.Fatal(err)
	}
	r.waitOnline(t, j)
	r.stop(t)
	if n := j.count(agent.StepClaimConnect, nil); n != 0 {
		t.Fatalf("%d claim connections, want 0", n)
	}
	if logs.FilterMessageSnippet("using saved addresses").Len() == 0 {
		t.Fatal("no warning that the saved addresses were used: DNS was not down")
	}
	checkOneIdentity(t, c, "eu-west-1", a.State().ThingName)
}
