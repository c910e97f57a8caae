package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/route"
)

// The route command's --credit-share flag: plain planning has no ledger, so
// the source balance's credit-derived share (which pay reads from the
// ledger) is given by hand. It lives here, added to the command route.go
// builds, and takes over the command's run only when it is given.
func init() {
	var c *cobra.Command
	for _, sub := range root.Commands() {
		if sub.Name() == "route" {
			c = sub
		}
	}
	if c == nil {
		panic("route_credit.go: no route command to add --credit-share to")
	}
	c.Flags().String("credit-share", "", "percent of the source balance that is credit-derived, 0 to 100 (e.g. 30 or 23.07); what pay reads from the ledger")
	c.Long += `

--credit-share PCT says how much of the money in the source account is
credit-derived (provenance: money drawn on a credit line into a balance stays
credit when it moves on). The rules see it as hop.credit_share_bps and
route.credit_share_bps, so a cash-out split in two (Huabei into the Alipay
balance under --policy advisory, then the balance to a bank card) is refused
on its second step as it is in 'paybridge pay', which reads the share from the
ledger. A credit-line source is all credit whatever this says.`
	c.Example += `

  # The second step of a split cash-out: a balance that is 30% Huabei money, to a bank card
  paybridge route --from alipay.balance --to icbc.debit --amount 1000 --credit-share 30`
	plain := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if !cmd.Flags().Changed("credit-share") {
			return plain(cmd, args)
		}
		return runRouteCredit(cmd)
	}
}

// parseCreditShare turns a percentage with at most two decimals into basis
// points (exactly: percent × 100, as yuan × 100 is fen).
func parseCreditShare(s string) (int64, error) {
	bps, err := money.ParseYuan(strings.TrimSpace(s))
	if err != nil || bps < 0 || bps > money.BasisPointsPerUnit {
		return 0, usageErrorf("--credit-share %q: must be a percentage from 0 to 100 with at most two decimals", s)
	}
	return bps, nil
}

// runRouteCredit is runRoute with the query's CreditShareBps set from
// --credit-share; the other flags are read back from the command.
func runRouteCredit(cmd *cobra.Command) error {
	fl := cmd.Flags()
	share, err := parseCreditShare(mustFlag(fl.GetString("credit-share")))
	if err != nil {
		return err
	}
	f := routeFlags{
		from: mustFlag(fl.GetString("from")), to: mustFlag(fl.GetString("to")), amount: mustFlag(fl.GetString("amount")),
		fromHolder: mustFlag(fl.GetString("from-holder")), toHolder: mustFlag(fl.GetString("to-holder")),
		objective: mustFlag(fl.GetString("objective")), policy: mustFlag(fl.GetString("policy")), at: mustFlag(fl.GetString("at")),
		ecosystem: mustFlag(fl.GetString("ecosystem")), routeID: mustFlag(fl.GetString("route")),
		maxHops: mustFlag(fl.GetInt("max-hops")), seed: mustFlag(fl.GetUint64("seed")), asJSON: mustFlag(fl.GetBool("json")),
	}
	q, err := f.query()
	if err != nil {
		return err
	}
	q.CreditShareBps = share
	eco, rules, err := planningWorld(cmd.ErrOrStderr(), f.ecosystem, q.Policy)
	if err != nil {
		return err
	}
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
	if share > 0 {
		fmt.Fprintf(out, "source balance %s%% credit-derived (--credit-share)\n", money.FormatYuan(share))
	}
	return route.WriteTable(out, res)
}

// mustFlag returns a flag value the route command defines; a missing one
// is a programming error caught by every test that runs the command.
func mustFlag[T any](v T, err error) T {
	if err != nil {
		panic("route --credit-share: " + err.Error())
	}
	return v
}
