package main

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/agent"
)

// Report is what a run measured.
type Report struct {
	Params     Params
	Started    time.Time
	Elapsed    time.Duration
	Devices    int
	Online     int
	Failed     int
	PeakOnline int // Hold: devices online at the same time
	// Elapsed ends, with Hold, when the last device came online (devices still
	// retrying then add only waiting), and Teardown runs from then until every
	// device has stopped.
	Teardown     time.Duration
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
	// CeilingAfter is the ceiling measured again once the run is over (see
	// SetCeilingAfter): on a shared machine the other load moves it, and the run
	// is judged against the higher of the two.
	CeilingAfter *Ceiling
	// Ratio is PerSecond over the higher ceiling's DevicesPerSecond.
	Ratio float64
	// CPU is the process's CPU time during the run, CPUPerDevice that over the
	// devices online. With the rig in process, CPURatio is the ceiling's CPU per
	// device (the lower of the two measurements) over CPUPerDevice: the share of
	// the fleet's CPU that is the unavoidable crypto, which the machine's other
	// load disturbs less than it does throughput.
	CPU          time.Duration
	CPUPerDevice time.Duration
	CPURatio     float64
	Memory       MemoryStats
	KeyPool      *KeyPoolReport
	Results      []Device
}

// MemoryStats are the process's peaks during the run, rig included when it runs
// in process.
type MemoryStats struct {
	// PeakHeap is the largest heap (live and not yet collected objects) sampled;
	// PeakLive the largest heap found live by a collection, which the garbage
	// collector's target (--gogc) does not inflate.
	PeakHeap uint64
	PeakLive uint64
	// PeakStacks is the most memory goroutine stacks took.
	PeakStacks uint64
	// PeakRuntime is the largest total the Go runtime had mapped, sampled.
	PeakRuntime uint64
	// PeakRSS is the process's resident set high-water mark (ceiling included).
	PeakRSS        uint64
	PeakGoroutines int
	GCCycles       uint64
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
			name := string(s.Name)
			if !seen[name] {
				seen[name] = true
				order = append(order, name)
			}
			if s.Err != nil {
				stepFailed[name]++
				r.StepErrors[agent.ClassOf(s.Err)]++
				continue
			}
			byStep[name] = append(byStep[name], s.Duration)
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
	if r.Online > 0 {
		r.CPUPerDevice = r.CPU / time.Duration(r.Online)
	}
	r.rate()
	r.RoundTrips = summariseRoundTrips(rts)
}

// SetCeilingAfter adds the ceiling measured after the run and judges the run
// again against the higher ceiling.
func (r *Report) SetCeilingAfter(c *Ceiling) {
	r.CeilingAfter = c
	r.rate()
}

// rate sets Ratio and CPURatio from the ceilings measured: throughput against
// the higher, CPU against the cheaper, so neither flatters the run.
func (r *Report) rate() {
	var best *Ceiling
	var cpu time.Duration
	for _, c := range []*Ceiling{r.Ceiling, r.CeilingAfter} {
		if c == nil {
			continue
		}
		if best == nil || c.DevicesPerSecond > best.DevicesPerSecond {
			best = c
		}
		if c.CPU > 0 && (cpu == 0 || c.CPU < cpu) {
			cpu = c.CPU
		}
	}
	r.Ratio, r.CPURatio = 0, 0
	if best != nil && best.DevicesPerSecond > 0 {
		r.Ratio = r.PerSecond / best.DevicesPerSecond
	}
	if r.Params.RigInProcess && cpu > 0 && r.CPUPerDevice > 0 {
		r.CPURatio = float64(cpu) / float64(r.CPUPerDevice)
	}
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

// lastOnline is when the last device came online, and the CPU used by then.
type lastOnline struct {
	mu      sync.Mutex
	at, cpu time.Duration
}

func (l *lastOnline) mark(started time.Time, cpu0 time.Duration) {
	at, cpu := time.Since(started), processCPU()-cpu0
	l.mu.Lock()
	defer l.mu.Unlock()
	if at > l.at {
		l.at, l.cpu = at, cpu
	}
}

func (l *lastOnline) get() (at, cpu time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.at, l.cpu
}
