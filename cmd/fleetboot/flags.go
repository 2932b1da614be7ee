package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/fleetboot/fleetboot/agent"
)

// common holds the flags every subcommand shares.
type common struct {
	fs         *flag.FlagSet
	config     string
	stateDir   string
	dnsServers multi
	subnet     string
	source     string
	params     multi
	mode       string
	keystore   string
	logLevel   string
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func newCommon(name string, stderr io.Writer) *common {
	c := &common{fs: flag.NewFlagSet("fleetboot "+name, flag.ContinueOnError)}
	c.fs.SetOutput(stderr)
	c.fs.Usage = func() { fmt.Fprint(stderr, usage) }
	c.fs.StringVar(&c.config, "config", "", "configuration file")
	c.fs.StringVar(&c.stateDir, "state-dir", "", "state folder")
	c.fs.Var(&c.dnsServers, "dns-server", "DNS server HOST:PORT (repeatable)")
	c.fs.StringVar(&c.subnet, "dns-client-subnet", "", "EDNS Client Subnet CIDR")
	c.fs.StringVar(&c.source, "dns-source-address", "", "source address of DNS queries")
	c.fs.Var(&c.params, "param", "RegisterThing parameter KEY=VALUE (repeatable)")
	c.fs.StringVar(&c.mode, "provisioning-mode", "", "keys, csr or jitp")
	c.fs.StringVar(&c.keystore, "keystore", "", "keystore URI")
	c.fs.StringVar(&c.logLevel, "log-level", "", "debug, info, warn or error")
	return c
}

// load builds the configuration: file, then environment, then flags; then defaults
// and validation. Errors name the key or flag.
func (c *common) load() (*agent.Config, error) {
	path := c.config
	if path == "" {
		path = os.Getenv("FLEETBOOT_CONFIG")
	}
	if path == "" {
		path = agent.DefaultConfigPath
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.ApplyEnv(os.Environ()); err != nil {
		return nil, err
	}
	if c.stateDir != "" {
		cfg.StateDir = c.stateDir
	}
	if len(c.dnsServers) > 0 {
		cfg.DNS.Servers = c.dnsServers
	}
	if c.subnet != "" {
		cfg.DNS.ClientSubnet = c.subnet
	}
	if c.source != "" {
		cfg.DNS.SourceAddress = c.source
	}
	if c.mode != "" {
		cfg.Provisioning.Mode = c.mode
	}
	if c.keystore != "" {
		cfg.Keystore.URI = c.keystore
	}
	if c.logLevel != "" {
		cfg.Log.Level = c.logLevel
	}
	for _, p := range c.params {
		k, v, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("flag --param %q: want KEY=VALUE", p)
		}
		if cfg.Provisioning.Parameters == nil {
			cfg.Provisioning.Parameters = map[string]string{}
		}
		cfg.Provisioning.Parameters[k] = v
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func newLogger(cfg *agent.Config, stderr io.Writer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(cfg.Log.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level: %w", err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if cfg.Log.Format == "json" {
		enc = zapcore.NewJSONEncoder(ec)
	} else {
		ec.EncodeLevel = zapcore.CapitalLevelEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(stderr), level)
	return zap.New(core), nil
}
