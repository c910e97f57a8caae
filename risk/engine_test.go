package risk

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func ev(id, from, to string, minutes int, amount int64, kind Kind) Event {
	return Event{Time: t0.Add(time.Duration(minutes) * time.Minute), ID: id, FromAccount: from, ToAccount: to,
		AmountMinor: amount, Currency: "CNY", Kind: kind}
}

// replay observes all events but the last and returns the decision for the last.
func replay(t *testing.T, en *Engine, events []Event) Decision {
	t.Helper()
	var d Decision
	for _, e := range events {
		var err error
		if d, err = en.Observe(e); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestDefaultRules(t *testing.T) {
	rs := DefaultRules()
	if len(rs.Rules) < 6 {
		t.Fatalf("default rules: %d rules", len(rs.Rules))
	}
}

func TestDetectors(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		rule   string
		check  func(f *Features) bool
	}{
		{"cycle of three", []Event{
			ev("1", "a", "b", 0, 100000, KindPay), ev("2", "b", "c", 10, 99000, KindTransfer), ev("3", "c", "a", 20, 92000, KindTransfer),
		}, "cycle", func(f *Features) bool { return f.CycleLen == 3 && f.CycleReturnRatio == 0.92 }},
		{"no cycle when out of time order", []Event{
			ev("1", "b", "c", 0, 100000, KindTransfer), ev("2", "a", "b", 10, 99000, KindTransfer), ev("3", "c", "a", 20, 92000, KindTransfer),
		}, "", func(f *Features) bool { return f.CycleLen == 0 }},
		{"fan-out to five payees", []Event{
			ev("1", "h", "p1", 0, 5000, KindTransfer), ev("2", "h", "p2", 1, 5000, KindTransfer), ev("3", "h", "p3", 2, 5000, KindTransfer), ev("4", "h", "p4", 3, 5000, KindTransfer), ev("5", "h", "p5", 4, 5000, KindTransfer),
		}, "fan-out", func(f *Features) bool { return f.FanOut == 5 && f.OutCountWindow == 5 }},
		{"fan-in from five payers", []Event{
			ev("1", "p1", "h", 0, 5000, KindTransfer), ev("2", "p2", "h", 1, 5000, KindTransfer), ev("3", "p3", "h", 2, 5000, KindTransfer), ev("4", "p4", "h", 3, 5000, KindTransfer), ev("5", "p5", "h", 4, 5000, KindTransfer),
		}, "fan-in", func(f *Features) bool { return f.FanIn == 5 }},
		{"gather-scatter passing on 88%", []Event{
			ev("1", "p1", "m", 0, 10000, KindPay), ev("2", "p2", "m", 1, 10000, KindPay), ev("3", "p3", "m", 2, 10000, KindPay),
			ev("4", "m", "w1", 10, 8800, KindTransfer), ev("5", "m", "w2", 11, 8800, KindTransfer), ev("6", "m", "w3", 12, 8800, KindTransfer),
		}, "gather-scatter", func(f *Features) bool {
			return f.GSIn == 3 && f.GSOut == 3 && f.GSPayoutRatio > 0.87 && f.GSPayoutRatio < 0.89
		}},
		{"scatter-gather over three intermediaries", []Event{
			ev("1", "s", "x1", 0, 10000, KindTransfer), ev("2", "s", "x2", 1, 10000, KindTransfer), ev("3", "s", "x3", 2, 10000, KindTransfer),
			ev("4", "x1", "r", 10, 9900, KindTransfer), ev("5", "x2", "r", 11, 9900, KindTransfer), ev("6", "x3", "r", 12, 9900, KindTransfer),
		}, "scatter-gather", func(f *Features) bool { return f.SGPaths == 3 }},
		{"mule chain with different accounts", []Event{
			ev("1", "victim", "mule", 0, 1234567, KindTransfer), ev("2", "other", "agent", 0, 1234567, KindCashOut),
		}, "mule-exact", func(f *Features) bool { return f.MuleDiffBps == 0 && f.MuleGapSeconds == 0 && !f.MuleSameAccount }},
		{"mule chain cash-out first in the same tick", []Event{
			ev("1", "other", "agent", 0, 777700, KindCashOut), ev("2", "victim", "mule", 0, 777700, KindTransfer),
		}, "mule-exact", func(f *Features) bool { return f.MuleDiffBps == 0 }},
		{"linked mule keeps a fee", []Event{
			ev("1", "victim", "mule", 0, 1000000, KindTransfer), ev("2", "mule", "agent", 30, 999000, KindCashOut),
		}, "mule-linked", func(f *Features) bool { return f.MuleDiffBps == 10 && f.MuleSameAccount }},
		{"repeated pair", []Event{
			ev("1", "a", "b", 0, 100, KindTransfer), ev("2", "a", "b", 60, 200, KindTransfer), ev("3", "a", "b", 120, 300, KindTransfer),
			ev("4", "a", "b", 180, 100, KindTransfer), ev("5", "a", "b", 240, 200, KindTransfer), ev("6", "a", "b", 300, 300, KindTransfer),
			ev("7", "a", "b", 360, 100, KindTransfer), ev("8", "a", "b", 420, 200, KindTransfer),
		}, "repeat-pair", func(f *Features) bool { return f.PairCount == 8 && f.FanOut == 1 }},
		{"watched holders after a cycle", []Event{
			ev("1", "a", "b", 0, 100000, KindTransfer), ev("2", "b", "a", 10, 90000, KindTransfer), ev("3", "a", "z", 20, 5000, KindTransfer),
		}, "watched-holder", func(f *Features) bool { return f.FromWatched && !f.ToWatched && !f.RingLink }},
		{"no mule outside the window", []Event{
			ev("1", "victim", "mule", 0, 1000000, KindTransfer), ev("2", "mule", "agent", 25*60, 1000000, KindCashOut),
		}, "", func(f *Features) bool { return f.MuleDiffBps == -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			en := NewEngine(nil)
			d := replay(t, en, tt.events)
			if !tt.check(&en.f) {
				t.Fatalf("features %+v", en.f)
			}
			if tt.rule == "" {
				return
			}
			var m *Match
			for i := range d.Matches {
				if d.Matches[i].RuleID == tt.rule {
					m = &d.Matches[i]
				}
			}
			if m == nil {
				t.Fatalf("rule %s did not match: %+v", tt.rule, d.Matches)
			}
			if tt.rule == "watched-holder" { // a rule without a pattern: its values explain it
				if m.Values["from_watched"] != true {
					t.Fatalf("values %v", m.Values)
				}
				return
			}
			if m.Pattern == nil || len(m.Pattern.Members) < 2 {
				t.Fatalf("rule %s: pattern without members: %+v", tt.rule, m.Pattern)
			}
			if m.Pattern.Members[len(m.Pattern.Members)-1].TxID != tt.events[len(tt.events)-1].ID {
				t.Fatalf("the current event is not a member: %+v", m.Pattern.Members)
			}
		})
	}
}

func TestFeatures(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		want   func(f *Features) bool
	}{
		{"velocity and sums", []Event{ev("1", "a", "b", 0, 100, KindPay), ev("2", "a", "c", 30, 200, KindPay), ev("3", "a", "b", 120, 300, KindPay)},
			func(f *Features) bool {
				return f.Velocity1h == 1 && f.OutCount24h == 3 && f.OutSum24h == 600 && !f.NewCounterpart && f.NewCounterpts == 2
			}},
		{"round amount", []Event{ev("1", "a", "b", 0, 50000, KindPay)}, func(f *Features) bool { return f.RoundAmount }},
		{"not round", []Event{ev("1", "a", "b", 0, 50001, KindPay)}, func(f *Features) bool { return !f.RoundAmount }},
		{"onward transfer time and in/out ratio", []Event{ev("1", "x", "a", 0, 1000, KindTransfer), ev("2", "a", "y", 5, 900, KindTransfer)},
			func(f *Features) bool {
				return f.OnwardSeconds == 300 && f.InOutRatio == 0.9 && f.InCount24h == 1 && f.InSum24h == 1000
			}},
		{"credit share", []Event{
			{Time: t0, ID: "1", FromAccount: "a", ToAccount: "m", AmountMinor: 30000, Currency: "CNY", Kind: KindPay, CreditShareBps: 10000},
			{Time: t0.Add(time.Minute), ID: "2", FromAccount: "a", ToAccount: "w", AmountMinor: 10000, Currency: "CNY", Kind: KindTransfer},
		}, func(f *Features) bool { return f.CreditShare == 0.75 }},
		{"no inflow", []Event{ev("1", "a", "b", 0, 100, KindPay)}, func(f *Features) bool { return f.OnwardSeconds == -1 && f.InOutRatio == -1 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			en := NewEngine(nil)
			replay(t, en, tt.events)
			if !tt.want(&en.f) {
				t.Fatalf("features %+v", en.f)
			}
		})
	}
}

