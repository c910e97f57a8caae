package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/route"
)

// Errors (wrapped; test with errors.Is).
var (
	// ErrNotFound: no payment has that id.
	ErrNotFound = errors.New("payment: not found")
	// ErrState: the action does not apply to the payment's state (e.g.
	// Refund on a completed payment).
	ErrState = errors.New("payment: wrong state for this action")
	// ErrOtherEcosystem: the ledger holds another ecosystem's accounts.
	ErrOtherEcosystem = errors.New("payment: ledger belongs to another ecosystem")
)

// RequestError is a request field that is wrong and why.
type RequestError struct {
	Field  string // from, to, amount, from_holder, to_holder, route, channels, on_failure, fail_hop, objective
	Reason string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Reason }

// Config wires an Executor.
type Config struct {
	Ecosystem *ecosystem.Ecosystem
	// Rules re-checks routes at creation (nil: no rules). Compile it with the
	// policy the payments should follow.
	Rules  route.RuleChecker
	Ledger *ledger.Engine
	Clock  clock.Clock
	// OpeningFen is each person's opening balance per stored-value and
	// deposit product when the ledger is first seeded: 0 means
	// DefaultOpeningFen, < 0 means none.
	OpeningFen int64
}

// Executor creates and runs payments on one ledger. It is safe for
// concurrent use; each payment runs under its own lock.
type Executor struct {
	eco   *ecosystem.Ecosystem
	rules route.RuleChecker
	led   *ledger.Engine
	clk   clock.Clock
	loc   *time.Location

	mu       sync.Mutex
	entries  map[string]*entry
	order    []string
	nextNum  uint64
	lastAt   time.Time
	down     map[string]bool
	downFlag bool
	memo     planMemo
}

type entry struct {
	mu sync.Mutex
	p  *Payment
}

