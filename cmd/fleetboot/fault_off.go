//go:build !faultpoints

package main

import (
	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
)

// faultPointFromEnv is only compiled into test builds (-tags faultpoints).
func faultPointFromEnv(*zap.Logger) func(agent.Phase) { return nil }
