// Package mockcloud runs a whole mock AWS IoT rig in one process: every region of a
// config (mockcloud/iotcore), the Route 53-style geolocation DNS in front of them
// (mockcloud/route53) and the control plane (mockcloud/controlplane). Users' own Go
// test rigs start it with Start; cmd/mockcloud serves it.
//
// AWS's documented behaviour is the default; the rig file's iot: section names the
// switches that depart from it. docs/FIDELITY.md lists each behaviour with its AWS
// source, its default, its switch and the test that shows it.
package mockcloud

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/mockcloud/acm"
	"github.com/fleetboot/fleetboot/mockcloud/controlplane"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore/registry"
	"github.com/fleetboot/fleetboot/mockcloud/netem"
	"github.com/fleetboot/fleetboot/mockcloud/pki"
	"github.com/fleetboot/fleetboot/mockcloud/route53"
)

// Options are the run-time choices that are not part of a rig file.
type Options struct {
	// DataDir holds the rig's CA, claim credentials, device.yaml and every region's
	// registry. Restarting with the same folder keeps everything.
	DataDir string
	Logger  *zap.Logger
	// Ephemeral ignores the config's addresses: every region gets its own fresh
	// loopback address and all share one ephemeral port (DNS answers carry
	// addresses, not ports); DNS and the control plane get ephemeral ports on
	// 127.0.0.1. Tests use it so that rigs run side by side.
	Ephemeral bool
	// Now is the base clock of token expiry; nil: time.Now. The control plane can
	// move the rig's clock forward from it.
	Now func() time.Time
	// Latency is a one-way delay added in user space to every DNS (UDP and TCP)
	// and MQTT socket of the rig, both ways (mockcloud/netem): a request and its
	// reply cost 2×Latency more. The control plane is not delayed, and neither
	// are the kernel's TCP handshakes.
	Latency time.Duration
	// SessionCheckInterval is how often each region closes the connections whose
	// certificate stopped being ACTIVE behind its back (a registry change that did
	// not go through Region.SetCertificateStatus); 0: iotcore's default, 10 s.
	SessionCheckInterval time.Duration
	// Empty starts the regions with nothing in their registries: no claim
	// certificate registered, no policies, thing group, templates or CAs, as a new
	// AWS account's regions are. The user sets them up through the control plane
	// (the aws CLI). The geo DNS serves each region's ATS endpoint name, as AWS
	// does, and no global name until a hosted zone and its records are made through
	// the Route 53 API. The rig's files (CA, claim credentials, device.yaml) are
	// still written, for the user to register.
	Empty bool
}

// RegionInfo is where one region listens.
type RegionInfo struct {
	Name     string
	Addr     netip.AddrPort
	Endpoint string // <prefix>-ats.iot.<region>.amazonaws.com
}

// Cloud is a running rig.
type Cloud struct {
	cfg   *Config
	opts  Options
	log   *zap.Logger
	ca    *pki.CA
	clock *clock
	files Files

	mu      sync.Mutex
	regions map[string]*iotcore.Region
	rcfgs   map[string]iotcore.Config
	order   []string
	dns     *route53.Server
	http    *http.Server
	httpLn  net.Listener
	closed  bool
	// cpFailed holds the error that stopped the control plane's Serve, if any.
	cpFailed atomic.Pointer[error]
}

// Start brings the rig up: CA and claim credentials (created on first start),
// regions seeded with policies, group and template, the geolocation DNS, the
// control plane. It returns once every listener accepts.
func Start(ctx context.Context, cfg *Config, opts Options) (*Cloud, error) {
	if opts.DataDir == "" {
		return nil, errors.New("mockcloud: no data folder")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Latency < 0 {
		return nil, fmt.Errorf("mockcloud: negative latency %v", opts.Latency)
	}
	dir, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, err
	}
	opts.DataDir = dir
	c := &Cloud{
		cfg: cfg, opts: opts, log: opts.Logger,
		clock:   &clock{base: opts.Now},
		regions: map[string]*iotcore.Region{},
		rcfgs:   map[string]iotcore.Config{},
	}
	ok := false
	defer func() {
		if !ok {
			c.Close()
		}
	}()
	if err := c.bootstrapFiles(); err != nil {
		return nil, err
	}
	if err := c.startRegions(ctx); err != nil {
		return nil, err
	}
	for _, name := range c.order {
		if opts.Empty {
			break
		}
		if err := c.seedRegion(c.regions[name]); err != nil {
			return nil, fmt.Errorf("seed region %s: %w", name, err)
		}
	}
	if err := c.startDNS(ctx); err != nil {
		return nil, err
	}
	if err := c.startControlPlane(); err != nil {
		return nil, err
	}
	if err := c.writeDeviceConfig(); err != nil {
		return nil, err
	}
	ok = true
	return c, nil
}

