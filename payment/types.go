// Package payment executes planned routes on the ledger: a payment is a route
// under execution. Each hop holds its money with linked pending transfers
// (the holder's debit, the operator's fee, the settlement between the
// institutions' books and the clearing house's record), posts them when the
// hop's clearing delay has passed, or voids them when the hop fails; a failed
// payment is refunded to its origin or left visibly stranded. Limits and free
// quotas are ledger counters updated in the same all-or-none commit as the
// money, and every state change is an event record in that same commit, so
// the ledger alone is the payment store: a process that dies mid-hop resumes
// from it. docs/payments.md has the posting table, states and guarantees.
package payment

import (
	"encoding/json"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/route"
)

// States of a payment. Running and held are the non-terminal ones (held:
// a HopGuard paused it before a hop until Resume or Refund); a stranded
// payment stays stranded until Resume or Refund acts on it.
const (
	StateRunning   = "running"
	StateHeld      = "held"
	StateCompleted = "completed"
	StateRefunded  = "refunded"
	StateStranded  = "stranded"
	StateRejected  = "rejected"
)

// Event types, in the order a timeline shows them.
const (
	EventCreated    = "created"
	EventHopStarted = "hop_started"
	EventHopPosted  = "hop_posted"
	EventHopFailed  = "hop_failed"
	EventReversal   = "reversal"
	EventResumed    = "resumed"
	EventHeld       = "held" // a HopGuard paused the payment before a hop
	EventCompleted  = "completed"
	EventRefunded   = "refunded"
	EventStranded   = "stranded"
	EventRejected   = "rejected"
)

// Failure policies: what happens to money already moved when a hop fails.
const (
	OnFailureRefund = "refund" // reverse the posted hops back to the origin
	OnFailureStrand = "strand" // leave it at the last account reached; Resume or Refund later
)

// Limits of the executor.
const (
	// MaxTransfersPerPayment bounds the ledger transfers one payment may make
	// (its ids are payment number << 16 | index).
	MaxTransfersPerPayment = 1 << 16
	// MaxAttempts bounds how often a stranded hop may be resumed.
	MaxAttempts = 16
	// RecordKind is the ledger record kind of payment events (the outbox).
	RecordKind = "payment.event"
	// KeyKind is the ledger record kind that maps an idempotency key (the
	// record's key) to its payment's id (the data), committed with the
	// payment's created event.
	KeyKind = "payment.key"
	// SetupKind is the ledger record kind that marks the opening balances as seeded.
	SetupKind = "payment.setup"
	// MaxKeyLen is the longest idempotency key of a request, in bytes.
	MaxKeyLen = 64
	// DefaultOpeningFen is what each person's stored-value and deposit
	// accounts hold when the ledger is first seeded (10,000 yuan).
	DefaultOpeningFen = 1_000_000
)

// Request asks for a payment.
type Request struct {
	From, To             string // product ids
	FromHolder, ToHolder string // "" = the ecosystem's default holder / FromHolder
	AmountFen            int64
	// RouteID pins a route the planner found; Channels pins one by its
	// channel ids; with neither, the planner's best allowed route is taken.
	RouteID   string
	Channels  []string
	Objective route.Objective
	// OnFailure is OnFailureRefund (default) or OnFailureStrand.
	OnFailure string
	// Seed fixes every draw (hop latencies and failures).
	Seed uint64
	// FailHop > 0 forces the first attempt of that hop (1-based) to fail.
	FailHop int
	// At is when the payment starts; zero means the executor's clock now.
	At time.Time
	// Key, if set, makes the request idempotent: a request repeating the
	// key of an existing payment returns that payment and moves nothing
	// (≤ MaxKeyLen bytes; the same key with other fields is an error).
	Key string
	// KeySum, with Key, is a digest of the request as its caller sent it
	// (the API's hash of the body; ≤ MaxKeyLen bytes): stored with the
	// payment, so a later request with the key and another KeySum is refused
	// however long ago the first one was made.
	KeySum string
}

