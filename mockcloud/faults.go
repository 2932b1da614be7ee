package mockcloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/controlplane"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// FaultsJSON is the body of POST /_mockcloud/regions/{region}/faults: the faults
// of iotcore.Faults a rig can switch from outside a Go test. Every call replaces
// the region's whole set; {} clears it. Ops name fleet provisioning operations
// (CreateKeysAndCertificate, CreateCertificateFromCsr, RegisterThing; none: all);
// times limits a fault to the first n matching requests or connections (0: all).
//
//	{"loseReply": {"ops": ["RegisterThing"], "times": 1},
//	 "duplicateReply": {}, "delayReply": {"ms": 5000},
//	 "throttle": {"statusCode": 429}, "drop": {"at": "after-request"},
//	 "stallHandshake": {"times": 1}, "clientIdConnectIntervalMs": 1000}
type FaultsJSON struct {
	LoseReply                 *MatchJSON    `json:"loseReply,omitempty"`
	DuplicateReply            *MatchJSON    `json:"duplicateReply,omitempty"`
	DelayReply                *DelayJSON    `json:"delayReply,omitempty"`
	Throttle                  *ThrottleJSON `json:"throttle,omitempty"`
	Drop                      *DropJSON     `json:"drop,omitempty"`
	StallHandshake            *StallJSON    `json:"stallHandshake,omitempty"`
	ClientIDConnectIntervalMs int           `json:"clientIdConnectIntervalMs,omitempty"`
}

// MatchJSON selects requests.
type MatchJSON struct {
	Ops   []string `json:"ops,omitempty"`
	Times int      `json:"times,omitempty"`
}

// DelayJSON holds replies back by Ms milliseconds.
type DelayJSON struct {
	MatchJSON
	Ms int `json:"ms"`
}

// ThrottleJSON refuses requests with ThrottlingException.
type ThrottleJSON struct {
	MatchJSON
	StatusCode int `json:"statusCode,omitempty"`
}

// DropJSON closes connections at connect, subscribe, request or after-request.
type DropJSON struct {
	MatchJSON
	At string `json:"at"`
}

// StallJSON holds TLS handshakes.
type StallJSON struct {
	Times int `json:"times,omitempty"`
}

// maxFaultMs bounds millisecond fields: a day is longer than any test waits, and
// anything near 2^63/1e6 would overflow time.Duration into a short delay.
const maxFaultMs = 24 * 60 * 60 * 1000

// ParseFaults decodes a FaultsJSON document; unknown fields and bad values are
// errors that name them.
func ParseFaults(doc []byte) (iotcore.Faults, error) {
	var j FaultsJSON
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return iotcore.Faults{}, fmt.Errorf("faults: %w", err)
	}
	var f iotcore.Faults
	match := func(field string, m MatchJSON) (iotcore.Match, error) {
		out := iotcore.Match{Times: m.Times}
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
			return iotcore.Faults{}, err
		}
		f.LoseReply = &m
	}
	if j.DuplicateReply != nil {
		m, err := match("duplicateReply", *j.DuplicateReply)
		if err != nil {
			return iotcore.Faults{}, err
		}
		f.DuplicateReply = &m
	}
	if d := j.DelayReply; d != nil {
		m, err := match("delayReply", d.MatchJSON)
		if err != nil {
			return iotcore.Faults{}, err
		}
		if d.Ms <= 0 || d.Ms > maxFaultMs {
			return iotcore.Faults{}, fmt.Errorf("faults delayReply.ms: %d, want a delay of 1 to %d ms", d.Ms, maxFaultMs)
		}
		f.DelayReply = &iotcore.Delay{Match: m, By: time.Duration(d.Ms) * time.Millisecond}
	}
	if th := j.Throttle; th != nil {
		m, err := match("throttle", th.MatchJSON)
		if err != nil {
			return iotcore.Faults{}, err
		}
		if th.StatusCode != 0 && (th.StatusCode < 400 || th.StatusCode > 599) {
			return iotcore.Faults{}, fmt.Errorf("faults throttle.statusCode: %d is not an error status", th.StatusCode)
		}
		f.Throttle = &iotcore.Throttle{Match: m, StatusCode: th.StatusCode}
	}
	if d := j.Drop; d != nil {
		m, err := match("drop", d.MatchJSON)
		if err != nil {
			return iotcore.Faults{}, err
		}
		switch at := iotcore.DropStep(d.At); at {
		case iotcore.DropAtConnect, iotcore.DropAtSubscribe, iotcore.DropAtRequest, iotcore.DropAfterRequest:
			f.Drop = &iotcore.Drop{Match: m, At: at}
		default:
			return iotcore.Faults{}, fmt.Errorf("faults drop.at: %q, want connect, subscribe, request or after-request", d.At)
		}
	}
	if st := j.StallHandshake; st != nil {
		if st.Times < 0 {
			return iotcore.Faults{}, fmt.Errorf("faults stallHandshake.times: %d is negative", st.Times)
		}
		f.StallHandshake = &iotcore.Stall{Times: st.Times}
	}
	if j.ClientIDConnectIntervalMs < 0 || j.ClientIDConnectIntervalMs > maxFaultMs {
		return iotcore.Faults{}, fmt.Errorf("faults clientIdConnectIntervalMs: %d, want 0 to %d ms", j.ClientIDConnectIntervalMs, maxFaultMs)
	}
	f.ClientIDConnectInterval = time.Duration(j.ClientIDConnectIntervalMs) * time.Millisecond
	return f, nil
}

// SetFaults replaces the faults region injects; they stay across SetRegionDown.
func (c *Cloud) SetFaults(region string, f iotcore.Faults) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc, known := c.rcfgs[region]
	if !known {
		return fmt.Errorf("no region %q", region)
	}
	rc.Faults = f
	c.rcfgs[region] = rc
	if r := c.regions[region]; r != nil {
		r.SetFaults(f)
	}
	return nil
}

func (c *Cloud) setFaultsJSON(region string, doc []byte) error {
	f, err := ParseFaults(doc)
	if err != nil {
		return fmt.Errorf("%w: %w", controlplane.ErrInvalidArgument, err)
	}
	return c.SetFaults(region, f)
}
