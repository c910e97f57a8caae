package compliance

import (
	"testing"

	"github.com/paybridge/paybridge/ecosystem"
)

// routeCashOutWhen is the bundled worlds' credit-route-to-cash condition,
// which reads the route's credit share and purpose (provenance) rather than
// the kind of the source product.
const routeCashOutWhen = `route.credit_share_bps > 0 && route.credit_purpose == "consumption" && route.to.cash_withdrawable && route.to.holder_kind == "person"`

func TestRouteCreditShare(t *testing.T) {
	balance := Account{Product: "alipay.balance", Kind: "stored_value", CashWithdrawable: true, Holder: "me", HolderKind: "person"}
	card := Account{Product: "icbc.debit", Kind: "deposit", CashWithdrawable: true, Holder: "me", HolderKind: "person"}
	shop := Account{Product: "alipay.merchant", Kind: "stored_value", CashWithdrawable: true, Holder: "taobao_shop", HolderKind: "merchant"}
	huabei := Account{Product: "alipay.huabei", Kind: "credit", Purpose: "consumption", Holder: "me", HolderKind: "person"}
	tests := []struct {
		name   string
		r      Route
		policy Policy
		want   string // effect of the finding, "" for none
	}{
		{"clean balance to a card", Route{From: balance, To: card}, PolicyStrict, ""},
		{"credit-derived balance to a card", Route{From: balance, To: card, CreditShareBps: 2307, CreditPurpose: "consumption"}, PolicyStrict, "refuse"},
		{"the same under advisory", Route{From: balance, To: card, CreditShareBps: 2307, CreditPurpose: "consumption"}, PolicyAdvisory, "warn"},
		{"one basis point is credit too", Route{From: balance, To: card, CreditShareBps: 1, CreditPurpose: "consumption"}, PolicyStrict, "refuse"},
		{"credit spent at a merchant", Route{From: balance, To: shop, CreditShareBps: 10000, CreditPurpose: "consumption"}, PolicyStrict, ""},
		{"credit of another purpose", Route{From: balance, To: card, CreditShareBps: 10000, CreditPurpose: "business"}, PolicyStrict, ""},
		{"straight from the credit line", Route{From: huabei, To: balance, CreditShareBps: 10000, CreditPurpose: "consumption"}, PolicyStrict, "refuse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewChecker([]ecosystem.Rule{rule("credit-route-to-cash", "route", routeCashOutWhen, "refuse", true)}, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			fs := c.CheckRoute(tc.r)
			switch {
			case tc.want == "" && len(fs) != 0:
				t.Errorf("findings %+v, want none", fs)
			case tc.want != "" && (len(fs) != 1 || string(fs[0].Effect) != tc.want || fs[0].Rule != "credit-route-to-cash" || fs[0].Citation == ""):
				t.Errorf("findings %+v, want one %s by credit-route-to-cash with its citation", fs, tc.want)
			}
		})
	}
}
