package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/fleetboot/fleetboot/internal/testenv"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/provisioning"
)

const (
	nodeDir   = "node"
	sdkModule = "aws-iot-device-sdk-v2"
	crtModule = "aws-crt"
)

// needNodeSDK finds node and the installed SDK, and checks that what is installed is
// what node/package.json pins.
func needNodeSDK(t *testing.T) string {
	t.Helper()
	node := testenv.Need(t, "node", "nodejs")
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(nodeDir, "package.json"))
	must(t, err)
	must(t, json.Unmarshal(b, &pkg))
	for _, mod := range []string{sdkModule, crtModule} {
		want := pkg.Dependencies[mod]
		b, err := os.ReadFile(filepath.Join(nodeDir, "node_modules", mod, "package.json"))
		if err != nil {
			testenv.Missing(t, fmt.Sprintf("%s not installed (%v): run interop/node/install.sh", mod, err))
		}
		var got struct {
			Version string `json:"version"`
		}
		must(t, json.Unmarshal(b, &got))
		if got.Version != want {
			t.Fatalf("node_modules has %s %s, package.json pins %q: run interop/node/install.sh", mod, got.Version, want)
		}
	}
	return node
}

// provisionResult is provision.js's line on stdout.
type provisionResult struct {
	CertificateID       string            `json:"certificateId"`
	ThingName           string            `json:"thingName"`
	CertificatePEM      string            `json:"certificatePem"`
	StatusTopic         string            `json:"statusTopic"`
	DeviceConfiguration map[string]string `json:"deviceConfiguration"`
}

// observer is the test's own MQTT client on every gateway's status topic, to see
// that the provisioned identity's publish reached the broker.
type observer struct {
	mu   sync.Mutex
	msgs map[string]chan []byte
}

func (o *observer) topic(name string) chan []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	ch, ok := o.msgs[name]
	if !ok {
		ch = make(chan []byte, 4)
		o.msgs[name] = ch
	}
	return ch
}

func startObserver(t *testing.T, rg *rig) *observer {
	t.Helper()
	id := rg.newDevice("observer", "ObserverPolicy", observerPolicyDoc())
	crt, err := tls.X509KeyPair(id.crtPEM, id.keyPEM)
	must(t, err)
	o := &observer{msgs: map[string]chan []byte{}}
	opts := paho.NewClientOptions().
		AddBroker("tls://" + rg.region.Addr().String()).
		SetClientID("observer").
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(60 * time.Second).
		SetTLSConfig(&tls.Config{
			// Go dials the address and sends ServerName, so this client needs no proxy.
			ServerName: customDomain, RootCAs: rg.ca.Pool(),
			Certificates: []tls.Certificate{crt}, MinVersion: tls.VersionTLS12,
		})
	c := paho.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(250) })
	tok := c.Subscribe("gateways/+/status", 1, func(_ paho.Client, m paho.Message) {
		select {
		case o.topic(m.Topic()) <- m.Payload():
		default:
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("observer subscribe: %v", tok.Error())
	}
	return o
}

// csrFiles writes a fresh P-256 key and a CSR for it.
func csrFiles(t *testing.T, rg *rig, name string) (csrFile, keyFile string, pub *ecdsa.PublicKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}}, key)
	must(t, err)
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	return rg.write(name+".csr", csrPEM), rg.write(name+"-csr.key", ecKeyPEM(t, key)), &key.PublicKey
}

