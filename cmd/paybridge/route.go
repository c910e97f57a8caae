package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/route"
)

// routeFlags are `paybridge route`'s flags.
type routeFlags struct {
	from, to, amount      string
	fromHolder, toHolder  string
	objective, policy, at string
	ecosystem, routeID    string
	maxHops               int
	seed                  uint64
	asJSON                bool
}

func init() {
	var f routeFlags
	cmd := &cobra.Command{
		Use:   "route --from PRODUCT --to PRODUCT --amount YUAN",
		Short: "Find every route that moves money between two accounts, ranked and explained",
		Long: `route searches every way to move an amount from one account product to
another through the ecosystem's channels (top-ups, withdrawals, transfers,
inter-bank transfers, payments, intermediaries), up to --max-hops hops.

For each route it reports the hops (channel, institution, app, fee, time
p50–p95, success), the amount sent and delivered, the total fee and cost ratio,
the time mean/p50/p95 (hop distributions combined; with --at, clearing windows
make hops wait), the success probability, the number of app switches, and the
compliance verdict: allowed, warned or refused, with each rule's id, citation
and a one-sentence explanation. A hop over a channel the world tags unverified
(no public source found) is marked [unverified], and the table ends with
Sources: every channel and product used, once, with the world's note and the
dates it is in force (--json: each hop's source and unverified, and sources).

Without --at the plan is for now (this computer's clock): a channel whose
valid_from is later or whose valid_until has passed — a fee or limit no
longer, or not yet, in force — is left out, and a note on stderr names it.
Clearing windows apply only with an explicit --at, so an undated plan's times
do not depend on the hour you ask. With --at, the channels in force at that
time are used and hops wait for clearing windows.

A route is kept unless another is at least as good on fee, mean time, failure
probability, app switches and preconditions (such as applying for a service)
and better on one. Allowed and warned routes come first, ranked by --objective
(balanced: a weighted normalised score, see docs/planner.md); refused routes
follow, the best for each distinct set of reasons, so you learn why they are
refused. When consumer credit has no allowed route, the plan for your own
money at the same institution (e.g. alipay.balance) follows.

Products are named institution.product (paybridge ecosystem show lists them);
the amount is in yuan with at most two decimals. Money belongs to the
ecosystem's default holder ("me") unless --from-holder names another, and goes
to the same holder unless --to-holder names another (e.g. "friend").`,
		Example: `  # Can Huabei credit be moved to a friend's WeChat change? (No: why, and what it would cost)
  paybridge route --from alipay.huabei --to wechat.change --to-holder friend --amount 1000

  # The legal alternatives for your own Alipay balance, cheapest first
  paybridge route --from alipay.balance --to wechat.change --amount 1000 --objective cost

  # The real-world answer (public facts), with where each figure comes from
  paybridge route --ecosystem cn-facts --from alipay.balance --to wechat.change --amount 1000

  # Friday evening: clearing windows make bank hops wait
  paybridge route --from alipay.balance --to wechat.change --amount 1000 --at 2023-05-05T18:30:00+08:00

  # Machine-readable output
  paybridge route --from alipay.balance --to wechat.change --amount 1000 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRoute(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "product the money is in, e.g. alipay.huabei (required)")
	fl.StringVar(&f.to, "to", "", "product the money should reach, e.g. wechat.change (required)")
	fl.StringVar(&f.amount, "amount", "", "amount in yuan, e.g. 1000 or 12.34 (required)")
	fl.StringVar(&f.fromHolder, "from-holder", "", "holder whose money it is (default: the ecosystem's default holder)")
	fl.StringVar(&f.toHolder, "to-holder", "", "holder who should receive it (default: the same holder)")
	fl.StringVar(&f.objective, "objective", "balanced", "ranking: cost, time, reliability, effort or balanced")
	fl.StringVar(&f.policy, "policy", "strict", "strict refuses cash-out; advisory only warns about it")
	fl.StringVar(&f.at, "at", "", "start time, RFC 3339 (e.g. 2023-05-05T18:30:00+08:00); clearing windows apply (default: now, for which channels are in force only)")
	fl.IntVar(&f.maxHops, "max-hops", route.DefaultMaxHops, fmt.Sprintf("longest route in hops, 1 to %d", route.MaxHopsCap))
	fl.StringVar(&f.ecosystem, "ecosystem", "", "bundled world name or ecosystem file (default cn-2023)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the time-quantile samples (same seed, same output)")
	fl.StringVar(&f.routeID, "route", "", "show only the route with this id")
	fl.BoolVar(&f.asJSON, "json", false, `print {"query":{…},"routes":[…]} (see docs/planner.md)`)
	root.AddCommand(cmd)
}

func runRoute(cmd *cobra.Command, f routeFlags) error {
	q, err := f.query()
	if err != nil {
		return err
	}
	eco, rules, err := planningWorld(cmd.ErrOrStderr(), f.ecosystem, q.Policy)
	if err != nil {
		return err
	}
	eco = plannedNow(cmd.ErrOrStderr(), eco, q.At)
	res, err := route.Plan(eco, q, rules)
	if err != nil {
		return routeQueryError(err)
	}
	if f.routeID != "" {
		if res, err = pickRoute(res, f.routeID); err != nil {
			return err
		}
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		return writeRouteJSON(out, res)
	}
	return route.WriteTable(out, res)
}

// query checks the flags that need no ecosystem and builds the query.
func (f routeFlags) query() (route.Query, error) {
	for _, req := range []struct{ name, value string }{{"--from", f.from}, {"--to", f.to}, {"--amount", f.amount}} {
		if strings.TrimSpace(req.value) == "" {
			return route.Query{}, usageErrorf("%s is required", req.name)
		}
	}
	amount, err := money.ParseYuan(f.amount)
	if err != nil {
		return route.Query{}, usageErrorf("--amount: %v", err)
	}
	objective, err := route.ParseObjective(f.objective)
	if err != nil {
		return route.Query{}, usageErrorf("--objective %q is not one of cost, time, reliability, effort, balanced", f.objective)
	}
	policy, err := compliance.ParsePolicy(f.policy)
	if err != nil {
		return route.Query{}, usageErrorf("--policy %q is not one of strict, advisory", f.policy)
	}
	if f.maxHops < 1 || f.maxHops > route.MaxHopsCap {
		return route.Query{}, usageErrorf("--max-hops %d must be between 1 and %d", f.maxHops, route.MaxHopsCap)
	}
	q := route.Query{
		From: f.from, To: f.to, AmountFen: amount, FromHolder: f.fromHolder, ToHolder: f.toHolder,
		Objective: objective, Policy: policy, MaxHops: f.maxHops, Seed: f.seed,
	}
	if f.at != "" {
		if q.At, err = time.Parse(time.RFC3339, f.at); err != nil {
			return route.Query{}, usageErrorf("--at %q is not an RFC 3339 time such as 2023-05-05T18:30:00+08:00", f.at)
		}
	}
	return q, nil
}

// routeClock is the clock an undated query plans for; tests replace it.
var routeClock clock.Clock = clock.Real{}

// plannedNow returns the world an undated query (at zero) plans in: eco
// without the channels not in force at routeClock's now, with a note on
// stderr naming each channel left out. With a time given, the planner itself
// keeps only the channels in force then, so eco is returned as it is.
func plannedNow(stderr io.Writer, eco *ecosystem.Ecosystem, at time.Time) *ecosystem.Ecosystem {
	if !at.IsZero() {
		return eco
	}
	now := routeClock.Now()
	inForce, left := channelsInForce(eco, now)
	for _, ch := range left {
		fmt.Fprintf(stderr, "note: channel %s is not in force on %s (%s); planning without it (give --at to plan for another time)\n",
			ch.ID, now.Format(time.DateOnly), validityText(ch))
	}
	return inForce
}

// channelsInForce returns a shallow copy of eco holding only the channels
// in force at t (valid_from ≤ t < valid_until, an unset bound being open), and
// the channels it left out; eco itself when none is left out.
func channelsInForce(eco *ecosystem.Ecosystem, t time.Time) (*ecosystem.Ecosystem, []ecosystem.Channel) {
	var kept, left []ecosystem.Channel
	for _, ch := range eco.Channels {
		if (!ch.ValidFrom.IsZero() && t.Before(ch.ValidFrom)) || (!ch.ValidUntil.IsZero() && !t.Before(ch.ValidUntil)) {
			left = append(left, ch)
			continue
		}
		kept = append(kept, ch)
	}
	if len(left) == 0 {
		return eco, nil
	}
	cp := *eco
	cp.Channels = kept
	cp.Reindex()
	return &cp, left
}

func validityText(ch ecosystem.Channel) string {
	switch {
	case !ch.ValidFrom.IsZero() && !ch.ValidUntil.IsZero():
		return "in force from " + ch.ValidFrom.Format(time.DateOnly) + " until " + ch.ValidUntil.Format(time.DateOnly)
	case !ch.ValidFrom.IsZero():
		return "in force from " + ch.ValidFrom.Format(time.DateOnly)
	}
	return "in force until " + ch.ValidUntil.Format(time.DateOnly)
}

// planningWorld loads the ecosystem and compiles its rules under the
// policy: the one place the route command meets the loader and the rules engine.
func planningWorld(stderr io.Writer, name string, policy compliance.Policy) (*ecosystem.Ecosystem, route.RuleChecker, error) {
	eco, err := resolveEcosystemFlag(stderr, "--ecosystem", name)
	if err != nil {
		return nil, nil, err
	}
	checker, err := compliance.NewChecker(eco.Rules, policy)
	if err != nil {
		return nil, nil, usageErrorf("--ecosystem %s: rules: %s", displayEcosystem(name), strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return eco, checker, nil
}

// routeQueryError names the flag behind a planner query error.
func routeQueryError(err error) error {
	var qe *route.QueryError
	if !errors.As(err, &qe) {
		return err
	}
	flag := map[string]string{
		"from": "--from", "to": "--to", "amount": "--amount", "from_holder": "--from-holder",
		"to_holder": "--to-holder", "objective": "--objective", "policy": "--policy",
		"max_hops": "--max-hops", "at": "--at", "ecosystem": "--ecosystem",
	}[qe.Field]
	if flag == "" {
		flag = qe.Field
	}
	msg := strings.TrimPrefix(qe.Error(), qe.Field+": ")
	return usageErrorf("%s: %s", flag, msg)
}

// pickRoute keeps only the route with the given id, from the plan or from
// its alternative (whose query it then shows).
func pickRoute(res *route.Result, id string) (*route.Result, error) {
	var ids []string
	for _, r := range []*route.Result{res, res.Alternative} {
		if r == nil {
			continue
		}
		for _, rt := range r.Routes {
			if rt.ID == id {
				picked := *r
				picked.Routes, picked.Alternative = []route.Route{rt}, nil
				picked.Sources = picked.UsedSources()
				return &picked, nil
			}
			ids = append(ids, rt.ID)
		}
	}
	return nil, usageErrorf("--route %q is not one of this query's routes (%s)", id, strings.Join(ids, ", "))
}

func writeRouteJSON(w io.Writer, res *route.Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}
