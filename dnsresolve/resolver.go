// Package dnsresolve finds a gateway's regional AWS IoT endpoint through DNS.
//
// The gateway resolves a global name (e.g. global.iot.example.com). A geolocation DNS
// answers it with a CNAME to the regional endpoint
// "<prefix>-ats.iot.<region>.amazonaws.com", whose A/AAAA records are the region's
// addresses. Resolve asks A and AAAA concurrently, follows the CNAME chain itself
// (whether or not the server put the target's records in the same answer), and reports
// the chain, the addresses in Happy Eyeballs order, the smallest TTL and the region read
// off the chain.
//
// # Which region a result is in
//
// The region is read off names, never off addresses, and only off names of AWS IoT's
// regional endpoint forms (RegionFromName): "<prefix>-ats.iot.<region>.amazonaws.com",
// the legacy "<prefix>.iot.<region>.amazonaws.com", China's
// "<prefix>.ats.iot.<region>.amazonaws.com.cn", FIPS's "data.iot-fips.<region>.amazonaws.com",
// and the mock cloud's names, which have the ATS form. The global name and any other
// custom domain say nothing about a region, nor do names of other services.
//
// The region of a result is that of the last endpoint name on the chain from the asked
// name to the addresses. The addresses are that endpoint's: the connection is made to
// them, so whatever server name the TLS session carries (the agent sends the global
// name, a custom domain every region serves), the device talks to the region of that
// name, and that region is where it is provisioned and must be recorded. Names
// after it (AWS's own aliases, e.g. a load balancer's) are followed but not judged, and
// an earlier endpoint name of another region (a regional name aliased to another
// region's endpoint) loses to the later one, with a warning in the log. TLS still
// verifies the server's identity for the name the device dials; DNS decides only where
// it goes and which region is recorded.
//
// A chain with no endpoint name on it (a custom domain CNAMEd or answered outside AWS
// IoT, a captive portal, a rewriting resolver) fails with ErrNoRegion and the chain in
// the message; Resolve never succeeds with an empty region. When the caller knows its
// region (Config.Region), such a chain is accepted in that region, and a chain that
// names another region fails with ErrRegionMismatch.
//
// Where a device is placed by the geolocation DNS is decided by the EDNS Client Subnet
// it sends (Config.ClientSubnet) or else by the source address of its queries
// (Config.LocalAddr), so a test rig can place simulated devices anywhere.
//
// The package depends on miekg/dns, zap and the standard library only: it is linked into
// the device binary.
package dnsresolve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
	"go.uber.org/zap"
)

const (
	// DefaultTimeout is the wait for one reply from one server when Config.Timeout is 0.
	DefaultTimeout = 2 * time.Second
	// DefaultAttempts is the number of rounds over the server list when Config.Attempts is 0
	// (the resolv.conf default).
	DefaultAttempts = 2
	// DefaultResolvConf is read for servers when Config.Servers is empty.
	DefaultResolvConf = "/etc/resolv.conf"
	// ednsUDPSize is the EDNS0 buffer size advertised with a client subnet: the DNS Flag
	// Day 2020 value, which avoids IP fragmentation on any path.
	ednsUDPSize = 1232
)

// Config configures a Resolver. The zero value resolves through /etc/resolv.conf.
type Config struct {
	// Servers are the DNS servers, "ip:port" or a bare IP (port 53), tried in order.
	// Empty means the nameservers of ResolvConf, read anew on every Resolve; there an
	// entry may also be "[ip]:port" (the OpenBSD form) to name another port than 53.
	Servers []string
	// ClientSubnet, when valid, is sent as an EDNS Client Subnet option (RFC 7871) with
	// the address masked to the prefix, inside an EDNS0 OPT record advertising a UDP
	// size of 1232. Without it no OPT record is sent.
	ClientSubnet netip.Prefix
	// LocalAddr, when valid, is the source address of every query socket (UDP and TCP).
	LocalAddr netip.Addr
	// Timeout is the wait for one reply from one server in one attempt; a TCP retry after
	// a truncated reply gets its own. Default DefaultTimeout.
	Timeout time.Duration
	// Attempts is how many rounds over the server list one query makes. Default
	// DefaultAttempts.
	Attempts int
	// ResolvConf is the resolv.conf path used when Servers is empty. Default
	// DefaultResolvConf.
	ResolvConf string
	// Region, when set, is the region the caller knows its endpoint to be in, for an
	// endpoint whose CNAME chain has no AWS IoT endpoint name on it (a TLS proxy's name,
	// a private name for a VPC endpoint): a chain that names no region is that region's,
	// and one that names another fails with ErrRegionMismatch. It must have a region's
	// shape ("eu-west-1"). Empty: the region is the chain's, and a chain without one
	// fails with ErrNoRegion.
	Region string
	// Logger receives debug lines for every failed query and a warning when a stale result
	// is served. Default zap.NewNop().
	Logger *zap.Logger
}

