package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Watchdog is a keep-alive the agent's loops feed while they make progress.
type Watchdog interface {
	// C ticks when a keep-alive is due; nil when the watchdog is off.
	C() <-chan time.Time
	// Kick sends one keep-alive.
	Kick() error
}

// sleep waits for d or until ctx ends, feeding the watchdog on its ticks: a wait
// between attempts is progress, a loop stuck elsewhere is not.
func (a *Agent) sleep(ctx context.Context, d time.Duration) error {
	if a.watchdog == nil {
		return sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return nil
		case <-a.watchdog.C():
			a.kick()
		}
	}
}

// watchdogC is the watchdog's tick, nil (never ready) without one.
func (a *Agent) watchdogC() <-chan time.Time {
	if a.watchdog == nil {
		return nil
	}
	return a.watchdog.C()
}

func (a *Agent) kick() {
	if err := a.watchdog.Kick(); err != nil {
		a.log.Warn("watchdog keep-alive", zap.Error(err))
	}
}
