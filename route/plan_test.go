package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// testWorld loads testdata/world.yaml and its rules under a policy.
func testWorld(t testing.TB, policy compliance.Policy) (*ecosystem.Ecosystem, *compliance.Checker) {
	t.Helper()
	eco, err := ecosystem.LoadFile("testdata/world.yaml", compliance.LoadCheck)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compliance.NewChecker(eco.Rules, policy)
	if err != nil {
		t.Fatal(err)
	}
	return eco, c
}

const yuan = 100 // fen

func TestEvaluateFeesAlongTheRoute(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	quotaUsed := func(fen int64) *Usage {
		return &Usage{Channels: map[string]Used{UsageKey("me", "alipay_withdraw_a"): {FreeQuotaFen: fen}}}
	}
	tests := []struct {
		name          string
		from, to      string
		amountFen     int64
		channels      []string
		usage         *Usage
		wantHopFees   []int64
		wantDelivered int64
	}{
		{"free quota covers the withdrawal", "alipay.balance", "bank_a.debit", 1000 * yuan, []string{"alipay_withdraw_a"}, nil, []int64{0}, 1000 * yuan},
		{"quota used up: 0.1%", "alipay.balance", "bank_a.debit", 1000 * yuan, []string{"alipay_withdraw_a"}, quotaUsed(20000 * yuan), []int64{100}, 999 * yuan},
		{"quota partly left: rate on the rest", "alipay.balance", "bank_a.debit", 1000 * yuan, []string{"alipay_withdraw_a"}, quotaUsed(19500 * yuan), []int64{50}, 1000*yuan - 50},
		{"minimum on a small charged part", "alipay.balance", "bank_a.debit", 1000 * yuan, []string{"alipay_withdraw_a"}, quotaUsed(19000*yuan + 1), []int64{10}, 1000*yuan - 10},
		{"fee twice, the second on what is left", "alipay.balance", "wechat.change", 1000 * yuan, []string{"alipay_withdraw_mybank", "mybank_to_wechat"}, nil, []int64{100, 100}, 998 * yuan},
		{"second fee rounds up to the fen", "alipay.balance", "wechat.change", 1234_56, []string{"alipay_withdraw_mybank", "mybank_to_wechat"}, nil, []int64{124, 124}, 1234_56 - 248},
		{"Huabei minimum 1 yuan", "alipay.huabei", "alipay.balance", 500 * yuan, []string{"huabei_topup"}, nil, []int64{100}, 499 * yuan},
		{"Huabei 0.1% above the minimum", "alipay.huabei", "alipay.balance", 5000 * yuan, []string{"huabei_topup"}, nil, []int64{500}, 4995 * yuan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(eco, Query{From: tt.from, To: tt.to, AmountFen: tt.amountFen, Usage: tt.usage}, tt.channels, rules)
			if err != nil {
				t.Fatal(err)
			}
			var fees []int64
			var sum int64
			for _, h := range r.Hops {
				fees = append(fees, h.FeeFen)
				sum += h.FeeFen
			}
			if !slices.Equal(fees, tt.wantHopFees) || r.DeliveredFen != tt.wantDelivered {
				t.Fatalf("hop fees %v delivered %d; want %v, %d", fees, r.DeliveredFen, tt.wantHopFees, tt.wantDelivered)
			}
			if r.FeeFen != sum || r.SentFen-r.FeeFen != r.DeliveredFen || r.SentFen != tt.amountFen {
				t.Fatalf("sent %d fee %d delivered %d do not add up (hop fees sum %d)", r.SentFen, r.FeeFen, r.DeliveredFen, sum)
			}
			if want := float64(r.FeeFen) / float64(r.SentFen); r.CostRatio != want {
				t.Fatalf("cost ratio %v, want %v", r.CostRatio, want)
			}
		})
	}
}