// New seeds the ledger for the ecosystem on first use (accounts and
// opening balances) and loads every payment from the ledger's event records.
func New(ctx context.Context, cfg Config) (*Executor, error) {
	if cfg.Ecosystem == nil || cfg.Ledger == nil || cfg.Clock == nil {
		return nil, errors.New("payment: Config needs Ecosystem, Ledger and Clock")
	}
	loc := time.FixedZone("CST", 8*3600)
	if cfg.Ecosystem.Timezone != "" {
		if l, err := time.LoadLocation(cfg.Ecosystem.Timezone); err == nil {
			loc = l
		}
	}
	x := &Executor{eco: cfg.Ecosystem, rules: cfg.Rules, led: cfg.Ledger, clk: cfg.Clock, loc: loc,
		entries: map[string]*entry{}, nextNum: 1, down: map[string]bool{}}
	if x.rules == nil {
		x.rules = route.NoRules{}
	}
	opening := cfg.OpeningFen
	if opening == 0 {
		opening = DefaultOpeningFen
	}
	if err := setup(ctx, x.led, x.eco, opening); err != nil {
		return nil, err
	}
	if err := x.load(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// load folds every stored event into its payment.
func (x *Executor) load(ctx context.Context) error {
	var after uint64
	for {
		recs, err := x.led.Records(ctx, RecordKind, after, ledger.MaxHistoryPage)
		if err != nil {
			return fmt.Errorf("payment: read events: %w", err)
		}
		for _, r := range recs {
			var ev Event
			if err := json.Unmarshal(r.Data, &ev); err != nil {
				return fmt.Errorf("payment: event record %d: %w", r.Seq, err)
			}
			ev.Seq = r.Seq
			x.remember(ev)
		}
		if len(recs) < ledger.MaxHistoryPage {
			return nil
		}
		after = recs[len(recs)-1].Seq
	}
}

// remember folds a stored event into the in-memory payment it belongs to.
func (x *Executor) remember(ev Event) {
	e, ok := x.entries[ev.Payment]
	if !ok {
		e = &entry{p: &Payment{ID: ev.Payment}}
		x.entries[ev.Payment] = e
		x.order = append(x.order, ev.Payment)
		if n, ok := parseID(ev.Payment); ok && n >= x.nextNum {
			x.nextNum = n + 1
		}
	}
	e.p.apply(ev)
	if ev.At.After(x.lastAt) {
		x.lastAt = ev.At
	}
}

// LastEventAt is the latest event time stored (zero if none): a virtual
// clock for a new run on the same ledger starts no earlier.
func (x *Executor) LastEventAt() time.Time {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lastAt
}

// SetDown marks an institution down (true) or up again. A hop whose
// operator, source, destination or clearing institution is down fails when
// it falls due.
func (x *Executor) SetDown(institution string, down bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if down {
		x.down[institution] = true
	} else {
		delete(x.down, institution)
	}
	x.downFlag = len(x.down) > 0
}

// downOf returns the first institution of ch's hop that is down, or "".
func (x *Executor) downOf(ch *ecosystem.Channel) string {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.downFlag {
		return ""
	}
	ids := append([]string{ch.Institution}, ch.Via...)
	for _, pid := range []string{ch.From, ch.To} {
		if p, ok := x.eco.Product(pid); ok {
			ids = append(ids, p.Institution)
		}
	}
	for _, id := range ids {
		if x.down[id] {
			return id
		}
	}
	return ""
}

// Get returns a snapshot of payment id. Errors: ErrNotFound.
func (x *Executor) Get(id string) (*Payment, error) {
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.p.snapshot(), nil
}

// List returns snapshots of every payment, in creation order.
func (x *Executor) List() []*Payment {
	x.mu.Lock()
	es := make([]*entry, len(x.order))
	for i, id := range x.order {
		es[i] = x.entries[id]
	}
	x.mu.Unlock()
	out := make([]*Payment, len(es))
	for i, e := range es {
		e.mu.Lock()
		out[i] = e.p.snapshot()
		e.mu.Unlock()
	}
	return out
}

func (p *Payment) snapshot() *Payment {
	c := *p
	c.Events = slices.Clone(p.Events)
	c.hops = slices.Clone(p.hops)
	return &c
}

// Pay creates a payment and runs it to a terminal state.
func (x *Executor) Pay(ctx context.Context, req Request) (*Payment, error) {
	p, err := x.Create(ctx, req)
	if err != nil || p.Terminal() {
		return p, err
	}
	return x.Run(ctx, p.ID)
}

// Create checks the request, picks or re-checks the route against the
// current balances, limits and rules, and commits the created event with
// the first hop's holds. A payment the ledger or the rules refuse is
// recorded as rejected (not an error). Errors: *RequestError for a bad
// request, the ledger's errors.
func (x *Executor) Create(ctx context.Context, req Request) (*Payment, error) {
	spec, findings, err := x.plan(req)
	if err != nil {
		return nil, err
	}
	x.mu.Lock()
	spec.Num = x.nextNum
	x.nextNum++
	e := &entry{p: &Payment{ID: paymentID(spec.Num)}}
	x.entries[e.p.ID] = e
	x.order = append(x.order, e.p.ID)
	x.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	p, err := x.create(ctx, e.p, spec, findings)
	if err != nil {
		x.forget(e.p.ID) // nothing committed: no trace
	}
	return p, err
}

// forget drops a payment whose created event never committed.
func (x *Executor) forget(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	delete(x.entries, id)
	if i := slices.Index(x.order, id); i >= 0 {
		x.order = slices.Delete(x.order, i, i+1)
	}
}

// create commits a new payment's created event with its first hop's holds,
// or with its rejection.
func (x *Executor) create(ctx context.Context, p *Payment, spec *Spec, findings string) (*Payment, error) {
	created := Event{Type: EventCreated, At: spec.Start, Spec: spec}
	if findings != "" {
		t := x.newTxn(p)
		t.event(created)
		t.event(Event{Type: EventRejected, At: spec.Start, Reason: findings})
		if _, err := x.commit(ctx, t); err != nil {
			return nil, err
		}
		return p.snapshot(), nil
	}
	// The first hop's holds go in the created commit; if the ledger refuses
	// them (funds, frozen account, a limit raced away) the payment is rejected.
	p.Spec = *spec
	t := x.newTxn(p)
	t.event(created)
	if reason := x.startHop(t, 1, 0, spec.Start, spec.AmountFen); reason != "" {
		t = x.newTxn(p)
		t.event(created)
		t.event(Event{Type: EventRejected, At: spec.Start, Reason: reason})
	} else if reason, err := x.commit(ctx, t); err != nil {
		return nil, err
	} else if reason == "" {
		return p.snapshot(), nil
	} else {
		t = x.newTxn(p)
		t.event(created)
		t.event(Event{Type: EventRejected, At: spec.Start, Hop: 1, Reason: reason})
	}
	if _, err := x.commit(ctx, t); err != nil {
		return nil, err
	}
	return p.snapshot(), nil
}

// plan validates the request and returns the spec with its route; findings
// is non-empty when the route is refused (the payment will be rejected).
func (x *Executor) plan(req Request) (spec *Spec, findings string, err error) {
	if req.AmountFen <= 0 {
		return nil, "", &RequestError{"amount", "must be more than 0"}
	}
	onFail := req.OnFailure
	if onFail == "" {
		onFail = OnFailureRefund
	}
	if onFail != OnFailureRefund && onFail != OnFailureStrand {
		return nil, "", &RequestError{"on_failure", fmt.Sprintf("%q is not refund or strand", req.OnFailure)}
	}
	if req.FailHop < 0 {
		return nil, "", &RequestError{"fail_hop", "must be 0 (none) or a hop number from 1"}
	}
	fromH := req.FromHolder
	if fromH == "" {
		if h := x.eco.DefaultHolder(); h != nil {
			fromH = h.ID
		}
	}
	toH := req.ToHolder
	if toH == "" {
		toH = fromH
	}
	hf, ok := x.eco.Holder(fromH)
	if !ok {
		return nil, "", &RequestError{"from_holder", fmt.Sprintf("unknown holder %q", fromH)}
	}
	start := req.At
	if start.IsZero() {
		start = x.clk.Now()
	}
	q := route.Query{From: req.From, To: req.To, AmountFen: req.AmountFen, FromHolder: fromH, ToHolder: toH,
		Objective: req.Objective, At: start, Seed: PlanSeed, Usage: usage(x.eco, x.led, x.loc, hf, start)}
	r, routeJSON, err := x.memo.pick(q, req, x.pick)
	if err != nil {
		return nil, "", err
	}
	spec = &Spec{From: req.From, To: req.To, FromHolder: fromH, ToHolder: toH, AmountFen: req.AmountFen,
		Seed: req.Seed, OnFailure: onFail, FailHop: req.FailHop, Start: start, Route: r, routeJSON: routeJSON}
	if a, ok := x.led.Account(HolderAccount(fromH, req.From)); ok && a.BalanceFen > 0 && a.CreditShareFen > 0 {
		spec.CreditShareBps = money.MulRatioFloor(10_000, a.CreditShareFen, a.BalanceFen)
	}
	if r == nil {
		return spec, "no route moves this money", nil
	}
	if req.FailHop > len(r.Hops) {
		return nil, "", &RequestError{"fail_hop", fmt.Sprintf("%d, but the route has %d hops", req.FailHop, len(r.Hops))}
	}
	if r.Verdict == route.VerdictRefused {
		return spec, refusal(r.Findings), nil
	}
	return spec, "", nil
}

// pick returns the route the request names or the planner's best allowed
// one (nil if there is none).
func (x *Executor) pick(q route.Query, req Request) (*route.Route, error) {
	if len(req.Channels) > 0 {
		r, err := route.Evaluate(x.eco, q, req.Channels, x.rules)
		return r, requestErr(err)
	}
	res, err := route.Plan(x.eco, q, x.rules)
	if err != nil {
		return nil, requestErr(err)
	}
	if req.RouteID != "" {
		for i := range res.Routes {
			if res.Routes[i].ID == req.RouteID {
				return &res.Routes[i], nil
			}
		}
		return nil, &RequestError{"route", fmt.Sprintf("no route %q moves %s to %s (paybridge route lists them)", req.RouteID, q.From, q.To)}
	}
	if len(res.Routes) == 0 {
		return nil, nil
	}
	return &res.Routes[0], nil // allowed and warned routes come first
}

func requestErr(err error) error {
	var qe *route.QueryError
	if errors.As(err, &qe) {
		return &RequestError{Field: qe.Field, Reason: strings.TrimPrefix(qe.Error(), qe.Field+": ")}
	}
	return err
}

// refusal summarises a refused route's refusing findings.
func refusal(fs []compliance.Finding) string {
	var parts []string
	for _, f := range fs {
		if f.Effect == ecosystem.EffectRefuse {
			parts = append(parts, fmt.Sprintf("%s (hop %d): %s", f.Rule, f.Hop, f.Message))
		}
	}
	return "refused: " + strings.Join(parts, "; ")
}

// draws returns a hop attempt's two uniform draws (success, latency): a
// function of the payment's seed, the hop and the attempt only.
func draws(seed uint64, hop, attempt int) (uSuccess, uLatency float64) {
	r := rand.New(rand.NewPCG(splitmix(seed), splitmix(seed^(uint64(hop)<<32|uint64(attempt))^0x9e3779b97f4a7c15)))
	return r.Float64(), r.Float64()
}

// splitmix is SplitMix64's finaliser: nearby seeds give unrelated streams.
func splitmix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// startHop adds hop k's holds, counters and hop_started event to t, with
// amountFen entering the hop at time at. It returns a reason when the hop
// cannot start at all (its fee would take everything).
func (x *Executor) startHop(t *txn, k, attempt int, at time.Time, amountFen int64) string {
	p := t.p
	hop := p.Spec.Route.Hops[k-1]
	ends, ok := endsOf(x.eco, hop.FromHolder, hop.ToHolder, hop.Channel)
	if !ok {
		return fmt.Sprintf("channel %s is not in this ecosystem", hop.Channel)
	}
	ch := ends.ch
	h, _ := x.eco.Holder(hop.FromHolder)
	quotaLeft := ch.Fee.FreeQuotaFen
	if quotaLeft > 0 {
		quotaLeft -= x.led.Counter(counterKey("quota", "-", h.ID, "c:"+ch.ID))
	}
	fee, quota, err := ch.Fee.Fee(amountFen, quotaLeft)
	if err != nil || fee >= amountFen {
		return fmt.Sprintf("the fee of channel %s would take the whole %d fen", ch.ID, amountFen)
	}
	_, uLat := draws(p.Spec.Seed, k, attempt)
	due := arrive(x.eco, x.loc, ch, at, route.HopLatency(ch).Quantile(uLat))
	down := x.downOf(ch)
	if down != "" {
		due = at
	}
	ev := Event{Type: EventHopStarted, At: at, Hop: k, Attempt: attempt, AmountFen: amountFen, FeeFen: fee, Due: &due, Down: down,
		Counters: hopCounters(x.eco, x.loc, ch, h, at, amountFen, quota)}
	for _, l := range hopLegs(ends, amountFen, fee) {
		ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{DebitAccount: l.debit, CreditAccount: l.credit,
			AmountFen: l.amountFen, Code: l.code, Flags: ledger.TransferPending, TimeoutSeconds: ledger.MaxTimeoutSeconds}))
	}
	t.b.Counters = append(t.b.Counters, ev.Counters...)
	t.event(ev)
	return ""
}

