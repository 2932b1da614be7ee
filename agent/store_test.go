package agent_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	_ "github.com/fleetboot/fleetboot/keystore/mem"
)

func TestMemStore(t *testing.T) {
	var empty agent.MemStore
	st, err := empty.Load()
	if err != nil || st.Phase != agent.PhaseNew {
		t.Fatalf("empty store: %+v, %v; want a new device", st, err)
	}
	registered := func() *agent.State {
		return &agent.State{Phase: agent.PhaseRegistered, ThingName: "gw-1", Endpoint: "e.example",
			Addrs: []string{"127.0.0.1"}, DeviceConfiguration: map[string]any{"site": "a"}}
	}
	for _, tc := range []struct {
		name string
		st   *agent.State
	}{
		{"credentialed without token", &agent.State{Phase: agent.PhaseCredentialed, CertificateID: "abc"}},
		{"registered without thing", &agent.State{Phase: agent.PhaseRegistered, Endpoint: "e.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m agent.MemStore
			if err := m.Save(registered()); err != nil {
				t.Fatal(err)
			}
			if err := m.Save(tc.st); err == nil {
				t.Fatal("saved")
			}
			// A refused save keeps what was saved before.
			got, err := m.Load()
			if err != nil || got.ThingName != "gw-1" || got.Version != agent.StateVersion {
				t.Fatalf("load: %+v, %v; want the registered state", got, err)
			}
		})
	}
	t.Run("copies", func(t *testing.T) {
		var m agent.MemStore
		saved := registered()
		if err := m.Save(saved); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Load()
		got.Addrs[0] = "127.0.0.9"
		got.DeviceConfiguration["site"] = "b"
		saved.Addrs[0] = "127.0.0.8"
		saved.DeviceConfiguration["site"] = "c"
		again, _ := m.Load()
		if again.Addrs[0] != "127.0.0.1" || again.DeviceConfiguration["site"] != "a" {
			t.Fatalf("store changed through a copy: %v %v", again.Addrs, again.DeviceConfiguration)
		}
	})
}

// TestFirstBootWithoutFiles runs a first boot the way a simulator does: state in
// memory, claim and roots loaded once by the caller, key in a mem keystore. The
// state folder must stay empty, and the claim files are not read: they are gone
// before the boot starts.
func TestFirstBootWithoutFiles(t *testing.T) {
	c := startRig(t)
	dir := t.TempDir()
	cfg := deviceConfig(t, c, dir, agent.ModeCSR, "json", "203.0.113.0/24", "NOFILES-1")
	cfg.Keystore.URI = "mem:"
	claim, err := tls.LoadX509KeyPair(cfg.Provisioning.ClaimCertificate, cfg.Provisioning.ClaimKey)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(cfg.Endpoint.RootCA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg.Provisioning.ClaimCertificate = dir + "/missing-claim.pem"
	cfg.Provisioning.ClaimKey = dir + "/missing-claim.key"
	cfg.Endpoint.RootCA = dir + "/missing-root.pem"

	store := &agent.MemStore{}
	a := newAgent(t, cfg, agent.Options{State: store, Claim: &claim, Roots: roots})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := a.Prove(ctx)
	if err != nil {
		t.Fatalf("prove: %v", err)
	}
	checkOneIdentity(t, c, "ap-northeast-1", st.ThingName)
	saved, err := store.Load()
	if err != nil || saved.Phase != agent.PhaseOnline || saved.ThingName != "gw-NOFILES-1" {
		t.Fatalf("stored state %+v, %v; want online as gw-NOFILES-1", saved, err)
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("state folder holds %v (%v); want nothing written", ents, err)
	}
}
