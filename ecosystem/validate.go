package ecosystem

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // timezone names validate without the host's zoneinfo

	"github.com/paybridge/paybridge/money"
)

// Limits on an ecosystem's contents.
const (
	MaxKYCLevel = 3   // identity-verification levels run 0 (none) to 3 (full)
	MaxIDLength = 128 // longest id of anything
	MaxEffort   = 100 // most manual steps one hop may take
	MaxLatency  = 90 * 24 * time.Hour
)

// HolderKinds, ClearingModes, ClearingDays, LatencyDists, RuleScopes,
// RuleEffects and Objectives are the allowed values of those fields.
var (
	HolderKinds   = []string{HolderPerson, HolderMerchant}
	ClearingModes = []string{ClearingRealtime, ClearingT0, ClearingT1}
	ClearingDays  = []string{"all", "weekdays"}
	LatencyDists  = []string{LatencyInstant, LatencyFixed, LatencyLogNormal, LatencyUniform}
	RuleScopes    = []string{RuleScopeHop, RuleScopeRoute}
	RuleEffects   = []string{EffectRefuse, EffectWarn, EffectRequire}
	Objectives    = []string{"cost", "time", "reliability", "effort", "balanced"}
)

// Validate checks the whole ecosystem and returns an *Error listing every
// problem by field path (no file positions; Load adds them), or nil.
func (e *Ecosystem) Validate() error {
	v := validator{e: e}
	v.top()
	v.holders()
	v.institutions()
	v.products()
	v.channels()
	v.rules()
	v.calibration()
	return v.ps.err()
}

type validator struct {
	e  *Ecosystem
	ps problems
	// ids of each kind, filled as they are checked.
	holderIDs, institutionIDs, productIDSet, channelIDs map[string]bool
}

func (v *validator) add(path, format string, args ...any) { v.ps.add(path, format, args...) }

func (v *validator) top() {
	e := v.e
	v.id("id", e.ID)
	if strings.TrimSpace(e.Name) == "" {
		v.add("name", "must not be empty")
	}
	switch {
	case e.Currency == "":
		v.add("currency", `must not be empty; write an ISO 4217 code such as "CNY"`)
	case len(e.Currency) != 3 || strings.ToUpper(e.Currency) != e.Currency || !isLetters(e.Currency):
		v.add("currency", "%q must be a three-letter ISO 4217 code such as \"CNY\"", e.Currency)
	}
	if e.Timezone != "" {
		if _, err := time.LoadLocation(e.Timezone); err != nil {
			v.add("timezone", "%q is not an IANA time zone name such as \"Asia/Shanghai\"", e.Timezone)
		}
	}
	for _, list := range []struct {
		name string
		n    int
	}{{"holders", len(e.Holders)}, {"institutions", len(e.Institutions)}, {"products", len(e.Products)}, {"channels", len(e.Channels)}} {
		if list.n == 0 {
			v.add(list.name, "must list at least one")
		}
	}
}

func isLetters(s string) bool {
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') {
			return false
		}
	}
	return true
}

// id checks the syntax of an id: non-empty, short, letters, digits, '_' and '-'.
func (v *validator) id(path, id string) bool {
	switch {
	case id == "":
		v.add(path, "must not be empty")
	case len(id) > MaxIDLength:
		v.add(path, "is %d characters long; the limit is %d", len(id), MaxIDLength)
	case !isIdent(id):
		v.add(path, "%q may contain only letters, digits, '_' and '-'", id)
	default:
		return true
	}
	return false
}

