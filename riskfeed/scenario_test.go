package riskfeed

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/store/sqlite"
)

var epoch = time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// whatIf is cn-2023 with extra people: four payers, an intermediary and
// four payees (the seed's move-money service, section 5).
func whatIf(t testing.TB) *ecosystem.Ecosystem {
	t.Helper()
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2", "p3", "p4", "mid", "q1", "q2", "q3", "q4"} {
		eco.Holders = append(eco.Holders, ecosystem.Holder{ID: id, Name: "what-if " + id, Kind: ecosystem.HolderPerson, KYCLevel: 3})
	}
	// A licit-looking merchant channel: the shop pays a person's wallet
	// (refunds, "cash back"), which the cycle scheme abuses.
	ch, ok := eco.Channel("alipay_transfer")
	if !ok {
		t.Fatal("cn-2023 has no alipay_transfer")
	}
	back := *ch
	back.ID, back.From = "taobao_cashback", "alipay.merchant"
	eco.Channels = append(eco.Channels, back)
	eco.Reindex()
	if err := eco.Validate(); err != nil {
		t.Fatal(err)
	}
	return eco
}

type world struct {
	x    *payment.Executor
	led  *ledger.Engine
	feed *Feed
	clk  *clock.Virtual
}

func open(t testing.TB) *world { return openWith(t, false) }

