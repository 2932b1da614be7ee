package main

import (
	"runtime/metrics"
	"sync"
	"time"
)

// memoryEvery is how often the sampler reads the runtime's metrics; reading them
// stops nothing, so a fine period costs next to no CPU.
const memoryEvery = 50 * time.Millisecond

var memoryMetrics = []string{
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/total:bytes",
	"/sched/goroutines:goroutines",
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/stacks:bytes",
}

type memorySampler struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once

	mu      sync.Mutex
	stats   MemoryStats
	cycles0 uint64
}

// startMemorySampler records peaks until stop.
func startMemorySampler() *memorySampler {
	m := &memorySampler{quit: make(chan struct{}), done: make(chan struct{})}
	samples := make([]metrics.Sample, len(memoryMetrics))
	for i, name := range memoryMetrics {
		samples[i].Name = name
	}
	read := func() {
		metrics.Read(samples)
		m.mu.Lock()
		defer m.mu.Unlock()
		s := &m.stats
		s.PeakHeap = max(s.PeakHeap, value(samples[0]))
		s.PeakRuntime = max(s.PeakRuntime, value(samples[1]))
		s.PeakGoroutines = max(s.PeakGoroutines, int(value(samples[2])))
		s.GCCycles = value(samples[3]) - m.cycles0
		s.PeakLive = max(s.PeakLive, value(samples[4]))
		s.PeakStacks = max(s.PeakStacks, value(samples[5]))
	}
	metrics.Read(samples)
	m.cycles0 = value(samples[3])
	go func() {
		defer close(m.done)
		t := time.NewTicker(memoryEvery)
		defer t.Stop()
		for {
			read()
			select {
			case <-t.C:
			case <-m.quit:
				read()
				return
			}
		}
	}()
	return m
}

func value(s metrics.Sample) uint64 {
	if s.Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s.Value.Uint64()
}

// stop ends sampling and returns the peaks, with the process's RSS high-water mark.
func (m *memorySampler) stop() MemoryStats {
	m.once.Do(func() { close(m.quit) })
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.stats
	out.PeakRSS = peakRSS()
	return out
}
