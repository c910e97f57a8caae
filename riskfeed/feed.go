// Package riskfeed turns payment outbox events into risk events and feeds
// the risk engine: each posted hop of a payment becomes one risk.Event
// (accounts, holders, amount, kind from the channel kind, credit share from
// the ledger's provenance recorded when the payment was created). A Feed
// reads the outbox after its cursor, calls Engine.Observe, files alerts into
// a case store and acknowledges the cursor as a ledger counter.
//
// Dependencies: payment, risk, ledger, ecosystem; only cmd depends on it.
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
// reading from seq 0).
type Converter struct {
	eco   *ecosystem.Ecosystem
	specs map[string]*payment.Spec
}

// NewConverter returns a converter for payments in eco.
func NewConverter(eco *ecosystem.Ecosystem) *Converter {
	return &Converter{eco: eco, specs: map[string]*payment.Spec{}}
}

// ErrNoSpec is returned for a hop of a payment whose created event was not seen.
var ErrNoSpec = errors.New("riskfeed: hop of a payment whose created event was not seen")

// Convert returns the risk event for ev and true when ev is a posted hop;
// other events return false (a created event is remembered).
func (c *Converter) Convert(ev payment.Event) (risk.Event, bool, error) {
	switch ev.Type {
	case payment.EventCreated:
		if ev.Spec != nil {
			c.specs[ev.Payment] = ev.Spec
		}
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
		return risk.Event{}, false, fmt.Errorf("riskfeed: payment %s: unknown channel %q", ev.Payment, h.Channel)
	}
	kind, err := KindOf(ch.Kind)
	if err != nil {
		return risk.Event{}, false, fmt.Errorf("riskfeed: payment %s: %w", ev.Payment, err)
	}
	if h.FromHolder == h.ToHolder && kind == risk.KindTransfer {
		kind = risk.KindInternal
	}
	share := spec.CreditShareBps
	if hop := ev.Hop; hop == 1 {
		// Money drawn from a credit product is credit-derived by definition;
		// the spec's share is the source balance's provenance, which a credit
		// line (negative balance) does not carry.
		if p, ok := c.eco.Product(h.From); ok && p.Kind == "credit" {
			share = risk.MaxCreditShareBps
		}
	}
	return risk.Event{
		Time:           ev.At,
		ID:             fmt.Sprintf("%s/%d", ev.Payment, ev.Hop),
		FromAccount:    h.FromHolder + "/" + h.From,
		ToAccount:      h.ToHolder + "/" + h.To,
		FromHolder:     h.FromHolder,
		ToHolder:       h.ToHolder,
		AmountMinor:    h.AmountFen,
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
}

// Feed reads the payment outbox after its cursor and feeds the engine.
//
// The engine's state (windows, graph) lives in memory, so a Feed that starts
// in a new process replays the outbox from seq 0 into Observe to rebuild
// it, and files alerts and applies actions only for events after the
// acknowledged cursor: at-least-once delivery with dedupe by event id.
type Feed struct {
	Outbox  *payment.Outbox
	Engine  *risk.Engine
	Conv    *Converter
	Cases   risk.CaseStore     // nil: alerts are not filed
	Applier risk.ActionApplier // nil: state actions are not applied
	seen    map[string]bool
	replay  uint64 // last seq observed into the engine in this process
}

// Poll processes every outbox event after the feed's cursor and
// acknowledges the last one. It returns the results of events after the
// cursor that were hops.
func (f *Feed) Poll(ctx context.Context) ([]Result, error) {
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	cursor := f.Outbox.Cursor(Subscriber)
	var out []Result
	after := f.replay
	var last uint64
	for {
		evs, err := f.Outbox.Read(ctx, after, pageSize)
		if err != nil {
			return out, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			after, last = ev.Seq, ev.Seq
			re, ok, err := f.Conv.Convert(ev)
			if err != nil {
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			if !ok || f.seen[re.ID] {
				continue
			}
			f.seen[re.ID] = true
			d, err := f.Engine.Observe(re)
			if err != nil {
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			if ev.Seq <= cursor {
				continue // handled by an earlier run: state rebuilt only
			}
			r := Result{Seq: ev.Seq, Event: re, Decision: d}
			if err := f.handle(ctx, &r); err != nil {
				return out, fmt.Errorf("outbox seq %d: %w", ev.Seq, err)
			}
			out = append(out, r)
		}
	}
	f.replay = after
	if last > cursor {
		if err := f.Outbox.Ack(ctx, Subscriber, last); err != nil {
			return out, err
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
		for _, a := range r.Decision.Actions {
			if a.Kind != risk.ActionFreeze {
				continue
			}
			if err := f.Applier.Apply(ctx, r.Decision.Subject, a, r.Decision); err != nil {
				return err
			}
		}
	}
	return nil
}
