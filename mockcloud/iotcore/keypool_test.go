package iotcore

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"
)

// waitFull waits until p holds cap keys; the deadline only stops a broken test.
func waitFull(t *testing.T, p *keyPool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for len(p.keys) < cap(p.keys) {
		if time.Now().After(deadline) {
			t.Fatalf("pool holds %d of %d keys after a minute", len(p.keys), cap(p.keys))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKeyPool(t *testing.T) {
	for _, tc := range []struct {
		name        string
		size        int
		start       bool
		gets        int
		wantFilling bool
	}{
		{"started, never asked: no key made", 2, true, 0, false},
		{"not started: inline only", 2, false, 1, false},
		{"no pool: inline only", 0, true, 1, false},
		{"first request starts the filler", 2, true, 1, true},
		{"a burst beyond the pool is served inline", 2, true, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			p := newKeyPool(tc.size, zap.NewNop())
			if tc.start {
				p.start(ctx)
			}
			for range tc.gets {
				k, err := p.get()
				if err != nil {
					t.Fatal(err)
				}
				if k.N.BitLen() != rsaBits {
					t.Fatalf("key of %d bits", k.N.BitLen())
				}
			}
			p.mu.Lock()
			filling := p.filling
			p.mu.Unlock()
			if filling != tc.wantFilling {
				t.Fatalf("filling %v, want %v", filling, tc.wantFilling)
			}
			if filling {
				waitFull(t, p)
				k, err := p.get()
				if err != nil || k == nil {
					t.Fatalf("pooled key: %v", err)
				}
			} else if len(p.keys) != 0 {
				t.Fatalf("%d keys made without a filler", len(p.keys))
			}
			cancel()
			p.wait()
			p.fill() // after wait: must not start anything
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.filling != tc.wantFilling {
				t.Fatal("a filler started after wait")
			}
		})
	}
}
