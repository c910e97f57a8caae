package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/route"
	"github.com/paybridge/paybridge/store/sqlite"
)

// virtualEpoch is where a virtual clock starts on a fresh ledger: a Friday
// morning in the bundled world, so output is the same on every run.
var virtualEpoch = time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// worldFlags are the flags every payment command shares.
type worldFlags struct {
	db, ecosystem, fund string
	// wrapClock, if set, wraps the clock the executor runs on (serve runs
	// it on a clock that never blocks). Not a flag.
	wrapClock func(clock.Clock) clock.Clock
	// guard, when set (not a flag: pay and payments resume set it from
	// --risk), is the executor's inline risk guard.
	guard payment.HopGuard
}

func (w *worldFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&w.db, "db", "paybridge.db", "ledger database file (created and seeded on first use by pay)")
	fl.StringVar(&w.ecosystem, "ecosystem", "", "bundled world name or ecosystem file (default cn-2023); must be the one the ledger was seeded with")
	fl.StringVar(&w.fund, "fund", "10000", "opening balance in yuan of each person's stored-value and deposit accounts, used when the ledger is first seeded")
}

// world is an open ledger with its executor.
type world struct {
	eco   *ecosystem.Ecosystem
	store *sqlite.Store
	led   *ledger.Engine
	x     *payment.Executor
}

func (w *world) close() {
	w.led.Close()
	w.store.Close()
}

// openWorld opens (or, unless mustExist, creates and seeds) the ledger and
// the executor on a clock of spec. A virtual clock starts at at, or after
// the ledger's last event, or at virtualEpoch.
//
// readOnly opens the executor read-only (payment.Config.ReadOnly): it
// never writes to the ledger, so listing a ledger never seeds it. The
// SQLite store itself has no read-only open yet, so the file is still
// opened by a writer connection (which takes no lock until it commits).
func openWorld(ctx context.Context, cmd *cobra.Command, f worldFlags, policy compliance.Policy, spec clock.Spec, mustExist, readOnly bool, at time.Time) (*world, error) {
	fund, err := money.ParseYuan(f.fund)
	if err != nil {
		return nil, usageErrorf("--fund: %v", err)
	}
	if fund == 0 {
		fund = -1 // seed no opening balances
	}
	if f.db == "" {
		return nil, usageErrorf("--db: must name a database file")
	}
	eco, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", f.ecosystem)
	if err != nil {
		return nil, err
	}
	rules, err := compliance.NewChecker(eco.Rules, policy)
	if err != nil {
		return nil, usageErrorf("--ecosystem %s: rules: %s", displayEcosystem(f.ecosystem), strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	s, err := sqlite.Open(f.db, sqlite.Options{MustExist: mustExist})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("--db %s: no such file (paybridge pay creates it)", f.db)
	case err != nil:
		return nil, usageErrorf("--db %s: cannot open as a ledger database: %v", f.db, err)
	}
	var clk clock.Clock
	var virtual *clock.Virtual
	var scaled *clock.Scaled
	switch spec.Kind {
	case "virtual":
		virtual = clock.NewVirtual(virtualEpoch)
		clk = virtual
	case "scaled":
		scaled = clock.NewScaled(spec.Scale, at)
		clk = scaled
	default:
		clk = clock.Real{}
	}
	if f.wrapClock != nil {
		clk = f.wrapClock(clk)
	}
	led, err := ledger.Open(ctx, s, clk, ledger.Options{})
	if err != nil {
		s.Close()
		return nil, usageErrorf("--db %s: %v", f.db, err)
	}
	x, err := payment.New(ctx, payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk, OpeningFen: fund, ReadOnly: readOnly, Guard: f.guard})
	if err != nil {
		led.Close()
		s.Close()
		switch {
		case errors.Is(err, payment.ErrOtherEcosystem):
			return nil, usageErrorf("--ecosystem: %v (--db %s)", err, f.db)
		case errors.Is(err, payment.ErrNotSeeded):
			return nil, usageErrorf("--db %s: no payment was ever made with this ledger (paybridge pay makes them)", f.db)
		}
		return nil, err
	}
	if virtual != nil {
		virtual.Set(x.LastEventAt())
		virtual.Set(at)
	}
	if last := x.LastEventAt(); scaled != nil && mustExist && at.IsZero() && !last.IsZero() {
		// Resuming on a scaled clock: simulated time goes on from the last
		// recorded event (the time the process was down is not counted).
		scaled.RealAnchor, scaled.SimAnchor = time.Now(), last
	}
	// The executor's world: the file's, with the holders added to this ledger.
	return &world{eco: x.Ecosystem(), store: s, led: led, x: x}, nil
}

