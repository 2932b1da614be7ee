package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const jitpTemplate = `{"Parameters":{"AWS::IoT::Certificate::CommonName":{"Type":"String"},"AWS::IoT::Certificate::Id":{"Type":"String"}},
"Resources":{"thing":{"Type":"AWS::IoT::Thing","Properties":{"ThingName":{"Ref":"AWS::IoT::Certificate::CommonName"}}},
"certificate":{"Type":"AWS::IoT::Certificate","Properties":{"CertificateId":{"Ref":"AWS::IoT::Certificate::Id"},"Status":"ACTIVE"}}}}`

// A maker registers its CA for JITP with the aws CLI, as the AWS docs show.
func TestAWSCLICACertificates(t *testing.T) {
	c := newCLIRig(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	caPEM, caCert, caKey := testCA(t, "CLI Maker CA")
	if err := os.WriteFile(caFile, caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	good := write("rc.json", map[string]string{"templateBody": jitpTemplate, "roleArn": "arn:aws:iam::123456789012:role/JITP"})
	bad := write("bad.json", map[string]string{"templateBody": `{"Resources": 5}`})

	// The proof of possession, as the AWS docs make it: a certificate for the
	// registration code signed by the CA's key.
	regCode, _ := c.awsJSON(t, euWest1, "get-registration-code")["registrationCode"].(string)
	if len(regCode) != 64 {
		t.Fatalf("get-registration-code: %q", regCode)
	}
	if again, _ := c.awsJSON(t, euWest1, "get-registration-code")["registrationCode"].(string); again != regCode {
		t.Fatalf("registration code changed between calls: %q, %q", regCode, again)
	}
	verification := filepath.Join(dir, "verification.pem")
	wrongCN := filepath.Join(dir, "wrong-cn.pem")
	wrongKey := filepath.Join(dir, "wrong-key.pem")
	_, otherCert, otherKey := testCA(t, "Someone Else")
	for name, v := range map[string][]byte{
		verification: leafFor(t, regCode, caCert, caKey),
		wrongCN:      leafFor(t, strings.Repeat("0", 64), caCert, caKey),
		wrongKey:     leafFor(t, regCode, otherCert, otherKey),
	} {
		if err := os.WriteFile(name, v, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name, code string
		args       []string
	}{
		{"no verification certificate", "InvalidRequestException", nil},
		{"another Common Name", "RegistrationCodeValidationException", []string{"--verification-certificate", "file://" + wrongCN}},
		{"signed by another key", "CertificateValidationException", []string{"--verification-certificate", "file://" + wrongKey}},
		{"a broken JITP template", "InvalidRequestException", []string{"--verification-certificate", "file://" + verification, "--registration-config", bad}},
	} {
		args := append([]string{"register-ca-certificate", "--ca-certificate", "file://" + caFile, "--set-as-active", "--allow-auto-registration"}, tc.args...)
		if _, errOut, code := c.aws(t, euWest1, args...); code != 254 || !strings.Contains(errOut, tc.code) {
			t.Fatalf("%s: exit %d, stderr %q; want %s", tc.name, code, errOut, tc.code)
		}
	}
	reg := c.awsJSON(t, euWest1, "register-ca-certificate", "--ca-certificate", "file://"+caFile,
		"--verification-certificate", "file://"+verification,
		"--set-as-active", "--allow-auto-registration", "--registration-config", good)
	id, _ := reg["certificateId"].(string)
	if len(id) != 64 || !strings.HasSuffix(reg["certificateArn"].(string), ":cacert/"+id) {
		t.Fatalf("register-ca-certificate: %v", reg)
	}
	_, errOut, code := c.aws(t, euWest1, "register-ca-certificate", "--ca-certificate", "file://"+caFile,
		"--verification-certificate", "file://"+verification)
	if code != 254 || !strings.Contains(errOut, "ResourceAlreadyExistsException") {
		t.Fatalf("registering twice: exit %d, stderr %q", code, errOut)
	}
	d := c.awsJSON(t, euWest1, "describe-ca-certificate", "--certificate-id", id)
	desc := d["certificateDescription"].(map[string]any)
	rc, _ := d["registrationConfig"].(map[string]any)
	if desc["status"] != "ACTIVE" || desc["autoRegistrationStatus"] != "ENABLE" || rc == nil || rc["templateBody"] != jitpTemplate {
		t.Fatalf("describe-ca-certificate: %v", d)
	}
	list := c.awsJSON(t, euWest1, "list-ca-certificates")["certificates"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["certificateId"] != id {
		t.Fatalf("list-ca-certificates (newest first): %v", list)
	}
	// Regions are separate: us-east-1 has no such CA.
	if _, errOut, code := c.aws(t, usEast1, "describe-ca-certificate", "--certificate-id", id); code != 254 || !strings.Contains(errOut, "ResourceNotFoundException") {
		t.Fatalf("describe in another region: exit %d, %q", code, errOut)
	}
}

func testCA(t *testing.T, cn string) ([]byte, *x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert, key
}

// leafFor is a certificate for cn signed by parent.
func leafFor(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
