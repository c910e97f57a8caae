package route

import (
	"container/heap"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // clearing windows use the ecosystem's timezone without the host's zoneinfo

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
)

// DefaultTimezone is the clearing-window timezone of an ecosystem that names none.
const DefaultTimezone = "Asia/Shanghai"

// unreachable is the hop lower bound of a product that cannot reach the target.
const unreachable = MaxHopsCap + 1

// planner is one query's search state over an ecosystem.
type planner struct {
	eco   *ecosystem.Ecosystem
	q     *normalized
	rules RuleChecker
	loc   *time.Location

	products  []*ecosystem.Product
	prodIdx   map[string]int
	holders   []*ecosystem.Holder
	holderIdx map[string]int

	startNode, targetNode int32
	creditShareBps        int64
	creditIssuer          string
	creditPurpose         string

	// lower bounds from each product to the target product
	lbHops       []int
	lbMean       []float64
	lbLogSuccess []float64

	dists     map[*ecosystem.Channel]Distribution
	samples   map[*ecosystem.Channel][]float64
	clearings map[*ecosystem.Channel][]*clearing
	perms     [][]int
	edges     []edge
	out       [][]int32 // edge indexes by the product they leave
	steps     map[stepKey]*step
	apps      map[*ecosystem.Channel][]string

	labels        [][]*label
	queue         labelQueue
	okFront       []*candidate
	refusedFronts map[string][]*candidate // by refusalKey
	refusedKeys   []string                // refusedFronts' keys in the order found
	truncated     bool
	stats         SearchStats

	memo     *Planner // memoises time statistics when not nil
	startKey string   // StartKey(eco, q.At), set with memo
}

func newPlanner(eco *ecosystem.Ecosystem, n *normalized, rules RuleChecker) (*planner, error) {
	p := &planner{
		eco: eco, q: n, rules: rules,
		prodIdx:       make(map[string]int, len(eco.Products)),
		holderIdx:     make(map[string]int, 2),
		dists:         map[*ecosystem.Channel]Distribution{},
		samples:       map[*ecosystem.Channel][]float64{},
		clearings:     map[*ecosystem.Channel][]*clearing{},
		refusedFronts: map[string][]*candidate{},
		steps:         map[stepKey]*step{},
		apps:          map[*ecosystem.Channel][]string{},
	}
	for i := range eco.Products {
		if _, dup := p.prodIdx[eco.Products[i].ID]; !dup {
			p.prodIdx[eco.Products[i].ID] = len(p.products)
			p.products = append(p.products, &eco.Products[i])
		}
	}
	// Only the query's two holders ever hold the money (a channel keeps it
	// with its holder or hands it to the query's target: targetHolder), so
	// only they get nodes: a plan costs the same however many holders the
	// world has (holders added at run time: ecosystem.WithHolders).
	for _, h := range []*ecosystem.Holder{n.fromHolder, n.toHolder} {
		if _, dup := p.holderIdx[h.ID]; !dup {
			p.holderIdx[h.ID] = len(p.holders)
			p.holders = append(p.holders, h)
		}
	}
	p.startNode = p.nodeOf(p.prodIdx[n.from.ID], p.holderIdx[n.FromHolder])
	p.targetNode = p.nodeOf(p.prodIdx[n.to.ID], p.holderIdx[n.ToHolder])
	p.labels = make([][]*label, len(p.products)*len(p.holders))
	if n.from.Kind == ecosystem.ProductCredit {
		p.creditShareBps = money.BasisPointsPerUnit
		p.creditIssuer = n.from.Institution
		p.creditPurpose = n.from.Purpose
	} else if n.CreditShareBps > 0 {
		// Provenance of the source balance: credit that already left its
		// line (issuer unknown to the ledger).
		p.creditShareBps = n.CreditShareBps
		p.creditPurpose = n.CreditPurpose
	}
	if !n.At.IsZero() {
		tz := eco.Timezone
		if tz == "" {
			tz = DefaultTimezone
		}
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return nil, queryErr("ecosystem", "timezone %q: %v", tz, err)
		}
		p.loc = loc
	}
	return p, nil
}

