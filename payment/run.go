package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/route"
)

// draws returns a hop attempt's two uniform draws (success, latency): a
// function of the payment's seed, the hop and the attempt only.
func draws(seed uint64, hop, attempt int) (uSuccess, uLatency float64) {
	r := rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^(uint64(hop)<<32|uint64(attempt))^0x9e3779b97f4a7c15)))
	return r.Float64(), r.Float64()
}

// splitmix is SplitMix64's finaliser: nearby seeds give unrelated streams.
func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// startHop adds hop k's holds, counters and hop_started event to t, with
// amountFen entering the hop at time at. It returns a reason when the hop
// cannot start at all (its fee would take everything).
func (x *Executor) startHop(t *txn, k, attempt int, at time.Time, amountFen int64) string {
	p := t.p
	hop := p.Spec.Route.Hops[k-1]
	ends, ok := endsOf(x.ecosystem(), hop.FromHolder, hop.ToHolder, hop.Channel)
	if !ok {
		return fmt.Sprintf("channel %s is not in this ecosystem", hop.Channel)
	}
	ch := ends.ch
	h, _ := x.ecosystem().Holder(hop.FromHolder)
	quotaLeft := ch.Fee.FreeQuotaFen
	if quotaLeft > 0 {
		quotaLeft -= x.led.Counter(counterKey("quota", "-", h.ID, "c:"+ch.ID))
	}
	fee, quota, err := ch.Fee.Fee(amountFen, quotaLeft)
	if err != nil || fee >= amountFen {
		return fmt.Sprintf("the fee of channel %s would take the whole %d fen", ch.ID, amountFen)
	}
	_, uLat := draws(p.Spec.Seed, k, attempt)
	var due time.Time
	if secs := route.HopLatency(ch).Quantile(uLat); x.clearingFree {
		due = at.Add(time.Duration(secs * float64(time.Second))) // what Arrive gives without constraints
	} else {
		due = route.Arrive(x.ecosystem(), x.loc, ch, at, secs)
	}
	down := x.downOf(ch)
	if down != "" {
		due = at
	}
	ev := Event{Type: EventHopStarted, At: at, Hop: k, Attempt: attempt, AmountFen: amountFen, FeeFen: fee, Due: &due, Down: down,
		Counters: hopCounters(x.ecosystem(), x.loc, ch, h, at, amountFen, quota)}
	for _, l := range hopLegs(ends, amountFen, fee) {
		ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{DebitAccount: l.debit, CreditAccount: l.credit,
			AmountFen: l.amountFen, Code: l.code, Flags: ledger.TransferPending, TimeoutSeconds: ledger.MaxTimeoutSeconds}))
	}
	t.b.Counters = append(t.b.Counters, ev.Counters...)
	t.event(ev)
	return ""
}

// Run drives a running payment to a terminal state, waiting on the clock
// for each hop to fall due. It returns the payment as it stands (a
// terminal one at once). Errors: ErrNotFound, ctx's error (the payment
// stays running; Run again or Recover later), the ledger's errors.
func (x *Executor) Run(ctx context.Context, id string) (*Payment, error) {
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		return x.Get(id) // finished and out of memory, or not found
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.p
	if x.ro && p.State == StateRunning {
		return p.snapshot(), ErrReadOnly
	}
	for p.State == StateRunning {
		if err := x.clk.WaitUntil(ctx, p.Due()); err != nil {
			return p.snapshot(), err
		}
		if err := x.settle(ctx, p); err != nil {
			return p.snapshot(), err
		}
	}
	return p.snapshot(), nil
}

