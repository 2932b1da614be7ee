package agent_test

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
)

// retryInstants starts n devices' backoff sequences at the same instant (a region
// coming back, a throttled fleet) and returns, per attempt, the instant each device
// retries at.
func retryInstants(n, attempts int, mk func(device int) *agent.Backoff) [][]time.Duration {
	out := make([][]time.Duration, attempts)
	for d := 0; d < n; d++ {
		b := mk(d)
		var at time.Duration
		for k := 0; k < attempts; k++ {
			at += b.Next()
			out[k] = append(out[k], at)
		}
	}
	return out
}

// peak is the largest number of instants inside any window of width w: how many
// devices hit the cloud together.
func peak(instants []time.Duration, w time.Duration) int {
	best := 0
	for _, start := range instants {
		n := 0
		for _, x := range instants {
			if x >= start && x < start+w {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// spread is the standard deviation of instants, in units of w.
func spread(instants []time.Duration, w time.Duration) float64 {
	var sum float64
	for _, x := range instants {
		sum += float64(x)
	}
	mean := sum / float64(len(instants))
	var sq float64
	for _, x := range instants {
		sq += (float64(x) - mean) * (float64(x) - mean)
	}
	return math.Sqrt(sq/float64(len(instants))) / float64(w)
}

// Fifty devices that fail together do not retry together: at every attempt the
// busiest 100 ms sees a small share of the fleet, and the retry instants spread
// over seconds. The same statistics computed for a fleet without jitter (every
// device waiting the same) fail, so they do tell lockstep apart.
func TestFaultBackoffSpreadsAFleet(t *testing.T) {
	const (
		devices  = 50
		attempts = 8
		window   = 100 * time.Millisecond
	)
	base, limit := time.Second, 30*time.Second
	jittered := retryInstants(devices, attempts, func(d int) *agent.Backoff {
		// One generator per device, as each gateway seeds its own: fixed seeds
		// keep the test deterministic.
		r := rand.New(rand.NewPCG(uint64(d), 0x5eed))
		return &agent.Backoff{Base: base, Cap: limit, Rand: r.Float64}
	})
	lockstep := retryInstants(devices, attempts, func(int) *agent.Backoff {
		return &agent.Backoff{Base: base, Cap: limit, Rand: func() float64 { return 0.5 }}
	})
	// At most a fifth of the fleet in any 100 ms, and a spread of at least 2
	// windows, at every attempt.
	lockstepFails := func(instants []time.Duration) bool {
		return peak(instants, window) > devices/5 || spread(instants, window) < 2
	}
	for k := 0; k < attempts; k++ {
		if !lockstepFails(lockstep[k]) {
			t.Fatalf("attempt %d: the statistic does not catch lockstep (peak %d, spread %.1f)", k+1, peak(lockstep[k], window), spread(lockstep[k], window))
		}
		p, s := peak(jittered[k], window), spread(jittered[k], window)
		t.Logf("attempt %d: busiest 100 ms holds %d of %d devices; spread %.1f windows", k+1, p, devices, s)
		if lockstepFails(jittered[k]) {
			t.Fatalf("attempt %d: retries bunch up: %d of %d devices in one 100 ms, spread %.1f windows", k+1, p, devices, s)
		}
	}
}

// The ceiling doubles per attempt up to the cap and starts over after a success;
// draws stay inside it.
func TestFaultBackoffCapAndReset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := &agent.Backoff{Base: 100 * time.Millisecond, Cap: time.Second, Rand: r.Float64}
	ceil := 100 * time.Millisecond
	for k := 0; k < 12; k++ {
		d := b.Next()
		if d < 0 || d > ceil {
			t.Fatalf("attempt %d: wait %v outside [0, %v]", k+1, d, ceil)
		}
		ceil = min(2*ceil, time.Second)
	}
	if b.Attempt() != 12 {
		t.Fatalf("attempt count %d, want 12", b.Attempt())
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Fatalf("first wait after reset %v, want at most the base", d)
	}
}
