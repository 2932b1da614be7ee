package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/dnsresolve"
	"github.com/fleetboot/fleetboot/keystore/mem"
	"github.com/fleetboot/fleetboot/provisioning"
)

// placeSubnets maps a place name to the EDNS Client Subnet a device there sends;
// the default rig locates these documentation networks in the US, Germany and Japan.
var placeSubnets = map[string]string{
	"us": "198.51.100.0/24",
	"de": "192.0.2.0/24",
	"jp": "203.0.113.0/24",
}

// Params describe one simulation run.
type Params struct {
	// DeviceConfig is a rig's device.yaml: nothing per device in it.
	DeviceConfig string
	// N devices, placed round-robin over Places.
	N      int
	Places []string
	// Mode is agent.ModeCSR or agent.ModeKeys.
	Mode string
	// Concurrency bounds the devices in first boot at once; 0 means N.
	Concurrency int
	// Rate is device arrivals per second; 0 means all at once (bounded by Concurrency).
	Rate float64
	// Hold keeps every device online (agent.Run) until all are online or failed,
	// so the rig carries N live connections at once; otherwise each device runs
	// agent.Prove (provision, connect once, disconnect).
	Hold bool
	// Timeout bounds the whole run.
	Timeout time.Duration
	// WorkDir holds one state folder per device; it must exist.
	WorkDir string
	// Progress receives a progress bar, redrawn at most 5 times a second; nil: none.
	Progress io.Writer
	// CeilingTime is how long the crypto ceiling is measured; 0 skips it.
	CeilingTime time.Duration
	// Ceiling, if set, was measured already (before an in-process rig started,
	// whose key pools would compete with the measurement).
	Ceiling *Ceiling
	// KeyPool, if set, was measured already, for the same reason.
	KeyPool *KeyPoolReport
	// KeyPoolSize is the rig's RSA key pool, for the keys-mode burst estimate
	// (0: unknown or disabled).
	KeyPoolSize int
	Logger      *zap.Logger
	// WrapDial, if set, wraps the counting dialer (tests route connections
	// through a proxy with it).
	WrapDial func(agent.Dialer) agent.Dialer
}

// Device is one simulated device's outcome.
type Device struct {
	Serial     string
	Place      string
	Subnet     string
	Region     string
	Thing      string
	Online     bool
	Err        error
	Wait       time.Duration // from arrival to start (queued behind Concurrency)
	ToOnline   time.Duration // from start to the online status published
	Steps      []agent.Step
	RoundTrips RoundTrips
}

// Report is what a run measured.
type Report struct {
	Params       Params
	Started      time.Time
	Elapsed      time.Duration
	Devices      int
	Online       int
	Failed       int
	PeakOnline   int // Hold: devices online at the same time
	PerSecond    float64
	TimeToOnline Percentiles
	QueueWait    Percentiles
	Steps        []StepStats
	// Errors counts failed devices by agent.Class.
	Errors map[agent.Class]int
	// StepErrors counts failed steps (retried ones included) by class.
	StepErrors map[agent.Class]int
	// ErrorSamples holds the first few distinct error texts.
	ErrorSamples []string
	Regions      map[string]int
	RoundTrips   RoundTripStats
	Ceiling      *Ceiling
	// Ratio is PerSecond / Ceiling.DevicesPerSecond.
	Ratio   float64
	KeyPool *KeyPoolReport
	Results []Device
}

// Percentiles of a duration sample.
type Percentiles struct {
	N             int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// StepStats are one agent step's durations over the fleet.
type StepStats struct {
	Name string
	Percentiles
	Failed int
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(s))+0.5) - 1
		return s[max(0, min(i, len(s)-1))]
	}
	return Percentiles{N: len(s), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: s[len(s)-1]}
}