// Run drives a running payment to a terminal state, waiting on the clock
// for each hop to fall due. It returns the payment as it stands (a
// terminal one at once). Errors: ErrNotFound, ctx's error (the payment
// stays running; Run again or Recover later), the ledger's errors.
func (x *Executor) Run(ctx context.Context, id string) (*Payment, error) {
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.p
	for p.State == StateRunning {
		if err := x.clk.WaitUntil(ctx, p.Due()); err != nil {
			return p.snapshot(), err
		}
		if err := x.settle(ctx, p); err != nil {
			return p.snapshot(), err
		}
	}
	return p.snapshot(), nil
}

// Recover runs every payment left running (after a restart) to a terminal
// state, concurrently, and returns them in creation order.
func (x *Executor) Recover(ctx context.Context) ([]*Payment, error) {
	var ids []string
	for _, p := range x.List() {
		if p.State == StateRunning {
			ids = append(ids, p.ID)
		}
	}
	out := make([]*Payment, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i], errs[i] = x.Run(ctx, id) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

// failReason says why hop k's current attempt fails when it falls due, or "".
func (x *Executor) failReason(p *Payment, k int) string {
	h := p.hops[k-1]
	ch, _ := x.eco.Channel(p.Spec.Route.Hops[k-1].Channel)
	uSucc, _ := draws(p.Spec.Seed, k, h.attempt)
	switch {
	case p.Spec.FailHop == k && h.attempt == 0:
		return "forced failure"
	case h.down != "":
		return "institution " + h.down + " was down"
	}
	if d := x.downOf(ch); d != "" {
		return "institution " + d + " is down"
	}
	if uSucc >= ch.Success {
		return fmt.Sprintf("the hop failed (channel %s succeeds with probability %g)", ch.ID, ch.Success)
	}
	return ""
}

// settle posts or voids the hop in flight, which has fallen due, and
// starts the next hop or compensates, each in one all-or-none commit.
func (x *Executor) settle(ctx context.Context, p *Payment) error {
	k := p.cur
	h := p.hops[k-1]
	at := h.due
	n := len(p.Spec.Route.Hops)
	if reason := x.failReason(p, k); reason != "" {
		return x.failHop(ctx, p, k, at, reason, true)
	}
	t := x.newTxn(p)
	x.postHop(t, k, at)
	if k == n {
		t.event(Event{Type: EventCompleted, At: at})
	} else if reason := x.startHop(t, k+1, 0, at, h.amountFen-h.feeFen); reason != "" {
		return x.postThenFail(ctx, p, k, at, reason)
	}
	reason, err := x.commit(ctx, t)
	if err != nil || reason == "" {
		return err
	}
	if strings.Contains(reason, ledger.ResultPendingExpired.String()) {
		return x.failHop(ctx, p, k, at, "the hold expired", false)
	}
	return x.postThenFail(ctx, p, k, at, reason)
}

// postThenFail posts hop k and records that hop k+1 could not start.
func (x *Executor) postThenFail(ctx context.Context, p *Payment, k int, at time.Time, reason string) error {
	for _, comp := range []string{p.Spec.OnFailure, OnFailureStrand} {
		t := x.newTxn(p)
		x.postHop(t, k, at)
		t.event(Event{Type: EventHopFailed, At: at, Hop: k + 1, Reason: "could not start: " + reason})
		x.compensate(t, k+1, at, comp, reason)
		if r, err := x.commit(ctx, t); err != nil || r == "" {
			return err
		}
	}
	return fmt.Errorf("payment %s: hop %d: cannot post or strand", p.ID, k)
}

// failHop voids hop k (when its holds are still pending) and compensates.
// If the refund cannot commit (money moved on), the payment is stranded.
func (x *Executor) failHop(ctx context.Context, p *Payment, k int, at time.Time, reason string, void bool) error {
	for _, comp := range []string{p.Spec.OnFailure, OnFailureStrand} {
		t := x.newTxn(p)
		ev := Event{Type: EventHopFailed, At: at, Hop: k, Reason: reason}
		if void {
			for _, id := range p.hops[k-1].pending {
				ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{Flags: ledger.TransferVoidPending, PendingID: id}))
			}
		}
		t.b.Counters = append(t.b.Counters, releases(p.hops[k-1].counters)...)
		t.event(ev)
		x.compensate(t, k, at, comp, reason)
		r, err := x.commit(ctx, t)
		if err != nil || r == "" {
			return err
		}
		reason += "; refund refused: " + r
	}
	return fmt.Errorf("payment %s: hop %d: cannot void: %s", p.ID, k, reason)
}

