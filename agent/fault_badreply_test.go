package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// A create reply whose certificate is not for the device key, or whose
// certificateId is not its certificate's: refused before anything is stored,
// classed as a rejected provisioning call, and the message says what was wrong.
func TestFaultInconsistentCreateReply(t *testing.T) {
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	otherDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &otherKey.PublicKey, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	otherPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherDER}))
	otherKeyDER, _ := x509.MarshalPKCS8PrivateKey(otherKey)
	otherKeyPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherKeyDER}))

	rewrite := func(field, value string) func(provisioning.Operation, provisioning.Format, []byte) []byte {
		return func(op provisioning.Operation, f provisioning.Format, payload []byte) []byte {
			if op == provisioning.OpRegisterThing {
				return payload
			}
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil {
				return payload
			}
			m[field] = value
			out, _ := json.Marshal(m)
			return out
		}
	}
	for _, tc := range []struct {
		name, mode, field, value, want string
	}{
		{"csr: certificate for another key", agent.ModeCSR, "certificatePem", otherPEM, "not for the device key"},
		{"keys: private key of another certificate", agent.ModeKeys, "privateKey", otherKeyPEM, "not for the device key"},
		{"csr: wrong certificateId", agent.ModeCSR, "certificateId", strings.Repeat("ab", 32), "certificateId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startRig(t)
			c.Region("eu-west-1").SetFaults(iotcore.Faults{RewriteReply: rewrite(tc.field, tc.value)})
			cfg := deviceConfig(t, c, t.TempDir(), tc.mode, "json", "192.0.2.0/24", "BAD-REPLY")
			a := newAgent(t, cfg, agent.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := a.Provision(ctx)
			if err == nil || agent.ClassOf(err) != agent.ClassRejected || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("provision: %v (class %v), want a rejected-class error mentioning %q", err, agent.ClassOf(err), tc.want)
			}
			if st := a.State(); st.Phase != agent.PhaseNew || st.OwnershipToken != "" {
				t.Fatalf("state after a bad reply: %+v", st)
			}
			ks, err := keystore.Open(ctx, cfg.Keystore.URI, keystore.Options{BaseDir: cfg.StateDir})
			if err != nil {
				t.Fatal(err)
			}
			defer ks.Close()
			if _, _, err := ks.Certificate(ctx); !errors.Is(err, keystore.ErrNotFound) {
				t.Fatalf("a certificate was stored from a bad reply: %v", err)
			}
		})
	}
}
