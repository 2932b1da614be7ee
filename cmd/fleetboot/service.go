package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/internal/sdnotify"
)

// service tells systemd how `fleetboot run` is doing (sdnotify): READY=1 once the
// identity is usable, a STATUS= line per phase, STOPPING=1 on SIGTERM, and the
// watchdog fed by the agent's loops. Without NOTIFY_SOCKET every call does nothing.
type service struct {
	log *zap.Logger
	n   *sdnotify.Notifier
	wd  *sdnotify.Watchdog
}

func newService(log *zap.Logger) *service {
	n := sdnotify.New()
	wd, err := n.Watchdog()
	if err != nil {
		log.Warn("systemd watchdog disabled", zap.Error(err))
	}
	if n.Enabled() {
		log.Debug("systemd notify", zap.Duration("watchdog_interval", wd.Interval()))
	}
	return &service{log: log, n: n, wd: wd}
}

// options are the agent hooks that report to systemd.
func (s *service) options() agent.Options {
	o := agent.Options{
		OnReady: func(st agent.State) {
			s.send("ready", s.n.Ready())
			s.status(fmt.Sprintf("identity ready: thing %s in %s; connecting", st.ThingName, regionOrUnknown(st.Region)))
		},
		Observe: func(st agent.Step) {
			switch {
			case st.Err != nil:
				s.status(fmt.Sprintf("%s failed (%s); retrying", st.Name, agent.ClassOf(st.Err)))
			case st.Name == agent.StepClaimConnect:
				s.status("provisioning: connected with the claim certificate")
			case st.Name == agent.StepJITPConnect:
				s.status("provisioning: connected with the factory certificate")
			}
		},
	}
	if s.wd.Interval() > 0 {
		o.Watchdog = s.wd
	}
	return o
}

// starting is the first status line: what the agent is about to do.
func (s *service) starting(st agent.State) {
	if !st.Phase.Provisioned() {
		s.status("provisioning: first boot")
		return
	}
	s.status(fmt.Sprintf("starting as %s in %s", st.ThingName, regionOrUnknown(st.Region)))
}

func (s *service) online(st agent.State) {
	s.status(fmt.Sprintf("online as %s in %s", st.ThingName, regionOrUnknown(st.Region)))
}

func (s *service) status(line string) { s.send("status", s.n.Status(line)) }

func (s *service) stopping() { s.send("stopping", s.n.Stopping()) }

func (s *service) close() { s.wd.Stop() }

func (s *service) send(what string, err error) {
	if err != nil {
		s.log.Warn("systemd notify", zap.String("message", what), zap.Error(err))
	}
}

func regionOrUnknown(r string) string {
	if r == "" {
		return "an unknown region"
	}
	return r
}
