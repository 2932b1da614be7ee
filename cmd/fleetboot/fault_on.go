//go:build faultpoints

package main

import (
	"os"
	"syscall"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
)

// faultPointFromEnv cuts the power, as far as a process can: with
// FLEETBOOT_TEST_KILL_AT=<phase> the agent SIGKILLs itself right after writing that
// phase, so process-level tests can stop first boot at every phase boundary.
func faultPointFromEnv(log *zap.Logger) func(agent.Phase) {
	at := os.Getenv("FLEETBOOT_TEST_KILL_AT")
	if at == "" {
		return nil
	}
	return func(p agent.Phase) {
		if string(p) == at {
			log.Warn("test fault point: killing the process", zap.String("state", string(p)))
			_ = log.Sync()
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
}
