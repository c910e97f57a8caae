package risk

import (
	"context"
	"fmt"
	"sync"
	"time"

	"cel.dev/cel-go/common/types"
)

// MaxPatternMembers caps the members listed in one pattern explanation.
const MaxPatternMembers = 64

// Member is one transaction inside a detected pattern.
type Member struct {
	TxID        string    `json:"tx_id"`
	From        string    `json:"from"` // holder
	To          string    `json:"to"`   // holder
	Time        time.Time `json:"time"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
}

// Pattern is a detected pattern with its members: the explanation of a match.
type Pattern struct {
	Family  string   `json:"family"`
	Holders []string `json:"holders"`
	Members []Member `json:"members"`
}

// Match is one rule that matched, with the values of the variables it used.
type Match struct {
	RuleID  string         `json:"rule"`
	Expr    string         `json:"expr"`
	Score   int            `json:"score"`
	Actions []Action       `json:"actions"`
	Values  map[string]any `json:"values"`
	Pattern *Pattern       `json:"pattern,omitempty"`
	// Target is the holder this match's actions and alert address (the
	// pattern's credit holder, intermediary, mule or hub; else the payer),
	// with the member that shows it and why.
	Target Target `json:"target"`
}

// Decision is the engine's answer for one event. Verdict is the most severe
// of allow/review/hold/refuse among the matched rules; Actions lists every
// action, including those that change a holder's state, which the caller
// applies through an ActionApplier.
type Decision struct {
	EventID string     `json:"event_id"`
	Time    time.Time  `json:"time"`
	Subject string     `json:"subject"` // the paying holder; each Match's Target says whom its actions address
	Verdict ActionKind `json:"verdict"`
	Score   int        `json:"score"`
	Actions []Action   `json:"actions,omitempty"`
	Matches []Match    `json:"matches,omitempty"`
	// Features are all feature values for the event (set when a rule matched).
	Features *Features `json:"features,omitempty"`
}

// Alert reports whether the decision asks for anything beyond allow.
func (d *Decision) Alert() bool {
	for _, a := range d.Actions {
		if a.Kind != ActionAllow {
			return true
		}
	}
	return false
}

// ActionApplier is what the payments/ledger side implements to carry out
// state-changing actions (freeze, cut_credit_limit, downgrade_rating, report)
// as ledger operations with their own events. The engine never calls it; the
// payment pipeline calls Apply for each such action of a Decision after
// Check or Observe returns, addressed to the holder Decision.ActionTargets
// gives (each match's Target), not necessarily the payer.
type ActionApplier interface {
	// Apply carries out a on holder because of d. It returns an error wrapping
	// the ledger's reason when the action cannot be applied (unknown holder,
	// no credit line to cut); applying the same (d.EventID, holder, a) twice is a no-op.
	Apply(ctx context.Context, holder string, a Action, d Decision) error
}

// Engine is the streaming risk engine. It is safe for concurrent use; calls
// are serialised, so feed events in time order from one place.
type Engine struct {
	mu     sync.Mutex
	rules  *RuleSet
	g      *graph
	mule   *muleIndex
	s      scratch
	f      Features
	now    int64
	events uint64
}

// NewEngine returns an engine evaluating rs (DefaultRules() when nil).
func NewEngine(rs *RuleSet) *Engine {
	if rs == nil {
		rs = DefaultRules()
	}
	return &Engine{rules: rs, g: newGraph(), mule: newMuleIndex()}
}

// Check decides e without recording it: the inline check before a payment
// hop commits. Invalid events return an error naming the field.
func (en *Engine) Check(e Event) (Decision, error) { return en.run(&e, false) }

// Observe decides e and records it in the engine's state. Events must come in
// time order; a late event is treated as happening at the latest time seen.
func (en *Engine) Observe(e Event) (Decision, error) { return en.run(&e, true) }

func (en *Engine) run(e *Event, commit bool) (Decision, error) {
	if err := e.Validate(); err != nil {
		return Decision{}, err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	now := max(e.Time.Unix(), en.now)
	fromKey, toKey := e.fromHolder(), e.toHolder()
	uID, hasU := en.g.ids[fromKey]
	vID, hasV := en.g.ids[toKey]
	var u, v *node
	if hasU {
		u = en.g.at(uID)
	}
	if hasV {
		v = en.g.at(vID)
	}
	f := &en.f
	*f = Features{}
	en.s.peers = computeFeatures(f, en.s.peers, e, now, u, v, vID, uID, hasU, hasV)
	en.s.detect(en.g, f, e, now, uID, vID, hasU, hasV)
	f.MuleDiffBps, f.MuleGapSeconds = -1, -1
	if m, diff, ok := en.mule.match(e, now); ok {
		en.s.mule = m
		f.MuleDiffBps, f.MuleGapSeconds = diff, float64(now-m.t)
		f.MuleSameAccount = m.cashOut && m.fromAcc == e.ToAccount || !m.cashOut && m.toAcct == e.FromAccount
	}
	d, err := en.decide(e, fromKey, uID, vID, hasU, hasV)
	if err != nil {
		return Decision{}, err
	}
	if commit {
		en.commit(e, now, fromKey, toKey, uID, vID, hasU, hasV)
		en.watch(&d, now)
	}
	return d, nil
}

// commit records e; uID and vID are the holders' ids found before deciding
// (valid when hasU/hasV: nothing evicts between the lookup and here).
func (en *Engine) commit(e *Event, now int64, fromKey, toKey string, uID, vID uint32, hasU, hasV bool) {
	en.now = now
	en.events++
	if en.events%sweepEvery == 0 {
		en.g.evict(now, false, "")
		uID, hasU = en.g.ids[fromKey]
		vID, hasV = en.g.ids[toKey]
	}
	if fromKey != toKey {
		// Each ensure spares the other party, so both ids stay valid.
		if !hasU {
			uID = en.g.ensure(fromKey, now, toKey)
		}
		if !hasV {
			vID = en.g.ensure(toKey, now, fromKey)
		}
		en.g.add(uID, vID, now, e.AmountMinor, e.Currency, int32(e.CreditShareBps), e.ID)
	}
	en.mule.add(e, now)
}

// watch marks the holders of every pattern behind a hold or refuse as ring
// members for PatternWindow (the ring_link feature).
func (en *Engine) watch(d *Decision, now int64) {
	until := now + int64(PatternWindow/time.Second)
	for _, m := range d.Matches {
		if m.Pattern == nil || !holdsOrRefuses(m.Actions) {
			continue
		}
		for _, h := range m.Pattern.Holders {
			if id, ok := en.g.ids[h]; ok {
				en.g.at(id).watchUntil = until
			}
		}
	}
}

func holdsOrRefuses(as []Action) bool {
	for _, a := range as {
		if a.Kind == ActionHold || a.Kind == ActionRefuse {
			return true
		}
	}
	return false
}

// candidate reports whether the detector of family found something for this event.
func candidate(f *Features, family string) bool {
	switch family {
	case FamilyCycle:
		return f.CycleLen > 0
	case FamilyFanOut:
		return f.FanOut >= 2
	case FamilyFanIn:
		return f.FanIn >= 2
	case FamilyGatherScatter:
		return f.GSIn >= 2 && f.GSOut >= 2
	case FamilyScatterGather:
		return f.SGPaths >= 2
	case FamilyMuleChain:
		return f.MuleDiffBps >= 0
	case FamilyRepeatPair:
		return f.PairCount >= 2
	}
	return false
}

func (en *Engine) decide(e *Event, subject string, uID, vID uint32, hasU, hasV bool) (Decision, error) {
	d := Decision{EventID: e.ID, Time: e.Time, Subject: subject, Verdict: ActionAllow}
	act := activation{f: &en.f}
	for _, r := range en.rules.Rules {
		if r.Pattern != "" && !candidate(&en.f, r.Pattern) {
			continue
		}
		out, _, err := r.prg.Eval(act)
		if err != nil {
			return Decision{}, fmt.Errorf("rule %s: evaluating %q: %w", r.ID, r.Expr, err)
		}
		if out != types.True {
			continue
		}
		m := Match{RuleID: r.ID, Expr: r.Expr, Score: r.Score, Actions: r.Actions, Values: make(map[string]any, len(r.vars))}
		for _, i := range r.vars {
			m.Values[featureVars[i].name] = featureVars[i].get(&en.f)
		}
		if r.Pattern != "" {
			m.Pattern = en.pattern(r.Pattern, e, uID, vID, hasU, hasV)
		}
		m.Target = en.target(r, e, uID, vID, hasU, hasV)
		d.Matches = append(d.Matches, m)
		d.Score += r.Score
		for _, a := range r.Actions {
			if !containsAction(d.Actions, a) {
				d.Actions = append(d.Actions, a)
			}
			if rank, ok := verdictRank[a.Kind]; ok && rank > verdictRank[d.Verdict] {
				d.Verdict = a.Kind
			}
		}
	}
	if len(d.Matches) > 0 {
		f := en.f
		d.Features = &f
	}
	return d, nil
}

func containsAction(s []Action, a Action) bool {
	for _, b := range s {
		if b == a {
			return true
		}
	}
	return false
}

// Stats describes the engine's state size, for monitoring and the bounded-state tests.
type Stats struct {
	Events      uint64 `json:"events"`
	Holders     int    `json:"holders"`
	Edges       int    `json:"edges"`
	MuleEntries int    `json:"mule_entries"`
}

// Stats returns the current state size.
func (en *Engine) Stats() Stats {
	en.mu.Lock()
	defer en.mu.Unlock()
	n, ed := en.g.size()
	return Stats{Events: en.events, Holders: n, Edges: ed, MuleEntries: en.mule.n}
}
