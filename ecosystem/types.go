// Package ecosystem is paybridge's model of a payment world: holders,
// institutions, their account products, the channels that move money between
// products, the compliance rules with their citations, and the calibration
// targets the model must reproduce. It loads that model from YAML with
// line-numbered, field-named errors and validates it. It does no planning.
package ecosystem

import (
	"time"

	"github.com/paybridge/paybridge/money"
)

// Ecosystem is one complete payment world, as written in an ecosystem file.
type Ecosystem struct {
	ID           string              `yaml:"id" json:"id"`
	Name         string              `yaml:"name" json:"name"`
	Description  string              `yaml:"description,omitempty" json:"description,omitempty"`
	Currency     string              `yaml:"currency" json:"currency"`
	Timezone     string              `yaml:"timezone,omitempty" json:"timezone,omitempty"` // IANA name for clearing windows; default Asia/Shanghai
	Holders      []Holder            `yaml:"holders" json:"holders"`
	Institutions []Institution       `yaml:"institutions" json:"institutions"`
	Products     []Product           `yaml:"products" json:"products"`
	Channels     []Channel           `yaml:"channels" json:"channels"`
	Rules        []Rule              `yaml:"rules" json:"rules"`
	Calibration  []CalibrationTarget `yaml:"calibration,omitempty" json:"calibration,omitempty"`

	// idx backs the lookup methods (Product, Channel, ChannelsFrom, …); see Reindex.
	idx *lookupIndex
	// opened holds, for each holder added at run time, the products it has
	// accounts of (WithHolders, WithAccounts, HasAccountOf). Never
	// serialised: the ledger is where those accounts are kept.
	opened map[string]*productSet
}

// Holder is a real-name person or merchant who owns accounts.
type Holder struct {
	ID       string `yaml:"id" json:"id"`
	Name     string `yaml:"name" json:"name"`
	Kind     string `yaml:"kind" json:"kind"`                           // HolderPerson or HolderMerchant
	KYCLevel int    `yaml:"kyc_level" json:"kyc_level"`                 // identity-verification level, 0 (none) to 3 (full, e.g. face + bank card)
	Default  bool   `yaml:"default,omitempty" json:"default,omitempty"` // the holder a query means when it names none (exactly one)
}

// Holder kinds.
const (
	HolderPerson   = "person"
	HolderMerchant = "merchant"
)

// Institution is an operator of accounts or channels.
type Institution struct {
	ID       string   `yaml:"id" json:"id"`
	Name     string   `yaml:"name" json:"name"`
	Kind     string   `yaml:"kind" json:"kind"`                             // one of InstitutionKinds
	Licences []string `yaml:"licences,omitempty" json:"licences,omitempty"` // licence scopes, e.g. internet_payment, mobile_payment, deposit, credit, clearing
	Protocol string   `yaml:"protocol,omitempty" json:"protocol,omitempty"` // message protocol, e.g. sm2-sm4, aes-256-gcm
	App      string   `yaml:"app,omitempty" json:"app,omitempty"`           // the app a holder uses to act here; channels inherit it
	Clearing Clearing `yaml:"clearing,omitempty" json:"clearing,omitempty"`
	Note     string   `yaml:"note,omitempty" json:"note,omitempty"`
}

// InstitutionKinds are the allowed Institution.Kind values.
var InstitutionKinds = []string{"payment_institution", "bank", "credit_issuer", "clearing_house", "central_bank", "intermediary", "merchant_acquirer"}

// Clearing is when an institution settles: always (realtime), or only inside
// daily windows, with money arriving after a window closes at the next open.
type Clearing struct {
	Mode    string   `yaml:"mode,omitempty" json:"mode,omitempty"`       // ClearingRealtime (default), ClearingT0, ClearingT1
	Windows []Window `yaml:"windows,omitempty" json:"windows,omitempty"` // local-time windows in which hops settle; empty means any time
	Days    string   `yaml:"days,omitempty" json:"days,omitempty"`       // "all" (default) or "weekdays"
}

