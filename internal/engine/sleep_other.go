//go:build !linux

package engine

import (
	"context"
	"time"
)

// sleep blocks for d or until ctx ends, on a timer.
func sleep(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
