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
		row("online at once", "%d", r.PeakOnline)
	}
	row("devices/s", "%.1f", r.PerSecond)
	if c := r.Ceiling; c != nil {
		row("crypto ceiling", "%.1f devices/s (%d workers, %d devices in %s; per device: 2 handshakes %s, P-256 key %s, CSR %s, certificate %s)",
			c.DevicesPerSecond, c.Workers, c.Devices, c.Elapsed.Truncate(time.Millisecond),
			ms(c.Handshakes), ms(c.KeyGen), ms(c.CSR), ms(c.CertSign))
		row("achieved/ceiling", "%.2f", r.Ratio)
	} else {
		row("crypto ceiling", "not measured")
	}
	if k := r.KeyPool; k != nil {
		row("rsa-2048 keygen", "%s a key on one core: pool refill %.1f keys/s (pool %d)", ms(k.KeyGen), k.RefillPerSecond, k.PoolSize)
		if k.BurstExtraCPU > 0 {
			row("burst beyond pool", "%d devices at once: %d keys generated inline, %s CPU, ≥ %s on %d cores",
				k.Burst, k.Burst-k.PoolSize, k.BurstExtraCPU.Truncate(time.Millisecond), k.BurstExtraWall.Truncate(time.Millisecond), gomaxprocs())
		} else {
			row("burst beyond pool", "none: %d devices fit the pool", k.Burst)
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
	row("failed steps by class", "%s", classText(r.StepErrors))
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
