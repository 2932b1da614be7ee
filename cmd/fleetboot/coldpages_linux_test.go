package main

import (
	"strings"
	"testing"
)

// releaseColdCode finds and advises the binary's read-only mappings; afterwards
// the process goes on running code and reading constant data from them, read back
// from the file.
func TestReleaseColdCode(t *testing.T) {
	n, err := releaseColdCode()
	if err != nil {
		t.Fatal(err)
	}
	if n <= 0 {
		t.Fatalf("released %d bytes: found none of the executable's read-only mappings", n)
	}
	code, out, _ := runCLI("version")
	if code != exitOK || !strings.HasPrefix(usage, "fleetboot") || out == "" {
		t.Fatalf("after the release: version exit %d %q", code, out)
	}
}
