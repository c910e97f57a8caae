package payment

import (
	"context"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/compliance"
)

// TestPropertyNothingLost runs random sequences of payments (random
// routes, amounts, holders, forced failures, failure policies), actions on
// stranded payments, institutions going down and up, and crashes between
// hops followed by recovery; after every step each institution's books
// balance, clearing positions reconcile, holders and fee accounts together
// hold what they held at the start, and every payment not running has
// released its holds.
func TestPropertyNothingLost(t *testing.T) {
	stateCounts := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		w := newWorld(rt, compliance.PolicyStrict)
		ctx := context.Background()
		total := w.held()
		products := []string{"alipay.balance", "alipay.yuebao", "wechat.change", "icbc.debit", "cmb.debit", "mybank.deposit", "ecny.wallet", "alipay.huabei"}
		insts := []string{"alipay", "wechat", "icbc", "cmb", "unionpay", "netsunion"}
		steps := rapid.IntRange(1, 12).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0: // an institution goes down or up
				w.x.SetDown(rapid.SampledFrom(insts).Draw(rt, "inst"), rapid.Bool().Draw(rt, "down"))
			case 1: // act on a stranded payment
				for _, p := range w.x.List() {
					if p.State == StateStranded {
						if rapid.Bool().Draw(rt, "resume") {
							_, _ = w.x.Resume(ctx, p.ID) // may hit MaxAttempts: ErrState
						} else if _, err := w.x.Refund(ctx, p.ID); err != nil {
							rt.Fatalf("refund %s: %v", p.ID, err)
						}
						break
					}
				}
			case 2: // crash after creation, reopen, recover
				p, err := w.x.Create(ctx, drawRequest(rt, products))
				if err != nil {
					continue
				}
				w.reopen(rt)
				if _, err := w.x.Recover(ctx); err != nil {
					rt.Fatalf("recover after %s: %v", p.ID, err)
				}
			default:
				p, err := w.x.Pay(ctx, drawRequest(rt, products))
				if err != nil {
					continue // a request the planner refuses as malformed
				}
				if p.State == StateRunning {
					rt.Fatalf("Pay returned a running payment")
				}
				stateCounts[p.State]++
			}
			for _, v := range CheckBooks(w.led.Accounts()) {
				rt.Fatal(v)
			}
			if got := w.held(); got != total {
				rt.Fatalf("holders and fee accounts hold %d, had %d", got, total)
			}
			w.noPending(rt)
		}
	})
	t.Logf("terminal states reached: %v", stateCounts)
	for _, s := range []string{StateCompleted, StateRefunded, StateStranded, StateRejected} {
		if stateCounts[s] == 0 {
			t.Errorf("no payment ended %s: the generator misses a state", s)
		}
	}
}

func drawRequest(rt *rapid.T, products []string) Request {
	return Request{
		From:       rapid.SampledFrom(products).Draw(rt, "from"),
		To:         rapid.SampledFrom(products).Draw(rt, "to"),
		FromHolder: rapid.SampledFrom([]string{"me", "friend"}).Draw(rt, "holder"),
		ToHolder:   rapid.SampledFrom([]string{"", "", "friend", "me"}).Draw(rt, "to_holder"),
		AmountFen:  rapid.Int64Range(1, 1_500_000).Draw(rt, "amount"),
		Seed:       rapid.Uint64().Draw(rt, "seed"),
		FailHop:    rapid.IntRange(0, 4).Draw(rt, "fail_hop"),
		OnFailure:  rapid.SampledFrom([]string{OnFailureRefund, OnFailureStrand}).Draw(rt, "on_failure"),
	}
}
