package payment

import (
	"context"
	"fmt"
	"time"
)

// Resume retries the failed hop of a stranded payment (a new attempt with
// its own draws) and runs the payment on. Errors: ErrNotFound, ErrState.
func (x *Executor) Resume(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		p := t.p
		f := p.cur
		attempt := 1
		if f <= len(p.hops) {
			attempt = p.hops[f-1].attempt + 1
		}
		if attempt >= MaxAttempts {
			return fmt.Errorf("%w: hop %d already tried %d times", ErrState, f, attempt)
		}
		prev := p.hops[f-2]
		t.event(Event{Type: EventResumed, At: at, Hop: f, Attempt: attempt})
		if reason := x.startHop(t, f, attempt, at, prev.amountFen-prev.feeFen); reason != "" {
			return fmt.Errorf("%w: %s", ErrState, reason)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Run(ctx, id)
}

// Refund returns a stranded payment's money to its origin. Errors:
// ErrNotFound, ErrState.
func (x *Executor) Refund(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		x.reverse(t, t.p.cur, at)
		t.event(Event{Type: EventRefunded, At: at, Reason: "refund of a stranded payment"})
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Get(id)
}

// act runs an action on a stranded payment at the clock's now (never
// before its last event) and commits it.
func (x *Executor) act(ctx context.Context, id string, build func(*txn, time.Time) error) error {
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.p
	if p.State != StateStranded {
		return fmt.Errorf("%w: payment %s is %s, not stranded", ErrState, id, p.State)
	}
	at := x.clk.Now()
	if last := p.Events[len(p.Events)-1].At; at.Before(last) {
		at = last
	}
	t := x.newTxn(p)
	if err := build(t, at); err != nil {
		return err
	}
	reason, err := x.commit(ctx, t)
	if err != nil {
		return err
	}
	if reason != "" {
		return fmt.Errorf("%w: the ledger refused: %s", ErrState, reason)
	}
	return nil
}
