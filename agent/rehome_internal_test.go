package agent

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

// A full disk is retried in place (the write again, nothing before it) and is
// transient, not "config": systemd's RestartPreventExitStatus must not stop it.
func TestRetryDiskFullRetriesTheWrite(t *testing.T) {
	a := &Agent{log: zap.NewNop(), retry: &Backoff{Base: time.Millisecond, Cap: time.Millisecond}}
	calls := 0
	err := a.retryDiskFull(context.Background(), "state", func() error {
		calls++
		if calls <= 3 {
			return fmt.Errorf("write state.json: %w", syscall.ENOSPC)
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d writes, want nil after 4", err, calls)
	}
	if c := ClassOf(storageErr("save state", syscall.ENOSPC)); c != ClassTransient {
		t.Fatalf("ENOSPC classed %s, want transient", c)
	}
}

// The wait before the n-th re-provisioning grows and is capped; the record
// survives a new Agent on the same store (a restart).
func TestRehomeBackoffGrowsAcrossRestarts(t *testing.T) {
	store := RehomeFile(t.TempDir())
	mk := func() *Agent {
		return &Agent{log: zap.NewNop(), now: time.Now, rehomeStore: store, state: &State{Phase: PhaseOnline},
			retry: &Backoff{Base: time.Millisecond, Cap: 8 * time.Millisecond, Rand: func() float64 { return 0 }}}
	}
	var waits []time.Duration
	for range 5 {
		a := mk()
		if err := a.waitBeforeRehome(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		rec, _ := store.LoadRehome()
		waits = append(waits, rec.Wait)
		if err := a.rehomeServed(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	rec, _ := store.LoadRehome()
	if rec.Attempts != 5 {
		t.Fatalf("attempts %d, want 5", rec.Attempts)
	}
	want := []time.Duration{500 * time.Microsecond, time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
	if fmt.Sprint(waits) != fmt.Sprint(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
}