// Link is one CNAME of a chain: Name is an alias of Target. Names are lower case without
// the trailing dot.
type Link struct {
	Name   string
	Target string
	TTL    time.Duration
}

// Result is a successful resolution.
type Result struct {
	// Query is the name asked, lower case without the trailing dot.
	Query string
	// Chain holds the CNAME links from Query to Name, in order; empty without aliases.
	Chain []Link
	// Name is the end of the chain: the name the addresses belong to.
	Name string
	// Addrs are the addresses of Name, IPv6 and IPv4 interleaved starting with IPv6
	// (HappyEyeballsOrder). At least one.
	Addrs []netip.Addr
	// TTL is the smallest TTL over the chain and the addresses.
	TTL time.Duration
	// Region is that of the last AWS IoT endpoint name on the way from Query to Name
	// (RegionFromName), else Config.Region. Never empty.
	Region string
	// RegionName is the name Region was read from: Query, or a link's target. Empty
	// when Region is Config.Region because no name on the way names one.
	RegionName string
	// Server is the server ("ip:port") that gave the final answer.
	Server string
	// Stale marks a last-good result served by ResolveCached because resolution failed
	// transiently; StaleReason is that failure.
	Stale       bool
	StaleReason error
	// Queries counts the DNS round trips this call spent (sent messages, including
	// timed-out ones and TCP retries), for both families.
	Queries int
}

// Resolver resolves endpoint names. It is safe for concurrent use.
type Resolver struct {
	servers    []string
	resolvConf string
	subnet     netip.Prefix
	local      netip.Addr
	timeout    time.Duration
	attempts   int
	region     string
	log        *zap.Logger

	mu       sync.Mutex
	lastGood map[string]*Result // by canonical query name
}

// New validates cfg and returns a Resolver. It does no I/O: resolv.conf is read when a
// query needs it.
func New(cfg Config) (*Resolver, error) {
	r := &Resolver{
		resolvConf: cfg.ResolvConf,
		timeout:    cfg.Timeout,
		attempts:   cfg.Attempts,
		log:        cfg.Logger,
		lastGood:   make(map[string]*Result),
	}
	if r.resolvConf == "" {
		r.resolvConf = DefaultResolvConf
	}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.attempts <= 0 {
		r.attempts = DefaultAttempts
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.log = r.log.Named("dnsresolve")
	for _, s := range cfg.Servers {
		ap, err := parseServer(s)
		if err != nil {
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, s, err)
		}
		r.servers = append(r.servers, ap)
	}
	if p := cfg.ClientSubnet; p.IsValid() {
		if p.Addr().Is4In6() {
			return nil, fmt.Errorf("%w: client subnet %s: use the IPv4 form", ErrInvalidConfig, p)
		}
		r.subnet = p.Masked()
	}
	if a := cfg.LocalAddr; a.IsValid() {
		r.local = a.Unmap()
	}
	if cfg.Region != "" {
		if !validRegion(cfg.Region) {
			return nil, fmt.Errorf("%w: region %q: not a region name", ErrInvalidConfig, cfg.Region)
		}
		r.region = cfg.Region
	}
	return r, nil
}

func parseServer(s string) (string, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.String(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", errors.New("want ip:port or ip")
	}
	return netip.AddrPortFrom(a, 53).String(), nil
}