func (c *Cloud) regionConfig(r RegionConfig, addr string) iotcore.Config {
	return iotcore.Config{
		Region:                  r.Name,
		AccountID:               c.cfg.AccountID,
		EndpointPrefix:          c.cfg.EndpointPrefix,
		Addr:                    addr,
		CustomDomains:           []string{c.cfg.GlobalName},
		CA:                      c.ca,
		DataDir:                 filepath.Join(c.opts.DataDir, "regions", r.Name),
		AllowMissingSNI:         c.cfg.IoT.AllowMissingSNI,
		AllowUnknownSNI:         c.cfg.IoT.AllowUnknownSNI,
		ReasonCodes:             c.cfg.IoT.ReasonCodes,
		ConnackOnRefusal:        c.cfg.IoT.ConnackOnRefusal,
		Clock:                   c.clock.Now,
		KeyPoolSize:             c.cfg.IoT.KeyPoolSize,
		TokenLifetime:           time.Duration(c.cfg.IoT.TokenLifetime),
		JITPKeepFirstConnection: c.cfg.IoT.JITPKeepFirstConnection,
		RegisterThingReplay:     c.cfg.IoT.RegisterThingReplay,
		Logger:                  c.log.Named(r.Name),
		WrapListener:            c.delayListener,
		SessionCheckInterval:    c.opts.SessionCheckInterval,
	}
}

// delayListener adds Options.Latency to a listener's connections.
func (c *Cloud) delayListener(ln net.Listener) net.Listener {
	return netem.Listener(ln, c.opts.Latency)
}

// delayPacketConn adds Options.Latency to a packet socket's datagrams.
func (c *Cloud) delayPacketConn(pc net.PacketConn) net.PacketConn {
	return netem.PacketConn(pc, c.opts.Latency)
}

// Latency is the one-way delay added to every DNS and MQTT socket.
func (c *Cloud) Latency() time.Duration { return c.opts.Latency }

func (c *Cloud) startRegions(ctx context.Context) error {
	if !c.opts.Ephemeral {
		for _, r := range c.cfg.Regions {
			if r.Addr == "" {
				return fmt.Errorf("region %s: no addr (or start with Ephemeral)", r.Name)
			}
			if err := c.startRegion(ctx, c.regionConfig(r, r.Addr)); err != nil {
				return err
			}
		}
		return nil
	}
	// One port on several fresh loopback addresses: pick a random 127.x.y.0/24,
	// let the first region choose the port, and retry elsewhere if a later
	// address has that port taken.
	var lastErr error
	for try := 0; try < 8; try++ {
		var b [2]byte
		_, _ = rand.Read(b[:])
		base := netip.AddrFrom4([4]byte{127, 100 + b[0]%100, b[1], 0})
		port := uint16(0)
		lastErr = nil
		for i, r := range c.cfg.Regions {
			ip := base
			for k := 0; k <= i; k++ {
				ip = ip.Next()
			}
			err := c.startRegion(ctx, c.regionConfig(r, netip.AddrPortFrom(ip, port).String()))
			if err != nil {
				lastErr = err
				break
			}
			port = c.regions[r.Name].Addr().Port()
		}
		if lastErr == nil {
			return nil
		}
		c.closeRegions()
	}
	return fmt.Errorf("start regions on a shared ephemeral port: %w", lastErr)
}

func (c *Cloud) startRegion(ctx context.Context, rc iotcore.Config) error {
	reg, err := iotcore.New(rc)
	if err != nil {
		return fmt.Errorf("region %s: %w", rc.Region, err)
	}
	if err := reg.Start(ctx); err != nil {
		reg.Close()
		return fmt.Errorf("region %s: %w", rc.Region, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, seen := c.rcfgs[rc.Region]; !seen {
		c.order = append(c.order, rc.Region)
	}
	// Keep the bound address, so a region brought back up returns where it was.
	rc.Addr = reg.Addr().String()
	c.regions[rc.Region] = reg
	c.rcfgs[rc.Region] = rc
	return nil
}

func (c *Cloud) closeRegions() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, r := range c.regions {
		r.Close()
		delete(c.regions, name)
	}
	c.rcfgs = map[string]iotcore.Config{}
	c.order = nil
}

// Regions lists the running regions in config order.
func (c *Cloud) Regions() []RegionInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []RegionInfo
	for _, name := range c.order {
		rc := c.rcfgs[name]
		ap, _ := netip.ParseAddrPort(rc.Addr)
		info := RegionInfo{Name: name, Addr: ap, Endpoint: endpointName(c.cfg, name)}
		out = append(out, info)
	}
	return out
}

