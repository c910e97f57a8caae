package main

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const fourHopChannels = "alipay_withdraw,quickpass_icbc_to_cmb,cmb_topup_wechat,wechat_transfer"

// payOut is the part of pay --json the tests read.
type payOut struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Reason string `json:"reason"`
	Route  *struct {
		ID   string `json:"id"`
		Hops []struct {
			Channel string `json:"channel"`
		} `json:"hops"`
	} `json:"route"`
	Events []struct {
		At          string   `json:"at"`
		Type        string   `json:"type"`
		Hop         int      `json:"hop"`
		TransferIDs []uint64 `json:"transfer_ids"`
		Due         string   `json:"due"`
	} `json:"events"`
	DeliveredFen int64 `json:"delivered_fen"`
	FeeFen       int64 `json:"fee_fen"`
}

func decodePay(t *testing.T, s string) payOut {
	t.Helper()
	var p payOut
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatalf("pay --json: %v\n%s", err, s)
	}
	return p
}

// TestPayCommandsEndToEnd runs the real binary: a completed payment, the
// same seed twice giving byte-identical output, a stranded payment resumed,
// a refunded one, list/show/events, ledger verify, and bad usage.
func TestPayCommandsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildPaybridge(t)
	db := filepath.Join(dir, "p.db")
	pay := func(db string, extra ...string) binaryRun {
		args := append([]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--to-holder", "friend",
			"--amount", "1000", "--channels", fourHopChannels, "--json"}, extra...)
		return runPaybridge(t, bin, args...)
	}

	r := pay(db, "--seed", "4")
	if r.code != 0 {
		t.Fatalf("pay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	p := decodePay(t, r.stdout)
	if p.State != "completed" || p.DeliveredFen+p.FeeFen != 100_000 || len(p.Route.Hops) != 4 {
		t.Fatalf("pay: %+v", p)
	}
	if p.Events[0].Type != "created" || p.Events[len(p.Events)-1].Type != "completed" {
		t.Errorf("timeline: %+v", p.Events)
	}
	// The same idempotency key twice: one payment.
	k1 := pay(db, "--seed", "5", "--key", "order-1")
	k2 := pay(db, "--seed", "5", "--key", "order-1")
	if k1.code != k2.code || k1.stdout != k2.stdout || decodePay(t, k1.stdout).ID == "" {
		t.Errorf("keyed pay twice: exit %d/%d\n%s\n%s", k1.code, k2.code, k1.stdout, k2.stdout)
	}
	// Same seed, fresh ledger: the same bytes.
	again := pay(filepath.Join(dir, "other.db"), "--seed", "4")
	if again.stdout != r.stdout {
		t.Errorf("same seed, different output:\n%s\n%s", r.stdout, again.stdout)
	}

	// Forced failure at hop 3, stranded (exit 1), then resumed.
	r = pay(db, "--seed", "4", "--fail-hop", "3", "--on-failure", "strand")
	if r.code != 1 || decodePay(t, r.stdout).State != "stranded" {
		t.Fatalf("stranded pay: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	stranded := decodePay(t, r.stdout).ID
	state := "stranded"
	for i := 0; i < 5 && state == "stranded"; i++ {
		r = runPaybridge(t, bin, "payments", "resume", stranded, "--db", db, "--json")
		if r.code != 0 && r.code != 1 {
			t.Fatalf("resume: exit %d %s", r.code, r.stderr)
		}
		state = decodePay(t, r.stdout).State
	}
	if state != "completed" {
		t.Fatalf("resumed payment is %s", state)
	}
	r = runPaybridge(t, bin, "payments", "resume", stranded, "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "not stranded") {
		t.Errorf("resume of a completed payment: exit %d %s", r.code, r.stderr)
	}

	// Forced failure at hop 2, refunded.
	r = pay(db, "--seed", "4", "--fail-hop", "2")
	if r.code != 1 || decodePay(t, r.stdout).State != "refunded" {
		t.Fatalf("refunded pay: exit %d %s %s", r.code, r.stdout, r.stderr)
	}

	// Read back.
	r = runPaybridge(t, bin, "payments", "list", "--db", db, "--json")
	var rows []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 4 {
		t.Fatalf("list: %v %s", err, r.stdout)
	}
	r = runPaybridge(t, bin, "payments", "show", rows[0].ID, "--db", db, "--json")
	if r.code != 0 || decodePay(t, r.stdout).State != "completed" {
		t.Errorf("show: exit %d %s", r.code, r.stdout)
	}
	r = runPaybridge(t, bin, "payments", "show", rows[0].ID, "--db", db)
	if !strings.Contains(r.stdout, "timeline:") || !strings.Contains(r.stdout, "hop_posted hop 4") {
		t.Errorf("show text:\n%s", r.stdout)
	}
	r = runPaybridge(t, bin, "payments", "events", "--db", db, "--json", "--limit", "3")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); r.code != 0 || len(lines) != 3 {
		t.Errorf("events: exit %d %q", r.code, r.stdout)
	}
	if r = runPaybridge(t, bin, "ledger", "verify", "--db", db); r.code != 0 {
		t.Errorf("ledger verify after payments: exit %d\n%s", r.code, r.stdout)
	}
	if r = runPaybridge(t, bin, "payments", "books", "--db", db); r.code != 0 || !strings.HasPrefix(r.stdout, "ok:") {
		t.Errorf("payments books: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Bad usage: exit 2, one line naming the flag.
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change"}, "--amount"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "-3"}, "--amount"},
		{[]string{"pay", "--db", db, "--from", "alipay.balanc", "--to", "wechat.change", "--amount", "3"}, "--from"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "3", "--clock", "fast"}, "--clock"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "3", "--on-failure", "x"}, "--on-failure"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "3", "--route", "nope"}, "--route"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "3", "--down", "nobank"}, "--down"},
		{[]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "3", "--time-scale", "-1"}, "--clock"},
		{[]string{"payments", "show", "p424242", "--db", db}, "p424242"},
		{[]string{"payments", "list", "--db", filepath.Join(dir, "missing.db")}, "--db"},
		{[]string{"payments", "events", "--db", db, "--limit", "0"}, "--limit"},
	} {
		r := runPaybridge(t, bin, tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.flag) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q (want 2 naming %s)", tc.args, r.code, r.stderr, tc.flag)
		}
	}
}

