// Package riskfeed runs the risk engine on paybridge's own payments. A
// Converter turns each posted hop in the payment outbox into one
// risk.Event (accounts, holders, amount, kind from the channel kind,
// credit-derived share). A Feed reads the outbox after its cursor (kept in
// the ledger or in the case database), calls Engine.Observe, files alerts
// into a case store and applies freeze and cut_credit_limit as ledger
// operations (LedgerActions), each to the holder its rule's match targets.
// With a SnapshotStore it saves the engine's and converter's state beside
// its cursor and a restarted Feed replays only the events after it. Guard is the inline check the payment
// executor asks before each hop (payment.HopGuard), over Engine.Check.
//
// Dependencies: payment, risk, ledger, ecosystem, money; only cmd depends on it.
package riskfeed

import (
	"context"
	"errors"
	"fmt"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// Subscriber is the outbox cursor name of the risk feed.
const Subscriber = "risk"

// pageSize is how many outbox events one Read asks for.
const pageSize = 256

// KindOf maps an ecosystem channel kind onto a risk transaction kind.
// Unknown kinds are an error naming the kind.
func KindOf(channelKind string) (risk.Kind, error) {
	switch channelKind {
	case "pay":
		return risk.KindPay, nil
	case "transfer", "interbank", "exchange":
		return risk.KindTransfer, nil
	case "top_up", "repay":
		return risk.KindTopUp, nil
	case "withdraw":
		return risk.KindWithdraw, nil
	case "cash_out_service":
		return risk.KindCashOut, nil
	}
	return "", fmt.Errorf("channel kind %q has no risk kind", channelKind)
}

// Converter turns payment events into risk events. It remembers each
// payment's spec from its created event, so it must see a payment's created
// event before its hop_posted events (the outbox order guarantees it when
// reading from seq 0). It forgets a payment once it is completed, refunded
// or rejected, so its memory is bounded by the payments in flight.
type Converter struct {
	eco     *ecosystem.Ecosystem
	specs   map[string]*payment.Spec
	started map[hopKey]int64 // amount entering each started hop
	posted  map[hopKey]bool  // hops already converted (a repeated hop_posted is dropped)
}

type hopKey struct {
	payment string
	hop     int
}

// NewConverter returns a converter for payments in eco.
func NewConverter(eco *ecosystem.Ecosystem) *Converter {
	return &Converter{eco: eco, specs: map[string]*payment.Spec{}, started: map[hopKey]int64{}, posted: map[hopKey]bool{}}
}

// unpost forgets that a hop was converted, for a retry after the engine
// refused its event.
func (c *Converter) unpost(payment string, hop int) { delete(c.posted, hopKey{payment, hop}) }

// InFlight is how many payments the converter remembers.
func (c *Converter) InFlight() int { return len(c.specs) }

// ErrUnknownChannel is returned for a hop over a channel the converter's
// ecosystem does not have: the payments were made in another world.
var ErrUnknownChannel = errors.New("unknown channel")

// ErrNoSpec is returned for a hop of a payment whose created event was not seen.
var ErrNoSpec = errors.New("riskfeed: hop of a payment whose created event was not seen")

// Convert returns the risk event for ev and true when ev is a posted hop;
// other events, and a hop_posted repeating one already converted, return
// false (a created event is remembered, a started
// hop's amount is remembered, a final event forgets the payment).
//
// The event's amount and credit share are the hop_posted event's (what
// entered the hop, and the credit-derived share of the money it moved).
// For ledgers written before hop_posted carried them, the amount is the
// hop_started event's (else the route's planned hop amount) and the share
// the spec's, or all of it for money drawn from a credit product.
func (c *Converter) Convert(ev payment.Event) (risk.Event, bool, error) {
	switch ev.Type {
	case payment.EventCreated:
		if ev.Spec != nil {
			c.specs[ev.Payment] = ev.Spec
		}
		return risk.Event{}, false, nil
	case payment.EventHopStarted:
		if ev.AmountFen > 0 {
			c.started[hopKey{ev.Payment, ev.Hop}] = ev.AmountFen
		}
		return risk.Event{}, false, nil
	case payment.EventCompleted, payment.EventRefunded, payment.EventRejected:
		if spec := c.specs[ev.Payment]; spec != nil && spec.Route != nil {
			for i := range spec.Route.Hops {
				delete(c.started, hopKey{ev.Payment, i + 1})
				delete(c.posted, hopKey{ev.Payment, i + 1})
			}
		}
		delete(c.specs, ev.Payment)
		return risk.Event{}, false, nil
	case payment.EventHopPosted:
	default:
		return risk.Event{}, false, nil
	}
	spec := c.specs[ev.Payment]
	if spec == nil || spec.Route == nil {
		return risk.Event{}, false, fmt.Errorf("%w: payment %s", ErrNoSpec, ev.Payment)
	}
	if ev.Hop < 1 || ev.Hop > len(spec.Route.Hops) {
		return risk.Event{}, false, fmt.Errorf("riskfeed: payment %s: hop %d out of range 1..%d", ev.Payment, ev.Hop, len(spec.Route.Hops))
	}
	h := spec.Route.Hops[ev.Hop-1]
	ch, ok := c.eco.Channel(h.Channel)
	if !ok {
		return risk.Event{}, false, fmt.Errorf("riskfeed: payment %s: %w %q", ev.Payment, ErrUnknownChannel, h.Channel)
	}
	kind, err := KindOf(ch.Kind)
	if err != nil {
		return risk.Event{}, false, fmt.Errorf("riskfeed: payment %s: %w", ev.Payment, err)
	}
	if h.FromHolder == h.ToHolder && kind == risk.KindTransfer {
		kind = risk.KindInternal
	}
	key := hopKey{ev.Payment, ev.Hop}
	if c.posted[key] {
		return risk.Event{}, false, nil
	}
	c.posted[key] = true
	share := ev.CreditShareBps
	if share == 0 {
		// Ledgers written before hop_posted carried the share: the spec's,
		// and money drawn from a credit product is credit-derived by
		// definition (older specs recorded the source balance's provenance,
		// which a credit line's negative balance does not carry).
		share = spec.CreditShareBps
		if p, ok := c.eco.Product(h.From); ok && p.Kind == "credit" && ev.Hop == 1 {
			share = risk.MaxCreditShareBps
		}
	}
	amount := ev.AmountFen
	if amount <= 0 {
		amount = h.AmountFen
		if a, ok := c.started[key]; ok {
			amount = a
		}
	}
	return risk.Event{
		Time:           ev.At,
		ID:             fmt.Sprintf("%s/%d", ev.Payment, ev.Hop),
		FromAccount:    h.FromHolder + "/" + h.From,
		ToAccount:      h.ToHolder + "/" + h.To,
		FromHolder:     h.FromHolder,
		ToHolder:       h.ToHolder,
		AmountMinor:    amount,
		Currency:       "CNY",
		Kind:           kind,
		CreditShareBps: share,
	}, true, nil
}

// Result is one observed hop: the risk event and the engine's decision.
type Result struct {
	Seq      uint64        `json:"seq"`
	Event    risk.Event    `json:"event"`
	Decision risk.Decision `json:"decision"`
	// Cases are the case ids the decision's alerts were filed into.
	Cases []int64 `json:"cases,omitempty"`
	// Applied lists the state actions the Applier carried out (or found
	// already done), as "freeze" or, when the action addressed another
	// holder than the payer, "cut_credit_limit:80 on me"; NotApplied the
	// ones that did not apply, with why.
	Applied    []string `json:"applied,omitempty"`
	NotApplied []string `json:"not_applied,omitempty"`
}

// Cursor durably keeps how far a Feed has handled the outbox.
type Cursor interface {
	// Load returns the last handled outbox seq (0: none).
	Load(ctx context.Context) (uint64, error)
	// Save moves it forward to seq (an older seq changes nothing).
	Save(ctx context.Context, seq uint64) error
}

// OutboxCursor keeps the cursor in the ledger itself, as the outbox's
// counter for Subscriber, committed like money. It suits a feed running in
// the process that owns the ledger.
type OutboxCursor struct{ Outbox *payment.Outbox }

// Load implements Cursor.
func (c OutboxCursor) Load(context.Context) (uint64, error) { return c.Outbox.Cursor(Subscriber), nil }

// Save implements Cursor.
func (c OutboxCursor) Save(ctx context.Context, seq uint64) error {
	return c.Outbox.Ack(ctx, Subscriber, seq)
}

// StoreCursor keeps the cursor in the case database under Name, beside the
// alerts the feed filed, so a watcher of a payments database never writes
// to that ledger.
type StoreCursor struct {
	Store *risk.SQLiteStore
	Name  string
}

// Load implements Cursor.
func (c StoreCursor) Load(ctx context.Context) (uint64, error) { return c.Store.Cursor(ctx, c.Name) }

// Save implements Cursor.
func (c StoreCursor) Save(ctx context.Context, seq uint64) error {
	return c.Store.SetCursor(ctx, c.Name, seq)
}

// ErrCursorAhead is returned by Poll when the saved cursor lies beyond the
// end of the outbox: the cursor was saved for another ledger (a payments
// file recreated at the same path), so nothing would ever be reported.
var ErrCursorAhead = errors.New("saved cursor beyond the end of the outbox")

// Feed reads the payment outbox after its cursor and feeds the engine.
//
// The engine's state (windows, graph) lives in memory, so a Feed that starts
// in a new process rebuilds it: from the snapshot in Snapshots when there
// is a usable one (then it replays only the events after the snapshot's
// seq), else by replaying the outbox from seq 0 into Observe. Either way it
// files alerts and applies actions only for events after the saved cursor. The cursor is saved after the events are handled, so a
// crash in between delivers them again (at least once); the case store
// files an (event, rule, holder) alert once and LedgerActions are no-ops
// the second time, so redelivery changes nothing. A hop whose filing or
// action failed is retried first by the next Poll of the same Feed.
//
// Outbox may be replaced between polls (a watcher reopens the ledger to see
// commits made by other processes); seqs are the ledger's, so the feed goes
// on where it stopped.
type Feed struct {
	Outbox  *payment.Outbox
	Engine  *risk.Engine
	Conv    *Converter
	Cursor  Cursor             // nil: OutboxCursor{Outbox}
	Cases   risk.CaseStore     // nil: alerts are not filed
	Applier risk.ActionApplier // nil: state actions are not applied; LedgerActions applies them on the ledger
	// Snapshots, when set, keeps a snapshot of the engine's and converter's
	// state beside the cursor: the first poll of a new Feed restores it
	// (when usable) and replays only the later events; Poll saves a new one
	// after saving the cursor, once SnapshotEvery outbox seqs have passed
	// since the last (0: at every poll that took in events).
	Snapshots     SnapshotStore
	SnapshotEvery uint64
	// Logf receives why a stored snapshot was not used, or could not be
	// saved (nil: not logged; SnapshotStatus still says).
	Logf func(format string, args ...any)

	replay    uint64   // last outbox seq taken into the engine in this process
	pending   []Result // observed hops whose handling failed, retried first
	mark      string   // eventMark of the event at replay
	snapTried bool     // the first poll looked for a snapshot
	snap      SnapshotStatus
}

func (f *Feed) cursor() Cursor {
	if f.Cursor != nil {
		return f.Cursor
	}
	return OutboxCursor{Outbox: f.Outbox}
}

// Poll processes every outbox event after the feed's cursor and saves the
// cursor at the last one. It returns the results of events after the
// cursor that were hops.
func (f *Feed) Poll(ctx context.Context) ([]Result, error) {
	cur := f.cursor()
	cursor, err := cur.Load(ctx)
	if err != nil {
		return nil, err
	}
	if f.Snapshots != nil && !f.snapTried && f.replay == 0 {
		f.loadSnapshot(ctx, cursor)
	}
	var out []Result
	// Hops observed by an earlier poll of this process whose handling
	// failed: the engine has them, the case store and ledger may not.
	for len(f.pending) > 0 {
		r := f.pending[0]
		if err := f.handle(ctx, &r); err != nil {
			return out, fmt.Errorf("outbox seq %d: %w", r.Seq, err)
		}
		out = append(out, r)
		f.pending = f.pending[1:]
	}
	for {
		evs, err := f.Outbox.Read(ctx, f.replay, pageSize)
		if err != nil {
			return out, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			re, ok, err := f.Conv.Convert(ev)
			if err != nil {
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			if !ok {
				f.replay, f.mark = ev.Seq, eventMark(ev)
				continue
			}
			d, err := f.Engine.Observe(re)
			if err != nil {
				f.Conv.unpost(ev.Payment, ev.Hop) // so that a retry converts it again
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			f.replay, f.mark = ev.Seq, eventMark(ev) // the engine has it: never observe it again
			if ev.Seq <= cursor {
				continue // handled by an earlier run: state rebuilt only
			}
			r := Result{Seq: ev.Seq, Event: re, Decision: d}
			if err := f.handle(ctx, &r); err != nil {
				f.pending = append(f.pending, r)
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			out = append(out, r)
		}
	}
	if f.replay < cursor {
		return out, fmt.Errorf("%w: cursor at outbox seq %d, the outbox ends at %d", ErrCursorAhead, cursor, f.replay)
	}
	if f.replay > cursor {
		if err := cur.Save(ctx, f.replay); err != nil {
			return out, err
		}
	}
	if f.Snapshots != nil && f.replay-f.snap.Saved >= max(f.SnapshotEvery, 1) {
		// After the cursor, so the snapshot is never ahead of it. A failed
		// save costs only a longer replay at the next restart.
		if err := f.SaveSnapshot(ctx); err != nil {
			f.logf("%v", err)
		}
	}
	return out, nil
}

// handle files r's alerts and applies its state actions.
func (f *Feed) handle(ctx context.Context, r *Result) error {
	if !r.Decision.Alert() {
		return nil
	}
	if f.Cases != nil {
		for _, a := range risk.Alerts(r.Decision) {
			id, err := f.Cases.AddAlert(ctx, a)
			if err != nil {
				return err
			}
			r.Cases = append(r.Cases, id)
		}
	}
	if f.Applier != nil {
		// Each action goes to the holder its match targets (the cycle's
		// credit holder, the mule, the hub, …), not to the payer.
		for _, at := range r.Decision.ActionTargets() {
			if !stateAction(at.Action.Kind) {
				continue
			}
			err := f.Applier.Apply(ctx, at.Holder, at.Action, r.Decision)
			switch {
			case errors.Is(err, ErrNotApplicable):
				r.NotApplied = append(r.NotApplied, err.Error())
			case err != nil:
				return err
			default:
				r.Applied = append(r.Applied, appliedName(at, r.Decision.Subject))
			}
		}
	}
	return nil
}

// appliedName is how Result.Applied names an applied action: the action,
// followed by " on HOLDER" when it addressed another holder than the payer.
func appliedName(at risk.ActionTarget, payer string) string {
	if at.Holder == payer {
		return at.Action.String()
	}
	return at.Action.String() + " on " + at.Holder
}

// stateAction reports whether k changes a holder's state on the ledger
// (and so goes to the Applier). downgrade_rating and report have no ledger
// state: they stay in the decision and the case for their owners.
func stateAction(k risk.ActionKind) bool {
	return k == risk.ActionFreeze || k == risk.ActionCutCreditLimit
}
