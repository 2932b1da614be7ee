package registry_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
)

// view is everything the broker reads about one certificate, each read through
// the cache.
type view struct {
	status   string // "" when the certificate is gone
	policies []string
	docs     []string
	things   []string
}

func read(t *testing.T, s *registry.Store, certID string) view {
	t.Helper()
	var v view
	switch c, err := s.GetCertificate(certID); {
	case errors.Is(err, registry.ErrNotFound):
	case err != nil:
		t.Fatal(err)
	default:
		v.status = c.Status
	}
	ps, err := s.PoliciesForCertificate(certID)
	must(t, err)
	for _, p := range ps {
		v.policies = append(v.policies, p.Name)
		v.docs = append(v.docs, p.Document)
	}
	v.things, err = s.ThingsForCertificate(certID)
	must(t, err)
	return v
}

// Every write that changes what the broker reads is seen by the next read, after
// the old answer was cached.
func TestCacheFollowsWrites(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, s *registry.Store, c *clock, certID string)
		want  view
	}{
		{"nothing", func(*testing.T, *registry.Store, *clock, string) {},
			view{status: "ACTIVE", policies: []string{"P"}, docs: []string{`{"v":1}`}, things: []string{"gw"}}},
		{"status", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			must(t, s.SetCertificateStatus(id, registry.StatusInactive))
		}, view{status: "INACTIVE", policies: []string{"P"}, docs: []string{`{"v":1}`}, things: []string{"gw"}}},
		{"attach policy", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			must(t, s.AttachPolicy("Q", id))
		}, view{status: "ACTIVE", policies: []string{"P", "Q"}, docs: []string{`{"v":1}`, `{"q":1}`}, things: []string{"gw"}}},
		{"detach policy", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			must(t, s.DetachPolicy("P", id))
		}, view{status: "ACTIVE", things: []string{"gw"}}},
		{"new policy version", func(t *testing.T, s *registry.Store, _ *clock, _ string) {
			_, err := s.PutPolicy("P", `{"v":2}`)
			must(t, err)
		}, view{status: "ACTIVE", policies: []string{"P"}, docs: []string{`{"v":2}`}, things: []string{"gw"}}},
		{"attach thing", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			_, err := s.PutThing(registry.Thing{Name: "gw2"})
			must(t, err)
			must(t, s.AttachThingPrincipal("gw2", id))
		}, view{status: "ACTIVE", policies: []string{"P"}, docs: []string{`{"v":1}`}, things: []string{"gw", "gw2"}}},
		{"detach thing", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			must(t, s.DetachThingPrincipal("gw", id))
		}, view{status: "ACTIVE", policies: []string{"P"}, docs: []string{`{"v":1}`}}},
		{"delete", func(t *testing.T, s *registry.Store, _ *clock, id string) {
			must(t, s.DetachThingPrincipal("gw", id))
			must(t, s.DetachPolicy("P", id))
			must(t, s.SetCertificateStatus(id, registry.StatusInactive))
			must(t, s.DeleteCertificate(id))
		}, view{}},
		{"register thing with a policy document", func(t *testing.T, s *registry.Store, c *clock, id string) {
			// A second certificate provisioned with a new document for P changes
			// what the first one is allowed.
			tok := registry.HashToken("second")
			_, err := s.CreatePendingCertificate(selfSigned(t), tok, c.Now().Add(time.Hour))
			must(t, err)
			_, err = s.RegisterThing(registry.RegisterThingRequest{TokenHash: tok, CertStatus: registry.StatusActive,
				Thing: &registry.ThingSpec{Name: "gw-second"}, Policies: []registry.PolicySpec{{Name: "P", Document: `{"v":3}`}}})
			must(t, err)
		}, view{status: "ACTIVE", policies: []string{"P"}, docs: []string{`{"v":3}`}, things: []string{"gw"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{now: time.Unix(1_900_000_000, 0)}
			s := open(t, t.TempDir(), c)
			defer s.Close()
			_, err := s.CreatePolicy("P", `{"v":1}`)
			must(t, err)
			_, err = s.CreatePolicy("Q", `{"q":1}`)
			must(t, err)
			tok := registry.HashToken("first")
			cert, err := s.CreatePendingCertificate(selfSigned(t), tok, c.Now().Add(time.Hour))
			must(t, err)
			if v := read(t, s, cert.ID); v.status != registry.StatusPendingActivation || len(v.policies)+len(v.things) != 0 {
				t.Fatalf("pending certificate: %+v", v)
			}
			_, err = s.RegisterThing(registry.RegisterThingRequest{TokenHash: tok, CertStatus: registry.StatusActive,
				Thing: &registry.ThingSpec{Name: "gw"}, Policies: []registry.PolicySpec{{Name: "P"}}})
			must(t, err)
			read(t, s, cert.ID) // cached now
			read(t, s, cert.ID)
			tc.write(t, s, c, cert.ID)
			if got := read(t, s, cert.ID); !equalView(got, tc.want) {
				t.Fatalf("after the write: %+v, want %+v", got, tc.want)
			}
		})
	}
}

