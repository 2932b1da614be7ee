//go:build !notpm

package agent_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/keystore/tpm"
	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
)

// openKeystore opens the device keystore of one test device: the file backend in
// its state folder, or the TPM backend on dev (a simulator) with the certificate
// files in the state folder.
func openKeystore(t *testing.T, stateDir string, dev io.Closer) keystore.Keystore {
	t.Helper()
	uri, opts := "file:"+filepath.Join(stateDir, "keys"), keystore.Options{BaseDir: stateDir}
	if dev != nil {
		uri, opts.Device = "tpm:///dev/tpmrm0", &tpm.Device{TPM: dev}
	}
	ks, err := keystore.Open(context.Background(), uri, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ks.Close() })
	return ks
}

// factoryLine does what `fleetboot factory keygen` and `install-cert` do, with the
// rig's maker CA signing: a key in ks, a certificate for CommonName cn.
func factoryLine(t *testing.T, c *mockcloud.Cloud, ks keystore.Keystore, cn string, withChain bool) {
	t.Helper()
	ctx := context.Background()
	gen := ks.(keystore.KeyGenerator)
	signer, err := gen.GenerateKey(ctx, keystore.Algorithm("ecdsa-p256"))
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, err := keystore.CreateCSR(signer, pkix.Name{CommonName: cn, Country: []string{"DE"}, SerialNumber: "SN-" + cn})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(csrPEM)
	if b == nil {
		t.Fatalf("CreateCSR: no PEM in %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	maker, err := pki.LoadOrCreateFiles(c.Files().MakerCA, c.Files().MakerCAKey, mockcloud.MakerCAName)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := maker.SignCSR(csr, nil, time.Now().Add(365*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var chain []*x509.Certificate
	if withChain {
		chain = []*x509.Certificate{maker.Certificate()}
	}
	if err := ks.StoreCertificate(ctx, leaf, chain); err != nil {
		t.Fatal(err)
	}
}

// JITP end to end: a factory certificate from the maker CA, in a file keystore or
// a TPM; the first connection registers it and is dropped, a later one is accepted,
// and a restart repeats nothing.
func TestJITPFirstBoot(t *testing.T) {
	c := startRig(t)
	for _, tc := range []struct {
		name      string
		tpm       bool
		withChain bool
		subnet    string
		region    string
	}{
		{"file-leaf-only", false, false, "192.0.2.0/24", "eu-west-1"},
		{"file-with-chain", false, true, "198.51.100.0/24", "us-east-1"},
		{"tpm", true, true, "203.0.113.0/24", "ap-northeast-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			var dev io.Closer
			if tc.tpm {
				dev = tpmtest.NewSimulator(t)
			}
			ks := openKeystore(t, dir, dev)
			thing := "GW-JITP-" + tc.name
			factoryLine(t, c, ks, thing, tc.withChain)
			cfg := deviceConfig(t, c, dir, agent.ModeJITP, "json", tc.subnet, "unused")
			var steps []agent.StepName
			a := newAgent(t, cfg, agent.Options{Keystore: ks, Observe: func(s agent.Step) { steps = append(steps, s.Name) }})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := a.Prove(ctx)
			if err != nil {
				t.Fatalf("prove: %v (steps %v)", err, steps)
			}
			if st.Phase != agent.PhaseOnline || st.Mode != agent.ModeJITP || st.ThingName != thing || st.Region != tc.region {
				t.Fatalf("state %+v, want online in %s as %s", st, tc.region, thing)
			}
			connects := 0
			for _, s := range steps {
				if s == agent.StepJITPConnect {
					connects++
				}
			}
			if connects < 2 {
				t.Fatalf("steps %v: the first connection should have been dropped and retried", steps)
			}
			checkOneIdentity(t, c, tc.region, thing)
			reg := c.Region(tc.region).Registry()
			cert, err := reg.GetCertificate(st.CertificateID)
			if err != nil || cert.Status != registry.StatusActive || cert.CAID == "" {
				t.Fatalf("certificate %+v, %v: want ACTIVE with the maker CA", cert, err)
			}
			if th, err := reg.GetThing(thing); err != nil || len(th.Groups) == 0 {
				t.Fatalf("thing %+v, %v: want it in group gateways", th, err)
			}

			// A restart repeats nothing that succeeded: no resolve, no JITP connect.
			steps = nil
			b := newAgent(t, cfg, agent.Options{Keystore: ks, Observe: func(s agent.Step) { steps = append(steps, s.Name) }})
			if st2, err := b.Prove(ctx); err != nil || st2.CertificateID != st.CertificateID {
				t.Fatalf("second boot: %+v, %v", st2, err)
			}
			for _, s := range steps {
				if s == agent.StepJITPConnect || s == agent.StepResolve {
					t.Fatalf("second boot ran %s again (steps %v)", s, steps)
				}
			}
		})
	}
}

// The claim flows with the device key in a TPM: CSR (key made in the TPM) and
// keys (the cloud's key imported), each through TLS to the mock and back online
// after a simulated restart of the TPM.
func TestClaimFlowsWithTPM(t *testing.T) {
	c := startRig(t)
	for _, mode := range []string{agent.ModeCSR, agent.ModeKeys} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			sim := tpmtest.NewSimulator(t)
			ks := openKeystore(t, dir, sim)
			cfg := deviceConfig(t, c, dir, mode, "json", "198.51.100.0/24", "TPM-"+mode)
			a := newAgent(t, cfg, agent.Options{Keystore: ks})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			st, err := a.Prove(ctx)
			if err != nil {
				t.Fatalf("prove: %v", err)
			}
			checkOneIdentity(t, c, "us-east-1", st.ThingName)
			signer, err := ks.Signer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ts, ok := signer.(*tpm.Signer)
			if !ok || ts.MadeInTPM() != (mode == agent.ModeCSR) {
				t.Fatalf("signer %T made in TPM = %v, want %v", signer, ok && ts.MadeInTPM(), mode == agent.ModeCSR)
			}
			leaf, _, err := ks.Certificate(ctx)
			if err != nil || keystore.MatchCertificate(signer.Public(), leaf) != nil {
				t.Fatalf("stored certificate does not certify the TPM key: %v", err)
			}
			// The mock accepts the TPM key in both TLS versions: RSA signs PKCS #1
			// v1.5 or PSS in 1.2 and PSS in 1.3, ECDSA the same way in both.
			for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
				connectRaw(t, c, ks, st, v)
			}
			// Power cycle: the TPM keeps the persistent key; a new keystore and agent
			// come back online with it, without provisioning again.
			if err := sim.Restart(); err != nil {
				t.Fatal(err)
			}
			ks2 := openKeystore(t, dir, sim)
			b := newAgent(t, cfg, agent.Options{Keystore: ks2})
			st2, err := b.Prove(ctx)
			if err != nil || st2.CertificateID != st.CertificateID {
				t.Fatalf("after restart: %+v, %v", st2, err)
			}
		})
	}
}

