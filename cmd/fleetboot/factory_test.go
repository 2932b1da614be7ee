package main

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fleetboot/fleetboot/internal/testenv"
)

func needOpenSSL(t *testing.T) string {
	t.Helper()
	return testenv.Need(t, "openssl", "openssl")
}

// The production line: keygen on the device, the maker's CA signs the CSR with
// openssl (scripts/factory-sign.sh), install-cert checks and stores it.
func TestFactoryLine(t *testing.T) {
	openssl := needOpenSSL(t)
	work := t.TempDir()
	cfg := writeConfig(t)
	ca, cakey := filepath.Join(work, "maker-ca.pem"), filepath.Join(work, "maker-ca.key")
	if out, err := exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-subj", "/CN=Example Maker CA", "-days", "3650", "-keyout", cakey, "-out", ca,
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign").CombinedOutput(); err != nil {
		t.Fatalf("make CA: %v\n%s", err, out)
	}
	csrs := filepath.Join(work, "csr")
	os.Mkdir(csrs, 0o700) //nolint:errcheck
	code, _, errOut := runCLI("factory", "keygen", "--config", cfg, "--cn", "GW-42", "--csr-out", filepath.Join(csrs, "GW-42.csr"))
	if code != exitOK {
		t.Fatalf("keygen: %d %s", code, errOut)
	}
	// Before a certificate exists, keygen reuses the key: the CSR is for the same key.
	code, csr2, _ := runCLI("factory", "keygen", "--config", cfg, "--cn", "GW-42")
	first, _ := os.ReadFile(filepath.Join(csrs, "GW-42.csr"))
	if code != exitOK || publicKeyOfCSR(t, []byte(csr2)) != publicKeyOfCSR(t, first) {
		t.Fatal("a second keygen made another key")
	}
	certs := filepath.Join(work, "certs")
	if out, err := exec.Command("../../scripts/factory-sign.sh", ca, cakey, csrs, certs).CombinedOutput(); err != nil {
		t.Fatalf("factory-sign.sh: %v\n%s", err, out)
	}
	cert := filepath.Join(certs, "GW-42.pem")

	// A certificate from another CA is refused.
	other := filepath.Join(work, "other.pem")
	exec.Command(openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=other", "-keyout", filepath.Join(work, "other.key"), "-out", other).Run() //nolint:errcheck
	if code, _, errOut := runCLI("factory", "install-cert", "--config", cfg, "--cert", cert, "--ca", other); code != exitConfig || !strings.Contains(errOut, "does not chain") {
		t.Fatalf("install with the wrong CA: %d %s", code, errOut)
	}
	if code, out, errOut := runCLI("factory", "install-cert", "--config", cfg, "--cert", cert, "--ca", ca); code != exitOK {
		t.Fatalf("install-cert: %d %s %s", code, out, errOut)
	}
	code, out, _ := runCLI("factory", "show", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "CN=GW-42") || !strings.Contains(out, "Example Maker CA") || !strings.Contains(out, "sha256:") {
		t.Fatalf("show: %d\n%s", code, out)
	}
	// Now that the key has a certificate, keygen refuses to touch it.
	if code, _, errOut := runCLI("factory", "keygen", "--config", cfg, "--cn", "GW-43"); code != exitConfig || !strings.Contains(errOut, "never replaced") {
		t.Fatalf("keygen over a certified key: %d %s", code, errOut)
	}
	// A certificate for another key is refused.
	code, _, errOut = runCLI("factory", "install-cert", "--config", cfg, "--cert", other, "--ca", other)
	if code != exitConfig {
		t.Fatalf("install a certificate for another key: %d %s", code, errOut)
	}
}

func publicKeyOfCSR(t *testing.T, data []byte) string {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatalf("no CSR in %q", data)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return string(csr.RawSubjectPublicKeyInfo)
}
