// Package route plans how to move an amount from one account product to
// another across an ecosystem's channels: it searches every simple route up
// to a hop limit with a multi-criteria label search, computes each route's
// statistics (fees, delivered amount, time distribution with clearing
// windows, success probability, app switches), asks a RuleChecker for
// compliance findings, keeps the Pareto-optimal routes and ranks them by an
// objective. It is deterministic: it reads no clock and draws no unseeded
// randomness, so the same query and seed give the same result.
package route

import (
	"time"

	"github.com/paybridge/paybridge/compliance"
)

// Limits of the planner.
const (
	// DefaultMaxHops is the hop limit a query gets when it names none.
	DefaultMaxHops = 6
	// MaxHopsCap is the largest hop limit a query may ask for.
	MaxHopsCap = 10
	// MaxLabelsPerNode bounds the partial routes the search keeps at one
	// (product, holder) node; past it the search drops the newcomer and marks
	// the result Truncated.
	MaxLabelsPerNode = 16
	// MaxLabels bounds the partial routes one search creates in all.
	MaxLabels = 200_000
	// TimeSamples is the number of stratified draws per hop used to combine
	// hop latencies into the route's time quantiles.
	TimeSamples = 512
)

// Objective is what a query ranks routes by.
type Objective string

// Objectives.
const (
	ObjectiveCost        Objective = "cost"        // lowest fee first
	ObjectiveTime        Objective = "time"        // lowest mean time first
	ObjectiveReliability Objective = "reliability" // highest success probability first
	ObjectiveEffort      Objective = "effort"      // fewest app switches first
	ObjectiveBalanced    Objective = "balanced"    // lowest weighted normalised score first (the default)
)

// Objectives lists the objectives in the order help texts show them.
var Objectives = []Objective{ObjectiveCost, ObjectiveTime, ObjectiveReliability, ObjectiveEffort, ObjectiveBalanced}

// Balanced-score weights: each criterion is normalised to [0, 1] over the
// routes being ranked (0 the best, 1 the worst) and weighted.
const (
	WeightCost    = 0.3
	WeightTime    = 0.3
	WeightFailure = 0.3
	WeightEffort  = 0.1
)

// Verdicts of a route.
const (
	VerdictAllowed = "allowed"
	VerdictWarned  = "warned"
	VerdictRefused = "refused"
)

// RuleChecker evaluates compliance rules over a hop and over a whole route.
// *compliance.Checker satisfies it.
type RuleChecker interface {
	CheckHop(compliance.Hop) []compliance.Finding
	CheckRoute(compliance.Route) []compliance.Finding
}

// NoRules is a RuleChecker with no rules: every hop and route passes.
type NoRules struct{}

// CheckHop returns no finding.
func (NoRules) CheckHop(compliance.Hop) []compliance.Finding { return nil }

// CheckRoute returns no finding.
func (NoRules) CheckRoute(compliance.Route) []compliance.Finding { return nil }

// Query asks for the routes that move AmountFen from product From of
// FromHolder to product To of ToHolder.
type Query struct {
	From       string // product id, "alipay.huabei"
	To         string // product id
	AmountFen  int64  // > 0
	FromHolder string // "" means the ecosystem's default holder
	ToHolder   string // "" means FromHolder
	Objective  Objective
	// Policy is echoed in the result; the RuleChecker applies it.
	Policy compliance.Policy
	// At is when the money starts moving; zero means clearing windows are
	// ignored. The caller supplies it from its clock.
	At time.Time
	// MaxHops bounds the route length; 0 means DefaultMaxHops.
	MaxHops int
	// Seed fixes the stratified samples behind the time quantiles.
	Seed uint64
	// Usage is what the holders have already used of quotas and limits; nil
	// means nothing (a whole lifetime free quota left).
	Usage *Usage
	// CreditShareBps is the credit-derived share of the money in the source
	// account, 0..10000 basis points (provenance: the ledger account's
	// CreditShareFen over its balance). The rules see it as
	// hop.credit_share_bps and route.credit_share_bps, so money that came
	// from a credit line into a balance is still credit when it moves on. A
	// credit-line source is all credit whatever this says; 0 is clean money.
	CreditShareBps int64
	// CreditPurpose is the purpose of the credit behind CreditShareBps
	// (hop.credit_purpose); "" means consumption: the ledger does not record
	// which line the money came from, and consumer credit is the strictest
	// reading (and the only kind the bundled worlds lend).
	CreditPurpose string
}

// Used is how much of a channel (or of a product's tier limits) a holder has
// already used in the current day, month, year and lifetime.
type Used struct {
	FreeQuotaFen int64 `json:"free_quota_fen,omitempty"` // free fee quota already used
	DayFen       int64 `json:"day_fen,omitempty"`
	MonthFen     int64 `json:"month_fen,omitempty"`
	YearFen      int64 `json:"year_fen,omitempty"`
	LifetimeFen  int64 `json:"lifetime_fen,omitempty"`
	DayCount     int64 `json:"day_count,omitempty"`
}

