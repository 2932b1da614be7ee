package mockcloud

import (
	"fmt"

	"github.com/fleetboot/fleetboot/mockcloud/controlplane"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
)

// ParseFaults decodes the body of POST /_mockcloud/regions/{region}/faults
// (the JSON shape of iotcore.Faults, see Faults.UnmarshalJSON).
func ParseFaults(doc []byte) (iotcore.Faults, error) {
	var f iotcore.Faults
	if err := f.UnmarshalJSON(doc); err != nil {
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
