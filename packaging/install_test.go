package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallUpgradePurge installs the package into a minimal Debian made by
// mmdebstrap (no systemd running, as in an image build), then: the user exists
// in group tss, the conffile is root:fleetboot 0640 and the unit enabled; an
// edited conffile survives an upgrade; remove keeps state and configuration;
// purge deletes them and the user. It needs root and the Debian archive.
func TestInstallUpgradePurge(t *testing.T) {
	mmdebstrap := need(t, "mmdebstrap", "mmdebstrap")
	if os.Geteuid() != 0 {
		t.Skip("needs root: mmdebstrap and chroot")
	}
	if testing.Short() {
		t.Skip("makes a Debian root from the archive")
	}
	d := deb(t)
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command(mmdebstrap, "--variant=minbase", "--include=adduser,init-system-helpers", "bookworm", root).CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}
	b, err := os.ReadFile(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "tmp", "fleetboot.deb"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(script string) string {
		t.Helper()
		out, err := exec.Command("chroot", root, "sh", "-ec", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	sh("dpkg -i /tmp/fleetboot.deb </dev/null")
	if out := sh("id -nG fleetboot"); !strings.Contains(" "+out, " tss") {
		t.Errorf("fleetboot's groups: %s, want tss among them", out)
	}
	if out := sh("stat -c '%U:%G %a' /etc/fleetboot/config.yaml"); strings.TrimSpace(out) != "root:fleetboot 640" {
		t.Errorf("config.yaml: %s, want root:fleetboot 640", out)
	}
	sh("test -L /etc/systemd/system/multi-user.target.wants/fleetboot.service")

	// An edited conffile and the agent's state survive a reinstall of the package
	// (an upgrade to the same files); remove keeps them too.
	sh(`sed -i 's/global.iot.example.com/global.iot.edited.example/' /etc/fleetboot/config.yaml
install -d -o fleetboot -g fleetboot -m 0700 /var/lib/fleetboot
echo '{}' >/var/lib/fleetboot/state.json`)
	sh("dpkg -i /tmp/fleetboot.deb </dev/null")
	sh("grep -q global.iot.edited.example /etc/fleetboot/config.yaml")
	sh("dpkg -r fleetboot </dev/null")
	sh("test -f /var/lib/fleetboot/state.json && grep -q global.iot.edited.example /etc/fleetboot/config.yaml && id fleetboot")

	sh("dpkg -P fleetboot </dev/null")
	sh("! test -e /var/lib/fleetboot && ! test -e /etc/fleetboot && ! id fleetboot 2>/dev/null && getent group tss >/dev/null")
	sh("! test -e /etc/systemd/system/multi-user.target.wants/fleetboot.service")
}
