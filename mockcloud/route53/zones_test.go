package route53

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

func TestUpdateZonesServesAtOnce(t *testing.T) {
	s := newRigServer(t, nil)
	err := s.UpdateZones(func(zs []Zone) ([]Zone, error) {
		zs[0].Records = append(zs[0].Records, Record{Name: "new.example.com", Type: "A", TTL: 0, explicitTTL: true, Values: []string{"192.0.2.99"}})
		return zs, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	r := exchange(t, s, question("new.example.com.", dns.TypeA), "127.0.0.1", false)
	if got := answerData(r); !slices.Equal(got, []string{"A 192.0.2.99"}) || r.Answer[0].Header().Ttl != 0 {
		t.Fatalf("answer %v ttl %v", got, r.Answer)
	}

	// An invalid change is refused whole and leaves the zones as they were.
	before := s.Zones()
	err = s.UpdateZones(func(zs []Zone) ([]Zone, error) {
		zs[0].Records = append(zs[0].Records, Record{Name: "bad.example.com", Type: "A", Values: []string{"x"}})
		return zs, nil
	})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("err = %v, want ErrInvalidConfig", err)
	}
	if got := s.Zones(); len(got[0].Records) != len(before[0].Records) {
		t.Fatalf("records %d, want %d", len(got[0].Records), len(before[0].Records))
	}
	// An error from fn is returned as it is.
	sentinel := errors.New("no")
	if err := s.UpdateZones(func([]Zone) ([]Zone, error) { return nil, sentinel }); err != sentinel {
		t.Fatalf("err = %v", err)
	}
}

func TestUpdateZonesKeepsSetHealth(t *testing.T) {
	s := newRigServer(t, nil)
	if err := s.SetHealthy("us-east-1", false); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateZones(func(zs []Zone) ([]Zone, error) { return zs, nil }); err != nil {
		t.Fatal(err)
	}
	r := exchange(t, s, question(globalName, dns.TypeCNAME), "127.0.1.1", false)
	if got := answerData(r); !slices.Equal(got, []string{"CNAME " + euWest1}) {
		t.Fatalf("US client after recompile got %v, want the default", got)
	}
}

func TestHealthCheckSkipsGeoSet(t *testing.T) {
	s := newRigServer(t, nil)
	s.AddHealthCheck("hc-us")
	if err := s.UpdateZones(func(zs []Zone) ([]Zone, error) {
		for i, r := range zs[0].Records {
			if r.SetIdentifier == "us-east-1" && r.Name == "global.iot.example.com" {
				zs[0].Records[i].HealthCheckID = "hc-us"
			}
		}
		return zs, nil
	}); err != nil {
		t.Fatal(err)
	}
	ask := func() []string {
		return answerData(exchange(t, s, question(globalName, dns.TypeCNAME), "127.0.1.1", false))
	}
	if got := ask(); !slices.Equal(got, []string{"CNAME " + usEast1}) {
		t.Fatalf("healthy: %v", got)
	}
	if err := s.SetHealthCheck("hc-us", false); err != nil {
		t.Fatal(err)
	}
	if got := ask(); !slices.Equal(got, []string{"CNAME " + euWest1}) {
		t.Fatalf("failing check: %v, want the default", got)
	}
	if ok, err := s.HealthCheck("hc-us"); err != nil || ok {
		t.Fatalf("HealthCheck = %v, %v", ok, err)
	}
	// A deleted check no longer counts: the record answers again.
	if err := s.RemoveHealthCheck("hc-us"); err != nil {
		t.Fatal(err)
	}
	if got := ask(); !slices.Equal(got, []string{"CNAME " + usEast1}) {
		t.Fatalf("after delete: %v", got)
	}
	for _, err := range []error{s.RemoveHealthCheck("hc-us"), s.SetHealthCheck("nope", true)} {
		if !errors.Is(err, ErrUnknownHealthCheck) {
			t.Errorf("err = %v, want ErrUnknownHealthCheck", err)
		}
	}
}

// TestUpdateZonesConcurrent runs queries against zone changes; -race
// checks the swap.
func TestUpdateZonesConcurrent(t *testing.T) {
	s := newRigServer(t, nil)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 50 {
			_ = s.UpdateZones(func(zs []Zone) ([]Zone, error) {
				zs[0].TTL = uint32(60 + i)
				return zs, nil
			})
		}
	}()
	go func() {
		defer wg.Done()
		for range 200 {
			if err := serveChecked(s, question(globalName, dns.TypeA), "127.0.1.1", false); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	wg.Wait()
}

// TestHealthCheckMadeAfterItsRecords: a record naming a check the server
// does not hold yet (a saved zone loaded before its checks) answers as if
// it had none, and follows the check once it exists.
func TestHealthCheckMadeAfterItsRecords(t *testing.T) {
	s := newRigServer(t, func(c *Config) {
		for i, r := range c.Zones[0].Records {
			if r.SetIdentifier == "us-east-1" && r.Name == "global.iot.example.com" {
				c.Zones[0].Records[i].HealthCheckID = "later"
			}
		}
	})
	ask := func() []string {
		return answerData(exchange(t, s, question(globalName, dns.TypeCNAME), "127.0.1.1", false))
	}
	if got := ask(); !slices.Equal(got, []string{"CNAME " + usEast1}) {
		t.Fatalf("no such check yet: %v", got)
	}
	s.AddHealthCheck("later")
	if err := s.SetHealthCheck("later", false); err != nil {
		t.Fatal(err)
	}
	if got := ask(); !slices.Equal(got, []string{"CNAME " + euWest1}) {
		t.Fatalf("failing check: %v", got)
	}
}
