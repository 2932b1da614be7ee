package agent

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// diskRetry bounds the waits between attempts at a write that failed for a full
// disk. The write is retried in place, never by redoing the network step before
// it: a registered result that could not be saved is written again, so a full
// disk right after RegisterThing costs no second certificate.
var diskRetry = struct{ base, limit time.Duration }{time.Second, time.Minute}

// retryDiskFull runs write until it succeeds, fails for another reason than a
// full disk, or ctx ends (then it returns the last error).
func (a *Agent) retryDiskFull(ctx context.Context, what string, write func() error) error {
	bo := a.backoff(diskRetry.base, diskRetry.limit)
	for {
		err := write()
		if err == nil || !diskFull(err) {
			return err
		}
		wait := bo.Next()
		a.log.Warn("disk full: retrying the write", zap.String("write", what), zap.Int("attempt", bo.Attempt()),
			zap.Duration("wait", wait), zap.Error(err),
			zap.String("hint", "free space on the state folder's file system; nothing is asked of the cloud again"))
		if serr := a.sleep(ctx, wait); serr != nil {
			return err
		}
	}
}
