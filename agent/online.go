package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/fleetboot/fleetboot/keystore"
	"github.com/fleetboot/fleetboot/provisioning"
)

// Status payloads published on the status topic; the offline one is the last will.
const (
	statusOnline  = `{"state":"online"}`
	statusOffline = `{"state":"offline"}`
)

// connectPermanent opens one connection with the permanent identity to the pinned
// endpoint, publishes the online status and records the online phase.
func (a *Agent) connectPermanent(ctx context.Context) (*provisioning.Conn, error) {
	st := a.current()
	if !st.Phase.Provisioned() {
		return nil, &Error{Class: ClassConfig, Step: "connect", Err: ErrNotProvisioned}
	}
	cert, err := keystore.TLSCertificate(ctx, a.ks)
	if err != nil {
		return nil, configErr("load device identity", err)
	}
	addrs, err := a.pinnedAddrs(ctx, st)
	if err != nil {
		return nil, err
	}
	topic := a.statusTopic(st.ThingName)
	conn := a.takeAccepted()
	err = a.step(StepConnect, func() error {
		if conn != nil {
			return nil // the connection JITP was accepted on
		}
		dc := a.dialConfig(cert, st.ThingName, addrs)
		dc.Will = a.offlineWill(st.ThingName)
		c, err := a.connect(ctx, dc)
		var closed *provisioning.ConnectClosedError
		var refused *provisioning.ConnectRefusedError
		if errors.As(err, &closed) && closed.Will != nil || errors.As(err, &refused) && refused.NotAuthorized() {
			return a.probeWill(ctx, dc, st, err)
		}
		if err != nil {
			return classify(fmt.Sprintf("connect as %q to %s", st.ThingName, st.Endpoint), err)
		}
		conn = c
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.step(StepPublishStatus, func() error {
		pctx, cancel := a.exchange(ctx)
		defer cancel()
		err := conn.Publish(pctx, topic, 1, true, []byte(statusOnline))
		if errors.Is(err, provisioning.ErrConnectionLost) {
			// CONNACK came, so the identity was accepted: AWS closes the
			// connection over a PUBLISH its policy denies.
			a.policyDenied(topic, "right after the retained status publish")
			return &Error{Class: ClassPolicy, Step: "publish status to " + topic, Err: err}
		}
		return classify("publish status to "+topic, err)
	}); err != nil {
		conn.Close()
		return nil, err
	}
	if st.Phase != PhaseOnline {
		st.Phase = PhaseOnline
		if err := a.save(ctx, st); err != nil {
			conn.Close()
			return nil, err
		}
	}
	a.rehomeOnline()
	a.log.Info("online", zap.String("thing", st.ThingName), zap.String("region", st.Region), zap.String("endpoint", st.Endpoint))
	if a.onOnline != nil {
		a.onOnline(*st)
	}
	return conn, nil
}

// probeWill tells a CONNECT refused for its Will from one refused for the
// identity: AWS answers both by closing the connection without CONNACK (a broker
// that answers CONNACK 5 answers both with that). It
// connects once more without the Will; if that is accepted, the identity is good
// and the device policy denies the retained Will's topic.
func (a *Agent) probeWill(ctx context.Context, dc provisioning.DialConfig, st *State, refused error) error {
	step := fmt.Sprintf("connect as %q to %s", st.ThingName, st.Endpoint)
	bare := dc
	bare.Will = nil
	c, err := a.connect(ctx, bare)
	if err != nil {
		if e := classify(step, err); ClassOf(e) != ClassIdentity {
			// The probe itself did not get an answer (a timeout, the network, the
			// run ending): that says nothing about the identity.
			return e
		}
		// Refused without the Will too: the identity (or iot:Connect) itself.
		return classify(step, refused)
	}
	c.Close()
	a.policyDenied(dc.Will.Topic, "at CONNECT with the retained Will (a CONNECT without it is accepted)")
	return &Error{Class: ClassPolicy, Step: step, Err: fmt.Errorf("the region accepts this identity without its Will and refuses it with the retained Will on %s: %w", dc.Will.Topic, refused)}
}

// policyDenied is the one line an operator needs when the region closes the
// connection over the status topic: AWS needs iot:RetainPublish besides
// iot:Publish for a retained PUBLISH and for a retained Will.
func (a *Agent) policyDenied(topic, when string) {
	a.log.Error("the region closed the connection "+when+": the device policy must allow iot:Publish and iot:RetainPublish on the status topic",
		zap.String("topic", topic),
		zap.String("hint", "add iot:Publish and iot:RetainPublish on arn:aws:iot:<region>:<account>:topic/"+topic+" to the device policy (and iot:Connect with iot:ConnectAttributes LastWill if the policy restricts them); the agent keeps its identity and retries with backoff"))
}

// offlineWill is the last will of every connection as the thing.
func (a *Agent) offlineWill(thing string) *provisioning.Message {
	return &provisioning.Message{Topic: a.statusTopic(thing), QoS: 1, Retain: true, Payload: []byte(statusOffline)}
}

func (a *Agent) statusTopic(thing string) string {
	return strings.ReplaceAll(a.cfg.Device.StatusTopic, "{thing}", thing)
}

// Prove provisions if needed, then connects once with the permanent identity and
// disconnects: the device can reach its home region as itself.
func (a *Agent) Prove(ctx context.Context) (*State, error) {
	if _, err := a.Provision(ctx); err != nil {
		return nil, err
	}
	if err := a.handoff(ctx); err != nil {
		return nil, err
	}
	conn, err := a.connectPermanent(ctx)
	if err != nil {
		return nil, err
	}
	conn.Close()
	return a.current(), nil
}

// Run provisions if needed and stays online until ctx ends, reconnecting with
// backoff. It returns nil when ctx ends, or a non-transient error.
func (a *Agent) Run(ctx context.Context) error {
	bo := a.backoff(time.Second, 5*time.Minute)
	for {
		_, err := a.Provision(ctx)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if c := ClassOf(err); c == ClassConfig || c == ClassRejected {
			return err
		}
		a.retryLog(err, bo)
		if a.sleep(ctx, bo.Next()) != nil {
			return nil
		}
	}
	if err := a.handoff(ctx); err != nil {
		return err
	}
	if a.onReady != nil {
		a.onReady(*a.current())
	}
	bo.Reset()
	refusals := 0
	for {
		conn, err := a.connectPermanent(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			c := ClassOf(err)
			if c == ClassConfig {
				return err
			}
			// Only refusals of the identity count; a policy refusal came after a
			// CONNACK, so the identity was accepted and the row is broken.
			if c == ClassIdentity {
				refusals++
			} else {
				refusals = 0
			}
			if refusals >= rehomeAfter && a.cfg.Provisioning.Rehome == RehomeClaim {
				if a.waitBeforeRehome(ctx, err) != nil {
					if ctx.Err() != nil {
						return nil
					}
				}
				if rerr := a.rehome(ctx); rerr != nil {
					return rerr
				}
				return a.Run(ctx)
			}
			a.retryLog(err, bo)
			if a.sleep(ctx, bo.Next()) != nil {
				return nil
			}
			continue
		}
		bo.Reset()
		if a.stayOnline(ctx, conn) {
			return nil
		}
		if a.sleep(ctx, bo.Next()) != nil {
			return nil
		}
	}
}

func (a *Agent) retryLog(err error, bo *Backoff) {
	var e *Error
	hint := "retrying"
	if errors.As(err, &e) {
		hint = e.Hint()
	}
	a.log.Warn("first boot step failed", zap.Error(err), zap.String("class", string(ClassOf(err))), zap.Int("attempt", bo.Attempt()+1), zap.String("hint", hint))
}

// handoff gives the deviceConfiguration to other gateway software and runs the
// onProvisioned command, once.
func (a *Agent) handoff(ctx context.Context) error {
	st := a.current()
	if st.HandoffDone {
		return nil
	}
	if p := a.cfg.Device.ConfigPath; p != "" {
		doc := st.DeviceConfiguration
		if doc == nil {
			doc = map[string]any{}
		}
		data, err := json.MarshalIndent(doc, "", "  ")
		if err != nil {
			return configErr("device configuration", err)
		}
		// Readable by other gateway software by design: it holds no secret. So are
		// the folders made for it; only the state folder is the agent's alone.
		if err := a.retryDiskFull(ctx, p, func() error {
			return writeFileAtomic(filepath.Dir(p), filepath.Base(p), append(data, '\n'), 0o644, 0o755)
		}); err != nil {
			return storageErr("write device configuration "+p, err)
		}
	}
	if cmd := a.cfg.Device.OnProvisioned; cmd != "" {
		if err := a.step(StepOnProvisioned, func() error { return a.runHook(ctx, cmd, st) }); err != nil {
			// The device is provisioned either way; a failing hook is reported, not retried forever.
			a.log.Error("onProvisioned command failed", zap.String("command", cmd), zap.Error(err))
		}
	}
	st.HandoffDone = true
	return a.save(ctx, st)
}

func (a *Agent) runHook(ctx context.Context, command string, st *State) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	cmd.Env = append(append([]string(nil), a.environ...),
		"FLEETBOOT_THING_NAME="+st.ThingName,
		"FLEETBOOT_ENDPOINT="+st.Endpoint,
		"FLEETBOOT_SERVER_NAME="+st.ServerName,
		"FLEETBOOT_CERTIFICATE_ID="+st.CertificateID,
		"FLEETBOOT_DEVICE_CONFIG="+a.cfg.Device.ConfigPath,
		"FLEETBOOT_STATE_DIR="+a.cfg.StateDir,
	)
	if st.Region != "" { // unset, not empty, when no region is known
		cmd.Env = append(cmd.Env, "FLEETBOOT_REGION="+st.Region)
	}
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		a.log.Info("onProvisioned output", zap.ByteString("output", truncate(out, 4096)))
	}
	if err != nil {
		return fmt.Errorf("run %q: %w", command, err)
	}
	return nil
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// stayOnline holds the connection until ctx ends (true: Run returns) or the
// connection is lost (false: reconnect), feeding the watchdog meanwhile.
func (a *Agent) stayOnline(ctx context.Context, conn *provisioning.Conn) bool {
	for {
		select {
		case <-ctx.Done():
			// A clean disconnect does not fire the will, so say offline ourselves.
			pctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = conn.Publish(pctx, a.statusTopic(a.current().ThingName), 1, true, []byte(statusOffline))
			cancel()
			conn.Close()
			return true
		case <-conn.Done():
			a.log.Warn("connection lost; reconnecting", zap.Error(conn.Err()))
			return false
		case <-a.watchdogC():
			a.kick()
		}
	}
}

// Reset forgets the identity: the state and rehome files and, if the keystore
// can, its keys.
func Reset(ctx context.Context, cfg *Config, ks keystore.Keystore) error {
	if r, ok := ks.(keystore.Resetter); ok {
		if err := r.Reset(ctx); err != nil {
			return fmt.Errorf("reset keystore: %w", err)
		}
	}
	// rehome.json goes too: a device made new must not inherit the old identity's
	// re-provisioning backoff.
	for _, name := range []string{stateFileName, rehomeFileName} {
		if err := os.Remove(filepath.Join(cfg.StateDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("reset state: %w", err)
		}
	}
	return nil
}

// ProveWithRetry is Prove, retried with backoff on transient failures and
// throttling until ctx ends.
func (a *Agent) ProveWithRetry(ctx context.Context) (*State, error) {
	bo := a.backoff(time.Second, 30*time.Second)
	for {
		st, err := a.Prove(ctx)
		if err == nil {
			return st, nil
		}
		if c := ClassOf(err); c != ClassTransient && c != ClassThrottled {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, err
		}
		a.retryLog(err, bo)
		if a.sleep(ctx, bo.Next()) != nil {
			return nil, err
		}
	}
}

// Check loads everything the configuration names without touching the network.
func (a *Agent) Check(ctx context.Context) error {
	if a.cfg.Provisioning.Mode != ModeJITP && !a.current().Phase.Provisioned() {
		c, err := a.loadClaim()
		if err != nil {
			return err
		}
		if now, trusted := trustedNow(a.now()); trusted && c.Leaf != nil && now.After(c.Leaf.NotAfter) {
			return configErr("claim certificate", fmt.Errorf("%s expired at %s", a.cfg.Provisioning.ClaimCertificate, c.Leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	if a.current().Phase.Provisioned() || a.cfg.Provisioning.Mode == ModeJITP {
		if _, err := keystore.TLSCertificate(ctx, a.ks); err != nil {
			return configErr("device identity", err)
		}
	}
	return nil
}

// rehomeAfter is how many refusals in a row of the permanent identity make a device
// with rehome: claim provision again; one refusal may be a region in trouble.
const rehomeAfter = 3

// rehome forgets the refused identity's registration and goes back to first boot.
// The claim certificate must still be configured; the device key is kept (the CSR
// flow signs its next CSR with it, the keys flow replaces it).
func (a *Agent) rehome(ctx context.Context) error {
	if _, err := a.loadClaim(); err != nil {
		return err
	}
	st := a.current()
	a.log.Warn("provisioning again with the claim certificate",
		zap.String("thing", st.ThingName), zap.String("region", st.Region), zap.String("certificate", st.CertificateID))
	fresh := &State{Phase: PhaseNew, Updated: st.Updated}
	a.setResolved(nil)
	if err := a.save(ctx, fresh); err != nil {
		return err
	}
	return a.rehomeServed(ctx)
}
