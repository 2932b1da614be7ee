package main

import (
	"bytes"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/keystore/tpm/tpmtest"
)

// The device binary with its key in swtpm, a TPM in a separate process reached
// over its TCP command port: first boot by claim in both flows, and JITP from the
// factory line. tpm2-tools and openssl check the result from outside.
func TestProcessTPM(t *testing.T) {
	readpublic := tpmtest.NeedProgram(t, "tpm2_readpublic", "tpm2-tools")
	openssl := needOpenSSL(t)
	rig := startRigProcess(t)

	// swtpm serves one client at a time, so the tools run between fleetboot runs.
	checkKey := func(t *testing.T, sw *tpmtest.Swtpm, stateDir string, madeInTPM bool) {
		t.Helper()
		pubFile := filepath.Join(t.TempDir(), "tpm-pub.pem")
		out, err := exec.Command(readpublic, "-T", sw.TCTI(), "-c", "0x81000010", "-f", "pem", "-o", pubFile).CombinedOutput()
		if err != nil {
			t.Fatalf("tpm2_readpublic: %v\n%s", err, out)
		}
		if got := strings.Contains(string(out), "fixedtpm"); got != madeInTPM {
			t.Fatalf("tpm2_readpublic: fixedtpm = %v, want %v\n%s", got, madeInTPM, out)
		}
		tpmPub, _ := os.ReadFile(pubFile)
		certPub, err := exec.Command(openssl, "x509", "-in", filepath.Join(stateDir, "keys", "current", "cert.pem"), "-pubkey", "-noout").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl x509: %v\n%s", err, certPub)
		}
		a, _ := pem.Decode(tpmPub)
		b, _ := pem.Decode(certPub)
		if a == nil || b == nil || !bytes.Equal(a.Bytes, b.Bytes) {
			t.Fatalf("the issued certificate's public key\n%s\nis not the TPM key\n%s", certPub, tpmPub)
		}
	}

	for _, tc := range []struct {
		mode, subnet, region string
		madeInTPM            bool
	}{
		{"csr", "198.51.100.0/24", "us-east-1", true},
		{"keys", "192.0.2.0/24", "eu-west-1", false},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			sw := tpmtest.StartSwtpm(t)
			serial := "TPM-" + strings.ToUpper(tc.mode)
			d := newDevice(t, rig, tc.subnet, serial, "--keystore", sw.URI(), "--provisioning-mode", tc.mode)
			if code, out := d.fleetboot(nil, "provision"); code != exitOK {
				t.Fatalf("provision: exit %d\n%s", code, out)
			}
			st := d.status()
			if st.State != "online" || st.Region != tc.region || !strings.HasPrefix(st.Keystore, "tpm:") {
				t.Fatalf("status %+v", st)
			}
			rig.oneIdentity(t, tc.region, "gw-"+serial)
			checkKey(t, sw, d.stateDir, tc.madeInTPM)

			// A second run provisions nothing: same certificate, same key.
			if code, out := d.fleetboot(nil, "provision"); code != exitOK {
				t.Fatalf("second provision: exit %d\n%s", code, out)
			}
			if st2 := d.status(); st2.CertificateID != st.CertificateID {
				t.Fatalf("second run changed the certificate: %s → %s", st.CertificateID, st2.CertificateID)
			}
			rig.oneIdentity(t, tc.region, "gw-"+serial)

			// reset --yes evicts the persistent handle.
			if code, out := d.fleetboot(nil, "reset", "--yes"); code != exitOK {
				t.Fatalf("reset: exit %d\n%s", code, out)
			}
			if out, err := exec.Command(readpublic, "-T", sw.TCTI(), "-c", "0x81000010").CombinedOutput(); err == nil {
				t.Fatalf("the handle survived reset:\n%s", out)
			}
		})
	}

	// A TPM whose owner hierarchy has a password (set here with tpm2_changeauth):
	// without it the agent says which setting is missing; with it from the
	// environment, provisioning succeeds, and the password appears in no output.
	t.Run("owner-auth", func(t *testing.T) {
		changeauth := tpmtest.NeedProgram(t, "tpm2_changeauth", "tpm2-tools")
		sw := tpmtest.StartSwtpm(t)
		const secret = "owner-Secret-4711"
		if out, err := exec.Command(changeauth, "-T", sw.TCTI(), "-c", "owner", secret).CombinedOutput(); err != nil {
			t.Fatalf("tpm2_changeauth: %v\n%s", err, out)
		}
		d := newDevice(t, rig, "198.51.100.0/24", "TPM-AUTH", "--keystore", sw.URI())
		code, out := d.fleetboot(nil, "provision")
		t.Logf("without the owner password: exit %d: %s", code, out)
		if code == exitOK || !strings.Contains(out, "FLEETBOOT_KEYSTORE_OWNER_AUTH") {
			t.Fatalf("provision without the owner password: exit %d\n%s", code, out)
		}
		code, out = d.fleetboot([]string{"FLEETBOOT_KEYSTORE_OWNER_AUTH=" + secret}, "provision", "--log-level", "debug")
		if code != exitOK {
			t.Fatalf("provision with the owner password: exit %d\n%s", code, out)
		}
		if strings.Contains(out, secret) {
			t.Fatalf("the owner password appears in the output:\n%s", out)
		}
		rig.oneIdentity(t, "us-east-1", "gw-TPM-AUTH")
	})

	t.Run("jitp", func(t *testing.T) {
		sw := tpmtest.StartSwtpm(t)
		const cn = "GW-TPM-JITP-1"
		d := newDevice(t, rig, "203.0.113.0/24", "unused", "--keystore", sw.URI(), "--provisioning-mode", "jitp")
		work := t.TempDir()
		csrDir := filepath.Join(work, "csr")
		if err := os.Mkdir(csrDir, 0o700); err != nil {
			t.Fatal(err)
		}
		if code, out := d.fleetboot(nil, "factory keygen", "--cn", cn, "--csr-out", filepath.Join(csrDir, cn+".csr")); code != exitOK {
			t.Fatalf("factory keygen: exit %d\n%s", code, out)
		}
		makerCA, makerKey := filepath.Join(rig.data, "maker-ca.pem"), filepath.Join(rig.data, "maker-ca.key")
		if out, err := exec.Command("../../scripts/factory-sign.sh", makerCA, makerKey, csrDir, filepath.Join(work, "certs")).CombinedOutput(); err != nil {
			t.Fatalf("factory-sign.sh: %v\n%s", err, out)
		}
		if code, out := d.fleetboot(nil, "factory install-cert", "--cert", filepath.Join(work, "certs", cn+".pem"), "--ca", makerCA); code != exitOK {
			t.Fatalf("install-cert: exit %d\n%s", code, out)
		}
		if code, out := d.fleetboot(nil, "provision", "--steps"); code != exitOK || strings.Count(out, "jitp-connect") < 2 {
			t.Fatalf("provision: exit %d (want 0 after a dropped first connection)\n%s", code, out)
		}
		st := d.status()
		if st.State != "online" || st.ThingName != cn || st.Region != "ap-northeast-1" {
			t.Fatalf("status %+v", st)
		}
		rig.oneIdentity(t, "ap-northeast-1", cn)
		checkKey(t, sw, d.stateDir, true)
	})
}
