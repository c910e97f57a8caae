package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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
	// ErrReadOnly: the executor was opened with Config.ReadOnly.
	ErrReadOnly = errors.New("payment: opened read-only")
	// ErrNotSeeded: a read-only executor found no payment accounts in the
	// ledger (no payment was ever made with it).
	ErrNotSeeded = errors.New("payment: the ledger holds no payments")
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
	// Guard, if set, is asked before each hop's hold commits (an inline risk
	// check): see HopGuard and docs/payments.md.
	Guard HopGuard
	// ReadOnly makes New read the payments without ever writing to the
	// ledger: no seeding (ErrNotSeeded if it was never seeded), and Create,
	// Pay, Run of a running payment, Resume, Refund and Recover return
	// ErrReadOnly. For commands that only list and show.
	ReadOnly bool
	// CacheSize is how many finished payments (completed, refunded,
	// rejected) stay in memory beside those that may still change: 0 means
	// DefaultCacheSize, < 0 none. Older ones are read back from the ledger
	// when asked for.
	CacheSize int
}

// Executor creates and runs payments on one ledger. It is safe for
// concurrent use; each payment runs under its own lock. It keeps in memory
// the payments that may still change and the last Config.CacheSize
// finished ones (see cache.go); the ledger holds them all.
type Executor struct {
	// eco is the world, replaced (copy on write) when holders are added:
	// see Ecosystem and AddHolder.
	eco atomic.Pointer[ecosystem.Ecosystem]
	// hmu serialises AddHolder and OpenAccounts; baseHolders is how many
	// holders the ecosystem file has (the rest were added).
	hmu         sync.Mutex
	baseHolders int
	rules       route.RuleChecker
	guard       HopGuard
	ro          bool
	led         *ledger.Engine
	clk         clock.Clock
	loc         *time.Location
	// clearingFree: no institution delays settlement (route.ClearingFree).
	clearingFree bool

	cacheSize int

	mu         sync.Mutex
	entries    map[string]*entry // running, held, stranded, being created, and recent finished ones
	recent     []finished        // ring of the finished payments in memory
	recentHead int               // the oldest in recent once it is full
	total      int               // payments in the ledger
	byState    map[string]int
	nextNum    uint64
	lastAt     time.Time
	keys       map[string]string // idempotency key → payment id, for the payments in entries
	keySeen    keyFilter         // every idempotency key stored (a Bloom filter)
	down       map[string]bool
	downFlag   bool
	memo       planMemo
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
	x := &Executor{rules: cfg.Rules, guard: cfg.Guard, ro: cfg.ReadOnly, led: cfg.Ledger, clk: cfg.Clock, loc: loc,
		entries: map[string]*entry{}, keys: map[string]string{}, nextNum: 1, down: map[string]bool{}, byState: map[string]int{},
		cacheSize: cfg.CacheSize}
	if x.cacheSize == 0 {
		x.cacheSize = DefaultCacheSize
	}
	x.eco.Store(cfg.Ecosystem)
	x.memo.eco = cfg.Ecosystem
	x.clearingFree = route.ClearingFree(x.ecosystem())
	if x.rules == nil {
		x.rules = route.NoRules{}
	}
	opening := cfg.OpeningFen
	if opening == 0 {
		opening = DefaultOpeningFen
	}
	if x.ro {
		if err := checkSeeded(ctx, x.led, x.ecosystem()); err != nil {
			return nil, err
		}
	} else if err := setup(ctx, x.led, x.ecosystem(), opening); err != nil {
		return nil, err
	}
	x.baseHolders = len(cfg.Ecosystem.Holders)
	if err := x.loadHolders(ctx); err != nil {
		return nil, err
	}
	if err := x.load(ctx); err != nil {
		return nil, err
	}
	return x, nil
}

