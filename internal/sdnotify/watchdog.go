package sdnotify

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Watchdog paces the WATCHDOG=1 keep-alives of a unit with WatchdogSec=. It does
// not send them by itself: the loop whose progress it vouches for calls Kick when
// C ticks, or waits with Sleep, so that a loop that is stuck (a deadlock, a call
// that never returns, a SIGSTOPped process) stops the keep-alives and systemd kills
// and restarts the service. A goroutine of its own would keep a stuck agent alive.
//
// A disabled Watchdog (no NOTIFY_SOCKET, no WATCHDOG_USEC, or a WATCHDOG_PID that is
// another process's) has a zero Interval and a nil C, which blocks forever in a
// select; Kick is a no-op and Sleep just sleeps.
//
// A Watchdog is used by one loop at a time; Kick may be called from any goroutine.
type Watchdog struct {
	n        *Notifier
	interval time.Duration
	ticker   *time.Ticker
}

// Watchdog returns the watchdog helper of this process, as sd_watchdog_enabled(3)
// decides it: enabled when WATCHDOG_USEC is set and WATCHDOG_PID is unset or this
// process's id, and NOTIFY_SOCKET is set. Its interval is half of WATCHDOG_USEC, as
// sd_watchdog_enabled(3) advises, so that one late keep-alive is not fatal. A
// malformed WATCHDOG_USEC or WATCHDOG_PID is an error, with a disabled Watchdog.
// Stop releases its ticker.
func (n *Notifier) Watchdog() (*Watchdog, error) {
	w := &Watchdog{n: n}
	if !n.Enabled() {
		return w, nil
	}
	usec, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return w, fmt.Errorf("systemd watchdog (WATCHDOG_USEC=%q WATCHDOG_PID=%q, pid %d): %w",
			os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid(), err)
	}
	if usec <= 0 {
		return w, nil
	}
	w.interval = usec / 2 // at least 500 ns: WATCHDOG_USEC counts whole microseconds
	w.ticker = time.NewTicker(w.interval)
	return w, nil
}

// Interval is the time between keep-alives, half of WATCHDOG_USEC; zero when the
// watchdog is disabled.
func (w *Watchdog) Interval() time.Duration { return w.interval }

// C ticks once per Interval; on each tick the loop calls Kick. It is nil when the
// watchdog is disabled.
func (w *Watchdog) C() <-chan time.Time {
	if w.ticker == nil {
		return nil
	}
	return w.ticker.C
}

// Kick sends one keep-alive (WATCHDOG=1). Disabled, it does nothing.
func (w *Watchdog) Kick() error {
	if w.interval == 0 {
		return nil
	}
	return w.n.send(daemon.SdNotifyWatchdog)
}

// Sleep waits for d or until ctx ends, sending a keep-alive at every tick in
// between, so that a backoff longer than the watchdog's timeout is not taken for a
// hang. It returns ctx.Err() if ctx ended first, and the first keep-alive error
// otherwise (the wait goes on after an error: a lost keep-alive is for systemd to
// judge).
func (w *Watchdog) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	var first error
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return first
		case <-w.C():
			if err := w.Kick(); err != nil && first == nil {
				first = err
			}
		}
	}
}

// Stop releases the ticker; C ticks no more. Kick still works.
func (w *Watchdog) Stop() {
	if w.ticker != nil {
		w.ticker.Stop()
	}
}
