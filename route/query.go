package route

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
)

// QueryError is a query field that is wrong, why, and near names when the
// field names something unknown.
type QueryError struct {
	Field       string   // from, to, amount, from_holder, to_holder, objective, policy, max_hops, at, channels
	Reason      string   // one sentence
	Suggestions []string // nearest valid names, if any
}

func (e *QueryError) Error() string {
	msg := e.Field + ": " + e.Reason
	if len(e.Suggestions) > 0 {
		quoted := make([]string, len(e.Suggestions))
		for i, s := range e.Suggestions {
			quoted[i] = strconv.Quote(s)
		}
		msg += " (did you mean " + strings.Join(quoted, " or ") + "?)"
	}
	return msg
}

func queryErr(field, format string, args ...any) *QueryError {
	return &QueryError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseObjective turns "cost", "time", … into an Objective; "" means balanced.
func ParseObjective(s string) (Objective, error) {
	if s == "" {
		return ObjectiveBalanced, nil
	}
	o := Objective(strings.ToLower(strings.TrimSpace(s)))
	if slices.Contains(Objectives, o) {
		return o, nil
	}
	return "", queryErr("objective", "%q is not one of %s", s, objectiveList())
}

func objectiveList() string {
	names := make([]string, len(Objectives))
	for i, o := range Objectives {
		names[i] = string(o)
	}
	return strings.Join(names, ", ")
}

// DefaultCreditPurpose is the purpose of credit-derived money in a
// non-credit source when the query does not say (Query.CreditPurpose).
const DefaultCreditPurpose = "consumption"

// normalized is a validated query with its defaults and resolved references.
type normalized struct {
	Query
	from, to             *ecosystem.Product
	fromHolder, toHolder *ecosystem.Holder
}

// normalize validates q against eco and fills its defaults.
func normalize(eco *ecosystem.Ecosystem, q Query) (*normalized, error) {
	if eco == nil {
		return nil, queryErr("ecosystem", "no ecosystem given")
	}
	n := &normalized{Query: q}
	var err error
	if n.from, err = product(eco, "from", q.From); err != nil {
		return nil, err
	}
	if n.to, err = product(eco, "to", q.To); err != nil {
		return nil, err
	}
	if q.AmountFen <= 0 {
		return nil, queryErr("amount", "must be greater than zero, got %d fen", q.AmountFen)
	}
	if n.fromHolder, err = holder(eco, "from_holder", q.FromHolder, eco.DefaultHolder()); err != nil {
		return nil, err
	}
	n.FromHolder = n.fromHolder.ID
	if n.toHolder, err = holder(eco, "to_holder", q.ToHolder, n.fromHolder); err != nil {
		return nil, err
	}
	n.ToHolder = n.toHolder.ID
	if !canOwn(eco, n.fromHolder, n.from) {
		return nil, queryErr("from_holder", "holder %q has no account of product %s", n.FromHolder, n.from.ID)
	}
	if !canOwn(eco, n.toHolder, n.to) {
		return nil, queryErr("to_holder", "holder %q has no account of product %s", n.ToHolder, n.to.ID)
	}
	if n.from.ID == n.to.ID && n.FromHolder == n.ToHolder {
		return nil, queryErr("to", "is the same account as from (%s of %s): there is nothing to move", n.to.ID, n.ToHolder)
	}
	if n.Objective, err = ParseObjective(string(q.Objective)); err != nil {
		return nil, err
	}
	if n.Policy, err = compliance.ParsePolicy(string(q.Policy)); err != nil {
		return nil, queryErr("policy", "%q is not one of strict, advisory", q.Policy)
	}
	switch {
	case q.MaxHops == 0:
		n.MaxHops = DefaultMaxHops
	case q.MaxHops < 1 || q.MaxHops > MaxHopsCap:
		return nil, queryErr("max_hops", "must be between 1 and %d, got %d", MaxHopsCap, q.MaxHops)
	}
	if q.CreditShareBps < 0 || q.CreditShareBps > money.BasisPointsPerUnit {
		return nil, queryErr("credit_share_bps", "must be between 0 and %d basis points, got %d", money.BasisPointsPerUnit, q.CreditShareBps)
	}
	if n.CreditShareBps > 0 && n.CreditPurpose == "" {
		n.CreditPurpose = DefaultCreditPurpose
	}
	return n, nil
}

func product(eco *ecosystem.Ecosystem, field, id string) (*ecosystem.Product, error) {
	if strings.TrimSpace(id) == "" {
		return nil, queryErr(field, "must name a product (institution.product, e.g. alipay.balance)")
	}
	p, ok := eco.Product(id)
	if !ok {
		e := queryErr(field, "unknown product %q", id)
		e.Suggestions = eco.Suggest(id)
		return nil, e
	}
	return p, nil
}

func holder(eco *ecosystem.Ecosystem, field, id string, def *ecosystem.Holder) (*ecosystem.Holder, error) {
	if id == "" {
		if def == nil {
			return nil, queryErr(field, "not given and the ecosystem has no default holder")
		}
		return def, nil
	}
	h, ok := eco.Holder(id)
	if !ok {
		ids := make([]string, 0, len(eco.Holders))
		for _, h := range eco.Holders {
			ids = append(ids, h.ID)
		}
		return nil, queryErr(field, "unknown holder %q (holders: %s)", id, strings.Join(ids, ", "))
	}
	return h, nil
}

// canOwn reports whether a holder has an account of a product: the
// product's rules allow it, and, for a holder added at run time, the
// account was opened (ecosystem.HasAccountOf).
func canOwn(eco *ecosystem.Ecosystem, h *ecosystem.Holder, p *ecosystem.Product) bool {
	if !eco.HasAccountOf(h.ID, p.ID) {
		return false
	}
	if len(p.Holders) > 0 && !slices.Contains(p.Holders, h.ID) {
		return false
	}
	if p.HolderKind != "" && p.HolderKind != h.Kind {
		return false
	}
	return len(p.Tiers) == 0 || p.TierFor(h) != nil
}

// info renders the normalized query for a result.
func (n *normalized) info(eco *ecosystem.Ecosystem) QueryInfo {
	qi := QueryInfo{
		Ecosystem: eco.ID, From: n.from.ID, To: n.to.ID, AmountFen: n.AmountFen,
		Amount: money.FormatYuan(n.AmountFen), FromHolder: n.FromHolder, ToHolder: n.ToHolder,
		Objective: string(n.Objective), Policy: string(n.Policy), MaxHops: n.MaxHops, Seed: n.Seed,
		CreditShareBps: n.CreditShareBps,
	}
	if !n.At.IsZero() {
		qi.At = n.At.Format(time.RFC3339)
	}
	return qi
}

// MaxQueryTextBytes is the longest text ParseQuery accepts.
const MaxQueryTextBytes = 4096

// ParseQuery parses a query written as space-separated key=value pairs, as
// scenario files and logs write them:
//
//	from=alipay.huabei to=wechat.change amount=1000 to_holder=friend objective=cost
//
// Keys: from, to, amount (yuan, at most two decimals), from_holder,
// to_holder, objective, policy, at (RFC 3339), max_hops, seed,
// credit_share_bps (0..10000). Each key may
// appear once; from, to and amount are required. The query is not checked
// against an ecosystem; Plan does that.
func ParseQuery(s string) (Query, error) {
	var q Query
	if len(s) > MaxQueryTextBytes {
		return q, queryErr("query", "is %d bytes long; the limit is %d", len(s), MaxQueryTextBytes)
	}
	seen := map[string]bool{}
	for _, tok := range strings.Fields(s) {
		key, val, ok := strings.Cut(tok, "=")
		if !ok || key == "" {
			return Query{}, queryErr("query", "%q is not key=value", tok)
		}
		if seen[key] {
			return Query{}, queryErr(key, "given twice")
		}
		seen[key] = true
		if err := q.set(key, val); err != nil {
			return Query{}, err
		}
	}
	for _, key := range []string{"from", "to", "amount"} {
		if !seen[key] {
			return Query{}, queryErr(key, "is required")
		}
	}
	return q, nil
}

func (q *Query) set(key, val string) error {
	var err error
	switch key {
	case "from":
		q.From = val
	case "to":
		q.To = val
	case "from_holder":
		q.FromHolder = val
	case "to_holder":
		q.ToHolder = val
	case "amount":
		if q.AmountFen, err = money.ParseYuan(val); err != nil {
			return queryErr("amount", "%s", strings.TrimPrefix(err.Error(), strconv.Quote(val)+": "))
		}
	case "objective":
		if q.Objective, err = ParseObjective(val); err != nil {
			return err
		}
	case "policy":
		p, err := compliance.ParsePolicy(val)
		if err != nil {
			return queryErr("policy", "%q is not one of strict, advisory", val)
		}
		q.Policy = p
	case "at":
		if q.At, err = time.Parse(time.RFC3339, val); err != nil {
			return queryErr("at", "%q is not an RFC 3339 time such as 2023-05-04T21:30:00+08:00", val)
		}
	case "max_hops":
		n, err := strconv.Atoi(val)
		if err != nil || n < 1 || n > MaxHopsCap {
			return queryErr("max_hops", "%q must be a whole number between 1 and %d", val, MaxHopsCap)
		}
		q.MaxHops = n
	case "seed":
		if q.Seed, err = strconv.ParseUint(val, 10, 64); err != nil {
			return queryErr("seed", "%q must be a whole number ≥ 0", val)
		}
	case "credit_share_bps":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 || n > money.BasisPointsPerUnit {
			return queryErr("credit_share_bps", "%q must be a whole number of basis points between 0 and %d", val, money.BasisPointsPerUnit)
		}
		q.CreditShareBps = n
	default:
		return queryErr("query", "unknown key %q (keys: from, to, amount, from_holder, to_holder, objective, policy, at, max_hops, seed, credit_share_bps)", key)
	}
	return nil
}