func isIdent(s string) bool {
	for _, c := range s {
		if !(c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// unique records id in seen and reports a duplicate.
func (v *validator) unique(seen map[string]bool, path, kind, id string) {
	if id == "" {
		return
	}
	if seen[id] {
		v.add(path, "duplicate %s id %q", kind, id)
	}
	seen[id] = true
}

// oneOf reports a value outside the allowed set, naming the allowed values.
func (v *validator) oneOf(path, value string, allowed []string, optional bool) {
	if value == "" && optional {
		return
	}
	if !slices.Contains(allowed, value) {
		if value == "" {
			v.add(path, "must be set; one of %s", strings.Join(allowed, ", "))
			return
		}
		v.add(path, "%q is not one of %s", value, strings.Join(allowed, ", "))
	}
}

func (v *validator) kyc(path string, level int) {
	if level < 0 || level > MaxKYCLevel {
		v.add(path, "must be between 0 and %d", MaxKYCLevel)
	}
}

func (v *validator) holders() {
	v.holderIDs = map[string]bool{}
	defaults := 0
	for i, h := range v.e.Holders {
		p := elem("holders", i)
		v.id(field(p, "id"), h.ID)
		v.unique(v.holderIDs, field(p, "id"), "holder", h.ID)
		v.oneOf(field(p, "kind"), h.Kind, HolderKinds, false)
		v.kyc(field(p, "kyc_level"), h.KYCLevel)
		if h.Default {
			defaults++
			if defaults > 1 {
				v.add(field(p, "default"), "only one holder may be the default")
			}
		}
	}
	if defaults == 0 && len(v.e.Holders) > 0 {
		v.add("holders", "exactly one holder must have default: true (the holder a query means when it names none)")
	}
}

func (v *validator) institutions() {
	v.institutionIDs = map[string]bool{}
	for i, in := range v.e.Institutions {
		p := elem("institutions", i)
		v.id(field(p, "id"), in.ID)
		v.unique(v.institutionIDs, field(p, "id"), "institution", in.ID)
		if strings.TrimSpace(in.Name) == "" {
			v.add(field(p, "name"), "must not be empty")
		}
		v.oneOf(field(p, "kind"), in.Kind, InstitutionKinds, false)
		v.clearing(field(p, "clearing"), in.Clearing)
	}
}

func (v *validator) clearing(path string, c Clearing) {
	v.oneOf(field(path, "mode"), c.Mode, ClearingModes, true)
	v.oneOf(field(path, "days"), c.Days, ClearingDays, true)
	for i, w := range c.Windows {
		p := elem(field(path, "windows"), i)
		open, okOpen := parseClock(w.Open)
		closing, okClose := parseClock(w.Close)
		if !okOpen {
			v.add(field(p, "open"), `%q must be a local time "HH:MM" (00:00 to 23:59)`, w.Open)
		}
		if !okClose {
			v.add(field(p, "close"), `%q must be a local time "HH:MM" (00:00 to 24:00)`, w.Close)
		}
		if okOpen && okClose && open >= closing {
			v.add(field(p, "close"), "must be later than open (%s)", w.Open)
		}
	}
}

// parseClock parses "HH:MM" into minutes after midnight; "24:00" is the end of the day.
func parseClock(s string) (int, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return hh*60 + mm, true
}

// ParseClock parses a clearing-window time "HH:MM" into the offset from
// local midnight ("24:00" is the end of the day).
func ParseClock(s string) (time.Duration, error) {
	minutes, ok := parseClock(s)
	if !ok {
		return 0, fmt.Errorf(`%q is not a local time "HH:MM"`, s)
	}
	return time.Duration(minutes) * time.Minute, nil
}

func (v *validator) products() {
	v.productIDSet = map[string]bool{}
	for i, pr := range v.e.Products {
		p := elem("products", i)
		if pr.ID == "" {
			v.add(field(p, "id"), "must not be empty")
		} else {
			v.unique(v.productIDSet, field(p, "id"), "product", pr.ID)
		}
		switch {
		case pr.Institution == "":
			v.add(field(p, "institution"), "must not be empty")
		case !v.institutionIDs[pr.Institution]:
			v.add(field(p, "institution"), "unknown institution %q", pr.Institution)
		}
		if v.id(field(p, "name"), pr.Name) && v.institutionIDs[pr.Institution] && pr.ID != "" && pr.ID != pr.Institution+"."+pr.Name {
			v.add(field(p, "id"), "%q must be %q (institution.name)", pr.ID, pr.Institution+"."+pr.Name)
		}
		v.oneOf(field(p, "kind"), pr.Kind, ProductKinds, false)
		v.nonNegative(field(p, "credit_limit_fen"), pr.CreditLimitFen)
		v.nonNegative(field(p, "balance_cap_fen"), pr.BalanceCapFen)
		if pr.CreditLimitFen > 0 && pr.Kind != ProductCredit {
			v.add(field(p, "credit_limit_fen"), "is only meaningful for kind credit")
		}
		v.oneOf(field(p, "holder_kind"), pr.HolderKind, HolderKinds, true)
		for j, h := range pr.Holders {
			if !v.holderIDs[h] {
				v.add(elem(field(p, "holders"), j), "unknown holder %q", h)
			}
		}
		v.tiers(field(p, "tiers"), pr.Tiers)
	}
}

func (v *validator) tiers(path string, tiers []Tier) {
	names := map[string]bool{}
	for i, t := range tiers {
		p := elem(path, i)
		switch {
		case strings.TrimSpace(t.Name) == "":
			v.add(field(p, "name"), "must not be empty")
		case names[t.Name]:
			v.add(field(p, "name"), "duplicate tier name %q", t.Name)
		}
		names[t.Name] = true
		v.kyc(field(p, "min_kyc_level"), t.MinKYCLevel)
		v.nonNegative(field(p, "balance_cap_fen"), t.BalanceCapFen)
		v.limits(field(p, "limits"), t.Limits)
	}
}

func (v *validator) nonNegative(path string, n int64) {
	if n < 0 {
		v.add(path, "must be ≥ 0")
	}
}

// limitOrder is the order limits must respect where set: a transaction fits a
// day, a day a month, and so on.
var limitOrder = []struct {
	name string
	get  func(Limits) int64
}{
	{"min_fen", func(l Limits) int64 { return l.MinFen }},
	{"per_txn_fen", func(l Limits) int64 { return l.PerTxnFen }},
	{"per_day_fen", func(l Limits) int64 { return l.PerDayFen }},
	{"per_month_fen", func(l Limits) int64 { return l.PerMonthFen }},
	{"per_year_fen", func(l Limits) int64 { return l.PerYearFen }},
	{"lifetime_fen", func(l Limits) int64 { return l.LifetimeFen }},
}

func (v *validator) limits(path string, l Limits) {
	prevName, prev := "", int64(0)
	for _, o := range limitOrder {
		n := o.get(l)
		if n < 0 {
			v.add(field(path, o.name), "must be ≥ 0 (0 means no limit)")
			continue
		}
		if n == 0 {
			continue
		}
		if prevName != "" && n < prev {
			v.add(field(path, o.name), "%d is less than %s (%d); a larger period must allow at least as much", n, prevName, prev)
		}
		prevName, prev = o.name, n
	}
	v.nonNegative(field(path, "per_day_count"), l.PerDayCount)
}

func (v *validator) channels() {
	v.channelIDs = map[string]bool{}
	for i := range v.e.Channels {
		v.channel(elem("channels", i), &v.e.Channels[i])
	}
}

func (v *validator) channel(p string, c *Channel) {
	v.id(field(p, "id"), c.ID)
	v.unique(v.channelIDs, field(p, "id"), "channel", c.ID)
	v.oneOf(field(p, "kind"), c.Kind, ChannelKinds, false)
	v.productRef(field(p, "from"), c.From)
	v.productRef(field(p, "to"), c.To)
	if c.From != "" && c.From == c.To && !c.Requires.OtherHolder {
		v.add(field(p, "to"), "must differ from from (%q) unless requires.other_holder is true (a transfer to another holder's account of the same product)", c.From)
	}
	v.institutionRef(field(p, "institution"), c.Institution)
	for j, via := range c.Via {
		v.institutionRef(elem(field(p, "via"), j), via)
	}
	if err := c.Fee.Validate(); err != nil {
		if fe, ok := err.(*money.FieldError); ok {
			v.add(field(field(p, "fee"), fe.Field), "%s", fe.Reason)
		} else {
			v.add(field(p, "fee"), "%s", err)
		}
	}
	v.limits(field(p, "limits"), c.Limits)
	v.latency(field(p, "latency"), c.Latency)
	if !(c.Success > 0 && c.Success <= 1) {
		v.add(field(p, "success"), "%v must be a probability in (0, 1]", c.Success)
	}
	v.kyc(field(p, "requires.kyc_level"), c.Requires.KYCLevel)
	if c.Requires.SameHolder && c.Requires.OtherHolder {
		v.add(field(p, "requires.other_holder"), "contradicts same_holder: a hop cannot require both")
	}
	if c.Effort < 0 || c.Effort > MaxEffort {
		v.add(field(p, "effort"), "must be between 0 and %d (0 means the default, 1)", MaxEffort)
	}
	for j, app := range c.Apps {
		if strings.TrimSpace(app) == "" {
			v.add(elem(field(p, "apps"), j), "must name an app")
		}
	}
	if !c.ValidFrom.IsZero() && !c.ValidUntil.IsZero() && !c.ValidFrom.Before(c.ValidUntil) {
		v.add(field(p, "valid_until"), "must be later than valid_from (%s)", c.ValidFrom.Format(time.RFC3339))
	}
}

func (v *validator) productRef(path, id string) {
	switch {
	case id == "":
		v.add(path, "must name a product (institution.name)")
	case !v.productIDSet[id]:
		v.add(path, "unknown product %q%s", id, didYouMean(suggest(id, v.productIDs())))
	}
}

func (v *validator) productIDs() []string {
	ids := make([]string, 0, len(v.e.Products))
	for _, p := range v.e.Products {
		ids = append(ids, p.ID)
	}
	return ids
}

func (v *validator) institutionRef(path, id string) {
	switch {
	case id == "":
		v.add(path, "must name an institution")
	case !v.institutionIDs[id]:
		v.add(path, "unknown institution %q", id)
	}
}

// didYouMean renders suggestions as " (did you mean "a" or "b"?)".
func didYouMean(names []string) string {
	if len(names) == 0 {
		return ""
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return " (did you mean " + strings.Join(quoted, " or ") + "?)"
}

// latencyFields says which Latency fields each distribution uses.
var latencyFields = map[string][]string{
	LatencyInstant:   {},
	LatencyFixed:     {"p50"},
	LatencyLogNormal: {"p50", "p95", "min"},
	LatencyUniform:   {"min", "max"},
}

func (v *validator) latency(path string, l Latency) {
	v.oneOf(field(path, "dist"), l.Dist, LatencyDists, false)
	values := map[string]time.Duration{"p50": l.P50, "p95": l.P95, "min": l.Min, "max": l.Max}
	for _, name := range []string{"p50", "p95", "min", "max"} {
		d := values[name]
		switch {
		case d < 0:
			v.add(field(path, name), "must be ≥ 0")
		case d > MaxLatency:
			v.add(field(path, name), "%s is longer than the %s limit", d, MaxLatency)
		case d != 0 && l.Dist != "" && latencyFields[l.Dist] != nil && !slices.Contains(latencyFields[l.Dist], name):
			v.add(field(path, name), "is not used by dist %s (it uses %s)", l.Dist, usesList(latencyFields[l.Dist]))
		}
	}
	switch l.Dist {
	case LatencyLogNormal:
		if l.P50 <= 0 {
			v.add(field(path, "p50"), "must be > 0 for a lognormal (its median)")
		}
		if l.P95 <= l.P50 {
			v.add(field(path, "p95"), "must be greater than p50 (%s) for a lognormal", l.P50)
		}
	case LatencyUniform:
		if l.Max < l.Min {
			v.add(field(path, "max"), "must be ≥ min (%s)", l.Min)
		}
	}
}

func usesList(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func (v *validator) rules() {
	seen := map[string]bool{}
	for i, r := range v.e.Rules {
		p := elem("rules", i)
		v.id(field(p, "id"), r.ID)
		v.unique(seen, field(p, "id"), "rule", r.ID)
		v.oneOf(field(p, "scope"), r.Scope, RuleScopes, false)
		v.oneOf(field(p, "effect"), r.Effect, RuleEffects, false)
		for _, f := range []struct{ name, value, what string }{
			{"when", r.When, "a CEL expression that is true when the rule applies"},
			{"citation", r.Citation, "the regulation and article the rule enforces"},
			{"message", r.Message, "one sentence a holder understands"},
		} {
			if strings.TrimSpace(f.value) == "" {
				v.add(field(p, f.name), "must not be empty: %s", f.what)
			}
		}
		if r.Advisory && r.Effect != EffectRefuse {
			v.add(field(p, "advisory"), "only applies to effect refuse")
		}
	}
}

func (v *validator) calibration() {
	seen := map[string]bool{}
	for i, c := range v.e.Calibration {
		p := elem("calibration", i)
		switch {
		case strings.TrimSpace(c.Name) == "":
			v.add(field(p, "name"), "must not be empty")
		case seen[c.Name]:
			v.add(field(p, "name"), "duplicate calibration target %q", c.Name)
		}
		seen[c.Name] = true
		if !isIdent(c.Metric) {
			v.add(field(p, "metric"), "must name a metric such as time_mean_s, cost_ratio or failure_rate")
		}
		v.query(field(p, "query"), c.Query)
		for j, ch := range c.Channels {
			if !v.channelIDs[ch] {
				v.add(elem(field(p, "channels"), j), "unknown channel %q", ch)
			}
		}
		if c.Hop < 0 || (len(c.Channels) > 0 && c.Hop > len(c.Channels)) {
			v.add(field(p, "hop"), "must be between 0 (the whole route) and the number of channels (%d)", len(c.Channels))
		}
		if c.Tolerance < 0 {
			v.add(field(p, "tolerance"), "must be ≥ 0")
		}
		if c.Quantile != nil && !(*c.Quantile >= 0 && *c.Quantile <= 1) {
			v.add(field(p, "quantile"), "%v must be a probability in [0, 1]", *c.Quantile)
		}
		if c.Min != nil && c.Max != nil && *c.Min > *c.Max {
			v.add(field(p, "max"), "must be ≥ min (%v)", *c.Min)
		}
	}
}

func (v *validator) query(path string, q Query) {
	v.productRef(field(path, "from"), q.From)
	v.productRef(field(path, "to"), q.To)
	if _, err := money.ParseYuan(q.AmountYuan); err != nil {
		v.add(field(path, "amount"), "%s", err)
	}
	if q.ToHolder != "" && !v.holderIDs[q.ToHolder] {
		v.add(field(path, "to_holder"), "unknown holder %q", q.ToHolder)
	}
	v.oneOf(field(path, "objective"), q.Objective, Objectives, true)
}
