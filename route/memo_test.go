package route

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// planJSON plans with plan and returns the result as JSON ("error: …" for an error).
func planJSON(t interface{ Fatalf(string, ...any) }, plan func() (*Result, error)) []byte {
	res, err := plan()
	if err != nil {
		return []byte("error: " + err.Error())
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("encoding a result: %v", err)
	}
	return b
}

// TestPlannerMatchesPlan: a Planner's results, memoised or not, are Plan's
// byte for byte in JSON, over random worlds and queries that share channels
// (other amounts), start keys (other starts the same day) and whole queries
// (asked again).
func TestPlannerMatchesPlan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := randomWorld(t)
		pl := NewPlanner(e)
		rules := &fakeRules{shares: map[int64]bool{}, issuer: map[string]bool{}}
		for i := range rapid.IntRange(1, 6).Draw(t, "queries") {
			q := randomQuery(t, e)
			variants := []Query{q, q}
			q2 := q
			q2.AmountFen = q.AmountFen + rapid.Int64Range(1, 1000).Draw(t, "more")
			variants = append(variants, q2)
			if !q.At.IsZero() {
				q3 := q
				q3.At = q.At.Add(time.Duration(rapid.IntRange(1, 3600).Draw(t, "later")) * time.Second)
				variants = append(variants, q3)
			}
			q4 := q
			q4.CreditShareBps = rapid.Int64Range(0, 10_000).Draw(t, "share")
			variants = append(variants, q4)
			for j, v := range variants {
				want := planJSON(t, func() (*Result, error) { return Plan(e, v, rules) })
				got := planJSON(t, func() (*Result, error) { return pl.Plan(v, rules) })
				if !bytes.Equal(got, want) {
					t.Fatalf("query %d variant %d %+v:\nplanner %s\nplan    %s", i, j, v, got, want)
				}
				if _, enc, err := pl.PlanJSON(v, rules); err == nil && !bytes.Equal(enc, want) {
					t.Fatalf("query %d variant %d %+v:\nPlanJSON %s\nplan     %s", i, j, v, enc, want)
				}
			}
		}
	})
}

// TestPlannerMemoises: the second identical query is a result hit, another
// amount over the same routes reuses the time statistics, and the results
// are still Plan's.
func TestPlannerMemoises(t *testing.T) {
	eco, rules := bundled(t, compliance.PolicyStrict)
	pl := NewPlanner(eco)
	at := time.Date(2023, 5, 5, 18, 30, 0, 0, time.FixedZone("CST", 8*3600))
	q := Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1, At: at}
	for _, v := range []Query{q, q, {From: q.From, To: q.To, ToHolder: q.ToHolder, AmountFen: q.AmountFen + 1, Seed: 1, At: at}} {
		want := planJSON(t, func() (*Result, error) { return Plan(eco, v, rules) })
		got := planJSON(t, func() (*Result, error) { return pl.Plan(v, rules) })
		if !bytes.Equal(got, want) {
			t.Fatalf("%+v:\nplanner %s\nplan    %s", v, got, want)
		}
	}
	s := pl.Stats()
	if s.ResultHits != 1 || s.ResultMisses != 2 {
		t.Errorf("result memo: %v; want 1 hit (the repeated query), 2 misses", s)
	}
	if s.TimeStatsHits == 0 {
		t.Errorf("time statistics memo: %v; want hits for the second amount over the same routes", s)
	}
}

