// Package clock is paybridge's time source. Everything time-dependent takes
// a Clock instead of calling time.Now, so the same code runs on the wall
// clock (Real), on a sped-up wall clock for demos (Scaled: one simulated hour
// every 3600/N real seconds) and on a Virtual clock that only moves when the
// caller moves it (simulation and tests). Every Clock also satisfies
// ledger.Clock (Now only).
package clock

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaxScale is the largest speed-up a Scaled clock accepts.
const MaxScale = 1_000_000

// Clock gives the current time and waits for a moment to come.
type Clock interface {
	// Now returns the clock's current time.
	Now() time.Time
	// WaitUntil returns when the clock has reached t (at once if it already
	// has), or ctx's error if ctx ends first. A Virtual clock does not wait:
	// it moves itself forward to t.
	WaitUntil(ctx context.Context, t time.Time) error
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// WaitUntil sleeps until the wall clock reaches t.
func (Real) WaitUntil(ctx context.Context, t time.Time) error {
	return sleep(ctx, time.Until(t))
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Scaled runs Scale times faster than the wall clock: simulated time is
// SimAnchor + (wall time − RealAnchor) × Scale. Both anchors are fields so a
// restarted process can rebuild the same clock from stored values.
type Scaled struct {
	Scale      float64
	RealAnchor time.Time
	SimAnchor  time.Time
}

// NewScaled returns a clock scale times faster than the wall clock, whose
// simulated time starts at start (the wall time if start is zero).
func NewScaled(scale float64, start time.Time) *Scaled {
	now := time.Now()
	if start.IsZero() {
		start = now
	}
	return &Scaled{Scale: scale, RealAnchor: now, SimAnchor: start}
}

// Now returns the simulated time.
func (s *Scaled) Now() time.Time {
	real := time.Since(s.RealAnchor)
	return s.SimAnchor.Add(time.Duration(float64(real) * s.Scale))
}

// WaitUntil sleeps the real time it takes the simulated clock to reach t.
func (s *Scaled) WaitUntil(ctx context.Context, t time.Time) error {
	return sleep(ctx, time.Duration(float64(t.Sub(s.Now()))/s.Scale))
}

// Virtual is a clock that moves only when told: Set and Advance move it, and
// WaitUntil moves it forward to the moment waited for. It never goes back.
// Safe for concurrent use.
type Virtual struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtual returns a virtual clock at start.
func NewVirtual(start time.Time) *Virtual { return &Virtual{now: start} }

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Set moves the clock to t if t is later than now.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	if t.After(v.now) {
		v.now = t
	}
	v.mu.Unlock()
}

// Advance moves the clock forward by d (d < 0 is ignored).
func (v *Virtual) Advance(d time.Duration) {
	if d > 0 {
		v.mu.Lock()
		v.now = v.now.Add(d)
		v.mu.Unlock()
	}
}

// WaitUntil moves the clock forward to t and returns at once.
func (v *Virtual) WaitUntil(ctx context.Context, t time.Time) error {
	v.Set(t)
	return ctx.Err()
}

// Spec is a parsed clock flag: "virtual", "real" or "scaled:N".
type Spec struct {
	Kind  string // "virtual", "real" or "scaled"
	Scale float64
}

// ParseSpec parses "virtual", "real" or "scaled:N" (N > 0, ≤ MaxScale: one
// simulated second per 1/N real seconds).
func ParseSpec(s string) (Spec, error) {
	switch s {
	case "virtual", "real":
		return Spec{Kind: s, Scale: 1}, nil
	}
	if rest, ok := strings.CutPrefix(s, "scaled:"); ok {
		n, err := strconv.ParseFloat(rest, 64)
		if err != nil || !(n > 0) || n > MaxScale {
			return Spec{}, fmt.Errorf("scaled:N needs a number N with 0 < N ≤ %d, not %q", MaxScale, rest)
		}
		return Spec{Kind: "scaled", Scale: n}, nil
	}
	return Spec{}, fmt.Errorf("%q is not virtual, real or scaled:N", s)
}

// String formats the spec back as a flag value.
func (s Spec) String() string {
	if s.Kind == "scaled" {
		return "scaled:" + strconv.FormatFloat(s.Scale, 'g', -1, 64)
	}
	return s.Kind
}
