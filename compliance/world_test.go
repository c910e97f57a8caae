package compliance_test

import (
	"slices"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/route"
)

func bundled(t testing.TB) *ecosystem.Ecosystem {
	t.Helper()
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatalf("loading cn-2023: %v", err)
	}
	return eco
}

func checker(t testing.TB, eco *ecosystem.Ecosystem, policy compliance.Policy) *compliance.Checker {
	t.Helper()
	c, err := compliance.NewChecker(eco.Rules, policy)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ruleIDs(fs []compliance.Finding) []string {
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.Rule+"/"+f.Effect)
	}
	return ids
}

var (
	me     = compliance.Account{Holder: "me", HolderKind: "person", KYCLevel: 3}
	friend = compliance.Account{Holder: "friend", HolderKind: "person", KYCLevel: 2}
)

func acct(base compliance.Account, product, institution, kind string, withdrawable bool) compliance.Account {
	base.Product, base.Institution, base.Kind, base.CashWithdrawable = product, institution, kind, withdrawable
	return base
}

// TestBundledRulesOnHops runs cn-2023's hop rules over hand-made hops, one
// per rule, including hops the bundled channels never produce (a wallet
// topping up someone else's account, a balance sent straight into another
// institution's wallet), so every rule is exercised.
func TestBundledRulesOnHops(t *testing.T) {
	eco := bundled(t)
	strict, advisory := checker(t, eco, compliance.PolicyStrict), checker(t, eco, compliance.PolicyAdvisory)
	huabei := acct(me, "alipay.huabei", "alipay", "credit", false)
	huabei.Purpose = "consumption"
	balance := acct(me, "alipay.balance", "alipay", "stored_value", true)
	change := acct(me, "wechat.change", "wechat", "stored_value", true)
	friendChange := acct(friend, "wechat.change", "wechat", "stored_value", true)
	icbc := acct(me, "icbc.debit", "icbc", "deposit", true)
	cmb := acct(me, "cmb.debit", "cmb", "deposit", true)
	wallet := []string{"internet_payment", "mobile_payment"}
	credit := func(h compliance.Hop) compliance.Hop {
		h.CreditShareBps, h.CreditIssuer, h.CreditPurpose = 10000, "alipay", "consumption"
		return h
	}
	tests := []struct {
		name           string
		hop            compliance.Hop
		strict, advise []string
	}{
		{"Huabei into the balance is cash-out", credit(compliance.Hop{Index: 1, ChannelKind: "top_up", Institution: "alipay", Licences: wallet, From: huabei, To: balance, SameHolder: true, RequiresSame: true}),
			[]string{"credit-cash-out/refuse"}, []string{"credit-cash-out/warn"}},
		{"Huabei paying a merchant is its purpose", credit(compliance.Hop{Index: 1, ChannelKind: "pay", Institution: "alipay", Licences: wallet, From: huabei,
			To: compliance.Account{Product: "alipay.merchant", Institution: "alipay", Kind: "receivable", Holder: "taobao_shop", HolderKind: "merchant"}}), nil, nil},
		{"credit already withdrawable moving on is not flagged again", credit(compliance.Hop{Index: 2, ChannelKind: "withdraw", Institution: "alipay", Licences: wallet, From: balance, To: icbc, SameHolder: true, RequiresSame: true}),
			nil, nil},
		{"intermediary", credit(compliance.Hop{Index: 1, ChannelKind: "cash_out_service", Institution: "movemoney", Tags: []string{"third_party", "cash_out_service"}, From: huabei, To: change, SameHolder: true}),
			[]string{"credit-cash-out/refuse", "unlicensed-intermediary/refuse"}, []string{"credit-cash-out/warn", "unlicensed-intermediary/refuse"}},
		{"top-up into someone else's wallet", compliance.Hop{Index: 1, ChannelKind: "top_up", Institution: "wechat", Licences: wallet, From: cmb, To: friendChange},
			[]string{"same-name-in-out/refuse"}, []string{"same-name-in-out/refuse"}},
		{"balance straight into another institution's wallet", compliance.Hop{Index: 1, ChannelKind: "transfer", Institution: "alipay", Licences: wallet, From: balance, To: change, SameHolder: true},
			[]string{"licence-scope/refuse"}, []string{"licence-scope/refuse"}},
		{"the approved direct transfer needs an application", compliance.Hop{Index: 1, ChannelKind: "transfer", Institution: "alipay", Licences: wallet, Tags: []string{"interconnect", "application_required"}, From: balance, To: change, SameHolder: true, KYCRequired: 3},
			[]string{"application-required/require"}, []string{"application-required/require"}},
		{"the direct transfer for a holder verified to level 2", compliance.Hop{Index: 1, ChannelKind: "transfer", Institution: "alipay", Licences: wallet, Tags: []string{"interconnect", "application_required"},
			From: acct(friend, "alipay.balance", "alipay", "stored_value", true), To: friendChange, SameHolder: true, KYCRequired: 3},
			[]string{"application-required/require", "kyc-level/refuse"}, []string{"application-required/require", "kyc-level/refuse"}},
		{"over the per-transaction cap", compliance.Hop{Index: 1, ChannelKind: "withdraw", Institution: "wechat", Licences: wallet, From: change, To: cmb, SameHolder: true, OverPerTxn: true, OverPerDay: true},
			[]string{"per-transaction-limit/refuse", "period-limit/refuse"}, []string{"per-transaction-limit/refuse", "period-limit/refuse"}},
		{"under the minimum", compliance.Hop{Index: 1, ChannelKind: "withdraw", Institution: "wechat", From: change, To: cmb, SameHolder: true, UnderMin: true},
			[]string{"below-minimum/refuse"}, []string{"below-minimum/refuse"}},
		{"credit-derived money across banks", credit(compliance.Hop{Index: 3, ChannelKind: "interbank", Institution: "unionpay", From: icbc, To: cmb, SameHolder: true}),
			[]string{"no-trade-interbank/refuse"}, []string{"no-trade-interbank/refuse"}},
		{"own money across banks", compliance.Hop{Index: 3, ChannelKind: "interbank", Institution: "unionpay", From: icbc, To: cmb, SameHolder: true}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ruleIDs(strict.CheckHop(tc.hop)); !slices.Equal(got, tc.strict) {
				t.Errorf("strict: %v, want %v", got, tc.strict)
			}
			if got := ruleIDs(advisory.CheckHop(tc.hop)); !slices.Equal(got, tc.advise) {
				t.Errorf("advisory: %v, want %v", got, tc.advise)
			}
		})
	}
}