// TestPlannerConcurrent: many goroutines sharing one Planner get Plan's results.
func TestPlannerConcurrent(t *testing.T) {
	eco, rules := bundled(t, compliance.PolicyStrict)
	pl := NewPlanner(eco)
	at := time.Date(2023, 5, 5, 18, 30, 0, 0, time.UTC)
	queries := []Query{
		{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1, At: at},
		{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1},
		{From: "alipay.balance", To: "wechat.change", AmountFen: 999 * yuan, Seed: 2, At: at},
	}
	want := make([][]byte, len(queries))
	for i, q := range queries {
		want[i] = planJSON(t, func() (*Result, error) { return Plan(eco, q, rules) })
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Go(func() {
			for k := range 12 {
				i := (g + k) % len(queries)
				got := planJSON(t, func() (*Result, error) { return pl.Plan(queries[i], rules) })
				_, enc, err := pl.PlanJSON(queries[i], rules)
				if !bytes.Equal(got, want[i]) || err != nil || !bytes.Equal(enc, want[i]) {
					errs <- string(got) + "\n" + string(enc)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("a concurrent plan differs from Plan: %s", e)
	}
}

// TestQueryKeyCoversEveryField changes each field of Query in turn, found
// by reflection, and checks the result key changes: a field added to Query
// later cannot be silently left out of the memo key.
func TestQueryKeyCoversEveryField(t *testing.T) {
	// A world with a clearing constraint, so StartKey is the start itself.
	eco, _ := bundled(t, compliance.PolicyStrict)
	eco.Institutions[0].Clearing = ecosystem.Clearing{Mode: ecosystem.ClearingT1}
	base := Query{From: "a", To: "b", AmountFen: 1, FromHolder: "me", ToHolder: "friend", Objective: ObjectiveCost,
		Policy: compliance.PolicyStrict, At: time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC), MaxHops: 3, Seed: 7,
		Usage: &Usage{Channels: map[string]Used{"me/x": {DayFen: 1}}}, CreditShareBps: 5, CreditPurpose: "consumption"}
	baseKey, ok := queryKey(eco, base)
	if !ok {
		t.Fatal("a query with every field set is not cacheable")
	}
	typ := reflect.TypeFor[Query]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		q := base
		fv := reflect.ValueOf(&q).Elem().Field(i)
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			fv.Set(reflect.ValueOf(base.At.Add(time.Second)))
		case f.Type == reflect.TypeFor[*Usage]():
			fv.Set(reflect.ValueOf(&Usage{Channels: map[string]Used{"me/x": {DayFen: 2}}}))
		case fv.Kind() == reflect.String:
			fv.SetString(fv.String() + "x")
		case fv.CanInt():
			fv.SetInt(fv.Int() + 1)
		case fv.CanUint():
			fv.SetUint(fv.Uint() + 1)
		case fv.Kind() == reflect.Bool:
			fv.SetBool(!fv.Bool())
		case fv.CanFloat():
			fv.SetFloat(fv.Float() + 1)
		default:
			t.Fatalf("Query.%s has type %s, which queryKey does not render: teach queryKey (route/memo.go) and this test about it", f.Name, f.Type)
		}
		key, ok := queryKey(eco, q)
		if !ok {
			t.Errorf("Query.%s changed: the query is no longer cacheable", f.Name)
		} else if key == baseKey {
			t.Errorf("Query.%s changed but the memo key did not: %s", f.Name, key)
		}
	}
	// Usage with the same content at another address shares the key.
	q := base
	q.Usage = &Usage{Channels: map[string]Used{"me/x": {DayFen: 1}}}
	if key, _ := queryKey(eco, q); key != baseKey {
		t.Errorf("equal usage at another address: key %s, want %s", key, baseKey)
	}
}

// funcRules is a RuleChecker that is not comparable, so never memoised.
type funcRules struct {
	hop func(compliance.Hop) []compliance.Finding
}

func (f funcRules) CheckHop(h compliance.Hop) []compliance.Finding { return f.hop(h) }
func (f funcRules) CheckRoute(compliance.Route) []compliance.Finding {
	return nil
}

// TestPlannerRulesInKey: other rules give other results from the same
// Planner, and rules that cannot be a key are not memoised.
func TestPlannerRulesInKey(t *testing.T) {
	eco, strict := bundled(t, compliance.PolicyStrict)
	pl := NewPlanner(eco)
	q := Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1}
	refuseAll := funcRules{hop: func(h compliance.Hop) []compliance.Finding {
		return []compliance.Finding{{Rule: "all", Effect: ecosystem.EffectRefuse, Hop: h.Index}}
	}}
	for _, rules := range []RuleChecker{strict, nil, refuseAll, strict, refuseAll} {
		want := planJSON(t, func() (*Result, error) { return Plan(eco, q, rules) })
		got := planJSON(t, func() (*Result, error) { return pl.Plan(q, rules) })
		if !bytes.Equal(got, want) {
			t.Fatalf("rules %T:\nplanner %s\nplan    %s", rules, got, want)
		}
	}
	if s := pl.Stats(); s.ResultHits != 1 || s.ResultSize != 2 {
		t.Errorf("%v: want 1 hit (strict again) and 2 kept (strict, no rules)", s)
	}
}

// TestMemoBounded: a memo keeps at most its bound.
func TestMemoBounded(t *testing.T) {
	m := memo[int, int]{max: 10}
	for i := range 100 {
		m.put(i, i)
		if v, ok := m.get(i); !ok || v != i {
			t.Fatalf("just put %d: got %d, %v", i, v, ok)
		}
	}
	if _, _, n := m.stats(); n != 10 {
		t.Errorf("kept %d entries, want the bound 10", n)
	}
}

