package api

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/paybridge/paybridge/clock"
)

// ErrNotDue is what a NonBlocking clock returns instead of waiting: the
// moment asked for has not come. payment.Executor.Run then returns with the
// payment still running and its lock released, and the scheduler calls Run
// again when the hop falls due.
var ErrNotDue = errors.New("api: not due yet")

// nonBlocking is a clock that never waits.
type nonBlocking struct{ clock.Clock }

// NonBlocking wraps c so WaitUntil returns at once: nil if c has reached
// t, ErrNotDue if not. The server's executor runs on it, so no request
// waits behind a payment sleeping on the clock.
func NonBlocking(c clock.Clock) clock.Clock { return nonBlocking{c} }

func (n nonBlocking) WaitUntil(ctx context.Context, t time.Time) error {
	if t.After(n.Now()) {
		return ErrNotDue
	}
	return ctx.Err()
}

// Manual is a clock that moves only when told (POST /v1/clock/advance):
// unlike clock.Virtual, WaitUntil waits for someone to advance it past t.
// Safe for concurrent use.
type Manual struct {
	*clock.Virtual
	mu      sync.Mutex
	changed chan struct{}
}

// NewManual returns a manual clock over v (which keeps the time).
func NewManual(v *clock.Virtual) *Manual { return &Manual{Virtual: v, changed: make(chan struct{})} }

// Advance moves the clock forward by d and wakes the waiters.
func (m *Manual) Advance(d time.Duration) {
	m.Virtual.Advance(d)
	m.mu.Lock()
	close(m.changed)
	m.changed = make(chan struct{})
	m.mu.Unlock()
}

// WaitUntil waits until the clock has been advanced to t or ctx ends.
func (m *Manual) WaitUntil(ctx context.Context, t time.Time) error {
	for {
		m.mu.Lock()
		ch := m.changed
		m.mu.Unlock()
		if !t.After(m.Now()) {
			return ctx.Err()
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
