package payment_test

import (
	"context"
	"fmt"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// Pay a friend along a pinned 4-hop route on an in-memory ledger and a
// virtual clock; hop 3 is forced to fail, so the posted hops are reversed.
func Example() {
	ctx := context.Background()
	eco, err := ecosystems.Resolve("cn-2023")
	if err != nil {
		fmt.Println(err)
		return
	}
	clk := clock.NewVirtual(time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)))
	led, _ := ledger.Open(ctx, ledger.NewMemStore(), clk, ledger.Options{})
	defer led.Close()
	rules, _ := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	x, err := payment.New(ctx, payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := x.Pay(ctx, payment.Request{
		From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 100_000,
		Channels: []string{"alipay_withdraw", "quickpass_icbc_to_cmb", "cmb_topup_wechat", "wechat_transfer"},
		Seed:     4, FailHop: 3,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(p.ID, p.State, "fee kept:", p.FeeFen(), "refunded:", p.RefundedFen())
	for _, e := range p.Events {
		fmt.Println(e.Type, e.Hop, len(e.TransferIDs))
	}
	fmt.Println("books:", payment.CheckBooks(led.Accounts()))
	// Output:
	// p000001 refunded fee kept: 100 refunded: 99900
	// created 0 0
	// hop_started 1 4
	// hop_posted 1 4
	// hop_started 2 3
	// hop_posted 2 3
	// hop_started 3 3
	// hop_failed 3 3
	// reversal 2 6
	// refunded 0 0
	// books: []
}
