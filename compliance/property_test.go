package compliance

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/ecosystem"
)

// exprPool are hop expressions the property tests draw rule sets from,
// including ones that fail at run time on some hops.
var exprPool = []string{
	"true", "false",
	"hop.credit_share_bps > 0",
	"hop.to.cash_withdrawable && !hop.from.cash_withdrawable",
	"hop.over_per_txn || hop.over_per_day",
	`"cash_out_service" in hop.tags`,
	"hop.amount_fen > 50000",
	"hop.kyc_required > hop.from.kyc_level",
	`hop.tags[0] == "official"`, // fails on a hop without tags
	"100 / hop.fee_fen > 1",     // fails on a free hop
	"!hop.same_holder",
}

func genRules(t *rapid.T) []ecosystem.Rule {
	n := rapid.IntRange(0, 8).Draw(t, "rules")
	rules := make([]ecosystem.Rule, n)
	for i := range rules {
		effect := rapid.SampledFrom([]string{"refuse", "warn", "require"}).Draw(t, "effect")
		rules[i] = ecosystem.Rule{
			ID: "r" + string(rune('a'+i)), Scope: "hop", Effect: effect,
			When:     rapid.SampledFrom(exprPool).Draw(t, "when"),
			Advisory: effect == "refuse" && rapid.Bool().Draw(t, "advisory"),
			Citation: "c", Message: "m",
		}
	}
	return rules
}

func genHop(t *rapid.T) Hop {
	tags := rapid.SliceOfN(rapid.SampledFrom([]string{"official", "cash_out_service", "third_party"}), 0, 3).Draw(t, "tags")
	return Hop{
		Index:          rapid.IntRange(1, 10).Draw(t, "index"),
		Tags:           tags,
		From:           Account{CashWithdrawable: rapid.Bool().Draw(t, "fromCash"), KYCLevel: rapid.IntRange(0, 3).Draw(t, "kyc")},
		To:             Account{CashWithdrawable: rapid.Bool().Draw(t, "toCash")},
		AmountFen:      rapid.Int64Range(1, 1_000_000_00).Draw(t, "amount"),
		FeeFen:         rapid.Int64Range(0, 1000).Draw(t, "fee"),
		CreditShareBps: rapid.SampledFrom([]int64{0, 1, 5000, 10000}).Draw(t, "credit"),
		OverPerTxn:     rapid.Bool().Draw(t, "overTxn"),
		OverPerDay:     rapid.Bool().Draw(t, "overDay"),
		KYCRequired:    rapid.IntRange(0, 3).Draw(t, "kycReq"),
		SameHolder:     rapid.Bool().Draw(t, "same"),
	}
}

// TestPropertyPolicyAndOrder: for any rule set and hop, findings come in rule
// order, each once, on the hop's index; the advisory policy differs from
// strict exactly by advisory refuse rules that matched turning into warn; and
// a check is deterministic.
func TestPropertyPolicyAndOrder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		rules := genRules(t)
		h := genHop(t)
		strict, err := NewChecker(rules, PolicyStrict)
		if err != nil {
			t.Fatal(err)
		}
		advisory, err := NewChecker(rules, PolicyAdvisory)
		if err != nil {
			t.Fatal(err)
		}
		fs, fa := strict.CheckHop(h), advisory.CheckHop(h)
		if !slices.Equal(fs, strict.CheckHop(h)) {
			t.Fatal("two checks of the same hop differ")
		}
		if len(fs) != len(fa) {
			t.Fatalf("strict %v and advisory %v match different rules", fs, fa)
		}
		last := -1
		for i, f := range fs {
			idx := slices.IndexFunc(rules, func(r ecosystem.Rule) bool { return r.ID == f.Rule })
			if idx <= last {
				t.Fatalf("finding %s out of rule order in %v", f.Rule, fs)
			}
			last = idx
			if f.Hop != h.Index {
				t.Fatalf("finding on hop %d, want %d", f.Hop, h.Index)
			}
			r, a := rules[idx], fa[i]
			evalFailed := f.Effect == EffectRefuse && r.Effect != EffectRefuse
			switch {
			case a.Rule != f.Rule:
				t.Fatalf("advisory finding %s where strict has %s", a.Rule, f.Rule)
			case evalFailed:
				if a.Effect != EffectRefuse {
					t.Fatalf("a failed evaluation warns under advisory: %+v", a)
				}
			case f.Effect != r.Effect:
				t.Fatalf("strict finding effect %s, rule says %s", f.Effect, r.Effect)
			case r.Advisory && a.Effect != EffectWarn && a.Message == r.Message:
				t.Fatalf("advisory refuse rule %s gives %s under advisory", r.ID, a.Effect)
			case !r.Advisory && a.Effect != f.Effect:
				t.Fatalf("non-advisory rule %s gives %s under advisory, %s under strict", r.ID, a.Effect, f.Effect)
			}
		}
	})
}
