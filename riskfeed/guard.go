package riskfeed

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
)

// Guard is the inline risk check the payment executor asks before each hop
// holds its money (payment.HopGuard). It turns the hop into a risk event
// the way the Converter does and asks Engine.Check, which decides against
// the engine's current windows and graph without recording the hop (the
// Feed records it once it is posted). The decision's strongest action
// becomes the guard's answer:
//
//	freeze, refuse                    → refuse (nothing is held)
//	hold                              → hold (the payment waits for review)
//	anything else (review, report, …) → allow (after-the-fact work for the feed)
//
// A hop the guard cannot turn into an event (unknown channel, invalid
// amount) or that the engine cannot decide is allowed with a Reason saying
// why, as payment.HopGuard asks: the executor waits for the guard, and the
// feed still sees the hop after it posts.
type Guard struct {
	Engine *risk.Engine
	Eco    *ecosystem.Ecosystem
}

var _ payment.HopGuard = (*Guard)(nil)

// CheckHop implements payment.HopGuard.
func (g *Guard) CheckHop(_ context.Context, h payment.HopCheck) payment.GuardDecision {
	e, err := g.event(h)
	if err != nil {
		return payment.GuardDecision{Action: payment.GuardAllow, Reason: "risk guard could not check the hop: " + err.Error()}
	}
	d, err := g.Engine.Check(e)
	if err != nil {
		return payment.GuardDecision{Action: payment.GuardAllow, Reason: "risk guard could not check the hop: " + err.Error()}
	}
	return GuardDecisionOf(d)
}

// event is the risk event of a hop about to hold its money.
func (g *Guard) event(h payment.HopCheck) (risk.Event, error) {
	ch, ok := g.Eco.Channel(h.Channel)
	if !ok {
		return risk.Event{}, fmt.Errorf("unknown channel %q", h.Channel)
	}
	kind, err := KindOf(ch.Kind)
	if err != nil {
		return risk.Event{}, err
	}
	if h.FromHolder == h.ToHolder && kind == risk.KindTransfer {
		kind = risk.KindInternal
	}
	share := int64(h.CreditShareBps)
	if p, ok := g.Eco.Product(h.FromProduct); ok && p.Kind == "credit" {
		share = risk.MaxCreditShareBps
	}
	return risk.Event{
		Time:           h.At,
		ID:             fmt.Sprintf("%s/%d", h.Payment, h.Hop),
		FromAccount:    h.FromHolder + "/" + h.FromProduct,
		ToAccount:      h.ToHolder + "/" + h.ToProduct,
		FromHolder:     h.FromHolder,
		ToHolder:       h.ToHolder,
		AmountMinor:    h.AmountFen,
		Currency:       "CNY",
		Kind:           kind,
		CreditShareBps: share,
	}, nil
}

// guardRank orders the actions by how strongly they stop a hop.
var guardRank = map[risk.ActionKind]int{risk.ActionHold: 1, risk.ActionRefuse: 2, risk.ActionFreeze: 2}

// GuardDecisionOf maps an engine decision onto the executor's guard answer:
// the strongest action of any matched rule (freeze or refuse → refuse, hold
// → hold, else allow), naming in Rule the first rule that asked for it and
// in Reason its score, values and pattern.
func GuardDecisionOf(d risk.Decision) payment.GuardDecision {
	best, rank := (*risk.Match)(nil), 0
	for i := range d.Matches {
		m := &d.Matches[i]
		for _, a := range m.Actions {
			if r := guardRank[a.Kind]; r > rank {
				best, rank = m, r
			}
		}
	}
	if best == nil {
		return payment.GuardDecision{Action: payment.GuardAllow}
	}
	action := payment.GuardHold
	if rank == 2 {
		action = payment.GuardRefuse
	}
	return payment.GuardDecision{Action: action, Rule: best.RuleID, Reason: matchReason(best)}
}

// matchReason explains a match in one line: score, values, pattern
// holders (the executor's reason already names the rule).
func matchReason(m *risk.Match) string {
	var b strings.Builder
	fmt.Fprintf(&b, "score %d", m.Score)
	keys := make([]string, 0, len(m.Values))
	for k := range m.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		sep := ", "
		if i == 0 {
			sep = ": "
		}
		fmt.Fprintf(&b, "%s%s=%v", sep, k, m.Values[k])
	}
	if p := m.Pattern; p != nil {
		fmt.Fprintf(&b, "; %s pattern with %s", p.Family, strings.Join(p.Holders, ", "))
	}
	return b.String()
}
