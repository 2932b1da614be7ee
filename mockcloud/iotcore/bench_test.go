package iotcore_test

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetboot/fleetboot/mockcloud/iotcore"
	"github.com/fleetboot/fleetboot/provisioning"
	"go.uber.org/zap"
)

func quiet(c *iotcore.Config) { c.Logger = zap.NewNop() }

// BenchmarkCreateCertificateFromCSR runs the whole operation through the broker:
// paho clients over mutual TLS, each publishing a CSR and waiting for its reply.
func BenchmarkCreateCertificateFromCSR(b *testing.B) {
	rg := newRig(b, quiet)
	csr, _ := newCSR(b)
	f := provisioning.FormatJSON
	topic := provisioning.CreateFromCSRTopic(f)
	payload := marshal(b, f, provisioning.CreateCertificateFromCSRRequest{CertificateSigningRequest: string(csr)})
	var n atomic.Int64
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c, err := rg.dial(rg.claim, fmt.Sprintf("bench-%d", n.Add(1)), dialOpt{})
		if err != nil {
			b.Error(err)
			return
		}
		ch, err := c.subscribe(b, topic.Replies()...)
		if err != nil {
			b.Error(err)
			return
		}
		for pb.Next() {
			if err := c.publish(b, topic.Request(), 1, payload); err != nil {
				b.Error(err)
				return
			}
			m, ok := receive(b, ch, 20*time.Second)
			if !ok || !strings.HasSuffix(m.topic, "/accepted") {
				b.Errorf("no accepted reply (%q)", m.topic)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "provisions/s")
}

// BenchmarkIdleRegion1000Clients connects 1,000 paho clients and reports the
// process's heap and RSS with all of them idle. Clients and region share the
// process, so the numbers are an upper bound for the region alone.
func BenchmarkIdleRegion1000Clients(b *testing.B) {
	const clients = 1000
	rg := newRig(b, quiet)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range clients {
		if _, err := rg.dial(rg.claim, "idle-"+strconv.Itoa(i), dialOpt{}); err != nil {
			b.Fatalf("client %d: %v", i, err)
		}
	}
	for b.Loop() {
		time.Sleep(10 * time.Millisecond) // idle
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/clients/1024, "heap-KiB/client")
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	if rss, ok := vmRSS(); ok {
		b.ReportMetric(rss/(1<<20), "rss-MiB")
	}
}

func vmRSS() (float64, bool) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024, err == nil
		}
	}
	return 0, false
}
