package route53

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"

	"github.com/fleetboot/fleetboot/internal/safefile"
)

// apiState is what Route 53 keeps for an account, as Persist saves it: the
// account's zones with their records, the hosted zones' IDs and caller
// references, the health checks, and the caller references used before. The
// changes kept for GetChange are not saved (every change is INSYNC at once).
type apiState struct {
	Zones         []savedZone       `json:"zones"`
	HostedZones   []savedHostedZone `json:"hostedZones"`
	HealthChecks  []savedCheck      `json:"healthChecks"`
	UsedZoneRefs  []string          `json:"usedZoneRefs,omitempty"`
	UsedCheckRefs []string          `json:"usedCheckRefs,omitempty"`
}

type savedZone struct {
	Zone Zone `json:"zone"`
	// ExplicitTTL is each record's explicitTTL, by index.
	ExplicitTTL []bool `json:"explicitTTL"`
}

type savedHostedZone struct {
	ID, Name, CallerRef, Comment string
}

type savedCheck struct {
	ID, CallerRef string
	Config        healthCheckConfig
	Passing       bool
}

// maxStateFile bounds the state file: far above what a rig makes.
const maxStateFile = 64 << 20

// Persist keeps the account's Route 53 state in path: what it holds now is read
// in (zones made through the API come back, a rig file's zone the API changed
// comes back as the API left it, hosted zone IDs and health checks are the
// same), and every successful change is saved before its answer is sent. A rig
// file's zone the API never changed is not saved, so edits to the rig file take
// effect; one the API deleted comes back from the rig file.
func (a *API) Persist(path string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	data, err := safefile.Read(path, safefile.Options{Kind: "Route 53 state", Limit: maxStateFile, NoLinks: true})
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return err
	default:
		var st apiState
		if err := json.Unmarshal(data, &st); err != nil {
			return fmt.Errorf("route 53 state %s: %w", path, err)
		}
		if err := a.restoreLocked(st); err != nil {
			return fmt.Errorf("route 53 state %s: %w", path, err)
		}
	}
	a.statePath = path
	return a.saveLocked()
}

func (a *API) restoreLocked(st apiState) error {
	for _, c := range st.HealthChecks {
		h := &healthCheck{id: c.ID, callerRef: c.CallerRef, cfg: c.Config, passing: c.Passing}
		a.checks[c.ID] = h
		a.srv.AddHealthCheck(c.ID)
		if err := a.srv.SetHealthCheck(c.ID, h.healthy()); err != nil {
			return err
		}
	}
	err := a.srv.UpdateZones(func(cur []Zone) ([]Zone, error) {
		for _, sz := range st.Zones {
			z := sz.Zone
			for i := range z.Records {
				z.Records[i].explicitTTL = i < len(sz.ExplicitTTL) && sz.ExplicitTTL[i]
			}
			name, ok := canonicalName(z.Name)
			if !ok {
				return nil, fmt.Errorf("zone name %q", z.Name)
			}
			if i := zoneIndex(cur, name); i >= 0 {
				if cur[i].Service {
					return nil, fmt.Errorf("zone %s is served by AWS itself, not a hosted zone", name)
				}
				cur[i] = z
			} else {
				cur = append(cur, z)
			}
		}
		return cur, nil
	})
	if err != nil {
		return err
	}
	for _, hz := range st.HostedZones {
		a.zones[hz.ID] = &hostedZone{id: hz.ID, name: hz.Name, callerRef: hz.CallerRef, comment: hz.Comment}
		a.order = append(a.order, hz.ID)
	}
	for _, r := range st.UsedZoneRefs {
		a.usedZoneRefs[r] = true
	}
	for _, r := range st.UsedCheckRefs {
		a.usedCheckRefs[r] = true
	}
	_, err = a.syncLocked()
	return err
}

// saveLocked writes the state if Persist was called. Needs a.mu.
func (a *API) saveLocked() error {
	if a.statePath == "" {
		return nil
	}
	var st apiState
	for _, z := range a.srv.Zones() {
		name, _ := canonicalName(z.Name)
		if z.Service || reflect.DeepEqual(z, a.initial[name]) {
			continue
		}
		sz := savedZone{Zone: z, ExplicitTTL: make([]bool, len(z.Records))}
		for i, r := range z.Records {
			sz.ExplicitTTL[i] = r.explicitTTL
		}
		st.Zones = append(st.Zones, sz)
	}
	for _, id := range a.order {
		hz := a.zones[id]
		st.HostedZones = append(st.HostedZones, savedHostedZone{hz.id, hz.name, hz.callerRef, hz.comment})
	}
	for _, h := range a.checks {
		st.HealthChecks = append(st.HealthChecks, savedCheck{h.id, h.callerRef, h.cfg, h.passing})
	}
	for r := range a.usedZoneRefs {
		st.UsedZoneRefs = append(st.UsedZoneRefs, r)
	}
	for r := range a.usedCheckRefs {
		st.UsedCheckRefs = append(st.UsedCheckRefs, r)
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(a.statePath), 0o700); err != nil {
		return err
	}
	return safefile.WriteAtomic(a.statePath, data, 0o600)
}

// save is saveLocked under the lock, after a change an operation made.
func (a *API) save() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.saveLocked()
}