// BenchmarkPlannerBundled plans BenchmarkPlanBundled's queries through one
// Planner: "same" asks the same query each time (whole-result memo),
// "amounts" a new amount each time (only the time statistics are memoised),
// and reports the process CPU time per plan.
func BenchmarkPlannerBundled(b *testing.B) {
	eco, rules := bundled(b, compliance.PolicyStrict)
	for _, q := range []struct {
		name string
		q    Query
	}{
		{"huabei-to-friend", Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 1}},
		{"balance-to-wechat", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1}},
		{"balance-to-wechat-at", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1,
			At: time.Date(2023, 5, 5, 18, 30, 0, 0, time.FixedZone("CST", 8*3600))}},
	} {
		for _, mode := range []string{"same", "amounts"} {
			b.Run(q.name+"/"+mode, func(b *testing.B) {
				pl := NewPlanner(eco)
				b.ReportAllocs()
				b.ResetTimer()
				cpu0 := processCPU()
				for i := range b.N {
					v := q.q
					if mode == "amounts" {
						v.AmountFen += int64(i % 100_000)
					}
					if _, err := pl.Plan(v, rules); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			})
		}
	}
}

// TestPlanJSONEchoesStart: two starts with the same StartKey share a
// memoised result, but each gets its own start in the encoded echo.
func TestPlanJSONEchoesStart(t *testing.T) {
	eco, rules := bundled(t, compliance.PolicyStrict)
	if !ClearingFree(eco) {
		t.Skip("the bundled world has clearing constraints: every start is its own key")
	}
	pl := NewPlanner(eco)
	at := time.Date(2023, 5, 5, 18, 30, 0, 0, time.UTC)
	for _, start := range []time.Time{at, at.Add(time.Second), at, at.Add(time.Hour)} {
		q := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1, At: start}
		want := planJSON(t, func() (*Result, error) { return Plan(eco, q, rules) })
		_, got, err := pl.PlanJSON(q, rules)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("start %s: %v\nPlanJSON %s\nplan     %s", start, err, got, want)
		}
	}
	if s := pl.Stats(); s.ResultHits != 3 || s.ResultSize != 1 {
		t.Errorf("%v: want one memoised result and 3 hits", s)
	}
}

// TestPlannerRecent: a query asked exactly as before gets the very result
// and encoding it got then (the recent memo); a query that differs in any
// way, or carries Usage, goes through the result memo and still gets
// Plan's answer.
func TestPlannerRecent(t *testing.T) {
	if !recentKeyable {
		t.Fatal("Query has a field == would compare by identity: teach recentKeyable (route/memo.go) about it or keep the fast path off knowingly")
	}
	eco, rules := bundled(t, compliance.PolicyStrict)
	pl := NewPlanner(eco)
	at := time.Date(2023, 5, 5, 18, 30, 0, 0, time.UTC)
	q := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan, Seed: 1, At: at}
	res1, b1, err := pl.PlanJSON(q, rules)
	if err != nil {
		t.Fatal(err)
	}
	res2, b2, err := pl.PlanJSON(q, rules)
	if err != nil {
		t.Fatal(err)
	}
	if res1 != res2 || &b1[0] != &b2[0] {
		t.Error("the same query again did not get the same result and bytes")
	}
	if res3, _ := pl.Plan(q, rules); res3 != res1 {
		t.Error("Plan of the same query did not share PlanJSON's result")
	}
	if s := pl.Stats(); s.ResultHits != 2 || s.ResultMisses != 1 {
		t.Errorf("%v: want 2 hits (through the recent memo), 1 miss", s)
	}
	for _, v := range []Query{
		{From: q.From, To: q.To, AmountFen: q.AmountFen, Seed: 1, At: at.Add(time.Second)},
		{From: q.From, To: q.To, AmountFen: q.AmountFen + 1, Seed: 1, At: at},
		{From: q.From, To: q.To, AmountFen: q.AmountFen, Seed: 1, At: at, FromHolder: "me"},
		{From: q.From, To: q.To, AmountFen: q.AmountFen, Seed: 1, At: at, Usage: &Usage{}},
		{From: q.From, To: q.To, AmountFen: q.AmountFen, Seed: 1, At: at, Usage: &Usage{}},
	} {
		want := planJSON(t, func() (*Result, error) { return Plan(eco, v, rules) })
		res, got, err := pl.PlanJSON(v, rules)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%+v: %v\nPlanJSON %s\nplan     %s", v, err, got, want)
		}
		if res == res1 {
			t.Errorf("%+v shares the result of another query", v)
		}
	}
	if _, _, size := pl.recent.stats(); size != 4 {
		t.Errorf("recent memo holds %d queries; want 4 (not the two with Usage)", size)
	}
}