// Spec is what a payment was created with: everything needed to run it
// again from the store alone. It is the payload of the created event.
type Spec struct {
	Num        uint64    `json:"num"`
	Key        string    `json:"key,omitempty"`
	KeySum     string    `json:"key_sum,omitempty"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	FromHolder string    `json:"from_holder"`
	ToHolder   string    `json:"to_holder"`
	AmountFen  int64     `json:"amount_fen"`
	Seed       uint64    `json:"seed"`
	OnFailure  string    `json:"on_failure"`
	FailHop    int       `json:"fail_hop,omitempty"`
	Start      time.Time `json:"start"`
	// CreditShareBps is the credit-derived share of the money the payment
	// moves, in basis points (0..10000): 10000 when the source product is a
	// credit line (Huabei: every fen drawn is credit), else the source
	// account's provenance when the payment was created (the ledger's
	// credit-derived share of its balance); the money carries it pro rata.
	CreditShareBps int64        `json:"credit_share_bps,omitempty"`
	Route          *route.Route `json:"route,omitempty"`
	// routeJSON is Route encoded once (memoised routes are shared).
	routeJSON json.RawMessage
}

// RouteJSON is the route's JSON as encoding/json gives it, when the
// executor already has it (a memoised route: encoded once for every
// payment that takes it); nil otherwise.
func (s *Spec) RouteJSON() json.RawMessage { return s.routeJSON }

// MarshalJSON encodes the spec as encoding/json would, without
// reflection (a spec is written with every payment), splicing in the
// route's encoding when it is already known (memoised routes are shared
// and encoded once).
func (s Spec) MarshalJSON() ([]byte, error) { return appendSpec(nil, &s) }

// Event is one entry of a payment's timeline and of the outbox. It is
// committed in the same ledger commit as the transfers it names.
type Event struct {
	// Seq is the outbox position (the ledger record's Seq), set when read back.
	Seq         uint64              `json:"seq,omitempty"`
	Payment     string              `json:"payment"`
	At          time.Time           `json:"at"`
	Type        string              `json:"type"`
	Hop         int                 `json:"hop,omitempty"` // 1-based
	TransferIDs []ledger.TransferID `json:"transfer_ids"`
	Reason      string              `json:"reason,omitempty"`
	Attempt     int                 `json:"attempt,omitempty"`
	// AmountFen is what enters the hop (hop_started, hop_posted), or what
	// a reversal brought back to the origin (reversal).
	AmountFen int64 `json:"amount_fen,omitempty"`
	// CreditShareBps is the credit-derived share of the money the hop
	// moved (hop_posted), 0..10000: the spec's CreditShareBps, since fees
	// take from credit-derived and other money pro rata.
	CreditShareBps int64 `json:"credit_share_bps,omitempty"`
	// FeeFen is the hop's fee (hop_started) or the fees refunded (reversal).
	FeeFen int64 `json:"fee_fen,omitempty"`
	// Due is when a started hop settles or fails.
	Due *time.Time `json:"due,omitempty"`
	// Down names an institution that was down when the hop started.
	Down string `json:"down,omitempty"`
	// Counters are the limit and quota counters the hop added to (released
	// again if it fails).
	Counters []ledger.CounterDelta `json:"counters,omitempty"`
	Spec     *Spec                 `json:"spec,omitempty"` // created only
}

// hopRun is a started hop as the events record it.
type hopRun struct {
	amountFen, feeFen int64
	attempt           int
	due               time.Time
	down              string
	pending           []ledger.TransferID
	counters          []ledger.CounterDelta
	posted            bool
}

// Payment is a payment's state, folded from its events.
type Payment struct {
	ID     string   `json:"id"`
	Spec   Spec     `json:"spec"`
	State  string   `json:"state"`
	Events []Event  `json:"events"`
	Reason string   `json:"reason,omitempty"`
	hops   []hopRun // index k-1 for hop k; only hops started so far
	// cur is the hop in flight (running) or the failed hop (stranded), 1-based.
	cur          int
	nextTransfer uint64
	refundedFen  int64 // returned to the origin by reversals
	feeBackFen   int64 // fees refunded by reversals
	// asked holds the guard's decisions by (hop, attempt) in this process.
	asked map[[2]int]GuardDecision
}

// DeliveredFen is what reached the destination: the last hop's amount
// minus its fee once the payment completed, else 0.
func (p *Payment) DeliveredFen() int64 {
	if p.State != StateCompleted || len(p.hops) == 0 {
		return 0
	}
	h := p.hops[len(p.hops)-1]
	return h.amountFen - h.feeFen
}

// FeeFen is the fees the payment was charged: posted hops' fees minus fees refunded.
func (p *Payment) FeeFen() int64 {
	var f int64
	for _, h := range p.hops {
		if h.posted {
			f += h.feeFen
		}
	}
	return f - p.feeBackFen
}

// RefundedFen is what reversals brought back to the origin.
func (p *Payment) RefundedFen() int64 { return p.refundedFen }

// Terminal reports whether the payment is in a terminal state (not
// running and not held).
func (p *Payment) Terminal() bool { return p.State != StateRunning && p.State != StateHeld }

// Hops returns the number of hops of the payment's route (0 if rejected before one was chosen).
func (p *Payment) Hops() int {
	if p.Spec.Route == nil {
		return 0
	}
	return len(p.Spec.Route.Hops)
}

// Due returns when the hop in flight settles or fails (zero unless running).
func (p *Payment) Due() time.Time {
	if p.State != StateRunning || p.cur == 0 || p.cur > len(p.hops) {
		return time.Time{}
	}
	return p.hops[p.cur-1].due
}
