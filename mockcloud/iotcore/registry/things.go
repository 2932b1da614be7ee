package registry

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ThingFilter narrows ListThings; zero fields match everything.
type ThingFilter struct {
	AttributeName  string
	AttributeValue string
	ThingGroup     string
	ThingTypeName  string
}

func (f ThingFilter) match(t *Thing) bool {
	if f.AttributeName != "" {
		v, ok := t.Attributes[f.AttributeName]
		if !ok || (f.AttributeValue != "" && v != f.AttributeValue) {
			return false
		}
	}
	if f.ThingGroup != "" && !slices.Contains(t.Groups, f.ThingGroup) {
		return false
	}
	return f.ThingTypeName == "" || t.TypeName == f.ThingTypeName
}

// PutThing creates or replaces a thing; its groups must exist. Version counts writes.
func (s *Store) PutThing(t Thing) (*Thing, error) {
	if t.Name == "" {
		return nil, fmt.Errorf("put thing: %w: empty name", ErrInvalid)
	}
	err := s.batch(func(tx *bolt.Tx) error {
		out, err := putThingTx(tx, s, t)
		if err == nil {
			t = *out
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("put thing %q: %w", t.Name, err)
	}
	return &t, nil
}

func putThingTx(tx *bolt.Tx, s *Store, t Thing) (*Thing, error) {
	for _, g := range t.Groups {
		if !exists(tx, bktGroups, g) {
			return nil, fmt.Errorf("thing group %q: %w", g, ErrNotFound)
		}
	}
	var old Thing
	switch err := getJSON(tx, bktThings, t.Name, &old); {
	case err == nil:
		t.Version = old.Version + 1
		t.CreatedAt = old.CreatedAt
	case errIsNotFound(err):
		t.Version = 1
		t.CreatedAt = s.now().UTC()
	default:
		return nil, err
	}
	t.ARN = s.ARN("thing", t.Name)
	slices.Sort(t.Groups)
	t.Groups = slices.Compact(t.Groups)
	return &t, putJSON(tx, bktThings, t.Name, &t)
}

// GetThing returns the thing called name.
func (s *Store) GetThing(name string) (*Thing, error) {
	var t Thing
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktThings, name, &t) }); err != nil {
		return nil, fmt.Errorf("get thing %q: %w", name, err)
	}
	return &t, nil
}

// ListThings lists things matching f, by name.
func (s *Store) ListThings(f ThingFilter) ([]Thing, error) {
	var out []Thing
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON(tx, bktThings, f.match)
		return err
	})
	return out, err
}

// CreateThingGroup creates a thing group; an existing name is ErrAlreadyExists.
func (s *Store) CreateThingGroup(g ThingGroup) (*ThingGroup, error) {
	return s.putGroup(g, false)
}

// PutThingGroup creates or replaces a thing group.
func (s *Store) PutThingGroup(g ThingGroup) (*ThingGroup, error) {
	return s.putGroup(g, true)
}

func (s *Store) putGroup(g ThingGroup, replace bool) (*ThingGroup, error) {
	if g.Name == "" {
		return nil, fmt.Errorf("put thing group: %w: empty name", ErrInvalid)
	}
	g.ARN = s.ARN("thinggroup", g.Name)
	now := s.now().UTC()
	err := s.batch(func(tx *bolt.Tx) error {
		var old ThingGroup
		rec := g
		switch err := getJSON(tx, bktGroups, g.Name, &old); {
		case err == nil && !replace:
			return ErrAlreadyExists
		case err == nil:
			rec.Version, rec.CreatedAt = old.Version+1, old.CreatedAt
		case errIsNotFound(err):
			rec.Version, rec.CreatedAt = 1, now
		default:
			return err
		}
		if err := putJSON(tx, bktGroups, g.Name, &rec); err != nil {
			return err
		}
		g = rec
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("put thing group %q: %w", g.Name, err)
	}
	return &g, nil
}

// GetThingGroup returns the thing group called name.
func (s *Store) GetThingGroup(name string) (*ThingGroup, error) {
	var g ThingGroup
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktGroups, name, &g) }); err != nil {
		return nil, fmt.Errorf("get thing group %q: %w", name, err)
	}
	return &g, nil
}

// ListThingGroups lists every thing group.
func (s *Store) ListThingGroups() ([]ThingGroup, error) {
	var out []ThingGroup
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON[ThingGroup](tx, bktGroups, nil)
		return err
	})
	return out, err
}

// AttachThingPrincipal attaches a certificate to a thing.
func (s *Store) AttachThingPrincipal(thing, certID string) error {
	err := s.batch(func(tx *bolt.Tx) error {
		if !exists(tx, bktThings, thing) {
			return fmt.Errorf("thing %q: %w", thing, ErrNotFound)
		}
		if !exists(tx, bktCerts, certID) {
			return fmt.Errorf("certificate %s: %w", certID, ErrNotFound)
		}
		return link(tx, bktThingCerts, bktCertThings, thing, certID)
	})
	s.cache.dropCertificates(certID)
	if err != nil {
		return fmt.Errorf("attach certificate %s to thing %q: %w", certID, thing, err)
	}
	return nil
}

// DetachThingPrincipal detaches a certificate from a thing.
func (s *Store) DetachThingPrincipal(thing, certID string) error {
	err := s.batch(func(tx *bolt.Tx) error { return unlink(tx, bktThingCerts, bktCertThings, thing, certID) })
	s.cache.dropCertificates(certID)
	return err
}

// ThingsForCertificate lists the things a certificate is attached to. The broker
// asks on every CONNECT, so the answer comes from memory when it can.
func (s *Store) ThingsForCertificate(certID string) ([]string, error) {
	if names, ok := lookup(s.cache, s.cache.certThings, certID); ok {
		return slices.Clone(names), nil
	}
	epoch := s.cache.begin()
	var out []string
	err := s.view(func(tx *bolt.Tx) error { out = pairs(tx, bktCertThings, certID); return nil })
	if err == nil {
		store(s.cache, s.cache.certThings, certID, slices.Clone(out), epoch)
	}
	return out, err
}

// PrincipalsForThing lists the certificate ids attached to a thing.
func (s *Store) PrincipalsForThing(thing string) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error { out = pairs(tx, bktThingCerts, thing); return nil })
	return out, err
}