// postHop adds the posts of hop k's holds and the hop_posted event.
func (x *Executor) postHop(t *txn, k int, at time.Time) {
	p := t.p
	h := p.hops[k-1]
	hop := p.Spec.Route.Hops[k-1]
	ends, _ := endsOf(x.eco, hop.FromHolder, hop.ToHolder, hop.Channel)
	ev := Event{Type: EventHopPosted, At: at, Hop: k}
	for i, l := range hopLegs(ends, h.amountFen, h.feeFen) {
		ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{Flags: ledger.TransferPostPending, PendingID: h.pending[i], AmountFen: l.amountFen}))
	}
	t.event(ev)
}

// compensate adds, for a failure at hop f, either the reversal of the
// posted hops f−1…1 and the refunded event, or the stranded event.
func (x *Executor) compensate(t *txn, f int, at time.Time, policy, reason string) {
	p := t.p
	if f == 1 {
		t.event(Event{Type: EventRefunded, At: at, Reason: "hop 1 failed; nothing had moved: " + reason})
		return
	}
	if policy == OnFailureStrand {
		last := p.Spec.Route.Hops[f-2]
		t.event(Event{Type: EventStranded, At: at, Hop: f, Reason: fmt.Sprintf("hop %d failed (%s); the money is at %s of %s: resume or refund", f, reason, last.To, last.ToHolder)})
		return
	}
	x.reverse(t, f, at)
	t.event(Event{Type: EventRefunded, At: at, Reason: fmt.Sprintf("hop %d failed: %s", f, reason)})
}

