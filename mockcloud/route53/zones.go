package route53

import (
	"fmt"
	"slices"
	"sync/atomic"

	"go.uber.org/zap"
)

// Zones returns a copy of the zones the server answers from now.
func (s *Server) Zones() []Zone {
	s.zmu.Lock()
	defer s.zmu.Unlock()
	return cloneZones(s.base.Zones)
}

// UpdateZones changes what the server answers. fn gets a copy of the
// current zones and returns the new ones; they are validated as a Config
// would be (the error wraps ErrInvalidConfig) and, if valid, served from
// the next query on, all at once. An error from fn is returned as it is and
// changes nothing. Changes are serialized; fn must not call back into s.
// Health set with SetHealthy stays with its set identifier.
func (s *Server) UpdateZones(fn func([]Zone) ([]Zone, error)) error {
	s.zmu.Lock()
	defer s.zmu.Unlock()
	next, err := fn(cloneZones(s.base.Zones))
	if err != nil {
		return err
	}
	return s.replaceZonesLocked(next)
}

// replaceZonesLocked compiles zones and swaps them in. Needs s.zmu.
func (s *Server) replaceZonesLocked(zones []Zone) error {
	cfg := s.base
	cfg.Zones = zones
	cat, err := compile(cfg, compileOptions{health: s.cat.Load().health, checks: s.checks})
	if err != nil {
		return fmt.Errorf("update zones: %w", err)
	}
	s.base.Zones = cloneZones(zones)
	s.cat.Store(cat)
	s.log.Debug("zones updated", zap.Int("zones", len(zones)))
	return nil
}

// AddHealthCheck registers a health check, healthy, under id; records name
// it in Record.HealthCheckID. Adding an existing id changes nothing.
func (s *Server) AddHealthCheck(id string) {
	s.zmu.Lock()
	defer s.zmu.Unlock()
	if s.checks[id] != nil {
		return
	}
	h := new(atomic.Bool)
	h.Store(true)
	s.checks[id] = h
	// Records may already name it (a check deleted and made again).
	if err := s.replaceZonesLocked(s.base.Zones); err != nil {
		s.log.Error("recompile after adding a health check", zap.Error(err))
	}
}

// RemoveHealthCheck forgets a health check; records that still name it
// count as having none, as Route 53 leaves them in place.
func (s *Server) RemoveHealthCheck(id string) error {
	s.zmu.Lock()
	defer s.zmu.Unlock()
	if s.checks[id] == nil {
		return fmt.Errorf("remove health check %q: %w", id, ErrUnknownHealthCheck)
	}
	delete(s.checks, id)
	return s.replaceZonesLocked(s.base.Zones)
}

// SetHealthCheck marks a health check passing or failing; answers change at
// once.
func (s *Server) SetHealthCheck(id string, healthy bool) error {
	s.zmu.Lock()
	h := s.checks[id]
	s.zmu.Unlock()
	if h == nil {
		return fmt.Errorf("set health check %q: %w", id, ErrUnknownHealthCheck)
	}
	h.Store(healthy)
	s.log.Info("health check changed", zap.String("health_check", id), zap.Bool("healthy", healthy))
	return nil
}

// HealthCheck reports whether the health check id passes.
func (s *Server) HealthCheck(id string) (bool, error) {
	s.zmu.Lock()
	h := s.checks[id]
	s.zmu.Unlock()
	if h == nil {
		return false, fmt.Errorf("health check %q: %w", id, ErrUnknownHealthCheck)
	}
	return h.Load(), nil
}

// cloneZones deep-copies zones so neither side sees the other's edits.
func cloneZones(zones []Zone) []Zone {
	if zones == nil {
		return nil
	}
	out := make([]Zone, len(zones))
	for i, z := range zones {
		out[i] = z
		out[i].Records = make([]Record, len(z.Records))
		for j, r := range z.Records {
			r.Values = slices.Clone(r.Values)
			if r.Geo != nil {
				g := *r.Geo
				r.Geo = &g
			}
			out[i].Records[j] = r
		}
	}
	return out
}