func (p *planner) nodeOf(prod, holder int) int32 { return int32(prod*len(p.holders) + holder) }

func (p *planner) productOf(node int32) *ecosystem.Product {
	return p.products[int(node)/len(p.holders)]
}

// exists reports whether a channel exists at the query's time (always, when At is zero).
func (p *planner) exists(ch *ecosystem.Channel) bool {
	at := p.q.At
	if at.IsZero() {
		return true
	}
	if !ch.ValidFrom.IsZero() && at.Before(ch.ValidFrom) {
		return false
	}
	return ch.ValidUntil.IsZero() || at.Before(ch.ValidUntil)
}

// edge is a channel that exists at the query's time, with what the search
// reads of it on every extension computed once.
type edge struct {
	ch            *ecosystem.Channel
	from, to      int // product indexes
	mean          float64
	negLogSuccess float64
	apps          []string
}

// buildGraph indexes the channels that exist at the query's time by the
// product they leave, in file order.
func (p *planner) buildGraph() {
	p.out = make([][]int32, len(p.products))
	for i := range p.eco.Channels {
		ch := &p.eco.Channels[i]
		from, ok1 := p.prodIdx[ch.From]
		_, ok2 := p.prodIdx[ch.To]
		if !ok1 || !ok2 || !p.exists(ch) {
			continue
		}
		p.out[from] = append(p.out[from], int32(len(p.edges)))
		p.edges = append(p.edges, p.newEdge(ch))
	}
}

// newEdge describes a channel for the search; its apps are found on first use.
func (p *planner) newEdge(ch *ecosystem.Channel) edge {
	return edge{ch: ch, from: p.prodIdx[ch.From], to: p.prodIdx[ch.To], mean: HopLatency(ch).Mean(),
		negLogSuccess: -math.Log(ch.Success)}
}

// appsOfEdge returns (and keeps) the apps of an edge's channel.
func (p *planner) appsOfEdge(e *edge) []string {
	if e.apps == nil {
		e.apps = p.appsOf(e.ch)
	}
	return e.apps
}

// targetHolder returns the holder whose account a channel fills when the
// money belongs to holder h: h itself for a channel that does not change
// holder; for a channel that requires another holder, the query's target
// holder, and only when that hand-off reaches the target account (every hop
// is the sending holder's own action, so the hand-off is the last hop). It
// is false when the channel cannot carry h's money.
func (p *planner) targetHolder(e *edge, h int) (int, bool) {
	if !e.ch.Requires.OtherHolder {
		return h, canOwn(p.eco, p.holders[h], p.products[e.to])
	}
	target := p.holderIdx[p.q.ToHolder]
	return target, target != h && p.nodeOf(e.to, target) == p.targetNode
}

// step is one hop of a route as the search built it. Steps are shared by
// every label that takes the same channel between the same holders with the
// same amount at the same position, and never change once built.
type step struct {
	ch                   *ecosystem.Channel
	fromHolder, toHolder *ecosystem.Holder
	amountIn, fee        int64
	apps                 []string
	mean                 float64
	hop                  compliance.Hop
	findings             []compliance.Finding
	refuses              bool
	requires             int
}

// stepKey identifies the inputs a step's fee, limits and findings depend on.
type stepKey struct {
	ch       *ecosystem.Channel
	from, to int32
	amount   int64
	index    int
}

// extend moves l's money along ch to holder h2. It is false when the fee
// would take everything.
func (p *planner) extend(l *label, e *edge, h2 int) (*label, bool) {
	ch := e.ch
	key := stepKey{ch, l.holder, int32(h2), l.amount, l.hops + 1}
	s, ok := p.steps[key]
	if !ok {
		s = p.newStep(l, e, h2)
		p.steps[key] = s
	}
	if s == nil {
		return nil, false
	}
	next := &label{
		parent: l, step: s, node: p.nodeOf(e.to, h2), holder: int32(h2), hops: l.hops + 1,
		amount: l.amount - s.fee, fee: l.fee + s.fee,
		mean:      l.mean + s.mean,
		success:   l.success * ch.Success,
		effort:    l.effort + max(ch.Effort, 1),
		lastApp:   s.apps[len(s.apps)-1],
		refusedBy: l.refusedBy,
		switches:  l.switches + switchesOf(l.lastApp, s.apps),
		requires:  l.requires + s.requires,
	}
	if s.refuses {
		next.refusedBy = mergeKey(l.refusedBy, s.findings)
	}
	return next, true
}