// Resolve resolves name to its regional endpoint. It fails with an error wrapping
// ErrNXDOMAIN, ErrNoData, ErrCNAMELoop or ErrChainTooLong when the DNS data says so, with
// a *RegionError wrapping ErrNoRegion or ErrRegionMismatch when the addresses' region is
// unknown or not the configured one (see the package doc), and otherwise with the
// servers' failures joined (each a *QueryError naming the server and
// wrapping ErrTimeout, ErrServFail, ErrRefused, ErrMismatch, ...). One family failing
// while the other has addresses is success. A successful result is kept as the name's
// last-good result for ResolveCached.
func (r *Resolver) Resolve(ctx context.Context, name string) (*Result, error) {
	res, _, err := r.resolve(ctx, name)
	return res, err
}

// ResolveCached is Resolve with a last-good fallback: when resolution fails with a
// transient error (IsTransient: timeouts, SERVFAIL, network failures, mismatched
// replies, an empty resolv.conf) and an earlier call for the same name succeeded, it
// returns a copy of that earlier result with Stale set, StaleReason holding the failure,
// and a nil error. An answer that names no region (ErrNoRegion) is covered the same way:
// the last-good result named one. It never covers a definitive answer: NXDOMAIN, NODATA,
// a CNAME loop, a chain too long, another region than Config.Region, REFUSED alone, or a
// cancelled context are returned as errors. The
// last-good results live in memory for the Resolver's lifetime, one per name; a stale
// result keeps its original TTL, which the caller may treat as expired.
func (r *Resolver) ResolveCached(ctx context.Context, name string) (*Result, error) {
	res, queries, err := r.resolve(ctx, name)
	if err == nil || !IsTransient(err) {
		return res, err
	}
	key, kerr := canonicalName(name)
	if kerr != nil {
		return nil, err
	}
	r.mu.Lock()
	last := r.lastGood[key]
	r.mu.Unlock()
	if last == nil {
		return nil, err
	}
	stale := last.clone()
	stale.Stale, stale.StaleReason, stale.Queries = true, err, queries
	r.log.Warn("serving last-good result", zap.String("name", stale.Query),
		zap.String("target", stale.Name), zap.String("region", stale.Region), zap.Error(err))
	return stale, nil
}

func (res *Result) clone() *Result {
	c := *res
	c.Chain = append([]Link(nil), res.Chain...)
	c.Addrs = append([]netip.Addr(nil), res.Addrs...)
	return &c
}

// canonicalName gives the lower-case FQDN form used on the wire and as cache key.
func canonicalName(name string) (string, error) {
	fq := strings.ToLower(dns.Fqdn(strings.TrimSpace(name)))
	if fq == "." {
		return "", fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if _, ok := dns.IsDomainName(fq); !ok {
		return "", fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	return fq, nil
}

func trimDot(name string) string { return strings.TrimSuffix(name, ".") }

// call is the state of one Resolve call shared by its two family lookups.
type call struct {
	r       *Resolver
	servers []string
	queries atomic.Int64
	// preferred is the server that last answered in this call: the chain's next query
	// starts there instead of waiting again on a server that just timed out. It is not
	// kept across calls, so a primary server that recovers is used again (which server
	// is asked can change what a geolocation DNS answers).
	preferred atomic.Pointer[string]
}

type familyResult struct {
	l      *lookup
	server string
	err    error
}

func (r *Resolver) resolve(ctx context.Context, name string) (*Result, int, error) {
	qname, err := canonicalName(name)
	if err != nil {
		return nil, 0, err
	}
	servers, err := r.serverList()
	if err != nil {
		return nil, 0, fmt.Errorf("resolve %s: %w", trimDot(qname), err)
	}
	c := &call{r: r, servers: servers}

	// A and AAAA run concurrently. Once one family has addresses the other gets at most
	// one more timeout, so a middlebox that drops AAAA queries costs one timeout, not a
	// full round of every server and attempt.
	var a, aaaa familyResult
	ctxA, cancelA := context.WithCancel(ctx)
	ctxAAAA, cancelAAAA := context.WithCancel(ctx)
	defer cancelA()
	defer cancelAAAA()
	doneA, doneAAAA := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(doneA)
		a = c.lookupFamily(ctxA, qname, dns.TypeA)
	}()
	go func() {
		defer close(doneAAAA)
		aaaa = c.lookupFamily(ctxAAAA, qname, dns.TypeAAAA)
	}()
	grace := func(done <-chan struct{}, cancel context.CancelFunc) {
		t := time.NewTimer(r.timeout)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			cancel()
			<-done
		}
	}
	select {
	case <-doneA:
		if a.err == nil {
			grace(doneAAAA, cancelAAAA)
		} else {
			<-doneAAAA
		}
	case <-doneAAAA:
		if aaaa.err == nil {
			grace(doneA, cancelA)
		} else {
			<-doneA
		}
	}
	queries := int(c.queries.Load())
	res, err := r.combine(qname, a, aaaa)
	if err != nil {
		return nil, queries, err
	}
	if err := r.setRegion(res); err != nil {
		return nil, queries, err
	}
	res.Queries = queries
	r.log.Debug("resolved", zap.String("name", res.Query), zap.String("target", res.Name),
		zap.String("region", res.Region), zap.Int("addrs", len(res.Addrs)), zap.Int("queries", queries))
	r.mu.Lock()
	r.lastGood[qname] = res.clone()
	r.mu.Unlock()
	return res, queries, nil
}