// TestPayKilledMidHop kills -9 the real binary while it runs a payment on a
// scaled clock (hop 1 held, waiting for its clearing delay), recovers from
// the database alone, and checks the payment ends exactly as an
// uninterrupted run with the same seed: same state, same timeline, same
// transfer ids; and the ledger verifies.
func TestPayKilledMidHop(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits on a scaled clock; skipped with -short")
	}
	dir := t.TempDir()
	bin := buildPaybridge(t)
	args := func(db string) []string {
		return []string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000",
			"--channels", fourHopChannels, "--json", "--seed", "9", "--at", "2023-05-05T10:00:00+08:00"}
	}
	ref := runPaybridge(t, bin, args(filepath.Join(dir, "ref.db"))...)
	want := decodePay(t, ref.stdout)
	// Scale the clock so hop 1 takes about 10 real seconds.
	start, _ := time.Parse(time.RFC3339Nano, want.Events[1].At)
	due, _ := time.Parse(time.RFC3339Nano, want.Events[1].Due)
	scale := max(due.Sub(start).Seconds()/10, 0.001)

	db := filepath.Join(dir, "killed.db")
	killedArgs := append(args(db), "--clock", "scaled:"+strconv.FormatFloat(scale, 'f', 3, 64))
	for i, a := range killedArgs {
		if a == "--json" { // without --json, pay says on stderr when the payment is created
			killedArgs = append(killedArgs[:i], killedArgs[i+1:]...)
			break
		}
	}
	cmd := exec.Command(bin, killedArgs...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	created := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "created") {
				created <- true
			}
		}
		close(created)
	}()
	select {
	case ok := <-created:
		if !ok {
			t.Fatal("pay ended before creating the payment")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("pay did not create the payment within 60 s")
	}
	time.Sleep(500 * time.Millisecond) // hop 1 is held, about 10 s from due
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	r := runPaybridge(t, bin, "payments", "list", "--db", db, "--json")
	var rows []struct{ ID, State string }
	if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil || len(rows) != 1 || rows[0].State != "running" {
		t.Fatalf("after kill -9: %v %s %s (want one running payment)", err, r.stdout, r.stderr)
	}
	r = runPaybridge(t, bin, "payments", "recover", "--db", db, "--json", "--clock", "scaled:100000")
	var got []json.RawMessage
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || len(got) != 1 {
		t.Fatalf("recover: exit %d %v %s %s", r.code, err, r.stdout, r.stderr)
	}
	rec := decodePay(t, string(got[0]))
	if rec.State != want.State || rec.DeliveredFen != want.DeliveredFen || rec.FeeFen != want.FeeFen {
		t.Errorf("recovered %s %d/%d, uninterrupted %s %d/%d", rec.State, rec.DeliveredFen, rec.FeeFen, want.State, want.DeliveredFen, want.FeeFen)
	}
	gotEv, _ := json.Marshal(rec.Events)
	wantEv, _ := json.Marshal(want.Events)
	if string(gotEv) != string(wantEv) {
		t.Errorf("recovered timeline differs:\n%s\nwant\n%s", gotEv, wantEv)
	}
	if r = runPaybridge(t, bin, "ledger", "verify", "--db", db); r.code != 0 {
		t.Errorf("ledger verify after kill and recover: exit %d\n%s", r.code, r.stdout)
	}
}

