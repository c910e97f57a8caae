package payment

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
)

// TestInstitutionDown: a hop through a down institution fails when due
// and the payment is refunded; marked up again, the same payment succeeds.
func TestInstitutionDown(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	total := w.held()
	w.x.SetDown("unionpay", true) // hop 2 (quickpass) is cleared by UnionPay
	req := Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 20_000, Channels: fourHops, Seed: luckySeed(t, w)}
	p, err := w.x.Pay(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateRefunded || !contains(p.Reason, "unionpay") {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	var failedHop int
	for _, e := range p.Events {
		if e.Type == EventHopFailed {
			failedHop = e.Hop
		}
	}
	if failedHop != 2 {
		t.Errorf("failed hop %d, want 2", failedHop)
	}
	w.x.SetDown("unionpay", false)
	if p, err = w.x.Pay(ctx, req); err != nil || p.State != StateCompleted {
		t.Fatalf("after marking up: %v %v", p.State, err)
	}
	if w.held() != total {
		t.Errorf("held %d, had %d", w.held(), total)
	}
	w.checkBooks(t)
	w.noPending(t)
}

// luckySeed returns a seed whose draws let every hop of fourHops succeed.
func luckySeed(t *testing.T, w *world) uint64 {
	for seed := uint64(1); seed < 1000; seed++ {
		ok := true
		for k, id := range fourHops {
			ch, _ := w.eco.Channel(id)
			if u, _ := draws(seed, k+1, 0); u >= ch.Success {
				ok = false
			}
		}
		if ok {
			return seed
		}
	}
	t.Fatal("no seed in 1…999 lets all four hops succeed")
	return 0
}

// TestClearingWindowHonoured: with the operator settling 09:00–17:00 on
// weekdays, a hop started on Friday evening settles on Monday morning.
func TestClearingWindowHonoured(t *testing.T) {
	eco := bundled(t)
	in, ok := eco.Institution("alipay")
	if !ok {
		t.Skip("no alipay in the bundled world")
	}
	in.Clearing = ecosystem.Clearing{Mode: ecosystem.ClearingT0, Days: "weekdays", Windows: []ecosystem.Window{{Open: "09:00", Close: "17:00"}}}
	w := &world{eco: eco, store: ledger.NewMemStore(), clk: clock.NewVirtual(epoch)}
	w.open(t, compliance.PolicyStrict)
	friday := time.Date(2023, 5, 5, 18, 30, 0, 0, time.FixedZone("CST", 8*3600))
	p, err := w.x.Pay(context.Background(), Request{From: "alipay.balance", To: "icbc.debit", AmountFen: 10_000,
		Channels: []string{"alipay_withdraw"}, Seed: 1, At: friday})
	if err != nil {
		t.Fatal(err)
	}
	var due time.Time
	for _, e := range p.Events {
		if e.Type == EventHopStarted {
			due = *e.Due
		}
	}
	monday := time.Date(2023, 5, 8, 9, 0, 0, 0, friday.Location())
	if due.Before(monday) || due.After(monday.Add(8*time.Hour)) {
		t.Errorf("hop started Friday 18:30 is due %v, want Monday between 09:00 and 17:00", due)
	}
}

// TestOutboxAtLeastOnce: events come back in commit order with increasing
// seqs; a subscriber's acknowledged cursor survives a reopen, and reading
// after it yields only what it had not acknowledged.
func TestOutboxAtLeastOnce(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	for i := range 3 {
		if _, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops, Seed: uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	ob := NewOutbox(w.led)
	all, err := ob.Read(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var count int
	for _, p := range w.x.List() {
		count += len(p.Events)
	}
	if len(all) != count {
		t.Fatalf("outbox has %d events, payments %d", len(all), count)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Seq <= all[i-1].Seq {
			t.Fatalf("seq %d after %d", all[i].Seq, all[i-1].Seq)
		}
	}
	mid := all[len(all)/2].Seq
	if err := ob.Ack(ctx, "risk", mid); err != nil {
		t.Fatal(err)
	}
	if err := ob.Ack(ctx, "risk", 1); err != nil || ob.Cursor("risk") != mid {
		t.Fatalf("an older ack moved the cursor: %d %v", ob.Cursor("risk"), err)
	}
	if err := ob.Ack(ctx, "", 3); err == nil {
		t.Error("empty subscriber name accepted")
	}
	w.reopen(t)
	ob = NewOutbox(w.led)
	if ob.Cursor("risk") != mid {
		t.Fatalf("cursor after reopen %d, want %d", ob.Cursor("risk"), mid)
	}
	rest, err := ob.Read(ctx, ob.Cursor("risk"), 1000)
	if err != nil || len(rest) != len(all)-len(all)/2-1 {
		t.Fatalf("after the cursor: %d events, want %d (%v)", len(rest), len(all)-len(all)/2-1, err)
	}
}

// TestFrozenAccountRejected: the ledger refuses a debit from a frozen
// account inside the created commit, so the payment is rejected and
// nothing moves.
func TestFrozenAccountRejected(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	total := w.held()
	res, err := w.led.Submit(ctx, &ledger.Batch{Updates: []ledger.AccountUpdate{{ID: HolderAccount("me", "alipay.balance"), Flags: ledger.AccountFrozen}}})
	if err != nil || !res.OK() {
		t.Fatalf("freeze: %v %+v", err, res)
	}
	p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateRejected || !contains(p.Reason, "frozen") {
		t.Fatalf("state %s reason %q", p.State, p.Reason)
	}
	if w.held() != total {
		t.Errorf("held %d, had %d", w.held(), total)
	}
	w.noPending(t)
}

// TestStoreFailureLeavesNoPayment: when the ledger cannot commit the
// created event, Pay reports the error and no payment is listed.
func TestStoreFailureLeavesNoPayment(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	w.store.FailCommits(errors.New("disk full"))
	if _, err := w.x.Pay(context.Background(), Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000, Channels: fourHops[:3]}); err == nil {
		t.Fatal("Pay succeeded on a failing store")
	}
	if n := len(w.x.List()); n != 0 {
		t.Errorf("%d payments listed after a failed create", n)
	}
}
