package agent

import (
	"context"
	"testing"
	"time"
)

func TestBackoffGrowsCapsAndResets(t *testing.T) {
	one := func() float64 { return 0.999999 }
	b := &Backoff{Base: time.Second, Cap: 10 * time.Second, Rand: one}
	var got []time.Duration
	for i := 0; i < 6; i++ {
		got = append(got, b.Next().Round(time.Second))
	}
	want := []time.Duration{1, 2, 4, 8, 10, 10}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("ceilings %v, want %v s", got, want)
		}
	}
	b.Reset()
	if d := b.Next().Round(time.Second); d != time.Second {
		t.Fatalf("after reset %v, want 1s", d)
	}
}

// Full jitter: a fleet that fails together spreads over the whole window instead of
// retrying in lockstep.
func TestBackoffSpreadsAFleet(t *testing.T) {
	const devices = 1000
	buckets := make([]int, 10)
	for i := 0; i < devices; i++ {
		b := &Backoff{Base: time.Second, Cap: time.Minute}
		for j := 0; j < 4; j++ {
			b.Next()
		}
		d := b.Next() // ceiling 16 s
		buckets[int(d/(1600*time.Millisecond))]++
	}
	for i, n := range buckets {
		if n < devices/10/2 || n > devices/10*2 {
			t.Fatalf("bucket %d holds %d of %d devices: not spread (%v)", i, n, devices, buckets)
		}
	}
}

func TestSleepStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleep(ctx, time.Hour); err == nil {
		t.Fatal("sleep ignored a cancelled context")
	}
}

func TestTrustedNow(t *testing.T) {
	if _, ok := trustedNow(time.Unix(0, 0)); ok {
		t.Fatal("1970 trusted")
	}
	last := time.Now().Add(time.Hour)
	if now, ok := trustedNow(time.Now(), last); ok || !now.Equal(last) {
		t.Fatal("a clock behind the last state write was trusted")
	}
	if _, ok := trustedNow(time.Now()); !ok {
		t.Fatal("the real clock was not trusted")
	}
}
