package eval

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/risk/dataset"
)

// sharedDir finds the shared development data: PAYBRIDGE_RISK_DATA or ../../../shared/data/risk from this package.
func sharedDir(t *testing.T) string {
	dir := os.Getenv("PAYBRIDGE_RISK_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data", "risk")
	}
	if _, err := os.Stat(filepath.Join(dir, "paysim-sample.csv")); err != nil {
		t.Skipf("shared risk data not found at %s (set PAYBRIDGE_RISK_DATA): %v", dir, err)
	}
	return dir
}

func TestScore(t *testing.T) {
	s := score(8, 2, 2)
	if s.Precision != 0.8 || s.Recall != 0.8 || s.F1 < 0.7999 || s.F1 > 0.8001 {
		t.Fatalf("%+v", s)
	}
	if z := score(0, 0, 0); z.F1 != 0 {
		t.Fatalf("%+v", z)
	}
}

// TestSharedFigures replays the development data with the default rules and
// asserts the figures of issue 6. It is skipped with -short and when the
// shared data is absent.
func TestSharedFigures(t *testing.T) {
	if testing.Short() {
		t.Skip("replays the shared data sets")
	}
	dir := sharedDir(t)
	open := func(name string) *os.File {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	ps, err := dataset.LoadPaySim(open("paysim-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ps, risk.NewEngine(nil), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("paysim: %+v", rep.Transactions)
	if rep.Transactions.F1 < 0.90 {
		t.Errorf("PaySim transaction F1 %.3f < 0.90", rep.Transactions.F1)
	}
	ibm, err := dataset.LoadIBM(open("ibm-aml-hi-small-sample.csv"))
	if err != nil {
		t.Fatal(err)
	}
	pats, err := dataset.LoadIBMPatterns(open("ibm-aml-hi-small-patterns.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Run(ibm, risk.NewEngine(nil), pats, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ibm: %+v families %+v", rep.Transactions, rep.Families)
	if rep.Transactions.Precision < 0.5 {
		t.Errorf("IBM transaction precision %.3f < 0.5", rep.Transactions.Precision)
	}
	for _, fam := range []string{"CYCLE", "FAN-IN", "FAN-OUT", "GATHER-SCATTER", "SCATTER-GATHER"} {
		f := rep.Families[fam]
		if f.Patterns == 0 {
			// No pattern of the family lies wholly inside the sample (CYCLE): score its rows instead.
			t.Logf("IBM %s: no whole pattern in the sample; row recall %.3f over %d rows", fam, f.RowsRecall, f.Rows)
			if f.RowsRecall < 0.7 {
				t.Errorf("IBM %s row recall %.3f < 0.7", fam, f.RowsRecall)
			}
			continue
		}
		if f.Recall < 0.7 {
			t.Errorf("IBM %s per-pattern recall %.3f < 0.7", fam, f.Recall)
		}
	}
}
