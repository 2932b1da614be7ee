package agent

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is exponential backoff with full jitter (each wait uniform in [0, min(cap,
// base·2^n)]). Full jitter spreads a fleet that fails together, so a region coming
// back is not hit by every gateway in the same second. Not safe for concurrent use.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
	// Rand returns a float in [0,1); nil uses math/rand/v2.
	Rand func() float64

	attempt int
}

// Next returns the wait before the next attempt and counts the attempt.
func (b *Backoff) Next() time.Duration {
	base, limit := b.Base, b.Cap
	if base <= 0 {
		base = time.Second
	}
	if limit <= 0 {
		limit = 5 * time.Minute
	}
	ceil := base
	for i := 0; i < b.attempt && ceil < limit; i++ {
		ceil *= 2
	}
	if ceil > limit {
		ceil = limit
	}
	b.attempt++
	r := b.Rand
	if r == nil {
		r = rand.Float64
	}
	return time.Duration(r() * float64(ceil))
}

// Attempt is the number of waits handed out since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts over after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
