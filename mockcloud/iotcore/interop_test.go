package iotcore_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
)

func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s missing", name)
		}
		t.Skipf("install Debian package %s", pkg)
	}
	return p
}

// mosquittoArgs are the TLS flags of the mosquitto clients for the claim identity.
// The clients send -h as SNI, and names do not resolve on a rig, so the region gets
// "localhost" as a custom domain: SNI and certificate verification stay real.
func mosquittoArgs(t *testing.T, rg *rig) []string {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, b, 0o600))
		return p
	}
	return []string{
		"-h", "localhost", "-p", strconv.Itoa(int(rg.region.Addr().Port())),
		"--cafile", write("root-ca.pem", rg.ca.CertPEM()),
		"--cert", write("claim.pem", rg.claim.crtPEM),
		"--key", write("claim.key", rg.claim.keyPEM),
	}
}

func TestMosquittoClients(t *testing.T) {
	rr := needTool(t, "mosquitto_rr", "mosquitto-clients")
	pub := needTool(t, "mosquitto_pub", "mosquitto-clients")
	rg := newRig(t, func(c *iotcore.Config) { c.CustomDomains = []string{"localhost"} })
	args := mosquittoArgs(t, rg)
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON)

	for _, version := range []string{"mqttv5", "mqttv311"} {
		t.Run("CreateKeysAndCertificate/"+version, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			// mosquitto_rr subscribes and publishes on one connection, as a device must.
			cmd := exec.CommandContext(ctx, rr, append(args, "-V", version, "-i", "rr-"+version, "-q", "1",
				"-t", topic.Request(), "-e", topic.Reply(provisioning.Accepted), "-m", "{}", "-W", "20")...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("mosquitto_rr: %v\n%s", err, out)
			}
			var resp provisioning.CreateKeysAndCertificateResponse
			unmarshal(t, provisioning.FormatJSON, out, &resp)
			if len(resp.CertificateID) != 64 || resp.PrivateKey == "" || resp.CertificateOwnershipToken == "" {
				t.Fatalf("reply without credentials: %s", truncate(out))
			}
		})
	}

	t.Run("forbidden topic closes the connection", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		// mosquitto_sub reconnects after a disconnect; mosquitto_pub gives up and fails.
		cmd := exec.CommandContext(ctx, pub, append(args, "-i", "pub-forbidden", "-q", "1", "-t", "gateways/x/status", "-m", "x")...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("mosquitto_pub to a forbidden topic exited 0:\n%s", out)
		}
		if ctx.Err() != nil {
			t.Fatal("mosquitto_pub was not disconnected")
		}
		t.Logf("mosquitto_pub: %v: %s", err, out)
	})
}

// A port-443-style listener: the mosquitto client must offer x-amzn-mqtt-ca.
func TestMosquittoALPN(t *testing.T) {
	rr := needTool(t, "mosquitto_rr", "mosquitto-clients")
	rg := newRig(t, func(c *iotcore.Config) { c.CustomDomains = []string{"localhost"}; c.RequireALPN = true })
	args := mosquittoArgs(t, rg)
	topic := provisioning.CreateKeysTopic(provisioning.FormatJSON)
	run := func(extra ...string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		a := append(append(args, extra...), "-i", "alpn", "-q", "1", "-t", topic.Request(), "-e", topic.Reply(provisioning.Accepted), "-m", "", "-W", "10")
		return exec.CommandContext(ctx, rr, a...).CombinedOutput()
	}
	if out, err := run(); err == nil {
		t.Fatalf("client without ALPN accepted:\n%s", out)
	}
	if out, err := run("--tls-alpn", iotcore.ALPNMQTTCA); err != nil {
		t.Fatalf("client offering %s: %v\n%s", iotcore.ALPNMQTTCA, err, out)
	}
}
