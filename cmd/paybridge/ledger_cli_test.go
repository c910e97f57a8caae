package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

// TestLedgerCommandsEndToEnd runs bench ledger on a small load, verifies the
// database it leaves, and checks that verify finds a broken journal, a
// broken invariant and bad usage.
func TestLedgerCommandsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildPaybridge(t)
	db := filepath.Join(dir, "bench.db")

	r := runPaybridge(t, bin, "bench", "ledger", "--accounts", "200", "--transfers", "5000", "--batch", "100",
		"--baseline-transfers", "200", "--db", db, "--json")
	if r.code != 0 {
		t.Fatalf("bench ledger exit %d: %s", r.code, r.stderr)
	}
	var bench map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &bench); err != nil {
		t.Fatalf("bench --json output is not JSON: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"transfers_per_s", "baseline_transfers_per_s", "ratio", "commit_p50_ms", "commit_p99_ms"} {
		if v, ok := bench[k].(float64); !ok || v <= 0 {
			t.Errorf("bench --json %s = %v, want a positive number", k, bench[k])
		}
	}
	if bench["transfers"] != float64(5000) || bench["db"] != db {
		t.Errorf("bench --json transfers/db = %v/%v", bench["transfers"], bench["db"])
	}

	r = runPaybridge(t, bin, "ledger", "verify", "--db", db, "--json")
	var rep struct {
		OK         bool              `json:"ok"`
		Accounts   int               `json:"accounts"`
		Transfers  int               `json:"transfers"`
		Violations []json.RawMessage `json:"violations"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 {
		t.Fatalf("verify exit %d, output %s %s (%v)", r.code, r.stdout, r.stderr, err)
	}
	// 200 accounts + the issuer; 5000 load transfers + 200 fundings.
	if !rep.OK || rep.Accounts != 201 || rep.Transfers != 5200 || rep.Violations == nil {
		t.Errorf("verify = %+v, want ok with 201 accounts and 5200 transfers", rep)
	}
	if r := runPaybridge(t, bin, "ledger", "verify", "--db", db); r.code != 0 || !strings.Contains(r.stdout, "ok:") {
		t.Errorf("verify (text) exit %d: %s", r.code, r.stdout)
	}

	t.Run("usage", func(t *testing.T) {
		missing := filepath.Join(dir, "missing.db")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"ledger", "verify"}, "--db"},
			{[]string{"ledger", "verify", "--db", missing}, "--db"},
			{[]string{"bench", "ledger", "--batch", "0"}, "--batch"},
			{[]string{"bench", "ledger", "--accounts", "1"}, "--accounts"},
			{[]string{"bench", "ledger", "--db", db}, "--db"},
			{[]string{"bench", "ledger", "--rate", "-5"}, "--rate"},
		} {
			r := runPaybridge(t, bin, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("paybridge %v: exit %d, stderr %q; want exit 2 and one line naming %s", tc.args, r.code, r.stderr, tc.want)
			}
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("verify created the missing database %s", missing)
		}
	})

	t.Run("broken invariant", func(t *testing.T) {
		// A consistent journal whose content breaks sum-zero and the
		// balance history: written through the store, bypassing the engine.
		bad := filepath.Join(dir, "bad.db")
		s, err := sqlite.Open(bad, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = s.Commit(context.Background(), &ledger.CommitRecord{Seq: 1, Timestamp: 10, Accounts: []ledger.Account{
			{ID: 1, Currency: "CNY", BalanceFen: 500, Timestamp: 1},
		}})
		if err != nil || s.Close() != nil {
			t.Fatal(err)
		}
		r := runPaybridge(t, bin, "ledger", "verify", "--db", bad, "--json")
		if r.code != 1 || !strings.Contains(r.stdout, `"ok":false`) || !strings.Contains(r.stdout, "sum_zero") || !strings.Contains(r.stdout, "balance_history") {
			t.Errorf("verify of an unbalanced ledger: exit %d, %s", r.code, r.stdout)
		}
	})

	t.Run("tampered journal", func(t *testing.T) {
		// Flip one byte of one commit with a plain SQL client: the hash chain breaks.
		tampered := filepath.Join(dir, "tampered.db")
		data, err := os.ReadFile(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tampered, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := tamperCommit(tampered, 3); err != nil {
			t.Fatal(err)
		}
		r := runPaybridge(t, bin, "ledger", "verify", "--db", tampered, "--json")
		if r.code != 1 || !strings.Contains(r.stdout, `"journal"`) || !strings.Contains(r.stdout, "hash chain") {
			t.Errorf("verify of a tampered journal: exit %d, %s %s", r.code, r.stdout, r.stderr)
		}
	})
}

// tamperCommit changes the last byte of journal entry seq.
func tamperCommit(path string, seq int) error {
	db, err := openRawSQL(path)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`UPDATE commits SET body = substr(body, 1, length(body) - 1) || x'7f' WHERE seq = ?`, seq)
	return err
}

// TestBenchLedgerInProcess runs the bench (engine + SQLite store, many
// submitting goroutines, idle indexer and checkpointer running) inside the
// test process, so `go test -race` sees its concurrency, then verifies the
// database and reads it back through the store.
func TestBenchLedgerInProcess(t *testing.T) {
	db := filepath.Join(t.TempDir(), "inproc.db")
	var out, errOut bytes.Buffer
	f := benchFlags{accounts: 50, transfers: 3000, batch: 7, clients: 6, baselineTransfers: 50, db: db, seed: 3, hot: true, asJSON: true, index: true}
	if err := runBenchLedger(context.Background(), &out, &errOut, f); err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var res benchResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Transfers != 3000 || res.TransfersPerS <= 0 || res.IndexSeconds <= 0 {
		t.Fatalf("bench result %+v, %v", res, err)
	}
	out.Reset()
	if err := runLedgerVerify(context.Background(), &out, db, true); err != nil {
		t.Fatalf("verify: %v\n%s", err, out.String())
	}
	s, err := sqlite.Open(db, sqlite.Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Hot mode: every load transfer touches account 1.
	page, err := s.History(context.Background(), 1, 0, ledger.MaxHistoryPage)
	if err != nil || len(page.Transfers) != ledger.MaxHistoryPage || page.Next == 0 {
		t.Fatalf("history of the hot account: %d transfers, next %d, %v", len(page.Transfers), page.Next, err)
	}
	if tr, err := s.Transfer(context.Background(), 3000); err != nil || tr.DebitAccount != 1 && tr.CreditAccount != 1 {
		t.Fatalf("transfer 3000 = %+v, %v", tr, err)
	}
}
