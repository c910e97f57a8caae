package payment

import (
	"context"
	"fmt"
	"time"
)

// HopGuard is asked before each hop's hold commits (inline risk check).
// CheckHop must be safe for concurrent use; it runs while the payment's
// own lock is held, so it must not call back into the Executor for the
// same payment. A guard that cannot decide should answer allow (or hold)
// rather than block: the executor waits for it.
type HopGuard interface {
	CheckHop(ctx context.Context, h HopCheck) GuardDecision
}

// HopCheck is what a HopGuard sees of a hop about to hold its money.
type HopCheck struct {
	Payment, FromHolder, ToHolder, Channel, FromProduct, ToProduct string
	FromInstitution, ToInstitution                                 string
	Hop                                                            int // 1-based
	At                                                             time.Time
	AmountFen                                                      int64
	CreditShareBps                                                 int // 0..10000
}

// GuardDecision is a HopGuard's answer for one hop.
type GuardDecision struct {
	Action       string // GuardAllow (or ""), GuardHold, GuardRefuse
	Rule, Reason string
}

// Guard actions.
const (
	// GuardAllow lets the hop hold its money and run on.
	GuardAllow = "allow"
	// GuardHold pauses the payment before the hop (state held) until
	// Resume (which does not ask the guard again for that hop) or Refund.
	GuardHold = "hold"
	// GuardRefuse fails the hop before anything is held; the payment is
	// compensated by its on-failure policy (rejected when it is hop 1).
	GuardRefuse = "refuse"
)

// askGuard returns the guard's decision for attempt of hop k of p, which
// would start at at with amountFen: allow when there is no guard. Each
// (hop, attempt) is asked once per process: a commit the ledger refused and
// retried hop by hop reuses the answer.
func (x *Executor) askGuard(ctx context.Context, p *Payment, k, attempt int, at time.Time, amountFen int64) GuardDecision {
	if x.guard == nil {
		return GuardDecision{Action: GuardAllow}
	}
	key := [2]int{k, attempt}
	if d, ok := p.asked[key]; ok {
		return d
	}
	hop := p.Spec.Route.Hops[k-1]
	hc := HopCheck{Payment: p.ID, FromHolder: hop.FromHolder, ToHolder: hop.ToHolder, Channel: hop.Channel,
		FromProduct: hop.From, ToProduct: hop.To, Hop: k, At: at, AmountFen: amountFen, CreditShareBps: int(p.Spec.CreditShareBps)}
	if pr, ok := x.ecosystem().Product(hop.From); ok {
		hc.FromInstitution = pr.Institution
	}
	if pr, ok := x.ecosystem().Product(hop.To); ok {
		hc.ToInstitution = pr.Institution
	}
	d := x.guard.CheckHop(ctx, hc)
	switch d.Action {
	case "", GuardAllow:
		d.Action = GuardAllow
	case GuardHold, GuardRefuse:
	default:
		// An answer the executor does not know pauses the payment: nothing
		// moves until someone looks.
		d = GuardDecision{Action: GuardHold, Rule: d.Rule, Reason: fmt.Sprintf("unknown guard action %q: %s", d.Action, d.Reason)}
	}
	if p.asked == nil {
		p.asked = map[[2]int]GuardDecision{}
	}
	p.asked[key] = d
	return d
}

// guardReason is the hop_failed or held reason of a guard's decision.
func guardReason(d GuardDecision) string {
	rule := d.Rule
	if rule == "" {
		rule = "guard"
	}
	return "risk: " + rule + ": " + d.Reason
}
