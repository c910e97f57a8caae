package route

import (
	"reflect"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

func TestCheckThenTimesIsEvaluate(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	cst := time.FixedZone("CST", 8*3600)
	quotaUsed := &Usage{Channels: map[string]Used{UsageKey("me", "alipay_withdraw_a"): {FreeQuotaFen: 20000 * yuan}}}
	tests := []struct {
		name     string
		q        Query
		channels []string
	}{
		{"one hop, no start", Query{From: "alipay.balance", To: "bank_a.debit", AmountFen: 1000 * yuan}, []string{"alipay_withdraw_a"}},
		{"quota used", Query{From: "alipay.balance", To: "bank_a.debit", AmountFen: 1000 * yuan, Usage: quotaUsed}, []string{"alipay_withdraw_a"}},
		{"windows, Wednesday", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100 * yuan, At: time.Date(2023, 5, 3, 10, 0, 0, 0, cst), Seed: 7},
			[]string{"alipay_withdraw_a", "quickpass_a_b", "bank_b_to_wechat"}},
		{"windows, Friday evening", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100 * yuan, At: time.Date(2023, 5, 5, 18, 30, 0, 0, cst)},
			[]string{"alipay_withdraw_a", "quickpass_a_b", "bank_b_to_wechat"}},
		{"two fees", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1234_56}, []string{"alipay_withdraw_mybank", "mybank_to_wechat"}},
		{"Huabei", Query{From: "alipay.huabei", To: "alipay.balance", AmountFen: 5000 * yuan}, []string{"huabei_topup"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := Evaluate(eco, tt.q, tt.channels, rules)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Check(eco, tt.q, tt.channels, rules)
			if err != nil {
				t.Fatal(err)
			}
			if got.TimeP50S != 0 || got.TimeP95S != 0 {
				t.Errorf("Check gave time quantiles %v/%v; want 0 (not computed)", got.TimeP50S, got.TimeP95S)
			}
			var mean float64
			for _, h := range got.Hops {
				ch, _ := eco.Channel(h.Channel)
				mean += HopLatency(ch).Mean()
			}
			if got.TimeMeanS != mean {
				t.Errorf("Check mean %v; want the sum of hop means %v", got.TimeMeanS, mean)
			}
			if err := Times(eco, tt.q.At, tt.q.Seed, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Check + Times =\n%+v\nEvaluate =\n%+v", got, want)
			}
		})
	}
}

func TestCheckErrorsAreEvaluates(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	q := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan}
	for _, tt := range []struct {
		channels []string
		q        Query
	}{
		{nil, q},
		{[]string{"nope"}, q},
		{[]string{"huabei_topup"}, q},
		{[]string{"alipay_withdraw_a"}, q},
		{[]string{"direct_transfer"}, Query{From: q.From, To: q.To, AmountFen: q.AmountFen, At: time.Date(2022, 6, 1, 12, 0, 0, 0, time.UTC)}},
		{[]string{"huabei_topup"}, Query{From: "alipay.huabei", To: "alipay.balance", AmountFen: 50}},
		{[]string{"alipay_withdraw_a"}, Query{From: "nope", To: q.To, AmountFen: 1}},
		{make([]string, MaxHopsCap+1), q},
	} {
		_, want := Evaluate(eco, tt.q, tt.channels, rules)
		_, got := Check(eco, tt.q, tt.channels, rules)
		if want == nil || got == nil || got.Error() != want.Error() {
			t.Errorf("Check(%v) error %v; Evaluate's is %v", tt.channels, got, want)
		}
	}
	if err := Times(nil, time.Time{}, 1, &Route{}); err == nil {
		t.Error("Times with no ecosystem: no error")
	}
	if err := Times(eco, time.Time{}, 1, &Route{Hops: []Hop{{Channel: "nope"}}}); err == nil {
		t.Error("Times with an unknown channel: no error")
	}
}

