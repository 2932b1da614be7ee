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
	var err error
	if j.LoseReply != nil {
		m, e := match("loseReply", *j.LoseReply)
		f.LoseReply, err = &m, e
	}
	if err == nil && j.DuplicateReply != nil {
		m, e := match("duplicateReply", *j.DuplicateReply)
		f.DuplicateReply, err = &m, e
	}
	if err == nil && j.DelayReply != nil {
		m, e := match("delayReply", j.DelayReply.MatchJSON)
		if e == nil && j.DelayReply.Ms <= 0 {
			e = fmt.Errorf("faults delayReply.ms: %d, want a positive delay", j.DelayReply.Ms)
		}
		f.DelayReply, err = &iotcore.Delay{Match: m, By: time.Duration(j.DelayReply.Ms) * time.Millisecond}, e
	}
	if err == nil && j.Throttle != nil {
		m, e := match("throttle", j.Throttle.MatchJSON)
		if e == nil && j.Throttle.StatusCode != 0 && (j.Throttle.StatusCode < 400 || j.Throttle.StatusCode > 599) {
			e = fmt.Errorf("faults throttle.statusCode: %d is not an error status", j.Throttle.StatusCode)
		}
		f.Throttle, err = &iotcore.Throttle{Match: m, StatusCode: j.Throttle.StatusCode}, e
	}
	if err == nil && j.Drop != nil {
		m, e := match("drop", j.Drop.MatchJSON)
		switch at := iotcore.DropStep(j.Drop.At); at {
		case iotcore.DropAtConnect, iotcore.DropAtSubscribe, iotcore.DropAtRequest, iotcore.DropAfterRequest:
		default:
			if e == nil {
				e = fmt.Errorf("faults drop.at: %q, want connect, subscribe, request or after-request", j.Drop.At)
			}
		}
		f.Drop, err = &iotcore.Drop{Match: m, At: iotcore.DropStep(j.Drop.At)}, e
	}
	if err == nil && j.StallHandshake != nil {
		if j.StallHandshake.Times < 0 {
			err = fmt.Errorf("faults stallHandshake.times: %d is negative", j.StallHandshake.Times)
		}
		f.StallHandshake = &iotcore.Stall{Times: j.StallHandshake.Times}
	}
	if err == nil && j.ClientIDConnectIntervalMs < 0 {
		err = fmt.Errorf("faults clientIdConnectIntervalMs: %d is negative", j.ClientIDConnectIntervalMs)
	}
	f.ClientIDConnectInterval = time.Duration(j.ClientIDConnectIntervalMs) * time.Millisecond
	if err != nil {
		return iotcore.Faults{}, err
	}
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
