package sdnotify

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// listen makes the service manager's end: a unixgram socket in a fresh folder,
// named by NOTIFY_SOCKET for the rest of the test.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	t.Setenv("WATCHDOG_USEC", "")
	t.Setenv("WATCHDOG_PID", "")
	return c
}

// next reads one datagram, or fails after a while.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no datagram: %v", err)
	}
	return string(b[:n])
}

// none checks that nothing more arrives within a short wait.
func none(t *testing.T, c *net.UnixConn) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	if n, err := c.Read(b); err == nil {
		t.Fatalf("unexpected datagram %q", b[:n])
	}
}

func TestNotifications(t *testing.T) {
	c := listen(t)
	n := New()
	if !n.Enabled() {
		t.Fatal("Enabled() = false with NOTIFY_SOCKET set")
	}
	for _, tc := range []struct {
		name string
		send func() error
		want string
	}{
		{"ready", n.Ready, "READY=1"},
		{"status", func() error { return n.Status("provisioning: resolve global.iot.example.com") }, "STATUS=provisioning: resolve global.iot.example.com"},
		{"status of one line", func() error { return n.Status("offline, retrying: dial\nREADY=1\r\nMAINPID=1") }, "STATUS=offline, retrying: dial READY=1  MAINPID=1"},
		{"stopping", n.Stopping, "STOPPING=1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.send(); err != nil {
				t.Fatal(err)
			}
			if got := next(t, c); got != tc.want {
				t.Fatalf("datagram %q, want %q", got, tc.want)
			}
		})
	}
}

func TestZeroNotifierWorks(t *testing.T) {
	c := listen(t)
	var n Notifier
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "READY=1" {
		t.Fatalf("datagram %q", got)
	}
}

func TestWithoutNotifySocketNothingHappens(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	n := New()
	if n.Enabled() {
		t.Fatal("Enabled() = true without NOTIFY_SOCKET")
	}
	for _, f := range []func() error{n.Ready, n.Stopping, func() error { return n.Status("x") }} {
		if err := f(); err != nil {
			t.Fatal(err)
		}
	}
	w, err := n.Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if w.Interval() != 0 || w.C() != nil {
		t.Fatalf("watchdog enabled without NOTIFY_SOCKET: interval %v", w.Interval())
	}
	if err := w.Kick(); err != nil {
		t.Fatal(err)
	}
}

func TestSendErrorNamesTheAssignment(t *testing.T) {
	// A socket path nobody listens on: the datagram cannot be delivered.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	err := New().Status("secret-free but long status text")
	if err == nil {
		t.Fatal("no error sending to a missing socket")
	}
	if !strings.Contains(err.Error(), "sd_notify STATUS") || strings.Contains(err.Error(), "long status text") {
		t.Fatalf("error %q: want the assignment named, not its value", err)
	}
}

func TestWatchdogEnabled(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, usec, pid string
		want            time.Duration
		wantErr         bool
	}{
		{"unset", "", "", 0, false},
		{"half of WATCHDOG_USEC, no WATCHDOG_PID", "30000000", "", 15 * time.Second, false},
		{"half of WATCHDOG_USEC, our pid", "30000000", pid, 15 * time.Second, false},
		{"another process's watchdog", "30000000", "1", 0, false},
		{"one microsecond", "1", "", 500 * time.Nanosecond, false},
		{"malformed WATCHDOG_USEC", "30s", "", 0, true},
		{"zero WATCHDOG_USEC", "0", "", 0, true},
		{"malformed WATCHDOG_PID", "30000000", "self", 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listen(t)
			t.Setenv("WATCHDOG_USEC", tc.usec)
			t.Setenv("WATCHDOG_PID", tc.pid)
			w, err := New().Watchdog()
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if w == nil {
				t.Fatal("nil Watchdog")
			}
			defer w.Stop()
			if w.Interval() != tc.want {
				t.Fatalf("interval %v, want %v", w.Interval(), tc.want)
			}
			if (w.C() != nil) != (tc.want != 0) {
				t.Fatalf("C() nil: %v with interval %v", w.C() == nil, w.Interval())
			}
		})
	}
}

func TestWatchdogKick(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "60000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	w, err := New().Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if err := w.Kick(); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "WATCHDOG=1" {
		t.Fatalf("datagram %q", got)
	}
	// Nothing is sent behind the loop's back.
	none(t, c)
}

func TestWatchdogSleepKeepsAlive(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "40000") // keep-alive every 20 ms
	w, err := New().Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	start := time.Now()
	if err := w.Sleep(context.Background(), 150*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("Sleep returned after %v", d)
	}
	// At least two keep-alives for a wait of more than seven intervals, however
	// slow the machine.
	for i := 0; i < 2; i++ {
		if got := next(t, c); got != "WATCHDOG=1" {
			t.Fatalf("datagram %d: %q", i, got)
		}
	}
}

func TestWatchdogSleepEndsWithContext(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "60000000")
	w, err := New().Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep on a cancelled context: %v", err)
	}
}

func TestDisabledWatchdogSleepJustSleeps(t *testing.T) {
	c := listen(t)
	w, err := New().Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Sleep(context.Background(), 10*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	none(t, c)
}

func TestWatchdogSleepReportsALostKeepAlive(t *testing.T) {
	listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	w, err := New().Watchdog()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The manager's socket goes away while the loop waits.
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "gone"))
	if err := w.Sleep(context.Background(), 100*time.Millisecond); err == nil || !strings.Contains(err.Error(), "sd_notify WATCHDOG") {
		t.Fatalf("Sleep: %v, want the lost keep-alive", err)
	}
}
