package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// Override settings of a provisioning template's thing resource (PROTOCOL.md §1.11).
const (
	OverrideDoNothing = "DO_NOTHING"
	OverrideReplace   = "REPLACE"
	OverrideFail      = "FAIL"
	OverrideMerge     = "MERGE"
)

// Keys of ThingSpec.Overrides, in the CamelCase spelling of AWS's examples.
const (
	PropAttributePayload = "AttributePayload"
	PropThingTypeName    = "ThingTypeName"
	PropThingGroups      = "ThingGroups"
)

// HashToken is how tokens are stored and looked up: hex SHA-256.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CreatePendingCertificate stores a certificate the region just issued, status
// PENDING_ACTIVATION, together with its ownership token (by hash) in one transaction.
func (s *Store) CreatePendingCertificate(certPEM, tokenHash string, expiresAt time.Time) (*Certificate, error) {
	c, err := ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("create pending certificate: %w", err)
	}
	if tokenHash == "" {
		return nil, fmt.Errorf("create pending certificate: %w: empty token hash", ErrInvalid)
	}
	rec := Certificate{ID: CertificateID(c.Raw), PEM: certPEM, Status: StatusPendingActivation, CreatedAt: s.now().UTC()}
	rec.ARN = s.ARN("cert", rec.ID)
	tok := Token{Hash: tokenHash, CertID: rec.ID, ExpiresAt: expiresAt.UTC()}
	err = s.batch(func(tx *bolt.Tx) error {
		if exists(tx, bktCerts, rec.ID) {
			return ErrAlreadyExists
		}
		if err := putJSON(tx, bktCerts, rec.ID, &rec); err != nil {
			return err
		}
		return putJSON(tx, bktTokens, tok.Hash, &tok)
	})
	s.cache.dropCertificates(rec.ID)
	if err != nil {
		return nil, fmt.Errorf("create pending certificate %s: %w", rec.ID, err)
	}
	return &rec, nil
}

// LookupToken returns the live token with tokenHash; one kept after use comes
// back with Used set, for the caller to decide. An unknown, deleted or expired
// token is ErrTokenInvalid; an expired one is swept on the way (its certificate too,
// if it was never activated).
func (s *Store) LookupToken(tokenHash string) (*Token, error) {
	var tok Token
	err := s.view(func(tx *bolt.Tx) error { return getJSON(tx, bktTokens, tokenHash, &tok) })
	switch {
	case errIsNotFound(err):
		return nil, ErrTokenInvalid
	case err != nil:
		return nil, fmt.Errorf("look up token: %w", err)
	}
	if now := s.now(); !now.Before(tok.ExpiresAt) {
		if _, err := s.SweepExpiredTokens(now); err != nil {
			s.log.Warn("sweep expired tokens", zap.Error(err))
		}
		return nil, ErrTokenInvalid
	}
	return &tok, nil
}