// Simulate runs p.N devices against the rig named by p.DeviceConfig and reports.
func Simulate(ctx context.Context, p Params) (*Report, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	base, err := agent.LoadConfig(p.DeviceConfig)
	if err != nil {
		return nil, fmt.Errorf("device config: %w", err)
	}
	rep := &Report{Params: p, Devices: p.N, Errors: map[agent.Class]int{}, StepErrors: map[agent.Class]int{}, Regions: map[string]int{}}

	// The ceiling is measured first, on an idle machine, with the same CPUs the
	// run then competes for.
	rep.Ceiling = p.Ceiling
	if rep.Ceiling == nil && p.CeilingTime > 0 {
		c, err := MeasureCeiling(ctx, p.CeilingTime)
		if err != nil {
			return nil, fmt.Errorf("crypto ceiling: %w", err)
		}
		rep.Ceiling = c
	}
	rep.KeyPool = p.KeyPool
	if p.Mode == agent.ModeKeys && rep.KeyPool == nil {
		kp, err := MeasureKeyPool(ctx, p.KeyPoolSize, p.N, min(p.CeilingTime, 2*time.Second))
		if err != nil {
			return nil, fmt.Errorf("rsa key generation: %w", err)
		}
		rep.KeyPool = kp
	}

	ctx, cancel := context.WithTimeout(ctx, p.Timeout)
	defer cancel()
	runID := randomID()
	concurrency := p.Concurrency
	if concurrency <= 0 || concurrency > p.N {
		concurrency = p.N
	}
	sem := make(chan struct{}, concurrency)
	results := make([]Device, p.N)
	var done, online, failed, live, peak atomic.Int64
	bar := startProgress(p.Progress, p.N, &online, &failed)

	// Hold: the run ends once every device is online or failed, then all stop.
	holdCtx, stopHold := context.WithCancel(ctx)
	defer stopHold()
	var settled sync.WaitGroup
	settled.Add(p.N)

	var wg sync.WaitGroup
	rep.Started = time.Now()
	for i := 0; i < p.N; i++ {
		if p.Rate > 0 {
			at := rep.Started.Add(time.Duration(float64(i) / p.Rate * float64(time.Second)))
			if d := time.Until(at); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		arrived := time.Now()
		place := p.Places[i%len(p.Places)]
		results[i] = Device{Serial: fmt.Sprintf("SIM-%s-%06d", runID, i), Place: place, Subnet: placeSubnets[place]}
		wg.Add(1)
		go func(d *Device) {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				d.Err = context.Cause(ctx)
				failed.Add(1)
				settled.Done()
				return
			}
			d.Wait = time.Since(arrived)
			var once sync.Once
			settle := func() { once.Do(settled.Done) }
			onOnline := func() {
				online.Add(1)
				n := live.Add(1)
				for {
					pk := peak.Load()
					if n <= pk || peak.CompareAndSwap(pk, n) {
						break
					}
				}
				settle()
			}
			runDevice(ctx, holdCtx, p, base, d, log, onOnline)
			if !d.Online {
				failed.Add(1)
			} else if p.Hold {
				live.Add(-1)
			}
			settle()
			done.Add(1)
			<-sem
		}(&results[i])
	}
	if p.Hold {
		settled.Wait()
		rep.PeakOnline = int(peak.Load())
		stopHold()
	}
	wg.Wait()
	rep.Elapsed = time.Since(rep.Started)
	bar.stop()
	for i := range results {
		mem.Forget(keystoreName(results[i].Serial))
	}
	rep.summarise(results)
	if !p.Hold {
		rep.PeakOnline = 0
	}
	return rep, nil
}

func (p *Params) check() error {
	switch {
	case p.DeviceConfig == "":
		return errors.New("no device config (--config or --rig)")
	case p.N <= 0:
		return fmt.Errorf("-n %d: want at least one device", p.N)
	case p.Mode != agent.ModeCSR && p.Mode != agent.ModeKeys:
		return fmt.Errorf("--mode %q: want csr or keys", p.Mode)
	case p.WorkDir == "":
		return errors.New("no work folder")
	case p.Rate < 0:
		return fmt.Errorf("--rate %v: negative", p.Rate)
	}
	if len(p.Places) == 0 {
		p.Places = []string{"us", "de", "jp"}
	}
	for _, pl := range p.Places {
		if _, ok := placeSubnets[pl]; !ok {
			return fmt.Errorf("--places: unknown place %q (known: us, de, jp)", pl)
		}
	}
	if p.Timeout <= 0 {
		p.Timeout = 10 * time.Minute
	}
	return nil
}

func keystoreName(serial string) string { return "fleetsim-" + serial }

