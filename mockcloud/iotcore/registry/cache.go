package registry

import "sync"

// maxCached bounds each of the cache's maps: past it the map starts over, so a
// rig that issues millions of certificates keeps a bounded cache.
const maxCached = 1 << 16

// readCache keeps in memory what the broker reads on every connection and every
// MQTT operation — certificates, the policies and things attached to them, and
// provisioning templates — so that those reads cost a map lookup instead of a
// bbolt transaction and a JSON decode. Stored values are never modified. Every
// write drops, once committed, the entries it may have changed. A reader stores
// what it read only if no write has dropped anything since it began (the epoch
// is unchanged), so a reader that raced a write never stores a stale record.
type readCache struct {
	mu           sync.RWMutex
	epoch        uint64
	certs        map[string]*Certificate
	certPolicies map[string][]string // certificate id → policy names
	certThings   map[string][]string // certificate id → thing names
	policies     map[string]*Policy  // nil: known not to exist
	templates    map[string]*Template
}

func newReadCache() *readCache {
	return &readCache{
		certs:        map[string]*Certificate{},
		certPolicies: map[string][]string{},
		certThings:   map[string][]string{},
		policies:     map[string]*Policy{},
		templates:    map[string]*Template{},
	}
}

// begin returns the epoch a reader that misses must pass to store.
func (c *readCache) begin() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.epoch
}

func lookup[V any](c *readCache, m map[string]V, key string) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := m[key]
	return v, ok
}

func store[V any](c *readCache, m map[string]V, key string, v V, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	if len(m) >= maxCached {
		clear(m)
	}
	m[key] = v
}

// dropCertificates forgets certificates and their attachments.
func (c *readCache) dropCertificates(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, id := range ids {
		delete(c.certs, id)
		delete(c.certPolicies, id)
		delete(c.certThings, id)
	}
}

func (c *readCache) dropPolicies(names ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, n := range names {
		delete(c.policies, n)
	}
}

func (c *readCache) dropTemplate(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	delete(c.templates, name)
}
