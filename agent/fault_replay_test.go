package agent_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// The RegisterThing reply lost, against a cloud that answers a repeated request
// again (the rig's iot.registerThingReplay): the agent's retry with its saved
// token gets the thing, and the device ends with exactly one ACTIVE certificate.
func TestFaultRegisterThingReplyLostWithReplay(t *testing.T) {
	cfg, err := mockcloud.LoadConfig(filepath.Join("..", "testdata", "rig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.IoT.KeyPoolSize = 0
	cfg.IoT.RegisterThingReplay = true
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := mockcloud.Start(ctx, cfg, mockcloud.Options{DataDir: t.TempDir(), Ephemeral: true, Logger: zaptest.NewLogger(t).Named("cloud")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Region("eu-west-1").SetFaults(iotcore.Faults{LoseReply: &iotcore.Match{Ops: []provisioning.Operation{opRegister}, Times: 1}})
	a, _, j := faultDevice(t, c, "LOST-REPLAY", agent.Options{})
	r := startRun(a)
	r.waitOnline(t, j)
	r.stop(t)
	if n := c.Region("eu-west-1").FaultCounts().RepliesLost; n != 1 {
		t.Fatalf("%d replies lost, want 1", n)
	}
	st := a.State()
	if active := activeFor(t, c, "eu-west-1", st.ThingName); len(active) != 1 || active[0] != st.CertificateID {
		t.Fatalf("ACTIVE certificates %v, device uses %s: want exactly that one", active, st.CertificateID)
	}
	checkOneIdentity(t, c, "eu-west-1", st.ThingName)
}

// The RegisterThing reply lost and the power cut before the agent learnt of it:
// the next boot, refused the token by a cloud that does not replay, warns that the
// certificate of the lost exchange may be ACTIVE, naming it.
func TestFaultRegisterThingLostThenPowerCutWarns(t *testing.T) {
	c := startRig(t)
	c.Region("eu-west-1").SetFaults(iotcore.Faults{LoseReply: &iotcore.Match{Ops: []provisioning.Operation{opRegister}, Times: 1}})
	a, cfg, _ := faultDevice(t, c, "LOST-CUT", agent.Options{})
	if _, err := a.Provision(context.Background()); !errors.Is(err, agent.ErrNoReply) {
		t.Fatalf("first boot: %v, want the RegisterThing reply timeout", err)
	}
	first := a.State().CertificateID
	a.Close()

	core, logs := observer.New(zapcore.WarnLevel)
	b := newAgent(t, cfg, agent.Options{Logger: zap.New(core), Retry: faultRetry})
	if _, err := b.Provision(context.Background()); err != nil {
		t.Fatalf("second boot: %v", err)
	}
	if logs.FilterMessageSnippet("may have been applied").FilterField(zap.String("certificate", first)).Len() != 1 {
		t.Fatalf("no warning naming %s after the power cut; warnings: %v", first, logs.All())
	}
}
