package iotcore_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/fleetboot/fleetboot/provisioning"
)

func TestCreateFromCSRRejections(t *testing.T) {
	rg := newRig(t)
	p := rg.region.Provisioner()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	must(t, err)
	weakDER, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "w"}}, weak)
	must(t, err)
	good, _ := newCSR(t)
	b, _ := pem.Decode(good)
	tampered := append([]byte(nil), b.Bytes...)
	tampered[len(tampered)-3] ^= 0x55
	for _, tc := range []struct {
		name, csr, want string
	}{
		{"missing", "", "missing"},
		{"not PEM", "hello", "not PEM"},
		{"wrong PEM type", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.Bytes})), "PEM type"},
		{"RSA 1024", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER})), "2048"},
		{"bad signature", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered})), "certificateSigningRequest"},
	} {
		for _, f := range []provisioning.Format{provisioning.FormatJSON, provisioning.FormatCBOR} {
			t.Run(tc.name+"/"+string(f), func(t *testing.T) {
				out, reply := p.Handle(t.Context(), provisioning.CreateFromCSRTopic(f),
					marshal(t, f, provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: tc.csr}), "c")
				var rej provisioning.ErrorResponse
				unmarshal(t, f, reply, &rej)
				if out != provisioning.Rejected || rej.StatusCode != 400 || !strings.Contains(rej.ErrorMessage, tc.want) {
					t.Fatalf("got %s %+v, want 400 mentioning %q", out, rej, tc.want)
				}
			})
		}
	}
}

// Token expiry on the region's clock: RegisterThing refuses the token and the
// never-activated certificate is gone; the sweeper does the same without a request.
func TestTokenExpiry(t *testing.T) {
	rg := newRig(t)
	p := rg.region.Provisioner()
	f := provisioning.FormatJSON
	onUse, swept := createFromCSR(t, p), createFromCSR(t, p)
	rg.clock.Advance(time.Hour)

	claim := rg.mustDial(rg.claim, "claim")
	out, reply := claim.request(t, provisioning.RegisterThingTopic(templateName, f), marshal(t, f,
		provisioning.RegisterThingRequest{CertificateOwnershipToken: onUse.CertificateOwnershipToken, Parameters: map[string]string{"SerialNumber": "E"}}))
	checkRejected(t, f, out, reply, 400, provisioning.CodeInvalidOwnershipToken)
	if _, err := rg.reg.GetCertificate(onUse.CertificateID); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("certificate of an expired token: %v", err)
	}
	if n, err := rg.region.SweepExpiredTokens(); err != nil || n != 0 {
		// The check on use already swept everything that had expired.
		t.Fatalf("sweep: %d %v", n, err)
	}
	if _, err := rg.reg.GetCertificate(swept.CertificateID); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("certificate of the other expired token: %v", err)
	}
}

// Certificates the region issues verify with openssl against the rig root.
func TestIssuedCertificateOpenSSL(t *testing.T) {
	bin := needTool(t, "openssl", "openssl")
	rg := newRig(t)
	out, reply := rg.region.Provisioner().Handle(t.Context(), provisioning.CreateKeysTopic(provisioning.FormatJSON), nil, "c")
	if out != provisioning.Accepted {
		t.Fatalf("%s", reply)
	}
	var resp provisioning.CreateKeysAndCertificateResponse
	unmarshal(t, provisioning.FormatJSON, reply, &resp)
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, pki.CertFile), rg.ca.CertPEM(), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "device.pem"), []byte(resp.CertificatePEM), 0o600))
	o, err := exec.Command(bin, "verify", "-purpose", "sslclient", "-CAfile", filepath.Join(dir, pki.CertFile), filepath.Join(dir, "device.pem")).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, o)
	}
	c, err := registry.ParseCertificatePEM(resp.CertificatePEM)
	must(t, err)
	if c.Subject.CommonName != "AWS IoT Certificate" || c.NotAfter.Before(time.Now().AddDate(10, 0, 0)) {
		t.Fatalf("subject %q, not after %v", c.Subject.CommonName, c.NotAfter)
	}
}

// createFromCSR is an accepted CreateCertificateFromCsr (JSON) for a fresh key,
// asked of p directly.
func createFromCSR(t *testing.T, p *iotcore.Provisioner) provisioning.CreateCertificateFromCSRResponse {
	t.Helper()
	f := provisioning.FormatJSON
	csr, _ := newCSR(t)
	out, reply := p.Handle(t.Context(), provisioning.CreateFromCSRTopic(f),
		marshal(t, f, provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: string(csr)}), "c")
	if out != provisioning.Accepted {
		t.Fatalf("CreateCertificateFromCsr: %s", reply)
	}
	var resp provisioning.CreateCertificateFromCSRResponse
	unmarshal(t, f, reply, &resp)
	return resp
}