// payError maps a payment request error to a usage error naming the flag.
func payError(err error) error {
	var re *payment.RequestError
	if !errors.As(err, &re) {
		return err
	}
	flag := map[string]string{"from": "--from", "to": "--to", "amount": "--amount", "from_holder": "--from-holder",
		"to_holder": "--to-holder", "route": "--route", "on_failure": "--on-failure", "fail_hop": "--fail-hop",
		"objective": "--objective", "max_hops": "--channels", "key": "--key"}[re.Field]
	if strings.HasPrefix(re.Field, "channels") {
		flag = "--channels"
	}
	if flag == "" {
		flag = re.Field
	}
	return usageErrorf("%s: %s", flag, re.Reason)
}

// eventView is an event as the CLI prints it.
type eventView struct {
	Seq         uint64              `json:"seq,omitempty"`
	Payment     string              `json:"payment,omitempty"`
	At          string              `json:"at"`
	Type        string              `json:"type"`
	Hop         int                 `json:"hop"`
	TransferIDs []ledger.TransferID `json:"transfer_ids"`
	Reason      string              `json:"reason,omitempty"`
	AmountFen   int64               `json:"amount_fen,omitempty"`
	FeeFen      int64               `json:"fee_fen,omitempty"`
	Due         string              `json:"due,omitempty"`
}

func viewEvent(e payment.Event, withPayment bool) eventView {
	v := eventView{At: e.At.Format(time.RFC3339Nano), Type: e.Type, Hop: e.Hop, TransferIDs: e.TransferIDs,
		Reason: e.Reason, AmountFen: e.AmountFen, FeeFen: e.FeeFen}
	if e.Due != nil {
		v.Due = e.Due.Format(time.RFC3339Nano)
	}
	if withPayment {
		v.Seq, v.Payment = e.Seq, e.Payment
	}
	return v
}

// paymentView is what pay --json and payments show --json print.
type paymentView struct {
	ID           string       `json:"id"`
	State        string       `json:"state"`
	Reason       string       `json:"reason,omitempty"`
	From         string       `json:"from"`
	To           string       `json:"to"`
	FromHolder   string       `json:"from_holder"`
	ToHolder     string       `json:"to_holder"`
	AmountFen    int64        `json:"amount_fen"`
	Seed         uint64       `json:"seed"`
	OnFailure    string       `json:"on_failure"`
	Route        *route.Route `json:"route"`
	Events       []eventView  `json:"events"`
	DeliveredFen int64        `json:"delivered_fen"`
	FeeFen       int64        `json:"fee_fen"`
	RefundedFen  int64        `json:"refunded_fen"`
}

func viewPayment(p *payment.Payment) paymentView {
	v := paymentView{ID: p.ID, State: p.State, Reason: p.Reason, From: p.Spec.From, To: p.Spec.To,
		FromHolder: p.Spec.FromHolder, ToHolder: p.Spec.ToHolder, AmountFen: p.Spec.AmountFen, Seed: p.Spec.Seed,
		OnFailure: p.Spec.OnFailure, Route: p.Spec.Route, Events: []eventView{},
		DeliveredFen: p.DeliveredFen(), FeeFen: p.FeeFen(), RefundedFen: p.RefundedFen()}
	for _, e := range p.Events {
		v.Events = append(v.Events, viewEvent(e, false))
	}
	return v
}

// printPayment prints a payment's summary and timeline, and returns a
// failure (exit 1) unless it completed or is still running (a held payment
// is a failure: it waits for payments resume or refund).
func printPayment(w io.Writer, p *payment.Payment, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		if err := enc.Encode(viewPayment(p)); err != nil {
			return err
		}
	} else {
		writeTimeline(w, p)
	}
	if p.State == payment.StateCompleted || p.State == payment.StateRunning {
		return nil
	}
	return &failure{fmt.Sprintf("payment %s %s: %s", p.ID, p.State, p.Reason)}
}

