package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery keeps the bar at 5 redraws a second at most: a terminal redrawn
// faster costs CPU the simulated fleet needs.
const progressEvery = 200 * time.Millisecond

const barWidth = 30

type progress struct {
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

// startProgress redraws one line on w until stop; w nil draws nothing.
func startProgress(w io.Writer, total int, online, failed *atomic.Int64) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	start := time.Now()
	draw := func(final bool) {
		on, fail := int(online.Load()), int(failed.Load())
		fmt.Fprint(w, "\r"+progressLine(total, on, fail, time.Since(start)))
		if final {
			fmt.Fprintln(w)
		}
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw(false)
			case <-p.quit:
				draw(true)
				return
			}
		}
	}()
	return p
}

func progressLine(total, online, failed int, elapsed time.Duration) string {
	filled := 0
	if total > 0 {
		filled = (online + failed) * barWidth / total
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(online) / s
	}
	return fmt.Sprintf("[%s%s] %d/%d online, %d failed, %.1f devices/s, %s ",
		strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		online, total, failed, rate, elapsed.Truncate(100*time.Millisecond))
}

func (p *progress) stop() {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
		default:
			close(p.quit)
		}
	})
	<-p.done
}
