package registry

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// CreatePolicy creates a policy; an existing name is ErrAlreadyExists. The document
// must be JSON; its meaning is the policy package's business.
func (s *Store) CreatePolicy(name, document string) (*Policy, error) {
	return s.putPolicy(name, document, false)
}

// PutPolicy creates a policy or replaces its document (a new default version).
func (s *Store) PutPolicy(name, document string) (*Policy, error) {
	return s.putPolicy(name, document, true)
}

func (s *Store) putPolicy(name, document string, replace bool) (*Policy, error) {
	if name == "" || !json.Valid([]byte(document)) {
		return nil, fmt.Errorf("put policy %q: %w: empty name or document not JSON", name, ErrInvalid)
	}
	now := s.now().UTC()
	var p Policy
	err := s.batch(func(tx *bolt.Tx) error {
		var err error
		p, err = putPolicyTx(tx, s, name, document, replace, now)
		return err
	})
	s.cache.dropPolicies(name)
	if err != nil {
		return nil, fmt.Errorf("put policy %q: %w", name, err)
	}
	return &p, nil
}

func putPolicyTx(tx *bolt.Tx, s *Store, name, document string, replace bool, now time.Time) (Policy, error) {
	p := Policy{Name: name, ARN: s.ARN("policy", name), Document: document, Version: 1, CreatedAt: now}
	var old Policy
	switch err := getJSON(tx, bktPolicies, name, &old); {
	case err == nil && !replace:
		return p, ErrAlreadyExists
	case err == nil:
		p.Version, p.CreatedAt = old.Version+1, old.CreatedAt
	case !errIsNotFound(err):
		return p, err
	}
	return p, putJSON(tx, bktPolicies, name, &p)
}

// GetPolicy returns the policy called name.
func (s *Store) GetPolicy(name string) (*Policy, error) {
	var p Policy
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktPolicies, name, &p) }); err != nil {
		return nil, fmt.Errorf("get policy %q: %w", name, err)
	}
	return &p, nil
}

// ListPolicies lists every policy.
func (s *Store) ListPolicies() ([]Policy, error) {
	var out []Policy
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON[Policy](tx, bktPolicies, nil)
		return err
	})
	return out, err
}

// AttachPolicy attaches a policy to a certificate principal.
func (s *Store) AttachPolicy(policyName, certID string) error {
	err := s.batch(func(tx *bolt.Tx) error { return attachPolicyTx(tx, policyName, certID) })
	s.cache.dropCertificates(certID)
	if err != nil {
		return fmt.Errorf("attach policy %q to certificate %s: %w", policyName, certID, err)
	}
	return nil
}

func attachPolicyTx(tx *bolt.Tx, policyName, certID string) error {
	if !exists(tx, bktPolicies, policyName) {
		return fmt.Errorf("policy %q: %w", policyName, ErrNotFound)
	}
	if !exists(tx, bktCerts, certID) {
		return fmt.Errorf("certificate %s: %w", certID, ErrNotFound)
	}
	return link(tx, bktCertPolicies, bktPolicyCerts, certID, policyName)
}

// DetachPolicy detaches a policy from a certificate principal.
func (s *Store) DetachPolicy(policyName, certID string) error {
	err := s.batch(func(tx *bolt.Tx) error { return unlink(tx, bktCertPolicies, bktPolicyCerts, certID, policyName) })
	s.cache.dropCertificates(certID)
	return err
}

// PoliciesForCertificate returns the policies attached to a certificate. The
// broker asks on every MQTT operation, so the answer comes from memory when it can.
func (s *Store) PoliciesForCertificate(certID string) ([]Policy, error) {
	if out, ok := s.cachedPolicies(certID); ok {
		return out, nil
	}
	epoch := s.cache.begin()
	var (
		out   []Policy
		names []string
	)
	err := s.view(func(tx *bolt.Tx) error {
		names = pairs(tx, bktCertPolicies, certID)
		for _, name := range names {
			var p Policy
			if err := getJSON(tx, bktPolicies, name, &p); err != nil {
				if errIsNotFound(err) {
					store(s.cache, s.cache.policies, name, nil, epoch)
					continue
				}
				return err
			}
			stored := p
			store(s.cache, s.cache.policies, name, &stored, epoch)
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policies of certificate %s: %w", certID, err)
	}
	store(s.cache, s.cache.certPolicies, certID, names, epoch)
	return out, nil
}

// cachedPolicies answers PoliciesForCertificate from memory if every part of
// the answer is there.
func (s *Store) cachedPolicies(certID string) ([]Policy, bool) {
	c := s.cache
	c.mu.RLock()
	defer c.mu.RUnlock()
	names, ok := c.certPolicies[certID]
	if !ok {
		return nil, false
	}
	out := make([]Policy, 0, len(names))
	for _, n := range names {
		p, ok := c.policies[n]
		if !ok {
			return nil, false
		}
		if p != nil {
			out = append(out, *p)
		}
	}
	return out, true
}

// PolicyTargets lists the certificates a policy is attached to.
func (s *Store) PolicyTargets(policyName string) ([]string, error) {
	var out []string
	err := s.view(func(tx *bolt.Tx) error { out = pairs(tx, bktPolicyCerts, policyName); return nil })
	return out, err
}

// CreateTemplate creates a provisioning template; an existing name is ErrAlreadyExists.
func (s *Store) CreateTemplate(t Template) (*Template, error) { return s.putTemplate(t, false) }

// PutTemplate creates or replaces a provisioning template.
func (s *Store) PutTemplate(t Template) (*Template, error) { return s.putTemplate(t, true) }

func (s *Store) putTemplate(t Template, replace bool) (*Template, error) {
	if t.Name == "" {
		return nil, fmt.Errorf("put template: %w: empty name", ErrInvalid)
	}
	if t.Type == "" {
		t.Type = TemplateFleetProvisioning
	}
	if t.Type != TemplateFleetProvisioning && t.Type != TemplateJITP {
		return nil, fmt.Errorf("put template %q: %w: type %q", t.Name, ErrInvalid, t.Type)
	}
	t.ARN = s.ARN("provisioningtemplate", t.Name)
	now := s.now().UTC()
	err := s.batch(func(tx *bolt.Tx) error {
		rec := t
		var old Template
		switch err := getJSON(tx, bktTemplates, t.Name, &old); {
		case err == nil && !replace:
			return ErrAlreadyExists
		case err == nil:
			rec.CreatedAt = old.CreatedAt
		case errIsNotFound(err):
			rec.CreatedAt = now
		default:
			return err
		}
		if err := putJSON(tx, bktTemplates, t.Name, &rec); err != nil {
			return err
		}
		t = rec
		return nil
	})
	s.cache.dropTemplate(t.Name)
	if err != nil {
		return nil, fmt.Errorf("put template %q: %w", t.Name, err)
	}
	return &t, nil
}

// GetTemplate returns the provisioning template called name.
func (s *Store) GetTemplate(name string) (*Template, error) {
	if t, ok := lookup(s.cache, s.cache.templates, name); ok {
		out := *t
		return &out, nil
	}
	epoch := s.cache.begin()
	var t Template
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktTemplates, name, &t) }); err != nil {
		return nil, fmt.Errorf("get template %q: %w", name, err)
	}
	stored := t
	store(s.cache, s.cache.templates, name, &stored, epoch)
	return &t, nil
}

// ListTemplates lists every provisioning template.
func (s *Store) ListTemplates() ([]Template, error) {
	var out []Template
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON[Template](tx, bktTemplates, nil)
		return err
	})
	return out, err
}
