package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/route"
)

// payFlags are `paybridge pay`'s flags.
type payFlags struct {
	from, to, amount     string
	fromHolder, toHolder string
	routeID, channels    string
	objective, policy    string
	onFailure, clockSpec string
	at, down, key        string
	seed                 uint64
	failHop              int
	timeScale            float64
	asJSON               bool
	world                worldFlags
	risk                 riskFlags
}

func init() {
	var f payFlags
	cmd := &cobra.Command{
		Use:   "pay --from PRODUCT --to PRODUCT --amount YUAN",
		Short: "Move money along a route on the ledger and print its timeline",
		Long: `pay plans (or takes the pinned) route and executes it on the ledger hop by
hop, as the institutions would: each hop holds the money with pending
transfers (the holder's debit, the operator's fee, the settlement between the
two institutions' books through the clearing house), then posts them when the
hop's clearing delay has passed or voids them when the hop fails. Delays and
failures are drawn from each channel's latency distribution and success
probability with --seed, so the same seed gives the same timeline.

When a hop fails, --on-failure refund (the default) reverses the hops already
posted back to the origin (fees back only where the channel refunds them);
--on-failure strand leaves the money visibly at the last account it reached,
for 'paybridge payments resume' or 'payments refund'. Every payment ends
completed, refunded, stranded or rejected (refused by a rule, a limit, or
missing funds, with nothing moved). Exit status: 0 completed, 1 any other
state, 2 bad usage.

--risk on runs the risk engine inline (off by default): at start it replays
every payment already in the ledger into the engine (the same windows and
graph 'paybridge risk watch' builds), then asks it before each hop holds
money, with the hops this payment already posted taken in. A rule whose
actions include refuse or freeze refuses the hop (compensated like a
failure; rejected at hop 1); one with hold holds the payment (state held,
nothing pending, until 'payments resume' or 'payments refund'); review,
report and the like let it run. The timeline names the rule and why
("risk: RULE: score …, feature=value …; pattern with …"). --risk-rules
takes another rule file; --risk-cases FILE also files the alerts of this
run's hops into that case database (see 'paybridge risk cases').

The ledger is the SQLite file --db (paybridge.db here by default). On first
use it is seeded: every account of every holder, and each person's
stored-value and deposit accounts opened with --fund yuan (10000) from their
institution's external account. --clock virtual (the default) finishes at
once; scaled:N runs N times faster than real time; real waits the real
delays. A payment interrupted mid-hop is finished by 'paybridge payments
recover'.`,
		Example: `  # Your Alipay balance to your WeChat change, best allowed route
  paybridge pay --from alipay.balance --to wechat.change --amount 1000
  # A pinned 4-hop route to a friend, with hop 3 forced to fail (refunded)
  paybridge pay --from alipay.balance --to wechat.change --to-holder friend --amount 1000 \
    --channels alipay_withdraw,quickpass_icbc_to_cmb,cmb_topup_wechat,wechat_transfer --fail-hop 3
  # The same, leaving the money stranded, then finishing it
  paybridge pay ... --fail-hop 3 --on-failure strand && paybridge payments resume p000002
  # One simulated hour every 6 s, machine-readable
  paybridge pay --from alipay.balance --to cmb.debit --amount 500 --clock scaled:600 --json
  # With the risk engine asked before each hop (held or refused payments exit 1)
  paybridge pay --risk on --from alipay.balance --to alipay.balance --to-holder friend --amount 200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPay(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "product the money is in, e.g. alipay.balance (required)")
	fl.StringVar(&f.to, "to", "", "product the money should reach, e.g. wechat.change (required)")
	fl.StringVar(&f.amount, "amount", "", "amount in yuan, e.g. 1000 or 12.34 (required)")
	fl.StringVar(&f.fromHolder, "from-holder", "", "holder whose money it is (default: the ecosystem's default holder)")
	fl.StringVar(&f.toHolder, "to-holder", "", "holder who should receive it (default: the same holder)")
	fl.StringVar(&f.routeID, "route", "", "route id from 'paybridge route' to take (default: the best allowed one)")
	fl.StringVar(&f.channels, "channels", "", "comma-separated channel ids of the route to take")
	fl.StringVar(&f.objective, "objective", "balanced", "ranking when no route is pinned: cost, time, reliability, effort or balanced")
	fl.StringVar(&f.policy, "policy", "strict", "compliance policy: strict refuses cash-out; advisory only warns")
	fl.StringVar(&f.onFailure, "on-failure", payment.OnFailureRefund, "when a hop fails: refund (reverse to the origin) or strand (leave it at the last account)")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of every draw (hop delays and failures)")
	fl.StringVar(&f.clockSpec, "clock", "virtual", "virtual (finishes at once), scaled:N (N× real time) or real")
	fl.Float64Var(&f.timeScale, "time-scale", 0, "shorthand for --clock scaled:N (600: one simulated hour every 6 s)")
	fl.StringVar(&f.at, "at", "", "start time, RFC 3339 (default: virtual 2023-05-05T10:00:00+08:00 or after the ledger's last event; otherwise now)")
	fl.StringVar(&f.key, "key", "", "idempotency key: repeating a request with the same key shows the first payment and moves nothing")
	fl.IntVar(&f.failHop, "fail-hop", 0, "force the first attempt of this hop (1-based) to fail (a test hook)")
	fl.StringVar(&f.down, "down", "", "comma-separated institutions to mark down (their hops fail)")
	fl.BoolVar(&f.asJSON, "json", false, `print {"id","state","route":{…},"events":[…],"delivered_fen","fee_fen"}`)
	f.world.register(fl)
	f.risk.register(fl)
	root.AddCommand(cmd)
}

// request checks the flags that need no ledger and builds the request.
func (f payFlags) request() (payment.Request, error) {
	for _, req := range []struct{ name, value string }{{"--from", f.from}, {"--to", f.to}, {"--amount", f.amount}} {
		if strings.TrimSpace(req.value) == "" {
			return payment.Request{}, usageErrorf("%s is required", req.name)
		}
	}
	amount, err := money.ParseYuan(f.amount)
	if err != nil {
		return payment.Request{}, usageErrorf("--amount: %v", err)
	}
	objective, err := route.ParseObjective(f.objective)
	if err != nil {
		return payment.Request{}, usageErrorf("--objective %q is not one of cost, time, reliability, effort, balanced", f.objective)
	}
	if f.onFailure != payment.OnFailureRefund && f.onFailure != payment.OnFailureStrand {
		return payment.Request{}, usageErrorf("--on-failure %q is not refund or strand", f.onFailure)
	}
	if f.failHop < 0 {
		return payment.Request{}, usageErrorf("--fail-hop %d: must be a hop number from 1 (0: none)", f.failHop)
	}
	if f.routeID != "" && f.channels != "" {
		return payment.Request{}, usageErrorf("--route and --channels: give one of them")
	}
	req := payment.Request{From: f.from, To: f.to, AmountFen: amount, FromHolder: f.fromHolder, ToHolder: f.toHolder,
		RouteID: f.routeID, Objective: objective, OnFailure: f.onFailure, Seed: f.seed, FailHop: f.failHop, Key: f.key}
	if f.channels != "" {
		req.Channels = strings.Split(f.channels, ",")
	}
	if f.at != "" {
		if req.At, err = time.Parse(time.RFC3339, f.at); err != nil {
			return payment.Request{}, usageErrorf("--at %q is not an RFC 3339 time such as 2023-05-05T10:00:00+08:00", f.at)
		}
	}
	return req, nil
}

func runPay(cmd *cobra.Command, f payFlags) error {
	req, err := f.request()
	if err != nil {
		return err
	}
	if f.timeScale != 0 {
		if cmd.Flags().Changed("clock") {
			return usageErrorf("--time-scale and --clock: give one of them")
		}
		f.clockSpec = "scaled:" + strconv.FormatFloat(f.timeScale, 'g', -1, 64)
	}
	spec, err := clock.ParseSpec(f.clockSpec)
	if err != nil {
		return usageErrorf("--clock: %v", err)
	}
	policy, err := compliance.ParsePolicy(f.policy)
	if err != nil {
		return usageErrorf("--policy %q is not one of strict, advisory", f.policy)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	g, err := f.risk.guard()
	if err != nil {
		return err
	}
	if g != nil {
		f.world.guard = g
	}
	w, err := openWorld(ctx, cmd, f.world, policy, spec, false, false, req.At)
	if err != nil {
		return err
	}
	defer w.close()
	if g != nil {
		if err := g.begin(ctx, w); err != nil {
			return err
		}
	}
	for _, inst := range strings.Split(f.down, ",") {
		if inst = strings.TrimSpace(inst); inst == "" {
			continue
		}
		if _, ok := w.eco.Institution(inst); !ok {
			return usageErrorf("--down: unknown institution %q", inst)
		}
		w.x.SetDown(inst, true)
	}
	p, err := w.x.Create(ctx, req)
	if err != nil {
		return payError(err)
	}
	if !f.asJSON {
		fmt.Fprintf(cmd.ErrOrStderr(), "payment %s created; running on the %s clock\n", p.ID, spec)
	}
	if p, err = w.x.Run(ctx, p.ID); err != nil {
		return err
	}
	if g != nil {
		if err := g.finish(ctx); err != nil {
			return err
		}
		if g.filed > 0 {
			fmt.Fprintf(cmd.ErrOrStderr(), "risk: %d alerts filed into %s\n", g.filed, f.risk.cases)
		}
	}
	return printPayment(cmd.OutOrStdout(), p, f.asJSON)
}
