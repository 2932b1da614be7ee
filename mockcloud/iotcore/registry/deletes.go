package registry

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// DeletePolicy deletes a policy that no certificate has attached; AWS refuses
// the deletion of an attached policy (DeleteConflictException), so does this.
func (s *Store) DeletePolicy(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		if !exists(tx, bktPolicies, name) {
			return ErrNotFound
		}
		if certs := pairs(tx, bktPolicyCerts, name); len(certs) > 0 {
			return fmt.Errorf("%w: attached to %d certificate(s)", ErrConflict, len(certs))
		}
		return tx.Bucket(bktPolicies).Delete([]byte(name))
	})
	s.cache.dropPolicies(name)
	if err != nil {
		return fmt.Errorf("delete policy %q: %w", name, err)
	}
	return nil
}

// DeleteThing deletes a thing that has no principal attached (AWS: detach the
// principals first).
func (s *Store) DeleteThing(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		if !exists(tx, bktThings, name) {
			return ErrNotFound
		}
		if certs := pairs(tx, bktThingCerts, name); len(certs) > 0 {
			return fmt.Errorf("%w: %d principal(s) attached", ErrConflict, len(certs))
		}
		return tx.Bucket(bktThings).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete thing %q: %w", name, err)
	}
	return nil
}

// DeleteTemplate deletes a provisioning template that no CA certificate's
// registration config names (JITP would lose its template: AWS answers
// DeleteConflictException).
func (s *Store) DeleteTemplate(name string) error {
	err := s.update(func(tx *bolt.Tx) error {
		if !exists(tx, bktTemplates, name) {
			return ErrNotFound
		}
		users, err := listJSON(tx, bktCAs, func(ca *CACertificate) bool { return ca.TemplateName == name })
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: CA certificate %s uses it for JITP", ErrConflict, users[0].ID)
		}
		return tx.Bucket(bktTemplates).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete template %q: %w", name, err)
	}
	return nil
}
