package route

import (
	"errors"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystems"
)

// TestCreditShareProvenance: a source balance's credit-derived share
// (Query.CreditShareBps) reaches the rules, so the second step of a split
// cash-out is refused under strict, warned under advisory, while clean money
// and purchases pass.
func TestCreditShareProvenance(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		q          Query
		policy     compliance.Policy
		wantBest   string // verdict of the first route
		wantFinder string // a finding every route carries, "" for none required
	}{
		{"clean balance to a bank card", Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100000}, compliance.PolicyStrict, VerdictAllowed, ""},
		{"30% credit balance to a bank card, strict", Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100000, CreditShareBps: 3000}, compliance.PolicyStrict, VerdictRefused, "credit-route-to-cash"},
		{"1 bp credit balance to a bank card, strict", Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100000, CreditShareBps: 1}, compliance.PolicyStrict, VerdictRefused, "credit-route-to-cash"},
		{"30% credit balance to a bank card, advisory", Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100000, CreditShareBps: 3000}, compliance.PolicyAdvisory, VerdictWarned, "credit-route-to-cash"},
		{"30% credit balance to a friend's WeChat, strict", Query{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 100000, CreditShareBps: 3000}, compliance.PolicyStrict, VerdictRefused, "credit-route-to-cash"},
		{"credit balance spent at a merchant (a purchase)", Query{From: "alipay.balance", To: "alipay.merchant", ToHolder: "taobao_shop", AmountFen: 100000, CreditShareBps: 10000}, compliance.PolicyStrict, VerdictAllowed, ""},
		{"another credit purpose is not consumer cash-out", Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100000, CreditShareBps: 3000, CreditPurpose: "business"}, compliance.PolicyStrict, VerdictAllowed, ""},
		{"a credit line is all credit whatever the share", Query{From: "alipay.huabei", To: "alipay.balance", AmountFen: 100000}, compliance.PolicyStrict, VerdictRefused, "credit-route-to-cash"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := compliance.NewChecker(eco.Rules, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			q := tc.q
			q.Policy = tc.policy
			res, err := Plan(eco, q, rules)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Routes) == 0 {
				t.Fatal("no routes")
			}
			if got := res.Routes[0].Verdict; got != tc.wantBest {
				t.Errorf("first route %s: verdict %s, want %s (findings %+v)", res.Routes[0].ID, got, tc.wantBest, res.Routes[0].Findings)
			}
			if tc.wantFinder == "" {
				return
			}
			for _, r := range res.Routes {
				found := false
				for _, f := range r.Findings {
					if f.Rule == tc.wantFinder && strings.Contains(f.Citation, "CBIRC/PBOC Notice [2022] No. 13") {
						found = true
					}
				}
				if !found {
					t.Errorf("route %s (%s) lacks %s with its citation: %+v", r.ID, r.Verdict, tc.wantFinder, r.Findings)
				}
			}
			if tc.q.CreditShareBps > 0 && res.Query.CreditShareBps != tc.q.CreditShareBps {
				t.Errorf("query echo credit_share_bps %d, want %d", res.Query.CreditShareBps, tc.q.CreditShareBps)
			}
		})
	}
}

func TestCreditShareQueryErrors(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	for _, share := range []int64{-1, 10001} {
		_, err := Plan(eco, Query{From: "alipay.balance", To: "icbc.debit", AmountFen: 100, CreditShareBps: share}, nil)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != "credit_share_bps" {
			t.Errorf("share %d: error %v, want a credit_share_bps QueryError", share, err)
		}
	}
	q, err := ParseQuery("from=alipay.balance to=icbc.debit amount=10 credit_share_bps=2500")
	if err != nil || q.CreditShareBps != 2500 {
		t.Errorf("ParseQuery credit_share_bps=2500: %+v, %v", q, err)
	}
	for _, bad := range []string{"credit_share_bps=x", "credit_share_bps=10001", "credit_share_bps=-5"} {
		_, err := ParseQuery("from=a to=b amount=1 " + bad)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Field != "credit_share_bps" {
			t.Errorf("ParseQuery %s: %v, want a credit_share_bps error", bad, err)
		}
	}
}
