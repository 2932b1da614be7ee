//go:build !linux

package main

import "time"

// processCPU is not measured on this platform.
func processCPU() time.Duration { return 0 }

// peakRSS is not measured on this platform.
func peakRSS() uint64 { return 0 }

// raiseFileLimit does nothing on this platform.
func raiseFileLimit(want uint64) (uint64, error) { return want, nil }
