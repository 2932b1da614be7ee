// Package registry is one mock region's AWS IoT registry: CA and device certificates,
// things, thing groups, policies, provisioning templates, their attachments and the
// fleet provisioning ownership tokens. It lives in one bbolt file (registry.db) under
// the region's data directory; every acknowledged change is fsynced (unless
// Options.NoSync), so a kill -9 loses nothing a caller was told succeeded. Values
// are JSON. What the broker reads on every connection is also kept in memory.
package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

// FileName is the database file inside the data directory.
const FileName = "registry.db"

var (
	bktCAs          = []byte("cas")
	bktCerts        = []byte("certs")
	bktThings       = []byte("things")
	bktGroups       = []byte("groups")
	bktPolicies     = []byte("policies")
	bktTemplates    = []byte("templates")
	bktTokens       = []byte("tokens")
	bktCertPolicies = []byte("cert_policies") // certID \x00 policy
	bktPolicyCerts  = []byte("policy_certs")  // policy \x00 certID
	bktCertThings   = []byte("cert_things")   // certID \x00 thing
	bktThingCerts   = []byte("thing_certs")   // thing \x00 certID
	allBuckets      = [][]byte{bktCAs, bktCerts, bktThings, bktGroups, bktPolicies, bktTemplates, bktTokens,
		bktCertPolicies, bktPolicyCerts, bktCertThings, bktThingCerts}
)

// Options configure a Store.
type Options struct {
	Region    string
	AccountID string
	Clock     func() time.Time // nil: time.Now
	Logger    *zap.Logger      // nil: no logging
	// NoSync skips fsync on commit: for a registry thrown away when the process
	// ends (an ephemeral rig), where a crash loses nothing anyone keeps.
	NoSync bool
}

// batchDelay is how long a write waits for others to share its commit. Short:
// concurrent writers pile up behind a commit in progress anyway, so a long wait
// only adds latency to every provisioning request (bbolt's default is 10 ms).
const batchDelay = time.Millisecond

// Store is a region's registry. Safe for concurrent use.
type Store struct {
	db      *bolt.DB
	region  string
	account string
	now     func() time.Time
	log     *zap.Logger
	cache   *readCache
}

// Open opens (creating if needed) dir/registry.db.
func Open(dir string, opts Options) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open registry: %w", err)
	}
	path := filepath.Join(dir, FileName)
	// The free list is rebuilt on open rather than written at every commit, and
	// kept as a map: commits stay cheap as the file grows (etcd's choice).
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: 5 * time.Second, NoSync: opts.NoSync,
		NoFreelistSync: true, FreelistType: bolt.FreelistMapType,
	})
	if err != nil {
		return nil, fmt.Errorf("open registry %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init registry %s: %w", path, err)
	}
	db.MaxBatchDelay = batchDelay
	s := &Store{db: db, region: opts.Region, account: opts.AccountID, now: opts.Clock, log: opts.Logger,
		cache: newReadCache()}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	return s, nil
}

// Close closes the database. Safe to call twice.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close registry: %w", err)
	}
	return nil
}

// Region is the region the ARNs name.
func (s *Store) Region() string { return s.region }

// AccountID is the account the ARNs name.
func (s *Store) AccountID() string { return s.account }

// ARN builds arn:aws:iot:<region>:<account>:<kind>/<name>.
func (s *Store) ARN(kind, name string) string {
	return fmt.Sprintf("arn:aws:iot:%s:%s:%s/%s", s.region, s.account, kind, name)
}

func (s *Store) update(fn func(tx *bolt.Tx) error) error {
	err := s.db.Update(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// batch coalesces concurrent writers into one commit, and one fsync. fn may run
// more than once, so it must not depend on side effects of an earlier run. It
// pays without fsync too: a commit's page writes are shared as well.
func (s *Store) batch(fn func(tx *bolt.Tx) error) error {
	err := s.db.Batch(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func (s *Store) view(fn func(tx *bolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

func getJSON[T Record](tx *bolt.Tx, bucket []byte, key string, v T) error {
	data := tx.Bucket(bucket).Get([]byte(key))
	if data == nil {
		return ErrNotFound
	}
	return DecodeRecord(data, v)
}

func putJSON(tx *bolt.Tx, bucket []byte, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %T: %w", v, err)
	}
	return tx.Bucket(bucket).Put([]byte(key), data)
}

func exists(tx *bolt.Tx, bucket []byte, key string) bool {
	return tx.Bucket(bucket).Get([]byte(key)) != nil
}

func listJSON[E any](tx *bolt.Tx, bucket []byte, keep func(*E) bool) ([]E, error) {
	var out []E
	err := tx.Bucket(bucket).ForEach(func(k, v []byte) error {
		var e E
		if err := decode(v, &e); err != nil {
			return fmt.Errorf("record %q: %w", k, err)
		}
		if keep == nil || keep(&e) {
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

func pairKey(a, b string) []byte { return []byte(a + "\x00" + b) }

// pairs lists the second halves of keys a\x00* in bucket.
func pairs(tx *bolt.Tx, bucket []byte, a string) []string {
	var out []string
	prefix := []byte(a + "\x00")
	c := tx.Bucket(bucket).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		out = append(out, string(k[len(prefix):]))
	}
	sort.Strings(out)
	return out
}

func link(tx *bolt.Tx, fwd, back []byte, a, b string) error {
	if err := tx.Bucket(fwd).Put(pairKey(a, b), nil); err != nil {
		return err
	}
	return tx.Bucket(back).Put(pairKey(b, a), nil)
}

func unlink(tx *bolt.Tx, fwd, back []byte, a, b string) error {
	if err := tx.Bucket(fwd).Delete(pairKey(a, b)); err != nil {
		return err
	}
	return tx.Bucket(back).Delete(pairKey(b, a))
}
