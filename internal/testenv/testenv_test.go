package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// outcome records how a test helper ended a (fake) test.
type outcome struct {
	testing.TB
	skipped, failed string
}

func (o *outcome) Helper() {}

func (o *outcome) Skip(args ...any) { o.skipped = fmt.Sprint(args...); runtime.Goexit() }

func (o *outcome) Fatal(args ...any) { o.failed = fmt.Sprint(args...); runtime.Goexit() }

// run calls fn with a fake test on its own goroutine, as testing does, so that
// Skip and Fatal end only fn.
func run(t *testing.T, fn func(testing.TB) string) (*outcome, string) {
	o := &outcome{TB: t}
	done := make(chan string, 1)
	go func() {
		var got string
		defer func() { done <- got }()
		got = fn(o)
	}()
	return o, <-done
}

func TestNeedFindsOnPath(t *testing.T) {
	dir := t.TempDir()
	prog := "fleetboot-testenv-tool"
	if err := os.WriteFile(filepath.Join(dir, prog), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	t.Setenv("CI", "true")
	o, got := run(t, func(tb testing.TB) string { return Need(tb, prog, "some-package") })
	if got != filepath.Join(dir, prog) || o.skipped != "" || o.failed != "" {
		t.Fatalf("Need = %q (skipped %q, failed %q), want %s", got, o.skipped, o.failed, filepath.Join(dir, prog))
	}
}

func TestNeedMissing(t *testing.T) {
	const want = "fleetboot-testenv-absent not found: install Debian package fleetboot-absent"
	t.Setenv("PATH", t.TempDir())
	for _, ci := range []string{"", "false", "true"} {
		t.Setenv("CI", ci)
		o, got := run(t, func(tb testing.TB) string { return Need(tb, "fleetboot-testenv-absent", "fleetboot-absent") })
		if got != "" {
			t.Errorf("CI=%q: Need = %q for a missing program", ci, got)
		}
		if ci == "true" {
			if o.failed != want || o.skipped != "" {
				t.Errorf("CI=%q: failed %q, skipped %q; want it failed with %q", ci, o.failed, o.skipped, want)
			}
			continue
		}
		if o.skipped != want || o.failed != "" {
			t.Errorf("CI=%q: skipped %q, failed %q; want it skipped with %q", ci, o.skipped, o.failed, want)
		}
	}
}
