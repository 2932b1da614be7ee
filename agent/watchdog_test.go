package agent_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
)

// fakeWatchdog ticks when the test says so and counts keep-alives.
type fakeWatchdog struct {
	c     chan time.Time
	mu    sync.Mutex
	kicks int
}

func (w *fakeWatchdog) C() <-chan time.Time { return w.c }
func (w *fakeWatchdog) Kick() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.kicks++
	return nil
}
func (w *fakeWatchdog) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.kicks
}

// Run tells when the identity is usable (before the first connection), feeds the
// watchdog while online and while it waits to retry, and stops feeding it when
// it returns.
func TestRunReadyAndWatchdog(t *testing.T) {
	c := startRig(t)
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", "WATCHDOG-1")
	wd := &fakeWatchdog{c: make(chan time.Time)}
	var mu sync.Mutex
	var order []string
	online := make(chan struct{}, 4)
	a := newAgent(t, cfg, agent.Options{
		Watchdog: wd,
		OnReady: func(st agent.State) {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, "ready:"+string(st.Phase))
		},
		OnOnline: func(agent.State) {
			mu.Lock()
			order = append(order, "online")
			mu.Unlock()
			online <- struct{}{}
		},
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-online:
	case err := <-done:
		t.Fatalf("Run ended before going online: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("not online within a minute")
	}
	for i := 0; i < 3; i++ {
		wd.c <- time.Now() // blocks until the online loop takes the tick
	}
	// The unbuffered send above returns when the tick is received; its Kick follows.
	for deadline := time.Now().Add(10 * time.Second); wd.count() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := wd.count(); n != 3 {
		t.Fatalf("%d keep-alives for 3 ticks while online", n)
	}
	mu.Lock()
	got := append([]string(nil), order...)
	mu.Unlock()
	if len(got) != 2 || got[0] != "ready:registered" || got[1] != "online" {
		t.Fatalf("callbacks %v, want ready (registered) before online", got)
	}

	// Offline: the region down, the agent waits between attempts and still feeds
	// the watchdog, since waiting with backoff is progress.
	if err := c.SetRegionDown("eu-west-1", true); err != nil {
		t.Fatal(err)
	}
	select {
	case wd.c <- time.Now():
	case <-time.After(30 * time.Second):
		t.Fatal("no loop took the watchdog's tick while the region was down")
	}
	for deadline := time.Now().Add(10 * time.Second); wd.count() < 4 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if n := wd.count(); n != 4 {
		t.Fatalf("%d keep-alives after a tick taken while the region was down, want 4", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case wd.c <- time.Now():
		t.Fatal("a tick was taken after Run returned")
	case <-time.After(100 * time.Millisecond):
	}
}

// A provisioned device that starts with the cloud out of reach is ready: its
// identity on disk is usable (systemd's READY=1 for an offline start).
func TestRunReadyOffline(t *testing.T) {
	c := startRig(t)
	state := t.TempDir()
	cfg := deviceConfig(t, c, state, agent.ModeCSR, "json", "192.0.2.0/24", "OFFLINE-1")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := newAgent(t, cfg, agent.Options{}).Prove(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close()
	ready := make(chan agent.State, 1)
	a := newAgent(t, cfg, agent.Options{OnReady: func(st agent.State) { ready <- st }})
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(rctx) }()
	select {
	case st := <-ready:
		if st.ThingName != "gw-OFFLINE-1" {
			t.Fatalf("ready with %+v", st)
		}
	case err := <-done:
		t.Fatalf("Run ended: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready with the cloud out of reach")
	}
	rcancel()
	<-done
}
