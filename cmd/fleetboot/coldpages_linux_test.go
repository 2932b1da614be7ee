package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// releaseColdCode finds and advises the binary's read-only mappings: the
// process's resident file pages shrink, and it goes on running code and reading
// constant data from those mappings, read back from the file.
func TestReleaseColdCode(t *testing.T) {
	before := rssFileKiB(t)
	n, err := releaseColdCode()
	if err != nil {
		t.Fatal(err)
	}
	after := rssFileKiB(t)
	if n <= 0 {
		t.Fatalf("released %d bytes: found none of the executable's read-only mappings", n)
	}
	if after >= before {
		t.Fatalf("RssFile %d KiB before, %d KiB after: nothing was released", before, after)
	}
	t.Logf("advised %d KiB; RssFile %d → %d KiB", n>>10, before, after)
	code, out, _ := runCLI("version")
	if code != exitOK || !strings.HasPrefix(usage, "fleetboot") || out == "" {
		t.Fatalf("after the release: version exit %d %q", code, out)
	}
}

func rssFileKiB(t *testing.T) int {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssFile:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no RssFile in /proc/self/status")
	return 0
}
