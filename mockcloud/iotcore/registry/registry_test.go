package registry_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, c *clock) *registry.Store {
	t.Helper()
	s, err := registry.Open(dir, registry.Options{Region: "eu-west-1", AccountID: "123456789012", Clock: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func selfSigned(t testing.TB) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: "d"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestPersistAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, dir, c)
	_, err := s.CreateThingGroup(registry.ThingGroup{Name: "gateways"})
	must(t, err)
	_, err = s.CreatePolicy("P", `{"Statement":[]}`)
	must(t, err)
	cert, err := s.RegisterCertificate(selfSigned(t), registry.StatusActive, "")
	must(t, err)
	if len(cert.ID) != 64 || cert.ARN != "arn:aws:iot:eu-west-1:123456789012:cert/"+cert.ID {
		t.Fatalf("certificate id/arn %q %q", cert.ID, cert.ARN)
	}
	must(t, s.AttachPolicy("P", cert.ID))
	_, err = s.PutThing(registry.Thing{Name: "gw-1", Attributes: map[string]string{"site": "fra1"}, Groups: []string{"gateways"}})
	must(t, err)
	must(t, s.AttachThingPrincipal("gw-1", cert.ID))
	_, err = s.CreateTemplate(registry.Template{Name: "T", Body: "{}", Enabled: true})
	must(t, err)
	must(t, s.Close())

	s = open(t, dir, c)
	defer s.Close()
	things, err := s.ListThings(registry.ThingFilter{ThingGroup: "gateways", AttributeName: "site", AttributeValue: "fra1"})
	must(t, err)
	if len(things) != 1 || things[0].Name != "gw-1" || things[0].Version != 1 {
		t.Fatalf("things after reopen: %+v", things)
	}
	if ps, _ := s.PoliciesForCertificate(cert.ID); len(ps) != 1 || ps[0].Name != "P" {
		t.Fatalf("policies after reopen: %+v", ps)
	}
	if th, _ := s.ThingsForCertificate(cert.ID); len(th) != 1 || th[0] != "gw-1" {
		t.Fatalf("things of certificate after reopen: %v", th)
	}
	if tp, err := s.GetTemplate("T"); err != nil || tp.Type != registry.TemplateFleetProvisioning {
		t.Fatalf("template after reopen: %+v %v", tp, err)
	}
}

func TestTypedErrors(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	pemText := selfSigned(t)
	cert, err := s.RegisterCertificate(pemText, registry.StatusActive, "")
	must(t, err)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"duplicate certificate", errOf(s.RegisterCertificate(pemText, registry.StatusActive, "")), registry.ErrAlreadyExists},
		{"unknown CA", errOf(s.RegisterCertificate(selfSigned(t), registry.StatusActive, "00")), registry.ErrNotFound},
		{"delete active", s.DeleteCertificate(cert.ID), registry.ErrConflict},
		{"attach missing policy", s.AttachPolicy("nope", cert.ID), registry.ErrNotFound},
		{"thing in missing group", errOf(s.PutThing(registry.Thing{Name: "x", Groups: []string{"nope"}})), registry.ErrNotFound},
		{"get missing thing", errOf(s.GetThing("nope")), registry.ErrNotFound},
		{"bad status", s.SetCertificateStatus(cert.ID, "SLEEPING"), registry.ErrInvalid},
		{"bad PEM", errOf(s.RegisterCertificate("junk", registry.StatusActive, "")), registry.ErrInvalid},
		{"policy not JSON", errOf(s.CreatePolicy("P", "{")), registry.ErrInvalid},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, tc.err, tc.want)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func TestTokenLifecycle(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	_, err := s.CreatePolicy("P", `{}`)
	must(t, err)
	issue := func() (string, *registry.Certificate) {
		tok := registry.HashToken(selfSigned(t)) // any unique text will do as a token
		cert, err := s.CreatePendingCertificate(selfSigned(t), registry.HashToken(tok), c.Now().Add(time.Hour))
		must(t, err)
		return tok, cert
	}
	register := func(tok string) error {
		_, err := s.RegisterThing(registry.RegisterThingRequest{TokenHash: registry.HashToken(tok),
			Thing: &registry.ThingSpec{Name: "gw"}, CertStatus: "active", Policies: []registry.PolicySpec{{Name: "P"}}})
		return err
	}

	t.Run("use then reuse", func(t *testing.T) {
		tok, cert := issue()
		must(t, register(tok))
		got, err := s.GetCertificate(cert.ID)
		must(t, err)
		if got.Status != registry.StatusActive {
			t.Fatalf("status %s", got.Status)
		}
		if err := register(tok); !errors.Is(err, registry.ErrTokenInvalid) {
			t.Fatalf("reuse: %v", err)
		}
	})
	t.Run("unknown and empty", func(t *testing.T) {
		for _, tok := range []string{"", "never-issued"} {
			if err := register(tok); !errors.Is(err, registry.ErrTokenInvalid) {
				t.Fatalf("token %q: %v", tok, err)
			}
		}
	})
	t.Run("expiry on use deletes the pending certificate", func(t *testing.T) {
		tok, cert := issue()
		c.Advance(time.Hour)
		if err := register(tok); !errors.Is(err, registry.ErrTokenInvalid) {
			t.Fatalf("expired: %v", err)
		}
		if _, err := s.GetCertificate(cert.ID); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("pending certificate after expiry: %v", err)
		}
	})
	t.Run("sweeper", func(t *testing.T) {
		_, pending := issue()
		tok2, used := issue()
		must(t, register(tok2))
		c.Advance(59 * time.Minute)
		if n, err := s.SweepExpiredTokens(c.Now()); err != nil || n != 0 {
			t.Fatalf("early sweep: %d %v", n, err)
		}
		c.Advance(time.Minute)
		if n, err := s.SweepExpiredTokens(c.Now()); err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if _, err := s.GetCertificate(pending.ID); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("pending certificate survived: %v", err)
		}
		if _, err := s.GetCertificate(used.ID); err != nil {
			t.Fatalf("activated certificate deleted: %v", err)
		}
	})
	t.Run("failed register leaves the token", func(t *testing.T) {
		tok, _ := issue()
		_, err := s.RegisterThing(registry.RegisterThingRequest{TokenHash: registry.HashToken(tok),
			Thing: &registry.ThingSpec{Name: "gw2", Groups: []string{"missing"}}})
		if !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("missing group: %v", err)
		}
		if _, err := s.GetThing("gw2"); !errors.Is(err, registry.ErrNotFound) {
			t.Fatal("thing written by a failed transaction")
		}
		must(t, register(tok))
	})
}

