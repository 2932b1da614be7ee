package interop

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/internal/testenv"
	_ "github.com/fleetboot/fleetboot/keystore/file"
	"github.com/fleetboot/fleetboot/mockcloud"
)

// examples/global-provisioning/setup.sh, the design source's setup made with the
// aws CLI, run against an empty rig; then a gateway in North America and one in
// Europe provision through the global name, each in its region, and a JITP
// device connects with mosquitto_pub.
func TestGlobalProvisioningExample(t *testing.T) {
	aws := testenv.Need(t, "aws", "awscli")
	openssl := testenv.Need(t, "openssl", "openssl")
	cfg, err := mockcloud.LoadConfig("../testdata/rig.yaml")
	must(t, err)
	cfg.IoT.KeyPoolSize = 0
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cloud, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true, Empty: true, Logger: zaptest.NewLogger(t)})
	must(t, err)
	t.Cleanup(func() { cloud.Close() })
	files := cloud.Files()

	// The script finds aws and openssl on PATH: the packaged ones, first.
	path := filepath.Dir(aws) + ":" + filepath.Dir(openssl) + ":/usr/bin:/bin"
	cmd := exec.CommandContext(ctx, "../examples/global-provisioning/setup.sh")
	cmd.Env = []string{"PATH=" + path, "HOME=" + t.TempDir(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=x",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PAGER=", "ENDPOINT_URL=" + cloud.ControlPlaneURL(),
		"CLAIM_CERT=" + files.Claim, "MAKER_CA=" + files.MakerCA, "MAKER_CA_KEY=" + files.MakerCAKey, "ACCOUNT=" + cfg.AccountID}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup.sh: %v\n%s", err, out)
	}

	for _, dev := range []struct{ serial, subnet, region string }{
		{"NA-1", "198.51.100.0/24", "us-east-1"}, // US
		{"EU-1", "192.0.2.0/24", "eu-west-1"},    // DE
		{"JP-1", "203.0.113.0/24", "eu-west-1"},  // JP: the default location
	} {
		t.Run(dev.serial, func(t *testing.T) {
			acfg, err := agent.LoadConfig(files.DeviceConfig)
			must(t, err)
			acfg.StateDir = filepath.Join(t.TempDir(), "dev")
			acfg.DNS.ClientSubnet = dev.subnet
			acfg.Provisioning.Parameters = map[string]string{"SerialNumber": dev.serial}
			acfg.SetDefaults()
			a, err := agent.New(ctx, agent.Options{Config: acfg, Logger: zaptest.NewLogger(t)})
			must(t, err)
			defer a.Close()
			st, err := a.Prove(ctx)
			if err != nil {
				t.Fatalf("first boot: %v", err)
			}
			if st.Region != dev.region || st.ThingName != "gw-"+dev.serial {
				t.Fatalf("provisioned %s in %s, want gw-%s in %s", st.ThingName, st.Region, dev.serial, dev.region)
			}
		})
	}

	// JITP: a factory certificate from the maker CA the script registered.
	region := cloud.Regions()[1] // eu-west-1
	const thing = "GW-EXAMPLE-0001"
	publish := mosquittoJITP(ctx, t, cloud, region, "/O=Example Maker/CN="+thing, thing)
	if out, err := publish(); err == nil {
		t.Fatalf("the first JITP connection was accepted:\n%s", out)
	}
	if out, err := publish(); err != nil {
		t.Fatalf("second mosquitto_pub: %v\n%s", err, out)
	}
	if _, err := cloud.Region(region.Name).Registry().GetThing(thing); err != nil {
		t.Fatalf("JITP thing: %v", err)
	}
}
