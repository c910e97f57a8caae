package clock

import (
	"context"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
)

var (
	_ ledger.Clock = Real{}
	_ ledger.Clock = (*Scaled)(nil)
	_ ledger.Clock = (*Virtual)(nil)
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in    string
		kind  string
		scale float64
		ok    bool
	}{
		{"virtual", "virtual", 1, true},
		{"real", "real", 1, true},
		{"scaled:600", "scaled", 600, true},
		{"scaled:0.5", "scaled", 0.5, true},
		{"scaled:0", "", 0, false},
		{"scaled:-3", "", 0, false},
		{"scaled:x", "", 0, false},
		{"scaled:1e9", "", 0, false},
		{"fast", "", 0, false},
		{"", "", 0, false},
	} {
		s, err := ParseSpec(tc.in)
		if (err == nil) != tc.ok || s.Kind != tc.kind || s.Scale != tc.scale {
			t.Errorf("ParseSpec(%q) = %+v, %v", tc.in, s, err)
		}
		if tc.ok && s.String() != tc.in {
			t.Errorf("String() = %q, want %q", s.String(), tc.in)
		}
	}
}

func TestVirtualNeverGoesBack(t *testing.T) {
	t0 := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	v := NewVirtual(t0)
	v.Advance(time.Hour)
	v.Set(t0) // earlier: ignored
	if got := v.Now(); !got.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Now = %v", got)
	}
	if err := v.WaitUntil(context.Background(), t0.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := v.Now(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("after WaitUntil Now = %v", got)
	}
	v.Advance(-time.Hour)
	if got := v.Now(); !got.Equal(t0.Add(3 * time.Hour)) {
		t.Fatalf("negative Advance moved the clock: %v", got)
	}
}

func TestScaledRunsFaster(t *testing.T) {
	start := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	s := NewScaled(3600, start) // one simulated hour per real second
	target := start.Add(36 * time.Second)
	began := time.Now()
	if err := s.WaitUntil(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	if real := time.Since(began); real > 500*time.Millisecond {
		t.Fatalf("36 simulated seconds took %v real at ×3600", real)
	}
	if now := s.Now(); now.Before(target) {
		t.Fatalf("Now %v before target %v", now, target)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (Real{}).WaitUntil(ctx, time.Now().Add(time.Hour)); err == nil {
		t.Fatal("WaitUntil ignored a cancelled context")
	}
	if err := NewVirtual(time.Now()).WaitUntil(ctx, time.Now()); err == nil {
		t.Fatal("virtual WaitUntil ignored a cancelled context")
	}
}

// FuzzParseSpec: any --clock value parses or errors, never panics, and a
// parsed spec formats back to a value that parses to the same spec.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"virtual", "real", "scaled:600", "scaled:0.001", "scaled:", "scaled:NaN", "scaled:+Inf", "scaled:1e6", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSpec(s)
		if err != nil {
			return
		}
		if !(spec.Scale > 0) || spec.Scale > MaxScale {
			t.Fatalf("ParseSpec(%q) accepted scale %v", s, spec.Scale)
		}
		again, err := ParseSpec(spec.String())
		if err != nil || again != spec {
			t.Fatalf("round trip of %q: %+v → %q → %+v, %v", s, spec, spec.String(), again, err)
		}
	})
}