func TestSDKJSFleetProvisioning(t *testing.T) {
	node := needNodeSDK(t)
	openssl := testenv.Need(t, "openssl", "openssl")
	rg := newRig(t)
	px := startConnectProxy(t, map[string]string{rg.endpoint(): rg.region.Addr().String()})
	obs := startObserver(t, rg)

	tests := []struct {
		mode, protocol, serial string
	}{
		{"keys", "mqtt311", "K311"},
		{"keys", "mqtt5", "K5"},
		{"csr", "mqtt311", "C311"},
		{"csr", "mqtt5", "C5"},
	}
	for _, tc := range tests {
		t.Run(tc.mode+"/"+tc.protocol, func(t *testing.T) {
			t.Parallel()
			args := []string{
				filepath.Join(nodeDir, "provision.js"),
				"--host", customDomain,
				"--port", strconv.Itoa(int(rg.region.Addr().Port())),
				"--proxy-host", px.addr().Addr().String(),
				"--proxy-port", strconv.Itoa(int(px.addr().Port())),
				"--ca", rg.caFile,
				"--cert", rg.claim.certFile,
				"--key", rg.claim.keyFile,
				"--template", templateName,
				"--serial", tc.serial,
				"--site", "lab",
				"--mode", tc.mode,
				"--protocol", tc.protocol,
				"--client-id", provisioning.ClaimClientIDPrefix + tc.serial,
			}
			var csrPub *ecdsa.PublicKey
			if tc.mode == "csr" {
				var csr, key string
				csr, key, csrPub = csrFiles(t, rg, "gw-"+tc.serial)
				args = append(args, "--csr", csr, "--csr-key", key)
			}
			res := runProvision(t, node, args)

			thingName := "gw-" + tc.serial
			if res.ThingName != thingName {
				t.Fatalf("thingName %q, want %q", res.ThingName, thingName)
			}
			leaf := parseLeaf(t, res.CertificatePEM)
			if id := registry.CertificateID(leaf.Raw); id != res.CertificateID {
				t.Errorf("certificateId %s, but the certificate's SHA-256 is %s", res.CertificateID, id)
			}
			if csrPub != nil && !csrPub.Equal(leaf.PublicKey) {
				t.Error("certificate from CSR does not carry the CSR's public key")
			}
			checkRegistry(t, rg, thingName, res.CertificateID)
			checkOpenSSLVerify(t, openssl, rg, thingName, res.CertificatePEM)

			wantTopic := "gateways/" + thingName + "/status"
			if res.StatusTopic != wantTopic || res.DeviceConfiguration["statusTopic"] != wantTopic {
				t.Errorf("status topic %q, deviceConfiguration %v, want %q from the template", res.StatusTopic, res.DeviceConfiguration, wantTopic)
			}
			select {
			case msg := <-obs.topic(wantTopic):
				if !bytes.Contains(msg, []byte(res.CertificateID)) {
					t.Errorf("status message %q does not name certificate %s", msg, res.CertificateID)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("observer saw nothing on %s", wantTopic)
			}
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		// Every SDK connection, claim and device, went through the proxy by name.
		asked := px.asked()
		if len(asked) != 2*len(tests) {
			t.Errorf("proxy saw %d tunnels, want %d: %q", len(asked), 2*len(tests), asked)
		}
		for _, a := range asked {
			if a != rg.endpoint() {
				t.Errorf("proxy asked for %q, want %q", a, rg.endpoint())
			}
		}
	})
}

func runProvision(t *testing.T, node string, args []string) provisionResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Env = nodeEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("provision.js took %v; stderr:\n%s", time.Since(start).Round(time.Millisecond), stderr.String())
	if err != nil {
		t.Fatalf("provision.js: %v\nstdout: %s", err, stdout.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res provisionResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("provision.js result: %v\nstdout: %s", err, stdout.String())
	}
	return res
}

// nodeEnv keeps proxy settings of the environment away from aws-crt, so the only
// proxy in play is the test's.
func nodeEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return strings.HasSuffix(strings.ToLower(k), "_proxy") || strings.HasPrefix(k, "IOT_")
	})
}

func parseLeaf(t *testing.T, certPEM string) *x509.Certificate {
	t.Helper()
	blk, _ := pem.Decode([]byte(certPEM))
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("certificatePem is not a PEM certificate: %.80q", certPEM)
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	must(t, err)
	return leaf
}

// checkRegistry asserts what RegisterThing must have left in the region.
func checkRegistry(t *testing.T, rg *rig, thingName, certID string) {
	t.Helper()
	thing, err := rg.reg.GetThing(thingName)
	if err != nil {
		t.Fatalf("thing %s: %v", thingName, err)
	}
	if !slices.Contains(thing.Groups, thingGroup) {
		t.Errorf("thing %s in groups %q, want %s", thingName, thing.Groups, thingGroup)
	}
	cert, err := rg.reg.GetCertificate(certID)
	if err != nil {
		t.Fatalf("certificate %s: %v", certID, err)
	}
	if cert.Status != registry.StatusActive {
		t.Errorf("certificate status %s, want %s", cert.Status, registry.StatusActive)
	}
	things, err := rg.reg.ThingsForCertificate(certID)
	must(t, err)
	if !slices.Equal(things, []string{thingName}) {
		t.Errorf("certificate attached to things %q, want [%s]", things, thingName)
	}
	pols, err := rg.reg.PoliciesForCertificate(certID)
	must(t, err)
	if !slices.ContainsFunc(pols, func(p registry.Policy) bool { return p.Name == devicePolicy }) {
		t.Errorf("policy %s not attached to certificate %s", devicePolicy, certID)
	}
}