// Recover runs every payment left running (after a restart) to a terminal
// state, concurrently, and returns them in creation order.
func (x *Executor) Recover(ctx context.Context) ([]*Payment, error) {
	if x.ro {
		return nil, ErrReadOnly
	}
	var ids []string
	for _, p := range x.Live(StateRunning) {
		ids = append(ids, p.ID)
	}
	out := make([]*Payment, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i], errs[i] = x.Run(ctx, id) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// failReason says why hop k's current attempt fails when it falls due, or "".
func (x *Executor) failReason(p *Payment, k int) string {
	h := p.hops[k-1]
	return x.failsWhenDue(p, k, h.attempt, h.down)
}

// failsWhenDue says why attempt of hop k fails when it falls due, or "";
// down is the institution that was down when the attempt started.
func (x *Executor) failsWhenDue(p *Payment, k, attempt int, down string) string {
	ch, _ := x.ecosystem().Channel(p.Spec.Route.Hops[k-1].Channel)
	uSucc, _ := draws(p.Spec.Seed, k, attempt)
	switch {
	case p.Spec.FailHop == k && attempt == 0:
		return "forced failure"
	case down != "":
		return "institution " + down + " was down"
	}
	if d := x.downOf(ch); d != "" {
		return "institution " + d + " is down"
	}
	if uSucc >= ch.Success {
		return fmt.Sprintf("the hop failed (channel %s succeeds with probability %g)", ch.ID, ch.Success)
	}
	return ""
}

// settle posts or voids the hop in flight, which has fallen due, and
// starts the next hop or compensates, each in one all-or-none commit.
func (x *Executor) settle(ctx context.Context, p *Payment) error {
	k := p.cur
	h := p.hops[k-1]
	at := h.due
	n := len(p.Spec.Route.Hops)
	if reason := x.failReason(p, k); reason != "" {
		return x.failHop(ctx, p, k, at, reason, true)
	}
	// First with every following instant, succeeding hop merged into the
	// same commit; if the ledger refuses that, hop by hop.
	for _, merge := range []bool{true, false} {
		t := x.newTxn(p)
		x.postHop(t, k, at)
		if k == n {
			t.event(Event{Type: EventCompleted, At: at})
		} else if d := x.askGuard(ctx, p, k+1, 0, at, h.amountFen-h.feeFen); d.Action != GuardAllow {
			return x.postThenGuard(ctx, p, k, at, d)
		} else if reason := x.startHop(t, k+1, 0, at, h.amountFen-h.feeFen); reason != "" {
			return x.postThenFail(ctx, p, k, at, "could not start: "+reason, reason)
		}
		merged := merge && k < n && x.runOn(ctx, t, k+1, at)
		reason, err := x.commit(ctx, t)
		if err != nil || reason == "" {
			return err
		}
		if merged {
			continue
		}
		if strings.Contains(reason, ledger.ResultPendingExpired.String()) {
			return x.failHop(ctx, p, k, at, "the hold expired", false)
		}
		return x.postThenFail(ctx, p, k, at, "could not start: "+reason, reason)
	}
	return nil
}

// runOn extends t, whose last event starts hop j at time at, through every
// following hop that is instant (due when it starts) and succeeds: it posts
// hop j and starts hop j+1 (or completes) in the same commit, and so on.
// The events are those the hop-by-hop path writes, in the same order with
// the same transfer ids, only in fewer commits. It reports whether it
// added anything.
// A hop the guard does not allow stops it before hop j is posted: the
// hop-by-hop path posts j and holds or refuses the next hop.
func (x *Executor) runOn(ctx context.Context, t *txn, j int, at time.Time) bool {
	n := len(t.p.Spec.Route.Hops)
	added := false
	for {
		ev := t.events[len(t.events)-1] // hop j's hop_started
		if ev.Due == nil || ev.Due.After(at) || x.failsWhenDue(t.p, j, ev.Attempt, ev.Down) != "" {
			return added
		}
		if j < n && x.askGuard(ctx, t.p, j+1, 0, at, ev.AmountFen-ev.FeeFen).Action != GuardAllow {
			return added
		}
		nt, nc, ne, next := len(t.b.Transfers), len(t.b.Counters), len(t.events), t.next
		x.postStarted(t, j, at, ev.AmountFen, ev.FeeFen, ev.TransferIDs)
		if j == n {
			t.event(Event{Type: EventCompleted, At: at})
			return true
		}
		if reason := x.startHop(t, j+1, 0, at, ev.AmountFen-ev.FeeFen); reason != "" {
			// Leave hop j running: the hop-by-hop path reports it.
			t.b.Transfers, t.b.Counters, t.events, t.next = t.b.Transfers[:nt], t.b.Counters[:nc], t.events[:ne], next
			return added
		}
		added = true
		j++
	}
}

// postThenGuard posts hop k and holds the payment before hop k+1, or
// fails hop k+1 before it holds anything, as the guard decided.
func (x *Executor) postThenGuard(ctx context.Context, p *Payment, k int, at time.Time, d GuardDecision) error {
	reason := guardReason(d)
	if d.Action == GuardHold {
		t := x.newTxn(p)
		x.postHop(t, k, at)
		t.event(Event{Type: EventHeld, At: at, Hop: k + 1, Reason: reason})
		if r, err := x.commit(ctx, t); err != nil || r == "" {
			return err
		}
	}
	return x.postThenFail(ctx, p, k, at, reason, reason)
}

// postThenFail posts hop k and records that hop k+1 failed before it
// started (failed is the hop_failed reason), compensating for reason.
func (x *Executor) postThenFail(ctx context.Context, p *Payment, k int, at time.Time, failed, reason string) error {
	for _, comp := range []string{p.Spec.OnFailure, OnFailureStrand} {
		t := x.newTxn(p)
		x.postHop(t, k, at)
		t.event(Event{Type: EventHopFailed, At: at, Hop: k + 1, Reason: failed})
		x.compensate(t, k+1, at, comp, reason)
		if r, err := x.commit(ctx, t); err != nil || r == "" {
			return err
		}
	}
	return fmt.Errorf("payment %s: hop %d: cannot post or strand", p.ID, k)
}

// failHop voids hop k (when its holds are still pending) and compensates.
// If the refund cannot commit (money moved on), the payment is stranded.
func (x *Executor) failHop(ctx context.Context, p *Payment, k int, at time.Time, reason string, void bool) error {
	refusals := ""
	for _, comp := range []string{p.Spec.OnFailure, OnFailureStrand} {
		for {
			t := x.newTxn(p)
			ev := Event{Type: EventHopFailed, At: at, Hop: k, Reason: reason}
			if void {
				for _, id := range p.hops[k-1].pending {
					ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{Flags: ledger.TransferVoidPending, PendingID: id}))
				}
			}
			t.b.Counters = append(t.b.Counters, releases(p.hops[k-1].counters)...)
			t.event(ev)
			x.compensate(t, k, at, comp, reason)
			r, err := x.commit(ctx, t)
			if err != nil || r == "" {
				return err
			}
			if void && strings.Contains(r, ledger.ResultPendingExpired.String()) {
				// The ledger already released the holds: record the failure without voids.
				void = false
				continue
			}
			refusals += "; refund refused: " + r
			break
		}
	}
	return fmt.Errorf("payment %s: hop %d: cannot fail the hop: %s%s", p.ID, k, reason, refusals)
}

