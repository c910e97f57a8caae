package payment

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrGuardRefused: the HopGuard refused the hop a Resume would start; the
// payment stays as it was (Refund it, or Resume later).
var ErrGuardRefused = errors.New("payment: the hop guard refused the hop")

// Resume runs a stranded or held payment on. A stranded payment retries
// its failed hop (a new attempt with its own draws; the guard, if any, is
// asked again and may hold it or refuse: ErrGuardRefused). A held payment
// starts the hop it was held before without asking the guard again.
// Errors: ErrNotFound, ErrState, ErrGuardRefused.
func (x *Executor) Resume(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		p := t.p
		f := p.cur
		attempt := 0 // a held hop that never started: its first attempt
		if p.State == StateStranded {
			attempt = 1 // a hop that failed before it started
		}
		if f <= len(p.hops) {
			attempt = p.hops[f-1].attempt + 1
		}
		if attempt >= MaxAttempts {
			return fmt.Errorf("%w: hop %d already tried %d times", ErrState, f, attempt)
		}
		amount := p.Spec.AmountFen
		if f > 1 {
			prev := p.hops[f-2]
			amount = prev.amountFen - prev.feeFen
		}
		if p.State == StateStranded {
			switch d := x.askGuard(ctx, p, f, attempt, at, amount); d.Action {
			case GuardRefuse:
				return fmt.Errorf("%w: hop %d: %s", ErrGuardRefused, f, guardReason(d))
			case GuardHold:
				t.event(Event{Type: EventHeld, At: at, Hop: f, Reason: guardReason(d)})
				return nil
			}
		}
		t.event(Event{Type: EventResumed, At: at, Hop: f, Attempt: attempt})
		if reason := x.startHop(t, f, attempt, at, amount); reason != "" {
			return fmt.Errorf("%w: %s", ErrState, reason)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Run(ctx, id)
}

// Refund returns a stranded or held payment's money to its origin (a
// payment held before hop 1 had moved nothing). Errors: ErrNotFound, ErrState.
func (x *Executor) Refund(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		p := t.p
		if p.cur > 1 {
			x.reverse(t, p.cur, at)
		}
		t.event(Event{Type: EventRefunded, At: at, Reason: "refund of a " + p.State + " payment"})
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Get(id)
}

// act runs an action on a stranded or held payment at the clock's now
// (never before its last event) and commits it.
func (x *Executor) act(ctx context.Context, id string, build func(*txn, time.Time) error) error {
	if x.ro {
		return ErrReadOnly
	}
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		p, err := x.Get(id) // a finished payment out of memory, or none
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: payment %s is %s, not stranded or held", ErrState, id, p.State)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.p
	if p.State != StateStranded && p.State != StateHeld {
		return fmt.Errorf("%w: payment %s is %s, not stranded or held", ErrState, id, p.State)
	}
	p.asked = nil // an action asks the guard afresh
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
