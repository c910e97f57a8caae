package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// TestRiskWatchSnapshot: a watch saves the engine's snapshot in --cases; the
// next watch restores it, replays only the newer payments and prints what a
// full replay prints; a corrupt snapshot or one taken under other rules is
// not used, with the reason on stderr, and the results are the same.
func TestRiskWatchSnapshot(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	eco := whatIfEcosystem(t, dir)
	db := filepath.Join(dir, "pay.db")
	pay := payer(t, bin, eco, db)
	watch := func(cases string, args ...string) binaryRun {
		t.Helper()
		r := runPaybridge(t, bin, append([]string{"risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases}, args...)...)
		if r.code != 0 {
			t.Fatalf("risk watch %s %v: exit %d\n%s%s", filepath.Base(cases), args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	min := time.Minute
	// The move-money service's intake, then a watch per case database.
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		pay("alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*min)
		pay("alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
	}
	names := []string{"snap", "full", "corrupt", "rules"}
	cases := map[string]string{}
	for _, n := range names {
		cases[n] = filepath.Join(dir, n+".db")
		if r := watch(cases[n]); strings.Contains(r.stderr, "restored") || strings.Contains(r.stderr, "not used") {
			t.Fatalf("first watch mentions a snapshot: %s", r.stderr)
		}
	}
	// Its payouts, made while no watch runs: only the intake, from before
	// the snapshot, makes them a gather-scatter.
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		pay("alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
	}
	cs, err := risk.OpenSQLite(cases["corrupt"])
	if err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(db)
	snap, err := cs.Snapshot(context.Background(), "payments:"+abs)
	if err != nil || len(snap) < 100 {
		t.Fatalf("no snapshot saved by the first watch: %d bytes, %v", len(snap), err)
	}
	snap[len(snap)-50] ^= 0x10
	if err := cs.SetSnapshot(context.Background(), "payments:"+abs, snap); err != nil {
		t.Fatal(err)
	}
	cs.Close()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(strings.Replace(string(risk.DefaultRulesYAML()), "score: 70", "score: 71", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	runs := map[string]binaryRun{
		"snap":    watch(cases["snap"], "--json"),
		"full":    watch(cases["full"], "--json", "--full-replay"),
		"corrupt": watch(cases["corrupt"], "--json"),
		"rules":   watch(cases["rules"], "--json", "--rules", rules),
	}
	for n, want := range map[string]string{
		"snap":    "engine restored from the snapshot at outbox seq",
		"corrupt": "snapshot not used: checksum mismatch",
		"rules":   "rule set",
	} {
		if !strings.Contains(runs[n].stderr, want) {
			t.Errorf("%s: stderr %q lacks %q", n, runs[n].stderr, want)
		}
	}
	for _, n := range []string{"corrupt", "rules"} {
		if !strings.Contains(runs[n].stderr, "replaying the outbox from seq 0") {
			t.Errorf("%s: stderr %q does not say it replays from seq 0", n, runs[n].stderr)
		}
	}
	if strings.Contains(runs["full"].stderr, "restored") || strings.Contains(runs["full"].stderr, "not used") {
		t.Errorf("--full-replay: %s", runs["full"].stderr)
	}
	if !strings.Contains(runs["snap"].stdout, `"family":"gather-scatter"`) {
		t.Fatalf("the watch restored from the snapshot missed the gather-scatter:\n%s", runs["snap"].stdout)
	}
	for _, n := range []string{"full", "corrupt"} {
		if runs[n].stdout != runs["snap"].stdout {
			t.Errorf("%s printed\n%s\nthe restored watch\n%s", n, runs[n].stdout, runs["snap"].stdout)
		}
	}
	// The next run restores the snapshot the restored run saved, with nothing new.
	again := watch(cases["snap"])
	if !strings.Contains(again.stderr, "engine restored") || !strings.Contains(again.stderr, "0 new hops") {
		t.Errorf("third watch: %s", again.stderr)
	}
}