// Usage holds what holders have used, keyed by UsageKey(holder, channel id)
// in Channels and UsageKey(holder, product id) in Products (tier limits), and
// their current balances keyed by UsageKey(holder, product id) for balance caps.
type Usage struct {
	Channels map[string]Used  `json:"channels,omitempty"`
	Products map[string]Used  `json:"products,omitempty"`
	Balances map[string]int64 `json:"balances,omitempty"`
}

// UsageKey is the key of a holder's usage of a channel or product.
func UsageKey(holder, id string) string { return holder + "/" + id }

func (u *Usage) channel(holder, channel string) Used {
	if u == nil {
		return Used{}
	}
	return u.Channels[UsageKey(holder, channel)]
}

func (u *Usage) product(holder, product string) Used {
	if u == nil {
		return Used{}
	}
	return u.Products[UsageKey(holder, product)]
}

func (u *Usage) balance(holder, product string) int64 {
	if u == nil {
		return 0
	}
	return u.Balances[UsageKey(holder, product)]
}

// Result is a plan: the query as understood and the routes found, allowed
// and warned ones first (ranked by the objective), then refused ones.
type Result struct {
	Query  QueryInfo `json:"query"`
	Routes []Route   `json:"routes"`
	// Truncated is true when a search bound (MaxLabelsPerNode, MaxLabels)
	// dropped partial routes, so a Pareto-optimal route may be missing.
	Truncated bool `json:"truncated,omitempty"`
	// Alternative is set when no route is allowed and the money is consumer
	// credit: the plan for the same move from the holder's own
	// cash-withdrawable money at the credit issuer (e.g. alipay.balance for
	// alipay.huabei), so the user sees what the legal alternatives cost.
	Alternative *Result `json:"alternative,omitempty"`
	// Sources lists, once each, the channels and products the routes use
	// with what the world says of their source (see sources.go).
	Sources []Source `json:"sources,omitempty"`
	// Search counts the search's work, for benchmarks and docs.
	Search SearchStats `json:"-"`
}

// QueryInfo is the query as the planner understood it, defaults filled in.
type QueryInfo struct {
	Ecosystem  string `json:"ecosystem"`
	From       string `json:"from"`
	To         string `json:"to"`
	AmountFen  int64  `json:"amount_fen"`
	Amount     string `json:"amount"` // yuan, two decimals
	FromHolder string `json:"from_holder"`
	ToHolder   string `json:"to_holder"`
	Objective  string `json:"objective"`
	Policy     string `json:"policy"`
	At         string `json:"at,omitempty"` // RFC 3339
	MaxHops    int    `json:"max_hops"`
	Seed       uint64 `json:"seed"`
	// CreditShareBps echoes Query.CreditShareBps when it is not 0.
	CreditShareBps int64 `json:"credit_share_bps,omitempty"`
}

// SearchStats counts a search's work.
type SearchStats struct {
	Labels    int // partial routes created
	Pruned    int // partial routes discarded by dominance
	Complete  int // complete routes evaluated
	HopChecks int // RuleChecker.CheckHop calls
}

// Route is one way to move the money, with its statistics and verdict.
type Route struct {
	ID           string               `json:"id"`
	Verdict      string               `json:"verdict"`
	Hops         []Hop                `json:"hops"`
	SentFen      int64                `json:"sent_fen"`
	DeliveredFen int64                `json:"delivered_fen"`
	FeeFen       int64                `json:"fee_fen"`
	CostRatio    float64              `json:"cost_ratio"`
	TimeMeanS    float64              `json:"time_mean_s"`
	TimeP50S     float64              `json:"time_p50_s"`
	TimeP95S     float64              `json:"time_p95_s"`
	Success      float64              `json:"success"`
	AppSwitches  int                  `json:"app_switches"`
	Effort       int                  `json:"effort"`       // manual steps, the sum of the hops' efforts
	Requirements int                  `json:"requirements"` // require findings: preconditions such as applying for a service
	Findings     []compliance.Finding `json:"findings"`
	// Score is the balanced score among the routes it was ranked with (0 best).
	Score float64 `json:"score"`
}

// Hop is one channel of a route.
type Hop struct {
	Channel     string   `json:"channel"`
	From        string   `json:"from"`
	To          string   `json:"to"`
	FromHolder  string   `json:"from_holder"`
	ToHolder    string   `json:"to_holder"`
	Institution string   `json:"institution"`
	App         string   `json:"app"`
	Apps        []string `json:"apps"`
	AmountFen   int64    `json:"amount_fen"` // entering the hop
	FeeFen      int64    `json:"fee_fen"`
	TimeP50S    float64  `json:"time_p50_s"`
	TimeP95S    float64  `json:"time_p95_s"`
	Success     float64  `json:"success"`
	// Source is where the channel's figures come from, as the world says
	// (ecosystem.Channel.Source); Unverified is true when the world tags the
	// channel "unverified" (no public source found).
	Source     string `json:"source,omitempty"`
	Unverified bool   `json:"unverified,omitempty"`
}

// Channels returns the route's channel ids in order.
func (r *Route) Channels() []string {
	ids := make([]string, len(r.Hops))
	for i, h := range r.Hops {
		ids[i] = h.Channel
	}
	return ids
}
