package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"go.yaml.in/yaml/v3"

	"github.com/fleetboot/fleetboot/agent"
)

// setup parses flags, loads the config and makes the logger. A non-zero code means
// stop with it.
func setup(name string, args []string, stderr io.Writer, extra func(*common)) (*common, *agent.Config, *zap.Logger, int) {
	c := newCommon(name, stderr)
	if extra != nil {
		extra(c)
	}
	if err := c.fs.Parse(args); err != nil {
		return nil, nil, nil, exitUsage
	}
	if c.fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleetboot %s: unexpected argument %q\n", name, c.fs.Arg(0))
		return nil, nil, nil, exitUsage
	}
	cfg, err := c.load()
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot %s: %v\n", name, err)
		return nil, nil, nil, exitConfig
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot %s: %v\n", name, err)
		return nil, nil, nil, exitConfig
	}
	return c, cfg, log, exitOK
}

// newAgent wires an agent with the keystore cmd opened (a TPM keystore needs its
// device opened here); closing the agent does not close the keystore: the caller does.
// opts carries the command's own hooks (Observe, OnOnline); newAgent sets the rest.
func newAgent(ctx context.Context, cfg *agent.Config, log *zap.Logger, opts agent.Options) (*agent.Agent, io.Closer, error) {
	ks, err := openKeystore(ctx, cfg)
	if err != nil {
		return nil, nil, &agent.Error{Class: agent.ClassConfig, Step: "open keystore", Err: err}
	}
	opts.Config, opts.Logger, opts.Keystore, opts.FaultPoint = cfg, log, ks, faultPointFromEnv(log)
	a, err := agent.New(ctx, opts)
	if err != nil {
		ks.Close()
		return nil, nil, err
	}
	return a, ks, nil
}

func report(log *zap.Logger, what string, err error) int {
	var e *agent.Error
	if errors.As(err, &e) {
		log.Error(what+" failed", zap.Error(err), zap.String("class", string(e.Class)), zap.String("hint", e.Hint()))
	} else {
		log.Error(what+" failed", zap.Error(err))
	}
	return exitCode(err)
}

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_, cfg, log, code := setup("run", args, stderr, nil)
	if code != exitOK {
		return code
	}
	defer log.Sync() //nolint:errcheck
	svc := newService(log)
	defer svc.close()
	defer context.AfterFunc(ctx, svc.stopping)()
	var released bool
	opts := svc.options()
	opts.OnOnline = func(st agent.State) {
		svc.online(st)
		// First boot's code is done with once the device is online the first time.
		if !released {
			released = true
			n, err := releaseColdCode()
			log.Debug("released the pages of first-boot code", zap.Int("bytes", n), zap.Error(err))
		}
	}
	a, ks, err := newAgent(ctx, cfg, log, opts)
	if err != nil {
		return report(log, "start", err)
	}
	defer ks.Close()
	svc.starting(a.State())
	if err := a.Run(ctx); err != nil {
		return report(log, "run", err)
	}
	return exitOK
}

func cmdProvision(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var timeout time.Duration
	var steps bool
	_, cfg, log, code := setup("provision", args, stderr, func(c *common) {
		c.fs.DurationVar(&timeout, "timeout", 5*time.Minute, "give up after this long")
		c.fs.BoolVar(&steps, "steps", false, "print the time of each step")
	})
	if code != exitOK {
		return code
	}
	defer log.Sync() //nolint:errcheck
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var done []agent.Step
	start := time.Now()
	a, ks, err := newAgent(ctx, cfg, log, agent.Options{Observe: func(s agent.Step) { done = append(done, s) }})
	if err != nil {
		return report(log, "start", err)
	}
	defer ks.Close()
	st, err := a.ProveWithRetry(ctx)
	if err != nil {
		return report(log, "provision", err)
	}
	fmt.Fprintf(stdout, "provisioned: thing %s in %s (%s)\n", st.ThingName, st.Region, st.Endpoint)
	if steps {
		for _, s := range done {
			status := ""
			if s.Err != nil {
				status = "  failed: " + s.Err.Error()
			}
			fmt.Fprintf(stdout, "  %-20s %9.1f ms%s\n", s.Name, float64(s.Duration.Microseconds())/1000, status)
		}
		fmt.Fprintf(stdout, "  %-20s %9.1f ms\n", "total", float64(time.Since(start).Microseconds())/1000)
	}
	return exitOK
}

