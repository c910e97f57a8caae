package riskfeed

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/route"
)

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		channel string
		want    risk.Kind
	}{
		{"pay", risk.KindPay},
		{"transfer", risk.KindTransfer},
		{"interbank", risk.KindTransfer},
		{"exchange", risk.KindTransfer},
		{"top_up", risk.KindTopUp},
		{"repay", risk.KindTopUp},
		{"withdraw", risk.KindWithdraw},
		{"cash_out_service", risk.KindCashOut},
	} {
		if got, err := KindOf(tc.channel); err != nil || got != tc.want {
			t.Errorf("KindOf(%q) = %q, %v; want %q", tc.channel, got, err, tc.want)
		}
	}
	if _, err := KindOf("teleport"); err == nil || !strings.Contains(err.Error(), "teleport") {
		t.Errorf("unknown kind: %v, want an error naming it", err)
	}
}

// TestConvert covers each payment event type and each cn-2023 channel kind.
func TestConvert(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2023, 5, 5, 10, 0, 0, 0, time.UTC)
	oneHop := func(channel, from, to, fromHolder, toHolder string) *payment.Spec {
		return &payment.Spec{AmountFen: 100_000, CreditShareBps: 2500, Route: &route.Route{Hops: []route.Hop{
			{Channel: channel, From: from, To: to, FromHolder: fromHolder, ToHolder: toHolder, AmountFen: 100_000}}}}
	}
	type want struct {
		kind   risk.Kind
		from   string
		to     string
		amount int64
		share  int64
	}
	for _, tc := range []struct {
		name   string
		spec   *payment.Spec
		events []payment.Event // before the hop_posted of hop 1
		posted payment.Event   // amount and credit share the hop_posted carries (0: an older ledger's)
		want   want
	}{
		{"hop_posted's amount and share win", oneHop("alipay_transfer", "alipay.balance", "alipay.balance", "me", "friend"),
			[]payment.Event{{Type: payment.EventHopStarted, Hop: 1, AmountFen: 99_000}},
			payment.Event{AmountFen: 98_000, CreditShareBps: 7000},
			want{risk.KindTransfer, "me/alipay.balance", "friend/alipay.balance", 98_000, 7000}},
		{"hop_posted's share wins over the credit source", oneHop("huabei_pay_taobao", "alipay.huabei", "alipay.merchant", "me", "taobao_shop"), nil,
			payment.Event{AmountFen: 100_000, CreditShareBps: 9000},
			want{risk.KindPay, "me/alipay.huabei", "taobao_shop/alipay.merchant", 100_000, 9000}},
		{"pay from credit: all credit-derived", oneHop("huabei_pay_taobao", "alipay.huabei", "alipay.merchant", "me", "taobao_shop"), nil, payment.Event{},
			want{risk.KindPay, "me/alipay.huabei", "taobao_shop/alipay.merchant", 100_000, risk.MaxCreditShareBps}},
		{"top-up from credit inside one holder", oneHop("huabei_topup_balance", "alipay.huabei", "alipay.balance", "me", "me"), nil, payment.Event{},
			want{risk.KindTopUp, "me/alipay.huabei", "me/alipay.balance", 100_000, risk.MaxCreditShareBps}},
		{"cash-out service", oneHop("huabei_via_movemoney", "alipay.huabei", "wechat.change", "me", "me"), nil, payment.Event{},
			want{risk.KindCashOut, "me/alipay.huabei", "me/wechat.change", 100_000, risk.MaxCreditShareBps}},
		{"repay: the spec's share", oneHop("alipay_repay_huabei", "alipay.balance", "alipay.huabei", "me", "me"), nil, payment.Event{},
			want{risk.KindTopUp, "me/alipay.balance", "me/alipay.huabei", 100_000, 2500}},
		{"transfer to another holder", oneHop("alipay_transfer", "alipay.balance", "alipay.balance", "me", "friend"), nil, payment.Event{},
			want{risk.KindTransfer, "me/alipay.balance", "friend/alipay.balance", 100_000, 2500}},
		{"transfer inside one holder is internal", oneHop("quickpass_icbc_to_cmb", "icbc.debit", "cmb.debit", "me", "me"), nil, payment.Event{},
			want{risk.KindInternal, "me/icbc.debit", "me/cmb.debit", 100_000, 2500}},
		{"withdraw", oneHop("yuebao_redeem_icbc", "alipay.yuebao", "icbc.debit", "me", "me"), nil, payment.Event{},
			want{risk.KindWithdraw, "me/alipay.yuebao", "me/icbc.debit", 100_000, 2500}},
		{"the started hop's amount wins over the plan", oneHop("alipay_transfer", "alipay.balance", "alipay.balance", "me", "friend"),
			[]payment.Event{{Type: payment.EventHopStarted, Hop: 1, AmountFen: 99_000}}, payment.Event{},
			want{risk.KindTransfer, "me/alipay.balance", "friend/alipay.balance", 99_000, 2500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewConverter(eco)
			evs := append([]payment.Event{{Payment: "p1", Type: payment.EventCreated, At: at, Spec: tc.spec}}, tc.events...)
			for _, ev := range evs {
				ev.Payment, ev.At = "p1", at
				if _, ok, err := c.Convert(ev); ok || err != nil {
					t.Fatalf("%s event: ok %v, %v; want nothing", ev.Type, ok, err)
				}
			}
			posted := tc.posted
			posted.Payment, posted.Type, posted.Hop, posted.At = "p1", payment.EventHopPosted, 1, at.Add(time.Minute)
			got, ok, err := c.Convert(posted)
			if err != nil || !ok {
				t.Fatalf("hop_posted: ok %v, %v", ok, err)
			}
			w := tc.want
			if got.Kind != w.kind || got.FromAccount != w.from || got.ToAccount != w.to || got.AmountMinor != w.amount || got.CreditShareBps != w.share ||
				got.ID != "p1/1" || got.Currency != "CNY" || !got.Time.Equal(at.Add(time.Minute)) {
				t.Errorf("got %+v, want %+v", got, w)
			}
			if got.FromHolder != strings.Split(w.from, "/")[0] || got.ToHolder != strings.Split(w.to, "/")[0] {
				t.Errorf("holders %s→%s", got.FromHolder, got.ToHolder)
			}
			// The same hop posted again is not a second transaction.
			if _, ok, err := c.Convert(payment.Event{Payment: "p1", Type: payment.EventHopPosted, Hop: 1, At: at}); ok || err != nil {
				t.Errorf("repeated hop_posted: ok %v, %v", ok, err)
			}
		})
	}
}