// newStep computes a hop's fee, compliance view and findings; nil when the
// fee would take everything.
func (p *planner) newStep(l *label, e *edge, h2 int) *step {
	ch := e.ch
	fromH, toH := p.holders[l.holder], p.holders[h2]
	fromP, toP := p.productOf(l.node), p.products[e.to]
	used := p.q.Usage.channel(fromH.ID, ch.ID)
	fee, _, err := ch.Fee.Fee(l.amount, ch.Fee.FreeQuotaFen-used.FreeQuotaFen)
	if err != nil || fee >= l.amount {
		return nil
	}
	s := &step{ch: ch, fromHolder: fromH, toHolder: toH, amountIn: l.amount, fee: fee, apps: p.appsOfEdge(e), mean: e.mean}
	s.hop = p.complianceHop(l.hops+1, s, fromP, toP)
	s.findings = p.rules.CheckHop(s.hop)
	p.stats.HopChecks++
	if !anyRefuse(s.findings) {
		s.findings = append(s.findings, p.limitFindings(l.hops+1, s, fromP, toP)...)
	}
	s.refuses = anyRefuse(s.findings)
	s.requires = countEffect(s.findings, ecosystem.EffectRequire)
	return s
}

// switchesOf counts the app changes a hop adds after lastApp ("" at the start).
func switchesOf(lastApp string, apps []string) int {
	n := 0
	prev := lastApp
	for _, a := range apps {
		if prev != "" && a != prev {
			n++
		}
		prev = a
	}
	return n
}

// appsOf returns the apps a holder touches for a channel: its Apps, else its
// App, else its institution's app, else the institution's id.
func (p *planner) appsOf(ch *ecosystem.Channel) []string {
	if apps, ok := p.apps[ch]; ok {
		return apps
	}
	apps := p.findApps(ch)
	p.apps[ch] = apps
	return apps
}

func (p *planner) findApps(ch *ecosystem.Channel) []string {
	if len(ch.Apps) > 0 {
		return ch.Apps
	}
	if ch.App != "" {
		return []string{ch.App}
	}
	if in, ok := p.eco.Institution(ch.Institution); ok && in.App != "" {
		return []string{in.App}
	}
	return []string{ch.Institution}
}

