package registry

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// IssuingCAs returns the registered CAs that issued leaf: same subject as the
// leaf's issuer and a signature that verifies. Several can match when a CA was
// registered more than once with the same subject and key (AWS allows up to 10
// per subject). Status and auto-registration are the caller's to judge.
func (s *Store) IssuingCAs(leaf *x509.Certificate) ([]CACertificate, error) {
	var out []CACertificate
	err := s.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bktCAs).ForEach(func(_, v []byte) error {
			var ca CACertificate
			if decode(v, &ca) != nil {
				return nil // a record that does not decode issues nothing
			}
			c, err := ParseCertificatePEM(ca.PEM)
			if err != nil || !bytes.Equal(c.RawSubject, leaf.RawIssuer) {
				return nil
			}
			if leaf.CheckSignatureFrom(c) == nil {
				out = append(out, ca)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("find issuing CA: %w", err)
	}
	return out, nil
}

// AutoRegisterRequest registers a device certificate on its first connection
// (JITR/JITP). With Provision nil the certificate stays PENDING_ACTIVATION (JITR,
// or a JITP template that could not be applied); otherwise the template's result
// is applied in the same transaction, so either everything or only the pending
// certificate exists afterwards.
type AutoRegisterRequest struct {
	CertificatePEM string
	CAID           string
	Provision      *ProvisionSpec
}

// AutoRegisterResult reports what AutoRegisterCertificate wrote.
type AutoRegisterResult struct {
	Certificate Certificate
	Thing       *Thing // nil without a thing resource
}

// AutoRegisterCertificate registers a certificate issued by a registered, ACTIVE CA
// that allows auto-registration (all checked inside the transaction, as is the
// signature). An already registered certificate is ErrAlreadyExists and is left as
// it is; a CA that forbids auto-registration or is not ACTIVE is ErrConflict.
func (s *Store) AutoRegisterCertificate(req AutoRegisterRequest) (*AutoRegisterResult, error) {
	c, err := ParseCertificatePEM(req.CertificatePEM)
	if err != nil {
		return nil, fmt.Errorf("auto-register certificate: %w", err)
	}
	var spec ProvisionSpec
	if req.Provision != nil {
		spec = *req.Provision
		spec.CertStatus = strings.ToUpper(spec.CertStatus)
		if spec.CertStatus == "" {
			spec.CertStatus = StatusActive
		}
		if spec.CertStatus != StatusActive && spec.CertStatus != StatusInactive {
			return nil, fmt.Errorf("auto-register certificate: %w: certificate status %q", ErrInvalid, req.Provision.CertStatus)
		}
	}
	now := s.now()
	rec := Certificate{
		ID:        CertificateID(c.Raw),
		PEM:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})),
		Status:    StatusPendingActivation,
		CAID:      req.CAID,
		CreatedAt: now.UTC(),
	}
	rec.ARN = s.ARN("cert", rec.ID)
	var res AutoRegisterResult
	err = s.update(func(tx *bolt.Tx) error {
		var ca CACertificate
		if err := getJSON(tx, bktCAs, req.CAID, &ca); err != nil {
			return fmt.Errorf("CA %s: %w", req.CAID, err)
		}
		switch {
		case ca.Status != StatusActive:
			return fmt.Errorf("%w: CA %s is %s", ErrConflict, ca.ID, ca.Status)
		case !ca.AllowAutoRegistration:
			return fmt.Errorf("%w: CA %s does not allow auto-registration", ErrConflict, ca.ID)
		}
		cac, err := ParseCertificatePEM(ca.PEM)
		if err != nil {
			return err
		}
		if err := c.CheckSignatureFrom(cac); err != nil {
			return fmt.Errorf("%w: not signed by CA %s: %w", ErrInvalid, ca.ID, err)
		}
		if exists(tx, bktCerts, rec.ID) {
			return ErrAlreadyExists
		}
		cert := rec
		if err := putJSON(tx, bktCerts, cert.ID, &cert); err != nil {
			return err
		}
		if req.Provision != nil {
			th, err := applyResourcesTx(tx, s, &cert, spec, now)
			if err != nil {
				return err
			}
			res.Thing = th
		}
		res.Certificate = cert
		return nil
	})
	if req.Provision != nil {
		s.dropProvisioned(rec.ID, spec.Policies)
	} else {
		s.cache.dropCertificates(rec.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("auto-register certificate %s: %w", rec.ID, err)
	}
	return &res, nil
}