// Region returns a running region, or nil.
func (c *Cloud) Region(name string) *iotcore.Region {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.regions[name]
}

// Port is the MQTT port every region shares (8883 in the default rig).
func (c *Cloud) Port() uint16 {
	rs := c.Regions()
	if len(rs) == 0 {
		return 0
	}
	return rs[0].Addr.Port()
}

// DNSAddr is the geolocation DNS server's address (udp and tcp).
func (c *Cloud) DNSAddr() string { return c.dns.Addr() }

// ControlPlaneURL is the base URL of the control plane.
func (c *Cloud) ControlPlaneURL() string { return "http://" + c.httpLn.Addr().String() }

// DNS is the geolocation DNS server, for record health switches.
func (c *Cloud) DNS() *route53.Server { return c.dns }

// Files names what the rig created in its data folder.
func (c *Cloud) Files() Files { return c.files }

// Config is the rig's configuration.
func (c *Cloud) Config() *Config { return c.cfg }

// AdvanceClock moves the rig's clock forward, e.g. past token expiry.
func (c *Cloud) AdvanceClock(d time.Duration) time.Time { return c.clock.Advance(d) }

// Now is the rig's clock.
func (c *Cloud) Now() time.Time { return c.clock.Now() }

// SetRegionDown stops a region's listener (devices see connection refused) or
// brings it back on the same address with the same registry.
func (c *Cloud) SetRegionDown(name string, down bool) error {
	c.mu.Lock()
	rc, known := c.rcfgs[name]
	reg := c.regions[name]
	c.mu.Unlock()
	if !known {
		return fmt.Errorf("no region %q", name)
	}
	if down {
		if reg == nil {
			return nil
		}
		c.mu.Lock()
		delete(c.regions, name)
		c.mu.Unlock()
		return reg.Close()
	}
	if reg != nil {
		return nil
	}
	return c.startRegion(context.Background(), rc)
}

func (c *Cloud) startDNS(ctx context.Context) error {
	addr := c.cfg.DNS.Addr
	if c.opts.Ephemeral || addr == "" {
		addr = "127.0.0.1:0"
	}
	rc := dnsConfig(c.cfg, addr, c.Regions(), c.opts.Empty)
	rc.WrapPacketConn, rc.WrapListener = c.delayPacketConn, c.delayListener
	s, err := route53.New(rc, c.log.Named("dns"))
	if err != nil {
		return fmt.Errorf("geo dns: %w", err)
	}
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("geo dns on %s: %w", addr, err)
	}
	c.dns = s
	return nil
}

