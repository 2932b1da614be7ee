// Command fleetboot is the first-boot agent of a Linux IoT gateway: it finds the home
// region through DNS, trades the claim certificate for the device's own identity
// (AWS IoT fleet provisioning) and stays connected with it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/fleetboot/fleetboot/agent"
)

// version is set at link time.
var version = "dev"

// Exit codes, so that systemd and scripts can tell failures apart.
const (
	exitOK        = 0
	exitFailure   = 1  // anything not listed below
	exitUsage     = 64 // unknown command, bad flags or arguments (EX_USAGE)
	exitConfig    = 78 // configuration or local files are wrong (EX_CONFIG): retrying cannot help
	exitRejected  = 3  // the cloud refused a provisioning request
	exitIdentity  = 4  // the home region does not accept the device certificate
	exitThrottled = 5  // the cloud throttled the device; retry later
	exitTransient = 75 // network or DNS failure (EX_TEMPFAIL); retry later
)

const usage = `fleetboot — first-boot agent for IoT gateways

Usage:
  fleetboot [run]        provision if needed, then stay online (default)
  fleetboot provision    provision if needed, prove the identity once, exit
  fleetboot status       show the device state (--json for machines)
  fleetboot check        validate the configuration and show what would be used
  fleetboot reset --yes  forget the identity: state file and keys
  fleetboot factory …    production line: keygen, install-cert, show (fleetboot factory help)
  fleetboot version      print the version

Common flags (after the subcommand):
  --config FILE              configuration file (default /etc/fleetboot/config.yaml, or $FLEETBOOT_CONFIG)
  --state-dir DIR            state folder (default /var/lib/fleetboot)
  --dns-server HOST:PORT     DNS server; repeatable (default: /etc/resolv.conf)
  --dns-client-subnet CIDR   EDNS Client Subnet sent with DNS queries
  --dns-source-address IP    local address DNS queries are sent from
  --param KEY=VALUE          RegisterThing parameter; repeatable
  --provisioning-mode MODE   keys, csr or jitp
  --keystore URI             file:DIR, tpm:///dev/tpmrm0 or tpm://127.0.0.1:2321 (swtpm)
  --log-level LEVEL          debug, info, warn or error

Environment: FLEETBOOT_<KEY> sets a config key (FLEETBOOT_DNS_CLIENT_SUBNET sets
dns.clientSubnet); flags override the environment, which overrides the file.

Exit codes:
  0   success
  1   unexpected failure
  64  usage error: unknown command, bad flag or argument
  78  configuration error (fix the config or the file it names; retrying cannot help)
  3   the cloud rejected a provisioning request (fix the template, policy or parameters)
  4   the home region does not accept the device certificate
  5   throttled by the cloud (retry later)
  75  network or DNS failure (retry later)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return cmdRun(ctx, args, stdout, stderr)
	case "provision":
		return cmdProvision(ctx, args, stdout, stderr)
	case "status":
		return cmdStatus(ctx, args, stdout, stderr)
	case "check":
		return cmdCheck(ctx, args, stdout, stderr)
	case "reset":
		return cmdReset(ctx, args, stdout, stderr)
	case "factory":
		return cmdFactory(ctx, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "fleetboot", version)
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	}
	fmt.Fprintf(stderr, "fleetboot: unknown command %q\n\n%s", cmd, usage)
	return exitUsage
}

// exitCode maps an agent error to the documented exit codes.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var e *agent.Error
	if !errors.As(err, &e) {
		return exitFailure
	}
	switch e.Class {
	case agent.ClassConfig:
		return exitConfig
	case agent.ClassRejected:
		return exitRejected
	case agent.ClassIdentity:
		return exitIdentity
	case agent.ClassThrottled:
		return exitThrottled
	default:
		return exitTransient
	}
}