func TestEvaluateForcedPath(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	channels := []string{"huabei_topup", "alipay_withdraw_a", "bank_a_to_wechat", "wechat_transfer"}
	q := Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan}
	r, err := Evaluate(eco, q, channels, rules)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != VerdictRefused || r.Findings[0].Rule != "credit-cash-out" || r.Findings[0].Hop != 1 {
		t.Fatalf("verdict %s findings %+v; want refused by credit-cash-out at hop 1", r.Verdict, r.Findings)
	}
	// apps: Alipay | Alipay, Bank A | Bank A, WeChat | WeChat
	if r.AppSwitches != 2 {
		t.Fatalf("app switches %d, want 2", r.AppSwitches)
	}
	wantSuccess := 0.95 * 0.97 * 0.65 * 0.999
	if math.Abs(r.Success-wantSuccess) > 1e-12 {
		t.Fatalf("success %v, want %v", r.Success, wantSuccess)
	}
	var wantMean float64
	for _, id := range channels {
		ch, _ := eco.Channel(id)
		wantMean += HopLatency(ch).Mean()
	}
	if math.Abs(r.TimeMeanS-wantMean) > 1e-6 {
		t.Fatalf("mean %v, want the sum of hop means %v", r.TimeMeanS, wantMean)
	}
	if last := r.Hops[3]; last.FromHolder != "me" || last.ToHolder != "friend" {
		t.Fatalf("transfer hop goes %s → %s, want me → friend", last.FromHolder, last.ToHolder)
	}
	res, err := Plan(eco, q, rules)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, pr := range res.Routes {
		if slices.Equal(pr.Channels(), channels) {
			found = true
			if pr.ID != r.ID || pr.Verdict != VerdictRefused {
				t.Fatalf("planned forced path id %s verdict %s; evaluated id %s", pr.ID, pr.Verdict, r.ID)
			}
		}
	}
	if !found {
		t.Fatalf("the forced path is not among the planned routes: %v", routeChannels(res))
	}
}

func routeChannels(res *Result) [][]string {
	var out [][]string
	for _, r := range res.Routes {
		out = append(out, r.Channels())
	}
	return out
}

func TestEvaluateErrors(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	q := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan}
	tests := []struct {
		channels  []string
		q         Query
		wantField string
		wantText  string
	}{
		{nil, q, "channels", "at least one"},
		{[]string{"nope"}, q, "channels[0]", "unknown channel"},
		{[]string{"huabei_topup"}, q, "channels[0]", "leaves alipay.huabei"},
		{[]string{"alipay_withdraw_a"}, q, "channels", "end at bank_a.debit"},
		{[]string{"direct_transfer"}, Query{From: q.From, To: q.To, AmountFen: q.AmountFen, At: time.Date(2022, 6, 1, 12, 0, 0, 0, time.UTC)}, "channels[0]", "does not exist"},
		{[]string{"huabei_topup"}, Query{From: "alipay.huabei", To: "alipay.balance", AmountFen: 50}, "channels[0]", "whole"},
	}
	for _, tt := range tests {
		_, err := Evaluate(eco, tt.q, tt.channels, rules)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != tt.wantField || !strings.Contains(qe.Error(), tt.wantText) {
			t.Errorf("Evaluate(%v) error %v; want field %s containing %q", tt.channels, err, tt.wantField, tt.wantText)
		}
	}
}

func TestQueryErrors(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	ok := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100}
	with := func(f func(*Query)) Query { q := ok; f(&q); return q }
	tests := []struct {
		name      string
		q         Query
		wantField string
		wantText  string
	}{
		{"unknown from with suggestion", with(func(q *Query) { q.From = "alipay.huabie" }), "from", `did you mean "alipay.huabei"`},
		{"empty to", with(func(q *Query) { q.To = "" }), "to", "must name a product"},
		{"unknown to", with(func(q *Query) { q.To = "wechat.chnge" }), "to", `"wechat.change"`},
		{"zero amount", with(func(q *Query) { q.AmountFen = 0 }), "amount", "greater than zero"},
		{"negative amount", with(func(q *Query) { q.AmountFen = -5 }), "amount", "greater than zero"},
		{"unknown holder", with(func(q *Query) { q.ToHolder = "nobody" }), "to_holder", "unknown holder"},
		{"unknown from holder", with(func(q *Query) { q.FromHolder = "nobody" }), "from_holder", "unknown holder"},
		{"holder without the product", with(func(q *Query) { q.FromHolder = "shop" }), "from_holder", "no account"},
		{"same account", with(func(q *Query) { q.To = q.From }), "to", "same account"},
		{"unknown objective", with(func(q *Query) { q.Objective = "fastest" }), "objective", "not one of"},
		{"unknown policy", with(func(q *Query) { q.Policy = "lax" }), "policy", "not one of"},
		{"too many hops", with(func(q *Query) { q.MaxHops = MaxHopsCap + 1 }), "max_hops", "between 1"},
		{"negative hops", with(func(q *Query) { q.MaxHops = -1 }), "max_hops", "between 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Plan(eco, tt.q, rules)
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Field != tt.wantField || !strings.Contains(err.Error(), tt.wantText) {
				t.Fatalf("error %v; want field %s containing %q", err, tt.wantField, tt.wantText)
			}
		})
	}
	if _, err := Plan(nil, ok, rules); err == nil {
		t.Fatal("Plan(nil ecosystem) succeeded")
	}
	if _, err := Plan(eco, with(func(q *Query) { q.To = q.From; q.ToHolder = "friend" }), rules); err != nil {
		t.Fatalf("same product to another holder should plan: %v", err)
	}
}