// TestBenchPayments runs the real bench payments on a small load: both
// stores run every payment to a terminal state with balanced books, the
// database it leaves verifies, and bad flags are usage errors.
func TestBenchPayments(t *testing.T) {
	bin := buildPaybridge(t)
	for _, hops := range []string{"1", "4"} {
		db := filepath.Join(t.TempDir(), "bench.db")
		r := runPaybridge(t, bin, "bench", "payments", "--n", "300", "--baseline-n", "100", "--hops", hops, "--concurrency", "16", "--db", db, "--json")
		if r.code != 0 {
			t.Fatalf("bench payments --hops %s: exit %d\n%s", hops, r.code, r.stderr)
		}
		var res struct {
			Hops   int `json:"hops"`
			SQLite struct {
				Payments     int            `json:"payments"`
				PaymentsPerS float64        `json:"payments_per_s"`
				States       map[string]int `json:"states"`
				BooksClean   bool           `json:"books_clean"`
				CPUMicros    float64        `json:"cpu_us_per_payment"`
			} `json:"sqlite"`
			Baseline *struct {
				Payments   int            `json:"payments"`
				States     map[string]int `json:"states"`
				BooksClean bool           `json:"books_clean"`
			} `json:"baseline"`
			Ratio float64 `json:"ratio"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("bench payments --json: %v\n%s", err, r.stdout)
		}
		sum := 0
		for state, n := range res.SQLite.States {
			if state != "completed" && state != "refunded" {
				t.Errorf("--hops %s: %d payments ended %s", hops, n, state)
			}
			sum += n
		}
		if sum != 300 || res.SQLite.Payments != 300 || !res.SQLite.BooksClean || res.SQLite.PaymentsPerS <= 0 || res.SQLite.CPUMicros <= 0 {
			t.Errorf("--hops %s: sqlite run %+v", hops, res.SQLite)
		}
		if res.Baseline == nil || res.Baseline.Payments != 100 || !res.Baseline.BooksClean || res.Ratio <= 0 {
			t.Errorf("--hops %s: baseline %+v, ratio %v", hops, res.Baseline, res.Ratio)
		}
		if v := runPaybridge(t, bin, "ledger", "verify", "--db", db); v.code != 0 {
			t.Errorf("ledger verify after bench payments --hops %s: exit %d\n%s%s", hops, v.code, v.stdout, v.stderr)
		}
		if again := runPaybridge(t, bin, "bench", "payments", "--n", "1", "--db", db); again.code != 2 || !strings.Contains(again.stderr, "already exists") {
			t.Errorf("bench payments on an existing --db: exit %d, %s", again.code, again.stderr)
		}
	}
	for _, args := range [][]string{{"--hops", "3"}, {"--n", "0"}, {"--concurrency", "0"}, {"--concurrency", "5000"}} {
		r := runPaybridge(t, bin, append([]string{"bench", "payments"}, args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, args[0]) {
			t.Errorf("bench payments %v: exit %d, stderr %q; want a usage error naming %s", args, r.code, r.stderr, args[0])
		}
	}
}

// TestPaymentsReadOnly: list, show, events and books never write: on a
// ledger file that no payment was made with they say so (exit 2) and leave
// the file as it was, and on a payments ledger they change nothing.
func TestPaymentsReadOnly(t *testing.T) {
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "p.db")
	if r := runPaybridge(t, bin, "pay", "--from", "alipay.balance", "--to", "wechat.change", "--amount", "100", "--db", db); r.code != 0 {
		t.Fatalf("pay: exit %d\n%s", r.code, r.stderr)
	}
	commits := func(db string) string {
		r := runPaybridge(t, bin, "ledger", "verify", "--db", db)
		return strings.SplitN(r.stdout, "\n", 2)[0] // "ledger FILE: N commits, …"
	}
	before := commits(db)
	for _, args := range [][]string{{"list"}, {"show", "p000001"}, {"events"}, {"books"}} {
		if r := runPaybridge(t, bin, append(append([]string{"payments"}, args...), "--db", db)...); r.code != 0 {
			t.Errorf("payments %v: exit %d\n%s", args, r.code, r.stderr)
		}
	}
	if after := commits(db); after != before {
		t.Errorf("read commands committed: %q → %q", before, after)
	}
	// A ledger no payment was made with (bench ledger's): refused clearly,
	// not seeded with payment accounts.
	other := filepath.Join(t.TempDir(), "other.db")
	if r := runPaybridge(t, bin, "bench", "ledger", "--accounts", "2", "--transfers", "10", "--batch", "1", "--baseline-transfers", "0", "--db", other); r.code != 0 {
		t.Fatalf("bench ledger: exit %d\n%s", r.code, r.stderr)
	}
	before = commits(other)
	for _, args := range [][]string{{"list"}, {"show", "p000001"}, {"events"}, {"books"}} {
		r := runPaybridge(t, bin, append(append([]string{"payments"}, args...), "--db", other)...)
		if r.code != 2 || !strings.Contains(r.stderr, "no payment was ever made") {
			t.Errorf("payments %v on a ledger without payments: exit %d, %q", args, r.code, r.stderr)
		}
	}
	if after := commits(other); after != before {
		t.Errorf("read commands seeded a ledger without payments: %q → %q", before, after)
	}
}