func TestCheckDoesNotRecord(t *testing.T) {
	en := NewEngine(nil)
	e := ev("1", "a", "b", 0, 100, KindPay)
	if _, err := en.Check(e); err != nil {
		t.Fatal(err)
	}
	if s := en.Stats(); s.Events != 0 || s.Holders != 0 {
		t.Fatalf("Check changed state: %+v", s)
	}
	if _, err := en.Check(Event{ID: "x"}); err == nil {
		t.Fatal("invalid event accepted")
	}
}

func TestRuleErrors(t *testing.T) {
	tests := map[string]string{
		"unknown variable": "rules:\n  - {id: a, expr: 'nope > 1', score: 1, actions: [review]}\n",
		"not boolean":      "rules:\n  - {id: a, expr: 'fan_out + 1', score: 1, actions: [review]}\n",
		"bad action":       "rules:\n  - {id: a, expr: 'fan_out > 1', score: 1, actions: [jail]}\n",
		"bad percent":      "rules:\n  - {id: a, expr: 'fan_out > 1', score: 1, actions: ['cut_credit_limit:0']}\n",
		"bad pattern":      "rules:\n  - {id: a, pattern: star, expr: 'fan_out > 1', score: 1, actions: [review]}\n",
		"duplicate id":     "rules:\n  - {id: a, expr: 'true', score: 1, actions: [review]}\n  - {id: a, expr: 'true', score: 1, actions: [review]}\n",
		"unknown field":    "rules:\n  - {id: a, expr: 'true', score: 1, actions: [review], colour: red}\n",
		"no rules":         "rules: []\n",
	}
	for name, y := range tests {
		if _, err := ParseRules([]byte(y)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	rs, err := ParseRules([]byte("rules:\n  - {id: a, expr: 'amount > 0', score: 5, actions: [hold, 'cut_credit_limit:80']}\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := NewEngine(rs).Check(ev("1", "a", "b", 0, 1, KindPay))
	if d.Verdict != ActionHold || len(d.Actions) != 2 || d.Actions[1].Percent != 80 || d.Matches[0].Values["amount"] != int64(1) {
		t.Fatalf("decision %+v", d)
	}
}

// randomStream builds a deterministic random event stream.
func randomStream(seed uint64, n, holders int) []Event {
	r := rand.New(rand.NewPCG(seed, 7))
	kinds := []Kind{KindPay, KindTransfer, KindCashOut, KindTopUp}
	out := make([]Event, n)
	at := t0
	for i := range out {
		at = at.Add(time.Duration(r.IntN(600)) * time.Second)
		out[i] = Event{Time: at, ID: fmt.Sprintf("e%d", i), FromAccount: fmt.Sprintf("h%d", r.IntN(holders)),
			ToAccount: fmt.Sprintf("h%d", r.IntN(holders)), AmountMinor: int64(1 + r.IntN(200)*100), Currency: "CNY", Kind: kinds[r.IntN(len(kinds))]}
	}
	return out
}

func TestPropertyStateBounded(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		holders := rapid.IntRange(2, 400).Draw(t, "holders")
		events := randomStream(rapid.Uint64().Draw(t, "seed"), 1500, holders)
		if rapid.Bool().Draw(t, "one amount") { // a popular amount fills one mule bucket
			for i := range events {
				events[i].AmountMinor = 10000
			}
		}
		en := NewEngine(nil)
		for _, e := range events {
			if _, err := en.Observe(e); err != nil {
				t.Fatal(err)
			}
			for id := range en.g.ids {
				n := en.g.at(en.g.ids[id])
				if len(n.out) > MaxEdgesPerNode || len(n.in) > MaxEdgesPerNode {
					t.Fatalf("holder %s holds %d/%d edges", id, len(n.out), len(n.in))
				}
			}
			if s := en.Stats(); s.Holders > MaxNodes || s.MuleEntries > MaxMuleEntries {
				t.Fatalf("state %+v over the caps", s)
			}
			for k, b := range en.mule.buckets {
				if len(b) > MaxMuleBucket {
					t.Fatalf("mule bucket %+v holds %d entries", k, len(b))
				}
			}
		}
	})
}

func TestEvictionKeepsHoldersBounded(t *testing.T) {
	g := newGraph()
	for i := range MaxNodes + 10 {
		g.ensure(fmt.Sprintf("h%d", i), int64(i), "")
	}
	if n, _ := g.size(); n > MaxNodes {
		t.Fatalf("%d holders held, cap %d", n, MaxNodes)
	}
	// A burst in one second: the forced eviction must spare the other party.
	g = newGraph()
	for i := range MaxNodes {
		g.ensure(fmt.Sprintf("h%d", i), 5, "")
	}
	keep := "h7"
	g.ensure("new", 5, keep)
	if _, ok := g.ids[keep]; !ok {
		t.Fatal("the kept holder was evicted")
	}
	if _, ok := g.ids["new"]; !ok {
		t.Fatal("the new holder is missing")
	}
}

func TestPropertySameSeedSameDecisions(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		seed := rapid.Uint64().Draw(t, "seed")
		run := func() []Decision {
			en := NewEngine(nil)
			var out []Decision
			for _, e := range randomStream(seed, 400, 30) {
				d, err := en.Observe(e)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, d)
			}
			return out
		}
		if a, b := run(), run(); !reflect.DeepEqual(a, b) {
			t.Fatal("same stream, different decisions")
		}
	})
}