func TestHardLimitsRefuse(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	tests := []struct {
		name     string
		q        Query
		wantRule string
	}{
		{"per-transaction limit", Query{From: "alipay.balance", To: "wechat.change", AmountFen: 6000 * yuan}, "limit.per_txn"},
		{"identity level", Query{From: "alipay.balance", To: "wechat.change", FromHolder: "friend", AmountFen: 100 * yuan}, "limit.kyc"},
		{"daily limit with usage", Query{From: "alipay.balance", To: "bank_a.debit", AmountFen: 100 * yuan,
			Usage: &Usage{Channels: map[string]Used{UsageKey("me", "alipay_withdraw_a"): {DayFen: 49950 * yuan}}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Evaluate(eco, tt.q, []string{firstChannel(tt.q)}, rules)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantRule == "" {
				if r.Verdict != VerdictAllowed {
					t.Fatalf("verdict %s %+v; the channel has no daily limit, want allowed", r.Verdict, r.Findings)
				}
				return
			}
			if r.Verdict != VerdictRefused || !hasRule(r.Findings, tt.wantRule) {
				t.Fatalf("verdict %s findings %+v; want refused by %s", r.Verdict, r.Findings, tt.wantRule)
			}
		})
	}
}

func firstChannel(q Query) string {
	if q.To == "bank_a.debit" {
		return "alipay_withdraw_a"
	}
	return "direct_transfer"
}

func hasRule(fs []compliance.Finding, rule string) bool {
	return slices.ContainsFunc(fs, func(f compliance.Finding) bool { return f.Rule == rule })
}

func TestTierAndBalanceCapLimits(t *testing.T) {
	eco, _ := testWorld(t, compliance.PolicyStrict)
	wallet := ecosystem.Product{ID: "alipay.ecny", Institution: "alipay", Name: "ecny", Kind: ecosystem.ProductStoredValue, CashWithdrawable: true,
		Tiers: []ecosystem.Tier{
			{Name: "class_iv", MinKYCLevel: 0, BalanceCapFen: 1000 * yuan, Limits: ecosystem.Limits{PerTxnFen: 500 * yuan}},
			{Name: "class_ii", MinKYCLevel: 3, BalanceCapFen: 10000 * yuan, Limits: ecosystem.Limits{PerTxnFen: 5000 * yuan}},
		}}
	eco.Products = append(eco.Products, wallet)
	eco.Channels = append(eco.Channels,
		ecosystem.Channel{ID: "to_ecny", Kind: "top_up", From: "alipay.balance", To: "alipay.ecny", Institution: "alipay", Latency: ecosystem.Latency{Dist: "instant"}, Success: 1, Requires: ecosystem.Requires{SameHolder: true}},
		ecosystem.Channel{ID: "from_ecny", Kind: "withdraw", From: "alipay.ecny", To: "bank_a.debit", Institution: "alipay", Latency: ecosystem.Latency{Dist: "instant"}, Success: 1, Requires: ecosystem.Requires{SameHolder: true}},
	)
	eco.Reindex()
	tests := []struct {
		holder   string
		amount   int64
		channels []string
		to       string
		want     string // rule refusing, or "" for allowed
	}{
		{"me", 2000 * yuan, []string{"to_ecny"}, "alipay.ecny", ""},
		{"me", 20000 * yuan, []string{"to_ecny"}, "alipay.ecny", "limit.balance_cap"},
		{"friend", 2000 * yuan, []string{"to_ecny"}, "alipay.ecny", "limit.balance_cap"},
		{"me", 2000 * yuan, []string{"to_ecny", "from_ecny"}, "bank_a.debit", ""},
		{"friend", 800 * yuan, []string{"to_ecny", "from_ecny"}, "bank_a.debit", "limit.per_txn"},
	}
	full := &Usage{Balances: map[string]int64{UsageKey("me", "alipay.ecny"): 9500 * yuan}}
	if r, err := Evaluate(eco, Query{From: "alipay.balance", To: "alipay.ecny", AmountFen: 600 * yuan, Usage: full}, []string{"to_ecny"}, NoRules{}); err != nil || !hasRule(r.Findings, "limit.balance_cap") {
		t.Fatalf("9,500 yuan held + 600 arriving under a 10,000 cap: %v %+v", err, r)
	}
	if r, err := Evaluate(eco, Query{From: "alipay.balance", To: "alipay.ecny", AmountFen: 400 * yuan, Usage: full}, []string{"to_ecny"}, NoRules{}); err != nil || r.Verdict != VerdictAllowed {
		t.Fatalf("9,500 yuan held + 400 arriving under a 10,000 cap: %v %+v", err, r)
	}
	for _, tt := range tests {
		r, err := Evaluate(eco, Query{From: "alipay.balance", To: tt.to, FromHolder: tt.holder, AmountFen: tt.amount}, tt.channels, NoRules{})
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r.Verdict == VerdictRefused {
			got = r.Findings[0].Rule
		}
		if got != tt.want {
			t.Errorf("%s %d fen via %v: refused by %q (%+v), want %q", tt.holder, tt.amount, tt.channels, got, r.Findings, tt.want)
		}
	}
}

func TestPlanObjectivesAndPolicy(t *testing.T) {
	eco, strict := testWorld(t, compliance.PolicyStrict)
	_, advisory := testWorld(t, compliance.PolicyAdvisory)
	base := Query{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan}
	for _, obj := range Objectives {
		q := base
		q.Objective = obj
		res, err := Plan(eco, q, strict)
		if err != nil {
			t.Fatal(err)
		}
		ok := allowedRoutes(res)
		if len(ok) < 2 {
			t.Fatalf("%s: %d allowed routes, want several to rank", obj, len(ok))
		}
		for i := 1; i < len(ok); i++ {
			a, b := ok[i-1], ok[i]
			var inOrder bool
			switch obj {
			case ObjectiveCost:
				inOrder = a.FeeFen <= b.FeeFen
			case ObjectiveTime:
				inOrder = a.TimeMeanS <= b.TimeMeanS
			case ObjectiveReliability:
				inOrder = a.Success >= b.Success
			case ObjectiveEffort:
				inOrder = a.AppSwitches <= b.AppSwitches
			case ObjectiveBalanced:
				inOrder = a.Score <= b.Score
			}
			if !inOrder {
				t.Fatalf("%s: route %d (%s) before %d (%s) out of order", obj, i-1, a.ID, i, b.ID)
			}
		}
	}
	q := Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan}
	res, err := Plan(eco, q, strict)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(allowedRoutes(res)); n != 0 || len(res.Routes) == 0 {
		t.Fatalf("strict: %d allowed of %d routes; want none allowed, some refused", n, len(res.Routes))
	}
	if alt := res.Alternative; alt == nil || alt.Query.From != "alipay.balance" || len(allowedRoutes(alt)) == 0 {
		t.Fatalf("strict: alternative %+v; want allowed routes from alipay.balance", alt)
	}
	q.Policy = compliance.PolicyAdvisory
	res, err = Plan(eco, q, advisory)
	if err != nil {
		t.Fatal(err)
	}
	if res.Alternative != nil {
		t.Fatal("advisory: an alternative was planned although routes are allowed with warnings")
	}
	for _, r := range allowedRoutes(res) {
		if r.Verdict != VerdictWarned {
			t.Fatalf("advisory: route %s is %s, want warned (cash-out warns)", r.ID, r.Verdict)
		}
	}
	if len(allowedRoutes(res)) == 0 || res.Query.Policy != "advisory" {
		t.Fatalf("advisory: no warned route or policy %q", res.Query.Policy)
	}
}

