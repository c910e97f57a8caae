package route

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
)

// fakeRules refuses hops tagged "refuse", warns on hops tagged "warn",
// refuses credit-derived money arriving in a cash-withdrawable product, and
// warns on routes through more than three institutions. It records the
// provenance every hop carried.
type fakeRules struct {
	shares map[int64]bool
	issuer map[string]bool
}

func (f *fakeRules) CheckHop(h compliance.Hop) []compliance.Finding {
	f.shares[h.CreditShareBps] = true
	f.issuer[h.CreditIssuer] = true
	var out []compliance.Finding
	if slices.Contains(h.Tags, "refuse") {
		out = append(out, compliance.Finding{Rule: "tag-refuse", Effect: "refuse", Hop: h.Index})
	}
	if slices.Contains(h.Tags, "warn") {
		out = append(out, compliance.Finding{Rule: "tag-warn", Effect: "warn", Hop: h.Index})
	}
	if h.CreditShareBps > 0 && h.To.CashWithdrawable {
		out = append(out, compliance.Finding{Rule: "cash-out", Effect: "refuse", Hop: h.Index})
	}
	return out
}

func (f *fakeRules) CheckRoute(r compliance.Route) []compliance.Finding {
	if len(r.Institutions) > 3 {
		return []compliance.Finding{{Rule: "many-institutions", Effect: "warn"}}
	}
	return nil
}

// randomWorld draws a small valid ecosystem.
func randomWorld(t *rapid.T) *ecosystem.Ecosystem {
	e := &ecosystem.Ecosystem{ID: "random", Name: "Random", Currency: money.CNY, Timezone: "Asia/Shanghai",
		Holders: []ecosystem.Holder{
			{ID: "me", Name: "Me", Kind: ecosystem.HolderPerson, KYCLevel: 3, Default: true},
			{ID: "friend", Name: "Friend", Kind: ecosystem.HolderPerson, KYCLevel: rapid.IntRange(0, 3).Draw(t, "friendKYC")},
		}}
	if rapid.Bool().Draw(t, "merchant") {
		e.Holders = append(e.Holders, ecosystem.Holder{ID: "shop", Name: "Shop", Kind: ecosystem.HolderMerchant, KYCLevel: 3})
	}
	apps := []string{"A", "B", "C"}
	nProducts := rapid.IntRange(2, 5).Draw(t, "products")
	for i := range nProducts {
		inst := fmt.Sprintf("i%d", i)
		in := ecosystem.Institution{ID: inst, Name: inst, Kind: "bank", App: rapid.SampledFrom(apps).Draw(t, "app")}
		if rapid.IntRange(0, 3).Draw(t, "windowed") == 0 {
			in.Clearing = ecosystem.Clearing{Days: "weekdays", Windows: []ecosystem.Window{{Open: "09:00", Close: "17:00"}}}
		}
		e.Institutions = append(e.Institutions, in)
		kind := rapid.SampledFrom([]string{ecosystem.ProductStoredValue, ecosystem.ProductCredit, ecosystem.ProductDeposit}).Draw(t, "kind")
		p := ecosystem.Product{ID: inst + ".p", Institution: inst, Name: "p", Kind: kind, CashWithdrawable: kind != ecosystem.ProductCredit && rapid.Bool().Draw(t, "cash")}
		if kind == ecosystem.ProductCredit {
			p.Purpose = "consumption"
		}
		e.Products = append(e.Products, p)
	}
	nChannels := rapid.IntRange(1, 8*nProducts).Draw(t, "channels")
	for i := range nChannels {
		from := rapid.IntRange(0, nProducts-1).Draw(t, "from")
		to := rapid.IntRange(0, nProducts-1).Draw(t, "to")
		ch := ecosystem.Channel{
			ID: fmt.Sprintf("c%d", i), Kind: "transfer", From: e.Products[from].ID, To: e.Products[to].ID,
			Institution: e.Products[rapid.SampledFrom([]int{from, to}).Draw(t, "operator")].Institution,
			Fee: money.FeeSchedule{
				RateBps:      rapid.Int64Range(0, 300).Draw(t, "rate"),
				MinFen:       rapid.Int64Range(0, 200).Draw(t, "minFee"),
				FreeQuotaFen: rapid.SampledFrom([]int64{0, 0, 50_000}).Draw(t, "quota"),
			},
			Success: float64(rapid.IntRange(500, 1000).Draw(t, "success")) / 1000,
			Effort:  rapid.IntRange(0, 3).Draw(t, "effort"),
		}
		switch rapid.IntRange(0, 2).Draw(t, "requires") {
		case 0:
			ch.Requires.SameHolder = true
		case 1:
			ch.Requires.OtherHolder = true
		}
		if from == to {
			ch.Requires = ecosystem.Requires{OtherHolder: true}
		}
		switch rapid.IntRange(0, 3).Draw(t, "latency") {
		case 0:
			ch.Latency = ecosystem.Latency{Dist: "instant"}
		case 1:
			ch.Latency = ecosystem.Latency{Dist: "fixed", P50: time.Duration(rapid.IntRange(1, 120).Draw(t, "fixed")) * time.Minute}
		case 2:
			lo := rapid.IntRange(0, 60).Draw(t, "lo")
			ch.Latency = ecosystem.Latency{Dist: "uniform", Min: time.Duration(lo) * time.Minute, Max: time.Duration(lo+rapid.IntRange(0, 60).Draw(t, "width")) * time.Minute}
		case 3:
			p50 := rapid.IntRange(1, 60).Draw(t, "p50")
			ch.Latency = ecosystem.Latency{Dist: "lognormal", P50: time.Duration(p50) * time.Minute, P95: time.Duration(p50*rapid.IntRange(2, 10).Draw(t, "spread")) * time.Minute}
		}
		if rapid.IntRange(0, 3).Draw(t, "limited") == 0 {
			ch.Limits.PerTxnFen = rapid.Int64Range(10_000, 200_000).Draw(t, "perTxn")
		}
		if rapid.Bool().Draw(t, "apps") {
			ch.Apps = []string{rapid.SampledFrom(apps).Draw(t, "app1"), rapid.SampledFrom(apps).Draw(t, "app2")}
		}
		switch rapid.IntRange(0, 5).Draw(t, "tag") {
		case 0:
			ch.Tags = []string{"refuse"}
		case 1:
			ch.Tags = []string{"warn"}
		}
		e.Channels = append(e.Channels, ch)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("generator made an invalid world: %v", err)
	}
	e.Reindex()
	return e
}