func equalView(a, b view) bool {
	return a.status == b.status && slices.Equal(a.policies, b.policies) && slices.Equal(a.docs, b.docs) && slices.Equal(a.things, b.things)
}

// What a read returns belongs to the caller: changing it changes nothing stored.
func TestCacheReturnsCopies(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	cert, err := s.RegisterCertificate(selfSigned(t), registry.StatusActive, "")
	must(t, err)
	_, err = s.PutThing(registry.Thing{Name: "gw"})
	must(t, err)
	must(t, s.AttachThingPrincipal("gw", cert.ID))
	for range 2 {
		got, err := s.GetCertificate(cert.ID)
		must(t, err)
		got.Status = "CHANGED"
		things, err := s.ThingsForCertificate(cert.ID)
		must(t, err)
		things[0] = "changed"
	}
	if got, _ := s.GetCertificate(cert.ID); got.Status != registry.StatusActive {
		t.Fatalf("status %q after a caller changed its copy", got.Status)
	}
	if things, _ := s.ThingsForCertificate(cert.ID); !slices.Equal(things, []string{"gw"}) {
		t.Fatalf("things %v after a caller changed its copy", things)
	}
}

// Readers racing writers never keep a stale answer: once every writer is done,
// every read sees the last write. Run with -race.
func TestCacheRacingWrites(t *testing.T) {
	c := &clock{now: time.Unix(1_900_000_000, 0)}
	s := open(t, t.TempDir(), c)
	defer s.Close()
	cert, err := s.RegisterCertificate(selfSigned(t), registry.StatusActive, "")
	must(t, err)
	_, err = s.CreatePolicy("P", `{"v":0}`)
	must(t, err)
	must(t, s.AttachPolicy("P", cert.ID))
	const writes = 50
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := s.PoliciesForCertificate(cert.ID); err != nil {
					t.Error(err)
					return
				}
				if _, err := s.GetCertificate(cert.ID); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	statuses := []string{registry.StatusInactive, registry.StatusActive}
	for i := 1; i <= writes; i++ {
		_, err := s.PutPolicy("P", fmt.Sprintf(`{"v":%d}`, i))
		must(t, err)
		must(t, s.SetCertificateStatus(cert.ID, statuses[i%2]))
		if ps, err := s.PoliciesForCertificate(cert.ID); err != nil || len(ps) != 1 || ps[0].Document != fmt.Sprintf(`{"v":%d}`, i) {
			t.Fatalf("write %d: read %+v %v", i, ps, err)
		}
	}
	close(stop)
	readers.Wait()
	ps, err := s.PoliciesForCertificate(cert.ID)
	must(t, err)
	got, err := s.GetCertificate(cert.ID)
	must(t, err)
	if len(ps) != 1 || ps[0].Document != fmt.Sprintf(`{"v":%d}`, writes) || got.Status != statuses[writes%2] {
		t.Fatalf("after all writes: policies %+v, status %s", ps, got.Status)
	}
}