// reverse adds the reversal of posted hops f−1…1 (one reversal event).
func (x *Executor) reverse(t *txn, f int, at time.Time) {
	p := t.p
	prev := p.hops[f-2]
	carry := prev.amountFen - prev.feeFen
	ev := Event{Type: EventReversal, At: at, Hop: f - 1}
	for j := f - 1; j >= 1; j-- {
		h := p.hops[j-1]
		hop := p.Spec.Route.Hops[j-1]
		ends, _ := endsOf(x.eco, hop.FromHolder, hop.ToHolder, hop.Channel)
		var refund int64
		if ends.ch.FeeRefundable {
			refund = h.feeFen
		}
		for _, l := range reversalLegs(ends, carry, refund) {
			ev.TransferIDs = append(ev.TransferIDs, t.transfer(ledger.Transfer{DebitAccount: l.debit, CreditAccount: l.credit, AmountFen: l.amountFen, Code: l.code}))
		}
		carry += refund
		ev.FeeFen += refund
	}
	ev.AmountFen = carry
	t.event(ev)
}

// Resume retries the failed hop of a stranded payment (a new attempt with
// its own draws) and runs the payment on. Errors: ErrNotFound, ErrState.
func (x *Executor) Resume(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		p := t.p
		f := p.cur
		attempt := 1
		if f <= len(p.hops) {
			attempt = p.hops[f-1].attempt + 1
		}
		if attempt >= MaxAttempts {
			return fmt.Errorf("%w: hop %d already tried %d times", ErrState, f, attempt)
		}
		prev := p.hops[f-2]
		t.event(Event{Type: EventResumed, At: at, Hop: f, Attempt: attempt})
		if reason := x.startHop(t, f, attempt, at, prev.amountFen-prev.feeFen); reason != "" {
			return fmt.Errorf("%w: %s", ErrState, reason)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Run(ctx, id)
}

// Refund returns a stranded payment's money to its origin. Errors:
// ErrNotFound, ErrState.
func (x *Executor) Refund(ctx context.Context, id string) (*Payment, error) {
	if err := x.act(ctx, id, func(t *txn, at time.Time) error {
		x.reverse(t, t.p.cur, at)
		t.event(Event{Type: EventRefunded, At: at, Reason: "refund of a stranded payment"})
		return nil
	}); err != nil {
		return nil, err
	}
	return x.Get(id)
}

// act runs an action on a stranded payment at the clock's now (never
// before its last event) and commits it.
func (x *Executor) act(ctx context.Context, id string, build func(*txn, time.Time) error) error {
	x.mu.Lock()
	e, ok := x.entries[id]
	x.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.p
	if p.State != StateStranded {
		return fmt.Errorf("%w: payment %s is %s, not stranded", ErrState, id, p.State)
	}
	at := x.clk.Now()
	if last := p.Events[len(p.Events)-1].At; at.Before(last) {
		at = last
	}
	t := x.newTxn(p)
	if err := build(t, at); err != nil {
		return err
	}
	reason, err := x.commit(ctx, t)
	if err != nil {
		return err
	}
	if reason != "" {
		return fmt.Errorf("%w: the ledger refused: %s", ErrState, reason)
	}
	return nil
}
