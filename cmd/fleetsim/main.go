// Command fleetsim simulates a fleet's first boot in one process: N devices, each
// an agent.Agent with its key and state in memory, against a
// running rig (--config device.yaml from `mockcloud serve`) or one started in
// process (--rig testdata/rig.yaml). It prints devices/s, time to online per step,
// errors by class, round trips, memory, and the crypto ceiling of this machine
// measured in the same run (before and after it), so throughput is read as a
// ratio of what the machine allows; with an in-process rig the same ratio is also
// given in CPU time, which the machine's other load disturbs less.
//
// With --hold every device stays online until all are: N live connections in one
// rig. Each takes a socket in fleetsim and one in the rig; when both are in this
// process and the open file limit cannot be raised far enough, run the rig as its
// own process (mockcloud serve) and point --config at it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/fleetboot/fleetboot/agent"
	"github.com/fleetboot/fleetboot/mockcloud"
)

const usage = `fleetsim — simulate a fleet's first boot in one process

Usage:
  fleetsim --rig testdata/rig.yaml -n 500 [flags]     start a rig in this process
  fleetsim --config DATA/device.yaml -n 500 [flags]   use a running mockcloud serve

Flags:
`

// defaultGCPercent trades memory for CPU: a simulated fleet allocates fast and
// keeps little, and every collection the rig and the agents need is CPU the
// fleet's crypto cannot use.
const defaultGCPercent = 400

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage); fs.PrintDefaults() }
	var (
		p          Params
		places     string
		rigPath    string
		pool       int
		targets    bool
		quiet      bool
		cpuProfile string
		noCeiling  bool
		gcPercent  int
		memProfile string
		work       string
	)
	fs.IntVar(&p.N, "n", 100, "devices")
	fs.StringVar(&places, "places", "us,de,jp", "places, round-robin: us (198.51.100.0/24), de (192.0.2.0/24), jp (203.0.113.0/24)")
	fs.StringVar(&p.Mode, "mode", agent.ModeCSR, "flow: csr, keys or jitp")
	fs.IntVar(&p.Concurrency, "concurrency", 0, "devices in first boot at once (0: all)")
	fs.Float64Var(&p.Rate, "rate", 0, "arrivals per second (0: all at once)")
	fs.BoolVar(&p.Hold, "hold", false, "keep every device online until all are (N live connections at once)")
	fs.DurationVar(&p.Timeout, "timeout", 10*time.Minute, "give up after this long")
	fs.DurationVar(&p.CeilingTime, "ceiling-time", 2*time.Second, "how long to measure the crypto ceiling")
	fs.BoolVar(&noCeiling, "no-ceiling", false, "skip the crypto ceiling")
	fs.StringVar(&p.DeviceConfig, "config", "", "device.yaml of a running rig")
	fs.StringVar(&rigPath, "rig", "", "rig file: start the rig in this process (ephemeral addresses)")
	fs.IntVar(&pool, "pool", -1, "with --rig: RSA key pool size (-1: the rig file's); with --config: the running rig's, for the burst estimate")
	fs.BoolVar(&targets, "target-records", false, "with --rig: the geolocation answer carries the target's addresses")
	fs.StringVar(&work, "work", "", "folder for the in-process rig's data (default: a temporary one under /dev/shm if writable, removed)")
	fs.BoolVar(&quiet, "quiet", false, "no progress bar")
	fs.BoolVar(&p.ColdPools, "cold-pools", false, "keys flow: do not fill the rig's key pools before the run (they fill from a region's first request on)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run (rig included with --rig)")
	fs.StringVar(&memProfile, "memprofile", "", "write a heap profile: with --hold once every device is online, else when the last has finished")
	fs.IntVar(&gcPercent, "gogc", defaultGCPercent, "garbage collector target percentage for this process (rig included with --rig); -1: GOGC from the environment")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleetsim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if (rigPath == "") == (p.DeviceConfig == "") {
		fmt.Fprintln(stderr, "fleetsim: give exactly one of --rig and --config")
		return 2
	}
	for _, pl := range strings.Split(places, ",") {
		if pl = strings.TrimSpace(pl); pl != "" {
			p.Places = append(p.Places, pl)
		}
	}
	if noCeiling {
		p.CeilingTime = 0
	}
	if !quiet {
		p.Progress = stderr
	}
	if work == "" && rigPath != "" {
		dir, err := os.MkdirTemp(scratchDir(), "fleetsim-")
		if err != nil {
			fmt.Fprintf(stderr, "fleetsim: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	if pool >= 0 {
		p.KeyPoolSize = pool
	}
	if gcPercent >= 0 {
		debug.SetGCPercent(gcPercent)
	}
	// Each device online holds its socket, and the server end too with an
	// in-process rig; a device in first boot briefly has its DNS sockets and the
	// claim connection open as well.
	perDevice := 1
	if rigPath != "" {
		perDevice = 2
	}
	checkFileLimit(stderr, uint64(perDevice*p.N+4*effectiveConcurrency(p)+1024), p)
	writeHeap := func() {
		if err := writeHeapProfile(memProfile); err != nil {
			fmt.Fprintf(stderr, "fleetsim: heap profile: %v\n", err)
		}
	}
	if memProfile != "" && p.Hold {
		p.AtPeak = writeHeap
	}
	var cloud *mockcloud.Cloud
	if rigPath != "" {
		if p.CeilingTime > 0 {
			c, err := MeasureCeiling(ctx, p.CeilingTime)
			if err != nil {
				fmt.Fprintf(stderr, "fleetsim: crypto ceiling: %v\n", err)
				return 1
			}
			p.Ceiling = c
		}
		if p.Mode == agent.ModeKeys {
			kp, err := MeasureKeyGen(ctx, min(p.CeilingTime, 2*time.Second))
			if err != nil {
				fmt.Fprintf(stderr, "fleetsim: rsa key generation: %v\n", err)
				return 1
			}
			p.KeyPool = kp
		}
		var err error
		cloud, err = startRig(ctx, rigPath, work, pool, targets)
		if err != nil {
			fmt.Fprintf(stderr, "fleetsim: %v\n", err)
			return 1
		}
		defer cloud.Close()
		p.RigInProcess = true
		p.DeviceConfig = cloud.Files().DeviceConfig
		p.KeyPoolSize = cloud.Config().IoT.KeyPoolSize
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "fleetsim: %v\n", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "fleetsim: cpu profile: %v\n", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	rep, err := Simulate(ctx, p)
	if err != nil {
		fmt.Fprintf(stderr, "fleetsim: %v\n", err)
		return 2
	}
	if cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	if memProfile != "" && !p.Hold {
		writeHeap() // before the rig closes
	}
	if rep.Ceiling != nil {
		// Measured again on a quiet machine: the rig is stopped first, so that
		// nothing of it (a key pool refilling, say) competes.
		if cloud != nil {
			if err := cloud.Close(); err != nil {
				fmt.Fprintf(stderr, "fleetsim: close the rig: %v\n", err)
			}
		}
		c, err := MeasureCeiling(ctx, p.CeilingTime)
		if err != nil {
			fmt.Fprintf(stderr, "fleetsim: crypto ceiling after the run: %v\n", err)
			return 1
		}
		rep.SetCeilingAfter(c)
	}
	if err := WriteReport(stdout, rep); err != nil {
		fmt.Fprintf(stderr, "fleetsim: %v\n", err)
		return 1
	}
	if rep.Failed > 0 {
		return 1
	}
	return 0
}

// startRig starts a rig in this process on fresh loopback addresses, its data
// under work.
func startRig(ctx context.Context, path, work string, pool int, targets bool) (*mockcloud.Cloud, error) {
	cfg, err := mockcloud.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	if pool >= 0 {
		cfg.IoT.KeyPoolSize = pool
	}
	if targets {
		cfg.IncludeTargetRecords = true
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return mockcloud.Start(sctx, cfg, mockcloud.Options{DataDir: work + "/rig", Ephemeral: true})
}

// scratchDir prefers tmpfs for an in-process rig's data: every registry commit
// fsyncs, and on a disk those fsyncs, not the CPU, would bound the run.
func scratchDir() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if f, err := os.CreateTemp("/dev/shm", ".fleetsim-probe-*"); err == nil {
			name := f.Name()
			f.Close()
			os.Remove(name)
			return "/dev/shm"
		}
	}
	return ""
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC() // the profile shows live objects as of the last collection
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// checkFileLimit raises the open file limit to want if it can, and warns when a
// held fleet will not fit.
func checkFileLimit(stderr io.Writer, want uint64, p Params) {
	got, err := raiseFileLimit(want)
	switch {
	case err != nil:
		fmt.Fprintf(stderr, "fleetsim: raise the open file limit: %v\n", err)
	case got < want && p.Hold:
		fmt.Fprintf(stderr, "fleetsim: warning: %d open files allowed, about %d wanted for %d devices online at once; "+
			"raise the hard limit (ulimit -Hn) or run the rig as its own process (mockcloud serve, then --config)\n", got, want, p.N)
	}
}
