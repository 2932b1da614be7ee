package interop

import (
	"context"
	"encoding/json"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/internal/testenv"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

// mosquittoArgs are the connection flags of the mosquitto clients for the claim
// identity: -h is the custom domain (sent as SNI and verified against the server
// certificate), reached through the SOCKS5 proxy, which gets the name unresolved.
func mosquittoArgs(rg *rig, px *proxy) []string {
	return []string{
		"-h", customDomain, "-p", strconv.Itoa(int(rg.region.Addr().Port())),
		"--proxy", "socks5h://" + px.addr().String(),
		"--cafile", rg.caFile,
		"--cert", rg.claim.certFile,
		"--key", rg.claim.keyFile,
	}
}

func TestMosquittoClaimCertificate(t *testing.T) {
	rr := testenv.Need(t, "mosquitto_rr", "mosquitto-clients")
	pub := testenv.Need(t, "mosquitto_pub", "mosquitto-clients")
	rg := newRig(t)
	px := startSOCKS5Proxy(t, map[string]string{rg.endpoint(): rg.region.Addr().String()})
	args := mosquittoArgs(rg, px)
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON)

	for _, version := range []string{"mqttv311", "mqttv5"} {
		// The region answers a provisioning request only on the connection that asked
		// (as AWS does), so mosquitto_sub and mosquitto_pub as two processes would
		// never see a reply: mosquitto_rr subscribes to the reply topic and publishes
		// the request on one connection.
		t.Run("CreateKeysAndCertificate/"+version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			out, err := runCmd(ctx, rr, append(args, "-V", version, "-i", provisioning.ClaimClientIDPrefix+"rr-"+version, "-q", "1",
				"-t", topic.Request(), "-e", topic.Reply(provisioning.Accepted), "-m", "{}", "-W", "20")...)
			if err != nil {
				t.Fatalf("mosquitto_rr: %v\n%s", err, out)
			}
			var resp struct {
				CertificateID             string `json:"certificateId"`
				CertificatePEM            string `json:"certificatePem"`
				PrivateKey                string `json:"privateKey"`
				CertificateOwnershipToken string `json:"certificateOwnershipToken"`
			}
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("reply: %v\n%.200s", err, out)
			}
			if len(resp.CertificateID) != 64 || !strings.Contains(resp.PrivateKey, "PRIVATE KEY") ||
				resp.CertificatePEM == "" || resp.CertificateOwnershipToken == "" {
				t.Fatalf("reply without credentials: %.200s", out)
			}
			if id := registry.CertificateID(parseLeaf(t, resp.CertificatePEM).Raw); id != resp.CertificateID {
				t.Errorf("certificateId %s, but the certificate's SHA-256 is %s", resp.CertificateID, id)
			}
		})
	}

	for _, version := range []string{"mqttv311", "mqttv5"} {
		t.Run("forbidden topic closes the connection/"+version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// mosquitto_sub reconnects after a disconnect; mosquitto_pub gives up and fails.
			out, err := runCmd(ctx, pub, append(args, "-V", version, "-i", provisioning.ClaimClientIDPrefix+"pub-"+version, "-q", "1",
				"-t", "gateways/gw-x/status", "-m", "x")...)
			if ctx.Err() != nil {
				t.Fatalf("mosquitto_pub was not disconnected:\n%s", out)
			}
			if err == nil {
				t.Fatalf("mosquitto_pub to a forbidden topic exited 0:\n%s", out)
			}
			t.Logf("mosquitto_pub: %v: %s", err, out)
		})
	}

	t.Run("server certificate from another CA is refused", func(t *testing.T) {
		a := mosquittoArgs(rg, px)
		a[slices.Index(a, "--cafile")+1] = otherCAFile(t, rg)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		out, err := runCmd(ctx, rr, append(a, "-i", provisioning.ClaimClientIDPrefix+"other-ca", "-q", "1",
			"-t", topic.Request(), "-e", topic.Reply(provisioning.Accepted), "-m", "{}", "-W", "10")...)
		if err == nil {
			t.Fatalf("mosquitto_rr trusting another CA succeeded:\n%s", out)
		}
		t.Logf("mosquitto_rr: %v: %s", err, out)
	})

	if !t.Failed() {
		for _, a := range px.asked() {
			if a != rg.endpoint() {
				t.Errorf("proxy asked for %q, want %q", a, rg.endpoint())
			}
		}
		if n := len(px.asked()); n != 5 {
			t.Errorf("proxy saw %d connections, want 5", n)
		}
	}
}

// runCmd runs a client to its end and returns what it printed.
func runCmd(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = nodeEnv()
	return cmd.CombinedOutput()
}
