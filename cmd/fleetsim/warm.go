package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"

	memks "github.com/fleetboot/fleetboot/keystore/mem"
)

// idleCPU is the share of one core below which an in-process rig counts as idle.
const idleCPU = 0.05

// warmKeyPools provisions one device per place in the keys flow, which starts the
// key pool of each place's region, then waits for the pools to be full: until the
// process is idle with an in-process rig, else for as long as the keys take to
// make. The warm-up devices are not part of the run.
func warmKeyPools(ctx context.Context, p Params, fl *fleet, log *zap.Logger, kp *KeyPoolReport) error {
	places := slices.Compact(slices.Sorted(slices.Values(p.Places)))
	warm := p
	warm.Hold = false
	runID := randomID()
	for _, place := range places {
		d := Device{Serial: fmt.Sprintf("SIM-%s-warm-%s", runID, place), Place: place, Subnet: placeSubnets[place]}
		runDevice(ctx, ctx, warm, fl, &d, log, func() {})
		memks.Forget(keystoreName(d.Serial))
		if !d.Online {
			return fmt.Errorf("warm-up device in %s: %w", place, d.Err)
		}
	}
	// All pools fill at once, at most one per core.
	rounds := (len(places) + gomaxprocs() - 1) / gomaxprocs()
	expect := time.Duration(kp.PoolSize*rounds) * kp.KeyGen
	if !p.RigInProcess {
		return sleep(ctx, expect+time.Second)
	}
	return waitIdle(ctx, max(4*expect, time.Minute))
}

// waitIdle returns once the process has used less than idleCPU of a core over a
// quarter of a second, or after limit.
func waitIdle(ctx context.Context, limit time.Duration) error {
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		before := processCPU()
		if err := sleep(ctx, window); err != nil {
			return err
		}
		if float64(processCPU()-before) < idleCPU*float64(window) {
			return nil
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
