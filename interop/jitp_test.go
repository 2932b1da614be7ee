package interop

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/fleetboot/fleetboot/internal/testenv"
	"github.com/fleetboot/fleetboot/mockcloud"
)

// JITP the way AWS's own walkthrough does it, against the default rig: openssl
// makes the device key and CSR, scripts/factory-sign.sh signs it with the rig's
// maker CA, mosquitto_pub connects through the global name with the device
// certificate. The first connection registers the certificate and is dropped; the
// second is accepted; the aws CLI then finds the thing, named after the CN.
func TestMosquittoJITPThroughGlobalName(t *testing.T) {
	aws := testenv.Need(t, "aws", "awscli")
	cfg, err := mockcloud.LoadConfig("../testdata/rig.yaml")
	must(t, err)
	cfg.IoT.KeyPoolSize = 0
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cloud, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true, Logger: zaptest.NewLogger(t)})
	must(t, err)
	t.Cleanup(func() { cloud.Close() })
	region := cloud.Regions()[1] // eu-west-1
	const thing = "GW-MOSQ-0001"
	publish := mosquittoJITP(ctx, t, cloud, region, "/C=DE/O=Example Maker/serialNumber=0001/CN="+thing, thing)
	if out, err := publish(); err == nil {
		t.Fatalf("the first connection of a new certificate was accepted:\n%s", out)
	} else {
		t.Logf("first mosquitto_pub (dropped while registering): %v: %s", err, out)
	}
	if out, err := publish(); err != nil {
		t.Fatalf("second mosquitto_pub: %v\n%s", err, out)
	}

	cli := func(args ...string) map[string]any {
		full := append([]string{"iot"}, args...)
		full = append(full, "--endpoint-url", cloud.ControlPlaneURL(), "--region", region.Name, "--output", "json")
		cmd := exec.CommandContext(ctx, aws, full...)
		cmd.Env = append(nodeEnv(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true", "HOME="+t.TempDir(), "AWS_PAGER=")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("aws %v: %v", args, err)
		}
		var m map[string]any
		must(t, json.Unmarshal(out, &m))
		return m
	}
	if d := cli("describe-thing", "--thing-name", thing); d["thingName"] != thing {
		t.Fatalf("describe-thing: %v", d)
	}
	principals := cli("list-thing-principals", "--thing-name", thing)["principals"].([]any)
	if len(principals) != 1 {
		t.Fatalf("principals %v, want the device certificate alone", principals)
	}
}

// mosquittoJITP makes a factory identity for thing with openssl and
// scripts/factory-sign.sh (the rig's maker CA) and returns a mosquitto_pub that
// publishes with it through the global name to region, as AWS's JITP
// walkthrough does.
func mosquittoJITP(ctx context.Context, t *testing.T, cloud *mockcloud.Cloud, region mockcloud.RegionInfo, subject, thing string) func() ([]byte, error) {
	t.Helper()
	pub := testenv.Need(t, "mosquitto_pub", "mosquitto-clients")
	openssl := testenv.Need(t, "openssl", "openssl")
	files, global := cloud.Files(), cloud.Config().GlobalName
	port := strconv.Itoa(int(cloud.Port()))
	px := startSOCKS5Proxy(t, map[string]string{net.JoinHostPort(global, port): region.Addr.String()})
	work := t.TempDir()
	csrDir, certDir := filepath.Join(work, "csr"), filepath.Join(work, "certs")
	must(t, os.Mkdir(csrDir, 0o700))
	key := filepath.Join(work, "device.key")
	if out, err := runCmd(ctx, openssl, "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", key, "-subj", subject, "-out", filepath.Join(csrDir, thing+".csr")); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	if out, err := runCmd(ctx, "../scripts/factory-sign.sh", files.MakerCA, files.MakerCAKey, csrDir, certDir); err != nil {
		t.Fatalf("factory-sign.sh: %v\n%s", err, out)
	}
	// The device presents its certificate and the maker CA, as AWS's JITP
	// walkthrough does (leaf alone works too: see mockcloud/iotcore TestJITP).
	leaf, err := os.ReadFile(filepath.Join(certDir, thing+".pem"))
	must(t, err)
	ca, err := os.ReadFile(files.MakerCA)
	must(t, err)
	chain := filepath.Join(work, "device-and-ca.pem")
	must(t, os.WriteFile(chain, append(leaf, ca...), 0o600))
	return func() ([]byte, error) {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := runCmd(c, pub, "-h", global, "-p", port, "--proxy", "socks5h://"+px.addr().String(),
			"--cafile", files.RootCA, "--cert", chain, "--key", key,
			"-i", thing, "-q", "1", "-t", "gateways/"+thing+"/status", "-m", "online")
		if c.Err() != nil {
			t.Fatalf("mosquitto_pub hung:\n%s", out)
		}
		return out, err
	}
}
