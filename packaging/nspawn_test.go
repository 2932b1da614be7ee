package packaging

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud"
)

// probe runs inside the container once it has booted: it waits for the agent to
// be online, records what systemd and the agent say, tries to write inside and
// outside the state folder from within the agent's sandbox (its mount namespace,
// its user), and powers the container off.
const probe = `#!/bin/sh
out=/root/probe
mkdir -p $out
for i in $(seq 60); do
	fleetboot status --json >$out/status.json 2>$out/status.err && grep -q '"state": "online"' $out/status.json && break
	sleep 1
done
systemctl show fleetboot -p ActiveState -p SubState -p NRestarts -p MainPID -p StatusText >$out/show 2>&1
journalctl -u fleetboot --no-pager >$out/journal 2>&1
stat -c '%U:%G %a' /var/lib/fleetboot >$out/statedir 2>&1
pid=$(systemctl show -p MainPID --value fleetboot)
as_agent() { nsenter -t "$pid" -m setpriv --reuid=fleetboot --regid=fleetboot --init-groups "$@"; }
as_agent sh -c 'echo x >/etc/fleetboot/probe' >$out/write-etc 2>&1; echo "exit $?" >>$out/write-etc
as_agent sh -c 'echo x >/srv/probe/x' >$out/write-srv 2>&1; echo "exit $?" >>$out/write-srv
as_agent sh -c 'echo x >/var/lib/fleetboot/probe && rm /var/lib/fleetboot/probe' >$out/write-state 2>&1; echo "exit $?" >>$out/write-state
show() { systemctl show fleetboot -p ActiveState -p Result -p NRestarts -p MainPID -p ExecMainStatus; }
if [ "$(systemctl is-active fleetboot)" = active ]; then
	# The agent said READY=1: the online target, the watchdog, a broken config.
	timeout 60 systemctl start fleetboot-online.target >$out/online 2>&1; echo "exit $?" >>$out/online
	systemctl is-active fleetboot-online.target >>$out/online 2>&1
	kill -STOP "$pid"
	sleep 10
	for i in $(seq 30); do [ "$(systemctl is-active fleetboot)" = active ] && break; sleep 1; done
	show >$out/watchdog 2>&1
	fleetboot status --json >$out/status-after-watchdog.json 2>&1
	# A manual restart sets NRestarts to 0; 15 s is past RestartSec=, so a
	# restart loop would count.
	echo "unknownKey: 1" >>/etc/fleetboot/config.yaml
	systemctl restart fleetboot >/dev/null 2>&1
	sleep 15
	show >$out/broken 2>&1
fi
systemctl poweroff
`

