// Package agent is the first-boot state machine of a gateway: find the home region,
// trade the claim certificate for a permanent identity, and stay online with it. It is
// the only package that knows the order of the steps.
package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/dnsresolve"
	"github.com/fleetboot/fleetboot/internal/safefile"
	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// Resolver finds the addresses behind a name; *dnsresolve.Resolver is one.
type Resolver interface {
	Resolve(ctx context.Context, name string) (*dnsresolve.Result, error)
}

// Dialer opens an MQTT connection; provisioning.Dial is the one used on devices.
type Dialer func(ctx context.Context, cfg provisioning.DialConfig) (*provisioning.Conn, error)

// Step is one timed step of first boot, reported to Options.Observe.
type Step struct {
	Name     StepName
	Duration time.Duration
	Err      error
}

// Options wires an Agent. Config is required; the rest default to what a device uses.
type Options struct {
	Config *Config
	Logger *zap.Logger
	// Now is the wall clock; tests set a clock stuck at 1970.
	Now func() time.Time
	// Resolver defaults to dnsresolve over Config.DNS.
	Resolver Resolver
	// Keystore defaults to keystore.Open(Config.Keystore.URI).
	Keystore keystore.Keystore
	// State defaults to DirStore(Config.StateDir).
	State StateStore
	// Rehome keeps the re-provisioning backoff between boots; it defaults to
	// RehomeFile in the state folder when State is a DirStore (or unset), else
	// to memory.
	Rehome RehomeStore
	// Claim, if set, is the claim certificate and key already loaded, used instead
	// of reading Config's claim files at each provisioning; Roots likewise replaces
	// reading Config.Endpoint's root CAs. A simulator loads them once for all its
	// devices.
	Claim *tls.Certificate
	Roots *x509.CertPool
	// Dial defaults to provisioning.Dial.
	Dial Dialer
	// Observe receives each step's duration as it ends.
	Observe func(Step)
	// OnOnline, if set, is called once each time the agent gets online: the
	// permanent connection is up, its online status published and the online
	// phase written. It gets a copy of the state. It runs on the goroutine of
	// Run, Prove or ProveWithRetry, before they go on, so it must not block.
	OnOnline func(State)
	// OnReady, if set, is called by Run once the device has an identity it can use:
	// provisioned now, or the one on disk, before its first connection attempt, so
	// that a start without the cloud in reach is still a start (systemd's READY=1).
	// It gets a copy of the state, runs on Run's goroutine and must not block.
	OnReady func(State)
	// Watchdog, if set, is kept fed by Run's loops: every wait between attempts and
	// the wait while online send a keep-alive at each of its ticks, so a loop that
	// stops making progress stops feeding it (sdnotify.Watchdog is one).
	Watchdog Watchdog
	// FaultPoint is called after each state write with the phase just written; tests
	// use it to cut power at exact points.
	FaultPoint func(Phase)
	// Environ is the environment handed to the onProvisioned command; nil uses os.Environ.
	Environ []string
	// Retry, if set, replaces Base, Cap and Rand of every retry loop's backoff (Run,
	// ProveWithRetry, JITP connects); nil keeps each loop's own. Simulators and tests
	// use it to run many retries quickly.
	Retry *Backoff
}

// Agent runs first boot for one device. Not safe for concurrent use: one Agent, one
// goroutine calling Provision, Prove or Run.
type Agent struct {
	cfg      *Config
	log      *zap.Logger
	now      func() time.Time
	resolver Resolver
	ks       keystore.Keystore
	ownKS    bool
	store    StateStore
	// rehomeStore persists the re-provisioning backoff (rehome.go).
	rehomeStore RehomeStore
	claim       *tls.Certificate
	dial        Dialer
	// lastConnect is when the last dial with each client id ended (connect).
	lastConnect map[string]time.Time
	observe     func(Step)
	onOnline    func(State)
	onReady     func(State)
	watchdog    Watchdog
	fault       func(Phase)
	environ     []string
	retry       *Backoff
	roots       *x509.CertPool

	mu    sync.Mutex
	state *State
	// accepted is the connection a JITP registration was accepted on, kept as
	// the permanent one: AWS allows one connect per second per client id, so a
	// second connect right after it would be refused. Under mu: Close may run
	// on another goroutine than Run.
	accepted *provisioning.Conn
	// resolved holds what the last resolution returned, so the first permanent
	// connection reuses it instead of asking again.
	resolved *dnsresolve.Result
	// unconfirmed is the certificate whose RegisterThing went out without a reply
	// (timeout, connection lost): the cloud may have activated it.
	unconfirmed string
}