// TestBundledWorldAnswersTheSeedsQuestion plans the seed's question on
// cn-2023 with the real planner: no allowed route under strict, every refused
// route explained by a cited rule; under advisory the forced path only warns
// while the intermediary stays refused; own money has legal routes.
func TestBundledWorldAnswersTheSeedsQuestion(t *testing.T) {
	eco := bundled(t)
	q := route.Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 100000}
	res, err := route.Plan(eco, q, checker(t, eco, compliance.PolicyStrict))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routes) == 0 {
		t.Fatal("no route at all")
	}
	for _, r := range res.Routes {
		if r.Verdict != route.VerdictRefused {
			t.Errorf("route %v is %s; Huabei may not reach a friend's WeChat change", r.Channels(), r.Verdict)
		}
		refused := false
		for _, f := range r.Findings {
			refused = refused || (f.Effect == compliance.EffectRefuse && f.Citation != "" && f.Message != "")
		}
		if !refused {
			t.Errorf("route %v is refused without a cited refuse finding: %+v", r.Channels(), r.Findings)
		}
	}

	forced := []string{"huabei_topup_balance", "alipay_withdraw", "icbc_online_banking_to_wechat", "wechat_transfer"}
	for _, tc := range []struct {
		policy   compliance.Policy
		channels []string
		verdict  string
	}{
		{compliance.PolicyStrict, forced, route.VerdictRefused},
		{compliance.PolicyAdvisory, forced, route.VerdictWarned},
		{compliance.PolicyStrict, []string{"huabei_via_movemoney", "wechat_transfer"}, route.VerdictRefused},
		{compliance.PolicyAdvisory, []string{"huabei_via_movemoney", "wechat_transfer"}, route.VerdictRefused},
	} {
		r, err := route.Evaluate(eco, q, tc.channels, checker(t, eco, tc.policy))
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict != tc.verdict {
			t.Errorf("%s, %v: verdict %s, want %s (findings %v)", tc.policy, tc.channels, r.Verdict, tc.verdict, ruleIDs(r.Findings))
		}
	}

	own := route.Query{From: "alipay.balance", To: "wechat.change", AmountFen: 100000}
	res, err = route.Plan(eco, own, checker(t, eco, compliance.PolicyStrict))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routes) == 0 || res.Routes[0].Verdict == route.VerdictRefused {
		t.Fatalf("own Alipay balance to own WeChat change has no legal route: %+v", res.Routes)
	}
}

// TestBundledLimits checks the limit rules on the planner's limit flags:
// WeChat's 5,000-yuan withdrawal cap and the e-CNY wallet class of a holder
// verified to level 2 (5,000 yuan per payment).
func TestBundledLimits(t *testing.T) {
	eco := bundled(t)
	c := checker(t, eco, compliance.PolicyStrict)
	for _, tc := range []struct {
		name     string
		q        route.Query
		channels []string
		want     string
	}{
		{"WeChat withdrawal over 5,000 yuan", route.Query{From: "wechat.change", To: "cmb.debit", AmountFen: 600000}, []string{"wechat_withdraw"}, "per-transaction-limit"},
		{"friend's e-CNY payment over the class II cap", route.Query{From: "ecny.wallet", To: "ecny.wallet", FromHolder: "friend", ToHolder: "me", AmountFen: 600000}, []string{"ecny_transfer"}, "per-transaction-limit"},
	} {
		r, err := route.Evaluate(eco, tc.q, tc.channels, c)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Verdict != route.VerdictRefused || !slices.Contains(ruleIDs(r.Findings), tc.want+"/refuse") {
			t.Errorf("%s: verdict %s, findings %v; want %s", tc.name, r.Verdict, ruleIDs(r.Findings), tc.want)
		}
	}
	r, err := route.Evaluate(eco, route.Query{From: "wechat.change", To: "cmb.debit", AmountFen: 500000}, []string{"wechat_withdraw"}, c)
	if err != nil || r.Verdict != route.VerdictAllowed {
		t.Errorf("5,000 yuan withdrawal: %v, %v", r, err)
	}
}

// BenchmarkCheckHopCN2023 checks one hop against cn-2023's ten hop rules.
func BenchmarkCheckHopCN2023(b *testing.B) {
	eco := bundled(b)
	c := checker(b, eco, compliance.PolicyStrict)
	h := compliance.Hop{Index: 2, Channel: "alipay_withdraw", ChannelKind: "withdraw", Institution: "alipay",
		Licences: []string{"internet_payment", "mobile_payment"}, Tags: []string{"official"},
		From: acct(me, "alipay.balance", "alipay", "stored_value", true), To: acct(me, "icbc.debit", "icbc", "deposit", true),
		AmountFen: 100000, FeeFen: 100, SameHolder: true, RequiresSame: true}
	b.ReportAllocs()
	for b.Loop() {
		if len(c.CheckHop(h)) != 0 {
			b.Fatal("want no finding")
		}
	}
}