func allowedRoutes(res *Result) []Route {
	var out []Route
	for _, r := range res.Routes {
		if r.Verdict != VerdictRefused {
			out = append(out, r)
		}
	}
	return out
}

func TestPlanIsDeterministic(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	q := Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 7,
		At: time.Date(2023, 5, 5, 18, 30, 0, 0, time.FixedZone("CST", 8*3600))}
	var first []byte
	for i := range 3 {
		eco2, rules2 := eco, rules
		if i == 2 { // a fresh load, so nothing cached in the ecosystem matters
			eco2, rules2 = testWorld(t, compliance.PolicyStrict)
		}
		res, err := Plan(eco2, q, rules2)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("run %d differs:\n%s\n%s", i, first, b)
		}
	}
}

func TestClearingWindowsDelay(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	cst := time.FixedZone("CST", 8*3600)
	channels := []string{"alipay_withdraw_a", "quickpass_a_b", "bank_b_to_wechat"}
	eval := func(at time.Time) *Route {
		r, err := Evaluate(eco, Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100 * yuan, At: at}, channels, rules)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	free := eval(time.Time{})
	wednesday := eval(time.Date(2023, 5, 3, 10, 0, 0, 0, cst))
	friday := eval(time.Date(2023, 5, 5, 18, 30, 0, 0, cst))
	// Wednesday 10:00 + at most a couple of hours stays inside bank_b's 09:00–17:00 window.
	if math.Abs(wednesday.TimeMeanS-free.TimeMeanS) > 0.02*free.TimeMeanS {
		t.Fatalf("Wednesday mean %v, want about the window-free %v", wednesday.TimeMeanS, free.TimeMeanS)
	}
	// Friday 18:30: bank_b settles Monday 09:00, 62.5 h later, then a fixed 15 min top-up.
	if want := 62.5*3600 + 15*60; math.Abs(friday.TimeP50S-want) > 1 {
		t.Fatalf("Friday evening p50 %v s, want %v s (Monday 09:00 + 15 min)", friday.TimeP50S, want)
	}
}