// New validates and wires; it changes nothing on disk and touches no network.
func New(ctx context.Context, opts Options) (*Agent, error) {
	if opts.Config == nil {
		return nil, configErr("new agent", errors.New("no config"))
	}
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, configErr("validate config", err)
	}
	a := &Agent{
		cfg:      cfg,
		log:      opts.Logger,
		now:      opts.Now,
		dial:     opts.Dial,
		observe:  opts.Observe,
		onOnline: opts.OnOnline,
		onReady:  opts.OnReady,
		watchdog: opts.Watchdog,
		fault:    opts.FaultPoint,
		environ:  opts.Environ,
		retry:    opts.Retry,
		store:    opts.State,
		claim:    opts.Claim,
		roots:    opts.Roots,
	}
	if a.store == nil {
		a.store = DirStore(cfg.StateDir)
	}
	a.rehomeStore = opts.Rehome
	if a.rehomeStore == nil {
		if d, ok := a.store.(DirStore); ok {
			a.rehomeStore = RehomeFile(string(d))
		} else {
			a.rehomeStore = &MemRehome{}
		}
	}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.dial == nil {
		a.dial = provisioning.Dial
	}
	if a.environ == nil {
		a.environ = os.Environ()
	}
	if a.roots == nil {
		roots, err := LoadRoots(cfg.Endpoint)
		if err != nil {
			return nil, configErr("load root CAs", err)
		}
		a.roots = roots
	}
	a.resolver = opts.Resolver
	if a.resolver == nil {
		r, err := NewResolver(cfg.DNS, a.log)
		if err != nil {
			return nil, configErr("dns", err)
		}
		a.resolver = r
	}
	a.ks = opts.Keystore
	if a.ks == nil {
		ks, err := keystore.Open(ctx, cfg.Keystore.URI, keystore.Options{Logger: a.log.Named("keystore"), BaseDir: cfg.StateDir})
		if err != nil {
			return nil, configErr("open keystore", err)
		}
		a.ks, a.ownKS = ks, true
	}
	st, err := a.store.Load()
	if err != nil {
		a.Close()
		return nil, configErr("load state", err)
	}
	a.state = st
	if st.Phase == PhaseCredentialed {
		// A boot that finds its token saved cannot tell whether the previous one
		// sent RegisterThing before the power went: if the cloud refuses the
		// token, the certificate may have been activated all the same.
		a.setUnconfirmed(st.CertificateID)
	}
	return a, nil
}

// Close releases the keystore if the agent opened it.
func (a *Agent) Close() error {
	if c := a.takeAccepted(); c != nil {
		c.Close()
	}
	if a.ownKS && a.ks != nil {
		return a.ks.Close()
	}
	return nil
}

// State returns a copy of the current state.
func (a *Agent) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return *a.state
}

// NewResolver is the resolver a device uses for the dns section of its config:
// its servers, timeout, EDNS Client Subnet and source address. New uses it unless
// Options.Resolver is set; a simulator wraps it rather than building its own. log
// may be nil.
func NewResolver(c DNSConfig, log *zap.Logger) (*dnsresolve.Resolver, error) {
	if log == nil {
		log = zap.NewNop()
	}
	rc := dnsresolve.Config{Servers: c.Servers, Timeout: c.Timeout.D(), Logger: log.Named("dns")}
	if c.ClientSubnet != "" {
		p, err := netip.ParsePrefix(c.ClientSubnet)
		if err != nil {
			return nil, err
		}
		rc.ClientSubnet = p.Masked()
	}
	if c.SourceAddress != "" {
		ad, err := netip.ParseAddr(c.SourceAddress)
		if err != nil {
			return nil, err
		}
		rc.LocalAddr = ad
	}
	return dnsresolve.New(rc)
}

// LoadRoots is the pool the server is verified against: the system's if
// SystemRoots, plus RootCA's certificates.
func LoadRoots(c EndpointConfig) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if c.SystemRoots {
		sys, err := x509.SystemCertPool()
		if err != nil {
			return nil, fmt.Errorf("system roots: %w", err)
		}
		pool = sys
	}
	if c.RootCA != "" {
		pem, err := safefile.Read(c.RootCA, safefile.Options{Kind: "root CA", Limit: safefile.LimitPEM})
		if err != nil {
			return nil, err
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate found", c.RootCA)
		}
	}
	return pool, nil
}

// backoff returns a retry loop's backoff: base and limit, unless Options.Retry
// replaces them.
func (a *Agent) backoff(base, limit time.Duration) *Backoff {
	if a.retry != nil {
		return &Backoff{Base: a.retry.Base, Cap: a.retry.Cap, Rand: a.retry.Rand}
	}
	return &Backoff{Base: base, Cap: limit}
}