// combine merges the two family lookups into a Result or the error that best describes
// the failure.
func (r *Resolver) combine(qname string, a, aaaa familyResult) (*Result, error) {
	if a.err != nil && aaaa.err != nil {
		// A definitive answer about the name itself wins over anything else.
		for _, sentinel := range []error{ErrNXDOMAIN, ErrCNAMELoop, ErrChainTooLong} {
			for _, e := range []error{a.err, aaaa.err} {
				if errors.Is(e, sentinel) {
					return nil, e
				}
			}
		}
		noA, noAAAA := errors.Is(a.err, ErrNoData), errors.Is(aaaa.err, ErrNoData)
		switch {
		case noA && noAAAA:
			return nil, errors.Join(a.err, aaaa.err)
		case noA:
			// NODATA for A says nothing about AAAA: the failure is AAAA's.
			return nil, aaaa.err
		case noAAAA:
			return nil, a.err
		}
		return nil, errors.Join(a.err, aaaa.err)
	}

	primary, other := a, aaaa
	if a.err != nil {
		primary, other = aaaa, a
	} else if aaaa.err == nil && a.l.current() != aaaa.l.current() &&
		familyRegion(qname, a.l) == "" && familyRegion(qname, aaaa.l) != "" {
		// Of two chains that differ, the one that names a region is used.
		primary, other = aaaa, a
	}
	addrs := primary.l.addrs
	minTTL := primary.l.minTTL
	if other.err == nil {
		if other.l.current() == primary.l.current() {
			addrs = append(append([]netip.Addr(nil), addrs...), other.l.addrs...)
			minTTL = min(minTTL, other.l.minTTL)
		} else {
			// The families' chains ended at different names: mixing them would mix
			// regions, so only the primary is used (IPv4 when it has data, unless
			// only the IPv6 chain names a region).
			r.log.Warn("A and AAAA chains differ; using one",
				zap.String("name", trimDot(qname)),
				zap.String("used", trimDot(primary.l.current())),
				zap.String("ignored", trimDot(other.l.current())))
		}
	}
	final := trimDot(primary.l.current())
	res := &Result{
		Query:  trimDot(qname),
		Name:   final,
		Addrs:  HappyEyeballsOrder(addrs),
		TTL:    time.Duration(minTTL) * time.Second,
		Server: primary.server,
	}
	res.Chain = publicLinks(primary.l.links)
	return res, nil
}

func publicLinks(links []link) []Link {
	var out []Link
	for _, lk := range links {
		out = append(out, Link{Name: trimDot(lk.name), Target: trimDot(lk.target),
			TTL: time.Duration(lk.ttl) * time.Second})
	}
	return out
}

// familyRegion is the region one family's chain names, "" for none.
func familyRegion(qname string, l *lookup) string {
	region, _, _ := chainRegion(trimDot(qname), publicLinks(l.links))
	return region
}

