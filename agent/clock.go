package agent

import (
	"runtime/debug"
	"sync"
	"time"
)

// buildTime may be set at link time (-X .../agent.buildTime=2026-01-02T15:04:05Z);
// otherwise the VCS time Go records in the binary is used.
var buildTime string

// sourceFloor is a date this source cannot predate; the floor when a binary carries
// no build or VCS time (go test, go run).
var sourceFloor = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// clockFloor is the earliest instant this binary can run at. A gateway without an RTC
// boots at 1970; any time before the floor is known to be wrong. Reading the build
// information costs about 0.1 ms, so it is done once.
var clockFloor = sync.OnceValue(readClockFloor)

func readClockFloor() time.Time {
	if t, err := time.Parse(time.RFC3339, buildTime); err == nil && t.After(sourceFloor) {
		return t
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.time" {
				if t, err := time.Parse(time.RFC3339, s.Value); err == nil && t.After(sourceFloor) {
					return t
				}
			}
		}
	}
	return sourceFloor
}

// trustedNow reports the time and whether the clock can be believed: a clock behind
// the build time or behind the last state write has not been set since boot.
func trustedNow(now time.Time, floors ...time.Time) (time.Time, bool) {
	floor := clockFloor()
	for _, f := range floors {
		if f.After(floor) {
			floor = f
		}
	}
	if now.Before(floor) {
		return floor, false
	}
	return now, true
}
