package dataset

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/risk"
)

var update = flag.Bool("update", false, "rewrite testdata/amlsim-small from the generator")

func TestParseMinor(t *testing.T) {
	tests := []struct {
		in    string
		scale int
		round bool
		want  int64
		ok    bool
	}{
		{"12.34", 2, false, 1234, true}, {"0.0", 2, false, 0, true}, {"100", 2, false, 10000, true},
		{"0.05", 2, false, 5, true}, {"1.5E7", 2, false, 1500000000, true}, {"0.00012345", 8, false, 12345, true},
		{"1.234", 2, false, 0, false}, {"1.235", 2, true, 124, true}, {"1.2349", 2, true, 123, true},
		{"-1", 2, false, 0, false}, {"abc", 2, false, 0, false}, {"", 2, false, 0, false}, {"1e999", 2, false, 0, false},
		{"99999999999999999999", 2, false, 0, false}, {".5", 2, false, 50, true}, {"5.", 2, false, 500, true},
	}
	for _, tt := range tests {
		got, err := ParseMinor(tt.in, tt.scale, tt.round)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseMinor(%q, %d, %v) = %d, %v; want %d ok=%v", tt.in, tt.scale, tt.round, got, err, tt.want, tt.ok)
		}
	}
}

const paysimSample = `step,type,amount,nameOrig,oldbalanceOrg,newbalanceOrig,nameDest,oldbalanceDest,newbalanceDest,isFraud,isFlaggedFraud
2,CASH_OUT,181.0,C840083671,181.0,0.0,C38997010,21182.0,0.0,1.0,0.0
1,TRANSFER,181.0,C1305486145,181.0,0.0,C553264065,0.0,0.0,1.0,0.0
1,PAYMENT,9839.64,C1231006815,170136.0,160296.36,M1979787155,0.0,0.0,0.0,0.0
`

