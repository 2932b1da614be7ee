package agent_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A device policy that refuses the status topic is not a refusal of the identity:
// the region closes the connection at the retained status publish, after CONNACK.
// With rehome: claim the agent must say what the policy lacks and keep its
// identity, never trade it for a new one through the claim.
func TestDeniedStatusTopicIsAPolicyRefusal(t *testing.T) {
	c := startRig(t)
	cfg := deviceConfig(t, c, t.TempDir(), agent.ModeCSR, "json", "192.0.2.0/24", "POLICY-DENIED")
	cfg.Provisioning.Rehome = agent.RehomeClaim
	// Outside the device policy's gateways/<thing>/*.
	cfg.Device.StatusTopic = "denied/{thing}/status"

	core, logs := observer.New(zapcore.ErrorLevel)
	var mu sync.Mutex
	var claimConnects, policyFailures, identityFailures int
	a := newAgent(t, cfg, agent.Options{Logger: zap.New(core), Observe: func(s agent.Step) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case s.Name == agent.StepClaimConnect:
			claimConnects++
		case s.Err != nil && agent.ClassOf(s.Err) == agent.ClassPolicy:
			policyFailures++
		case s.Err != nil && agent.ClassOf(s.Err) == agent.ClassIdentity:
			identityFailures++
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	_ = a.Run(ctx)

	mu.Lock()
	defer mu.Unlock()
	if claimConnects != 1 {
		t.Errorf("%d claim connections, want the first boot's one: a policy refusal re-provisioned", claimConnects)
	}
	if identityFailures != 0 {
		t.Errorf("%d refusals counted against the identity", identityFailures)
	}
	if policyFailures < 2 {
		t.Errorf("%d policy refusals seen in 8 s, want the agent to keep retrying", policyFailures)
	}
	topic := "denied/" + a.State().ThingName + "/status"
	var said bool
	for _, e := range logs.All() {
		if strings.Contains(e.Message, "iot:RetainPublish") && strings.Contains(e.Message+e.ContextMap()["topic"].(string), topic) {
			said = true
		}
	}
	if !said {
		t.Errorf("no error log names iot:RetainPublish and the topic %s; logged: %v", topic, logs.All())
	}
}
