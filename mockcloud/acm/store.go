package acm

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// Certificate is one imported certificate: the PEM texts as given and what ACM
// describes about them.
type Certificate struct {
	ARN        string    `json:"arn"`
	CertPEM    string    `json:"certificatePem"`
	ChainPEM   string    `json:"chainPem,omitempty"`
	KeyPEM     string    `json:"privateKeyPem"`
	Domain     string    `json:"domainName"`
	SANs       []string  `json:"subjectAlternativeNames,omitempty"`
	Serial     string    `json:"serial"`
	Subject    string    `json:"subject"`
	Issuer     string    `json:"issuer"`
	KeyAlg     string    `json:"keyAlgorithm"`
	SigAlg     string    `json:"signatureAlgorithm"`
	NotBefore  time.Time `json:"notBefore"`
	NotAfter   time.Time `json:"notAfter"`
	CreatedAt  time.Time `json:"createdAt"`
	ImportedAt time.Time `json:"importedAt"`
}

// ErrNotFound is an ARN this region does not hold.
var ErrNotFound = errors.New("certificate not found")

// store is one region's certificates, kept in a file.
type store struct {
	path string
	mu   sync.Mutex
	byID map[string]*Certificate // by ARN
}

func openStore(path string) (*store, error) {
	s := &store{path: path, byID: map[string]*Certificate{}}
	data, err := safefile.Read(path, safefile.Options{Kind: "ACM store", Limit: 64 << 20, Secret: true})
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, err
	}
	var list []*Certificate
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, fmt.Errorf("ACM store %s: %w", path, err)
	}
	for _, c := range list {
		s.byID[c.ARN] = c
	}
	return s, nil
}

// saveLocked writes every certificate; the caller holds mu.
func (s *store) saveLocked() error {
	list := make([]*Certificate, 0, len(s.byID))
	for _, c := range s.byID {
		list = append(list, c)
	}
	slices.SortFunc(list, func(a, b *Certificate) int { return a.CreatedAt.Compare(b.CreatedAt) })
	data, err := json.Marshal(list)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	return safefile.WriteAtomic(s.path, data, 0o600)
}

func (s *store) get(arn string) (*Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.byID[arn]
	if !ok {
		return nil, ErrNotFound
	}
	cp := *c
	return &cp, nil
}

// put stores c; an empty ARN is a new certificate, named here.
func (s *store) put(c Certificate, newARN func() string) (*Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ARN == "" {
		c.ARN = newARN()
	} else if old, ok := s.byID[c.ARN]; ok {
		c.CreatedAt = old.CreatedAt
	} else {
		return nil, ErrNotFound
	}
	prev, had := s.byID[c.ARN]
	s.byID[c.ARN] = &c
	if err := s.saveLocked(); err != nil {
		if had {
			s.byID[c.ARN] = prev
		} else {
			delete(s.byID, c.ARN)
		}
		return nil, err
	}
	return &c, nil
}

func (s *store) remove(arn string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev, ok := s.byID[arn]
	if !ok {
		return ErrNotFound
	}
	delete(s.byID, arn)
	if err := s.saveLocked(); err != nil {
		s.byID[arn] = prev
		return err
	}
	return nil
}

func (s *store) list() []Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Certificate, 0, len(s.byID))
	for _, c := range s.byID {
		out = append(out, *c)
	}
	slices.SortFunc(out, func(a, b Certificate) int {
		if d := a.CreatedAt.Compare(b.CreatedAt); d != 0 {
			return d
		}
		return strings.Compare(a.ARN, b.ARN)
	})
	return out
}

// newUUID is a random version 4 UUID, the last part of an ACM certificate ARN.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails since Go 1.24
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
