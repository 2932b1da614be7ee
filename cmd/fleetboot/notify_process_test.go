package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// `fleetboot run` under a service manager's notify socket: a status line per
// phase, READY=1 once the identity is usable and before the online status, the
// watchdog fed while online, STOPPING=1 on SIGTERM.
func TestProcessRunNotifiesSystemd(t *testing.T) {
	rig := startRigProcess(t)
	d := newDevice(t, rig, "192.0.2.0/24", "NOTIFY-1")
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	messages := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), got...)
	}
	index := func(ms []string, prefix string) int {
		for i, m := range ms {
			if strings.HasPrefix(m, prefix) {
				return i
			}
		}
		return -1
	}

	fb, _ := binaries(t)
	cmd := exec.Command(fb, append([]string{"run", "--state-dir", d.stateDir}, d.args...)...)
	// A watchdog of 400 ms: keep-alives every 200 ms.
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ms := messages()
		if i := index(ms, "STATUS=online as gw-NOTIFY-1"); i >= 0 && strings.Count(strings.Join(ms[i:], "\n"), "WATCHDOG=1") >= 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run after SIGTERM: %v\n%s", err, logs.String())
	}
	time.Sleep(100 * time.Millisecond) // the last datagram is in the socket already
	ms := messages()
	first, ready, online := index(ms, "STATUS=provisioning: first boot"), index(ms, "READY=1"), index(ms, "STATUS=online as gw-NOTIFY-1 in eu-west-1")
	if first < 0 || ready < 0 || online < 0 || !(first < ready && ready < online) {
		t.Fatalf("notify messages %q: want the first-boot status, then READY=1, then the online status", ms)
	}
	if n := strings.Count(strings.Join(ms[online:], "\n"), "WATCHDOG=1"); n < 2 {
		t.Fatalf("%d keep-alives while online: %q", n, ms)
	}
	if ms[len(ms)-1] != "STOPPING=1" {
		t.Fatalf("last message %q, want STOPPING=1 after SIGTERM: %q", ms[len(ms)-1], ms)
	}
}