// setRegion sets res.Region and res.RegionName by the package doc's rule, or says why
// the result has no region it can be trusted to be in.
func (r *Resolver) setRegion(res *Result) error {
	region, from, conflict := chainRegion(res.Query, res.Chain)
	fail := func(sentinel error) error {
		return &RegionError{Query: res.Query, Chain: append([]Link(nil), res.Chain...), Name: res.Name,
			Region: region, Want: r.region, Err: sentinel}
	}
	switch {
	case region == "" && r.region == "":
		return fail(ErrNoRegion)
	case region == "":
		res.Region = r.region
		return nil
	case r.region != "" && region != r.region:
		return fail(ErrRegionMismatch)
	}
	if conflict != "" {
		r.log.Warn("CNAME chain names two regions; the later endpoint's is used",
			zap.String("name", res.Query), zap.String("region", region),
			zap.String("endpoint", from), zap.String("ignored_region", conflict))
	}
	res.Region, res.RegionName = region, from
	return nil
}

// serverList returns the configured servers, else resolv.conf's, read now: on first boot
// the DHCP client may write it after the agent started.
func (r *Resolver) serverList() ([]string, error) {
	if len(r.servers) > 0 {
		return r.servers, nil
	}
	cc, err := dns.ClientConfigFromFile(r.resolvConf)
	if err != nil {
		return nil, fmt.Errorf("%w: read %s: %w", ErrNoServers, r.resolvConf, err)
	}
	servers := make([]string, 0, len(cc.Servers))
	for _, s := range cc.Servers {
		if ap, ok := resolvConfServer(s, cc.Port); ok {
			servers = append(servers, ap)
		} else {
			r.log.Debug("ignoring nameserver", zap.String("file", r.resolvConf), zap.String("nameserver", s))
		}
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%w: none in %s", ErrNoServers, r.resolvConf)
	}
	return servers, nil
}

// resolvConfServer turns a nameserver entry into "ip:port". Besides a bare IP (with an
// IPv6 zone if any) it takes OpenBSD's "[ip]:port" form, so a test rig can point
// resolv.conf at a server on another port than 53. Host names are not addresses.
func resolvConfServer(s, port string) (string, bool) {
	if host, p, err := net.SplitHostPort(s); err == nil && strings.HasPrefix(s, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil {
			return "", false
		}
		ap, err := netip.ParseAddrPort(net.JoinHostPort(a.String(), p))
		if err != nil {
			return "", false
		}
		return ap.String(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", false
	}
	return net.JoinHostPort(a.String(), port), true
}

// lookupFamily follows the chain for one type until addresses, a definitive answer, or
// every server failing.
func (c *call) lookupFamily(ctx context.Context, qname string, qtype uint16) familyResult {
	l := newLookup(qname, qtype)
	for {
		next, server, err := c.ask(ctx, l)
		if err != nil {
			return familyResult{l: l, server: server, err: err}
		}
		if next == "" {
			return familyResult{l: l, server: server}
		}
		// processReply only returns a next name after adding a link, and MaxChain bounds
		// the links, so this loop ends.
	}
}

// ask sends the query for l's current name to the servers in turn, attempts rounds, until
// one gives an answer that either completes l, moves its chain on, or is definitive.
func (c *call) ask(ctx context.Context, l *lookup) (next, server string, err error) {
	name := l.current()
	q := c.r.newQuery(name, l.qtype)
	typ := dns.TypeToString[l.qtype]
	var failures []error
	lastAt := make(map[string]int) // index in failures of each server's latest failure
	for attempt := 0; attempt < c.r.attempts; attempt++ {
		for _, s := range c.order() {
			if err := ctx.Err(); err != nil {
				return "", "", contextError(name, typ, err, failures)
			}
			q.Id = dns.Id() // a late reply to an earlier attempt must not pass as this one's
			reply, err := c.exchange(ctx, s, q)
			if err == nil {
				next, err = l.processReply(q, reply)
				if err == nil {
					c.preferred.Store(&s)
					return next, s, nil
				}
				if isDefinitive(err) {
					return "", s, &QueryError{Name: trimDot(name), Type: typ, Server: s, Err: err}
				}
			}
			if ctx.Err() != nil {
				return "", "", contextError(name, typ, ctx.Err(), failures)
			}
			c.r.log.Debug("query failed", zap.String("name", trimDot(name)), zap.String("type", typ),
				zap.String("server", s), zap.Int("attempt", attempt+1), zap.Error(err))
			qe := &QueryError{Name: trimDot(name), Type: typ, Server: s, Err: err}
			if i, ok := lastAt[s]; ok {
				failures[i] = qe
			} else {
				lastAt[s] = len(failures)
				failures = append(failures, qe)
			}
		}
	}
	return "", "", errors.Join(failures...)
}

func isDefinitive(err error) bool {
	return errors.Is(err, ErrNXDOMAIN) || errors.Is(err, ErrNoData) ||
		errors.Is(err, ErrCNAMELoop) || errors.Is(err, ErrChainTooLong)
}

// contextError reports the caller's context ending: a deadline counts as a timeout (and
// so is transient), a cancellation does not.
func contextError(name, typ string, ctxErr error, failures []error) error {
	var err error = ctxErr
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		err = fmt.Errorf("%w: %w", ErrTimeout, ctxErr)
	}
	return errors.Join(append(failures, &QueryError{Name: trimDot(name), Type: typ, Err: err})...)
}

