package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/riskfeed"
	"github.com/paybridge/paybridge/store/sqlite"
)

// Bounds of risk watch --interval.
const (
	minWatchInterval = 10 * time.Millisecond
	maxWatchInterval = 24 * time.Hour
)

type watchFlags struct {
	world    worldFlags
	cases    string
	rules    string
	follow   bool
	apply    bool
	interval time.Duration
	asJSON   bool
	full     bool
}

// followSnapshotEvery is how many outbox seqs pass between the snapshots a
// watch --follow saves (one more is saved when it stops).
const followSnapshotEvery = 4096

func riskWatchCmd() *cobra.Command {
	var f watchFlags
	c := &cobra.Command{
		Use:   "watch --db PAYMENTS.db [--cases FILE] [--rules FILE] [--follow [--interval D] | --apply] [--json]",
		Short: "Run the risk engine over the payments in a ledger and file its alerts into cases",
		Long: `watch feeds every posted hop of the payments in --db (the ledger 'paybridge
pay' writes) through the risk engine, in outbox order, prints each decision
that asks for more than allow (verdict, score, actions, the rules that
matched with the feature values they read, the holder each rule's actions
address and why, the detected pattern and its members) and files its alerts
into the case database --cases, one case per holder and pattern family.

Actions and alerts go to the holder the pattern names, not to whoever paid
the hop that closed it: for a credit cycle the holder whose credit line
funded it, for gather-scatter and scatter-gather the intermediary, for a
mule chain the holder cashing out, for fan-in and fan-out the hub; a
credit cash-out rule without a pattern addresses the holder whose credit
the money was.

The engine's windows and graph live in memory. Each run saves a snapshot of
them (and of the payments in flight) in --cases beside its cursor, both
named after the ledger file's absolute path; the next run restores it and
replays only the outbox after it, or, when the snapshot cannot be used
(corrupt, written by another version, taken under other --rules, or of a
recreated ledger), says why on stderr and replays the whole outbox.
--full-replay ignores the snapshot. Either way watch reports and files only
the hops after the cursor it saved on its previous run. Re-running watch
therefore files nothing new; an alert delivered twice after a crash is filed
once. A ledger recreated at the same
path needs a new --cases file: watch refuses a cursor beyond the ledger's
end (exit 2), but cannot tell a recreated ledger that has grown past it. Without --apply, watch never
writes to --db (no seeding, no commits, no background indexing), so it can
run beside 'pay': it prints the state actions rules ask for (freeze,
cut_credit_limit, downgrade_rating) but does not apply them.

--apply also carries out freeze and cut_credit_limit on the ledger, each as
one ledger commit with its own risk.action record: a frozen holder's next
payment is rejected; a cut credit line refuses draws beyond the new limit.
Applying the same decision twice changes nothing. --apply commits to --db,
so run it when no other process is writing that ledger; it cannot be
combined with --follow.

Without --follow, watch handles everything up to now and exits 0, whether or
not it found anything (use --json and count lines to act on findings); 1 if
the ledger cannot be read, 2 on bad usage. With --follow it then reopens the
ledger every --interval to see payments other processes committed, until
SIGINT or SIGTERM, and exits 0; a failed poll (the file busy) is reported
on stderr and retried.

--json prints one JSON object per finding and line:
{"seq","event":{…},"decision":{"verdict","score","actions","matches":[{"rule",
"values","pattern":{"family","holders","members"}}],"features"},"cases":[ids],"applied":[…],"not_applied":[…]}.
The summary goes to stderr.`,
		Example: `  # Some payments into pay.db, then look at them
  paybridge pay --db pay.db --from alipay.balance --to alipay.balance --to-holder friend --channels alipay_transfer --amount 200
  paybridge risk watch --db pay.db --cases risk.db
  paybridge risk cases --db risk.db
  # Keep watching while payments arrive from other shells; one JSON line per finding
  paybridge risk watch --db pay.db --cases risk.db --follow --interval 2s --json
  # Freeze and cut credit lines as the rules ask (no other process writing pay.db)
  paybridge risk watch --db pay.db --cases risk.db --apply
  # Rebuild the engine from the whole outbox rather than the saved snapshot
  paybridge risk watch --db pay.db --cases risk.db --full-replay
  # A ledger seeded with another world (the what-if file pay used)
  paybridge risk watch --db what-if.db --ecosystem what-if.yaml --cases risk.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRiskWatch(cmd, f) },
	}
	fl := c.Flags()
	fl.StringVar(&f.world.db, "db", "paybridge.db", "payments ledger database written by 'paybridge pay' (must exist)")
	fl.StringVar(&f.world.ecosystem, "ecosystem", "", "bundled world name or ecosystem file the ledger was seeded with (default cn-2023)")
	fl.StringVar(&f.cases, "cases", risk.DefaultCaseDB, "case database file (created if missing); also keeps the watch cursor")
	fl.StringVar(&f.rules, "rules", "", "rule file (default: the bundled rules, see 'paybridge risk rules')")
	fl.BoolVar(&f.follow, "follow", false, "keep polling for new payments until SIGINT/SIGTERM")
	fl.BoolVar(&f.apply, "apply", false, "apply freeze and cut_credit_limit to the ledger (commits to --db; not with --follow)")
	fl.DurationVar(&f.interval, "interval", time.Second, "with --follow, time between polls (10ms..24h)")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON object per finding and line")
	fl.BoolVar(&f.full, "full-replay", false, "rebuild the engine by replaying the whole outbox, ignoring the snapshot saved in --cases (a new one is saved)")
	return c
}

func runRiskWatch(cmd *cobra.Command, f watchFlags) error {
	if f.apply && f.follow {
		return usageErrorf("--apply and --follow: --apply commits to the ledger, which must not happen beside other writers; apply in a separate run")
	}
	if f.interval < minWatchInterval || f.interval > maxWatchInterval {
		return usageErrorf("--interval %s: must be between %s and %s", f.interval, minWatchInterval, maxWatchInterval)
	}
	rs, err := riskLoadRules(f.rules)
	if err != nil {
		return err
	}
	if strings.TrimSpace(f.world.db) == "" {
		return usageErrorf("--db: give the payments ledger file")
	}
	abs, err := filepath.Abs(f.world.db)
	if err != nil {
		return usageErrorf("--db %s: %v", f.world.db, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return usageErrorf("--db %s: no such file (paybridge pay creates it)", f.world.db)
	}
	if strings.TrimSpace(f.cases) == "" {
		return usageErrorf("--cases: give a file name")
	}
	cs, err := risk.OpenSQLite(f.cases)
	if err != nil {
		return usageErrorf("--cases %s: %v", f.cases, err)
	}
	defer cs.Close()

	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	snaps := riskfeed.StoreSnapshots{Store: cs, Name: "payments:" + abs}
	feed := &riskfeed.Feed{
		Engine:    risk.NewEngine(rs),
		Cursor:    riskfeed.StoreCursor{Store: cs, Name: "payments:" + abs},
		Cases:     cs,
		Snapshots: snaps,
		Logf:      func(format string, args ...any) { fmt.Fprintf(errw, "risk watch: "+format+"\n", args...) },
	}
	if f.full {
		feed.Snapshots = replayOnly{snaps}
	}
	if f.follow {
		feed.SnapshotEvery = followSnapshotEvery
	}
	var total watchTotals
	for {
		if err := watchPoll(ctx, cmd, f, feed, out, &total); err != nil {
			var ue *usageError
			switch {
			case ctx.Err() != nil:
				// Interrupted mid-poll: what was filed is durable; the
				// cursor was not saved, so the next run files the rest.
			case f.follow && !errors.As(err, &ue):
				fmt.Fprintf(errw, "risk watch: poll failed, retrying in %s: %v\n", f.interval, err)
			default:
				return err
			}
		}
		if !f.follow {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(f.interval):
		}
		if ctx.Err() != nil {
			break
		}
	}
	if f.follow {
		// The last events since the periodic snapshot (the cursor is saved).
		if err := feed.SaveSnapshot(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(errw, "risk watch: %v\n", err)
		}
	}
	fmt.Fprintf(errw, "risk watch: %d new hops, %d findings, %d alerts filed into %d cases (%s); cursor at outbox seq %d\n",
		total.hops, total.findings, total.alerts, len(total.cases), f.cases, total.cursor)
	return nil
}

type watchTotals struct {
	hops, findings, alerts int
	cases                  map[int64]bool
	cursor                 uint64
}

// watchLedger is a payments ledger opened for reading by watch.
type watchLedger struct {
	eco   *ecosystem.Ecosystem
	store *sqlite.Store
	led   *ledger.Engine
}

func (w *watchLedger) close() {
	w.led.Close()
	w.store.Close()
}

// openWatchLedger opens the payments ledger f.world.db without the
// executor and without writing to it: no seeding, and no background
// materialisation of the read tables (which another process writing the
// same file may be doing), so watch can run beside 'paybridge pay' or a
// server. The ledger must have been seeded for the --ecosystem world.
func openWatchLedger(ctx context.Context, cmd *cobra.Command, f watchFlags) (*watchLedger, error) {
	eco, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", f.world.ecosystem)
	if err != nil {
		return nil, err
	}
	s, err := sqlite.Open(f.world.db, sqlite.Options{MustExist: true, IdleIndex: -1})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("--db %s: no such file (paybridge pay creates it)", f.world.db)
	case err != nil:
		return nil, usageErrorf("--db %s: cannot open as a ledger database: %v", f.world.db, err)
	}
	led, err := ledger.Open(ctx, s, clock.NewVirtual(virtualEpoch), ledger.Options{})
	if err != nil {
		s.Close()
		return nil, usageErrorf("--db %s: %v", f.world.db, err)
	}
	w := &watchLedger{eco: eco, store: s, led: led}
	recs, err := led.Records(ctx, payment.SetupKind, 0, 1)
	switch {
	case err != nil:
		w.close()
		return nil, fmt.Errorf("--db %s: %w", f.world.db, err)
	case len(recs) == 0:
		w.close()
		return nil, usageErrorf("--db %s: a ledger without payments (paybridge pay seeds it on first use)", f.world.db)
	case recs[0].Key != eco.ID:
		w.close()
		return nil, usageErrorf("--ecosystem: the ledger --db %s was seeded for ecosystem %q, not %q", f.world.db, recs[0].Key, eco.ID)
	}
	return w, nil
}

// watchPoll opens the ledger, runs one feed poll, prints the findings and
// closes the ledger again, so that other processes' commits are seen on the
// next poll and the file is not held between polls.
func watchPoll(ctx context.Context, cmd *cobra.Command, f watchFlags, feed *riskfeed.Feed, out io.Writer, total *watchTotals) error {
	w, err := openWatchLedger(ctx, cmd, f)
	if err != nil {
		return err
	}
	defer w.close()
	if feed.Conv == nil {
		feed.Conv = riskfeed.NewConverter(w.eco)
	}
	feed.Outbox = payment.NewOutbox(w.led)
	if f.apply {
		feed.Applier = riskfeed.LedgerActions{Ledger: w.led}
	}
	first := total.cases == nil
	rs, err := feed.Poll(ctx)
	if st := feed.SnapshotStatus(); first && st.Loaded {
		fmt.Fprintf(cmd.ErrOrStderr(), "risk watch: engine restored from the snapshot at outbox seq %d; replayed only the outbox after it\n", st.Seq)
	}
	if errors.Is(err, riskfeed.ErrUnknownChannel) {
		return usageErrorf("--ecosystem: %v in --db %s; give the world the payments were made in", err, f.world.db)
	}
	if errors.Is(err, riskfeed.ErrCursorAhead) {
		return usageErrorf("--cases %s: %v for --db %s (was that ledger recreated? use a new --cases file for it)", f.cases, err, f.world.db)
	}
	if err != nil {
		return fmt.Errorf("risk watch --db %s: %w", f.world.db, err)
	}
	if total.cases == nil {
		total.cases = map[int64]bool{}
	}
	total.hops += len(rs)
	for _, r := range rs {
		if !r.Decision.Alert() {
			continue
		}
		total.findings++
		total.alerts += len(r.Cases)
		for _, id := range r.Cases {
			total.cases[id] = true
		}
		if f.asJSON {
			if err := riskWriteJSONLine(out, r); err != nil {
				return err
			}
			continue
		}
		printFinding(out, r)
	}
	if c, err := feed.Cursor.Load(ctx); err == nil {
		total.cursor = c
	}
	return nil
}

// replayOnly is a snapshot store that has no snapshot to load (so the feed
// replays the whole outbox) but saves into the one it wraps.
type replayOnly struct{ riskfeed.SnapshotStore }

func (replayOnly) LoadSnapshot(context.Context) ([]byte, error) { return nil, nil }

func riskWriteJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// printFinding prints one non-allow decision for a reader.
func printFinding(w io.Writer, r riskfeed.Result) {
	e, d := r.Event, r.Decision
	acts := make([]string, len(d.Actions))
	for i, a := range d.Actions {
		acts[i] = a.String()
	}
	fmt.Fprintf(w, "seq %d  %s  %s  %s → %s  %s yuan %s  verdict %s  score %d  actions %s\n",
		r.Seq, e.ID, e.Time.Format(time.RFC3339), e.FromHolder, e.ToHolder, money.FormatYuan(e.AmountMinor), e.Kind,
		d.Verdict, d.Score, strings.Join(acts, ","))
	for _, m := range d.Matches {
		fmt.Fprintf(w, "  rule %s (score %d): %s\n", m.RuleID, m.Score, m.Expr)
		keys := make([]string, 0, len(m.Values))
		for k := range m.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		vals := make([]string, len(keys))
		for i, k := range keys {
			vals[i] = fmt.Sprintf("%s=%v", k, m.Values[k])
		}
		if len(vals) > 0 {
			fmt.Fprintf(w, "    values: %s\n", strings.Join(vals, " "))
		}
		if tg := m.Target; tg.Holder != "" {
			fmt.Fprintf(w, "    addressed to %s (%s): %s\n", tg.Holder, tg.Role, tg.Reason)
		}
		if p := m.Pattern; p != nil {
			fmt.Fprintf(w, "    pattern %s: holders %s\n", p.Family, strings.Join(p.Holders, ", "))
			for _, mb := range p.Members {
				fmt.Fprintf(w, "      %s  %s → %s  %s yuan  %s\n", mb.TxID, mb.From, mb.To, money.FormatYuan(mb.AmountMinor), mb.Time.In(e.Time.Location()).Format(time.RFC3339))
			}
		}
	}
	for _, a := range r.Applied {
		fmt.Fprintf(w, "  applied on the ledger: %s\n", a)
	}
	for _, a := range r.NotApplied {
		fmt.Fprintf(w, "  not applied: %s\n", a)
	}
	if len(r.Cases) > 0 {
		var ids []string
		for _, id := range r.Cases {
			if s := fmt.Sprint(id); !slices.Contains(ids, s) {
				ids = append(ids, s)
			}
		}
		fmt.Fprintf(w, "  filed into case %s\n", strings.Join(ids, ", "))
	}
}
