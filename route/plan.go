package route

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
)

// Plan finds the routes that move q.AmountFen from q.From to q.To. It
// returns a *QueryError naming the field when the query is invalid. Allowed
// and warned routes that no other allowed or warned route dominates come
// first, ranked by q.Objective; then refused routes, with the findings that
// refuse them, that neither an allowed or warned route nor a route refused
// by the same rules dominates. See docs/planner.md.
func Plan(eco *ecosystem.Ecosystem, q Query, rules RuleChecker) (*Result, error) {
	return plan(eco, q, rules, nil)
}

// plan is Plan, with the time statistics memoised in memo when it is not nil.
func plan(eco *ecosystem.Ecosystem, q Query, rules RuleChecker, memo *Planner) (*Result, error) {
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
	if memo != nil {
		p.memo, p.startKey = memo, StartKey(eco, n.At)
	}
	p.buildGraph()
	p.lowerBounds()
	p.search()
	res := &Result{Query: n.info(eco), Truncated: p.truncated, Search: p.stats}
	res.Routes = p.finish()
	res.Sources = sources(eco, res.Routes)
	if alt := alternativeSource(eco, n); alt != "" && !anyAllowed(res.Routes) {
		q2 := q
		q2.From = alt
		if res.Alternative, err = plan(eco, q2, rules, memo); err != nil {
			res.Alternative = nil
		}
	}
	return res, nil
}

// alternativeSource is, for a query from a consumer-credit product, the
// first (by id) cash-withdrawable product at the same institution the holder
// may own, other than the destination; "" otherwise.
func alternativeSource(eco *ecosystem.Ecosystem, n *normalized) string {
	if n.from.Kind != ecosystem.ProductCredit {
		return ""
	}
	for _, id := range eco.ProductIDs() {
		p, _ := eco.Product(id)
		if p.Institution == n.from.Institution && p.CashWithdrawable && p.Kind != ecosystem.ProductCredit &&
			canOwn(eco, n.fromHolder, p) && !(p.ID == n.to.ID && n.FromHolder == n.ToHolder) {
			return p.ID
		}
	}
	return ""
}

func anyAllowed(routes []Route) bool {
	for _, r := range routes {
		if r.Verdict != VerdictRefused {
			return true
		}
	}
	return false
}

// label is a partial route ending at a (product, holder) node.
type label struct {
	parent   *label
	step     *step // the hop that reached this label; nil for the start
	node     int32
	holder   int32
	hops     int
	amount   int64 // fen moving on after this hop
	fee      int64 // fen of fees so far
	mean     float64
	success  float64
	switches int
	requires int // require findings so far
	effort   int
	lastApp  string
	// refusedBy lists the rules that refused a hop so far ("" when none), sorted.
	refusedBy string
	dead      bool
	seq       int
	priority  float64
}

// criteria are what dominance compares; lower is better on each.
type criteria struct {
	fee      int64
	mean     float64
	failure  float64
	switches int
	requires int
}

// dominates reports whether a is at least as good as b everywhere and better somewhere.
func (a criteria) dominates(b criteria) bool {
	if a.fee > b.fee || a.mean > b.mean || a.failure > b.failure || a.switches > b.switches || a.requires > b.requires {
		return false
	}
	return a.fee < b.fee || a.mean < b.mean || a.failure < b.failure || a.switches < b.switches || a.requires < b.requires
}

// Dominates reports whether route a is at least as good as route b on fee,
// mean time, failure probability, app switches and requirements, and better on one.
func Dominates(a, b *Route) bool { return routeCriteria(a).dominates(routeCriteria(b)) }

func routeCriteria(r *Route) criteria {
	return criteria{fee: r.FeeFen, mean: r.TimeMeanS, failure: 1 - r.Success, switches: r.AppSwitches, requires: r.Requirements}
}

// candidate is a complete route found by the search.
type candidate struct {
	last  *label
	route *Route
	crit  criteria
}

func (c *candidate) refused() bool { return c.route.Verdict == VerdictRefused }

// search runs the best-first multi-criteria label search from the start node.
func (p *planner) search() {
	start := &label{node: p.startNode, holder: int32(p.holderIdx[p.q.FromHolder]), amount: p.q.AmountFen, success: 1}
	p.push(start)
	for p.queue.Len() > 0 {
		l := heap.Pop(&p.queue).(*label)
		if l.dead {
			continue
		}
		p.expand(l)
	}
}