// connectRaw connects to the device's pinned region as the thing with TLS version
// v only, sends an MQTT 3.1.1 CONNECT and expects CONNACK "accepted": in TLS 1.3
// the server checks the client's signature after the client's handshake is done,
// so only the broker's answer proves the key was accepted.
func connectRaw(t *testing.T, c *mockcloud.Cloud, ks keystore.Keystore, st *agent.State, v uint16) {
	t.Helper()
	cert, err := keystore.TLSCertificate(context.Background(), ks)
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, err := os.ReadFile(c.Files().RootCA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	addr := c.Region(st.Region).Addr().String()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", addr, &tls.Config{
		ServerName: st.ServerName, RootCAs: roots, Certificates: []tls.Certificate{cert},
		MinVersion: v, MaxVersion: v,
	})
	if err != nil {
		t.Fatalf("TLS %#x: %v", v, err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().Version; got != v {
		t.Fatalf("negotiated TLS %#x, want %#x", got, v)
	}
	id := st.ThingName
	body := append([]byte{0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, byte(len(id))}, id...)
	if _, err := conn.Write(append([]byte{0x10, byte(len(body))}, body...)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil || !bytes.Equal(ack, []byte{0x20, 2, 0, 0}) {
		t.Fatalf("TLS %#x: CONNACK % x, %v; want 20 02 00 00", v, ack, err)
	}
}

// The rig's switch iot.jitpKeepFirstConnection: the connection that registered the
// certificate goes on to CONNACK, so the device needs one connection, not two.
func TestJITPKeepFirstConnectionSwitch(t *testing.T) {
	cfg, err := mockcloud.LoadConfig(filepath.Join("..", "testdata", "rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 0
	cfg.IoT.JITPKeepFirstConnection = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	ks := openKeystore(t, dir, nil)
	factoryLine(t, c, ks, "GW-JITP-KEEP", false)
	var steps []agent.StepName
	a := newAgent(t, deviceConfig(t, c, dir, agent.ModeJITP, "json", "192.0.2.0/24", "unused"),
		agent.Options{Keystore: ks, Observe: func(s agent.Step) { steps = append(steps, s.Name) }})
	if _, err := a.Prove(ctx); err != nil {
		t.Fatalf("prove: %v (steps %v)", err, steps)
	}
	n := 0
	for _, s := range steps {
		if s == agent.StepJITPConnect {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("steps %v: want one jitp-connect with the first connection kept", steps)
	}
	checkOneIdentity(t, c, "eu-west-1", "GW-JITP-KEEP")
}

// Under AWS's limit of one connect per second per client id, a JITP device goes
// online on the connection its registration was accepted on, without a refused
// second connect.
func TestJITPUnderConnectRateLimit(t *testing.T) {
	c := startRig(t)
	c.Region("eu-west-1").SetFaults(iotcore.Faults{ClientIDConnectInterval: iotcore.ConnectIntervalAWS})
	dir := t.TempDir()
	ks := openKeystore(t, dir, nil)
	factoryLine(t, c, ks, "GW-JITP-RATE", true)
	var failed []string
	a := newAgent(t, deviceConfig(t, c, dir, agent.ModeJITP, "json", "192.0.2.0/24", "unused"),
		agent.Options{Keystore: ks, Observe: func(s agent.Step) {
			if s.Err != nil && s.Name == agent.StepConnect {
				failed = append(failed, s.Err.Error())
			}
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := a.Prove(ctx); err != nil {
		t.Fatalf("prove: %v", err)
	}
	if len(failed) > 0 {
		t.Fatalf("permanent connect refused: %v", failed)
	}
	checkOneIdentity(t, c, "eu-west-1", "GW-JITP-RATE")
	// The connect after JITP's expected drop waits out AWS's interval instead of
	// being refused by it.
	if n := c.Region("eu-west-1").FaultCounts().ConnectsThrottled; n != 0 {
		t.Fatalf("%d CONNECTs refused by the per-client-id interval, want 0", n)
	}
}