// mergeKey adds the rules refusing findings to a sorted refusal key.
func mergeKey(key string, fs []compliance.Finding) string {
	var ids []string
	if key != "" {
		ids = strings.Split(key, ",")
	}
	for _, f := range fs {
		if f.Effect == ecosystem.EffectRefuse && !slices.Contains(ids, f.Rule) {
			ids = append(ids, f.Rule)
		}
	}
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func countEffect(fs []compliance.Finding, effect string) int {
	n := 0
	for _, f := range fs {
		if f.Effect == effect {
			n++
		}
	}
	return n
}

func anyRefuse(fs []compliance.Finding) bool {
	for _, f := range fs {
		if f.Effect == ecosystem.EffectRefuse {
			return true
		}
	}
	return false
}

func (p *planner) account(prod *ecosystem.Product, h *ecosystem.Holder) compliance.Account {
	return compliance.Account{
		Product: prod.ID, Institution: prod.Institution, Kind: prod.Kind, Purpose: prod.Purpose,
		CashWithdrawable: prod.CashWithdrawable, Holder: h.ID, HolderKind: h.Kind, KYCLevel: h.KYCLevel,
	}
}

// complianceHop is the hop as rules see it.
func (p *planner) complianceHop(index int, s *step, fromP, toP *ecosystem.Product) compliance.Hop {
	ch := s.ch
	h := compliance.Hop{
		Index: index, Channel: ch.ID, ChannelKind: ch.Kind, Institution: ch.Institution,
		Licences: []string{}, Tags: ch.Tags,
		From: p.account(fromP, s.fromHolder), To: p.account(toP, s.toHolder),
		AmountFen: s.amountIn, FeeFen: s.fee,
		CreditShareBps: p.creditShareBps, CreditIssuer: p.creditIssuer, CreditPurpose: p.creditPurpose,
		KYCRequired:  ch.Requires.KYCLevel,
		SameHolder:   s.fromHolder.ID == s.toHolder.ID,
		RequiresSame: ch.Requires.SameHolder,
	}
	if h.Tags == nil {
		h.Tags = []string{}
	}
	if in, ok := p.eco.Institution(ch.Institution); ok && in.Licences != nil {
		h.Licences = in.Licences
	}
	for _, lc := range p.limitSets(s, fromP) {
		h.OverPerTxn = h.OverPerTxn || over(lc.limits.PerTxnFen, 0, s.amountIn)
		h.OverPerDay = h.OverPerDay || over(lc.limits.PerDayFen, lc.used.DayFen, s.amountIn)
		h.OverPerMonth = h.OverPerMonth || over(lc.limits.PerMonthFen, lc.used.MonthFen, s.amountIn)
		h.OverPerYear = h.OverPerYear || over(lc.limits.PerYearFen, lc.used.YearFen, s.amountIn)
		h.UnderMin = h.UnderMin || (lc.limits.MinFen > 0 && s.amountIn < lc.limits.MinFen)
	}
	return h
}

// over reports whether used+amount passes a limit (0: none), without overflow.
func over(limit, used, amount int64) bool {
	return limit > 0 && (amount > limit || used > limit-amount)
}

// limitSet is one set of limits a hop is subject to and what has been used of it.
type limitSet struct {
	limits ecosystem.Limits
	used   Used
	source string // "channel <id>" or "product <id> tier <name>"
}

// limitSets returns the channel's limits and the source product's tier limits.
func (p *planner) limitSets(s *step, fromP *ecosystem.Product) []limitSet {
	sets := []limitSet{{s.ch.Limits, p.q.Usage.channel(s.fromHolder.ID, s.ch.ID), "channel " + s.ch.ID}}
	if t := fromP.TierFor(s.fromHolder); t != nil {
		sets = append(sets, limitSet{t.Limits, p.q.Usage.product(s.fromHolder.ID, fromP.ID), "product " + fromP.ID + " " + t.Name})
	}
	return sets
}

// limitFindings are the planner's own refusals for hard limits the rules did
// not already refuse the hop for: amounts past a limit, identity level, balance caps.
func (p *planner) limitFindings(index int, s *step, fromP, toP *ecosystem.Product) []compliance.Finding {
	var out []compliance.Finding
	add := func(rule, source, format string, args ...any) {
		out = append(out, compliance.Finding{
			Rule: rule, Effect: ecosystem.EffectRefuse, Hop: index,
			Citation: "ecosystem " + p.eco.ID + ": " + source,
			Message:  sprintf(format, args...),
		})
	}
	for _, lc := range p.limitSets(s, fromP) {
		l, u := lc.limits, lc.used
		switch {
		case l.MinFen > 0 && s.amountIn < l.MinFen:
			add("limit.min", lc.source, "This hop moves %s yuan, below its minimum of %s yuan.", money.FormatYuan(s.amountIn), money.FormatYuan(l.MinFen))
		case over(l.PerTxnFen, 0, s.amountIn):
			add("limit.per_txn", lc.source, "This hop moves %s yuan, above its per-transaction limit of %s yuan.", money.FormatYuan(s.amountIn), money.FormatYuan(l.PerTxnFen))
		case over(l.PerDayFen, u.DayFen, s.amountIn):
			add("limit.per_day", lc.source, "This hop would bring today's total to more than its daily limit of %s yuan.", money.FormatYuan(l.PerDayFen))
		case over(l.PerMonthFen, u.MonthFen, s.amountIn):
			add("limit.per_month", lc.source, "This hop would bring this month's total to more than its monthly limit of %s yuan.", money.FormatYuan(l.PerMonthFen))
		case over(l.PerYearFen, u.YearFen, s.amountIn):
			add("limit.per_year", lc.source, "This hop would bring this year's total to more than its yearly limit of %s yuan.", money.FormatYuan(l.PerYearFen))
		case over(l.LifetimeFen, u.LifetimeFen, s.amountIn):
			add("limit.lifetime", lc.source, "This hop would pass its lifetime limit of %s yuan.", money.FormatYuan(l.LifetimeFen))
		case l.PerDayCount > 0 && u.DayCount >= l.PerDayCount:
			add("limit.per_day_count", lc.source, "This channel allows %d transactions a day and they are used up.", l.PerDayCount)
		}
	}
	if need := s.ch.Requires.KYCLevel; need > s.fromHolder.KYCLevel {
		add("limit.kyc", "channel "+s.ch.ID, "This channel needs identity-verification level %d; holder %s has level %d.", need, s.fromHolder.ID, s.fromHolder.KYCLevel)
	}
	limit, source := toP.BalanceCapFen, "product "+toP.ID
	if t := toP.TierFor(s.toHolder); t != nil && t.BalanceCapFen > 0 {
		limit, source = t.BalanceCapFen, "product "+toP.ID+" "+t.Name
	}
	if arriving := s.amountIn - s.fee; over(limit, p.q.Usage.balance(s.toHolder.ID, toP.ID), arriving) {
		add("limit.balance_cap", source, "The destination account may hold at most %s yuan.", money.FormatYuan(limit))
	}
	return out
}

func (p *planner) dist(ch *ecosystem.Channel) Distribution {
	d, ok := p.dists[ch]
	if !ok {
		d = HopLatency(ch)
		p.dists[ch] = d
	}
	return d
}

func (p *planner) samplesOf(ch *ecosystem.Channel) []float64 {
	s, ok := p.samples[ch]
	if !ok {
		s = latencySamples(ch.Latency)
		p.samples[ch] = s
	}
	return s
}

// sampleCache holds the stratified samples of each latency distribution
// seen, shared by every plan (they depend on the distribution only).
var sampleCache sync.Map // ecosystem.Latency → []float64

// maxCachedPerms bounds permCache; past it permutations are computed per plan.
const maxCachedPerms = 4096

var (
	permCache sync.Map // permKey → []int
	permCount atomic.Int64
)

type permKey struct {
	seed uint64
	k    int
}

func latencySamples(l ecosystem.Latency) []float64 {
	l.Range = "" // informational only
	if s, ok := sampleCache.Load(l); ok {
		return s.([]float64)
	}
	s := HopLatency(&ecosystem.Channel{Latency: l}).samples()
	sampleCache.Store(l, s)
	return s
}

// perm is the seeded permutation pairing hop k's stratified samples with
// the other hops' (a Latin hypercube over the route's hops).
func (p *planner) perm(k int) []int {
	for len(p.perms) <= k {
		p.perms = append(p.perms, seededPerm(p.q.Seed, len(p.perms)))
	}
	return p.perms[k]
}

func seededPerm(seed uint64, k int) []int {
	key := permKey{seed, k}
	if perm, ok := permCache.Load(key); ok {
		return perm.([]int)
	}
	perm := rand.New(rand.NewPCG(seed, uint64(k)+1)).Perm(TimeSamples)
	if permCount.Add(1) <= maxCachedPerms {
		permCache.Store(key, perm)
	}
	return perm
}

// evaluate turns a label at the target into a Route. With meanOnly it
// skips the time quantiles (the search needs only the criteria).
func (p *planner) evaluate(l *label, meanOnly bool) *Route {
	steps := make([]*step, 0, l.hops)
	for x := l; x.step != nil; x = x.parent {
		steps = append(steps, x.step)
	}
	slices.Reverse(steps)
	r := &Route{
		SentFen: p.q.AmountFen, DeliveredFen: l.amount, FeeFen: l.fee,
		CostRatio: float64(l.fee) / float64(p.q.AmountFen),
		Success:   l.success, AppSwitches: l.switches, Effort: l.effort, Requirements: l.requires,
		TimeMeanS: l.mean, Findings: []compliance.Finding{},
	}
	cr := compliance.Route{
		From: steps[0].hop.From, To: steps[len(steps)-1].hop.To,
		SentFen: r.SentFen, DeliveredFen: r.DeliveredFen, FeeFen: r.FeeFen,
		Institutions:   []string{},
		CreditShareBps: p.creditShareBps, CreditPurpose: p.creditPurpose,
	}
	var id strings.Builder
	for i, s := range steps {
		hop := Hop{
			Channel: s.ch.ID, From: s.ch.From, To: s.ch.To, FromHolder: s.fromHolder.ID, ToHolder: s.toHolder.ID,
			Institution: s.ch.Institution, App: s.apps[0], Apps: s.apps, AmountFen: s.amountIn, FeeFen: s.fee,
			Success: s.ch.Success, Source: s.ch.Source(), Unverified: s.ch.Unverified(),
		}
		if !meanOnly {
			d := p.dist(s.ch)
			hop.TimeP50S, hop.TimeP95S = roundMilli(d.Quantile(0.5)), roundMilli(d.Quantile(0.95))
		}
		r.Hops = append(r.Hops, hop)
		r.Findings = append(r.Findings, s.findings...)
		cr.Hops = append(cr.Hops, s.hop)
		for _, in := range append([]string{s.ch.Institution}, s.ch.Via...) {
			if !slices.Contains(cr.Institutions, in) {
				cr.Institutions = append(cr.Institutions, in)
			}
		}
		if s.fromHolder.ID != s.toHolder.ID {
			cr.HolderChanges++
		}
		if i > 0 {
			id.WriteByte('>')
		}
		id.WriteString(s.ch.ID + "@" + s.toHolder.ID)
	}
	r.ID = RouteID(id.String())
	routeFindings := p.rules.CheckRoute(cr)
	r.Requirements += countEffect(routeFindings, ecosystem.EffectRequire)
	r.Findings = dedupe(append(r.Findings, routeFindings...))
	r.Verdict = verdict(r.Findings)
	if !meanOnly {
		r.TimeMeanS, r.TimeP50S, r.TimeP95S = p.memoTimeStats(steps)
	}
	return r
}

// roundMilli rounds seconds to the millisecond, for hop figures people read.
func roundMilli(seconds float64) float64 { return math.Round(seconds*1000) / 1000 }

// dedupe keeps the first finding of each rule and effect (a rule that
// matches several hops is reported at the first).
func dedupe(fs []compliance.Finding) []compliance.Finding {
	out := fs[:0]
	for _, f := range fs {
		seen := false
		for _, o := range out {
			if o.Rule == f.Rule && o.Effect == f.Effect {
				seen = true
				break
			}
		}
		if !seen {
			out = append(out, f)
		}
	}
	return out
}

// RouteID is the short stable id of a route from its hops written as
// "channel@to_holder>channel@to_holder…": the first 8 hex digits of its SHA-256.
func RouteID(hops string) string {
	sum := sha256.Sum256([]byte(hops))
	return hex.EncodeToString(sum[:4])
}

// verdict is refused if any finding refuses, warned if any warns, else
// allowed (a require finding lists a precondition and leaves it allowed).
func verdict(fs []compliance.Finding) string {
	v := VerdictAllowed
	for _, f := range fs {
		switch f.Effect {
		case ecosystem.EffectRefuse:
			return VerdictRefused
		case ecosystem.EffectWarn:
			v = VerdictWarned
		}
	}
	return v
}

// timeStats combines the hops' latencies: the mean is exact (the sum of the
// hop means) without clearing windows and the mean of the samples with
// them; p50 and p95 come from TimeSamples Latin-hypercube draws of the sum.
func (p *planner) timeStats(steps []*step) (mean, p50, p95 float64) {
	sums := make([]float64, TimeSamples)
	if p.q.At.IsZero() {
		for k, s := range steps {
			smp, perm := p.samplesOf(s.ch), p.perm(k)
			for i := range sums {
				sums[i] += smp[perm[i]]
			}
			mean += p.dist(s.ch).Mean()
		}
	} else {
		for i := range sums {
			t := p.q.At
			for k, s := range steps {
				t = p.arrive(s.ch, t, p.samplesOf(s.ch)[p.perm(k)[i]])
			}
			sums[i] = t.Sub(p.q.At).Seconds()
			mean += sums[i]
		}
		mean /= TimeSamples
	}
	i95, f95 := quantilePos(len(sums), 0.95)
	i50, f50 := quantilePos(len(sums), 0.5)
	lo95, hi95 := orderPair(sums, i95)
	lo50, hi50 := orderPair(sums[:i95+1], i50)
	return mean, lo50*(1-f50) + hi50*f50, lo95*(1-f95) + hi95*f95
}

// quantilePos is where the p-quantile of n samples lies when each sample is
// the midpoint of its stratum: between order statistics i and i+1, a
// fraction f of the way.
func quantilePos(n int, p float64) (i int, f float64) {
	x := p*float64(n) - 0.5
	switch {
	case x <= 0:
		return 0, 0
	case x >= float64(n-1):
		return n - 1, 0
	}
	return int(x), x - float64(int(x))
}

// orderPair returns the i-th and (i+1)-th smallest of s (the i-th twice for
// the last), reordering s so that s[:i] ≤ s[i] ≤ s[i+1:]. It is a
// quickselect with a median-of-three pivot: linear on average, and the
// same input always gives the same output.
func orderPair(s []float64, i int) (float64, float64) {
	lo, hi := 0, len(s)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if s[mid] < s[lo] {
			s[mid], s[lo] = s[lo], s[mid]
		}
		if s[hi] < s[lo] {
			s[hi], s[lo] = s[lo], s[hi]
		}
		if s[hi] < s[mid] {
			s[hi], s[mid] = s[mid], s[hi]
		}
		pivot := s[mid]
		a, b := lo, hi
		for a <= b {
			for s[a] < pivot {
				a++
			}
			for s[b] > pivot {
				b--
			}
			if a <= b {
				s[a], s[b] = s[b], s[a]
				a++
				b--
			}
		}
		switch {
		case i <= b:
			hi = b
		case i >= a:
			lo = a
		default:
			lo, hi = i, i
		}
	}
	if i+1 >= len(s) {
		return s[i], s[i]
	}
	return s[i], slices.Min(s[i+1:])
}

