package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/keystore"
	memks "github.com/fleetboot/fleetboot/keystore/mem"
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
	// Mode is agent.ModeCSR, agent.ModeKeys or agent.ModeJITP; in jitp each device
	// first gets a key and a certificate of the rig's maker CA, as on a factory
	// line, before its first boot (not counted in its time to online).
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
	// RigInProcess says the rig runs in this process, so the process's CPU time
	// is the whole cost of the fleet and can be compared with the ceiling's.
	RigInProcess bool
	// ColdPools skips filling the rig's RSA key pools before a keys run. A region
	// fills its pool from its first request on, so a first burst against a fresh
	// rig finds them empty; filling them first measures a burst against full pools.
	ColdPools bool
	Logger    *zap.Logger
	// AtPeak, if set, is called with Hold once every device is online or failed,
	// before any stops (fleetsim writes its heap profile then).
	AtPeak func()
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

// Simulate runs p.N devices against the rig named by p.DeviceConfig and reports.
func Simulate(ctx context.Context, p Params) (*Report, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	log := p.Logger
	if log == nil {
		log = zap.NewNop()
	}
	fl, err := loadFleet(p)
	if err != nil {
		return nil, err
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
	if p.Mode == agent.ModeKeys {
		if rep.KeyPool == nil {
			kp, err := MeasureKeyGen(ctx, min(p.CeilingTime, 2*time.Second))
			if err != nil {
				return nil, fmt.Errorf("rsa key generation: %w", err)
			}
			rep.KeyPool = kp
		}
		pools := len(slices.Compact(slices.Sorted(slices.Values(p.Places))))
		rep.KeyPool.estimate(p.KeyPoolSize, pools, p.N)
		if p.ColdPools {
			// Empty pools: every key of the burst is made during it, inline or
			// by a filler.
			rep.KeyPool.estimate(0, pools, p.N)
			rep.KeyPool.PoolSize = p.KeyPoolSize
		}
		if p.KeyPoolSize > 0 && !p.ColdPools {
			if err := warmKeyPools(ctx, p, fl, log, rep.KeyPool); err != nil {
				return nil, err
			}
			rep.KeyPool.Warmed = true
		}
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
	mem := startMemorySampler()
	cpu0 := processCPU()
	var last lastOnline

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
			settle := sync.OnceFunc(settled.Done)
			// A device online is out of first boot: its slot goes to the next one
			// (with Hold it stays online, and must not hold the slot meanwhile).
			release := sync.OnceFunc(func() { <-sem })
			defer release()
			onOnline := func() {
				release()
				last.mark(rep.Started, cpu0)
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
			runDevice(ctx, holdCtx, p, fl, d, log, onOnline)
			if !d.Online {
				failed.Add(1)
			} else if p.Hold {
				live.Add(-1)
			}
			settle()
			done.Add(1)
		}(&results[i])
	}
	if p.Hold {
		settled.Wait()
		rep.PeakOnline = int(peak.Load())
		if p.AtPeak != nil {
			p.AtPeak()
		}
		// Judged at the last device online: a device still retrying when the run
		// times out adds nothing but waiting.
		rep.Elapsed, rep.CPU = last.get()
		stopHold()
	}
	wg.Wait()
	if p.Hold {
		rep.Teardown = time.Since(rep.Started) - rep.Elapsed
	} else {
		rep.Elapsed = time.Since(rep.Started)
		rep.CPU = processCPU() - cpu0
	}
	bar.stop()
	rep.Memory = mem.stop()
	for i := range results {
		memks.Forget(keystoreName(results[i].Serial))
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
	case p.Mode != agent.ModeCSR && p.Mode != agent.ModeKeys && p.Mode != agent.ModeJITP:
		return fmt.Errorf("--mode %q: want csr, keys or jitp", p.Mode)
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
func runDevice(ctx, holdCtx context.Context, p Params, fl *fleet, d *Device, log *zap.Logger, onOnline func()) {
	cfg := *fl.base
	// A config names a state folder, but the state is kept in memory
	// (agent.MemStore) and nothing of a simulated device may reach a disk: no
	// write can succeed under /dev/null.
	cfg.StateDir = filepath.Join(os.DevNull, "fleetsim", d.Serial)
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
	if p.Mode == agent.ModeJITP {
		ks, err := keystore.Open(ctx, cfg.Keystore.URI, keystore.Options{})
		if err == nil {
			err = fl.manufacture(ctx, ks, thingName(d.Serial))
			ks.Close()
		}
		if err != nil {
			d.Err = &agent.Error{Class: agent.ClassConfig, Step: "factory", Err: err}
			return
		}
	}
	rt := &rtCounter{}
	resolver, err := newCountingResolver(cfg.DNS, log.Named(d.Serial), rt)
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
	}
	online := func(agent.State) {
		mu.Lock()
		defer mu.Unlock()
		if !reached {
			reached = true
			d.ToOnline = time.Since(start)
			d.Online = true
			onOnline()
		}
	}
	a, err := agent.New(ctx, agent.Options{
		Config: &cfg, Logger: log.Named(d.Serial), Resolver: resolver, Dial: dial, Observe: observe, OnOnline: online,
		State: &agent.MemStore{}, Claim: fl.claim, Roots: fl.roots,
	})
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

// thingName is the thing a device's serial names: the claim flows' template
// prefixes "gw-", and a jitp device's certificate carries the same name.
func thingName(serial string) string { return "gw-" + serial }

func randomID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func gomaxprocs() int { return runtime.GOMAXPROCS(0) }

func joinPlaces(ps []string) string { return strings.Join(ps, ",") }
