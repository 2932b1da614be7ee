// Command mockcloud runs a mock AWS IoT rig on loopback: every region of a rig file,
// the Route 53-style geolocation DNS and the control plane.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/fleetboot/fleetboot/mockcloud"
	"github.com/fleetboot/fleetboot/mockcloud/controlplane"
)

const usage = `mockcloud — a mock AWS IoT Core + Route 53 rig on loopback

Usage:
  mockcloud serve --config testdata/rig.yaml --data DIR [--ephemeral] [--latency 100ms] [--log-level info]
      Start every region, the geolocation DNS and the control plane; print one
      "mockcloud ready" line naming every listener; stop on SIGINT/SIGTERM.
      First start creates in DIR: root-ca.pem, root-ca.key, claim.pem, claim.key,
      maker-ca.pem, maker-ca.key, device.yaml and regions/<region>/registry.db. --ephemeral puts every
      region on a fresh 127.x.y.z address (one shared port) and DNS and the
      control plane on ephemeral ports of 127.0.0.1; device.yaml follows.
      --latency adds a one-way delay to every DNS (UDP and TCP) and MQTT socket,
      both ways, so a request and its reply cost twice that more; the control
      plane and the kernel's TCP handshakes are not delayed.
  mockcloud things --control URL --region REGION
      List the things of one region through the control plane.
  mockcloud sign-csr --data DIR --csr FILE --out FILE [--days 7300]
      Sign a device CSR with the rig's maker CA (DIR/maker-ca.pem, registered in
      every region for JITP), as a factory line does; scripts/factory-sign.sh
      does the same with openssl for a maker's own CA.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stdout, stderr)
	case "things":
		return things(ctx, args[1:], stdout, stderr)
	case "sign-csr":
		return signCSR(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "mockcloud: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mockcloud serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "testdata/rig.yaml", "rig file")
	data := fs.String("data", "", "data folder (created if missing)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	ephemeral := fs.Bool("ephemeral", false, "ignore the rig's addresses: fresh loopback addresses and ports, so rigs run side by side")
	latency := fs.Duration("latency", 0, "one-way delay added to every DNS and MQTT socket, both ways (e.g. 100ms)")
	empty := fs.Bool("empty", false, "start the regions with nothing registered (no claim, policies, group, templates or CAs), to be set up through the control plane as an AWS account is")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *latency < 0 {
		fmt.Fprintf(stderr, "mockcloud serve: --latency %v is negative\n", *latency)
		return 2
	}
	if *data == "" {
		fmt.Fprintln(stderr, "mockcloud serve: --data DIR is required")
		return 2
	}
	lvl, err := zapcore.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud serve: --log-level: %v\n", err)
		return 2
	}
	cfg, err := mockcloud.LoadConfig(*config)
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud serve: %v\n", err)
		return 2
	}
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	log := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.AddSync(stderr), lvl))
	defer log.Sync() //nolint:errcheck

	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	cloud, err := mockcloud.Start(startCtx, cfg, mockcloud.Options{DataDir: *data, Logger: log, Ephemeral: *ephemeral, Latency: *latency, Empty: *empty})
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud serve: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, readyLine(cloud))
	<-ctx.Done()
	log.Info("stopping")
	if err := cloud.Close(); err != nil {
		fmt.Fprintf(stderr, "mockcloud serve: stop: %v\n", err)
		return 1
	}
	return 0
}

// readyLine names every listener on one line, for scripts to wait on and parse.
func readyLine(c *mockcloud.Cloud) string {
	parts := []string{"mockcloud ready:", "dns=" + c.DNSAddr(), "control=" + c.ControlPlaneURL()}
	for _, r := range c.Regions() {
		parts = append(parts, r.Name+"="+r.Addr.String())
	}
	parts = append(parts, "latency="+c.Latency().String(), "data="+filepath.Dir(c.Files().DeviceConfig))
	return strings.Join(parts, " ")
}

func things(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mockcloud things", flag.ContinueOnError)
	fs.SetOutput(stderr)
	control := fs.String("control", "http://127.0.0.1:4566", "control plane URL")
	region := fs.String("region", "", "region")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *region == "" {
		fmt.Fprintln(stderr, "mockcloud things: --region is required")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	list, err := controlplane.ListThings(ctx, *control, *region)
	if err != nil {
		fmt.Fprintf(stderr, "mockcloud things: %v\n", err)
		return 1
	}
	sort.Slice(list, func(i, j int) bool { return list[i].ThingName < list[j].ThingName })
	for _, t := range list {
		fmt.Fprintln(stdout, t.ThingName)
	}
	return 0
}
