package payment

import (
	"math"
	"testing"
)

// TestDrawsUniform: success draws over seeds are uniform (a χ²-style
// bucket check) and do not depend on each other across hops.
func TestDrawsUniform(t *testing.T) {
	const n, buckets = 20000, 10
	var counts [buckets]int
	var both int
	for s := range uint64(n) {
		u1, l1 := draws(s, 1, 0)
		u2, _ := draws(s, 2, 0)
		counts[int(u1*buckets)]++
		if u1 < 0.5 && u2 < 0.5 {
			both++
		}
		if l1 < 0 || l1 >= 1 {
			t.Fatalf("latency draw %v out of [0,1)", l1)
		}
	}
	for i, c := range counts {
		if math.Abs(float64(c)-n/buckets) > 5*math.Sqrt(n/buckets) {
			t.Errorf("bucket %d has %d of %d draws", i, c, n)
		}
	}
	if math.Abs(float64(both)-n/4) > 5*math.Sqrt(n/4) {
		t.Errorf("hops 1 and 2 both below 0.5 in %d of %d seeds, want about %d", both, n, n/4)
	}
}