// load folds every stored event into its payment, keeping in memory only
// what the cache keeps.
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
		if ev.Type != EventCreated {
			return // a finished payment already dropped from memory: nothing follows its end
		}
		e = &entry{p: &Payment{ID: ev.Payment}}
		x.entries[ev.Payment] = e
		if n, ok := parseID(ev.Payment); ok && n >= x.nextNum {
			x.nextNum = n + 1
		}
	}
	old := e.p.State
	e.p.apply(ev)
	if ev.Type == EventCreated && ev.Spec != nil && ev.Spec.Key != "" {
		x.keys[ev.Spec.Key] = ev.Payment
		x.keySeen.add(ev.Spec.Key)
	}
	x.counted(ev.Payment, e.p.Spec.Key, old, e.p.State)
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
		if p, ok := x.ecosystem().Product(pid); ok {
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

// Get returns a snapshot of payment id, from memory or, for a finished
// payment no longer in memory, read back from the ledger. Errors:
// ErrNotFound, the ledger's.
func (x *Executor) Get(id string) (*Payment, error) {
	x.mu.Lock()
	e, ok := x.entries[id]
	next := x.nextNum
	x.mu.Unlock()
	if ok {
		e.mu.Lock()
		defer e.mu.Unlock()
		if len(e.p.Events) == 0 {
			return nil, fmt.Errorf("%w: %s (being created)", ErrNotFound, id)
		}
		return e.p.snapshot(), nil
	}
	if n, ok := parseID(id); !ok || n >= next {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	ps, err := x.readStored(context.Background(), []string{id})
	if err != nil {
		return nil, err
	}
	p, ok := ps[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return p, nil
}

// List returns snapshots of every payment, in creation order. It reads
// every payment the ledger holds (a ledger read error ends the list
// early): Page reads one page at a time and reports errors.
func (x *Executor) List() []*Payment {
	var out []*Payment
	cursor := ""
	for {
		ps, next, err := x.Page(context.Background(), cursor, MaxPageScan, Filter{})
		if err != nil {
			return out
		}
		out = append(out, ps...)
		if next == "" {
			return out
		}
		cursor = next
	}
}

func (p *Payment) snapshot() *Payment {
	c := *p
	c.Events = slices.Clone(p.Events)
	c.hops = slices.Clone(p.hops)
	return &c
}

// Pay creates a payment and runs it to a terminal state (or until it is
// held).
func (x *Executor) Pay(ctx context.Context, req Request) (*Payment, error) {
	p, err := x.create0(ctx, req, false)
	if err != nil || p.State != StateRunning {
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
	return x.create0(ctx, req, true)
}

// create0 is Create; without snap, a payment left running is returned as a
// stub with only its id and state (Pay runs it on and snapshots it then).
func (x *Executor) create0(ctx context.Context, req Request, snap bool) (*Payment, error) {
	if x.ro {
		return nil, ErrReadOnly
	}
	if len(req.Key) > MaxKeyLen {
		return nil, &RequestError{"key", fmt.Sprintf("%d bytes, more than %d", len(req.Key), MaxKeyLen)}
	}
	if len(req.KeySum) > MaxKeyLen {
		return nil, &RequestError{"key_sum", fmt.Sprintf("%d bytes, more than %d", len(req.KeySum), MaxKeyLen)}
	}
	if p, err := x.byKey(ctx, req); p != nil || err != nil {
		return p, err
	}
	spec, findings, err := x.plan(req)
	if err != nil {
		return nil, err
	}
	spec.Key, spec.KeySum = req.Key, req.KeySum
	x.mu.Lock()
	if req.Key != "" {
		_, taken := x.keys[req.Key]
		if !taken && x.keySeen.has(req.Key) {
			// Stored before, or a false positive of the filter: ask the
			// ledger, under the lock so no request with the key slips in
			// between (rare: byKey above found nothing).
			id, err := x.storedKey(ctx, req.Key)
			if err != nil {
				x.mu.Unlock()
				return nil, err
			}
			taken = id != ""
		}
		if taken {
			x.mu.Unlock() // a concurrent request with the key got there first
			return x.byKey(ctx, req)
		}
		x.keys[req.Key] = paymentID(x.nextNum)
		x.keySeen.add(req.Key)
	}
	spec.Num = x.nextNum
	x.nextNum++
	e := &entry{p: &Payment{ID: paymentID(spec.Num)}}
	x.entries[e.p.ID] = e
	x.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := x.create(ctx, e.p, spec, findings); err != nil {
		x.forget(e.p.ID, req.Key) // nothing committed: no trace
		return nil, err
	}
	if !snap && e.p.State == StateRunning {
		return &Payment{ID: e.p.ID, State: e.p.State}, nil
	}
	return e.p.snapshot(), nil
}

// ByKey returns the payment a request with idempotency key created (nil
// if none), from memory or the ledger: keys are stored with their
// payments, so a retry finds its payment however long ago it was made.
// Errors: the payment is still being created (retry), the ledger's.
func (x *Executor) ByKey(ctx context.Context, key string) (*Payment, error) {
	if key == "" {
		return nil, nil
	}
	x.mu.Lock()
	id, ok := x.keys[key]
	maybe := ok || x.keySeen.has(key)
	x.mu.Unlock()
	if !maybe {
		return nil, nil // never stored (the filter has no false negatives)
	}
	if !ok {
		var err error
		if id, err = x.storedKey(ctx, key); err != nil || id == "" {
			return nil, err
		}
	}
	p, err := x.Get(id)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("payment: key %q: payment %s is being created; retry", key, id)
		}
		return nil, err
	}
	return p, nil
}

// byKey returns the payment an earlier request with req's key created
// (nil if none). Errors: *RequestError when that payment was asked for
// with other fields or another KeySum; ByKey's.
func (x *Executor) byKey(ctx context.Context, req Request) (*Payment, error) {
	p, err := x.ByKey(ctx, req.Key)
	if p == nil || err != nil {
		return nil, err
	}
	s := p.Spec
	same := s.From == req.From && s.To == req.To && s.AmountFen == req.AmountFen &&
		(req.FromHolder == "" || req.FromHolder == s.FromHolder) && (req.ToHolder == "" || req.ToHolder == s.ToHolder) &&
		(req.KeySum == "" || s.KeySum == "" || req.KeySum == s.KeySum)
	if !same {
		return nil, &RequestError{"key", fmt.Sprintf("%q was used for payment %s with other fields", req.Key, p.ID)}
	}
	return p, nil
}

// forget drops a payment whose created event never committed (its key
// stays in the filter: a false positive costs one read).
func (x *Executor) forget(id, key string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if key != "" && x.keys[key] == id {
		delete(x.keys, key)
	}
	delete(x.entries, id)
}

// create commits a new payment's created event with its first hop's holds,
// or with its rejection.
func (x *Executor) create(ctx context.Context, p *Payment, spec *Spec, findings string) error {
	p.Spec = *spec
	if r := spec.Route; r != nil {
		// created, started and posted per hop, terminal (and room for a failure)
		p.Events = make([]Event, 0, 2*len(r.Hops)+3)
		p.hops = make([]hopRun, 0, len(r.Hops))
	}
	created := Event{Type: EventCreated, At: spec.Start, Spec: spec}
	reason := findings
	if reason == "" {
		// The guard is asked before hop 1 holds anything: a refusal rejects
		// the payment, a hold pauses it, with nothing moved either way.
		switch d := x.askGuard(ctx, p, 1, 0, spec.Start, spec.AmountFen); d.Action {
		case GuardRefuse:
			reason = guardReason(d)
			t := x.newTxn(p)
			t.event(created)
			t.event(Event{Type: EventHopFailed, At: spec.Start, Hop: 1, Reason: reason})
			t.event(Event{Type: EventRejected, At: spec.Start, Reason: reason})
			if _, err := x.commit(ctx, t); err != nil {
				return err
			}
			return nil
		case GuardHold:
			t := x.newTxn(p)
			t.event(created)
			t.event(Event{Type: EventHeld, At: spec.Start, Hop: 1, Reason: guardReason(d)})
			r, err := x.commit(ctx, t)
			if err != nil {
				return err
			}
			if r == "" {
				return nil
			}
			reason = r
		}
	}
	if reason == "" {
		// The first hop's holds go in the created commit; if the ledger
		// refuses them (funds, a frozen account, a limit raced away) the
		// payment is rejected with nothing moved.
		// Instant, succeeding hops after it are merged into the same commit;
		// if the ledger refuses that, the first hop alone is tried.
		for _, merge := range []bool{true, false} {
			t := x.newTxn(p)
			t.event(created)
			if reason = x.startHop(t, 1, 0, spec.Start, spec.AmountFen); reason != "" {
				break
			}
			merged := merge && x.runOn(ctx, t, 1, spec.Start)
			var err error
			if reason, err = x.commit(ctx, t); err != nil {
				return err
			}
			if reason == "" {
				return nil
			}
			if !merged {
				break
			}
		}
	}
	t := x.newTxn(p)
	t.event(created)
	t.event(Event{Type: EventRejected, At: spec.Start, Reason: reason})
	if _, err := x.commit(ctx, t); err != nil {
		return err
	}
	return nil
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
	eco := x.ecosystem()
	fromH := req.FromHolder
	if fromH == "" {
		if h := eco.DefaultHolder(); h != nil {
			fromH = h.ID
		}
	}
	toH := req.ToHolder
	if toH == "" {
		toH = fromH
	}
	hf, ok := eco.Holder(fromH)
	if !ok {
		return nil, "", &RequestError{"from_holder", fmt.Sprintf("unknown holder %q", fromH)}
	}
	if _, ok := eco.Holder(toH); !ok {
		// Checked before the memo, which keeps errors: a holder added
		// later (AddHolder) must not meet an "unknown holder" kept from before.
		return nil, "", &RequestError{"to_holder", fmt.Sprintf("unknown holder %q", toH)}
	}
	start := req.At
	if start.IsZero() {
		start = x.clk.Now()
	}
	// The source's provenance: the rules judge credit-derived money in a
	// balance as credit, so a cash-out split into two payments (credit into
	// the balance, then the balance on) is refused like one.
	var share int64
	if src, ok := eco.Product(req.From); ok && src.Kind == ecosystem.ProductCredit {
		share = money.BasisPointsPerUnit // drawn on a credit line: all credit
	} else if a, ok := x.led.Account(HolderAccount(fromH, req.From)); ok && a.BalanceFen > 0 && a.CreditShareFen > 0 {
		share = min(money.MulRatioFloor(money.BasisPointsPerUnit, a.CreditShareFen, a.BalanceFen), money.BasisPointsPerUnit)
	}
	q := route.Query{From: req.From, To: req.To, AmountFen: req.AmountFen, FromHolder: fromH, ToHolder: toH,
		Objective: req.Objective, At: start, Seed: PlanSeed, Usage: usage(eco, x.led, x.loc, hf, toH, start), CreditShareBps: share}
	r, routeJSON, err := x.memo.pick(eco, q, req, x.pick)
	if err != nil {
		return nil, "", err
	}
	spec = &Spec{From: req.From, To: req.To, FromHolder: fromH, ToHolder: toH, AmountFen: req.AmountFen,
		Seed: req.Seed, OnFailure: onFail, FailHop: req.FailHop, Start: start, Route: r, routeJSON: routeJSON, CreditShareBps: share}
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
func (x *Executor) pick(eco *ecosystem.Ecosystem, q route.Query, req Request) (*route.Route, error) {
	if len(req.Channels) > 0 {
		// Check is Evaluate without the time statistics, which are
		// memoised separately (timesOf): the same route, a fraction of the cost.
		r, err := route.Check(eco, q, req.Channels, x.rules)
		if err != nil {
			return nil, requestErr(err)
		}
		return r, x.memo.timesOf(r, q.At)
	}
	res, err := route.Plan(eco, q, x.rules)
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
