// Package tpmtest gives tests a TPM: go-tpm's in-process simulator (cgo and
// OpenSSL's libcrypto, so test builds only) or swtpm as a separate process, and
// checks that a test left no transient objects behind.
package tpmtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpmutil"
)

// Sim is the in-process TPM simulator. Only one exists per process at a time:
// a second NewSimulator waits until the first is closed.
type Sim struct {
	mu     sync.Mutex
	sim    *simulator.Simulator
	closed bool
}

var _ transport.TPMCloser = (*Sim)(nil)

// NewSimulator starts a freshly manufactured simulator and closes it when the
// test ends, after checking that no transient objects are left.
func NewSimulator(t testing.TB) *Sim {
	t.Helper()
	sim, err := simulator.Get()
	if err != nil {
		t.Fatalf("start TPM simulator: %v", err)
	}
	s := &Sim{sim: sim}
	t.Cleanup(func() {
		if !s.isClosed() {
			CheckNoTransients(t, s)
		}
		s.Close()
	})
	return s
}

func (s *Sim) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Send implements transport.TPM.
func (s *Sim) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("simulator closed")
	}
	return tpmutil.RunCommandRaw(s.sim, cmd)
}

// Restart power-cycles the simulator as a reboot would: transient objects and
// sessions go, persistent objects and seeds stay.
func (s *Sim) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sim.Reset()
}

// Close stops the simulator; later calls do nothing.
func (s *Sim) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.sim.Close()
}

// Handles lists the TPM's handles of one type (tpm2.TPMHTTransient, tpm2.TPMHTPersistent…).
func Handles(t transport.TPM, typ tpm2.TPMHT) ([]tpm2.TPMHandle, error) {
	var out []tpm2.TPMHandle
	next := uint32(typ) << 24
	for {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: next, PropertyCount: 64}.Execute(t)
		if err != nil {
			return nil, fmt.Errorf("get handles: %w", err)
		}
		hs, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			return nil, fmt.Errorf("get handles: %w", err)
		}
		for _, h := range hs.Handle {
			if uint32(h)>>24 == uint32(typ) {
				out = append(out, h)
			}
		}
		if !rsp.MoreData || len(hs.Handle) == 0 {
			return out, nil
		}
		next = uint32(hs.Handle[len(hs.Handle)-1]) + 1
	}
}

// CheckNoTransients fails the test if any transient object is loaded: every
// operation must flush what it loads.
func CheckNoTransients(t testing.TB, tpm transport.TPM) {
	t.Helper()
	hs, err := Handles(tpm, tpm2.TPMHTTransient)
	if err != nil {
		t.Errorf("list transient handles: %v", err)
		return
	}
	if len(hs) > 0 {
		t.Errorf("%d transient TPM objects left loaded: %v", len(hs), hs)
	}
}

// NeedProgram returns the path of a program, skipping the test (failing it
// under CI=true) if it is missing.
func NeedProgram(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: install Debian package %s", name, debianPackage)
		}
		t.Skipf("%s not found: install Debian package %s", name, debianPackage)
	}
	return p
}

// Swtpm is an swtpm process serving a TPM 2.0 on loopback TCP ports.
type Swtpm struct {
	// Port is the command port (raw TPM commands); Port+1 is the control port.
	Port     int
	StateDir string
}

// Addr is the command port's address.
func (s *Swtpm) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

// URI is the tpm: URI of the command port.
func (s *Swtpm) URI() string { return "tpm://" + s.Addr() }

// TCTI is the tpm2-tools -T argument for this swtpm.
func (s *Swtpm) TCTI() string { return fmt.Sprintf("swtpm:host=127.0.0.1,port=%d", s.Port) }

// StartSwtpm runs swtpm with its state in a temporary folder, bound to
// 127.0.0.1, and stops it when the test ends. It skips (or fails under CI=true)
// if swtpm is not installed.
func StartSwtpm(t testing.TB) *Swtpm {
	t.Helper()
	bin := NeedProgram(t, "swtpm", "swtpm (and swtpm-tools)")
	dir := t.TempDir()
	var lastErr error
	for range 5 {
		port, err := freePortPair()
		if err != nil {
			t.Fatalf("find free ports: %v", err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		cmd := exec.CommandContext(ctx, bin, "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port),
			"--ctrl", fmt.Sprintf("type=tcp,port=%d,bindaddr=127.0.0.1", port+1),
			"--tpmstate", "dir="+dir,
			"--flags", "startup-clear,not-need-init")
		out := &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatalf("start swtpm: %v", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if err := waitListening(port, done); err != nil {
			cancel()
			<-done
			lastErr = fmt.Errorf("%v: %s", err, out.String())
			continue // most likely a port taken meanwhile
		}
		t.Cleanup(func() {
			cancel() // kills the process started here, by its pid
			<-done
		})
		return &Swtpm{Port: port, StateDir: dir}
	}
	t.Fatalf("swtpm did not start: %v", lastErr)
	return nil
}

func freePortPair() (int, error) {
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		l.Close()
		if err == nil {
			l2.Close()
			return port, nil
		}
	}
	return 0, errors.New("no two consecutive free ports")
}

func waitListening(port int, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("swtpm exited: %v", err)
		default:
		}
		// The control port: a probe on the command port would take swtpm's only client slot.
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("swtpm did not listen within 10s")
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.buf) < 64<<10 {
		b.buf = append(b.buf, p...)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