// postHop adds the posts of hop k's holds and the hop_posted event.
func (x *Executor) postHop(t *txn, k int, at time.Time) {
	h := t.p.hops[k-1]
	x.postStarted(t, k, at, h.amountFen, h.feeFen, h.pending)
}

// postStarted adds the posts of hop k's holds pending (placed for amountFen
// with feeFen) and the hop_posted event.
func (x *Executor) postStarted(t *txn, k int, at time.Time, amountFen, feeFen int64, pending []ledger.TransferID) {
	hop := t.p.Spec.Route.Hops[k-1]
	ends, _ := endsOf(x.ecosystem(), hop.FromHolder, hop.ToHolder, hop.Channel)
	ev := Event{Type: EventHopPosted, At: at, Hop: k, AmountFen: amountFen, CreditShareBps: t.p.Spec.CreditShareBps}
	for i, l := range hopLegs(ends, amountFen, feeFen) {
		ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{Flags: ledger.TransferPostPending, PendingID: pending[i], AmountFen: l.amountFen}))
	}
	t.event(ev)
}

// compensate adds, for a failure at hop f, either the reversal of the
// posted hops f−1…1 and the refunded event, or the stranded event.
func (x *Executor) compensate(t *txn, f int, at time.Time, policy, reason string) {
	p := t.p
	if f == 1 {
		t.event(Event{Type: EventRefunded, At: at, Reason: "hop 1 failed; nothing had moved: " + reason})
		return
	}
	if policy == OnFailureStrand {
		last := p.Spec.Route.Hops[f-2]
		t.event(Event{Type: EventStranded, At: at, Hop: f, Reason: fmt.Sprintf("hop %d failed (%s); the money is at %s of %s: resume or refund", f, reason, last.To, last.ToHolder)})
		return
	}
	x.reverse(t, f, at)
	t.event(Event{Type: EventRefunded, At: at, Reason: fmt.Sprintf("hop %d failed: %s", f, reason)})
}

// reverse adds the reversal of posted hops f−1…1 (one reversal event).
func (x *Executor) reverse(t *txn, f int, at time.Time) {
	p := t.p
	prev := p.hops[f-2]
	carry := prev.amountFen - prev.feeFen
	ev := Event{Type: EventReversal, At: at, Hop: f - 1}
	for j := f - 1; j >= 1; j-- {
		h := p.hops[j-1]
		hop := p.Spec.Route.Hops[j-1]
		ends, _ := endsOf(x.ecosystem(), hop.FromHolder, hop.ToHolder, hop.Channel)
		var refund int64
		if ends.ch.FeeRefundable {
			refund = h.feeFen
		}
		for _, l := range reversalLegs(ends, carry, refund) {
			ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{DebitAccount: l.debit, CreditAccount: l.credit, AmountFen: l.amountFen, Code: l.code}))
		}
		carry += refund
		ev.FeeFen += refund
	}
	ev.AmountFen = carry
	t.event(ev)
}
