package registry

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// CertificateID is AWS IoT's certificate id: lowercase hex SHA-256 of the DER.
func CertificateID(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ParseCertificatePEM parses the first CERTIFICATE block of a PEM text.
func ParseCertificatePEM(p string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(p))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: no CERTIFICATE PEM block", ErrInvalid)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return c, nil
}

func validCertStatus(st string) bool {
	switch st {
	case StatusActive, StatusInactive, StatusRevoked, StatusPendingActivation, StatusPendingTransfer:
		return true
	}
	return false
}

// RegisterCACertificate registers a CA certificate; ca.ID, ARN and CreatedAt are
// filled in from the PEM. Status defaults to INACTIVE as in AWS.
func (s *Store) RegisterCACertificate(ca CACertificate) (*CACertificate, error) {
	c, err := ParseCertificatePEM(ca.PEM)
	if err != nil {
		return nil, fmt.Errorf("register CA certificate: %w", err)
	}
	if !c.IsCA {
		return nil, fmt.Errorf("register CA certificate %q: %w: not a CA", c.Subject.CommonName, ErrInvalid)
	}
	if ca.Status == "" {
		ca.Status = StatusInactive
	}
	if ca.Status != StatusActive && ca.Status != StatusInactive {
		return nil, fmt.Errorf("register CA certificate: %w: status %q", ErrInvalid, ca.Status)
	}
	ca.ID = CertificateID(c.Raw)
	ca.ARN = s.ARN("cacert", ca.ID)
	ca.CreatedAt = s.now().UTC()
	err = s.update(func(tx *bolt.Tx) error {
		if exists(tx, bktCAs, ca.ID) {
			return ErrAlreadyExists
		}
		return putJSON(tx, bktCAs, ca.ID, &ca)
	})
	if err != nil {
		return nil, fmt.Errorf("register CA certificate %s: %w", ca.ID, err)
	}
	return &ca, nil
}

// PutCACertificate stores ca as given (create or replace); ID must be set.
func (s *Store) PutCACertificate(ca CACertificate) error {
	if ca.ID == "" {
		return fmt.Errorf("put CA certificate: %w: empty id", ErrInvalid)
	}
	if ca.ARN == "" {
		ca.ARN = s.ARN("cacert", ca.ID)
	}
	return s.update(func(tx *bolt.Tx) error { return putJSON(tx, bktCAs, ca.ID, &ca) })
}

// GetCACertificate returns the CA with id.
func (s *Store) GetCACertificate(id string) (*CACertificate, error) {
	var ca CACertificate
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktCAs, id, &ca) }); err != nil {
		return nil, fmt.Errorf("get CA certificate %s: %w", id, err)
	}
	return &ca, nil
}

// ListCACertificates lists every registered CA.
func (s *Store) ListCACertificates() ([]CACertificate, error) {
	var out []CACertificate
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON[CACertificate](tx, bktCAs, nil)
		return err
	})
	return out, err
}

// RegisterCertificate registers a device certificate by PEM. caID empty registers it
// without CA (the rig's claim certificate); otherwise the CA must be registered and
// must have signed it.
func (s *Store) RegisterCertificate(certPEM, status, caID string) (*Certificate, error) {
	c, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("register certificate: %w", err)
	}
	if !validCertStatus(status) {
		return nil, fmt.Errorf("register certificate: %w: status %q", ErrInvalid, status)
	}
	rec := Certificate{
		ID:        CertificateID(c.Raw),
		PEM:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		Status:    status,
		CAID:      caID,
		CreatedAt: s.now().UTC(),
	}
	rec.ARN = s.ARN("cert", rec.ID)
	err = s.batch(func(tx *bolt.Tx) error {
		if caID != "" {
			var ca CACertificate
			if err := getJSON(tx, bktCAs, caID, &ca); err != nil {
				return fmt.Errorf("CA %s: %w", caID, err)
			}
			cac, err := ParseCertificatePEM(ca.PEM)
			if err != nil {
				return err
			}
			if err := c.CheckSignatureFrom(cac); err != nil {
				return fmt.Errorf("%w: not signed by CA %s: %w", ErrInvalid, caID, err)
			}
		}
		if exists(tx, bktCerts, rec.ID) {
			return ErrAlreadyExists
		}
		return putJSON(tx, bktCerts, rec.ID, &rec)
	})
	s.cache.dropCertificates(rec.ID)
	if err != nil {
		return nil, fmt.Errorf("register certificate %s: %w", rec.ID, err)
	}
	return &rec, nil
}

// GetCertificate returns the certificate with id.
func (s *Store) GetCertificate(id string) (*Certificate, error) {
	if c, ok := lookup(s.cache, s.cache.certs, id); ok {
		out := *c
		return &out, nil
	}
	epoch := s.cache.begin()
	var c Certificate
	if err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktCerts, id, &c) }); err != nil {
		return nil, fmt.Errorf("get certificate %s: %w", id, err)
	}
	stored := c
	store(s.cache, s.cache.certs, id, &stored, epoch)
	return &c, nil
}

// ListCertificates lists certificates; caID non-empty keeps those of one CA.
func (s *Store) ListCertificates(caID string) ([]Certificate, error) {
	var out []Certificate
	err := s.view(func(tx *bolt.Tx) (err error) {
		out, err = listJSON(tx, bktCerts, func(c *Certificate) bool { return caID == "" || c.CAID == caID })
		return err
	})
	return out, err
}

// SetCertificateStatus changes a certificate's status.
func (s *Store) SetCertificateStatus(id, status string) error {
	status = strings.ToUpper(status)
	if !validCertStatus(status) {
		return fmt.Errorf("set certificate %s status: %w: %q", id, ErrInvalid, status)
	}
	err := s.batch(func(tx *bolt.Tx) error {
		var c Certificate
		if err := getJSON(tx, bktCerts, id, &c); err != nil {
			return err
		}
		c.Status = status
		return putJSON(tx, bktCerts, id, &c)
	})
	s.cache.dropCertificates(id)
	if err != nil {
		return fmt.Errorf("set certificate %s status %s: %w", id, status, err)
	}
	return nil
}

// DeleteCertificate deletes a certificate. As in AWS, an ACTIVE certificate or one
// still attached to a policy or thing is a conflict.
func (s *Store) DeleteCertificate(id string) error {
	err := s.update(func(tx *bolt.Tx) error {
		var c Certificate
		if err := getJSON(tx, bktCerts, id, &c); err != nil {
			return err
		}
		if c.Status == StatusActive {
			return fmt.Errorf("%w: certificate is ACTIVE", ErrConflict)
		}
		if len(pairs(tx, bktCertPolicies, id)) > 0 || len(pairs(tx, bktCertThings, id)) > 0 {
			return fmt.Errorf("%w: certificate is attached", ErrConflict)
		}
		return tx.Bucket(bktCerts).Delete([]byte(id))
	})
	s.cache.dropCertificates(id)
	if err != nil {
		return fmt.Errorf("delete certificate %s: %w", id, err)
	}
	return nil
}

// errIsNotFound reports ErrNotFound without hiding other errors.
func errIsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
