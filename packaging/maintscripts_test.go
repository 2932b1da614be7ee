package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// stubbed runs a maintainer script with DPKG_ROOT set to a fresh root and every
// command that changes the system (users, groups, units, ownership) replaced by a
// stub that records its arguments. users and groups are what getent knows;
// member lists the groups `id -nG fleetboot` prints. It returns the root and the
// commands run, one a line.
func stubbed(t *testing.T, script string, args []string, users, groups, member string, prepare func(root string)) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	stubs := filepath.Join(dir, "stubs")
	log := filepath.Join(dir, "log")
	for _, d := range []string{root, stubs} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if prepare != nil {
		prepare(root)
	}
	record := `echo "$(basename "$0") $*" >>"$STUB_LOG"` + "\n"
	for name, body := range map[string]string{
		"getent": record + `case $1 in passwd) list=$STUB_USERS ;; group) list=$STUB_GROUPS ;; *) exit 2 ;; esac
for n in $list; do [ "$n" = "$2" ] && { echo "$2:x:999:"; exit 0; }; done
exit 2`,
		"id":                 record + `echo "$STUB_MEMBER"`,
		"adduser":            record,
		"addgroup":           record,
		"deluser":            record,
		"delgroup":           record,
		"chown":              record,
		"chmod":              record,
		"dpkg-statoverride":  record + "exit 1",
		"deb-systemd-helper": record,
		"deb-systemd-invoke": record,
		"systemctl":          record,
	} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = []string{
		"PATH=" + stubs + ":/usr/bin:/bin",
		"DPKG_ROOT=" + root,
		"STUB_LOG=" + log,
		"STUB_USERS=" + users,
		"STUB_GROUPS=" + groups,
		"STUB_MEMBER=" + member,
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(log)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var calls []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" && !strings.HasPrefix(l, "getent ") && !strings.HasPrefix(l, "id ") {
			calls = append(calls, l)
		}
	}
	return root, calls
}

func has(calls []string, want string) bool {
	for _, c := range calls {
		if c == want {
			return true
		}
	}
	return false
}

func TestPostinstFirstInstall(t *testing.T) {
	root, calls := stubbed(t, "debian/postinst", []string{"configure"}, "", "", "", nil)
	conf := filepath.Join(root, "etc/fleetboot/config.yaml")
	for _, want := range []string{
		"addgroup --quiet --system tss",
		"adduser --quiet --system --group --home /var/lib/fleetboot --no-create-home fleetboot",
		"adduser --quiet fleetboot tss",
		"chown root:fleetboot " + conf,
		"chmod 0640 " + conf,
		"deb-systemd-helper --quiet was-enabled fleetboot.service",
		"deb-systemd-helper enable fleetboot.service",
	} {
		if !has(calls, want) {
			t.Errorf("postinst configure did not run %q; it ran:\n%s", want, strings.Join(calls, "\n"))
		}
	}
	for _, c := range calls {
		if strings.HasPrefix(c, "deb-systemd-invoke start") || strings.HasPrefix(c, "systemctl start") {
			t.Errorf("postinst starts the agent on first installation: %q", c)
		}
	}
}

func TestPostinstUpgradeKeepsUsersAsTheyAre(t *testing.T) {
	_, calls := stubbed(t, "debian/postinst", []string{"configure", "0.0.0+git1.abc-1"}, "fleetboot", "tss fleetboot", "fleetboot tss", nil)
	for _, c := range calls {
		if strings.HasPrefix(c, "adduser") || strings.HasPrefix(c, "addgroup") {
			t.Errorf("postinst upgrade ran %q with the user and groups in place", c)
		}
	}
}

// TestPostrmRemoveKeepsTheIdentity: remove keeps state, keys and configuration;
// purge deletes them and the user. Neither touches the TPM.
func TestPostrmRemoveKeepsTheIdentity(t *testing.T) {
	prepare := func(root string) {
		for _, f := range []string{"var/lib/fleetboot/state.json", "var/lib/fleetboot/keys/gen-000001/key.pem", "etc/fleetboot/config.yaml", "etc/fleetboot/claim.key"} {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Run("remove", func(t *testing.T) {
		root, calls := stubbed(t, "debian/postrm", []string{"remove"}, "fleetboot", "fleetboot tss", "", prepare)
		for _, f := range []string{"var/lib/fleetboot/state.json", "var/lib/fleetboot/keys/gen-000001/key.pem", "etc/fleetboot/claim.key"} {
			if _, err := os.Stat(filepath.Join(root, f)); err != nil {
				t.Errorf("remove lost %s: %v", f, err)
			}
		}
		for _, c := range calls {
			if strings.HasPrefix(c, "deluser") || strings.HasPrefix(c, "delgroup") {
				t.Errorf("remove ran %q", c)
			}
		}
	})
	t.Run("purge", func(t *testing.T) {
		root, calls := stubbed(t, "debian/postrm", []string{"purge"}, "fleetboot", "fleetboot tss", "", prepare)
		for _, d := range []string{"var/lib/fleetboot", "etc/fleetboot"} {
			if _, err := os.Stat(filepath.Join(root, d)); !os.IsNotExist(err) {
				t.Errorf("purge left %s (%v)", d, err)
			}
		}
		for _, want := range []string{"deb-systemd-helper purge fleetboot.service", "deluser --quiet --system fleetboot", "delgroup --quiet --system --only-if-empty fleetboot"} {
			if !has(calls, want) {
				t.Errorf("purge did not run %q; it ran:\n%s", want, strings.Join(calls, "\n"))
			}
		}
	})
	for _, s := range []string{"debian/postinst", "debian/prerm", "debian/postrm"} {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l == "" || l[0] == '#' {
				continue
			}
			if strings.Contains(l, "tpm") || strings.Contains(l, "fleetboot reset") {
				t.Errorf("%s touches the TPM or the identity: %q", s, l)
			}
		}
	}
}
