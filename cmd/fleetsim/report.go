package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetboot/fleetboot/agent"
)

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

// fineMS keeps the second decimal that the parts of a device's crypto need.
func fineMS(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

// WriteReport prints the run's table.
func WriteReport(w io.Writer, r *Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := r.Params
	row := func(k, v string, args ...any) { fmt.Fprintf(tw, k+"\t"+v+"\n", args...) }
	how := "prove (provision, connect, disconnect)"
	if p.Hold {
		how = "hold (stay online until all are)"
	}
	row("run", "%d devices, mode %s, places %s, concurrency %d, rate %s, %s",
		p.N, p.Mode, joinPlaces(p.Places), effectiveConcurrency(p), rateText(p.Rate), how)
	row("machine", "GOMAXPROCS %d", gomaxprocs())
	row("online", "%d of %d in %s", r.Online, r.Devices, r.Elapsed.Truncate(time.Millisecond))
	if p.Hold {
		row("online at once", "%d (all stopped %s later)", r.PeakOnline, r.Teardown.Truncate(time.Millisecond))
	}
	row("devices/s", "%.1f", r.PerSecond)
	if c := r.Ceiling; c != nil {
		row("crypto ceiling", "%s", ceilingText(c))
		if a := r.CeilingAfter; a != nil {
			row("ceiling after the run", "%s", ceilingText(a))
		}
		if p.Mode == agent.ModeCSR {
			row("achieved/ceiling", "%.2f", r.Ratio)
		} else {
			row("achieved/ceiling", "%.2f (the ceiling is the csr flow's crypto)", r.Ratio)
		}
	} else {
		row("crypto ceiling", "not measured")
	}
	if r.CPU > 0 {
		who := "fleetsim only: the rig runs elsewhere"
		if p.RigInProcess {
			who = "rig included"
		}
		row("cpu", "%s in the run, %s a device online (%s)", r.CPU.Truncate(time.Millisecond), fineMS(r.CPUPerDevice), who)
		if r.CPURatio > 0 {
			row("ceiling cpu/run cpu", "%.2f", r.CPURatio)
		}
	}
	m := r.Memory
	row("memory", "peak heap %s (live after a collection %s), stacks %s, Go runtime %s, RSS %s; %d goroutines at most, %d GC cycles",
		mib(m.PeakHeap), mib(m.PeakLive), mib(m.PeakStacks), mib(m.PeakRuntime), mib(m.PeakRSS), m.PeakGoroutines, m.GCCycles)
	if k := r.KeyPool; k != nil {
		state := "filled before the run"
		if !k.Warmed {
			state = "not filled before the run"
		}
		row("rsa-2048 keygen", "%s a key on one core: a pool refills at %.1f keys/s (%d pools of %d keys, %s)",
			ms(k.KeyGen), k.RefillPerSecond, k.Pools, k.PoolSize, state)
		if k.Inline > 0 {
			row("burst beyond pools", "%d devices: at least %d keys made during the burst, %s CPU, ≥ %s on %d cores",
				k.Burst, k.Inline, k.BurstExtraCPU.Truncate(time.Millisecond), k.BurstExtraWall.Truncate(time.Millisecond), gomaxprocs())
		} else {
			row("burst beyond pools", "none: %d devices fit the pools", k.Burst)
		}
	}
	rt := r.RoundTrips
	if rt.Max > 0 {
		span := fmt.Sprint(rt.Min)
		if rt.Max != rt.Min {
			span = fmt.Sprintf("%d to %d", rt.Min, rt.Max)
		}
		row("round trips", "%s beyond TCP, first DNS query to permanent CONNACK; typical %s (claim phase %d, %d DNS messages, %d dial attempts)",
			span, rt.Typical, rt.Typical.Claim(), rt.Typical.DNSQueries, rt.Typical.DialAttempts)
	}
	var regions []string
	for _, k := range sortedKeys(r.Regions) {
		regions = append(regions, fmt.Sprintf("%s %d", k, r.Regions[k]))
	}
	row("regions", "%s", orNone(strings.Join(regions, ", ")))
	row("errors by class", "%s", classText(r.Errors))
	if p.Mode == agent.ModeJITP && len(r.StepErrors) > 0 {
		row("failed steps by class", "%s (jitp: the cloud drops each device's first contact by design)", classText(r.StepErrors))
	} else {
		row("failed steps by class", "%s", classText(r.StepErrors))
	}
	for _, s := range r.ErrorSamples {
		row("  error", "%s", s)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time to online\tn\tp50\tp95\tp99\tmax\tfailed\t")
	line := func(name string, pc Percentiles, failed int) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%d\t\n", name, pc.N, ms(pc.P50), ms(pc.P95), ms(pc.P99), ms(pc.Max), failed)
	}
	line("total", r.TimeToOnline, r.Failed)
	line("queued", r.QueueWait, 0)
	for _, s := range r.Steps {
		line("  "+s.Name, s.Percentiles, s.Failed)
	}
	return tw.Flush()
}

func ceilingText(c *Ceiling) string {
	return fmt.Sprintf("%.1f devices/s (%d workers, %d devices in %s, %s cpu a device; per device: 2 handshakes %s, P-256 key %s, CSR signed and checked %s, certificate %s; %s)",
		c.DevicesPerSecond, c.Workers, c.Devices, c.Elapsed.Truncate(time.Millisecond), fineMS(c.CPU),
		fineMS(c.Handshakes), fineMS(c.KeyGen), fineMS(c.CSR), fineMS(c.CertSign), c.Group)
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func effectiveConcurrency(p Params) int {
	if p.Concurrency <= 0 || p.Concurrency > p.N {
		return p.N
	}
	return p.Concurrency
}

func rateText(r float64) string {
	if r <= 0 {
		return "unlimited"
	}
	return fmt.Sprintf("%.0f/s", r)
}

func classText(m map[agent.Class]int) string {
	var parts []string
	for _, k := range classKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[agent.Class(k)]))
	}
	return orNone(strings.Join(parts, ", "))
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
