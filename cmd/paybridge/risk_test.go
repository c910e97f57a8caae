package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestRiskEndToEnd builds the real binary and drives risk eval, scan, cases, case and resolve.
func TestRiskEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	fixture := filepath.Join("..", "..", "risk", "dataset", "testdata", "amlsim-small")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		r := runPaybridge(t, bin, args...)
		return r.stdout, r.stderr, r.code
	}
	out, errs, code := run("risk", "eval", "--format", "amlsim", fixture, "--json")
	if code != 0 {
		t.Fatalf("eval exit %d: %s", code, errs)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval --json: %v\n%s", err, out)
	}
	for _, k := range []string{"transactions", "accounts", "families", "events_per_s", "decision_p99_ms"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("eval --json lacks %q", k)
		}
	}
	for _, k := range []string{"precision", "recall", "f1"} {
		if _, ok := rep["transactions"].(map[string]any)[k]; !ok {
			t.Errorf("transactions lacks %q", k)
		}
	}
	if _, errs, code := run("risk", "eval", "--format", "csv", fixture); code != 2 || !strings.Contains(errs, "--format") {
		t.Errorf("bad format: exit %d, %q", code, errs)
	}
	if _, errs, code := run("risk", "eval", "--format", "paysim", filepath.Join(dir, "missing.csv")); code != 2 || strings.Contains(errs, "goroutine") {
		t.Errorf("missing file: exit %d, %q", code, errs)
	}
	db := filepath.Join(dir, "risk.db")
	if _, errs, code := run("risk", "cases", "--db", db); code != 2 || !strings.Contains(errs, "--db") {
		t.Errorf("cases before any scan: exit %d, %q", code, errs)
	}
	if out, errs, code := run("risk", "scan", "--format", "amlsim", fixture, "--db", db); code != 0 || !strings.Contains(out, "cases") {
		t.Fatalf("scan: exit %d %q %q", code, out, errs)
	}
	out, _, code = run("risk", "cases", "--db", db, "--json")
	var cases []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &cases) != nil || len(cases) == 0 {
		t.Fatalf("cases: exit %d %q", code, out)
	}
	if out, errs, code := run("risk", "case", "1", "--db", db); code != 0 || !strings.Contains(out, "case 1") {
		t.Fatalf("case 1: exit %d %q %q", code, out, errs)
	}
	if _, _, code := run("risk", "resolve", "1", "--state", "confirmed", "--reason", "test ring", "--db", db); code != 0 {
		t.Fatalf("resolve: exit %d", code)
	}
	if _, errs, code := run("risk", "resolve", "1", "--state", "reviewing", "--reason", "again", "--db", db); code != 2 || !strings.Contains(errs, "--state") {
		t.Fatalf("bad transition: exit %d %q", code, errs)
	}
	if _, _, code := run("risk", "case", "999", "--db", db); code != 2 {
		t.Fatalf("missing case: exit %d", code)
	}
}