// Every route Plan returns is what Check + Times give for its channels,
// and two starts with the same StartKey plan the same routes.
func TestCheckTimesAndStartKeyProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := randomWorld(t)
		q := randomQuery(t, e)
		rules := &fakeRules{shares: map[int64]bool{}, issuer: map[string]bool{}}
		res, err := Plan(e, q, rules)
		if err != nil {
			return
		}
		for i := range res.Routes {
			want := res.Routes[i]
			want.Score = 0
			got, err := Check(e, q, want.Channels(), rules)
			if err != nil {
				t.Fatalf("Check(%v): %v", want.Channels(), err)
			}
			if err := Times(e, q.At, q.Seed, got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, want) {
				t.Fatalf("Check + Times =\n%+v\nPlan's route =\n%+v", *got, want)
			}
		}
		q2 := q
		q2.At = q.At.Add(time.Duration(rapid.IntRange(1, 72*3600).Draw(t, "later")) * time.Second)
		if q.At.IsZero() || StartKey(e, q.At) != StartKey(e, q2.At) {
			return
		}
		res2, err := Plan(e, q2, rules)
		if err != nil {
			t.Fatalf("Plan at %v: %v (fine at %v)", q2.At, err, q.At)
		}
		if !reflect.DeepEqual(res.Routes, res2.Routes) {
			t.Fatalf("same StartKey %q, different plans at %v and %v", StartKey(e, q.At), q.At, q2.At)
		}
	})
}

func TestStartKey(t *testing.T) {
	eco, _ := testWorld(t, compliance.PolicyStrict)
	a := time.Date(2023, 5, 3, 10, 0, 0, 0, time.UTC)
	if StartKey(eco, time.Time{}) != "" {
		t.Error("zero start: want the empty key")
	}
	// testdata/world.yaml has clearing windows: every start is its own key.
	if StartKey(eco, a) == StartKey(eco, a.Add(time.Nanosecond)) {
		t.Error("a world with clearing windows: two starts share a key")
	}
	free := *eco
	free.Institutions = append(free.Institutions[:0:0], eco.Institutions...)
	for i := range free.Institutions {
		free.Institutions[i].Clearing.Mode, free.Institutions[i].Clearing.Days, free.Institutions[i].Clearing.Windows = "", "", nil
	}
	if StartKey(&free, a) != StartKey(&free, a.Add(time.Hour)) {
		t.Error("no clearing constraint and no validity boundary between: keys differ")
	}
	// direct_transfer exists from some date after 2022-06-01 (TestEvaluateErrors).
	if StartKey(&free, time.Date(2022, 6, 1, 12, 0, 0, 0, time.UTC)) == StartKey(&free, a) {
		t.Error("a channel validity boundary between two starts: keys equal")
	}
}

func TestConstrainsIsClearingOf(t *testing.T) {
	for _, c := range []ecosystem.Clearing{
		{}, {Mode: "realtime"}, {Mode: ecosystem.ClearingT1}, {Days: "weekdays"}, {Days: "all"},
		{Windows: []ecosystem.Window{{Open: "09:00", Close: "17:00"}}},
		{Windows: []ecosystem.Window{{Open: "17:00", Close: "09:00"}}},
		{Windows: []ecosystem.Window{{Open: "nope", Close: "17:00"}}},
	} {
		if got, want := constrains(c), clearingOf(c) != nil; got != want {
			t.Errorf("constrains(%+v) = %v; clearingOf says %v", c, got, want)
		}
	}
}

func TestClearingFree(t *testing.T) {
	eco, _ := testWorld(t, compliance.PolicyStrict)
	if ClearingFree(eco) {
		t.Error("testdata/world.yaml has clearing windows: ClearingFree says none")
	}
	free := *eco
	free.Institutions = append(free.Institutions[:0:0], eco.Institutions...)
	for i := range free.Institutions {
		free.Institutions[i].Clearing = ecosystem.Clearing{}
	}
	free.Reindex() // lookups must see the copies
	if !ClearingFree(&free) {
		t.Fatal("no clearing constraint: ClearingFree says there is one")
	}
	loc, _ := time.LoadLocation(DefaultTimezone)
	start := time.Date(2023, 5, 5, 18, 30, 0, 0, loc)
	for i := range free.Channels {
		ch := &free.Channels[i]
		if got, want := Arrive(&free, loc, ch, start, 12345.678), start.Add(time.Duration(12345.678*float64(time.Second))); !got.Equal(want) {
			t.Errorf("%s: Arrive %v, want start + latency %v", ch.ID, got, want)
		}
	}
}