// Clearing modes.
const (
	ClearingRealtime = "realtime"
	ClearingT0       = "t0"
	ClearingT1       = "t1"
)

// Window is a daily local-time interval "HH:MM-HH:MM".
type Window struct {
	Open  string `yaml:"open" json:"open"`   // "09:00"
	Close string `yaml:"close" json:"close"` // "17:00"
}

// Product is an account type at an institution. Its ID is "institution.name",
// e.g. "alipay.huabei".
type Product struct {
	ID          string `yaml:"id" json:"id"`
	Institution string `yaml:"institution" json:"institution"`
	Name        string `yaml:"name" json:"name"`
	Kind        string `yaml:"kind" json:"kind"` // one of ProductKinds
	// Purpose restricts what credit from this product may be used for, e.g. "consumption".
	Purpose string `yaml:"purpose,omitempty" json:"purpose,omitempty"`
	// CashWithdrawable is true when money here can leave as cash or to any bank account
	// (a wallet balance, a debit card); false for credit lines and merchant receivables.
	CashWithdrawable bool `yaml:"cash_withdrawable" json:"cash_withdrawable"`
	// CreditLimitFen is the default credit line of a credit product (its floor is −limit).
	CreditLimitFen int64 `yaml:"credit_limit_fen,omitempty" json:"credit_limit_fen,omitempty"`
	// BalanceCapFen caps the balance an account of this product may hold (0: none), e.g. e-CNY wallet classes.
	BalanceCapFen int64 `yaml:"balance_cap_fen,omitempty" json:"balance_cap_fen,omitempty"`
	// Tiers are wallet classes by identity level (e-CNY, payment-account classes); the holder's KYC level picks one.
	Tiers []Tier `yaml:"tiers,omitempty" json:"tiers,omitempty"`
	// Holders lists which holders have an account of this product; empty means every holder of a matching kind.
	Holders []string `yaml:"holders,omitempty" json:"holders,omitempty"`
	// HolderKind restricts which kind of holder may own it ("person", "merchant"); empty means any.
	HolderKind string `yaml:"holder_kind,omitempty" json:"holder_kind,omitempty"`
	Note       string `yaml:"note,omitempty" json:"note,omitempty"`
}

// ProductKinds are the allowed Product.Kind values.
var ProductKinds = []string{"stored_value", "credit", "deposit", "receivable", "external"}

// Product kinds.
const (
	ProductStoredValue = "stored_value" // a wallet balance (Alipay balance, WeChat change, e-CNY wallet)
	ProductCredit      = "credit"       // a credit line (Huabei, a credit card)
	ProductDeposit     = "deposit"      // a bank account (debit card, MYbank)
	ProductReceivable  = "receivable"   // a merchant's receivable
	ProductExternal    = "external"     // outside the modelled world (cash, an intermediary's pocket)
)

// Tier is one class of a tiered account (e-CNY wallet classes, payment-account
// classes I/II/III): the identity level it needs and the limits it carries.
type Tier struct {
	Name          string `yaml:"name" json:"name"`
	MinKYCLevel   int    `yaml:"min_kyc_level" json:"min_kyc_level"`
	BalanceCapFen int64  `yaml:"balance_cap_fen,omitempty" json:"balance_cap_fen,omitempty"`
	Limits        Limits `yaml:"limits,omitempty" json:"limits,omitempty"` // applied to every outgoing channel of the product
}