// checkOpenSSLVerify has OpenSSL, not Go, check that the certificate chains to the
// rig root.
func checkOpenSSLVerify(t *testing.T, openssl string, rg *rig, name, certPEM string) {
	t.Helper()
	f := rg.write(name+".pem", []byte(certPEM))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, openssl, "verify", "-CAfile", rg.caFile, f).CombinedOutput()
	if err != nil || !bytes.Equal(bytes.TrimSpace(out), []byte(fmt.Sprintf("%s: OK", f))) {
		t.Errorf("openssl verify: %v\n%s", err, out)
	}
}

// The SDK checks the server certificate, chain and name: trusting another root,
// or reaching the region under a name its certificate does not carry, it refuses.
// s2n reports a failed handshake to the client only after its blinding delay (10
// to 30 s), so the test watches aws-crt's log for the TLS handler's verdict.
func TestSDKJSRefusesUntrustedServer(t *testing.T) {
	node := needNodeSDK(t)
	// Unknown names get the ATS certificate here, so the client, not the region,
	// is the one to refuse a name mismatch.
	rg := newRig(t, func(c *iotcore.Config) { c.AllowUnknownSNI = true })
	const otherName = "other.iot.example.com"
	port := strconv.Itoa(int(rg.region.Addr().Port()))
	px := startConnectProxy(t, map[string]string{
		rg.endpoint():                     rg.region.Addr().String(),
		net.JoinHostPort(otherName, port): rg.region.Addr().String(),
	})
	tests := []struct {
		name, host, protocol string
		ca                   string
		verdict              string // s2n's words
	}{
		{"another root/mqtt311", customDomain, "mqtt311", otherCAFile(t, rg), "Certificate is untrusted"},
		{"another root/mqtt5", customDomain, "mqtt5", otherCAFile(t, rg), "Certificate is untrusted"},
		{"another name/mqtt311", otherName, "mqtt311", rg.caFile, "not valid for the supplied hostname"},
		{"another name/mqtt5", otherName, "mqtt5", rg.caFile, "not valid for the supplied hostname"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			serial := "untrusted-" + strconv.Itoa(i)
			cmd := exec.CommandContext(ctx, node, filepath.Join(nodeDir, "provision.js"),
				"--host", tc.host, "--port", port,
				"--proxy-host", px.addr().Addr().String(),
				"--proxy-port", strconv.Itoa(int(px.addr().Port())),
				"--ca", tc.ca,
				"--cert", rg.claim.certFile, "--key", rg.claim.keyFile,
				"--template", templateName, "--serial", serial,
				"--protocol", tc.protocol, "--crt-log", "warn")
			cmd.Env = nodeEnv()
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			must(t, err)
			must(t, cmd.Start())
			var verdict string
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if line := sc.Text(); strings.Contains(line, "[tls-handler]") && strings.Contains(line, "negotiation failed") {
					verdict = line
					cancel() // the rest is s2n's blinding delay
					break
				}
			}
			_, _ = io.Copy(io.Discard, stderr)
			err = cmd.Wait()
			switch {
			case verdict == "" && err == nil:
				t.Fatalf("provision.js trusting another root succeeded: %s", stdout.String())
			case verdict == "":
				t.Fatalf("provision.js failed without a TLS verdict: %v", err)
			case !strings.Contains(verdict, tc.verdict):
				t.Errorf("TLS negotiation failed, but not with %q: %s", tc.verdict, verdict)
			}
			if stdout.Len() != 0 {
				t.Errorf("provision.js printed a result: %s", stdout.String())
			}
			if _, err := rg.reg.GetThing("gw-" + serial); err == nil {
				t.Error("thing registered through an untrusted server")
			}
			t.Logf("aws-crt: %s", verdict)
		})
	}
}
