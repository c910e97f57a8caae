package eval

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/risk/dataset"
)

// BenchmarkReplayPaySim replays the shared PaySim sample through a fresh
// engine per iteration (skips without the shared data).
func BenchmarkReplayPaySim(b *testing.B) {
	dir := os.Getenv("PAYBRIDGE_RISK_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "risk")
	}
	f, err := os.Open(filepath.Join(dir, "paysim-sample.csv"))
	if err != nil {
		b.Skipf("shared risk data not found (set PAYBRIDGE_RISK_DATA): %v", err)
	}
	set, err := dataset.LoadPaySim(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		en := risk.NewEngine(nil)
		for _, e := range set.Events {
			if _, err := en.Observe(e); err != nil {
				b.Fatal(err)
			}
		}
		n += len(set.Events)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