// Channel is a directed, named operation that moves money from one product to
// another, run by an institution in an app.
type Channel struct {
	ID          string            `yaml:"id" json:"id"`
	Name        string            `yaml:"name,omitempty" json:"name,omitempty"`
	Kind        string            `yaml:"kind" json:"kind"` // one of ChannelKinds
	From        string            `yaml:"from" json:"from"` // product id
	To          string            `yaml:"to" json:"to"`     // product id
	Institution string            `yaml:"institution" json:"institution"`
	App         string            `yaml:"app,omitempty" json:"app,omitempty"` // default: the operating institution's app
	Via         []string          `yaml:"via,omitempty" json:"via,omitempty"` // clearing institutions the money passes through
	Fee         money.FeeSchedule `yaml:"fee,omitempty" json:"fee"`
	// FeeRefundable says whether the fee is returned when the hop fails or is reversed.
	FeeRefundable bool     `yaml:"fee_refundable,omitempty" json:"fee_refundable,omitempty"`
	Limits        Limits   `yaml:"limits,omitempty" json:"limits,omitempty"`
	Latency       Latency  `yaml:"latency" json:"latency"`
	Success       float64  `yaml:"success" json:"success"` // probability in (0, 1]
	Requires      Requires `yaml:"requires,omitempty" json:"requires,omitempty"`
	// Effort is the number of manual steps a holder takes for this hop (default 1).
	Effort int `yaml:"effort,omitempty" json:"effort,omitempty"`
	// Tags are free-form labels rules can match, e.g. "cash_out", "third_party", "official".
	Tags []string `yaml:"tags,omitempty" json:"tags,omitempty"`
	Note string   `yaml:"note,omitempty" json:"note,omitempty"`
	// Apps are the apps the holder touches for this hop, in order (e.g. the
	// bank app to send, then WeChat to confirm); default [App]. The planner
	// counts app switches across the routes' concatenated sequences.
	Apps []string `yaml:"apps,omitempty" json:"apps,omitempty"`
	// ValidFrom and ValidUntil bound when the channel exists (zero: always).
	ValidFrom  time.Time `yaml:"valid_from,omitempty" json:"valid_from,omitzero"`
	ValidUntil time.Time `yaml:"valid_until,omitempty" json:"valid_until,omitzero"`
}

// ChannelKinds are the allowed Channel.Kind values.
var ChannelKinds = []string{"top_up", "withdraw", "transfer", "pay", "repay", "interbank", "exchange", "cash_out_service"}

// Limits bound how much a holder may move through a channel. Zero means no limit.
type Limits struct {
	MinFen      int64 `yaml:"min_fen,omitempty" json:"min_fen,omitempty"`
	PerTxnFen   int64 `yaml:"per_txn_fen,omitempty" json:"per_txn_fen,omitempty"`
	PerDayFen   int64 `yaml:"per_day_fen,omitempty" json:"per_day_fen,omitempty"`
	PerMonthFen int64 `yaml:"per_month_fen,omitempty" json:"per_month_fen,omitempty"`
	PerYearFen  int64 `yaml:"per_year_fen,omitempty" json:"per_year_fen,omitempty"`
	LifetimeFen int64 `yaml:"lifetime_fen,omitempty" json:"lifetime_fen,omitempty"`
	PerDayCount int64 `yaml:"per_day_count,omitempty" json:"per_day_count,omitempty"`
}

// Latency is how long a hop takes from start to the money being usable at the
// destination. Dist picks the family; the quantiles given fix its parameters.
type Latency struct {
	Dist string        `yaml:"dist" json:"dist"`                   // LatencyInstant, LatencyFixed, LatencyLogNormal, LatencyUniform
	P50  time.Duration `yaml:"p50,omitempty" json:"p50,omitempty"` // lognormal median; fixed value
	P95  time.Duration `yaml:"p95,omitempty" json:"p95,omitempty"` // lognormal 95th percentile
	Min  time.Duration `yaml:"min,omitempty" json:"min,omitempty"` // uniform lower bound; lognormal shift (added to every draw)
	Max  time.Duration `yaml:"max,omitempty" json:"max,omitempty"` // uniform upper bound
	// Range documents the source's stated range ("2–24 h") and how it maps to
	// quantiles; informational, checked by calibration targets.
	Range string `yaml:"range,omitempty" json:"range,omitempty"`
}

// Latency distribution families.
const (
	LatencyInstant   = "instant"
	LatencyFixed     = "fixed"
	LatencyLogNormal = "lognormal"
	LatencyUniform   = "uniform"
)

