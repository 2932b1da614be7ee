package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/dnsresolve"
	"github.com/fleetboot/fleetboot/provisioning"
)

// RoundTrips counts one device's network round trips beyond TCP, from the first
// DNS query to the CONNACK of the permanent connection, from what the agent
// reports: dnsresolve.Result.Queries and provisioning's connection events. The
// accounting is the protocol's:
//
//   - DNS: A and AAAA are asked concurrently (dnsresolve), so a resolution costs
//     ceil(Queries/2) round trips, one per name of the chain an answer did not carry.
//   - a connection up to CONNACK: 2 (TLS 1.3 full handshake; client Finished and
//     CONNECT together, answered by CONNACK).
//   - a SUBSCRIBE: 1 (SUBACK).
//   - a provisioning request: 1 (the QoS 1 PUBLISH; PUBACK and the reply come back
//     in the same flight).
//   - a connection dropped after the TLS handshake, before CONNACK: 2 (the CONNECT
//     is answered by the drop). JITP's first contact is one by design; in the
//     other flows it is a failure retried.
type RoundTrips struct {
	DNS          int // resolving the global name
	ClaimConnect int
	Subscribe    int
	Requests     int
	PinnedDNS    int // resolving the pinned endpoint again, if the agent did
	Dropped      int // connections dropped before CONNACK (JITP's first contact)
	Connect      int // the permanent connection up to CONNACK
	// DNSQueries is the number of DNS messages sent (both families, retries included).
	DNSQueries int
	// DialAttempts counts TCP+TLS attempts over all connections (Happy Eyeballs may
	// start more than one per connection).
	DialAttempts int
	// Complete is set once the permanent connection's CONNACK was seen.
	Complete bool
}

// Claim is the claim phase: claim connect to RegisterThing accepted.
func (r RoundTrips) Claim() int { return r.ClaimConnect + r.Subscribe + r.Requests }

// Total is the first DNS query to the permanent CONNACK.
func (r RoundTrips) Total() int { return r.DNS + r.Claim() + r.PinnedDNS + r.Dropped + r.Connect }

// String names every part that cost a round trip, in the order they happen;
// dns and connect always.
func (r RoundTrips) String() string {
	parts := []struct {
		name string
		n    int
	}{
		{"dns", r.DNS}, {"claim connect", r.ClaimConnect}, {"subscribe", r.Subscribe}, {"requests", r.Requests},
		{"pinned dns", r.PinnedDNS}, {"dropped", r.Dropped}, {"connect", r.Connect},
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d =", r.Total())
	sep := " "
	for _, p := range parts {
		if p.n != 0 || p.name == "dns" || p.name == "connect" {
			fmt.Fprintf(&b, "%s%s %d", sep, p.name, p.n)
			sep = " + "
		}
	}
	return b.String()
}

// rtCounter collects one device's RoundTrips; connection events arrive on paho's
// goroutines, so it locks.
type rtCounter struct {
	mu          sync.Mutex
	rt          RoundTrips
	claimDialed bool
}

func (c *rtCounter) dns(_ string, queries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rt.Complete {
		return
	}
	c.rt.DNSQueries += queries
	n := (queries + 1) / 2
	if c.claimDialed {
		c.rt.PinnedDNS += n
	} else {
		c.rt.DNS += n
	}
}

func (c *rtCounter) event(claim bool, e provisioning.Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rt.Complete {
		return
	}
	switch e.Kind {
	case provisioning.EventDialAttempt:
		c.rt.DialAttempts++
	case provisioning.EventConnected:
		if claim {
			c.rt.ClaimConnect += 2
		} else {
			c.rt.Connect += 2
			c.rt.Complete = true
		}
	case provisioning.EventSubscribe:
		if claim {
			c.rt.Subscribe++
		}
	case provisioning.EventRoundTrip:
		if claim {
			c.rt.Requests++
		}
	}
}

// dialer sets DialConfig.Observe on every connection the agent opens.
func (c *rtCounter) dialer(next agent.Dialer) agent.Dialer {
	return func(ctx context.Context, cfg provisioning.DialConfig) (*provisioning.Conn, error) {
		claim := strings.HasPrefix(cfg.ClientID, provisioning.ClaimClientIDPrefix)
		if claim {
			c.mu.Lock()
			c.claimDialed = true
			c.mu.Unlock()
		}
		prev := cfg.Observe
		var mu sync.Mutex
		tlsUp := false
		cfg.Observe = func(e provisioning.Event) {
			if e.Kind == provisioning.EventDialAttempt && e.Err == nil {
				mu.Lock()
				tlsUp = true
				mu.Unlock()
			}
			c.event(claim, e)
			if prev != nil {
				prev(e)
			}
		}
		conn, err := next(ctx, cfg)
		mu.Lock()
		dropped := err != nil && tlsUp
		mu.Unlock()
		if dropped {
			c.dropped()
		}
		return conn, err
	}
}

func (c *rtCounter) dropped() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.rt.Complete {
		c.rt.Dropped += 2
	}
}

func (c *rtCounter) snapshot() RoundTrips {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rt
}

// RoundTripStats summarise the fleet's round trips.
type RoundTripStats struct {
	Min, Max int
	// Typical is the breakdown of the most common total.
	Typical    RoundTrips
	Incomplete int
}

func summariseRoundTrips(rts []RoundTrips) RoundTripStats {
	var s RoundTripStats
	count := map[int]int{}
	first := map[int]RoundTrips{}
	for i, r := range rts {
		if !r.Complete {
			s.Incomplete++
			continue
		}
		t := r.Total()
		if i == 0 || s.Min == 0 || t < s.Min {
			s.Min = t
		}
		s.Max = max(s.Max, t)
		if _, ok := first[t]; !ok {
			first[t] = r
		}
		count[t]++
	}
	best := -1
	for t, n := range count {
		if best < 0 || n > count[best] || (n == count[best] && t < best) {
			best = t
		}
	}
	if best >= 0 {
		s.Typical = first[best]
	}
	return s
}

// countingResolver is the agent's resolver with its DNS round trips counted.
type countingResolver struct {
	r  *dnsresolve.Resolver
	rt *rtCounter
}

// newCountingResolver wraps the resolver a device builds from c (agent.NewResolver).
func newCountingResolver(c agent.DNSConfig, log *zap.Logger, rt *rtCounter) (*countingResolver, error) {
	r, err := agent.NewResolver(c, log)
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