// expand extends l along every channel leaving its product.
func (p *planner) expand(l *label) {
	if l.hops >= p.q.MaxHops {
		return
	}
	for _, ei := range p.out[int(l.node)/len(p.holders)] {
		e := &p.edges[ei]
		to := e.to
		if l.hops+1+p.lbHops[to] > p.q.MaxHops {
			continue
		}
		h2, ok := p.targetHolder(e, int(l.holder))
		if !ok {
			continue
		}
		node := p.nodeOf(to, h2)
		if onPath(l, node) {
			continue
		}
		if p.stats.Labels >= MaxLabels {
			p.truncated = true
			return
		}
		if p.frontDominates(p.optimistic(l, e)) {
			p.stats.Pruned++
			continue
		}
		next, ok := p.extend(l, e, h2)
		if !ok {
			continue
		}
		if node == p.targetNode {
			p.complete(next)
			continue
		}
		p.insert(next)
	}
}

// onPath reports whether node is already on the route ending at l.
func onPath(l *label, node int32) bool {
	for ; l != nil; l = l.parent {
		if l.node == node {
			return true
		}
	}
	return false
}

// optimistic bounds every route that extends l along e below: what l has
// so far plus e's own mean, success and app switches, plus the lower
// bounds from e's destination to the target.
func (p *planner) optimistic(l *label, e *edge) criteria {
	return criteria{
		fee:      l.fee,
		mean:     l.mean + e.mean + p.lbMean[e.to],
		failure:  1 - l.success*math.Exp(-e.negLogSuccess+p.lbLogSuccess[e.to]),
		switches: l.switches + switchesOf(l.lastApp, p.appsOfEdge(e)),
		requires: l.requires,
	}
}

// frontDominates reports whether an allowed or warned route found so far
// dominates every route whose criteria are at least lb.
func (p *planner) frontDominates(lb criteria) bool {
	for _, c := range p.okFront {
		if c.crit.dominates(lb) {
			return true
		}
	}
	return false
}

// insert keeps a partial label unless a complete allowed route (against
// lower bounds for the rest of the way) or a label at the same node
// dominates it, and queues it.
func (p *planner) insert(l *label) {
	prod := p.prodIdx[p.productOf(l.node).ID]
	lb := criteria{
		fee:      l.fee,
		mean:     l.mean + p.lbMean[prod],
		failure:  1 - l.success*math.Exp(p.lbLogSuccess[prod]),
		switches: l.switches,
		requires: l.requires,
	}
	if p.frontDominates(lb) {
		p.stats.Pruned++
		return
	}
	labels := p.labels[l.node]
	live := labels[:0]
	same := 0 // live labels of l's class (refused or not)
	for _, o := range labels {
		if o.dead {
			continue
		}
		if labelDominates(o, l) {
			p.stats.Pruned++
			p.labels[l.node] = append(live, labels[len(live):]...)
			return
		}
		if labelDominates(l, o) {
			o.dead = true
			p.stats.Pruned++
			continue
		}
		live = append(live, o)
		if (o.refusedBy == "") == (l.refusedBy == "") {
			same++
		}
	}
	p.labels[l.node] = live
	if same >= MaxLabelsPerNode {
		p.truncated = true
		p.stats.Pruned++
		return
	}
	p.labels[l.node] = append(live, l)
	l.priority = l.mean + p.lbMean[prod]
	p.push(l)
}

// labelDominates reports whether every extension of b is matched by the same
// extension of a, at least as good on every criterion: same last app (so the
// same future switches), refused by the same rules so far, the same amount
// moving on (so the same future fees and limit checks), and every node a
// visited also visited by b (so every extension simple for b is simple for a).
func labelDominates(a, b *label) bool {
	if a.lastApp != b.lastApp || a.refusedBy != b.refusedBy || a.fee != b.fee {
		return false
	}
	if a.mean > b.mean || a.success < b.success || a.switches > b.switches || a.requires > b.requires {
		return false
	}
	for x := a; x != nil; x = x.parent {
		if !onPath(b, x.node) {
			return false
		}
	}
	return true
}