// statusJSON is the machine-readable status; field names are a stable interface.
type statusJSON struct {
	State         string `json:"state"`
	Mode          string `json:"mode,omitempty"`
	Region        string `json:"region,omitempty"`
	Endpoint      string `json:"endpoint,omitempty"`
	ServerName    string `json:"server_name,omitempty"`
	ThingName     string `json:"thing_name,omitempty"`
	CertificateID string `json:"certificate_id,omitempty"`
	NotAfter      string `json:"not_after,omitempty"`
	Keystore      string `json:"keystore"`
	KeyDigest     string `json:"public_key_sha256,omitempty"`
	Updated       string `json:"updated,omitempty"`
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	_, cfg, _, code := setup("status", args, stderr, func(c *common) {
		c.fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if code != exitOK {
		return code
	}
	st, err := agent.LoadState(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot status: %v\n", err)
		return exitConfig
	}
	out := statusJSON{
		State: string(st.Phase), Mode: st.Mode, Region: st.Region, Endpoint: st.Endpoint,
		ServerName: st.ServerName, ThingName: st.ThingName, CertificateID: st.CertificateID,
		Keystore: cfg.Keystore.URI,
	}
	if !st.Updated.IsZero() {
		out.Updated = st.Updated.UTC().Format(time.RFC3339)
	}
	if ks, err := openKeystore(ctx, cfg); err == nil {
		out.Keystore = ks.Describe()
		if leaf, _, err := ks.Certificate(ctx); err == nil {
			out.NotAfter = leaf.NotAfter.UTC().Format(time.RFC3339)
			sum := sha256.Sum256(leaf.RawSubjectPublicKeyInfo)
			out.KeyDigest = hex.EncodeToString(sum[:])
		}
		ks.Close()
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return exitFailure
		}
		return exitOK
	}
	if out.Region == "" && st.Phase.Provisioned() {
		// A state written before the resolver refused chains that name no region.
		out.Region = "unknown: no AWS IoT region could be read off the endpoint " + st.Endpoint
	}
	fmt.Fprintf(stdout, "state:          %s\n", out.State)
	for _, kv := range [][2]string{
		{"mode", out.Mode}, {"region", out.Region}, {"endpoint", out.Endpoint}, {"server name", out.ServerName},
		{"thing", out.ThingName}, {"certificate", out.CertificateID}, {"not after", out.NotAfter},
		{"keystore", out.Keystore}, {"public key", out.KeyDigest}, {"updated", out.Updated},
	} {
		if kv[1] != "" {
			fmt.Fprintf(stdout, "%-15s %s\n", kv[0]+":", kv[1])
		}
	}
	return exitOK
}

func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	_, cfg, log, code := setup("check", args, stderr, nil)
	if code != exitOK {
		return code
	}
	a, ks, err := newAgent(ctx, cfg, log, agent.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot check: %v\n", err)
		return exitCode(err)
	}
	defer ks.Close()
	if err := a.Check(ctx); err != nil {
		fmt.Fprintf(stderr, "fleetboot check: %v\n", err)
		return exitCode(err)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return exitFailure
	}
	fmt.Fprintf(stdout, "# configuration in effect\n%s", out)
	st := a.State()
	fmt.Fprintf(stdout, "# state: %s\n", st.Phase)
	return exitOK
}

func cmdReset(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var yes bool
	_, cfg, _, code := setup("reset", args, stderr, func(c *common) {
		c.fs.BoolVar(&yes, "yes", false, "confirm")
	})
	if code != exitOK {
		return code
	}
	if !yes {
		fmt.Fprintln(stderr, "fleetboot reset: this deletes the device identity (state and keys); run again with --yes")
		return exitUsage
	}
	ks, err := openKeystore(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "fleetboot reset: %v\n", err)
		return exitConfig
	}
	defer ks.Close()
	if err := agent.Reset(ctx, cfg, ks); err != nil {
		fmt.Fprintf(stderr, "fleetboot reset: %v\n", err)
		return exitFailure
	}
	fmt.Fprintln(stdout, "reset: state and keys removed")
	return exitOK
}
