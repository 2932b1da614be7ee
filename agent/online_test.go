package agent_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/provisioning"
)

// onlineLog records what Options.OnOnline and Options.Observe report.
type onlineLog struct {
	mu     sync.Mutex
	states []agent.State
	steps  []agent.StepName
	// published counts publish-status steps that succeeded.
	published int
	online    chan struct{}
}

func newOnlineLog() *onlineLog { return &onlineLog{online: make(chan struct{}, 16)} }

func (l *onlineLog) options(o agent.Options) agent.Options {
	o.OnOnline = func(st agent.State) {
		l.mu.Lock()
		l.states = append(l.states, st)
		l.mu.Unlock()
		l.online <- struct{}{}
	}
	o.Observe = func(s agent.Step) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.steps = append(l.steps, s.Name)
		if s.Name == agent.StepPublishStatus && s.Err == nil {
			l.published++
		}
	}
	return o
}

func (l *onlineLog) snapshot() ([]agent.State, []agent.StepName, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.states), slices.Clone(l.steps), l.published
}

func (l *onlineLog) wait(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case <-l.online:
	case err := <-done:
		t.Fatalf("run returned %v before the device was online", err)
	case <-time.After(60 * time.Second):
		t.Fatal("OnOnline never called")
	}
}

// OnOnline is called once each time the device gets online, with the online
// state, and only then: once for Prove, once more for each reconnect of Run.
// The claim connection's client id carries provisioning.ClaimClientIDPrefix, the
// permanent one is the thing name.
func TestOnOnlineOncePerOnline(t *testing.T) {
	c := startRig(t)
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", "ONLINE-CB")
	var mu sync.Mutex
	var clientIDs []string
	dial := func(ctx context.Context, dc provisioning.DialConfig) (*provisioning.Conn, error) {
		mu.Lock()
		clientIDs = append(clientIDs, dc.ClientID)
		mu.Unlock()
		return provisioning.Dial(ctx, dc)
	}
	l := newOnlineLog()
	a := newAgent(t, cfg, l.options(agent.Options{Dial: dial, Retry: faultRetry}))
	st, err := a.Prove(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	states, steps, published := l.snapshot()
	if len(states) != 1 || published != 1 {
		t.Fatalf("after Prove: OnOnline called %d times, %d status publishes (steps %v); want 1 and 1", len(states), published, steps)
	}
	if got := states[0]; got.Phase != agent.PhaseOnline || got.ThingName != st.ThingName || got.Region != "eu-west-1" {
		t.Fatalf("OnOnline got %+v, want the online state of %s in eu-west-1", got, st.ThingName)
	}
	for _, want := range []agent.StepName{agent.StepResolve, agent.StepKey, agent.StepClaimConnect, agent.StepSubscribe,
		agent.StepCreateCertificate, agent.StepRegisterThing, agent.StepConnect, agent.StepPublishStatus} {
		if !slices.Contains(steps, want) {
			t.Errorf("steps %v lack %s", steps, want)
		}
	}
	if last := steps[len(steps)-1]; last != agent.StepPublishStatus {
		t.Errorf("last step %s, want %s", last, agent.StepPublishStatus)
	}
	mu.Lock()
	ids := slices.Clone(clientIDs)
	mu.Unlock()
	if len(ids) != 2 || !strings.HasPrefix(ids[0], provisioning.ClaimClientIDPrefix) ||
		len(ids[0]) <= len(provisioning.ClaimClientIDPrefix) || ids[1] != st.ThingName {
		t.Fatalf("client ids %q: want a claim id starting %q, then the thing name %s", ids, provisioning.ClaimClientIDPrefix, st.ThingName)
	}
	<-l.online

	// Run: online, the region goes away and comes back, online again.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	l.wait(t, done)
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a failed reconnect", func() bool {
		_, steps, _ := l.snapshot()
		return len(steps) > 0 && steps[len(steps)-1] == agent.StepConnect
	})
	if err := c.SetRegionDown("eu-west-1", false); err != nil {
		t.Fatal(err)
	}
	l.wait(t, done)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	states, steps, published = l.snapshot()
	if len(states) != 3 || published != 3 {
		t.Fatalf("OnOnline called %d times, %d status publishes (steps %v); want 3 and 3", len(states), published, steps)
	}
	for i, s := range states {
		if s.Phase != agent.PhaseOnline || s.ThingName != st.ThingName {
			t.Errorf("OnOnline call %d got %+v", i, s)
		}
	}
}