func TestClearingSettle(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	at := func(day, hour, minute int) time.Time { return time.Date(2023, 5, day, hour, minute, 0, 0, cst) } // May 2023: 1st is a Monday
	windows := ecosystem.Clearing{Days: "weekdays", Windows: []ecosystem.Window{{Open: "09:00", Close: "12:00"}, {Open: "13:00", Close: "17:00"}}}
	tests := []struct {
		name        string
		c           ecosystem.Clearing
		start, t    time.Time
		want        time.Time
		unconstrain bool
	}{
		{"realtime any time", ecosystem.Clearing{}, at(6, 3, 0), at(6, 3, 0), at(6, 3, 0), true},
		{"inside a window", windows, at(3, 10, 0), at(3, 10, 0), at(3, 10, 0), false},
		{"lunch break waits", windows, at(3, 11, 0), at(3, 12, 30), at(3, 13, 0), false},
		{"evening waits for the morning", windows, at(3, 16, 0), at(3, 17, 0), at(4, 9, 0), false},
		{"weekend waits for Monday", windows, at(5, 16, 0), at(6, 10, 0), at(8, 9, 0), false},
		{"weekdays without windows", ecosystem.Clearing{Days: "weekdays"}, at(6, 10, 0), at(6, 10, 0), at(8, 0, 0), false},
		{"t1 settles the next day", ecosystem.Clearing{Mode: ecosystem.ClearingT1}, at(3, 10, 0), at(3, 10, 5), at(4, 0, 0), false},
		{"t1 with windows", ecosystem.Clearing{Mode: ecosystem.ClearingT1, Windows: []ecosystem.Window{{Open: "09:00", Close: "17:00"}}}, at(3, 10, 0), at(3, 10, 5), at(4, 9, 0), false},
	}
	for _, tt := range tests {
		c := clearingOf(tt.c)
		if (c == nil) != tt.unconstrain {
			t.Fatalf("%s: clearingOf = %v", tt.name, c)
		}
		if c == nil {
			continue
		}
		if got := c.settle(tt.start, tt.t, cst); !got.Equal(tt.want) {
			t.Errorf("%s: settle = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestRouteIDs(t *testing.T) {
	a, b := RouteID("x@me>y@friend"), RouteID("x@me>y@me")
	if len(a) != 8 || strings.Trim(a, "0123456789abcdef") != "" || a == b || a != RouteID("x@me>y@friend") {
		t.Fatalf("RouteID: %q %q", a, b)
	}
	eco, rules := testWorld(t, compliance.PolicyStrict)
	res, err := Plan(eco, Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan}, rules)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range res.Routes {
		if seen[r.ID] {
			t.Fatalf("duplicate route id %s", r.ID)
		}
		seen[r.ID] = true
		e, err := Evaluate(eco, Query{From: "alipay.balance", To: "wechat.change", AmountFen: 1000 * yuan}, r.Channels(), rules)
		if err != nil || e.ID != r.ID {
			t.Fatalf("Evaluate(%v) id %v err %v, want %s", r.Channels(), e, err, r.ID)
		}
	}
}

func TestSwitchesOf(t *testing.T) {
	tests := []struct {
		last string
		apps []string
		want int
	}{
		{"", []string{"Alipay"}, 0},
		{"Alipay", []string{"Alipay"}, 0},
		{"Alipay", []string{"Bank"}, 1},
		{"Alipay", []string{"Alipay", "Bank", "WeChat"}, 2},
		{"Bank", []string{"Alipay", "Bank"}, 2},
		{"", []string{"Bank", "Bank", "WeChat"}, 1},
	}
	for _, tt := range tests {
		if got := switchesOf(tt.last, tt.apps); got != tt.want {
			t.Errorf("switchesOf(%q, %v) = %d, want %d", tt.last, tt.apps, got, tt.want)
		}
	}
}

func TestHopLatency(t *testing.T) {
	lat := func(l ecosystem.Latency) Distribution { return HopLatency(&ecosystem.Channel{Latency: l}) }
	m := float64(time.Minute / time.Second)
	tests := []struct {
		name          string
		d             Distribution
		p50, p95, avg float64
	}{
		{"instant", lat(ecosystem.Latency{Dist: "instant"}), 0, 0, 0},
		{"fixed", lat(ecosystem.Latency{Dist: "fixed", P50: 15 * time.Minute}), 15 * m, 15 * m, 15 * m},
		{"uniform", lat(ecosystem.Latency{Dist: "uniform", Min: 10 * time.Minute, Max: 50 * time.Minute}), 30 * m, 48 * m, 30 * m},
		{"lognormal", lat(ecosystem.Latency{Dist: "lognormal", P50: 5 * time.Minute, P95: 25 * time.Minute}), 5 * m, 25 * m,
			5 * m * math.Exp(math.Pow(math.Log(5)/z95, 2)/2)},
		{"shifted lognormal", lat(ecosystem.Latency{Dist: "lognormal", Min: time.Hour, P50: 30 * time.Minute, P95: 8 * time.Hour}), 90 * m, 540 * m,
			60*m + 30*m*math.Exp(math.Pow(math.Log(16)/z95, 2)/2)},
	}
	for _, tt := range tests {
		for _, c := range []struct {
			name      string
			got, want float64
		}{{"p50", tt.d.Quantile(0.5), tt.p50}, {"p95", tt.d.Quantile(0.95), tt.p95}, {"mean", tt.d.Mean(), tt.avg}} {
			if math.Abs(c.got-c.want) > 1e-6*max(1, c.want) {
				t.Errorf("%s %s = %v, want %v", tt.name, c.name, c.got, c.want)
			}
		}
		for _, p := range []float64{0.1, 0.5, 0.9} {
			if tt.d.Family == "lognormal" || tt.d.Family == "uniform" {
				if got := tt.d.CDF(tt.d.Quantile(p)); math.Abs(got-p) > 1e-9 {
					t.Errorf("%s: CDF(Quantile(%v)) = %v", tt.name, p, got)
				}
			}
		}
	}
}

// TestTimeQuantilesMatchMonteCarlo checks the Latin-hypercube quantiles of
// a sum against a large plain Monte Carlo estimate.
func TestTimeQuantilesMatchMonteCarlo(t *testing.T) {
	eco, rules := testWorld(t, compliance.PolicyStrict)
	channels := []string{"huabei_topup", "alipay_withdraw_a", "bank_a_to_wechat", "wechat_transfer"}
	r, err := Evaluate(eco, Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 1000 * yuan, Seed: 3}, channels, rules)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 100_000
	sums := make([]float64, n)
	for i := range sums {
		for _, id := range channels {
			ch, _ := eco.Channel(id)
			sums[i] += HopLatency(ch).Quantile(rng.Float64())
		}
	}
	slices.Sort(sums)
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", r.TimeP50S, sums[n/2]}, {"p95", r.TimeP95S, sums[n*95/100]}} {
		if math.Abs(c.got-c.want) > 0.03*c.want {
			t.Errorf("%s = %v s, Monte Carlo %v s", c.name, c.got, c.want)
		}
	}
}