// lowerBounds computes, for every product, the fewest hops, the least mean
// time and the highest log success to the target product, over the channels
// that exist (ignoring holders and rules, so they are lower bounds).
func (p *planner) lowerBounds() {
	np := len(p.products)
	into := make([][]*edge, np)
	for i := range p.edges {
		e := &p.edges[i]
		into[e.to] = append(into[e.to], e)
	}
	target := p.prodIdx[p.q.to.ID]
	dijkstra := func(weight func(*edge) float64) []float64 {
		dist := make([]float64, np)
		for i := range dist {
			dist[i] = math.Inf(1)
		}
		dist[target] = 0
		pq := &distQueue{{target, 0}}
		for pq.Len() > 0 {
			it := heap.Pop(pq).(distItem)
			if it.d > dist[it.node] {
				continue
			}
			for _, e := range into[it.node] {
				if nd := it.d + weight(e); nd < dist[e.from] {
					dist[e.from] = nd
					heap.Push(pq, distItem{e.from, nd})
				}
			}
		}
		return dist
	}
	hops := dijkstra(func(*edge) float64 { return 1 })
	p.lbHops = make([]int, np)
	for i, h := range hops {
		p.lbHops[i] = unreachable
		if h <= MaxHopsCap {
			p.lbHops[i] = int(h)
		}
	}
	p.lbMean = dijkstra(func(e *edge) float64 { return e.mean })
	negLog := dijkstra(func(e *edge) float64 { return e.negLogSuccess })
	p.lbLogSuccess = make([]float64, np)
	for i, v := range negLog {
		p.lbLogSuccess[i] = -v
	}
}

type distItem struct {
	node int
	d    float64
}

type distQueue []distItem

func (q distQueue) Len() int { return len(q) }
func (q distQueue) Less(i, j int) bool {
	if q[i].d != q[j].d {
		return q[i].d < q[j].d
	}
	return q[i].node < q[j].node
}
func (q distQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *distQueue) Push(x any)   { *q = append(*q, x.(distItem)) }
func (q *distQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
