package risk

import (
	"fmt"
	"time"
)

// Target roles: why a match's actions address the holder they do.
const (
	RolePayer        = "payer"         // the holder paying the decided event
	RoleCreditHolder = "credit-holder" // the holder whose credit line the money came from
	RoleIntermediary = "intermediary"  // gather-scatter / scatter-gather middle
	RoleMule         = "mule"          // the holder cashing out in a mule chain
	RoleHub          = "hub"           // the centre of a fan-in or fan-out
)

// Target is the holder a match's actions (and its alert) address, derived
// from the detected pattern and its members, with the reason: which member
// shows it and why that holder.
type Target struct {
	Holder string `json:"holder"`
	Role   string `json:"role"`
	// TxID is the member transaction that identifies the holder (empty when
	// it is the decided event itself).
	TxID   string `json:"tx_id,omitempty"`
	Reason string `json:"reason"`
}

// ActionTarget is one state action of a decision with the holder it addresses.
type ActionTarget struct {
	Holder string `json:"holder"`
	Action Action `json:"action"`
	RuleID string `json:"rule"`
	Reason string `json:"reason"`
}

// TargetOf is the holder m's actions address: m.Target.Holder, or d.Subject
// for matches without one (decisions built before targets existed).
func (d *Decision) TargetOf(m *Match) string {
	if m.Target.Holder != "" {
		return m.Target.Holder
	}
	return d.Subject
}

// ActionTargets lists the state actions (freeze, cut_credit_limit,
// downgrade_rating, report) of d, each with the holder its match addresses,
// once per (holder, action), in match order.
func (d *Decision) ActionTargets() []ActionTarget {
	var out []ActionTarget
	for i := range d.Matches {
		m := &d.Matches[i]
		h := d.TargetOf(m)
		for _, a := range m.Actions {
			if !stateActions[a.Kind] {
				continue
			}
			dup := false
			for _, o := range out {
				dup = dup || o.Holder == h && o.Action == a
			}
			if !dup {
				out = append(out, ActionTarget{Holder: h, Action: a, RuleID: m.RuleID, Reason: m.Target.Reason})
			}
		}
	}
	return out
}

// target derives the holder r's match addresses for event e, from the
// detector state of this event (cycle path, mule counterpart) and the graph
// as it is before e is recorded.
func (en *Engine) target(r *Rule, e *Event, uID, vID uint32, hasU, hasV bool) Target {
	from, to := e.fromHolder(), e.toHolder()
	switch r.Pattern {
	case FamilyCycle:
		// The holder whose credit line funded the cycle: the payer of the
		// earliest credit-carrying hop of the path (the closing hop last).
		for _, st := range en.s.path {
			if st.e.creditBp > 0 {
				h := en.g.at(st.from).key
				return Target{Holder: h, Role: RoleCreditHolder, TxID: st.e.tx,
					Reason: fmt.Sprintf("cycle: %s paid %s with %d%% credit-derived money, the earliest credit in the cycle", h, en.g.at(st.e.peer).key, st.e.creditBp/100)}
			}
		}
		if e.CreditShareBps > 0 {
			return Target{Holder: from, Role: RoleCreditHolder,
				Reason: fmt.Sprintf("cycle: only the closing payment carries credit (%d%%), drawn by %s", e.CreditShareBps/100, from)}
		}
		if len(en.s.path) > 0 {
			return Target{Holder: to, Role: RoleCreditHolder, TxID: en.s.path[0].e.tx,
				Reason: fmt.Sprintf("cycle: no hop carries credit; the money left %s and came back to it", to)}
		}
	case FamilyGatherScatter:
		return Target{Holder: from, Role: RoleIntermediary,
			Reason: fmt.Sprintf("gather-scatter: %s takes from %d payers and pays %d payees", from, en.f.GSIn, en.f.GSOut)}
	case FamilyScatterGather:
		src := ""
		if hasU && int(en.s.sgBest) < int(en.g.count) {
			src = en.g.at(en.s.sgBest).key
		}
		return Target{Holder: from, Role: RoleIntermediary,
			Reason: fmt.Sprintf("scatter-gather: %s is one of %d intermediaries between %s and %s", from, en.f.SGPaths, src, to)}
	case FamilyMuleChain:
		m := en.s.mule
		if m.cashOut {
			// The decided event is the transfer; the counterpart cashed out.
			return Target{Holder: m.from, Role: RoleMule, TxID: m.tx,
				Reason: fmt.Sprintf("mule chain: %s cashed out %d minor units of %s within %ds of the transfer to %s", m.from, m.amount, m.cur, int64(en.f.MuleGapSeconds), to)}
		}
		return Target{Holder: from, Role: RoleMule, TxID: m.tx,
			Reason: fmt.Sprintf("mule chain: %s cashes out %d minor units of %s, %ds after the transfer %s → %s", from, e.AmountMinor, e.Currency, int64(en.f.MuleGapSeconds), m.from, m.to)}
	case FamilyFanIn:
		return Target{Holder: to, Role: RoleHub,
			Reason: fmt.Sprintf("fan-in: %s collects from %d distinct payers", to, en.f.FanIn)}
	case FamilyFanOut:
		return Target{Holder: from, Role: RoleHub,
			Reason: fmt.Sprintf("fan-out: %s pays %d distinct payees", from, en.f.FanOut)}
	case "":
		if hasCut(r.Actions) && e.CreditShareBps > 0 && hasU {
			if h, tx, ok := en.creditOrigin(uID, max(e.Time.Unix(), en.now)); ok {
				return Target{Holder: h, Role: RoleCreditHolder, TxID: tx,
					Reason: fmt.Sprintf("credit-derived money: %s received it from %s, whose credit it was", from, h)}
			}
			return Target{Holder: from, Role: RoleCreditHolder,
				Reason: fmt.Sprintf("credit-derived money: no credit-derived money reached %s in the window, so the credit is its own", from)}
		}
	}
	return Target{Holder: from, Role: RolePayer, Reason: fmt.Sprintf("%s pays the decided event", from)}
}

func hasCut(as []Action) bool {
	for _, a := range as {
		if a.Kind == ActionCutCreditLimit {
			return true
		}
	}
	return false
}

// creditOrigin follows credit-derived money back from holder id: through
// the most recent credit-carrying payment into each holder (earlier than the
// one it paid on), to the first holder that received none, whose own credit
// it was. It stops after MaxCycleLen hops or on a loop. ok is false when no
// credit-derived money reached id inside the window.
func (en *Engine) creditOrigin(id uint32, now int64) (holder, tx string, ok bool) {
	g := en.g
	win := now - int64(PatternWindow/time.Second)
	seen := []uint32{id}
	before := now
	cur := id
	for range MaxCycleLen {
		var best *edge
		for i := range g.at(cur).in {
			ed := &g.at(cur).in[i]
			if ed.t < win || ed.t > before || ed.creditBp <= 0 || !g.live(ed) {
				continue
			}
			if best == nil || ed.t > best.t || ed.t == best.t && ed.amount > best.amount {
				best = ed
			}
		}
		if best == nil || containsID(seen, best.peer) {
			break
		}
		cur, before, tx, ok = best.peer, best.t, best.tx, true
		seen = append(seen, cur)
	}
	if !ok {
		return "", "", false
	}
	return g.at(cur).key, tx, true
}