func TestParseQuery(t *testing.T) {
	q, err := ParseQuery("from=alipay.huabei to=wechat.change amount=1,000.50 to_holder=friend objective=cost policy=advisory at=2023-05-05T18:30:00+08:00 max_hops=4 seed=9")
	if err != nil {
		t.Fatal(err)
	}
	if q.From != "alipay.huabei" || q.To != "wechat.change" || q.AmountFen != 100050 || q.ToHolder != "friend" ||
		q.Objective != ObjectiveCost || q.Policy != compliance.PolicyAdvisory || q.At.IsZero() || q.MaxHops != 4 || q.Seed != 9 {
		t.Fatalf("ParseQuery = %+v", q)
	}
	for in, field := range map[string]string{
		"to=x amount=1":                          "from",
		"from=a to=b":                            "amount",
		"from=a to=b amount=0":                   "amount",
		"from=a to=b amount=1.234":               "amount",
		"from=a from=b to=c amount=1":            "from",
		"from=a to=b amount=1 colour=red":        "query",
		"from=a to=b amount=1 objective=fastest": "objective",
		"from=a to=b amount=1 max_hops=99":       "max_hops",
		"from=a to=b amount=1 at=tomorrow":       "at",
		"from=a to=b amount=1 seed=-1":           "seed",
		"from=a to=b amount=1 loose":             "query",
	} {
		_, err := ParseQuery(in)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != field {
			t.Errorf("ParseQuery(%q) error %v, want field %s", in, err, field)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{
		"from=alipay.huabei to=wechat.change amount=1000 to_holder=friend",
		"from=a to=b amount=0.01 objective=time policy=strict max_hops=3 seed=1 at=2023-01-01T00:00:00Z",
		"from= to= amount=", "amount=99999999999999999999", "=x", "from=a from=a", "",
	} {
		f.Add(s)
	}
	eco, rules := testWorld(f, compliance.PolicyStrict)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuery(s)
		if err != nil {
			var qe *QueryError
			if !errors.As(err, &qe) || qe.Field == "" {
				t.Fatalf("ParseQuery(%q) error %v is not a *QueryError naming a field", s, err)
			}
			return
		}
		if q.AmountFen <= 0 || q.MaxHops < 0 || q.MaxHops > MaxHopsCap {
			t.Fatalf("ParseQuery(%q) accepted %+v", s, q)
		}
		if q.MaxHops == 0 || q.MaxHops > 3 {
			q.MaxHops = 3 // keep each fuzz run cheap
		}
		res, err := Plan(eco, q, rules)
		var qe *QueryError
		if err != nil && !errors.As(err, &qe) {
			t.Fatalf("Plan(%+v) error %v is not a *QueryError", q, err)
		}
		if err == nil && res.Query.AmountFen != q.AmountFen {
			t.Fatalf("result query %+v, want amount %d", res.Query, q.AmountFen)
		}
	})
}

func TestOrderPair(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	for trial := range 200 {
		n := 1 + rng.IntN(600)
		s := make([]float64, n)
		for j := range s {
			s[j] = float64(rng.IntN(50)) // many ties
		}
		sorted := slices.Clone(s)
		slices.Sort(sorted)
		i := rng.IntN(n)
		a, b := orderPair(s, i)
		wantB := sorted[min(i+1, n-1)]
		if a != sorted[i] || b != wantB {
			t.Fatalf("trial %d: orderPair(n=%d, i=%d) = %v, %v; want %v, %v", trial, n, i, a, b, sorted[i], wantB)
		}
	}
}
