package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// riskPayment is the part of pay --json the risk tests read.
type riskPayment struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Events []struct {
		Type   string `json:"type"`
		Hop    int    `json:"hop"`
		Reason string `json:"reason"`
	} `json:"events"`
}

func decodeRiskPayment(t *testing.T, r binaryRun) riskPayment {
	t.Helper()
	var p riskPayment
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("pay --json: %v\n%s%s", err, r.stdout, r.stderr)
	}
	return p
}

// guardEvent returns the held or hop_failed event a guard decision left.
func guardEvent(p riskPayment) (typ string, hop int, reason string) {
	for _, e := range p.Events {
		if strings.HasPrefix(e.Reason, "risk: ") {
			return e.Type, e.Hop, e.Reason
		}
	}
	return "", 0, ""
}

// intermediaryLedger builds the seed's move-money scheme with plain pay runs
// (the guard off, as by default): p1..p4 draw Huabei and pass 5,000 yuan
// each to mid, which has paid 4,400 on to q1..q3. It returns the payment
// command prefix for that ledger and the scheme's start time.
func intermediaryLedger(t *testing.T) (bin, eco, db string, start time.Time) {
	dir := t.TempDir()
	bin = buildPaybridge(t)
	eco = whatIfEcosystem(t, dir)
	db = filepath.Join(dir, "pay.db")
	pay := payer(t, bin, eco, db)
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		pay("alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*time.Minute)
		pay("alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*time.Minute)
	}
	for i, q := range []string{"q1", "q2", "q3"} {
		pay("alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*time.Minute)
	}
	return bin, eco, db, time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
}

// TestPayRiskGuardHoldsIntermediary: the guard, rebuilt from the ledger at
// start, holds mid's fourth payout inline (gather-scatter); --risk off lets
// the same payout through; payments resume runs the held one on.
func TestPayRiskGuardHoldsIntermediary(t *testing.T) {
	bin, eco, db, start := intermediaryLedger(t)
	payout := func(at time.Duration, extra ...string) binaryRun {
		args := []string{"pay", "--db", db, "--ecosystem", eco, "--policy", "advisory",
			"--from", "alipay.balance", "--to", "alipay.balance", "--from-holder", "mid", "--to-holder", "q4",
			"--channels", "alipay_transfer", "--amount", "4400", "--at", start.Add(at).Format(time.RFC3339)}
		return runPaybridge(t, bin, append(args, extra...)...)
	}
	r := payout(33*time.Minute, "--risk", "on", "--json")
	if r.code != 1 {
		t.Fatalf("guarded payout: exit %d, want 1 (held)\n%s%s", r.code, r.stdout, r.stderr)
	}
	held := decodeRiskPayment(t, r)
	typ, hop, reason := guardEvent(held)
	if held.State != "held" || typ != "held" || hop != 1 || !strings.HasPrefix(reason, "risk: gather-scatter: score ") ||
		!strings.Contains(reason, "gs_payout_ratio=0.88") || !strings.Contains(reason, "mid") {
		t.Fatalf("guarded payout: state %s, event %s hop %d %q; want held before hop 1 by gather-scatter\n%s", held.State, typ, hop, reason, r.stdout)
	}
	// The text timeline names the rule and why.
	r = payout(34*time.Minute, "--risk", "on")
	if r.code != 1 || !strings.Contains(r.stdout, "held hop 1") || !strings.Contains(r.stdout, "risk: gather-scatter: score 70: gs_in=4, gs_out=4") {
		t.Fatalf("guarded payout (text): exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Off (the default, and explicitly): the same payout completes.
	for _, off := range [][]string{nil, {"--risk", "off"}} {
		r = payout(35*time.Minute, append(off, "--json")...)
		if p := decodeRiskPayment(t, r); r.code != 0 || p.State != "completed" {
			t.Fatalf("payout with %v: exit %d state %s\n%s%s", off, r.code, p.State, r.stdout, r.stderr)
		}
	}
	// A held payment resumes without the guard asking again for that hop.
	r = runPaybridge(t, bin, "payments", "resume", held.ID, "--db", db, "--ecosystem", eco, "--risk", "on", "--json")
	if p := decodeRiskPayment(t, r); r.code != 0 || p.State != "completed" {
		t.Fatalf("payments resume %s --risk on: exit %d state %s\n%s%s", held.ID, r.code, p.State, r.stdout, r.stderr)
	}
}

// TestPayRiskGuardRefuses: a rule file whose gather-scatter rule refuses
// rejects mid's payout at hop 1 with nothing moved, and files its alert
// with --risk-cases.
func TestPayRiskGuardRefuses(t *testing.T) {
	bin, eco, db, start := intermediaryLedger(t)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(rules, []byte(`rules:
  - id: gather-scatter-refuse
    description: An intermediary passing on most of what three or more payers gave it to three or more payees.
    pattern: gather-scatter
    expr: gs_in >= 3 && gs_out >= 3 && gs_payout_ratio >= 0.80 && gs_payout_ratio <= 1.0
    score: 70
    actions: [refuse, report]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := filepath.Join(t.TempDir(), "cases.db")
	r := runPaybridge(t, bin, "pay", "--db", db, "--ecosystem", eco, "--policy", "advisory", "--risk", "on",
		"--risk-rules", rules, "--risk-cases", cases,
		"--from", "alipay.balance", "--to", "alipay.balance", "--from-holder", "mid", "--to-holder", "q4",
		"--channels", "alipay_transfer", "--amount", "4400", "--at", start.Add(33*time.Minute).Format(time.RFC3339))
	if r.code != 1 || !strings.Contains(r.stdout, ": rejected\n") ||
		!strings.Contains(r.stdout, "hop_failed hop 1   risk: gather-scatter-refuse: score 70") ||
		!strings.Contains(r.stdout, "delivered 0.00 yuan") {
		t.Fatalf("refusing rules: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "alerts filed into "+cases) {
		t.Errorf("no alert filed with --risk-cases: %s", r.stderr)
	}
	out := runPaybridge(t, bin, "risk", "cases", "--db", cases, "--json")
	if out.code != 0 || !strings.Contains(out.stdout, "mid") {
		t.Errorf("risk cases: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
}

// TestLiveGuardSeesEarlierHops: when hop 2 of a payment is checked, the
// guard has taken hop 1 (posted in the same commit, not yet in the outbox)
// into the engine, so a rule on how soon the sender passes money on sees
// it; a guard that never saw hop 1 allows the same hop. (In the bundled
// world only a route's last hop changes holder, so this matters most across
// the payments of one process; the checks here are synthetic.)
func TestLiveGuardSeesEarlierHops(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := risk.ParseRules([]byte(`rules:
  - id: pass-on
    description: The sender passes money on within a minute of receiving it.
    expr: kind == "transfer" && onward_s >= 0.0 && onward_s <= 60.0
    score: 50
    actions: [refuse]
`))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	hop1 := payment.HopCheck{Payment: "p000001", Hop: 1, FromHolder: "me", ToHolder: "friend", Channel: "alipay_transfer",
		FromProduct: "alipay.balance", ToProduct: "alipay.balance", At: at, AmountFen: 100000}
	hop2 := hop1
	hop2.Hop, hop2.FromHolder, hop2.ToHolder, hop2.At = 2, "friend", "mother", at.Add(10*time.Second)
	newGuard := func() *liveGuard {
		return &liveGuard{eng: risk.NewEngine(rs), eco: eco, asked: map[string]payment.HopCheck{}, ahead: map[string]bool{}}
	}
	g := newGuard()
	ctx := context.Background()
	if d := g.CheckHop(ctx, hop1); d.Action != payment.GuardAllow {
		t.Fatalf("hop 1: %+v, want allow", d)
	}
	d := g.CheckHop(ctx, hop2)
	if d.Action != payment.GuardRefuse || d.Rule != "pass-on" || !strings.Contains(d.Reason, "onward_s=0") {
		t.Fatalf("hop 2 after hop 1: %+v, want refuse by pass-on with onward_s=0 (hop 1 posts as hop 2 starts)", d)
	}
	if !g.ahead["p000001/1"] || g.hops != 1 {
		t.Errorf("hop 1 not recorded as observed ahead of the outbox: ahead %v, hops %d", g.ahead, g.hops)
	}
	if d := newGuard().CheckHop(ctx, hop2); d.Action != payment.GuardAllow {
		t.Errorf("hop 2 alone: %+v, want allow", d)
	}
}

func TestPayRiskFlags(t *testing.T) {
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "p.db")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--risk", "maybe"}, `--risk "maybe" is not on or off`},
		{[]string{"--risk-rules", "x.yaml"}, "--risk-rules: needs --risk on"},
		{[]string{"--risk-cases", "c.db"}, "--risk-cases: needs --risk on"},
		{[]string{"--risk", "on", "--risk-rules", "/nonexistent/rules.yaml"}, "--risk-rules /nonexistent/rules.yaml"},
	} {
		r := runPaybridge(t, bin, append([]string{"pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "10"}, c.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("pay %v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.want)
		}
	}
}

// TestPaySplitCashOutRefused: Huabei into the Alipay balance under the
// advisory policy, then the balance to a bank card under strict: the second
// payment is rejected by credit-route-to-cash with its citation, because the
// payment reads the balance's credit-derived share from the ledger. The same
// second step from a clean balance completes, and 'route --credit-share'
// plans it the same way without a ledger.
func TestPaySplitCashOutRefused(t *testing.T) {
	bin := buildPaybridge(t)
	dir := t.TempDir()
	db, clean := filepath.Join(dir, "split.db"), filepath.Join(dir, "clean.db")
	topped := false
	for seed := 1; seed <= 20 && !topped; seed++ { // Huabei top-ups fail one time in five by design
		r := runPaybridge(t, bin, "pay", "--db", db, "--policy", "advisory", "--from", "alipay.huabei", "--to", "alipay.balance",
			"--channels", "huabei_topup_balance", "--amount", "3000", "--seed", strconv.Itoa(seed), "--json")
		topped = r.code == 0
	}
	if !topped {
		t.Fatal("no Huabei top-up completed in 20 seeds")
	}
	second := func(db string) (binaryRun, map[string]any) {
		r := runPaybridge(t, bin, "pay", "--db", db, "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1000", "--json")
		var v map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("pay --json: %v\n%s%s", err, r.stdout, r.stderr)
		}
		return r, v
	}
	r, v := second(db)
	if r.code != 1 || v["state"] != "rejected" {
		t.Fatalf("second step: exit %d state %v, want 1 rejected\n%s", r.code, v["state"], r.stdout)
	}
	if !strings.Contains(r.stdout, `"rule":"credit-route-to-cash","effect":"refuse","citation":"CBIRC/PBOC Notice [2022] No. 13`) ||
		!strings.Contains(r.stderr, "refused: credit-route-to-cash") {
		t.Errorf("second step not refused by credit-route-to-cash with its citation:\n%s%s", r.stdout, r.stderr)
	}
	if r, v := second(clean); r.code != 0 || v["state"] != "completed" {
		t.Errorf("clean balance: exit %d state %v, want 0 completed\n%s%s", r.code, v["state"], r.stdout, r.stderr)
	}
	// Planning without a ledger: the share given by hand.
	type planned struct {
		Query struct {
			CreditShareBps int64 `json:"credit_share_bps"`
		} `json:"query"`
		Routes []struct {
			Verdict  string `json:"verdict"`
			Findings []struct {
				Rule string `json:"rule"`
			} `json:"findings"`
		} `json:"routes"`
	}
	plan := func(args ...string) planned {
		r := runPaybridge(t, bin, append([]string{"route", "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1000", "--json"}, args...)...)
		var p planned
		if err := json.Unmarshal([]byte(r.stdout), &p); r.code != 0 || err != nil || len(p.Routes) == 0 {
			t.Fatalf("route %v: exit %d, %v\n%s", args, r.code, err, r.stderr)
		}
		return p
	}
	p := plan("--credit-share", "23.07")
	if p.Query.CreditShareBps != 2307 {
		t.Errorf("route --credit-share 23.07: query credit_share_bps %d, want 2307", p.Query.CreditShareBps)
	}
	for _, r := range p.Routes {
		if r.Verdict == "allowed" || !slices.ContainsFunc(r.Findings, func(f struct {
			Rule string `json:"rule"`
		}) bool {
			return f.Rule == "credit-route-to-cash"
		}) {
			t.Errorf("route --credit-share 23.07: a route %s without credit-route-to-cash: %+v", r.Verdict, r.Findings)
		}
	}
	if p := plan(); p.Routes[0].Verdict != "allowed" {
		t.Errorf("route without --credit-share: first route %s, want allowed", p.Routes[0].Verdict)
	}
	for _, bad := range []string{"101", "-1", "abc", "1.234"} {
		if r := runPaybridge(t, bin, "route", "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1000", "--credit-share", bad); r.code != 2 || !strings.Contains(r.stderr, "--credit-share") {
			t.Errorf("route --credit-share %s: exit %d %q, want 2 naming the flag", bad, r.code, r.stderr)
		}
	}
}

// BenchmarkLiveGuard is the guard's own work for one 4-hop payment (Alipay
// → ICBC → CMB → WeChat → friend): four checks and four observed hops, on
// an engine that has seen b.N such payments before.
func BenchmarkLiveGuard(b *testing.B) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		b.Fatal(err)
	}
	g, err := riskFlags{mode: "on"}.guard()
	if err != nil {
		b.Fatal(err)
	}
	g.eco = eco
	ctx := context.Background()
	at := virtualEpoch
	hops := []payment.HopCheck{
		{FromHolder: "me", ToHolder: "me", Channel: "alipay_withdraw", FromProduct: "alipay.balance", ToProduct: "icbc.debit"},
		{FromHolder: "me", ToHolder: "me", Channel: "quickpass_icbc_to_cmb", FromProduct: "icbc.debit", ToProduct: "cmb.debit"},
		{FromHolder: "me", ToHolder: "me", Channel: "cmb_topup_wechat", FromProduct: "cmb.debit", ToProduct: "wechat.change"},
		{FromHolder: "me", ToHolder: "friend", Channel: "wechat_transfer", FromProduct: "wechat.change", ToProduct: "wechat.change"},
	}
	amounts := []int64{10000, 9900, 9900, 9900} // 100 yuan less the withdrawal's 1 yuan minimum fee
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("p%06d", i)
		for k, h := range hops {
			h.Payment, h.Hop, h.At, h.AmountFen = id, k+1, at, amounts[k]
			if d := g.CheckHop(ctx, h); d.Action != payment.GuardAllow {
				b.Fatalf("payment %d hop %d: %+v", i, k+1, d)
			}
			at = at.Add(time.Second)
		}
		last := hops[3]
		last.Payment, last.Hop, last.AmountFen = id, 4, amounts[3]
		e, err := hopEvent(eco, last, at)
		if err != nil {
			b.Fatal(err)
		}
		delete(g.asked, e.ID)
		if err := g.observe(ctx, e, true); err != nil {
			b.Fatal(err)
		}
	}
}
