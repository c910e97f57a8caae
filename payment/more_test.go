package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
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

// TestProvenanceRecorded: money topped up from Huabei (allowed with a
// warning under the advisory policy) carries its credit share into Alipay
// balance, and the next payment from there records it.
func TestProvenanceRecorded(t *testing.T) {
	w := newWorld(t, compliance.PolicyAdvisory)
	ctx := context.Background()
	var p *Payment
	var err error
	for seed := uint64(1); seed < 20; seed++ { // the top-up succeeds with probability 0.8
		p, err = w.x.Pay(ctx, Request{From: "alipay.huabei", To: "alipay.balance", AmountFen: 200_000, Channels: []string{"huabei_topup_balance"}, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		if p.State == StateCompleted || p.State == StateRejected {
			break
		}
	}
	if p.Spec.CreditShareBps != 10_000 {
		t.Errorf("a payment drawn on Huabei records credit share %d bps, want 10000", p.Spec.CreditShareBps)
	}
	if p.State != StateCompleted {
		t.Skipf("the Huabei top-up is %s here (%s)", p.State, p.Reason)
	}
	checkPostedEvents(t, p)
	a, _ := w.led.Account(HolderAccount("me", "alipay.balance"))
	if a.CreditShareFen != 200_000 {
		t.Fatalf("alipay.balance credit share %d, want 200000", a.CreditShareFen)
	}
	q, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "alipay.yuebao", AmountFen: 10_000, Channels: []string{"alipay_to_yuebao"}, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(10_000) * 200_000 / a.BalanceFen
	if q.Spec.CreditShareBps != want {
		t.Errorf("recorded credit share %d bps, want %d", q.Spec.CreditShareBps, want)
	}
	checkPostedEvents(t, q)
	w.checkBooks(t)
}

// checkPostedEvents: every hop_posted event carries its hop's amount (what
// hop_started put in) and the payment's credit share.
func checkPostedEvents(t *testing.T, p *Payment) {
	t.Helper()
	started := map[int]int64{}
	posted := 0
	for _, ev := range p.Events {
		switch ev.Type {
		case EventHopStarted:
			started[ev.Hop] = ev.AmountFen
		case EventHopPosted:
			posted++
			if ev.AmountFen == 0 || ev.AmountFen != started[ev.Hop] {
				t.Errorf("%s hop %d posted %d fen; it started with %d", p.ID, ev.Hop, ev.AmountFen, started[ev.Hop])
			}
			if ev.CreditShareBps != p.Spec.CreditShareBps {
				t.Errorf("%s hop %d posted credit share %d bps; the payment's is %d", p.ID, ev.Hop, ev.CreditShareBps, p.Spec.CreditShareBps)
			}
		}
	}
	if posted == 0 {
		t.Errorf("%s: no hop_posted event", p.ID)
	}
}

// TestFreeQuota: a channel's lifetime free fee quota is a ledger counter:
// the first payment uses it, the next pays the fee on what is left, and a
// failed hop gives its quota back.
func TestFreeQuota(t *testing.T) {
	eco := bundled(t)
	ch, ok := eco.Channel("alipay_withdraw")
	if !ok {
		t.Skip("no alipay_withdraw in the bundled world")
	}
	ch.Fee.FreeQuotaFen = 150_000 // 1,500 yuan free, then 0.1% (minimum 1 yuan)
	w := &world{eco: eco, store: ledger.NewMemStore(), clk: clock.NewVirtual(epoch)}
	w.open(t, compliance.PolicyStrict)
	ctx := context.Background()
	pay := func(failHop int) *Payment {
		t.Helper()
		p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "icbc.debit", AmountFen: 100_000, Channels: []string{"alipay_withdraw"}, Seed: luckySeed(t, w), FailHop: failHop})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	quota := counterKey("quota", "-", "me", "c:alipay_withdraw")
	if p := pay(1); p.State != StateRefunded || w.led.Counter(quota) != 0 {
		t.Fatalf("failed payment: %s, quota used %d (want it given back)", p.State, w.led.Counter(quota))
	}
	if p := pay(0); p.State != StateCompleted || p.FeeFen() != 0 || p.Spec.Route.FeeFen != 0 {
		t.Fatalf("first payment: %s fee %d (planned %d), want free", p.State, p.FeeFen(), p.Spec.Route.FeeFen)
	}
	if got := w.led.Counter(quota); got != 100_000 {
		t.Errorf("quota used %d, want 100000", got)
	}
	p := pay(0) // 500 yuan free, 500 charged: max(0.50, 1.00) = 1.00 yuan
	if p.State != StateCompleted || p.FeeFen() != 100 || p.Spec.Route.FeeFen != 100 {
		t.Errorf("second payment: %s fee %d (planned %d), want 100", p.State, p.FeeFen(), p.Spec.Route.FeeFen)
	}
	if got := w.led.Counter(quota); got != 150_000 {
		t.Errorf("quota used %d, want the whole 150000", got)
	}
	w.checkBooks(t)
}

// TestInstantHopsOneCommit: hops that are due when they start and succeed
// are posted in the commit that starts them, so an instant payment is one
// commit with the same timeline as hop by hop.
func TestInstantHopsOneCommit(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	req := Request{From: "alipay.balance", To: "alipay.balance", ToHolder: "friend", AmountFen: 5_000, Channels: []string{"alipay_transfer"}}
	for seed := uint64(1); ; seed++ {
		if u, _ := draws(seed, 1, 0); u < 0.99 {
			req.Seed = seed
			break
		}
	}
	before := w.led.CommitSeq()
	p, err := w.x.Create(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateCompleted {
		t.Fatalf("instant payment is %s after Create", p.State)
	}
	if n := w.led.CommitSeq() - before; n != 1 {
		t.Errorf("%d commits, want 1", n)
	}
	var types []string
	for _, e := range p.Events {
		types = append(types, e.Type)
	}
	if got := fmt.Sprint(types); got != "[created hop_started hop_posted completed]" {
		t.Errorf("timeline %s", got)
	}
	w.checkBooks(t)
	w.noPending(t)
}

// TestIdempotencyKey: a request repeating a key returns the first payment
// and moves nothing more, also after a restart and from concurrent
// callers; the key with other fields is refused.
func TestIdempotencyKey(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	origin := w.balance("me", "alipay.balance")
	req := Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 30_000, Channels: fourHops, Seed: luckySeed(t, w), Key: "order-42"}
	var wg sync.WaitGroup
	ids := make([]string, 8)
	for i := range ids {
		wg.Go(func() {
			p, err := w.x.Pay(ctx, req)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = p.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("one key, payments %v", ids)
		}
	}
	if got := origin - w.balance("me", "alipay.balance"); got != req.AmountFen {
		t.Errorf("origin paid %d for one keyed payment of %d", got, req.AmountFen)
	}
	w.reopen(t)
	p, err := w.x.Pay(ctx, req)
	if err != nil || p.ID != ids[0] || p.State != StateCompleted {
		t.Fatalf("after restart: %v %v", p, err)
	}
	req.AmountFen++
	var re *RequestError
	if _, err := w.x.Pay(ctx, req); !errors.As(err, &re) || re.Field != "key" {
		t.Errorf("same key, other amount: %v", err)
	}
	if n := len(w.x.List()); n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
}

// TestHoldExpired: if the ledger expires a hop's holds before the hop is
// settled (the clock jumped past their one-year timeout), the hop fails
// and the payment is refunded without losing or doubling money, whether
// the hop's draw said success or failure.
func TestHoldExpired(t *testing.T) {
	for _, wantDraw := range []bool{true, false} {
		w := newWorld(t, compliance.PolicyStrict)
		ctx := context.Background()
		total := w.held()
		seed := uint64(1)
		for ; ; seed++ {
			u1, _ := draws(seed, 1, 0)
			u2, _ := draws(seed, 2, 0)
			if u1 < 0.97 && (u2 < 0.99) == wantDraw {
				break
			}
		}
		p, err := w.x.Create(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 40_000, Channels: fourHops, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		x := w.x
		x.mu.Lock()
		e := x.entries[p.ID]
		x.mu.Unlock()
		if err := x.settle(ctx, e.p); err != nil || e.p.cur != 2 { // hop 1 posted, hop 2 held
			t.Fatalf("settle hop 1: %v (at hop %d, %s)", err, e.p.cur, e.p.State)
		}
		w.clk.Advance(400 * 24 * time.Hour)
		if _, err := w.led.Submit(ctx, &ledger.Batch{}); err != nil { // the engine expires holds when it applies a batch
			t.Fatal(err)
		}
		q, err := x.Run(ctx, p.ID)
		if err != nil {
			t.Fatalf("draw success %v: %v", wantDraw, err)
		}
		if q.State != StateRefunded {
			t.Errorf("draw success %v: %s (%s)", wantDraw, q.State, q.Reason)
		}
		if w.held() != total {
			t.Errorf("held %d, had %d", w.held(), total)
		}
		w.checkBooks(t)
		w.noPending(t)
	}
}

// TestReadOnly: a read-only executor sees every payment as the writer
// left it, commits nothing, refuses every action, and does not seed a
// ledger that holds no payments.
func TestReadOnly(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	if _, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	stranded, err := w.x.Pay(ctx, fourHopReqStrand())
	if err != nil || stranded.State != StateStranded {
		t.Fatalf("stranded payment: %v, %v", err, stranded)
	}
	running, err := w.x.Create(ctx, Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000, Seed: 2})
	if err != nil || running.State != StateRunning {
		t.Fatalf("running payment: %v, %v", err, running)
	}
	rules, _ := compliance.NewChecker(w.eco.Rules, compliance.PolicyStrict)
	seq := w.led.CommitSeq()
	ro, err := New(ctx, Config{Ecosystem: w.eco, Rules: rules, Ledger: w.led, Clock: w.clk, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ro.List()), len(w.x.List()); got != want {
		t.Fatalf("read-only lists %d payments, the writer %d", got, want)
	}
	for _, p := range w.x.List() {
		q, err := ro.Get(p.ID)
		if err != nil || q.State != p.State || len(q.Events) != len(p.Events) {
			t.Errorf("%s read-only: %v, %+v; writer: %s with %d events", p.ID, err, q, p.State, len(p.Events))
		}
	}
	for name, err := range map[string]error{
		"Pay":     second(ro.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", AmountFen: 1})),
		"Create":  second(ro.Create(ctx, Request{From: "alipay.balance", To: "wechat.change", AmountFen: 1})),
		"Run":     second(ro.Run(ctx, running.ID)),
		"Resume":  second(ro.Resume(ctx, stranded.ID)),
		"Refund":  second(ro.Refund(ctx, stranded.ID)),
		"Recover": second(ro.Recover(ctx)),
	} {
		if !errors.Is(err, ErrReadOnly) {
			t.Errorf("read-only %s: %v, want ErrReadOnly", name, err)
		}
	}
	if got := w.led.CommitSeq(); got != seq {
		t.Errorf("read-only executor committed: seq %d → %d", seq, got)
	}
	empty := &world{eco: w.eco, store: ledger.NewMemStore(), clk: w.clk}
	led, err := ledger.Open(ctx, empty.store, empty.clk, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer led.Close()
	if _, err := New(ctx, Config{Ecosystem: w.eco, Ledger: led, Clock: w.clk, ReadOnly: true}); !errors.Is(err, ErrNotSeeded) {
		t.Errorf("read-only on an empty ledger: %v, want ErrNotSeeded", err)
	}
	if led.CommitSeq() != 0 {
		t.Errorf("read-only open seeded the empty ledger (seq %d)", led.CommitSeq())
	}
}

func fourHopReqStrand() Request {
	r := fourHopReq(OnFailureStrand)
	r.FailHop = 3
	return r
}

func second[T any](_ T, err error) error { return err }
