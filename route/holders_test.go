package route

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
)

// randomHolders draws holders to add to a world (ids new to it).
// randomHolders draws holders to add to e (ids new to it), each with
// accounts of some of e's products.
func randomHolders(t *rapid.T, e *ecosystem.Ecosystem) []ecosystem.AddedHolder {
	hs := make([]ecosystem.AddedHolder, rapid.IntRange(1, 40).Draw(t, "added"))
	for i := range hs {
		hs[i].Holder = ecosystem.Holder{ID: fmt.Sprintf("new%d", i), Name: "New",
			Kind:     rapid.SampledFrom(ecosystem.HolderKinds).Draw(t, "kind"),
			KYCLevel: rapid.IntRange(0, 3).Draw(t, "kyc")}
		for _, p := range e.Products {
			if rapid.IntRange(0, 3).Draw(t, "opened") > 0 {
				hs[i].Products = append(hs[i].Products, p.ID)
			}
		}
	}
	return hs
}

// TestAddedHoldersChangeNoPlan: adding holders to a world changes no plan
// between its other holders (the planner looks at the query's two only),
// and a Planner grown with WithEcosystem, whose memos already hold
// results, plans the new holders' queries exactly as Plan does.
func TestAddedHoldersChangeNoPlan(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := randomWorld(t)
		rules := &fakeRules{shares: map[int64]bool{}, issuer: map[string]bool{}}
		added := randomHolders(t, e)
		grown := e.WithHolders(added...)
		pl := NewPlanner(e)
		for range rapid.IntRange(1, 4).Draw(t, "queries") {
			q := randomQuery(t, e)
			want := planJSON(t, func() (*Result, error) { return Plan(e, q, rules) })
			if got := planJSON(t, func() (*Result, error) { return Plan(grown, q, rules) }); !bytes.Equal(got, want) {
				t.Fatalf("%+v with %d holders added:\n%s\nwithout:\n%s", q, len(added), got, want)
			}
			pl.Plan(q, rules) // fills the memos
		}
		pl2 := pl.WithEcosystem(grown)
		if pl2.Ecosystem() != grown || pl.Ecosystem() != e {
			t.Fatal("WithEcosystem's ecosystems")
		}
		for range rapid.IntRange(1, 4).Draw(t, "new queries") {
			q := randomQuery(t, e)
			q.FromHolder = rapid.SampledFrom(append([]string{"me"}, ids(added)...)).Draw(t, "from")
			q.ToHolder = rapid.SampledFrom(append([]string{"friend"}, ids(added)...)).Draw(t, "to")
			want := planJSON(t, func() (*Result, error) { return Plan(grown, q, rules) })
			for i := range 2 { // planned, then memoised
				if got := planJSON(t, func() (*Result, error) { return pl2.Plan(q, rules) }); !bytes.Equal(got, want) {
					t.Fatalf("%+v (call %d): grown planner\n%s\nplan\n%s", q, i, got, want)
				}
			}
		}
	})
}

func ids(hs []ecosystem.AddedHolder) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

// TestWithEcosystemSharesMemosOnlyForAddedHolders: a Planner grown by
// holders keeps what was memoised; one over another world starts afresh,
// and a query to a holder that did not exist is an error that is not kept.
func TestWithEcosystemSharesMemosOnlyForAddedHolders(t *testing.T) {
	eco, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		t.Fatal(err)
	}
	pl := NewPlanner(eco)
	q := Query{From: "alipay.balance", To: "alipay.balance", ToHolder: "alice", AmountFen: 10_000, Seed: 1}
	if _, err := pl.Plan(q, nil); err == nil {
		t.Fatal("a plan to a holder that does not exist")
	}
	q0 := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000, Seed: 1}
	if _, err := pl.Plan(q0, nil); err != nil {
		t.Fatal(err)
	}
	aliceEco := eco.WithHolders(ecosystem.AddedHolder{Holder: ecosystem.Holder{ID: "alice", Name: "Alice", Kind: "person", KYCLevel: 2},
		Products: []string{"alipay.balance"}})
	grown := pl.WithEcosystem(aliceEco)
	if _, err := grown.Plan(q0, nil); err != nil {
		t.Fatal(err)
	}
	if s := grown.Stats(); s.ResultHits != 1 {
		t.Errorf("the grown planner did not reuse the memo: %v", s)
	}
	res, err := grown.Plan(q, nil)
	if err != nil || len(res.Routes) == 0 || res.Routes[0].Verdict != VerdictAllowed {
		t.Fatalf("to alice once she exists: %v %+v", err, res)
	}
	// An account not opened for an added holder is none of hers: no plan
	// through it; once opened, the planner over the new world plans it.
	viaWechat := Query{From: "alipay.balance", FromHolder: "alice", To: "wechat.change", AmountFen: 10_000, Seed: 1}
	if _, err := grown.Plan(viaWechat, nil); err == nil || !strings.Contains(err.Error(), "no account of product wechat.change") {
		t.Fatalf("a plan to alice's unopened wechat.change: %v", err)
	}
	opened := grown.WithEcosystem(aliceEco.WithAccounts("alice", "wechat.change"))
	if s := opened.Stats(); s.ResultSize != 0 {
		t.Errorf("a planner over a world with an account opened kept its results: %v", s)
	}
	if res, err := opened.Plan(viaWechat, nil); err != nil || len(res.Routes) == 0 {
		t.Fatalf("to alice's wechat.change once opened: %v", err)
	}
	other, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		t.Fatal(err)
	}
	if s := pl.WithEcosystem(other).Stats(); s.ResultSize != 0 || s.TimeStatsSize != 0 {
		t.Errorf("a planner over another world shares memos: %v", s)
	}
}

// BenchmarkPlanManyHolders: a plan's cost does not grow with the holders
// the world has (holders added at run time).
func BenchmarkPlanManyHolders(b *testing.B) {
	eco, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{0, 10_000} {
		hs := make([]ecosystem.AddedHolder, n)
		for i := range hs {
			hs[i] = ecosystem.AddedHolder{Holder: ecosystem.Holder{ID: fmt.Sprintf("h%d", i), Name: "H", Kind: "person", KYCLevel: 2},
				Products: []string{"alipay.balance"}}
		}
		e := eco.WithHolders(hs...)
		q := Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100_000, Seed: 1}
		b.Run(fmt.Sprintf("holders=%d", len(e.Holders)), func(b *testing.B) {
			for b.Loop() {
				if _, err := Plan(e, q, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
