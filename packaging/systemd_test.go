package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/agent"
)

var units = []string{"fleetboot.service", "fleetboot-wait-online.service", "fleetboot-online.target"}

// TestSystemdVerify runs systemd-analyze verify on the units as the package
// installs them: a root made of the host's units and the package's files, so
// that the binaries the units start are checked too. Any message fails, unknown
// keys included (verify only warns about those).
func TestSystemdVerify(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	d := deb(t)
	root := t.TempDir()
	unitDir := filepath.Join(root, "usr", "lib", "systemd", "system")
	if err := os.MkdirAll(unitDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// sysinit.target, multi-user.target, network-online.target…
	if out, err := exec.Command("cp", "-a", "/usr/lib/systemd/system/.", unitDir).CombinedOutput(); err != nil {
		t.Fatalf("copy the host's units: %v\n%s", err, out)
	}
	if out, err := exec.Command(dpkgDeb, "-x", d, root).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
	}
	args := append([]string{"verify", "--man=no", "--root=" + root}, units...)
	out, err := exec.Command(analyze, args...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdSecurity scores the service's sandbox with systemd-analyze security
// --offline: it must stay among the hardened (exposure 2.0 or less: "OK" or "SAFE").
func TestSystemdSecurity(t *testing.T) {
	analyze := need(t, "systemd-analyze", "systemd")
	for _, u := range []string{"fleetboot.service", "fleetboot-wait-online.service"} {
		out, err := exec.Command(analyze, "security", "--offline=yes", "--no-pager", filepath.Join("systemd", u)).CombinedOutput()
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) (\S+)`).FindSubmatch(out)
		if m == nil {
			if strings.Contains(string(out), "offline") && err != nil {
				t.Skipf("systemd-analyze security --offline is not supported here (systemd 250 or later): %s", out)
			}
			t.Fatalf("systemd-analyze security %s: %v\n%s", u, err, out)
		}
		score, perr := strconv.ParseFloat(string(m[1]), 64)
		if perr != nil || score > 2.0 {
			t.Errorf("%s: exposure %s %s, want 2.0 or less\n%s", u, m[1], m[2], out)
		}
		t.Logf("%s: exposure %s %s", u, m[1], m[2])
	}
}

// unit reads a unit file as key → values, every section together (the keys the
// tests look at occur in one section only); a key given twice keeps both.
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string][]string{}
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' || l[0] == '[' {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Fatalf("%s: line %q", name, l)
		}
		kv[k] = append(kv[k], v)
	}
	return kv
}

// TestServiceUnit pins what the rest of the project relies on.
func TestServiceUnit(t *testing.T) {
	u := unit(t, "fleetboot.service")
	one := func(k string) string {
		t.Helper()
		if len(u[k]) != 1 {
			t.Fatalf("%s= given %d times, want once", k, len(u[k]))
		}
		return u[k][0]
	}
	for k, want := range map[string]string{
		"Type":                    "notify",
		"NotifyAccess":            "main",
		"Restart":                 "on-failure",
		"User":                    "fleetboot",
		"Group":                   "fleetboot",
		"SupplementaryGroups":     "tss",
		"StateDirectory":          "fleetboot",
		"StateDirectoryMode":      "0700",
		"ConfigurationDirectory":  "fleetboot",
		"RuntimeDirectory":        "fleetboot",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"DevicePolicy":            "closed",
		"DeviceAllow":             "/dev/tpmrm0 rw",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	if one("WatchdogSec") == "" {
		t.Error("no WatchdogSec=")
	}
	// 78 is a configuration error (EX_CONFIG): a restart cannot fix it. 2 is what a
	// Go program killed by the watchdog's SIGABRT exits with: it must restart.
	codes := strings.Fields(one("RestartPreventExitStatus"))
	for _, c := range []string{"3", "4", "64", "78"} {
		if !slices.Contains(codes, c) {
			t.Errorf("RestartPreventExitStatus=%s lacks %s (a failure a restart cannot fix)", codes, c)
		}
	}
	if slices.Contains(codes, "2") {
		t.Errorf("RestartPreventExitStatus=%s holds 2, the exit of a Go program killed by SIGABRT: the watchdog could not restart it", codes)
	}
	// The unit and the conffile name the same places.
	execStart := one("ExecStart")
	for _, want := range []string{"/usr/bin/fleetboot run ", "--config " + agent.DefaultConfigPath, "--state-dir " + agent.DefaultStateDir} {
		if !strings.Contains(execStart+" ", want) {
			t.Errorf("ExecStart=%s lacks %q", execStart, want)
		}
	}
	if "/var/lib/"+one("StateDirectory") != agent.DefaultStateDir {
		t.Errorf("StateDirectory=%s is not %s", one("StateDirectory"), agent.DefaultStateDir)
	}
}

// TestOnlineTarget checks the chain other services order after:
// fleetboot-online.target needs the wait unit, which needs the agent.
func TestOnlineTarget(t *testing.T) {
	target := unit(t, "fleetboot-online.target")
	wait := unit(t, "fleetboot-wait-online.service")
	for _, c := range []struct {
		u    map[string][]string
		name string
		k, v string
	}{
		{target, "fleetboot-online.target", "Requires", "fleetboot-wait-online.service"},
		{target, "fleetboot-online.target", "After", "fleetboot-wait-online.service"},
		{wait, "fleetboot-wait-online.service", "Requires", "fleetboot.service"},
		{wait, "fleetboot-wait-online.service", "After", "fleetboot.service"},
		{wait, "fleetboot-wait-online.service", "Type", "oneshot"},
		{wait, "fleetboot-wait-online.service", "RemainAfterExit", "yes"},
		{wait, "fleetboot-wait-online.service", "User", "fleetboot"},
		{wait, "fleetboot-wait-online.service", "ExecStart", "/usr/libexec/fleetboot/wait-online"},
	} {
		if !slices.Contains(c.u[c.k], c.v) {
			t.Errorf("%s: %s=%s, want %s", c.name, c.k, c.u[c.k], c.v)
		}
	}
	if _, ok := target["WantedBy"]; ok {
		t.Error("fleetboot-online.target is installed into another target: like network-online.target, only the services that need it pull it in")
	}
}

// TestConffileIsValid loads the shipped configuration as the agent does: every
// key known, every value valid, and the state folder the unit's.
func TestConffileIsValid(t *testing.T) {
	cfg, err := agent.LoadConfig("config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.StateDir != agent.DefaultStateDir {
		t.Errorf("stateDir %s, want %s", cfg.StateDir, agent.DefaultStateDir)
	}
	if !strings.HasPrefix(cfg.Device.ConfigPath, "/run/fleetboot/") {
		t.Errorf("device.configPath %s: the unit can write only /run/fleetboot and the state folder", cfg.Device.ConfigPath)
	}
}
