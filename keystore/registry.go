package keystore

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// OpenFunc opens a keystore at a parsed URI. Each backend reads its own options
// from u (Opaque or Path, and the query).
type OpenFunc func(ctx context.Context, u *url.URL, opts Options) (Keystore, error)

var registry = struct {
	sync.RWMutex
	m map[string]OpenFunc
}{m: map[string]OpenFunc{}}

// Which package registers which scheme, for the unknown-scheme error: a binary
// that forgot the import should say so.
var knownBackends = map[string]string{
	"file": "github.com/fleetboot/fleetboot/keystore/file",
	"mem":  "github.com/fleetboot/fleetboot/keystore/mem",
	"tpm":  "github.com/fleetboot/fleetboot/keystore/tpm",
}

// Register makes a backend available under scheme (lower case, without the
// colon). Backends call it from init. It panics if scheme is taken or fn is nil:
// two backends fighting for a scheme is a build mistake.
func Register(scheme string, fn OpenFunc) {
	if fn == nil {
		panic("keystore: Register " + scheme + " with a nil OpenFunc")
	}
	scheme = strings.ToLower(scheme)
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.m[scheme]; dup {
		panic("keystore: Register called twice for scheme " + scheme)
	}
	registry.m[scheme] = fn
}

// Cleanuper is the part of testing.TB that RegisterForTest needs, so this
// package does not import testing.
type Cleanuper interface {
	Helper()
	Cleanup(func())
}

// RegisterForTest sets the backend for scheme, replacing any, until the test ends.
func RegisterForTest(t Cleanuper, scheme string, fn OpenFunc) {
	t.Helper()
	scheme = strings.ToLower(scheme)
	registry.Lock()
	old, had := registry.m[scheme]
	registry.m[scheme] = fn
	registry.Unlock()
	t.Cleanup(func() {
		registry.Lock()
		defer registry.Unlock()
		if had {
			registry.m[scheme] = old
		} else {
			delete(registry.m, scheme)
		}
	})
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for s := range registry.m {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// Open opens the keystore a URI names, e.g. "file:///var/lib/fleetboot/keys",
// "file:keys" (relative to opts.BaseDir) or "mem:device-1".
func Open(ctx context.Context, uri string, opts Options) (Keystore, error) {
	u, err := url.Parse(uri)
	if err != nil {
		// url's error quotes the URI; keystore URIs hold paths, never secrets.
		return nil, fmt.Errorf("%w: %v", ErrInvalidURI, err)
	}
	if u.Scheme == "" {
		return nil, fmt.Errorf("%w %q: no scheme, want file:DIR, tpm:… or mem:NAME", ErrInvalidURI, uri)
	}
	registry.RLock()
	fn := registry.m[u.Scheme]
	registry.RUnlock()
	if fn == nil {
		hint := fmt.Sprintf("registered: %s", strings.Join(Schemes(), ", "))
		if pkg, ok := knownBackends[u.Scheme]; ok {
			hint = fmt.Sprintf("this program does not include %s", pkg)
		}
		return nil, fmt.Errorf("open keystore %q: %w %q (%s)", uri, ErrUnknownScheme, u.Scheme, hint)
	}
	ks, err := fn(ctx, u, opts)
	if err != nil {
		return nil, fmt.Errorf("open keystore %q: %w", uri, err)
	}
	return ks, nil
}