// openWith opens a world; guarded puts a Guard over the feed's engine in
// the executor's path.
func openWith(t testing.TB, guarded bool) *world {
	t.Helper()
	ctx := context.Background()
	eco := whatIf(t)
	rules, err := compliance.NewChecker(eco.Rules, compliance.PolicyAdvisory)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "p.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	clk := clock.NewVirtual(epoch)
	led, err := ledger.Open(ctx, s, clk, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	en := risk.NewEngine(risk.DefaultRules())
	cfg := payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk}
	if guarded {
		cfg.Guard = &Guard{Engine: en, Eco: eco}
	}
	x, err := payment.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := risk.OpenSQLite(filepath.Join(t.TempDir(), "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return &world{x: x, led: led, clk: clk, feed: &Feed{Outbox: payment.NewOutbox(led), Engine: en, Conv: NewConverter(eco), Cases: cs, Applier: LedgerActions{Ledger: led}}}
}

func (w *world) pay(t *testing.T, from, to, fromHolder, toHolder, channel string, yuan int64, at time.Duration) {
	t.Helper()
	w.clk.Set(epoch.Add(at))
	p, err := w.x.Pay(context.Background(), payment.Request{From: from, To: to, FromHolder: fromHolder, ToHolder: toHolder, Channels: []string{channel}, AmountFen: yuan * 100, At: epoch.Add(at)})
	if err != nil {
		t.Fatalf("%s %s→%s: %v", channel, fromHolder, toHolder, err)
	}
	if p.State != payment.StateCompleted {
		t.Fatalf("%s %s→%s: state %s (%s)", channel, fromHolder, toHolder, p.State, p.Reason)
	}
}

// patterns returns the pattern families and their holders raised by rs.
func patterns(rs []Result) map[string][]string {
	out := map[string][]string{}
	for _, r := range rs {
		for _, m := range r.Decision.Matches {
			if m.Pattern == nil {
				continue
			}
			for _, h := range m.Pattern.Holders {
				if !slices.Contains(out[m.Pattern.Family], h) {
					out[m.Pattern.Family] = append(out[m.Pattern.Family], h)
				}
			}
		}
	}
	return out
}

func TestScenarioIntermediaryAndCycle(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	min := time.Minute
	// Controls first: ordinary payments raise nothing.
	w.pay(t, "wechat.change", "wechat.merchant", "friend", "noodle_shop", "wechat_pay_noodles", 30, 1*min)
	w.pay(t, "alipay.balance", "alipay.balance", "me", "friend", "alipay_transfer", 200, 2*min)
	rs, err := w.feed.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("controls: %d results, want 2", len(rs))
	}
	for _, r := range rs {
		if r.Decision.Alert() {
			t.Errorf("control %s raised %+v", r.Event.ID, r.Decision.Matches)
		}
	}
	// (a) Intermediary: four holders' credit-derived money reaches mid, which pays 88% on to four others.
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		w.pay(t, "alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*min)
		w.pay(t, "alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
	}
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		w.pay(t, "alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
	}
	// (b) Cycle: credit spent at the shop comes back to the payer's other account minus 5%.
	w.pay(t, "alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 1000, 60*min)
	w.pay(t, "alipay.merchant", "alipay.balance", "taobao_shop", "me", "taobao_cashback", 950, 70*min)
	limit := func(holder string) int64 {
		acc, ok := w.led.Account(payment.HolderAccount(holder, "alipay.huabei"))
		if !ok {
			t.Fatalf("%s has no alipay.huabei account", holder)
		}
		return -acc.FloorFen
	}
	meBefore := limit("me")
	rs, err = w.feed.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := patterns(rs)
	for _, r := range rs {
		t.Logf("%s %s %s→%s %d credit %d: %s %v", r.Event.ID, r.Event.Kind, r.Event.FromHolder, r.Event.ToHolder, r.Event.AmountMinor, r.Event.CreditShareBps, r.Decision.Verdict, ruleIDs(r.Decision))
	}
	gs := got["gather-scatter"]
	for _, h := range []string{"mid", "p1", "q1"} {
		if !slices.Contains(gs, h) {
			t.Errorf("gather-scatter holders %v lack %s (all patterns %v)", gs, h, got)
		}
	}
	cy := got["cycle"]
	for _, h := range []string{"me", "taobao_shop"} {
		if !slices.Contains(cy, h) {
			t.Errorf("cycle holders %v lack %s (all patterns %v)", cy, h, got)
		}
	}
	// State actions went to the ledger, each to the holder its pattern
	// names: the cash-back is paid by the shop, but the credit line the
	// cycle cashed out is me's, so me's Huabei limit is cut by 80% and the
	// cycle's case is me's.
	cut := false
	for _, r := range rs {
		cut = cut || slices.Contains(r.Applied, "cut_credit_limit:80 on me")
		for _, s := range r.NotApplied {
			t.Errorf("%s: not applied: %s", r.Event.ID, s)
		}
		for _, m := range r.Decision.Matches {
			if m.RuleID == "cycle" && (m.Target.Holder != "me" || m.Target.Role != risk.RoleCreditHolder || m.Target.TxID == "" || m.Target.Reason == "") {
				t.Errorf("cycle target %+v, want me as credit holder with the member and reason", m.Target)
			}
			if m.RuleID == "gather-scatter" && (m.Target.Holder != "mid" || m.Target.Role != risk.RoleIntermediary) {
				t.Errorf("gather-scatter target %+v, want the intermediary mid", m.Target)
			}
		}
	}
	if !cut {
		t.Errorf("no result cut me's credit limit")
	}
	if got, want := limit("me"), meBefore*20/100; got != want {
		t.Errorf("me's Huabei limit %d after the cut, want %d (80%% off %d)", got, want, meBefore)
	}
	if shop, ok := w.led.Account(payment.HolderAccount("taobao_shop", "alipay.merchant")); ok && shop.Flags&ledger.AccountFrozen != 0 {
		t.Errorf("the shop was frozen")
	}
	cases, err := w.feed.Cases.Cases(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]string{}
	for _, c := range cases {
		owners[c.Family] = c.Holder
	}
	if owners["cycle"] != "me" || owners["gather-scatter"] != "mid" || owners["credit-cash-out"] != "me" {
		t.Errorf("case owners %v, want cycle and credit-cash-out on me, gather-scatter on mid", owners)
	}
	// A second poll sees nothing new: the cursor was acknowledged.
	rs, err = w.feed.Poll(ctx)
	if err != nil || len(rs) != 0 {
		t.Fatalf("second poll: %d results, %v", len(rs), err)
	}
	// A restarted feed (new engine, same ledger and cursor) rebuilds the
	// engine's state from the whole outbox and reports nothing again.
	before := w.feed.Engine.Stats()
	fresh := &Feed{Outbox: w.feed.Outbox, Engine: risk.NewEngine(risk.DefaultRules()), Conv: NewConverter(w.feed.Conv.eco), Cases: w.feed.Cases}
	rs, err = fresh.Poll(ctx)
	if err != nil || len(rs) != 0 {
		t.Fatalf("restarted feed: %d results, %v", len(rs), err)
	}
	if after := fresh.Engine.Stats(); after != before {
		t.Errorf("restarted engine state %+v, want the running one's %+v", after, before)
	}
	if n := fresh.Conv.InFlight(); n != 0 {
		t.Errorf("converter remembers %d finished payments", n)
	}
}

// BenchmarkFeedRestart measures what a feed in a new process does before
// it can report anything, on an outbox of 2,000 completed payments
// (ordinary transfers between two holders): full-replay replays the whole
// outbox into a fresh engine; snapshot restores the snapshot the running
// feed saved in its SQLite case database at the end of the outbox and
// replays nothing. The events/s metric counts posted hops the restarted
// engine holds, divided by the restart time.
func BenchmarkFeedRestart(b *testing.B) {
	w := open(b)
	ctx := context.Background()
	const payments = 2000
	for i := range payments {
		from, to := "me", "friend"
		if i%2 == 1 {
			from, to = to, from
		}
		at := epoch.Add(time.Duration(i) * time.Minute)
		w.clk.Set(at)
		p, err := w.x.Pay(ctx, payment.Request{From: "alipay.balance", To: "alipay.balance", FromHolder: from, ToHolder: to, Channels: []string{"alipay_transfer"}, AmountFen: int64(100 + i), At: at})
		if err != nil || p.State != payment.StateCompleted {
			b.Fatalf("payment %d: %v %v", i, err, p)
		}
	}
	cs, err := risk.OpenSQLite(filepath.Join(b.TempDir(), "cases.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	snaps := StoreSnapshots{Store: cs, Name: "bench"}
	w.feed.Snapshots = snaps
	if _, err := w.feed.Poll(ctx); err != nil {
		b.Fatal(err)
	}
	if w.feed.SnapshotStatus().Saved == 0 {
		b.Fatal("no snapshot saved")
	}
	for _, tc := range []struct {
		name  string
		snaps SnapshotStore
	}{{"full-replay", nil}, {"snapshot", snaps}} {
		b.Run(tc.name, func(b *testing.B) {
			hops := 0
			for b.Loop() {
				fresh := &Feed{Outbox: w.feed.Outbox, Engine: risk.NewEngine(risk.DefaultRules()), Conv: NewConverter(w.feed.Conv.eco), Snapshots: tc.snaps}
				rs, err := fresh.Poll(ctx)
				if err != nil || len(rs) != 0 {
					b.Fatalf("restart: %d results, %v", len(rs), err)
				}
				if st := fresh.SnapshotStatus(); st.Loaded != (tc.snaps != nil) {
					b.Fatalf("snapshot status %+v", st)
				}
				hops += int(fresh.Engine.Stats().Events)
			}
			b.ReportMetric(float64(hops)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