// Requires are the preconditions of a channel.
type Requires struct {
	SameHolder  bool `yaml:"same_holder,omitempty" json:"same_holder,omitempty"`   // from and to accounts must be the same real-name holder
	OtherHolder bool `yaml:"other_holder,omitempty" json:"other_holder,omitempty"` // the channel moves money to another holder (a transfer, a payment)
	BoundCard   bool `yaml:"bound_card,omitempty" json:"bound_card,omitempty"`     // the destination card must be bound to the wallet
	KYCLevel    int  `yaml:"kyc_level,omitempty" json:"kyc_level,omitempty"`       // minimum identity-verification level of the sender
	Application bool `yaml:"application,omitempty" json:"application,omitempty"`   // the holder must apply for the service first
}

// Rule is a compliance rule: when its expression is true for a hop (or a
// route), the effect applies, citing the regulation.
type Rule struct {
	ID       string `yaml:"id" json:"id"`
	Scope    string `yaml:"scope" json:"scope"`   // RuleScopeHop or RuleScopeRoute
	When     string `yaml:"when" json:"when"`     // CEL expression; see docs/compliance.md for its variables
	Effect   string `yaml:"effect" json:"effect"` // EffectRefuse, EffectWarn, EffectRequire
	Citation string `yaml:"citation" json:"citation"`
	Message  string `yaml:"message" json:"message"` // one sentence a holder understands
	// Advisory makes a refuse rule a warning under --policy advisory (e.g. cash-out).
	Advisory bool `yaml:"advisory,omitempty" json:"advisory,omitempty"`
}

// Rule scopes and effects.
const (
	RuleScopeHop   = "hop"
	RuleScopeRoute = "route"
	EffectRefuse   = "refuse"
	EffectWarn     = "warn"
	EffectRequire  = "require"
)

// CalibrationTarget is one figure the model must reproduce: a metric of a
// route (or of one channel) for a query, with the source's value and a tolerance.
type CalibrationTarget struct {
	Name   string `yaml:"name" json:"name"`
	Source string `yaml:"source,omitempty" json:"source,omitempty"` // where the figure comes from, e.g. "seed §8"
	Query  Query  `yaml:"query" json:"query"`
	// Channels pins the route by its channel ids; empty means the query's best allowed route by Query.Objective.
	Channels []string `yaml:"channels,omitempty" json:"channels,omitempty"`
	Hop      int      `yaml:"hop,omitempty" json:"hop,omitempty"` // 1-based hop for hop-level metrics; 0 for route metrics
	Metric   string   `yaml:"metric" json:"metric"`               // see docs/ecosystem.md, e.g. time_mean_s, cost_ratio, failure_rate
	Value    float64  `yaml:"value" json:"value"`                 // the source's figure
	// Max, when set, makes the target a bound (model ≤ Max, or model ≥ Min) instead of Value ± Tolerance.
	Min       *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max       *float64 `yaml:"max,omitempty" json:"max,omitempty"`
	Tolerance float64  `yaml:"tolerance,omitempty" json:"tolerance,omitempty"`
	Relative  bool     `yaml:"relative,omitempty" json:"relative,omitempty"` // tolerance is a fraction of Value
	// Quantile is the probability (0 to 1) of a quantile metric such as
	// hop_time_quantile: 0 is the hop's fastest time, 0.95 its 95th percentile.
	Quantile *float64 `yaml:"quantile,omitempty" json:"quantile,omitempty"`
}

// Query is "move AmountYuan from product From of the default holder to
// product To of holder ToHolder (default: the same holder)".
type Query struct {
	From       string `yaml:"from" json:"from"`
	To         string `yaml:"to" json:"to"`
	AmountYuan string `yaml:"amount" json:"amount"`
	ToHolder   string `yaml:"to_holder,omitempty" json:"to_holder,omitempty"`
	Objective  string `yaml:"objective,omitempty" json:"objective,omitempty"`
}