func randomQuery(t *rapid.T, e *ecosystem.Ecosystem) Query {
	q := Query{
		From:      rapid.SampledFrom(e.Products).Draw(t, "qfrom").ID,
		To:        rapid.SampledFrom(e.Products).Draw(t, "qto").ID,
		ToHolder:  rapid.SampledFrom([]string{"me", "friend"}).Draw(t, "toHolder"),
		AmountFen: rapid.Int64Range(1, 500_000).Draw(t, "amount"),
		MaxHops:   rapid.IntRange(1, 5).Draw(t, "maxHops"),
		Objective: rapid.SampledFrom(Objectives).Draw(t, "objective"),
		Seed:      rapid.Uint64().Draw(t, "seed"),
	}
	if rapid.IntRange(0, 3).Draw(t, "timed") == 0 {
		q.At = time.Date(2023, 5, rapid.IntRange(1, 7).Draw(t, "day"), rapid.IntRange(0, 23).Draw(t, "hour"), 0, 0, 0, time.UTC)
	}
	return q
}

// bruteForce evaluates every simple route with the planner's own hop step,
// without any pruning.
func bruteForce(t *rapid.T, e *ecosystem.Ecosystem, q Query, rules RuleChecker) []*Route {
	n, err := normalize(e, q)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newPlanner(e, n, rules)
	if err != nil {
		t.Fatal(err)
	}
	var out []*Route
	var dfs func(l *label)
	dfs = func(l *label) {
		if l.hops >= n.MaxHops {
			return
		}
		for _, ch := range e.ChannelsFrom(p.productOf(l.node).ID) {
			if !p.exists(ch) {
				continue
			}
			ed := p.newEdge(ch)
			h2, ok := p.targetHolder(&ed, int(l.holder))
			if !ok {
				continue
			}
			node := p.nodeOf(ed.to, h2)
			if onPath(l, node) {
				continue
			}
			next, ok := p.extend(l, &ed, h2)
			if !ok {
				continue
			}
			if node == p.targetNode {
				out = append(out, p.evaluate(next, false))
				continue
			}
			dfs(next)
		}
	}
	dfs(&label{node: p.startNode, holder: int32(p.holderIdx[n.FromHolder]), amount: n.AmountFen, success: 1})
	return out
}

func weaklyDominates(a, b *Route) bool {
	return a.FeeFen <= b.FeeFen && a.TimeMeanS <= b.TimeMeanS && a.Success >= b.Success && a.AppSwitches <= b.AppSwitches
}