// exchange bounds one request/reply exchange with the cloud by
// provisioning.timeout; when it runs out the error wraps ErrNoReply.
func (a *Agent) exchange(ctx context.Context) (context.Context, context.CancelFunc) {
	d := a.cfg.Provisioning.Timeout.D()
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%w within %s", ErrNoReply, d))
}

// step times fn, logs it and reports it.
func (a *Agent) step(name StepName, fn func() error) error {
	start := time.Now()
	err := fn()
	d := time.Since(start)
	if a.observe != nil {
		a.observe(Step{Name: name, Duration: d, Err: err})
	}
	if err != nil {
		a.log.Debug("step failed", zap.String("step", string(name)), zap.Duration("duration", d), zap.Error(err))
	} else {
		a.log.Info("step done", zap.String("step", string(name)), zap.Duration("duration", d))
	}
	return err
}

// save writes the state before the next network step, then passes the fault point.
// A full disk is waited out (retryDiskFull) until ctx ends.
func (a *Agent) save(ctx context.Context, st *State) error {
	now, trusted := trustedNow(a.now(), st.Updated)
	if trusted {
		st.Updated = now
	}
	if err := a.retryDiskFull(ctx, "state ("+string(st.Phase)+")", func() error { return a.store.Save(st) }); err != nil {
		return storageErr("save state", err)
	}
	a.mu.Lock()
	a.state = st
	a.mu.Unlock()
	a.log.Debug("state saved", zap.String("state", string(st.Phase)))
	if a.fault != nil {
		a.fault(st.Phase)
	}
	return nil
}

// takeAccepted hands over the JITP connection, once.
func (a *Agent) takeAccepted() *provisioning.Conn {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.accepted
	a.accepted = nil
	return c
}

func (a *Agent) setAccepted(c *provisioning.Conn) {
	a.mu.Lock()
	a.accepted = c
	a.mu.Unlock()
}

func (a *Agent) lastResolved() *dnsresolve.Result {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.resolved
}

func (a *Agent) setResolved(r *dnsresolve.Result) {
	a.mu.Lock()
	a.resolved = r
	a.mu.Unlock()
}

func (a *Agent) getUnconfirmed() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unconfirmed
}

func (a *Agent) setUnconfirmed(id string) {
	a.mu.Lock()
	a.unconfirmed = id
	a.mu.Unlock()
}

func (a *Agent) current() *State {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := *a.state
	return &c
}

func (a *Agent) serverName() string { return strings.TrimSuffix(a.cfg.Endpoint.GlobalName, ".") }

// addrPorts joins addresses with the endpoint port.
func (a *Agent) addrPorts(addrs []netip.Addr) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(addrs))
	for _, ad := range dnsresolve.HappyEyeballsOrder(addrs) {
		out = append(out, netip.AddrPortFrom(ad, uint16(a.cfg.Endpoint.Port)))
	}
	return out
}

func (a *Agent) loadClaim() (tls.Certificate, error) {
	if a.claim != nil {
		return *a.claim, nil
	}
	p := a.cfg.Provisioning
	certPEM, err := safefile.Read(p.ClaimCertificate, safefile.Options{Kind: "claim certificate", Limit: safefile.LimitPEM})
	if err != nil {
		return tls.Certificate{}, configErr("load claim certificate", err)
	}
	// The claim key is the fleet's shared secret: the same rules as a device key.
	keyPEM, err := safefile.Read(p.ClaimKey, safefile.Options{Kind: "claim key", Limit: safefile.LimitPEM, Secret: true})
	if err != nil {
		return tls.Certificate{}, configErr("load claim certificate", err)
	}
	defer clear(keyPEM)
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, configErr("load claim certificate", fmt.Errorf("%s and %s: %w", p.ClaimCertificate, p.ClaimKey, err))
	}
	return c, nil
}

func (a *Agent) dialConfig(cert tls.Certificate, clientID string, addrs []netip.AddrPort) provisioning.DialConfig {
	return provisioning.DialConfig{
		ServerName:     a.serverName(),
		Addrs:          addrs,
		RootCAs:        a.roots,
		Certificate:    cert,
		ClientID:       clientID,
		KeepAlive:      a.cfg.Device.KeepAlive.D(),
		ConnectTimeout: a.cfg.Provisioning.Timeout.D(),
		Now:            a.verifyNow,
		Logger:         a.log.Named("mqtt"),
	}
}

// verifyNow is the time server certificates are checked at: the wall clock when it
// can be believed, else the floor (the certificate check then moves up to the
// certificate's own start, see provisioning.DialConfig.Now).
func (a *Agent) verifyNow() (time.Time, bool) {
	st := a.current()
	return trustedNow(a.now(), st.Updated)
}
