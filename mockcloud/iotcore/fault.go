package iotcore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/fleetboot/fleetboot/provisioning"
)

// ConnectIntervalAWS is AWS IoT's limit on CONNECTs with one client id: one per
// second, not adjustable ("Connect requests per second per client ID", AWS IoT
// Core quotas).
const ConnectIntervalAWS = time.Second

// Faults are failures a region injects on purpose, so that tests can show what a
// device does when the network or the service misbehaves. The zero value injects
// nothing. Config.Faults is the set a region starts with; Region.SetFaults replaces
// the whole set at any time and starts every Times count afresh.
//
// Faults on fleet provisioning requests (LoseReply, DuplicateReply, DelayReply,
// Throttle, and Drop at DropAtRequest or DropAfterRequest) select requests with a
// Match. The others act on connections, whatever their client id.
type Faults struct {
	// LoseReply: the service applies the request (a certificate is issued, a thing
	// registered, the token consumed) and never sends the reply.
	LoseReply *Match
	// DuplicateReply: the reply is sent twice, as two PUBLISH packets.
	DuplicateReply *Match
	// DelayReply: the request is applied at once and its reply sent after By, if
	// the connection that asked is still there; devices that gave up miss it.
	DelayReply *Delay
	// Throttle: the request is refused without being applied, with the rejected
	// payload {"statusCode":429,"errorCode":"ThrottlingException",
	// "errorMessage":"Rate exceeded."}.
	Throttle *Throttle
	// Drop closes a connection without an answer at one step.
	Drop *Drop
	// StallHandshake: TCP connections are accepted and the TLS handshake is never
	// answered. The connection is held until the client hangs up, the faults
	// change or the region closes.
	StallHandshake *Stall
	// ClientIDConnectInterval refuses a CONNECT that comes sooner than this after
	// the last CONNECT let through with the same client id, as AWS IoT does
	// (ConnectIntervalAWS). An MQTT 3.1.1 client sees the connection closed without
	// CONNACK, an MQTT 5 client gets CONNACK 0x9F (connection rate exceeded).
	// Refused CONNECTs do not count, and CONNECTs are remembered only while the
	// limit is on. 0 disables the limit.
	ClientIDConnectInterval time.Duration
	// RewriteReply, if set, replaces the payload of every accepted provisioning
	// reply (after the request was applied) with what it returns: a service or a
	// proxy that sends a certificate for another key, a wrong certificateId,
	// garbage. It is called off the broker's loops and must be safe for
	// concurrent use.
	RewriteReply func(op provisioning.Operation, format provisioning.Format, payload []byte) []byte
}

// Match selects fleet provisioning requests.
type Match struct {
	// Ops limits the fault to these operations; empty means all three.
	Ops []provisioning.Operation
	// Times limits the fault to the first n matching requests; 0 means every one
	// until the faults change.
	Times int
}

// Delay holds replies back.
type Delay struct {
	Match
	By time.Duration
}

// Throttle refuses requests as a throttled service does.
type Throttle struct {
	Match
	// StatusCode of the rejected payload; 0 means 429. AWS documents the error
	// code ThrottlingException but not the MQTT status code (PROTOCOL.md §1.5).
	StatusCode int
}

// DropStep is where Faults.Drop closes a connection.
type DropStep string

const (
	// DropAtConnect closes the connection at CONNECT, without CONNACK.
	DropAtConnect DropStep = "connect"
	// DropAtSubscribe closes the connection at SUBSCRIBE, without SUBACK.
	DropAtSubscribe DropStep = "subscribe"
	// DropAtRequest closes the connection when a provisioning request arrives,
	// before PUBACK: the service never sees the request.
	DropAtRequest DropStep = "request"
	// DropAfterRequest lets the service apply the request, then closes the
	// connection instead of replying.
	DropAfterRequest DropStep = "after-request"
)

// Drop closes connections at a step. Match.Ops applies to the request steps only.
type Drop struct {
	Match
	At DropStep
}

// Stall holds TLS handshakes.
type Stall struct {
	// Times limits the fault to the next n connections; 0 means every one.
	Times int
}

// FaultCounts says how often each fault fired since the region started.
type FaultCounts struct {
	RepliesLost, RepliesDuplicated, RepliesDelayed int
	RequestsThrottled                              int
	ConnectionsDropped                             int
	HandshakesStalled                              int
	ConnectsThrottled                              int
	// CertificateDisconnects counts connections closed because their certificate
	// stopped being ACTIVE.
	CertificateDisconnects int
}

// fault kinds, the keys of faultState.used.
const (
	kindLose     = "lose"
	kindDup      = "duplicate"
	kindDelay    = "delay"
	kindThrottle = "throttle"
	kindDrop     = "drop"
	kindStall    = "stall"
)

// faultState is a region's current faults and what they have done. Safe for
// concurrent use.
type faultState struct {
	mu       sync.Mutex
	f        Faults
	used     map[string]int // occurrences per kind since the last set
	counts   FaultCounts
	changed  chan struct{} // closed and replaced on every set
	connects map[string]time.Time
}

