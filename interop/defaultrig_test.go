package interop

import (
	"bytes"
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
	"github.com/fleetboot/fleetboot/provisioning"
)

// The default rig end to end with programs nobody here wrote: the official SDK
// provisions in each region (dialing the region's address, TLS server name = the
// global name), openssl verifies what it was issued, and the aws CLI reads the
// registry afterwards.
func TestDefaultRigWithSDKAndAWSCLI(t *testing.T) {
	node := needNodeSDK(t)
	openssl := testenv.Need(t, "openssl", "openssl")
	aws := testenv.Need(t, "aws", "awscli")
	cfg, err := mockcloud.LoadConfig("../testdata/rig.yaml")
	must(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cloud, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true, Logger: zaptest.NewLogger(t)})
	must(t, err)
	t.Cleanup(func() { cloud.Close() })
	files := cloud.Files()
	port := strconv.Itoa(int(cloud.Port()))
	global := net.JoinHostPort(cfg.GlobalName, port)

	for i, r := range cloud.Regions() {
		mode, protocol := "keys", "mqtt311"
		if i%2 == 1 {
			mode, protocol = "keys", "mqtt5"
		}
		serial := "RIG-" + r.Name
		t.Run(r.Name, func(t *testing.T) {
			// The proxy stands in for the resolver: the global name, in this region.
			px := startConnectProxy(t, map[string]string{global: r.Addr.String()})
			res := runProvision(t, node, []string{
				filepath.Join(nodeDir, "provision.js"),
				"--host", cfg.GlobalName, "--port", port,
				"--proxy-host", px.addr().Addr().String(), "--proxy-port", strconv.Itoa(int(px.addr().Port())),
				"--ca", files.RootCA, "--cert", files.Claim, "--key", files.ClaimKey,
				"--template", mockcloud.TemplateName, "--serial", serial,
				"--mode", mode, "--protocol", protocol, "--client-id", provisioning.ClaimClientIDPrefix + serial,
			})
			if res.ThingName != "gw-"+serial {
				t.Fatalf("thing %q", res.ThingName)
			}
			certFile := filepath.Join(t.TempDir(), "device.pem")
			must(t, os.WriteFile(certFile, []byte(res.CertificatePEM), 0o600))
			out, err := exec.Command(openssl, "verify", "-CAfile", files.RootCA, certFile).CombinedOutput()
			if err != nil || !bytes.HasSuffix(bytes.TrimSpace(out), []byte(": OK")) {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}

			cli := exec.Command(aws, "iot", "list-things", "--endpoint-url", cloud.ControlPlaneURL(), "--region", r.Name, "--output", "json")
			cli.Env = append(nodeEnv(), "AWS_ACCESS_KEY_ID=AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY=x", "AWS_EC2_METADATA_DISABLED=true", "HOME="+t.TempDir(), "AWS_PAGER=")
			out, err = cli.Output()
			if err != nil {
				t.Fatalf("aws iot list-things: %v", err)
			}
			var list struct {
				Things []struct {
					ThingName  string            `json:"thingName"`
					Attributes map[string]string `json:"attributes"`
				} `json:"things"`
			}
			must(t, json.Unmarshal(out, &list))
			if len(list.Things) != 1 || list.Things[0].ThingName != "gw-"+serial || list.Things[0].Attributes["serial"] != serial {
				t.Fatalf("aws iot list-things in %s: %s", r.Name, out)
			}
		})
	}
}