func TestConvertLifecycleAndErrors(t *testing.T) {
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	spec := &payment.Spec{Route: &route.Route{Hops: []route.Hop{
		{Channel: "huabei_topup_balance", From: "alipay.huabei", To: "alipay.balance", FromHolder: "me", ToHolder: "me", AmountFen: 500},
		{Channel: "alipay_transfer", From: "alipay.balance", To: "alipay.balance", FromHolder: "me", ToHolder: "friend", AmountFen: 500}}},
		CreditShareBps: 0}
	c := NewConverter(eco)
	conv := func(typ string, hop int) (risk.Event, bool, error) {
		return c.Convert(payment.Event{Payment: "p9", Type: typ, Hop: hop})
	}
	if _, _, err := conv(payment.EventHopPosted, 1); !errors.Is(err, ErrNoSpec) {
		t.Errorf("hop before created: %v, want ErrNoSpec", err)
	}
	if _, ok, err := c.Convert(payment.Event{Payment: "p9", Type: payment.EventCreated, Spec: spec}); ok || err != nil {
		t.Fatal(ok, err)
	}
	if c.InFlight() != 1 {
		t.Errorf("in flight %d, want 1", c.InFlight())
	}
	for _, typ := range []string{payment.EventHopFailed, payment.EventReversal, payment.EventResumed, payment.EventStranded} {
		if _, ok, err := conv(typ, 1); ok || err != nil {
			t.Errorf("%s: ok %v, %v; want ignored", typ, ok, err)
		}
	}
	if _, _, err := conv(payment.EventHopPosted, 3); err == nil || !strings.Contains(err.Error(), "hop 3 out of range 1..2") {
		t.Errorf("hop out of range: %v", err)
	}
	// Hop 2 moves money that came from credit on hop 1, but the spec's share
	// (the source balance's provenance at creation) is what it carries.
	e1, ok1, _ := conv(payment.EventHopPosted, 1)
	e2, ok2, _ := conv(payment.EventHopPosted, 2)
	if !ok1 || !ok2 || e1.CreditShareBps != risk.MaxCreditShareBps || e2.CreditShareBps != 0 || e2.Kind != risk.KindTransfer {
		t.Errorf("hop 1 %+v, hop 2 %+v", e1, e2)
	}
	// A final event forgets the payment: memory is bounded by payments in flight.
	if _, ok, err := conv(payment.EventCompleted, 0); ok || err != nil {
		t.Fatal(ok, err)
	}
	if c.InFlight() != 0 || len(c.posted) != 0 || len(c.started) != 0 {
		t.Errorf("after completed: %d specs, %d posted, %d started remembered", c.InFlight(), len(c.posted), len(c.started))
	}
	bad := &payment.Spec{Route: &route.Route{Hops: []route.Hop{{Channel: "no_such_channel", FromHolder: "me", ToHolder: "me"}}}}
	c.Convert(payment.Event{Payment: "p10", Type: payment.EventCreated, Spec: bad})
	if _, _, err := c.Convert(payment.Event{Payment: "p10", Type: payment.EventHopPosted, Hop: 1}); err == nil || !strings.Contains(err.Error(), "no_such_channel") {
		t.Errorf("unknown channel: %v", err)
	}
}