func newFaultState(f Faults) *faultState {
	return &faultState{f: f, used: map[string]int{}, changed: make(chan struct{}), connects: map[string]time.Time{}}
}

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	s.used = map[string]int{}
	close(s.changed)
	s.changed = make(chan struct{})
	if f.ClientIDConnectInterval == 0 {
		s.connects = map[string]time.Time{}
	}
}

func (s *faultState) get() (Faults, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f, s.changed
}

func (s *faultState) snapshot() FaultCounts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// takeLocked reports whether a fault of kind with match m fires for op, and
// counts the occurrence.
func (s *faultState) takeLocked(kind string, m *Match, op provisioning.Operation) bool {
	if m == nil {
		return false
	}
	if op != "" && len(m.Ops) > 0 && !slices.Contains(m.Ops, op) {
		return false
	}
	if m.Times > 0 && s.used[kind] >= m.Times {
		return false
	}
	s.used[kind]++
	return true
}

// replyPlan is what happens to one provisioning request and its reply.
type replyPlan struct {
	throttle  int // status code of the throttled reply; 0: apply the request
	lose      bool
	drop      bool // close the connection after applying the request
	duplicate bool
	delay     time.Duration
	changed   <-chan struct{}
}

func (s *faultState) plan(op provisioning.Operation) replyPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := replyPlan{changed: s.changed}
	if t := s.f.Throttle; t != nil && s.takeLocked(kindThrottle, &t.Match, op) {
		p.throttle = t.StatusCode
		if p.throttle == 0 {
			p.throttle = 429
		}
		s.counts.RequestsThrottled++
	}
	if d := s.f.Drop; d != nil && d.At == DropAfterRequest && s.takeLocked(kindDrop, &d.Match, op) {
		p.drop = true
		s.counts.ConnectionsDropped++
		return p
	}
	if s.takeLocked(kindLose, s.f.LoseReply, op) {
		p.lose = true
		s.counts.RepliesLost++
		return p
	}
	if d := s.f.DelayReply; d != nil && s.takeLocked(kindDelay, &d.Match, op) {
		p.delay = d.By
		s.counts.RepliesDelayed++
	}
	if s.takeLocked(kindDup, s.f.DuplicateReply, op) {
		p.duplicate = true
		s.counts.RepliesDuplicated++
	}
	return p
}

// dropAt reports whether the connection is to be closed at step (for op, at the
// request steps).
func (s *faultState) dropAt(step DropStep, op provisioning.Operation) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.f.Drop
	if d == nil || d.At != step {
		return false
	}
	m := d.Match
	if step == DropAtConnect || step == DropAtSubscribe {
		m.Ops = nil
	}
	if !s.takeLocked(kindDrop, &m, op) {
		return false
	}
	s.counts.ConnectionsDropped++
	return true
}

// stall reports whether a new connection's handshake is to be held, and the
// channel that closes when the faults change.
func (s *faultState) stall() (bool, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.f.StallHandshake
	if st == nil || !s.takeLocked(kindStall, &Match{Times: st.Times}, "") {
		return false, nil
	}
	s.counts.HandshakesStalled++
	return true, s.changed
}

// connectAllowed applies the per-client-id connect rate at now.
func (s *faultState) connectAllowed(clientID string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	iv := s.f.ClientIDConnectInterval
	if iv <= 0 {
		return true
	}
	if last, ok := s.connects[clientID]; ok && now.Sub(last) < iv {
		s.counts.ConnectsThrottled++
		return false
	}
	s.connects[clientID] = now
	// Forget client ids that can no longer be refused, so a fleet of claim
	// connections with random ids does not grow the map without end.
	if len(s.connects) > 4096 {
		for id, t := range s.connects {
			if now.Sub(t) >= iv {
				delete(s.connects, id)
			}
		}
	}
	return true
}

func (s *faultState) countCertificateDisconnect() {
	s.mu.Lock()
	s.counts.CertificateDisconnects++
	s.mu.Unlock()
}

// SetFaults replaces the region's faults; the zero Faults stops injecting. Held
// handshakes are released (closed) and delayed replies still waiting are sent.
func (r *Region) SetFaults(f Faults) { r.faults.set(f) }

// Faults returns the faults in force.
func (r *Region) Faults() Faults {
	f, _ := r.faults.get()
	return f
}

// FaultCounts says how often each fault fired since the region started.
func (r *Region) FaultCounts() FaultCounts { return r.faults.snapshot() }

// faultsJSON is the JSON shape of Faults (the body of POST
// /_mockcloud/regions/{region}/faults): the faults a rig can switch from outside a Go test. Every call replaces
// the region's whole set; {} clears it. Ops name fleet provisioning operations
// (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing; none: all);
// times limits a fault to the first n matching requests or connections (0: all).
//
//	{"loseReply": {"ops": ["RegisterThing"], "times": 1},
//	 "duplicateReply": {}, "delayReply": {"ms": 5000},
//	 "throttle": {"statusCode": 429}, "drop": {"at": "after-request"},
//	 "stallHandshake": {"times": 1}, "clientIdConnectIntervalMs": 1000}
type faultsJSON struct {
	LoseReply                 *matchJSON    `json:"loseReply,omitempty"`
	DuplicateReply            *matchJSON    `json:"duplicateReply,omitempty"`
	DelayReply                *delayJSON    `json:"delayReply,omitempty"`
	Throttle                  *throttleJSON `json:"throttle,omitempty"`
	Drop                      *dropJSON     `json:"drop,omitempty"`
	StallHandshake            *stallJSON    `json:"stallHandshake,omitempty"`
	ClientIDConnectIntervalMs int           `json:"clientIdConnectIntervalMs,omitempty"`
}