// TestUnderSystemd boots a minimal Debian with the package installed under a real
// systemd (systemd-nspawn --boot, sharing the host's network so the agent reaches
// a mock cloud on loopback) and checks that the agent provisions and goes online
// as the unit runs it: user fleetboot, the state folder 0700, the sandbox
// refusing writes outside the state folder, no restart.
func TestUnderSystemd(t *testing.T) {
	mmdebstrap := need(t, "mmdebstrap", "mmdebstrap")
	nspawn := need(t, "systemd-nspawn", "systemd-container")
	if os.Geteuid() != 0 {
		t.Skip("needs root: mmdebstrap and systemd-nspawn")
	}
	if testing.Short() {
		t.Skip("makes a Debian root from the archive and boots it")
	}
	d := deb(t)
	cfg, err := mockcloud.LoadConfig(filepath.Join("..", "testdata", "rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 0 // csr flow: no RSA keys wanted
	dataDir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cloud, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: dataDir, Ephemeral: true})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })

	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command(mmdebstrap, "--variant=minbase", "--include=systemd,systemd-sysv,dbus,adduser,init-system-helpers",
		"bookworm", root).CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}
	write := func(name string, data []byte, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
	}
	read := func(name string) []byte {
		t.Helper()
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write("tmp/fleetboot.deb", read(d), 0o644)
	if out, err := exec.Command("chroot", root, "dpkg", "-i", "/tmp/fleetboot.deb").CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	// The rig's files where a gateway image puts its own, and its config with
	// their paths.
	files := cloud.Files()
	write("etc/fleetboot/root-ca.pem", read(files.RootCA), 0o644)
	write("etc/fleetboot/claim.pem", read(files.Claim), 0o644)
	write("etc/fleetboot/claim.key", read(files.ClaimKey), 0o600)
	conf := strings.ReplaceAll(string(read(files.DeviceConfig)), filepath.Dir(files.DeviceConfig)+"/", "/etc/fleetboot/")
	conf += "device:\n  configPath: /run/fleetboot/device-config.json\n"
	write("etc/fleetboot/config.yaml", []byte(conf), 0o640)
	// The serial number from a drop-in, as on a real line; a short watchdog so
	// that a stopped agent is restarted within the test.
	write("etc/systemd/system/fleetboot.service.d/test.conf", []byte("[Service]\nEnvironment=FLEETBOOT_PROVISIONING_PARAMETERS=SerialNumber=NSPAWN-1\nWatchdogSec=6s\n"), 0o644)
	// /srv/probe: a folder the agent's user owns, outside the state folder: only
	// the sandbox keeps the agent from writing there.
	if out, err := exec.Command("chroot", root, "sh", "-ec", "chown fleetboot:fleetboot /etc/fleetboot/claim.key; install -d -o fleetboot -g fleetboot /srv/probe").CombinedOutput(); err != nil {
		t.Fatalf("chown: %v\n%s", err, out)
	}
	write("usr/local/bin/probe", []byte(probe), 0o755)
	write("etc/systemd/system/probe.service", []byte("[Unit]\nDescription=test probe\n[Service]\nType=oneshot\nExecStart=/usr/local/bin/probe\n[Install]\nWantedBy=multi-user.target\n"), 0o644)
	if err := os.Symlink("/etc/systemd/system/probe.service", filepath.Join(root, "etc/systemd/system/multi-user.target.wants/probe.service")); err != nil {
		t.Fatal(err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	boot := exec.CommandContext(ctx, nspawn, "--quiet", "--register=no", "--keep-unit", "--directory="+root, "--boot")
	console, err := boot.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the container did not power off within 3 minutes:\n%s", tail(console, 40))
	}
	_ = err // nspawn's own exit status says how the container stopped, not how the agent did
	got := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, "root", "probe", name))
		if err != nil {
			t.Fatalf("probe %s: %v\nconsole:\n%s", name, err, tail(console, 40))
		}
		return string(b)
	}
	journal := got("journal")
	var st struct {
		State         string `json:"state"`
		ThingName     string `json:"thing_name"`
		CertificateID string `json:"certificate_id"`
	}
	if err := json.Unmarshal([]byte(got("status.json")), &st); err != nil || st.State != "online" || st.ThingName != "gw-NSPAWN-1" {
		t.Fatalf("fleetboot status: %+v (%v), want online as gw-NSPAWN-1\n%s\njournal:\n%s", st, err, got("status.err"), journal)
	}
	show := got("show")
	if !strings.Contains(show, "NRestarts=0") {
		t.Errorf("the agent was restarted:\n%s\njournal:\n%s", show, journal)
	}
	t.Logf("fleetboot.service:\n%s", show)
	if s := strings.TrimSpace(got("statedir")); s != "fleetboot:fleetboot 700" {
		t.Errorf("/var/lib/fleetboot: %s, want fleetboot:fleetboot 700", s)
	}
	if s := got("write-etc"); strings.HasSuffix(strings.TrimSpace(s), "exit 0") {
		t.Errorf("a write to /etc/fleetboot from the agent's sandbox: %s, want refused", s)
	}
	if s := got("write-srv"); strings.HasSuffix(strings.TrimSpace(s), "exit 0") || !strings.Contains(s, "Read-only file system") {
		t.Errorf("a write to a folder of the agent's user outside the state folder: %s, want refused as read-only (ProtectSystem=strict)", s)
	}
	if s := got("write-state"); !strings.HasSuffix(strings.TrimSpace(s), "exit 0") {
		t.Errorf("a write to the state folder from the agent's sandbox: %s", s)
	}

	if !strings.Contains(show, "ActiveState=active\n") {
		t.Errorf("the unit is not active once the agent is online (READY=1 not received):\n%s", show)
	}
	t.Run("ready and online target", func(t *testing.T) {
		if s := got("online"); !strings.Contains(s, "exit 0") || !strings.Contains(s, "\nactive") {
			t.Errorf("fleetboot-online.target:\n%s", s)
		}
	})
	t.Run("watchdog restarts a stopped agent", func(t *testing.T) {
		s := got("watchdog")
		if !strings.Contains(s, "ActiveState=active\n") || !strings.Contains(s, "NRestarts=1\n") {
			t.Errorf("after SIGSTOP and the watchdog's timeout:\n%s\njournal:\n%s", s, journal)
		}
		var after struct {
			State         string `json:"state"`
			CertificateID string `json:"certificate_id"`
		}
		if err := json.Unmarshal([]byte(got("status-after-watchdog.json")), &after); err != nil || after.State != "online" || after.CertificateID != st.CertificateID {
			t.Errorf("after the restart: %+v (%v), want online with certificate %s, not a new one", after, err, st.CertificateID)
		}
	})
	t.Run("broken config fails without a restart loop", func(t *testing.T) {
		s := got("broken")
		if !strings.Contains(s, "ActiveState=failed\n") || !strings.Contains(s, "ExecMainStatus=78\n") || !strings.Contains(s, "NRestarts=0\n") {
			t.Errorf("with an unknown key in the config:\n%s", s)
		}
	})
}

func tail(b []byte, n int) string {
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