func (c *Cloud) startControlPlane() error {
	addr := c.cfg.ControlPlane.Addr
	if c.opts.Ephemeral || addr == "" {
		addr = "127.0.0.1:0"
	}
	var regions []controlplane.Region
	for _, name := range c.order {
		regions = append(regions, controlplane.Region{Name: name, Registry: c.regions[name].Registry(), Endpoint: endpointName(c.cfg, name)})
	}
	h, err := controlplane.New(controlplane.Options{
		Regions:       regions,
		DefaultRegion: c.defaultRegion(),
		Logger:        c.log.Named("control"),
		RegistryOf: func(name string) *registry.Store {
			if r := c.Region(name); r != nil {
				return r.Registry()
			}
			return nil
		},
		SetCertificateStatus: func(name, id, status string) error {
			r := c.Region(name)
			if r == nil {
				return fmt.Errorf("region %s is down", name)
			}
			return r.SetCertificateStatus(id, status)
		},
		SetRecordHealth: func(id string, healthy bool) error { return c.dns.SetHealthy(id, healthy) },
		SetRegionDown:   c.SetRegionDown,
		SetFaults:       c.setFaultsJSON,
		AdvanceClock:    func(d time.Duration) (time.Time, error) { return c.AdvanceClock(d), nil },
		Now:             c.clock.Now,
		Health:          c.health,
	})
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("control plane on %s: %w", addr, err)
	}
	// Route 53 is one global service beside the per-region IoT API, on the same
	// port: its calls are routed before the IoT handler picks a region.
	r53, err := route53.NewAPI(c.dns, c.log.Named("route53api"))
	if err == nil {
		err = r53.Persist(filepath.Join(c.opts.DataDir, "route53.json"))
	}
	if err != nil {
		ln.Close()
		return fmt.Errorf("route 53 api: %w", err)
	}
	// ACM answers per region, on the path every JSON 1.1 service shares (POST /),
	// told apart by its X-Amz-Target.
	certs, err := acm.New(acm.Options{
		Regions: c.order, Account: c.cfg.AccountID, DataDir: filepath.Join(c.opts.DataDir, "regions"),
		RegionOf: func(r *http.Request) (string, error) { return controlplane.RegionOf(r, c.defaultRegion()) },
		Now:      c.clock.Now, Logger: c.log.Named("acm"),
	})
	if err != nil {
		ln.Close()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(route53.APIPrefix, r53)
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if acm.IsCall(r) {
			certs.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	c.httpLn = ln
	c.http = controlplane.NewServer(mux)
	go func() {
		if err := c.http.Serve(controlplane.LimitListener(ln, controlplane.MaxServerConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.cpFailed.Store(&err)
			c.log.Error("control plane stopped", zap.Error(err))
		}
	}()
	return nil
}

// health reports every listener of the rig that stopped by itself: the control
// plane's, the DNS server's and each running region's.
func (c *Cloud) health() error {
	var errs []error
	if p := c.cpFailed.Load(); p != nil {
		errs = append(errs, fmt.Errorf("control plane: %w", *p))
	}
	if err := c.dns.Health(); err != nil {
		errs = append(errs, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range c.order {
		if r := c.regions[name]; r != nil {
			if err := r.Health(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// defaultRegion serves the default location, else the first region.
func (c *Cloud) defaultRegion() string {
	for _, r := range c.cfg.Regions {
		for _, g := range r.Serves {
			if g.Country == "*" {
				return r.Name
			}
		}
	}
	return c.cfg.Regions[0].Name
}

// Close stops everything; it is safe to call more than once.
func (c *Cloud) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	var errs []error
	if c.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, c.http.Shutdown(ctx))
		cancel()
	}
	if c.dns != nil {
		errs = append(errs, c.dns.Close())
	}
	c.closeRegions()
	return errors.Join(errs...)
}

func endpointName(cfg *Config, region string) string {
	return fmt.Sprintf("%s-ats.iot.%s.amazonaws.com", cfg.EndpointPrefix, region)
}

// dnsConfig generates the geolocation DNS of a rig: the global name as one
// geolocation CNAME set per served location, and each region's endpoint name with
// the region's address, in a zone of its own.
// dnsConfig is the geo DNS of a rig: each region's ATS endpoint name, as AWS
// serves it, and unless empty the global name's geolocation records from the rig
// file (an empty rig's are made through the Route 53 API).
func dnsConfig(cfg *Config, addr string, regions []RegionInfo, empty bool) route53.Config {
	global := strings.TrimSuffix(cfg.GlobalName, ".")
	labels := strings.Split(global, ".")
	apex := global
	if len(labels) > 2 {
		apex = strings.Join(labels[len(labels)-2:], ".")
	}
	gz := route53.Zone{Name: apex, TTL: cfg.TTL, IncludeTargetRecords: cfg.IncludeTargetRecords}
	var zones []route53.Zone
	for _, r := range regions {
		var rcfg RegionConfig
		for _, rc := range cfg.Regions {
			if rc.Name == r.Name {
				rcfg = rc
			}
		}
		for _, g := range rcfg.Serves {
			g := g
			gz.Records = append(gz.Records, route53.Record{
				Name: global, Type: "CNAME", TTL: cfg.TTL,
				Values:        []string{r.Endpoint + "."},
				SetIdentifier: setIdentifier(r.Name, g),
				Geo:           &g,
			})
		}
		typ := "A"
		if r.Addr.Addr().Is6() {
			typ = "AAAA"
		}
		zones = append(zones, route53.Zone{
			Name: "iot." + r.Name + ".amazonaws.com", TTL: cfg.TTL, Service: true,
			Records: []route53.Record{{Name: r.Endpoint, Type: typ, TTL: cfg.TTL, Values: []string{r.Addr.Addr().String()}}},
		})
	}
	if !empty {
		zones = append([]route53.Zone{gz}, zones...)
	}
	return route53.Config{Addr: addr, Zones: zones, Locations: cfg.Locations}
}

// setIdentifier names a geolocation record set: "<region>/<location>", e.g.
// "us-east-1/NA" or "eu-west-1/default". The control plane's health switch takes it.
func setIdentifier(region string, g route53.GeoLocation) string {
	loc := g.Continent
	switch {
	case g.Country == "*":
		loc = "default"
	case g.Subdivision != "":
		loc = g.Country + "-" + g.Subdivision
	case g.Country != "":
		loc = g.Country
	}
	return region + "/" + loc
}

// clock is the rig's clock: a base clock plus an offset the control plane moves.
type clock struct {
	base   func() time.Time
	mu     sync.Mutex
	offset time.Duration
}

func (k *clock) Now() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.base().Add(k.offset)
}

func (k *clock) Advance(d time.Duration) time.Time {
	k.mu.Lock()
	k.offset += d
	k.mu.Unlock()
	return k.Now()
}
