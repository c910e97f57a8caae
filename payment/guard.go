package payment

import (
	"context"
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
