// Package compliance evaluates an ecosystem's rules (CEL expressions over a
// hop or a whole route) and explains each finding by rule, citation and a
// sentence a holder understands. Rules are data; this package holds no rule.
package compliance

// Policy says how refuse rules marked advisory (such as cash-out) apply.
type Policy string

// Policies.
const (
	PolicyStrict   Policy = "strict"   // advisory refuse rules refuse (the default)
	PolicyAdvisory Policy = "advisory" // advisory refuse rules only warn
)

// Finding is one rule that matched a hop or a route.
type Finding struct {
	Rule     string `json:"rule"`
	Effect   string `json:"effect"` // refuse, warn or require, after the policy is applied
	Citation string `json:"citation"`
	Message  string `json:"message"`
	Hop      int    `json:"hop,omitempty"` // 1-based hop the finding is about; 0 for the whole route
}

// Account is one side of a hop as rules see it.
type Account struct {
	Product          string `json:"product"`     // "alipay.huabei"
	Institution      string `json:"institution"` // "alipay"
	Kind             string `json:"kind"`        // product kind: stored_value, credit, deposit, receivable, external
	Purpose          string `json:"purpose"`     // credit purpose, e.g. "consumption"
	CashWithdrawable bool   `json:"cash_withdrawable"`
	Holder           string `json:"holder"`
	HolderKind       string `json:"holder_kind"` // person or merchant
	KYCLevel         int    `json:"kyc_level"`
}

// Hop is what a hop rule sees.
type Hop struct {
	Index       int      `json:"index"` // 1-based
	Channel     string   `json:"channel"`
	ChannelKind string   `json:"channel_kind"`
	Institution string   `json:"institution"` // operator of the channel
	Licences    []string `json:"licences"`    // the operator's licence scopes
	Tags        []string `json:"tags"`
	From        Account  `json:"from"`
	To          Account  `json:"to"`
	AmountFen   int64    `json:"amount_fen"` // amount entering the hop
	FeeFen      int64    `json:"fee_fen"`
	// CreditShareBps is the credit-derived share of the money moving, in basis
	// points (provenance, DESIGN.md §2), and CreditIssuer the institution whose
	// credit it came from ("" when none).
	CreditShareBps int64  `json:"credit_share_bps"`
	CreditIssuer   string `json:"credit_issuer"`
	CreditPurpose  string `json:"credit_purpose"`
	// Limit checks, filled by the planner from the channel and the holder's usage.
	OverPerTxn   bool `json:"over_per_txn"`
	OverPerDay   bool `json:"over_per_day"`
	OverPerMonth bool `json:"over_per_month"`
	OverPerYear  bool `json:"over_per_year"`
	UnderMin     bool `json:"under_min"`
	KYCRequired  int  `json:"kyc_required"`
	SameHolder   bool `json:"same_holder"`
	RequiresSame bool `json:"requires_same_holder"`
}

// Route is what a route rule sees.
type Route struct {
	Hops          []Hop    `json:"hops"`
	From          Account  `json:"from"`
	To            Account  `json:"to"`
	SentFen       int64    `json:"sent_fen"`
	DeliveredFen  int64    `json:"delivered_fen"`
	FeeFen        int64    `json:"fee_fen"`
	Institutions  []string `json:"institutions"`
	HolderChanges int      `json:"holder_changes"`
	// CreditShareBps is the credit-derived share of the money the route
	// moves (10000 from a credit line; the source balance's provenance
	// otherwise) and CreditPurpose the purpose of that credit ("" when none).
	CreditShareBps int64  `json:"credit_share_bps"`
	CreditPurpose  string `json:"credit_purpose"`
}
