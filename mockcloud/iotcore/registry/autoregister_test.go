package registry_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, cn string) testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	c, err := x509.ParseCertificate(der)
	must(t, err)
	return testCA{cert: c, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

func (ca testCA) issue(t *testing.T, cn string) (*x509.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(t, err)
	sn, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: sn, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	must(t, err)
	c, err := x509.ParseCertificate(der)
	must(t, err)
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestAutoRegisterCertificate(t *testing.T) {
	s := open(t, t.TempDir(), &clock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)})
	defer s.Close()
	maker := newTestCA(t, "maker")
	other := newTestCA(t, "other")
	ca, err := s.RegisterCACertificate(registry.CACertificate{PEM: maker.pem, Status: registry.StatusActive, AllowAutoRegistration: true})
	must(t, err)
	must(t, errOnly(s.CreateThingGroup(registry.ThingGroup{Name: "gateways"})))
	must(t, errOnly(s.CreatePolicy("P", `{"Version":"2012-10-17","Statement":[]}`)))
	spec := func(thing string) *registry.ProvisionSpec {
		return &registry.ProvisionSpec{Thing: &registry.ThingSpec{Name: thing, Groups: []string{"gateways"}},
			CertStatus: "active", Policies: []registry.PolicySpec{{Name: "P"}}}
	}

	t.Run("IssuingCAs", func(t *testing.T) {
		leaf, _ := maker.issue(t, "x")
		got, err := s.IssuingCAs(leaf)
		must(t, err)
		if len(got) != 1 || got[0].ID != ca.ID {
			t.Fatalf("issuing CAs %+v", got)
		}
		foreign, _ := other.issue(t, "x")
		if got, _ := s.IssuingCAs(foreign); len(got) != 0 {
			t.Fatalf("unregistered CA found: %+v", got)
		}
	})

	t.Run("concurrent registrations of one certificate", func(t *testing.T) {
		_, p := maker.issue(t, "gw-1")
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				_, errs[i] = s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: p, CAID: ca.ID, Provision: spec("gw-1")})
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, registry.ErrAlreadyExists):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d registrations succeeded, want 1", ok)
		}
	})

	t.Run("failure writes nothing", func(t *testing.T) {
		leaf, p := maker.issue(t, "gw-2")
		bad := spec("gw-2")
		bad.Thing.Groups = []string{"missing"}
		if _, err := s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: p, CAID: ca.ID, Provision: bad}); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("missing group: %v", err)
		}
		id := registry.CertificateID(leaf.Raw)
		if _, err := s.GetCertificate(id); !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("certificate written by a failed registration: %v", err)
		}
		res, err := s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: p, CAID: ca.ID})
		must(t, err)
		if res.Certificate.Status != registry.StatusPendingActivation || res.Thing != nil {
			t.Fatalf("pending-only registration %+v", res)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		_, foreign := other.issue(t, "gw-3")
		if _, err := s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: foreign, CAID: ca.ID}); !errors.Is(err, registry.ErrInvalid) {
			t.Fatalf("certificate of another CA: %v", err)
		}
		_, p := maker.issue(t, "gw-4")
		noAuto := *ca
		noAuto.AllowAutoRegistration = false
		must(t, s.PutCACertificate(noAuto))
		if _, err := s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: p, CAID: ca.ID}); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("CA without auto-registration: %v", err)
		}
		inactive := *ca
		inactive.Status = registry.StatusInactive
		must(t, s.PutCACertificate(inactive))
		if _, err := s.AutoRegisterCertificate(registry.AutoRegisterRequest{CertificatePEM: p, CAID: ca.ID}); !errors.Is(err, registry.ErrConflict) {
			t.Fatalf("inactive CA: %v", err)
		}
	})
}

func TestValidThingName(t *testing.T) {
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"gw-1", true}, {"a:b_c-D9", true}, {string(long[:128]), true},
		{"", false}, {string(long), false}, {"gw 1", false}, {"gw/1", false}, {"gw\x00x", false}, {"gwé", false},
	} {
		if got := registry.ValidThingName(tc.name); got != tc.ok {
			t.Errorf("ValidThingName(%q) = %t, want %t", tc.name, got, tc.ok)
		}
	}
}

func errOnly[T any](_ T, err error) error { return err }