// runDevice boots one device and fills d. In Hold mode it stays online until
// holdCtx ends.
func runDevice(ctx, holdCtx context.Context, p Params, base *agent.Config, d *Device, log *zap.Logger, onOnline func()) {
	cfg := *base
	cfg.StateDir = filepath.Join(p.WorkDir, d.Serial)
	cfg.Keystore.URI = "mem:" + keystoreName(d.Serial)
	cfg.Provisioning.Mode = p.Mode
	cfg.Provisioning.Parameters = map[string]string{"SerialNumber": d.Serial}
	cfg.DNS.ClientSubnet = d.Subnet
	cfg.Device.ConfigPath = ""
	cfg.Device.OnProvisioned = ""
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		d.Err = err
		return
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		d.Err = err
		return
	}
	rt := &rtCounter{}
	resolver, err := newCountingResolver(cfg.DNS, rt)
	if err != nil {
		d.Err = err
		return
	}
	dial := rt.dialer(provisioning.Dial)
	if p.WrapDial != nil {
		dial = p.WrapDial(dial)
	}
	start := time.Now()
	var mu sync.Mutex
	reached := false
	observe := func(s agent.Step) {
		mu.Lock()
		defer mu.Unlock()
		d.Steps = append(d.Steps, s)
		if s.Name == "publish-status" && s.Err == nil && !reached {
			reached = true
			d.ToOnline = time.Since(start)
			d.Online = true
			onOnline()
		}
	}
	a, err := agent.New(ctx, agent.Options{Config: &cfg, Logger: log.Named(d.Serial), Resolver: resolver, Dial: dial, Observe: observe})
	if err != nil {
		d.Err = err
		return
	}
	defer a.Close()
	if p.Hold {
		err = a.Run(holdCtx)
	} else {
		_, err = a.Prove(ctx)
	}
	mu.Lock()
	defer mu.Unlock()
	if err != nil && !d.Online {
		d.Err = err
	} else if !d.Online && err == nil {
		d.Err = fmt.Errorf("stopped before online: %w", context.Cause(ctx))
	}
	st := a.State()
	d.Region, d.Thing = st.Region, st.ThingName
	d.RoundTrips = rt.snapshot()
}

func (r *Report) summarise(results []Device) {
	r.Results = results
	var tto, wait []time.Duration
	byStep := map[string][]time.Duration{}
	stepFailed := map[string]int{}
	var order []string
	seen := map[string]bool{}
	samples := map[string]bool{}
	var rts []RoundTrips
	for _, d := range results {
		for _, s := range d.Steps {
			if !seen[s.Name] {
				seen[s.Name] = true
				order = append(order, s.Name)
			}
			if s.Err != nil {
				stepFailed[s.Name]++
				r.StepErrors[agent.ClassOf(s.Err)]++
				continue
			}
			byStep[s.Name] = append(byStep[s.Name], s.Duration)
		}
		if d.Online {
			r.Online++
			tto = append(tto, d.ToOnline)
			wait = append(wait, d.Wait)
			r.Regions[d.Region]++
			rts = append(rts, d.RoundTrips)
			continue
		}
		r.Failed++
		r.Errors[agent.ClassOf(d.Err)]++
		if msg := fmt.Sprint(d.Err); !samples[msg] && len(r.ErrorSamples) < 5 {
			samples[msg] = true
			r.ErrorSamples = append(r.ErrorSamples, msg)
		}
	}
	r.TimeToOnline = percentiles(tto)
	r.QueueWait = percentiles(wait)
	for _, name := range order {
		r.Steps = append(r.Steps, StepStats{Name: name, Percentiles: percentiles(byStep[name]), Failed: stepFailed[name]})
	}
	if r.Elapsed > 0 {
		r.PerSecond = float64(r.Online) / r.Elapsed.Seconds()
	}
	if r.Ceiling != nil && r.Ceiling.DevicesPerSecond > 0 {
		r.Ratio = r.PerSecond / r.Ceiling.DevicesPerSecond
	}
	r.RoundTrips = summariseRoundTrips(rts)
}

func randomID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// countingResolver is the agent's resolver with its DNS round trips counted.
type countingResolver struct {
	r  *dnsresolve.Resolver
	rt *rtCounter
}

func newCountingResolver(c agent.DNSConfig, rt *rtCounter) (*countingResolver, error) {
	rc := dnsresolve.Config{Servers: c.Servers, Timeout: c.Timeout.D()}
	if c.ClientSubnet != "" {
		pf, err := netip.ParsePrefix(c.ClientSubnet)
		if err != nil {
			return nil, fmt.Errorf("client subnet: %w", err)
		}
		rc.ClientSubnet = pf.Masked()
	}
	r, err := dnsresolve.New(rc)
	if err != nil {
		return nil, err
	}
	return &countingResolver{r: r, rt: rt}, nil
}

func (c *countingResolver) Resolve(ctx context.Context, name string) (*dnsresolve.Result, error) {
	res, err := c.r.Resolve(ctx, name)
	if res != nil {
		c.rt.dns(name, res.Queries)
	}
	return res, err
}

// sortedKeys is for stable report output.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func classKeys(m map[agent.Class]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, string(k))
	}
	sort.Strings(ks)
	return ks
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func joinPlaces(ps []string) string { return strings.Join(ps, ",") }