func TestEngineIgnoresLabels(t *testing.T) {
	events := randomStream(42, 2000, 50)
	plain, labelled := NewEngine(nil), NewEngine(nil)
	for i, e := range events {
		d1, _ := plain.Observe(e)
		e.Labels = &Labels{Fraud: i%2 == 0, Pattern: "cycle"}
		d2, _ := labelled.Observe(e)
		if !reflect.DeepEqual(d1, d2) {
			t.Fatalf("event %d: labels changed the decision", i)
		}
	}
}

func TestSQLiteCases(t *testing.T) {
	ctx := context.Background()
	st, err := OpenSQLite(filepath.Join(t.TempDir(), "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := Alert{EventID: "e1", Time: t0, Holder: "h", Family: "cycle", RuleID: "cycle", Score: 80, Detail: []byte(`{}`)}
	id1, err := st.AddAlert(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	a.EventID, a.Score = "e2", 90
	if id2, _ := st.AddAlert(ctx, a); id2 != id1 {
		t.Fatalf("second alert opened case %d, want %d", id2, id1)
	}
	c, alerts, err := st.Case(ctx, id1)
	if err != nil || c.Alerts != 2 || c.MaxScore != 90 || len(alerts) != 2 || c.State != CaseOpen {
		t.Fatalf("case %+v alerts %d err %v", c, len(alerts), err)
	}
	if err := st.Resolve(ctx, id1, CaseReviewing, "looking", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Resolve(ctx, id1, CaseConfirmed, "", t0); err == nil {
		t.Fatal("resolved without a reason")
	}
	if err := st.Resolve(ctx, id1, CaseConfirmed, "ring", t0); err != nil {
		t.Fatal(err)
	}
	if err := st.Resolve(ctx, id1, CaseOpen, "again", t0); err == nil {
		t.Fatal("confirmed case reopened")
	}
	if id, _ := st.AddAlert(ctx, a); id != id1 {
		t.Fatalf("a redelivered alert of the confirmed case filed into case %d", id)
	}
	a.EventID = "e3"
	if id3, _ := st.AddAlert(ctx, a); id3 == id1 {
		t.Fatal("new alert filed into a confirmed case")
	}
	if _, _, err := st.Case(ctx, 999); err == nil {
		t.Fatal("missing case found")
	}
	cs, _ := st.Cases(ctx, CaseConfirmed)
	if len(cs) != 1 || cs[0].Reason != "ring" {
		t.Fatalf("confirmed cases %+v", cs)
	}
}

func BenchmarkObserve(b *testing.B) {
	events := randomStream(1, 1<<16, 20000)
	en := NewEngine(nil)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := events[i%len(events)]
		e.Time = e.Time.Add(time.Duration(i/len(events)) * 400 * 24 * time.Hour)
		if _, err := en.Observe(e); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkCheck(b *testing.B) {
	events := randomStream(2, 1<<14, 2000)
	en := NewEngine(nil)
	for _, e := range events {
		en.Observe(e)
	}
	last := events[len(events)-1].Time
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := events[i%len(events)]
		e.Time = last
		if _, err := en.Check(e); err != nil {
			b.Fatal(err)
		}
	}
}
