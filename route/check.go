package route

import (
	"fmt"
	"strconv"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
)

// Check returns what Evaluate returns for one pinned route — verdict,
// findings, fees, amounts, success, app switches and each hop's p50/p95 —
// except the route's time statistics, which take most of Evaluate's time
// (TimeSamples stratified draws per hop through the clearing windows):
// TimeMeanS is the sum of the hop means (clearing windows not applied) and
// TimeP50S and TimeP95S are 0. It is meant for re-checking a route against
// the current limits, balances and rules just before money moves; Times
// fills the statistics when they are wanted. Errors are Evaluate's.
func Check(eco *ecosystem.Ecosystem, q Query, channelIDs []string, rules RuleChecker) (*Route, error) {
	n, err := normalize(eco, q)
	if err != nil {
		return nil, err
	}
	if rules == nil {
		rules = NoRules{}
	}
	p, err := newPlanner(eco, n, rules)
	if err != nil {
		return nil, err
	}
	l, err := p.pinned(channelIDs)
	if err != nil {
		return nil, err
	}
	r := p.evaluate(l, true)
	r.TimeP50S, r.TimeP95S, r.Score = 0, 0, 0
	for i := range r.Hops {
		ch, _ := eco.Channel(r.Hops[i].Channel)
		d := p.dist(ch)
		r.Hops[i].TimeP50S, r.Hops[i].TimeP95S = roundMilli(d.Quantile(0.5)), roundMilli(d.Quantile(0.95))
	}
	return r, nil
}

// pinned follows channelIDs from the query's source and returns the label
// at the target: Evaluate's chain, with its errors.
func (p *planner) pinned(channelIDs []string) (*label, error) {
	n := p.q
	if len(channelIDs) == 0 {
		return nil, queryErr("channels", "must name at least one channel")
	}
	if len(channelIDs) > MaxHopsCap {
		return nil, queryErr("channels", "%d channels, more than the %d-hop limit", len(channelIDs), MaxHopsCap)
	}
	l := &label{node: p.startNode, holder: int32(p.holderIdx[n.FromHolder]), amount: n.AmountFen, success: 1}
	for i, id := range channelIDs {
		field := fmt.Sprintf("channels[%d]", i)
		ch, ok := p.eco.Channel(id)
		if !ok {
			return nil, queryErr(field, "unknown channel %q", id)
		}
		if cur := p.productOf(l.node).ID; ch.From != cur {
			return nil, queryErr(field, "channel %s leaves %s, but the money is at %s", id, ch.From, cur)
		}
		if !p.exists(ch) {
			return nil, queryErr(field, "channel %s does not exist at %s", id, n.At.Format("2006-01-02T15:04:05Z07:00"))
		}
		e := p.newEdge(ch)
		h2, ok := p.targetHolder(&e, int(l.holder))
		if !ok {
			return nil, queryErr(field, "channel %s cannot carry money of holder %s to %s", id, p.holders[l.holder].ID, ch.To)
		}
		next, ok := p.extend(l, &e, h2)
		if !ok {
			return nil, queryErr(field, "channel %s would take the whole %d fen left as its fee", id, l.amount)
		}
		l = next
	}
	if l.node != p.targetNode {
		prod := p.productOf(l.node)
		return nil, queryErr("channels", "end at %s of %s, not at %s of %s", prod.ID, p.holders[l.holder].ID, n.To, n.ToHolder)
	}
	return l, nil
}

// Times sets r's TimeMeanS, TimeP50S and TimeP95S to what Evaluate and
// Plan compute for the same hops starting at at (zero: clearing windows
// ignored) with the time-sample seed seed. Only the hops' channels are
// read. It returns a *QueryError when a hop names an unknown channel or the
// ecosystem's time zone is unknown.
func Times(eco *ecosystem.Ecosystem, at time.Time, seed uint64, r *Route) error {
	if eco == nil || r == nil {
		return queryErr("ecosystem", "no ecosystem or route given")
	}
	p := &planner{
		eco: eco, q: &normalized{Query: Query{At: at, Seed: seed}},
		dists: map[*ecosystem.Channel]Distribution{}, samples: map[*ecosystem.Channel][]float64{},
		clearings: map[*ecosystem.Channel][]*clearing{},
	}
	if !at.IsZero() {
		tz := eco.Timezone
		if tz == "" {
			tz = DefaultTimezone
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return queryErr("ecosystem", "timezone %q: %v", tz, err)
		}
		p.loc = loc
	}
	steps := make([]*step, len(r.Hops))
	for i, h := range r.Hops {
		ch, ok := eco.Channel(h.Channel)
		if !ok {
			return queryErr(fmt.Sprintf("channels[%d]", i), "unknown channel %q", h.Channel)
		}
		steps[i] = &step{ch: ch}
	}
	if len(steps) == 0 {
		r.TimeMeanS, r.TimeP50S, r.TimeP95S = 0, 0, 0
		return nil
	}
	r.TimeMeanS, r.TimeP50S, r.TimeP95S = p.timeStats(steps)
	return nil
}

// StartKey returns a key that two start times share only when Plan,
// Evaluate, Check and Times give the same routes for them, all else equal
// (only the query time echoed in Result.Query differs): "" for the zero
// time; the time itself when an institution of the ecosystem has a
// clearing constraint (T+1, weekdays or windows), since arrival times then
// depend on the start; otherwise the count of channel validity boundaries
// (valid_from, valid_until) at or before it, since the start then only
// decides which channels exist. Callers use it to memoise route choices
// and time statistics without changing any result.
func StartKey(eco *ecosystem.Ecosystem, at time.Time) string {
	if at.IsZero() {
		return ""
	}
	for _, in := range eco.Institutions {
		if constrains(in.Clearing) {
			return "t" + strconv.FormatInt(at.UnixNano(), 10)
		}
	}
	n := 0
	for _, ch := range eco.Channels {
		for _, b := range []time.Time{ch.ValidFrom, ch.ValidUntil} {
			if !b.IsZero() && !at.Before(b) {
				n++
			}
		}
	}
	return "v" + strconv.Itoa(n)
}

// constrains reports whether c delays settlement (clearingOf(c) != nil),
// without building the constraint: StartKey runs for every payment.
func constrains(c ecosystem.Clearing) bool {
	if c.Mode == ecosystem.ClearingT1 || c.Days == "weekdays" {
		return true
	}
	for _, w := range c.Windows {
		open, err1 := ecosystem.ParseClock(w.Open)
		closing, err2 := ecosystem.ParseClock(w.Close)
		if err1 == nil && err2 == nil && open < closing {
			return true
		}
	}
	return false
}

// ClearingFree reports whether no institution of eco has a clearing
// constraint (T+1, weekdays or windows): then Arrive(eco, loc, ch, start,
// s) is start plus s seconds for every channel, and StartKey changes only
// at channel validity dates.
func ClearingFree(eco *ecosystem.Ecosystem) bool {
	for _, in := range eco.Institutions {
		if constrains(in.Clearing) {
			return false
		}
	}
	return true
}