func TestLoadPaySim(t *testing.T) {
	s, err := LoadPaySim(strings.NewReader(paysimSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 3 || s.Events[0].Kind != risk.KindTransfer || s.Events[2].AmountMinor != 18100 || !s.Events[2].Labels.Fraud {
		t.Fatalf("events %+v", s.Events)
	}
	if _, err := LoadPaySim(strings.NewReader(strings.Replace(paysimSample, "9839.64", "98.3x", 1))); err == nil || !strings.Contains(err.Error(), "amount") {
		t.Fatalf("bad amount: %v", err)
	}
}

const ibmSample = `Timestamp,From Bank,Account,To Bank,Account,Amount Received,Receiving Currency,Amount Paid,Payment Currency,Payment Format,Is Laundering
2022/09/01 00:20,010,8000EBD30,10,8000EBD30,3697.34,US Dollar,3697.34,US Dollar,Reinvestment,0
2022/09/01 00:03,01467,8013C4030,020,80BC62F10,58702.1,Yuan,58702.1,Yuan,ACH,1
2022/09/01 00:05,1,A,2,B,0.00012345,Bitcoin,0.00012345,Bitcoin,Bitcoin,0
`

const ibmPatterns = `pattern_id,pattern_family,constraint_value,timestamp,from_bank,from_account,to_bank,to_account,amount_received,receiving_currency,amount_paid,payment_currency,payment_format,is_laundering
IBM-0002,CYCLE,10,2022/09/01 00:03,01467,8013C4030,020,80BC62F10,58702.1,Yuan,58702.1,Yuan,ACH,1
`

func TestLoadIBMAndPatterns(t *testing.T) {
	s, err := LoadIBM(strings.NewReader(ibmSample))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Events) != 3 || s.Events[0].FromAccount != "1467/8013C4030" || s.Events[1].AmountMinor != 12345 || s.Events[2].Kind != risk.KindInternal {
		t.Fatalf("events %+v", s.Events)
	}
	ps, err := LoadIBMPatterns(strings.NewReader(ibmPatterns))
	if err != nil || len(ps) != 1 || ps[0].Key != s.Events[0].ID {
		t.Fatalf("patterns %+v %v; want key %s", ps, err, s.Events[0].ID)
	}
}

func TestLoadJSONL(t *testing.T) {
	in := `{"time":"2026-01-01T00:00:00Z","id":"p1","from_account":"a","to_account":"b","amount_minor":100,"currency":"CNY","kind":"pay","labels":{"fraud":true}}` + "\n\n"
	s, err := LoadJSONL(strings.NewReader(in))
	if err != nil || len(s.Events) != 1 || !s.PositiveAccounts["a"] {
		t.Fatalf("%+v %v", s, err)
	}
	if _, err := LoadJSONL(strings.NewReader(`{"id":"p1","colour":"red"}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
	if _, err := LoadJSONL(strings.NewReader(`{"time":"2026-01-01T00:00:00Z","id":"p1","from_account":"a","to_account":"b","amount_minor":1,"currency":"CNY","kind":"steal"}`)); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("bad kind: %v", err)
	}
}

// GenerateAMLSim writes a small AMLSim-format data set from seed: background
// transfers among normal accounts plus one cycle, one fan-in, one fan-out
// and one gather-scatter among fraud accounts.
func GenerateAMLSim(seed uint64) (transactions, nodes []byte) {
	r := rand.New(rand.NewPCG(seed, 11))
	var tx, nd bytes.Buffer
	tx.WriteString("sourceNodeId,targetNodeId,value,time\n")
	nd.WriteString("ACCOUNT_ID,isFraud,init_balance\n")
	const normal, fraud = 60, 20
	for i := range normal + fraud {
		fmt.Fprintf(&nd, "%d,%v,%d.%02d\n", i, i >= normal, 1000+r.IntN(9000), r.IntN(100))
	}
	row := func(a, b, step int, v float64) { fmt.Fprintf(&tx, "%d,%d,%.2f,%d\n", a, b, v, step) }
	for step := range 30 {
		for range 8 {
			a, b := r.IntN(normal), r.IntN(normal)
			if a != b {
				row(a, b, step, 10+float64(r.IntN(50000))/100)
			}
		}
	}
	f := normal
	row(f, f+1, 5, 900) // cycle f → f+1 → f+2 → f
	row(f+1, f+2, 6, 880)
	row(f+2, f, 7, 860)
	for i := 1; i <= 5; i++ { // fan-in to f+3
		row(f+3+i, f+3, 10, 300+float64(i))
	}
	for i := 1; i <= 5; i++ { // fan-out from f+9
		row(f+9, f+9+i, 14, 200+float64(i))
	}
	for i := 0; i < 3; i++ { // gather-scatter through f+15
		row(f+16+i, f+15, 20, 1000)
	}
	for i := 0; i < 3; i++ {
		row(f+15, f+3+i, 21, 880)
	}
	return tx.Bytes(), nd.Bytes()
}

func TestAMLSimFixture(t *testing.T) {
	dir := filepath.Join("testdata", "amlsim-small")
	tx, nd := GenerateAMLSim(1)
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "transactions.csv"), tx, 0o644)
		os.WriteFile(filepath.Join(dir, "nodes.csv"), nd, 0o644)
	}
	gotTx, err1 := os.ReadFile(filepath.Join(dir, "transactions.csv"))
	gotNd, err2 := os.ReadFile(filepath.Join(dir, "nodes.csv"))
	if err1 != nil || err2 != nil || !bytes.Equal(gotTx, tx) || !bytes.Equal(gotNd, nd) {
		t.Fatalf("testdata/amlsim-small differs from GenerateAMLSim(1); run go test -run TestAMLSimFixture -update (%v %v)", err1, err2)
	}
	s, err := LoadAMLSim(dir)
	if err != nil {
		t.Fatal(err)
	}
	en := risk.NewEngine(nil)
	fired := map[string]bool{}
	for _, e := range s.Events {
		d, err := en.Observe(e)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range d.Matches {
			fired[m.RuleID] = true
		}
	}
	for _, want := range []string{"cycle", "fan-in", "fan-out", "gather-scatter"} {
		if !fired[want] {
			t.Errorf("rule %s never fired on the fixture (fired: %v)", want, fired)
		}
	}
	if len(s.PositiveAccounts) != 20 {
		t.Fatalf("%d fraud accounts", len(s.PositiveAccounts))
	}
}

func TestAMLSimTransactionLabels(t *testing.T) {
	tx := "sourceNodeId,targetNodeId,value,time,is_sar\n1,2,10.005,3,True\n2,3,1E2,4,False\n"
	nd := "ACCOUNT_ID,isFraud,init_balance\n1,false,1\n2,false,1\n3,true,1\n"
	s, err := LoadAMLSimReaders(strings.NewReader(tx), strings.NewReader(nd))
	if err != nil {
		t.Fatal(err)
	}
	if !s.Events[0].Labels.Fraud || s.Events[1].Labels.Fraud || s.Events[0].AmountMinor != 1001 || s.Events[1].AmountMinor != 10000 {
		t.Fatalf("%+v", s.Events)
	}
	if _, err := LoadAMLSimReaders(strings.NewReader("sourceNodeId,targetNodeId,value\n"), strings.NewReader(nd)); err == nil || !strings.Contains(err.Error(), "time") {
		t.Fatalf("missing column: %v", err)
	}
}

func FuzzLoadPaySim(f *testing.F) {
	f.Add([]byte(paysimSample))
	f.Add([]byte("step,type,amount,nameOrig,nameDest,isFraud\n1,TRANSFER,1e3,a,b,1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadPaySim(bytes.NewReader(b))
		checkSet(t, s, err)
	})
}

func FuzzLoadIBM(f *testing.F) {
	f.Add([]byte(ibmSample))
	f.Add([]byte(ibmPatterns))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadIBM(bytes.NewReader(b))
		checkSet(t, s, err)
		LoadIBMPatterns(bytes.NewReader(b))
	})
}

func FuzzLoadAMLSim(f *testing.F) {
	tx, nd := GenerateAMLSim(1)
	f.Add(tx, nd)
	f.Add([]byte("sourceNodeId,targetNodeId,value,time\n1,2,3.456,4.0\n"), []byte("ACCOUNT_ID,isFraud\n1,true\n"))
	f.Fuzz(func(t *testing.T, tx, nd []byte) {
		s, err := LoadAMLSimReaders(bytes.NewReader(tx), bytes.NewReader(nd))
		checkSet(t, s, err)
	})
}

func FuzzLoadJSONL(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","id":"p1","from_account":"a","to_account":"b","amount_minor":100,"currency":"CNY","kind":"pay"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := LoadJSONL(bytes.NewReader(b))
		checkSet(t, s, err)
	})
}

// checkSet asserts a loader's contract: an error, or valid time-ordered events.
func checkSet(t *testing.T, s *Set, err error) {
	if err != nil {
		if s != nil {
			t.Fatal("error with a set")
		}
		return
	}
	for i := range s.Events {
		if verr := s.Events[i].Validate(); verr != nil {
			t.Fatalf("loader returned an invalid event: %v", verr)
		}
		if i > 0 && s.Events[i].Time.Before(s.Events[i-1].Time) {
			t.Fatal("events out of time order")
		}
	}
	en := risk.NewEngine(nil)
	for _, e := range s.Events {
		if _, err := en.Observe(e); err != nil {
			t.Fatal(err)
		}
	}
}
