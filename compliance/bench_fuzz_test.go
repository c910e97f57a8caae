package compliance

import (
	"os"
	"testing"

	"github.com/paybridge/paybridge/ecosystem"
)

func readDoc() (string, error) {
	b, err := os.ReadFile("../docs/compliance.md")
	return string(b), err
}

// benchRules is a rule set shaped like cn-2023's hop rules.
var benchRules = []ecosystem.Rule{
	rule("cash-out", "hop", `hop.credit_share_bps > 0 && hop.to.cash_withdrawable && !(hop.to.institution == hop.credit_issuer && hop.channel_kind == "pay")`, "refuse", true),
	rule("same-name", "hop", `hop.requires_same_holder && !hop.same_holder`, "refuse", false),
	rule("licence", "hop", `hop.channel_kind == "transfer" && hop.from.institution != hop.to.institution && !("cross_institution" in hop.tags)`, "refuse", false),
	rule("per-txn", "hop", `hop.over_per_txn`, "refuse", false),
	rule("per-day", "hop", `hop.over_per_day || hop.over_per_month || hop.over_per_year`, "refuse", false),
	rule("min", "hop", `hop.under_min`, "refuse", false),
	rule("kyc", "hop", `hop.kyc_required > hop.from.kyc_level`, "refuse", false),
	rule("intermediary", "hop", `"cash_out_service" in hop.tags`, "refuse", false),
	rule("no-trade", "hop", `hop.channel_kind == "interbank" && !hop.same_holder && "no_trade" in hop.tags`, "refuse", false),
}

// BenchmarkCheckHop measures one hop checked against the nine rules above.
func BenchmarkCheckHop(b *testing.B) {
	c, err := NewChecker(benchRules, PolicyStrict)
	if err != nil {
		b.Fatal(err)
	}
	h := cashOutHop()
	b.ReportAllocs()
	for b.Loop() {
		if len(c.CheckHop(h)) != 1 {
			b.Fatal("want the cash-out finding")
		}
	}
}

// BenchmarkCheckHopClean is a hop no rule matches: the common case in search.
func BenchmarkCheckHopClean(b *testing.B) {
	c, err := NewChecker(benchRules, PolicyStrict)
	if err != nil {
		b.Fatal(err)
	}
	h := cashOutHop()
	h.CreditShareBps, h.CreditIssuer, h.Tags = 0, "", nil
	b.ReportAllocs()
	for b.Loop() {
		if len(c.CheckHop(h)) != 0 {
			b.Fatal("want no finding")
		}
	}
}

// FuzzNewChecker compiles arbitrary expressions in both scopes: it must
// never panic, and what compiles must evaluate without panicking.
func FuzzNewChecker(f *testing.F) {
	for _, r := range benchRules {
		f.Add(r.When, true)
	}
	for _, s := range []string{"", "hopp.x", "route.hops.exists(h, h.fee_fen > 0)", "((((", "hop.tags[99] == 'x'",
		"1/0 == 1", "route.hops.map(h, h.tags).size() > 0", "'\\xff' == hop.channel", "hop.amount_fen > 9223372036854775807"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, when string, hopScope bool) {
		scope := ecosystem.RuleScopeRoute
		if hopScope {
			scope = ecosystem.RuleScopeHop
		}
		c, err := NewChecker([]ecosystem.Rule{rule("f", scope, when, "warn", false)}, PolicyAdvisory)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		h := cashOutHop()
		for _, fs := range [][]Finding{c.CheckHop(h), c.CheckRoute(Route{Hops: []Hop{h, h}, Institutions: []string{"alipay"}})} {
			for _, f := range fs {
				if f.Rule != "f" || (f.Effect != EffectWarn && f.Effect != EffectRefuse) {
					t.Fatalf("finding %+v", f)
				}
			}
		}
	})
}
