package route53

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

// digPath finds dig; without it the test skips, except in CI.
func digPath(t *testing.T) string {
	t.Helper()
	return testenv.Need(t, "dig", "bind9-dnsutils")
}

// digResult is what the tests read from dig's output.
type digResult struct {
	status    string
	flags     []string
	answer    []string // "TYPE data"
	authority []string // "TYPE owner"
	subnet    string   // CLIENT-SUBNET line of the OPT pseudosection
	retried   bool     // dig said it retried over TCP
}

func parseDig(out string) digResult {
	var r digResult
	section := ""
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, ";; ->>HEADER<<-"):
			if _, after, ok := strings.Cut(line, "status: "); ok {
				r.status, _, _ = strings.Cut(after, ",")
			}
		case strings.HasPrefix(line, ";; flags:"):
			f, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			r.flags = strings.Fields(f)
		case strings.HasPrefix(line, ";; Truncated, retrying in TCP mode"):
			r.retried = true
		case strings.HasPrefix(line, "; CLIENT-SUBNET:"):
			r.subnet = strings.TrimSpace(strings.TrimPrefix(line, "; CLIENT-SUBNET:"))
		case strings.HasPrefix(line, ";; ") && strings.HasSuffix(line, "SECTION:"):
			section = strings.TrimSuffix(strings.TrimPrefix(line, ";; "), " SECTION:")
		case line == "":
			section = ""
		case strings.HasPrefix(line, ";"):
		default:
			// owner TTL class type data...
			f := strings.Fields(line)
			if len(f) < 5 {
				continue
			}
			switch section {
			case "ANSWER":
				r.answer = append(r.answer, f[3]+" "+strings.Join(f[4:], " "))
			case "AUTHORITY":
				r.authority = append(r.authority, f[3]+" "+f[0])
			}
		}
	}
	return r
}

func runDig(t *testing.T, dig, addr string, args ...string) digResult {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	argv := append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, args...)
	out, err := exec.CommandContext(ctx, dig, argv...).CombinedOutput()
	if err != nil {
		t.Fatalf("dig %s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	t.Logf("dig %s\n%s", strings.Join(argv, " "), out)
	return parseDig(string(out))
}

func TestDig(t *testing.T) {
	dig := digPath(t)
	s := startRigServer(t, nil)
	usCNAME, euCNAME, apCNAME := "CNAME "+usEast1, "CNAME "+euWest1, "CNAME "+apNE1
	tests := []struct {
		name      string
		args      []string
		status    string
		answer    []string
		authority []string
		subnet    string
		flags     []string // must be present
		noFlags   []string // must be absent
	}{
		{"source US", []string{"-b", "127.0.1.1", "global.iot.example.com"},
			"NOERROR", []string{usCNAME, "A 127.0.0.11"}, nil, "", []string{"qr", "aa"}, []string{"tc", "ra"}},
		{"source DE", []string{"-b", "127.0.2.1", "global.iot.example.com"},
			"NOERROR", []string{euCNAME, "A 127.0.0.12"}, nil, "", []string{"aa"}, nil},
		{"source JP", []string{"-b", "127.0.3.1", "global.iot.example.com"},
			"NOERROR", []string{apCNAME, "A 127.0.0.13"}, nil, "", []string{"aa"}, nil},
		{"source JP over TCP", []string{"-b", "127.0.3.1", "+tcp", "global.iot.example.com"},
			"NOERROR", []string{apCNAME, "A 127.0.0.13"}, nil, "", []string{"aa"}, nil},
		{"ECS US from a JP source", []string{"-b", "127.0.3.1", "global.iot.example.com", "+subnet=198.51.100.7/24"},
			"NOERROR", []string{usCNAME, "A 127.0.0.11"}, nil, "198.51.100.0/24/24", []string{"aa"}, nil},
		{"ECS DE over TCP", []string{"+tcp", "global.iot.example.com", "+subnet=192.0.2.0/24"},
			"NOERROR", []string{euCNAME, "A 127.0.0.12"}, nil, "192.0.2.0/24/24", []string{"aa"}, nil},
		{"ECS JP, mixed case", []string{"GLOBAL.Iot.Example.Com", "+subnet=203.0.113.9/32"},
			"NOERROR", []string{apCNAME, "A 127.0.0.13"}, nil, "203.0.113.9/32/24", []string{"aa"}, nil},
		{"no record for the location", []string{"-b", "127.0.1.1", "jp-only.example.com"},
			"NOERROR", nil, []string{"SOA example.com."}, "", []string{"aa"}, nil},
		{"NODATA", []string{"www.example.com", "AAAA"},
			"NOERROR", nil, []string{"SOA example.com."}, "", []string{"aa"}, nil},
		{"empty non-terminal", []string{"iot.example.com"},
			"NOERROR", nil, []string{"SOA example.com."}, "", []string{"aa"}, nil},
		{"NXDOMAIN", []string{"nope.example.com"},
			"NXDOMAIN", nil, []string{"SOA example.com."}, "", []string{"aa"}, nil},
		{"NXDOMAIN over TCP", []string{"+tcp", "nope.example.com"},
			"NXDOMAIN", nil, []string{"SOA example.com."}, "", []string{"aa"}, nil},
		{"REFUSED", []string{"example.org"},
			"REFUSED", nil, nil, "", nil, []string{"aa"}},
		{"truncated without EDNS", []string{"+noedns", "+ignore", "big.example.com", "TXT"},
			"NOERROR", nil, nil, "", []string{"tc"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := runDig(t, dig, s.Addr(), tc.args...)
			if r.status != tc.status {
				t.Errorf("status %q, want %q", r.status, tc.status)
			}
			if tc.answer != nil && !slices.Equal(r.answer, tc.answer) {
				t.Errorf("answer %q, want %q", r.answer, tc.answer)
			}
			if tc.answer == nil && len(r.answer) != 0 && !slices.Contains(tc.flags, "tc") {
				t.Errorf("answer %q, want none", r.answer)
			}
			if !slices.Equal(r.authority, tc.authority) {
				t.Errorf("authority %q, want %q", r.authority, tc.authority)
			}
			if r.subnet != tc.subnet {
				t.Errorf("CLIENT-SUBNET %q, want %q", r.subnet, tc.subnet)
			}
			for _, f := range tc.flags {
				if !slices.Contains(r.flags, f) {
					t.Errorf("flags %q lack %q", r.flags, f)
				}
			}
			for _, f := range tc.noFlags {
				if slices.Contains(r.flags, f) {
					t.Errorf("flags %q have %q", r.flags, f)
				}
			}
		})
	}
}

// TestDigRetriesOverTCP lets dig see TC on UDP and fall back to TCP by
// itself, as a stub resolver does.
func TestDigRetriesOverTCP(t *testing.T) {
	dig := digPath(t)
	s := startRigServer(t, nil)
	r := runDig(t, dig, s.Addr(), "+noedns", "big.example.com", "TXT")
	if !r.retried {
		t.Error("dig did not report a retry over TCP")
	}
	if r.status != "NOERROR" || len(r.answer) != 8 || slices.Contains(r.flags, "tc") {
		t.Errorf("after retry: status %s, %d answers, flags %q; want NOERROR, 8, no tc", r.status, len(r.answer), r.flags)
	}
}
