package crossbuild

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// build makes the release device binary for one architecture, with the flags it
// ships with (scripts/release-build.sh).
func build(t *testing.T, dir, goarch, goarm string) string {
	t.Helper()
	out := filepath.Join(dir, "fleetboot-"+goarch+goarm)
	cmd := exec.Command(filepath.Join("..", "scripts", "release-build.sh"), out)
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "GOARM="+goarm)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("release build %s: %v\n%s", goarch, err, b)
	}
	return out
}

func TestQEMUFirstBoot(t *testing.T) {
	arches := []struct {
		name, goarch, goarm, qemu, subnet, region string
	}{
		{"arm64", "arm64", "", "qemu-aarch64-static", "198.51.100.0/24", "us-east-1"},
		{"armv7", "arm", "7", "qemu-arm-static", "192.0.2.0/24", "eu-west-1"},
	}
	emulators := map[string]string{}
	for _, a := range arches {
		emulators[a.name] = testenv.Need(t, a.qemu, "qemu-user-static")
	}
	cfg, err := mockcloud.LoadConfig(filepath.Join("..", "testdata", "rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 0 // csr flow: no RSA keys wanted
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cloud, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	bin := t.TempDir()

	for _, a := range arches {
		t.Run(a.name, func(t *testing.T) {
			fb := build(t, bin, a.goarch, a.goarm)
			state := t.TempDir()
			serial := "QEMU-" + strings.ToUpper(a.name)
			common := []string{"--config", cloud.Files().DeviceConfig, "--state-dir", state}
			fleetboot := func(args ...string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, emulators[a.name], append([]string{fb}, args...)...)
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			out, err := fleetboot(append([]string{"provision", "--timeout", "90s", "--dns-client-subnet", a.subnet, "--param", "SerialNumber=" + serial}, common...)...)
			if err != nil {
				t.Fatalf("%s provision under %s: %v\n%s", a.name, a.qemu, err, out)
			}
			out, err = fleetboot(append([]string{"status", "--json"}, common...)...)
			if err != nil {
				t.Fatalf("status: %v\n%s", err, out)
			}
			var st struct {
				State     string `json:"state"`
				Region    string `json:"region"`
				ThingName string `json:"thing_name"`
			}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			if st.State != "online" || st.Region != a.region || st.ThingName != "gw-"+serial {
				t.Fatalf("status %+v, want online in %s as gw-%s", st, a.region, serial)
			}
			things, err := cloud.Region(a.region).Registry().ListThings(registry.ThingFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if n := count(things, st.ThingName); n != 1 {
				t.Fatalf("region %s holds %s %d times, want once", a.region, st.ThingName, n)
			}
		})
	}
}

func count(things []registry.Thing, name string) int {
	n := 0
	for _, th := range things {
		if th.Name == name {
			n++
		}
	}
	return n
}