func writeTimeline(w io.Writer, p *payment.Payment) {
	s := p.Spec
	fmt.Fprintf(w, "payment %s: %s\n", p.ID, p.State)
	fmt.Fprintf(w, "  %s yuan from %s of %s to %s of %s (seed %d, on failure %s)\n",
		money.FormatYuan(s.AmountFen), s.From, s.FromHolder, s.To, s.ToHolder, s.Seed, s.OnFailure)
	if r := s.Route; r != nil {
		fmt.Fprintf(w, "  route %s (%s): %s\n", r.ID, r.Verdict, strings.Join(r.Channels(), " → "))
		fmt.Fprintf(w, "  planned: fee %s yuan, time p50 %s p95 %s, success %.1f%%\n",
			money.FormatYuan(r.FeeFen), route.Duration(r.TimeP50S), route.Duration(r.TimeP95S), 100*r.Success)
		for _, f := range r.Findings {
			if f.Effect != ecosystem.EffectRefuse { // refusals are the reason below
				fmt.Fprintf(w, "  %s %s (hop %d): %s\n", f.Effect, f.Rule, f.Hop, f.Message)
			}
		}
	}
	if p.Reason != "" {
		fmt.Fprintf(w, "  reason: %s\n", p.Reason)
	}
	fmt.Fprintf(w, "  delivered %s yuan, fees %s yuan, refunded to origin %s yuan\n",
		money.FormatYuan(p.DeliveredFen()), money.FormatYuan(p.FeeFen()), money.FormatYuan(p.RefundedFen()))
	fmt.Fprintln(w, "timeline:")
	for _, e := range p.Events {
		what := e.Type
		if e.Hop > 0 {
			what = fmt.Sprintf("%s hop %d", e.Type, e.Hop)
		}
		detail := ""
		switch e.Type {
		case payment.EventHopStarted:
			detail = fmt.Sprintf("%s yuan, fee %s, due %s", money.FormatYuan(e.AmountFen), money.FormatYuan(e.FeeFen), e.Due.Format("2006-01-02 15:04:05"))
			if s.Route != nil && e.Hop <= len(s.Route.Hops) {
				detail = s.Route.Hops[e.Hop-1].Channel + ": " + detail
			}
		case payment.EventReversal:
			detail = fmt.Sprintf("%s yuan back to the origin (fees refunded %s)", money.FormatYuan(e.AmountFen), money.FormatYuan(e.FeeFen))
		default:
			detail = e.Reason
		}
		line := fmt.Sprintf("  %s  %-18s %s%s", e.At.Format("2006-01-02 15:04:05"), what, detail, transfers(e.TransferIDs))
		fmt.Fprintln(w, strings.TrimRight(line, " "))
	}
}

// transfers summarises an event's transfer ids.
func transfers(ids []ledger.TransferID) string {
	switch len(ids) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("  [transfer %d]", ids[0])
	}
	return fmt.Sprintf("  [%d transfers %d…%d]", len(ids), ids[0], ids[len(ids)-1])
}

func init() {
	cmd := &cobra.Command{
		Use:   "payments",
		Short: "List, show, resume, refund and recover payments in a ledger",
		Long: `payments reads back what 'paybridge pay' recorded in the ledger database
(every payment's events are committed with its money) and acts on payments:
resume or refund a stranded one or one the risk guard held, recover the ones
a killed process left running, and read the event outbox in commit order.`,
	}
	cmd.AddCommand(newPaymentsListCmd(), newPaymentsShowCmd(), newPaymentsActCmd("resume"), newPaymentsActCmd("refund"),
		newPaymentsRecoverCmd(), newPaymentsEventsCmd(), newPaymentsBooksCmd())
	root.AddCommand(cmd)
}

// openExisting opens an existing ledger on a clock of spec, read-only
// (list, show, events, books) or to act on payments.
func openExisting(cmd *cobra.Command, f worldFlags, spec clock.Spec, readOnly bool) (*world, error) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return openWorld(ctx, cmd, f, compliance.PolicyStrict, spec, true, readOnly, time.Time{})
}

// paymentSummary is one row of payments list.
type paymentSummary struct {
	ID           string `json:"id"`
	State        string `json:"state"`
	From         string `json:"from"`
	To           string `json:"to"`
	ToHolder     string `json:"to_holder"`
	AmountFen    int64  `json:"amount_fen"`
	DeliveredFen int64  `json:"delivered_fen"`
	FeeFen       int64  `json:"fee_fen"`
	Hops         int    `json:"hops"`
	Start        string `json:"start"`
}

func newPaymentsListCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List the payments in a ledger, oldest first",
		Example: "  paybridge payments list\n  paybridge payments list --db /tmp/p.db --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := openExisting(cmd, f, clock.Spec{Kind: "virtual"}, true)
			if err != nil {
				return err
			}
			defer w.close()
			rows := []paymentSummary{}
			// Page by page: finished payments are read from the ledger.
			for cursor := ""; ; {
				ps, next, err := w.x.Page(cmd.Context(), cursor, payment.MaxPageScan, payment.Filter{})
				if err != nil {
					return err
				}
				for _, p := range ps {
					rows = append(rows, paymentSummary{ID: p.ID, State: p.State, From: p.Spec.From, To: p.Spec.To, ToHolder: p.Spec.ToHolder,
						AmountFen: p.Spec.AmountFen, DeliveredFen: p.DeliveredFen(), FeeFen: p.FeeFen(), Hops: p.Hops(),
						Start: p.Spec.Start.Format(time.RFC3339)})
				}
				if next == "" {
					break
				}
				cursor = next
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(rows)
			}
			fmt.Fprintf(out, "%-8s  %-9s  %-32s  %12s  %12s  %8s  %4s  %s\n", "ID", "STATE", "FROM → TO", "AMOUNT", "DELIVERED", "FEE", "HOPS", "START")
			for _, r := range rows {
				fmt.Fprintf(out, "%-8s  %-9s  %-32s  %12s  %12s  %8s  %4d  %s\n", r.ID, r.State, r.From+" → "+r.To+" ("+r.ToHolder+")",
					money.FormatYuan(r.AmountFen), money.FormatYuan(r.DeliveredFen), money.FormatYuan(r.FeeFen), r.Hops, r.Start)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of payment summaries")
	return cmd
}

func newPaymentsShowCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show ID",
		Short:   "Show one payment's route, state and timeline",
		Example: "  paybridge payments show p000001\n  paybridge payments show p000001 --json",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			w, err := openExisting(cmd, f, clock.Spec{Kind: "virtual"}, true)
			if err != nil {
				return err
			}
			defer w.close()
			p, err := w.x.Get(args[0])
			if err != nil {
				return usageErrorf("payment %q: not in %s", args[0], f.db)
			}
			if err := printPayment(cmd.OutOrStdout(), p, asJSON); err != nil {
				var fe *failure
				if errors.As(err, &fe) {
					return nil // showing a refunded payment is not a failure of show
				}
				return err
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"id","state","route":{…},"events":[…],"delivered_fen","fee_fen"}`)
	return cmd
}

// newPaymentsActCmd builds payments resume and payments refund.
func newPaymentsActCmd(action string) *cobra.Command {
	var f worldFlags
	var rf riskFlags
	var asJSON bool
	var clockFlag string
	short := map[string]string{
		"resume": "Retry the failed hop of a stranded payment, or continue a held one, and run it on",
		"refund": "Return a stranded or held payment's money to its origin",
	}[action]
	cmd := &cobra.Command{
		Use:   action + " ID",
		Short: short,
		Long: short + ". Only a stranded or held payment can be " + map[string]string{
			"resume": "resumed. A stranded payment's failed hop gets a new attempt with its own draws (with --risk on, the risk engine is asked again, after replaying the ledger's payments, and may refuse it or hold it). A held payment (paused by the risk guard before a hop) starts that hop without asking the guard again.",
			"refund": "refunded: the posted hops are reversed (fees back where the channel refunds them); a payment held before its first hop had moved nothing.",
		}[action],
		Example: "  paybridge payments " + action + " p000002",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := clock.ParseSpec(clockFlag)
			if err != nil {
				return usageErrorf("--clock: %v", err)
			}
			g, err := rf.guard()
			if err != nil {
				return err
			}
			if g != nil {
				f.guard = g
			}
			w, err := openExisting(cmd, f, spec, false)
			if err != nil {
				return err
			}
			defer w.close()
			if g != nil {
				if err := g.begin(cmd.Context(), w); err != nil {
					return err
				}
				defer g.finish(cmd.Context())
			}
			act := w.x.Resume
			if action == "refund" {
				act = w.x.Refund
			}
			p, err := act(cmd.Context(), args[0])
			switch {
			case errors.Is(err, payment.ErrNotFound):
				return usageErrorf("payment %q: not in %s", args[0], f.db)
			case errors.Is(err, payment.ErrState), errors.Is(err, payment.ErrGuardRefused):
				return usageErrorf("payment %s: %v", args[0], err)
			case err != nil:
				return err
			}
			return printPayment(cmd.OutOrStdout(), p, asJSON)
		},
	}
	f.register(cmd.Flags())
	if action == "resume" {
		rf.register(cmd.Flags())
	}
	cmd.Flags().StringVar(&clockFlag, "clock", "virtual", "virtual, scaled:N or real")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the payment as JSON")
	return cmd
}

func newPaymentsRecoverCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	var clockFlag string
	cmd := &cobra.Command{
		Use:   "recover",
		Short: "Finish every payment a stopped process left running",
		Long: `recover reads the ledger alone, finds every payment still running (a hop
held, waiting for its clearing delay) and runs each to a terminal state. Each
hop's due time and outcome were fixed when it started (from the payment's
seed), so a recovered payment ends exactly as an uninterrupted one would.
With --clock scaled:N the simulated clock resumes at the last recorded event.`,
		Example: "  paybridge payments recover --db /tmp/p.db --clock scaled:600",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			spec, err := clock.ParseSpec(clockFlag)
			if err != nil {
				return usageErrorf("--clock: %v", err)
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			w, err := openWorld(ctx, cmd, f, compliance.PolicyStrict, spec, true, false, time.Time{})
			if err != nil {
				return err
			}
			defer w.close()
			ps, err := w.x.Recover(ctx)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				views := []paymentView{}
				for _, p := range ps {
					views = append(views, viewPayment(p))
				}
				return json.NewEncoder(out).Encode(views)
			}
			fmt.Fprintf(out, "recovered %d payments\n", len(ps))
			for _, p := range ps {
				writeTimeline(out, p)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&clockFlag, "clock", "virtual", "virtual, scaled:N or real")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of the recovered payments")
	return cmd
}

func newPaymentsEventsCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	var after uint64
	var limit int
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Read the payment event outbox in commit order",
		Long: `events prints payment events in the order they were committed (each in the
same commit as its money), after the cursor --after. A subscriber reads a
page, handles it and continues from the last seq it printed.`,
		Example: "  paybridge payments events --after 0 --limit 100 --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 1 || limit > ledger.MaxHistoryPage {
				return usageErrorf("--limit %d: must be between 1 and %d", limit, ledger.MaxHistoryPage)
			}
			w, err := openExisting(cmd, f, clock.Spec{Kind: "virtual"}, true)
			if err != nil {
				return err
			}
			defer w.close()
			evs, err := payment.NewOutbox(w.led).Read(cmd.Context(), after, limit)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			enc := json.NewEncoder(out)
			for _, e := range evs {
				v := viewEvent(e, true)
				if asJSON {
					if err := enc.Encode(v); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(out, "%6d  %s  %s  %-11s hop %d  %s\n", v.Seq, v.Payment, e.At.Format("2006-01-02 15:04:05"), v.Type, v.Hop, v.Reason)
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().Uint64Var(&after, "after", 0, "print events with seq after this cursor")
	cmd.Flags().IntVar(&limit, "limit", 100, fmt.Sprintf("most events to print, 1 to %d", ledger.MaxHistoryPage))
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON event per line")
	return cmd
}

func newPaymentsBooksCmd() *cobra.Command {
	var f worldFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "books",
		Short: "Check that every institution's own books balance",
		Long: `books checks, over the ledger's current accounts: per currency, balances sum
to zero; per institution, the accounts it keeps sum to zero (pending debits
equal pending credits); and each institution's position at a clearing house
is the negation of the house's record of it. Exit status 1 on a violation.
(paybridge ledger verify checks the ledger's own invariants.)`,
		Example: "  paybridge payments books --db paybridge.db",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			w, err := openExisting(cmd, f, clock.Spec{Kind: "virtual"}, true)
			if err != nil {
				return err
			}
			defer w.close()
			accounts := w.led.Accounts()
			violations := payment.CheckBooks(accounts)
			out := cmd.OutOrStdout()
			if asJSON {
				if violations == nil {
					violations = []string{}
				}
				if err := json.NewEncoder(out).Encode(map[string]any{"ok": len(violations) == 0, "accounts": len(accounts), "violations": violations}); err != nil {
					return err
				}
			} else if len(violations) == 0 {
				fmt.Fprintf(out, "ok: %d accounts; every currency sums to zero, every institution's books balance, clearing positions reconcile\n", len(accounts))
			} else {
				for _, v := range violations {
					fmt.Fprintln(out, v)
				}
			}
			if len(violations) > 0 {
				return &failure{fmt.Sprintf("payments books: %d violations in %s", len(violations), f.db)}
			}
			return nil
		},
	}
	f.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ok":…,"accounts":N,"violations":[…]}`)
	return cmd
}