// order is the server list starting at the call's preferred server.
func (c *call) order() []string {
	p := c.preferred.Load()
	if p == nil || *p == c.servers[0] {
		return c.servers
	}
	for i, s := range c.servers {
		if s == *p {
			out := make([]string, 0, len(c.servers))
			return append(append(out, c.servers[i:]...), c.servers[:i]...)
		}
	}
	return c.servers
}

func (r *Resolver) newQuery(name string, qtype uint16) *dns.Msg {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	if r.subnet.IsValid() {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(ednsUDPSize)
		ecs := &dns.EDNS0_SUBNET{
			Code:          dns.EDNS0SUBNET,
			Family:        1,
			SourceNetmask: uint8(r.subnet.Bits()),
			Address:       r.subnet.Addr().AsSlice(),
		}
		if r.subnet.Addr().Is6() {
			ecs.Family = 2
		}
		opt.Option = append(opt.Option, ecs)
		q.Extra = append(q.Extra, opt)
	}
	return q
}

// exchange sends q to server over UDP and, when the reply is truncated, again over TCP.
// Errors wrap ErrTimeout, ErrNetwork, ErrMismatch or ErrMalformed.
func (c *call) exchange(ctx context.Context, server string, q *dns.Msg) (*dns.Msg, error) {
	reply, err := c.exchangeNet(ctx, "udp", server, q)
	if reply != nil && reply.Truncated && reply.Id == q.Id {
		// A truncated reply may even fail to parse; its header is enough to know.
		return c.exchangeNet(ctx, "tcp", server, q)
	}
	return reply, err
}

func (c *call) exchangeNet(ctx context.Context, network, server string, q *dns.Msg) (*dns.Msg, error) {
	c.queries.Add(1)
	ctx, cancel := context.WithTimeout(ctx, c.r.timeout)
	defer cancel()
	d := &net.Dialer{Timeout: c.r.timeout}
	if c.r.local.IsValid() {
		ip, zone := c.r.local.AsSlice(), c.r.local.Zone()
		if network == "udp" {
			d.LocalAddr = &net.UDPAddr{IP: ip, Zone: zone}
		} else {
			d.LocalAddr = &net.TCPAddr{IP: ip, Zone: zone}
		}
	}
	client := &dns.Client{Net: network, Timeout: c.r.timeout, Dialer: d}
	reply, _, err := client.ExchangeContext(ctx, q, server)
	if err == nil {
		return reply, nil
	}
	var dnsErr *dns.Error
	var netErr net.Error
	switch {
	case errors.Is(err, dns.ErrId):
		return nil, fmt.Errorf("%w over %s: %w", ErrMismatch, network, err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return nil, fmt.Errorf("%w over %s: %w", ErrTimeout, network, err)
	case reply != nil:
		// miekg returns the partly parsed message with the parse error; keep the header
		// so a truncated reply still leads to TCP.
		return reply, fmt.Errorf("%w over %s: %w", ErrMalformed, network, err)
	case errors.As(err, &dnsErr):
		return nil, fmt.Errorf("%w over %s: %w", ErrMalformed, network, err)
	default:
		return nil, fmt.Errorf("%w over %s: %w", ErrNetwork, network, err)
	}
}