func TestPlanProperties(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := randomWorld(t)
		q := randomQuery(t, e)
		rules := &fakeRules{shares: map[int64]bool{}, issuer: map[string]bool{}}
		res, err := Plan(e, q, rules)
		if err != nil {
			var qe *QueryError
			if !asQueryError(err, &qe) {
				t.Fatalf("Plan error %v is not a *QueryError", err)
			}
			return
		}
		from, _ := e.Product(q.From)
		var ok, refused []*Route
		seenRefused := false
		for i := range res.Routes {
			r := &res.Routes[i]
			checkRoute(t, e, q, r)
			if r.Verdict == VerdictRefused {
				seenRefused = true
				refused = append(refused, r)
			} else {
				if seenRefused {
					t.Fatalf("allowed route %s listed after a refused one", r.ID)
				}
				ok = append(ok, r)
			}
		}
		for _, a := range ok {
			for _, b := range ok {
				if Dominates(a, b) {
					t.Fatalf("allowed route %s dominates allowed route %s, both returned", a.ID, b.ID)
				}
			}
		}
		for _, a := range ok {
			for _, b := range refused {
				if Dominates(a, b) {
					t.Fatalf("allowed route %s dominates refused route %s, both returned", a.ID, b.ID)
				}
			}
		}
		for _, a := range refused {
			for _, b := range refused {
				if refusalKey(a.Findings) == refusalKey(b.Findings) && Dominates(a, b) {
					t.Fatalf("route %s dominates route %s, both returned and refused by the same rules", a.ID, b.ID)
				}
			}
		}
		// Provenance: credit-derived share is all or nothing, set by the source.
		if len(rules.shares) > 0 {
			want := int64(0)
			if from.Kind == ecosystem.ProductCredit {
				want = money.BasisPointsPerUnit
			}
			if len(rules.shares) != 1 || !rules.shares[want] {
				t.Fatalf("hops carried credit shares %v, want only %d", rules.shares, want)
			}
		}
		// Determinism: the same query plans the same; another seed changes
		// only the sampled quantiles.
		again, err := Plan(e, q, rules)
		if err != nil || !reflect.DeepEqual(again, res) {
			t.Fatalf("a second plan of the same query differs (err %v)", err)
		}
		if q.At.IsZero() { // with clearing windows the sampled mean is a criterion
			q2 := q
			q2.Seed++
			other, err := Plan(e, q2, rules)
			if err != nil || len(other.Routes) != len(res.Routes) {
				t.Fatalf("seed %d: %v, %d routes vs %d", q2.Seed, err, len(other.Routes), len(res.Routes))
			}
			for i := range res.Routes {
				a, b := res.Routes[i], other.Routes[i]
				if a.ID != b.ID || a.FeeFen != b.FeeFen || a.Success != b.Success || a.TimeMeanS != b.TimeMeanS {
					t.Fatalf("seed changed route %d: %s vs %s", i, a.ID, b.ID)
				}
			}
		}
		// Completeness: every allowed or warned simple route is matched by a
		// returned one at least as good on every criterion.
		all := bruteForce(t, e, q, rules)
		ids := map[string]*Route{}
		for _, b := range all {
			ids[b.ID] = b
		}
		for _, r := range res.Routes {
			b, found := ids[r.ID]
			if !found {
				t.Fatalf("returned route %s is not a simple route of the world", r.ID)
			}
			if b.FeeFen != r.FeeFen || b.TimeMeanS != r.TimeMeanS || b.Success != r.Success || b.Verdict != r.Verdict {
				t.Fatalf("route %s statistics differ from a direct evaluation", r.ID)
			}
		}
		if res.Truncated {
			return
		}
		for _, b := range all {
			if b.Verdict == VerdictRefused {
				continue
			}
			if !slices.ContainsFunc(ok, func(r *Route) bool { return weaklyDominates(r, b) }) {
				t.Fatalf("allowed route %s %v (fee %d mean %v success %v switches %d) is missing and nothing returned matches it",
					b.ID, b.Channels(), b.FeeFen, b.TimeMeanS, b.Success, b.AppSwitches)
			}
		}
	})
}

// checkRoute checks one route's own invariants.
func checkRoute(t *rapid.T, e *ecosystem.Ecosystem, q Query, r *Route) {
	if len(r.Hops) == 0 || len(r.Hops) > max(q.MaxHops, 1) {
		t.Fatalf("route %s has %d hops (max %d)", r.ID, len(r.Hops), q.MaxHops)
	}
	type node struct{ product, holder string }
	cur := node{q.From, "me"}
	seen := map[node]bool{cur: true}
	var fees int64
	for i, h := range r.Hops {
		if (node{h.From, h.FromHolder}) != cur {
			t.Fatalf("route %s hop %d starts at %s/%s, money is at %v", r.ID, i+1, h.From, h.FromHolder, cur)
		}
		cur = node{h.To, h.ToHolder}
		if seen[cur] {
			t.Fatalf("route %s visits %v twice", r.ID, cur)
		}
		seen[cur] = true
		fees += h.FeeFen
	}
	toHolder := q.ToHolder
	if toHolder == "" {
		toHolder = "me"
	}
	if cur != (node{q.To, toHolder}) {
		t.Fatalf("route %s ends at %v", r.ID, cur)
	}
	if r.DeliveredFen != r.SentFen-r.FeeFen || r.FeeFen != fees || r.SentFen != q.AmountFen || r.DeliveredFen <= 0 {
		t.Fatalf("route %s: sent %d fee %d (hops %d) delivered %d", r.ID, r.SentFen, r.FeeFen, fees, r.DeliveredFen)
	}
	if !(r.Success > 0 && r.Success <= 1) || r.TimeMeanS < 0 || r.TimeP50S > r.TimeP95S || math.IsNaN(r.TimeP50S) {
		t.Fatalf("route %s: success %v mean %v p50 %v p95 %v", r.ID, r.Success, r.TimeMeanS, r.TimeP50S, r.TimeP95S)
	}
	refuses := anyRefuse(r.Findings)
	if (r.Verdict == VerdictRefused) != refuses {
		t.Fatalf("route %s is %s with findings %+v", r.ID, r.Verdict, r.Findings)
	}
}

func asQueryError(err error, target **QueryError) bool {
	qe, ok := err.(*QueryError)
	if ok {
		*target = qe
	}
	return ok
}
