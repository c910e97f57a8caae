package riskfeed

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// actionRecords returns the risk.action records committed so far.
func actionRecords(t *testing.T, led *ledger.Engine) []ActionRecord {
	t.Helper()
	recs, err := led.Records(context.Background(), ActionRecordKind, 0, ledger.MaxHistoryPage)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]ActionRecord, len(recs))
	for i, r := range recs {
		if err := json.Unmarshal(r.Data, &out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func decision(id, subject, rule string) risk.Decision {
	return risk.Decision{EventID: id, Subject: subject, Matches: []risk.Match{{RuleID: rule}}}
}

// try runs a one-hop payment and returns it whatever its state.
func (w *world) try(t *testing.T, from, to, fromHolder, toHolder, channel string, yuan int64, at time.Duration) *payment.Payment {
	t.Helper()
	w.clk.Set(epoch.Add(at))
	p, err := w.x.Pay(context.Background(), payment.Request{From: from, To: to, FromHolder: fromHolder, ToHolder: toHolder, Channels: []string{channel}, AmountFen: yuan * 100, At: epoch.Add(at)})
	if err != nil {
		t.Fatalf("%s %s→%s: %v", channel, fromHolder, toHolder, err)
	}
	return p
}

func TestFreezerRejectsTheHoldersNextPayment(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	w.pay(t, "alipay.balance", "alipay.balance", "p1", "p2", "alipay_transfer", 100, time.Minute)
	fz := Freezer{Ledger: w.led}
	d := decision("pay-x/1", "p1", "mule-exact")
	freeze := risk.Action{Kind: risk.ActionFreeze}
	if err := fz.Apply(ctx, "p1", freeze, d); err != nil {
		t.Fatal(err)
	}
	recs := actionRecords(t, w.led)
	if len(recs) != 1 || recs[0].Action != "freeze" || recs[0].Holder != "p1" || recs[0].EventID != "pay-x/1" || len(recs[0].Rules) != 1 || recs[0].Rules[0] != "mule-exact" || len(recs[0].Accounts) == 0 {
		t.Fatalf("action records after freeze: %+v", recs)
	}
	for _, acc := range w.led.Accounts() {
		if acc.Holder == "p1" && acc.Flags&ledger.AccountFrozen == 0 {
			t.Errorf("account %d (%s) of p1 is not frozen", acc.ID, acc.Product)
		}
		if acc.Holder == "p2" && acc.Flags&ledger.AccountFrozen != 0 {
			t.Errorf("account %d of p2 frozen too", acc.ID)
		}
	}
	// Applying it again, or another freeze decision, commits nothing.
	if err := fz.Apply(ctx, "p1", freeze, d); err != nil {
		t.Fatal(err)
	}
	if err := fz.Apply(ctx, "p1", freeze, decision("pay-y/1", "p1", "cycle")); err != nil {
		t.Fatal(err)
	}
	if n := len(actionRecords(t, w.led)); n != 1 {
		t.Errorf("%d action records after re-applying, want 1", n)
	}
	// p1's next payment is rejected with nothing moved, and says why.
	before, _ := w.led.Account(payment.HolderAccount("p1", "alipay.balance"))
	p := w.try(t, "alipay.balance", "alipay.balance", "p1", "p2", "alipay_transfer", 100, 2*time.Minute)
	if p.State != payment.StateRejected || !strings.Contains(p.Reason, "frozen") {
		t.Errorf("payment from frozen p1: state %s, reason %q; want rejected naming frozen", p.State, p.Reason)
	}
	after, _ := w.led.Account(payment.HolderAccount("p1", "alipay.balance"))
	if after.BalanceFen != before.BalanceFen {
		t.Errorf("rejected payment moved money: %d → %d", before.BalanceFen, after.BalanceFen)
	}
	// Money can still reach a frozen holder (only debits are refused).
	if p := w.try(t, "alipay.balance", "alipay.balance", "p2", "p1", "alipay_transfer", 50, 3*time.Minute); p.State != payment.StateCompleted {
		t.Errorf("payment to frozen p1: state %s (%s)", p.State, p.Reason)
	}
	// Other actions are not the Freezer's; an unknown holder does not apply.
	if err := fz.Apply(ctx, "p2", risk.Action{Kind: risk.ActionCutCreditLimit, Percent: 50}, d); err != nil {
		t.Errorf("freezer applied cut_credit_limit: %v", err)
	}
	if err := fz.Apply(ctx, "nobody", freeze, d); !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("unknown holder: %v, want ErrNotApplicable naming it", err)
	}
}

func TestCreditLimitCut(t *testing.T) {
	ctx := context.Background()
	huabei := func(holder string) ledger.AccountID { return payment.HolderAccount(holder, "alipay.huabei") }
	limit := func(w *world, holder string) int64 {
		t.Helper()
		acc, ok := w.led.Account(huabei(holder))
		if !ok {
			t.Fatalf("%s has no huabei account", holder)
		}
		return -acc.FloorFen
	}
	cut80 := risk.Action{Kind: risk.ActionCutCreditLimit, Percent: 80}
	for _, tc := range []struct {
		name      string
		drawYuan  int64 // drawn from the line before the cut
		decisions []string
		want      int64 // limit after, fen
		records   int
	}{
		{"undrawn line keeps 20%", 0, []string{"e1"}, 400_000, 1},
		{"same decision twice is one cut", 0, []string{"e1", "e1"}, 400_000, 1},
		{"a later decision cuts again", 0, []string{"e1", "e2"}, 80_000, 2},
		{"drawn less than the target", 1000, []string{"e1"}, 400_000, 1},
		{"drawn more than the target: limit stops at what is drawn", 10_000, []string{"e1"}, 1_000_000, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := open(t)
			if got := limit(w, "p1"); got != 2_000_000 {
				t.Fatalf("huabei limit before %d, want cn-2023's 2000000", got)
			}
			if tc.drawYuan > 0 {
				w.pay(t, "alipay.huabei", "alipay.merchant", "p1", "taobao_shop", "huabei_pay_taobao", tc.drawYuan, time.Minute)
			}
			la := LedgerActions{Ledger: w.led}
			for _, id := range tc.decisions {
				if err := la.Apply(ctx, "p1", cut80, decision(id, "p1", "credit-cash-out")); err != nil {
					t.Fatal(err)
				}
			}
			if got := limit(w, "p1"); got != tc.want {
				t.Errorf("limit after %d fen, want %d", got, tc.want)
			}
			if got := limit(w, "p2"); got != 2_000_000 {
				t.Errorf("p2's limit changed to %d", got)
			}
			recs := actionRecords(t, w.led)
			if len(recs) != tc.records {
				t.Fatalf("%d action records, want %d: %+v", len(recs), tc.records, recs)
			}
			r := recs[0]
			if r.Action != "cut_credit_limit" || r.Percent != 80 || r.Holder != "p1" || len(r.Limits) != 1 ||
				r.Limits[0].Account != huabei("p1") || r.Limits[0].BeforeFen != 2_000_000 || r.Limits[0].TargetFen != 400_000 {
				t.Errorf("first record %+v", r)
			}
		})
	}
	t.Run("the cut limit refuses a larger draw", func(t *testing.T) {
		w := open(t)
		if err := (LedgerActions{Ledger: w.led}).Apply(ctx, "p1", cut80, decision("e1", "p1", "credit-cash-out")); err != nil {
			t.Fatal(err)
		}
		p := w.try(t, "alipay.huabei", "alipay.merchant", "p1", "taobao_shop", "huabei_pay_taobao", 5000, time.Minute)
		if p.State != payment.StateRejected {
			t.Errorf("5000 yuan on a 4000 yuan line: state %s (%s)", p.State, p.Reason)
		}
		w.pay(t, "alipay.huabei", "alipay.merchant", "p1", "taobao_shop", "huabei_pay_taobao", 3000, 2*time.Minute)
	})
	t.Run("no credit line does not apply", func(t *testing.T) {
		w := open(t)
		err := (LedgerActions{Ledger: w.led}).Apply(ctx, "taobao_shop", cut80, decision("e1", "taobao_shop", "credit-cash-out"))
		if !errors.Is(err, ErrNotApplicable) || !strings.Contains(err.Error(), "taobao_shop") {
			t.Errorf("merchant without a credit line: %v, want ErrNotApplicable naming it", err)
		}
		if n := len(actionRecords(t, w.led)); n != 0 {
			t.Errorf("%d action records for an action that did not apply", n)
		}
	})
}