func TestThingOverrides(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	for _, g := range []string{"a", "b"} {
		_, err := s.CreateThingGroup(registry.ThingGroup{Name: g})
		must(t, err)
	}
	_, err := s.PutThing(registry.Thing{Name: "gw", Attributes: map[string]string{"x": "1", "y": "1"}, Groups: []string{"a"}})
	must(t, err)
	tok := "t1"
	_, err = s.CreatePendingCertificate(selfSigned(t), registry.HashToken(tok), c.Now().Add(time.Hour))
	must(t, err)
	res, err := s.RegisterThing(registry.RegisterThingRequest{TokenHash: registry.HashToken(tok), Thing: &registry.ThingSpec{
		Name: "gw", Attributes: map[string]string{"y": "2"}, Groups: []string{"b"},
		Overrides: map[string]string{registry.PropAttributePayload: registry.OverrideMerge, registry.PropThingGroups: registry.OverrideMerge},
	}})
	must(t, err)
	th := res.Thing
	if th.Attributes["x"] != "1" || th.Attributes["y"] != "2" || len(th.Groups) != 2 || th.Version != 2 {
		t.Fatalf("merged thing %+v", th)
	}
}

// Concurrent writers go through bbolt Batch; all must land.
func TestConcurrentWrites(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.PutThing(registry.Thing{Name: "t" + string(rune('A'+i))}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	things, err := s.ListThings(registry.ThingFilter{})
	must(t, err)
	if len(things) != 32 {
		t.Fatalf("%d things, want 32", len(things))
	}
}

// RegisterThing creates a thing at version 1 and, applied again to the same
// name, keeps its creation time and counts the version up.
func TestRegisterThingVersions(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	_, err := s.CreatePolicy("P", `{}`)
	must(t, err)
	created := c.Now().UTC()
	for i, wantVersion := range []int64{1, 2, 3} {
		tok := fmt.Sprintf("tok-%d", i)
		_, err := s.CreatePendingCertificate(selfSigned(t), registry.HashToken(tok), c.Now().Add(time.Hour))
		must(t, err)
		res, err := s.RegisterThing(registry.RegisterThingRequest{TokenHash: registry.HashToken(tok),
			Thing:    &registry.ThingSpec{Name: "gw", Attributes: map[string]string{"n": fmt.Sprint(i)}, Overrides: map[string]string{registry.PropAttributePayload: registry.OverrideReplace}},
			Policies: []registry.PolicySpec{{Name: "P"}}})
		must(t, err)
		th, err := s.GetThing("gw")
		must(t, err)
		if th.Version != wantVersion || !th.CreatedAt.Equal(created) || th.Attributes["n"] != fmt.Sprint(i) || res.Thing.Version != wantVersion {
			t.Fatalf("register %d: thing %+v, result %+v", i, th, res.Thing)
		}
		c.Advance(time.Minute)
	}
	if _, err := s.RegisterThing(registry.RegisterThingRequest{TokenHash: registry.HashToken("none")}); !errors.Is(err, registry.ErrTokenInvalid) {
		t.Fatalf("unknown token: %v", err)
	}
}