// matchJSON selects requests.
type matchJSON struct {
	Ops   []string `json:"ops,omitempty"`
	Times int      `json:"times,omitempty"`
}

// delayJSON holds replies back by Ms milliseconds.
type delayJSON struct {
	matchJSON
	Ms int `json:"ms"`
}

// throttleJSON refuses requests with ThrottlingException.
type throttleJSON struct {
	matchJSON
	StatusCode int `json:"statusCode,omitempty"`
}

// dropJSON closes connections at connect, subscribe, request or after-request.
type dropJSON struct {
	matchJSON
	At string `json:"at"`
}

// stallJSON holds TLS handshakes.
type stallJSON struct {
	Times int `json:"times,omitempty"`
}

// maxFaultMs bounds millisecond fields: a day is longer than any test waits, and
// anything near 2^63/1e6 would overflow time.Duration into a short delay.
const maxFaultMs = 24 * 60 * 60 * 1000

// UnmarshalJSON decodes the faultsJSON shape; unknown fields and bad values
// are errors that name them, and f is left unchanged on error.
func (f *Faults) UnmarshalJSON(doc []byte) error {
	parsed, err := parseFaults(doc)
	if err != nil {
		return err
	}
	*f = parsed
	return nil
}

func parseFaults(doc []byte) (Faults, error) {
	var j faultsJSON
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return Faults{}, fmt.Errorf("faults: %w", err)
	}
	var f Faults
	match := func(field string, m matchJSON) (Match, error) {
		out := Match{Times: m.Times}
		if m.Times < 0 {
			return out, fmt.Errorf("faults %s.times: %d is negative", field, m.Times)
		}
		for i, op := range m.Ops {
			switch o := provisioning.Operation(op); o {
			case provisioning.OpCreateKeysAndCertificate, provisioning.OpCreateCertificateFromCSR, provisioning.OpRegisterThing:
				out.Ops = append(out.Ops, o)
			default:
				return out, fmt.Errorf("faults %s.ops[%d]: %q is not a fleet provisioning operation", field, i, op)
			}
		}
		return out, nil
	}
	if j.LoseReply != nil {
		m, err := match("loseReply", *j.LoseReply)
		if err != nil {
			return Faults{}, err
		}
		f.LoseReply = &m
	}
	if j.DuplicateReply != nil {
		m, err := match("duplicateReply", *j.DuplicateReply)
		if err != nil {
			return Faults{}, err
		}
		f.DuplicateReply = &m
	}
	if d := j.DelayReply; d != nil {
		m, err := match("delayReply", d.matchJSON)
		if err != nil {
			return Faults{}, err
		}
		if d.Ms <= 0 || d.Ms > maxFaultMs {
			return Faults{}, fmt.Errorf("faults delayReply.ms: %d, want a delay of 1 to %d ms", d.Ms, maxFaultMs)
		}
		f.DelayReply = &Delay{Match: m, By: time.Duration(d.Ms) * time.Millisecond}
	}
	if th := j.Throttle; th != nil {
		m, err := match("throttle", th.matchJSON)
		if err != nil {
			return Faults{}, err
		}
		if th.StatusCode != 0 && (th.StatusCode < 400 || th.StatusCode > 599) {
			return Faults{}, fmt.Errorf("faults throttle.statusCode: %d is not an error status", th.StatusCode)
		}
		f.Throttle = &Throttle{Match: m, StatusCode: th.StatusCode}
	}
	if d := j.Drop; d != nil {
		m, err := match("drop", d.matchJSON)
		if err != nil {
			return Faults{}, err
		}
		switch at := DropStep(d.At); at {
		case DropAtConnect, DropAtSubscribe, DropAtRequest, DropAfterRequest:
			f.Drop = &Drop{Match: m, At: at}
		default:
			return Faults{}, fmt.Errorf("faults drop.at: %q, want connect, subscribe, request or after-request", d.At)
		}
	}
	if st := j.StallHandshake; st != nil {
		if st.Times < 0 {
			return Faults{}, fmt.Errorf("faults stallHandshake.times: %d is negative", st.Times)
		}
		f.StallHandshake = &Stall{Times: st.Times}
	}
	if j.ClientIDConnectIntervalMs < 0 || j.ClientIDConnectIntervalMs > maxFaultMs {
		return Faults{}, fmt.Errorf("faults clientIdConnectIntervalMs: %d, want 0 to %d ms", j.ClientIDConnectIntervalMs, maxFaultMs)
	}
	f.ClientIDConnectInterval = time.Duration(j.ClientIDConnectIntervalMs) * time.Millisecond
	return f, nil
}