// SweepExpiredTokens deletes tokens expired at now, and with each the certificate it
// was issued with if that is still PENDING_ACTIVATION and attached to nothing (as AWS
// deletes an unused fleet provisioning certificate after an hour). It returns the
// number of certificates deleted.
func (s *Store) SweepExpiredTokens(now time.Time) (int, error) {
	var deleted []string
	err := s.update(func(tx *bolt.Tx) error {
		deleted = deleted[:0]
		var expired []Token
		err := tx.Bucket(bktTokens).ForEach(func(k, v []byte) error {
			var t Token
			if err := decode(v, &t); err != nil || !now.Before(t.ExpiresAt) {
				t.Hash = string(k) // a record that does not decode is dropped as well
				expired = append(expired, t)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range expired {
			if err := tx.Bucket(bktTokens).Delete([]byte(t.Hash)); err != nil {
				return err
			}
			var c Certificate
			if t.CertID == "" || getJSON(tx, bktCerts, t.CertID, &c) != nil || c.Status != StatusPendingActivation {
				continue
			}
			if len(pairs(tx, bktCertPolicies, c.ID)) > 0 || len(pairs(tx, bktCertThings, c.ID)) > 0 {
				continue
			}
			if err := tx.Bucket(bktCerts).Delete([]byte(c.ID)); err != nil {
				return err
			}
			deleted = append(deleted, c.ID)
		}
		return nil
	})
	s.cache.dropCertificates(deleted...)
	if err != nil {
		return 0, fmt.Errorf("sweep expired tokens: %w", err)
	}
	if len(deleted) > 0 {
		s.log.Info("deleted never-activated certificates of expired ownership tokens", zap.Int("count", len(deleted)))
	}
	return len(deleted), nil
}

// ThingSpec is the thing a provisioning template asks for.
type ThingSpec struct {
	Name       string
	TypeName   string
	Attributes map[string]string
	Groups     []string
	// Overrides maps PropAttributePayload, PropThingTypeName, PropThingGroups to an
	// Override* value and applies only when the thing exists. A missing entry is
	// DO_NOTHING: an existing thing keeps that property. FAIL fails the request only
	// if the existing value differs from the template's.
	Overrides map[string]string
}

// PolicySpec names a policy to attach. With Document empty the policy must exist;
// otherwise it is created with that document (or reused if identical).
type PolicySpec struct {
	Name     string
	Document string
}

// ProvisionSpec is what a provisioning template's result changes for one
// certificate: the thing (nil: none), the certificate status and the policies.
type ProvisionSpec struct {
	Thing      *ThingSpec
	CertStatus string // ACTIVE or INACTIVE
	Policies   []PolicySpec
}

// RegisterThingRequest is everything RegisterThing changes, applied in one transaction.
type RegisterThingRequest struct {
	TokenHash string
	// KeepToken marks the token used instead of deleting it, recording Request
	// and the thing's name, until it expires.
	KeepToken  bool
	Request    string
	Thing      *ThingSpec // nil: no thing resource
	CertStatus string     // ACTIVE or INACTIVE
	Policies   []PolicySpec
}

// RegisterThingResult reports what RegisterThing wrote.
type RegisterThingResult struct {
	Certificate Certificate
	Thing       *Thing
}

// RegisterThing consumes the ownership token and applies a provisioning template's
// result: the thing (created or updated per its overrides; groups must exist), the
// certificate status, the policies (attached to the certificate) and the thing ↔
// certificate attachment. All or nothing.
func (s *Store) RegisterThing(req RegisterThingRequest) (*RegisterThingResult, error) {
	status := strings.ToUpper(req.CertStatus)
	if status == "" {
		status = StatusActive
	}
	if status != StatusActive && status != StatusInactive {
		return nil, fmt.Errorf("register thing: %w: certificate status %q", ErrInvalid, req.CertStatus)
	}
	now := s.now()
	var (
		res     RegisterThingResult
		certID  string
		expired bool
	)
	err := s.batch(func(tx *bolt.Tx) error {
		res, certID, expired = RegisterThingResult{}, "", false
		var tok Token
		if err := getJSON(tx, bktTokens, req.TokenHash, &tok); err != nil || tok.Used {
			return ErrTokenInvalid
		}
		if !now.Before(tok.ExpiresAt) {
			expired = true
			return ErrTokenInvalid
		}
		certID = tok.CertID
		var cert Certificate
		if err := getJSON(tx, bktCerts, tok.CertID, &cert); err != nil {
			return fmt.Errorf("%w: its certificate is gone", ErrTokenInvalid)
		}
		th, err := applyResourcesTx(tx, s, &cert, ProvisionSpec{Thing: req.Thing, CertStatus: status, Policies: req.Policies}, now)
		if err != nil {
			return err
		}
		res.Thing = th
		res.Certificate = cert
		if req.KeepToken {
			tok.Used, tok.Request = true, req.Request
			if th != nil {
				tok.ThingName = th.Name
			}
			return putJSON(tx, bktTokens, tok.Hash, &tok)
		}
		return tx.Bucket(bktTokens).Delete([]byte(req.TokenHash))
	})
	s.dropProvisioned(certID, req.Policies)
	if expired {
		// Swept on the way, as LookupToken does.
		if _, err := s.SweepExpiredTokens(now); err != nil {
			s.log.Warn("sweep expired tokens", zap.Error(err))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("register thing: %w", err)
	}
	return &res, nil
}

// dropProvisioned forgets what applying a template to certID may have changed:
// the certificate, its attachments and the policies the template defined.
func (s *Store) dropProvisioned(certID string, policies []PolicySpec) {
	if certID != "" {
		s.cache.dropCertificates(certID)
	}
	var names []string
	for _, p := range policies {
		if p.Document != "" {
			names = append(names, p.Name)
		}
	}
	if len(names) > 0 {
		s.cache.dropPolicies(names...)
	}
}

// applyResourcesTx writes a template's result for cert: the thing and its
// attachment, the policies and their attachments, and the certificate's status.
func applyResourcesTx(tx *bolt.Tx, s *Store, cert *Certificate, spec ProvisionSpec, now time.Time) (*Thing, error) {
	var th *Thing
	if spec.Thing != nil {
		var err error
		if th, err = applyThing(tx, s, *spec.Thing); err != nil {
			return nil, err
		}
		if err := link(tx, bktThingCerts, bktCertThings, th.Name, cert.ID); err != nil {
			return nil, err
		}
	}
	for _, p := range spec.Policies {
		if p.Document != "" {
			var old Policy
			err := getJSON(tx, bktPolicies, p.Name, &old)
			if errIsNotFound(err) || (err == nil && old.Document != p.Document) {
				if _, err := putPolicyTx(tx, s, p.Name, p.Document, true, now.UTC()); err != nil {
					return nil, err
				}
			} else if err != nil {
				return nil, err
			}
		}
		if err := attachPolicyTx(tx, p.Name, cert.ID); err != nil {
			return nil, err
		}
	}
	cert.Status = spec.CertStatus
	return th, putJSON(tx, bktCerts, cert.ID, cert)
}

// ValidThingName reports whether name satisfies AWS IoT's thing name rule:
// 1 to 128 characters of [a-zA-Z0-9:_-].
func ValidThingName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == ':', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func applyThing(tx *bolt.Tx, s *Store, spec ThingSpec) (*Thing, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("%w: thing name is empty", ErrInvalid)
	}
	// A template evaluates the name from device input (a parameter, a certificate
	// subject): keep it to what AWS accepts, which also keeps the "\x00" of the
	// attachment keys out of names.
	if !ValidThingName(spec.Name) {
		return nil, fmt.Errorf("%w: thing name %q does not match [a-zA-Z0-9:_-]{1,128}", ErrInvalid, spec.Name)
	}
	var old Thing
	err := getJSON(tx, bktThings, spec.Name, &old)
	if errIsNotFound(err) {
		return putThingTx(tx, s, Thing{Name: spec.Name, TypeName: spec.TypeName, Attributes: spec.Attributes, Groups: spec.Groups})
	}
	if err != nil {
		return nil, err
	}
	next := old
	ov := func(prop string) string {
		if v := strings.ToUpper(spec.Overrides[prop]); v != "" {
			return v
		}
		return OverrideDoNothing
	}
	switch ov(PropAttributePayload) {
	case OverrideReplace:
		next.Attributes = spec.Attributes
	case OverrideMerge:
		next.Attributes = maps.Clone(old.Attributes)
		if next.Attributes == nil {
			next.Attributes = map[string]string{}
		}
		maps.Copy(next.Attributes, spec.Attributes)
	case OverrideFail:
		if !maps.Equal(old.Attributes, spec.Attributes) {
			return nil, fmt.Errorf("thing %q: %w: attributes differ and override is FAIL", spec.Name, ErrConflict)
		}
	}
	switch ov(PropThingTypeName) {
	case OverrideReplace, OverrideMerge:
		next.TypeName = spec.TypeName
	case OverrideFail:
		if old.TypeName != spec.TypeName {
			return nil, fmt.Errorf("thing %q: %w: thing type differs and override is FAIL", spec.Name, ErrConflict)
		}
	}
	groups := slices.Clone(spec.Groups)
	slices.Sort(groups)
	switch ov(PropThingGroups) {
	case OverrideReplace:
		next.Groups = groups
	case OverrideMerge:
		next.Groups = append(slices.Clone(old.Groups), groups...)
	case OverrideFail:
		if !slices.Equal(old.Groups, slices.Compact(groups)) {
			return nil, fmt.Errorf("thing %q: %w: thing groups differ and override is FAIL", spec.Name, ErrConflict)
		}
	}
	// Groups named by the template must exist even when the override keeps the old ones.
	for _, g := range spec.Groups {
		if !exists(tx, bktGroups, g) {
			return nil, fmt.Errorf("thing group %q: %w", g, ErrNotFound)
		}
	}
	return putThingTx(tx, s, next)
}