func (p *planner) push(l *label) {
	p.stats.Labels++
	l.seq = p.stats.Labels
	heap.Push(&p.queue, l)
}

// complete evaluates a label at the target node as a whole route and keeps
// it in its Pareto front: the allowed-and-warned front, or the front of the
// routes refused by exactly the same rules.
func (p *planner) complete(l *label) {
	p.stats.Complete++
	r := p.evaluate(l, p.q.At.IsZero())
	c := &candidate{last: l, route: r, crit: routeCriteria(r)}
	if p.frontDominates(c.crit) {
		return // an allowed route is at least as good and better somewhere
	}
	key := ""
	front := p.okFront
	if c.refused() {
		key = refusalKey(r.Findings)
		front = p.refusedFronts[key]
	}
	for _, o := range front {
		if o.crit.dominates(c.crit) {
			return
		}
	}
	kept := front[:0]
	for _, o := range front {
		if !c.crit.dominates(o.crit) {
			kept = append(kept, o)
		}
	}
	kept = append(kept, c)
	if c.refused() {
		if p.refusedFronts[key] == nil {
			p.refusedKeys = append(p.refusedKeys, key)
		}
		p.refusedFronts[key] = kept
	} else {
		p.okFront = kept
	}
}

// refusalKey names the set of rules that refuse a route, sorted.
func refusalKey(fs []compliance.Finding) string {
	var ids []string
	for _, f := range fs {
		if f.Effect == ecosystem.EffectRefuse && !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

// finish computes full statistics of the kept routes and ranks them.
func (p *planner) finish() []Route {
	ok := make([]*Route, 0, len(p.okFront))
	for _, c := range p.okFront {
		ok = append(ok, p.evaluate(c.last, false))
	}
	var refused []*Route
	for _, key := range p.refusedKeys {
		for _, c := range p.refusedFronts[key] {
			if !p.frontDominates(c.crit) {
				refused = append(refused, p.evaluate(c.last, false))
			}
		}
	}
	rank(ok, p.q.Objective)
	rank(refused, p.q.Objective)
	out := make([]Route, 0, len(ok)+len(refused))
	for _, r := range ok {
		out = append(out, *r)
	}
	for _, r := range refused {
		out = append(out, *r)
	}
	return out
}

// Evaluate returns the statistics, findings and verdict of one pinned route:
// the channels in order from q.From to q.To. A channel that moves money to
// another holder moves it to q.ToHolder and must be the last. It returns a
// *QueryError for an invalid query or a chain that does not connect.
func Evaluate(eco *ecosystem.Ecosystem, q Query, channelIDs []string, rules RuleChecker) (*Route, error) {
	n, err := normalize(eco, q)
	if err != nil {
		return nil, err
	}
	if len(channelIDs) == 0 {
		return nil, queryErr("channels", "must name at least one channel")
	}
	if len(channelIDs) > MaxHopsCap {
		return nil, queryErr("channels", "%d channels, more than the %d-hop limit", len(channelIDs), MaxHopsCap)
	}
	if rules == nil {
		rules = NoRules{}
	}
	p, err := newPlanner(eco, n, rules)
	if err != nil {
		return nil, err
	}
	l := &label{node: p.startNode, holder: int32(p.holderIdx[n.FromHolder]), amount: n.AmountFen, success: 1}
	for i, id := range channelIDs {
		field := fmt.Sprintf("channels[%d]", i)
		ch, ok := eco.Channel(id)
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
	r := p.evaluate(l, false)
	r.Score = 0
	return r, nil
}

// labelQueue orders labels by priority (a lower bound of the mean time),
// then by creation order.
type labelQueue []*label

func (q labelQueue) Len() int { return len(q) }
func (q labelQueue) Less(i, j int) bool {
	if q[i].priority != q[j].priority {
		return q[i].priority < q[j].priority
	}
	return q[i].seq < q[j].seq
}
func (q labelQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *labelQueue) Push(x any)   { *q = append(*q, x.(*label)) }
func (q *labelQueue) Pop() any {
	old := *q
	l := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return l
}

// hopFindings returns the findings of a label's own hop.
func (l *label) hopFindings() []compliance.Finding { return l.step.findings }
