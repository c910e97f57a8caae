package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecodiff"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/route"
)

// diffFlags are `paybridge ecosystem diff`'s flags.
type diffFlags struct {
	from, to, amount, toHolder, at string
	asJSON                         bool
}

func init() {
	ecosystemCmd.AddCommand(newEcosystemDiffCmd())
}

func newEcosystemDiffCmd() *cobra.Command {
	var f diffFlags
	cmd := &cobra.Command{
		Use:   "diff A B [--from P --to P --amount YUAN]",
		Short: "Show where two worlds differ, and how the same query plans in each",
		Long: `diff compares world A with world B (each a bundled name or an ecosystem file)
and lists every difference, grouped by section:

  world         currency, timezone
  holders       holders added, removed or changed
  institutions  institutions added, removed or changed
  products      account products (kind, purpose, withdrawability, …)
  channels      channels added or removed, and their non-fee, non-limit fields
  fees          a channel's fee schedule, field by field
  limits        a channel's limits and the dates it is in force (valid_from,
                valid_until); a product's classes (tiers), balance cap and
                credit line
  rules         compliance rules
  calibration   calibration targets

Each row is one difference: added (only in B), removed (only in A) or changed
(a field, as its YAML path, with A's and B's values; money in yuan, rates in
percent), then where the figure comes from as far as the world says: the
dates a channel is in force, "unverified", its note, a target's source.

With --from, --to and --amount, the same query is also planned in both worlds:
a one-line summary per world (best allowed route, its fee and time, how many
routes are allowed and refused), then each world's full route table. Without
--at the query plans for now, as "paybridge route" does.

--json prints {"a":{"id","name"},"b":{…},"summary":{"added","removed",
"changed"},"differences":[{"section","id","change","field","a","b",
"source_a","source_b"}],"routes":{"a":RESULT,"b":RESULT}} where RESULT is
"paybridge route --json"'s object (or {"error":"…"} when the query does not
fit that world); "routes" is present only with a query. See docs/ecosystem.md.

diff exits 0 when it ran, whether or not the worlds differ, and 2 on bad usage.`,
		Example: `  # Where the seed article's world and the public facts part
  paybridge ecosystem diff cn-2023 cn-facts

  # ... and what the Huabei → WeChat question becomes in each
  paybridge ecosystem diff cn-2023 cn-facts --from alipay.huabei --to wechat.change --to-holder friend --amount 1000

  # A what-if of your own against the default world, machine-readable
  paybridge ecosystem diff cn-2023 my-world.yaml --json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErrorf("diff takes two worlds, A and B (bundled names or files), got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runEcosystemDiff(cmd, f, args[0], args[1]) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "plan a query too: product the money is in, e.g. alipay.huabei")
	fl.StringVar(&f.to, "to", "", "product the money should reach (with --from)")
	fl.StringVar(&f.amount, "amount", "", "amount in yuan (with --from)")
	fl.StringVar(&f.toHolder, "to-holder", "", "holder who should receive it (default: the same holder)")
	fl.StringVar(&f.at, "at", "", "start time, RFC 3339 (default: now, for which channels are in force only)")
	fl.BoolVar(&f.asJSON, "json", false, "print the differences (and routes) as JSON")
	return cmd
}

func runEcosystemDiff(cmd *cobra.Command, f diffFlags, nameA, nameB string) error {
	q, hasQuery, err := f.query()
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	a, err := resolveEcosystemFlag(stderr, "A", nameA)
	if err != nil {
		return err
	}
	b, err := resolveEcosystemFlag(stderr, "B", nameB)
	if err != nil {
		return err
	}
	d := ecodiff.Compare(a, b)
	out := d.Report()
	if hasQuery {
		pa, errA := planIn(stderr, nameA, a, q)
		pb, errB := planIn(stderr, nameB, b, q)
		if errA != nil && errB != nil {
			return usageErrorf("the query fits neither world: A %s: %v; B %s: %v", a.ID, routeQueryError(errA), b.ID, routeQueryError(errB))
		}
		out.Routes = &ecodiff.Routes{A: pa, B: pb}
	}
	w := cmd.OutOrStdout()
	if f.asJSON {
		return writeJSON(w, out)
	}
	return writeDiff(w, out)
}

// query builds the optional query: none when --from, --to and --amount are
// all absent, an error when only some are given.
func (f diffFlags) query() (route.Query, bool, error) {
	if f.from == "" && f.to == "" && f.amount == "" {
		for _, fl := range []struct{ name, value string }{{"--to-holder", f.toHolder}, {"--at", f.at}} {
			if fl.value != "" {
				return route.Query{}, false, usageErrorf("%s needs a query: give --from, --to and --amount too", fl.name)
			}
		}
		return route.Query{}, false, nil
	}
	rf := routeFlags{from: f.from, to: f.to, amount: f.amount, toHolder: f.toHolder, at: f.at,
		objective: "balanced", policy: "strict", maxHops: route.DefaultMaxHops, seed: 1}
	q, err := rf.query()
	return q, err == nil, err
}

// planIn plans q in one world, for now when q has no time; a query that does
// not fit the world (an unknown product) is returned as the world's error.
func planIn(stderr io.Writer, name string, eco *ecosystem.Ecosystem, q route.Query) (ecodiff.WorldPlan, error) {
	rules, err := compliance.NewChecker(eco.Rules, q.Policy)
	if err != nil {
		return ecodiff.WorldPlan{}, usageErrorf("%s: rules: %s", name, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	res, err := route.Plan(plannedNow(stderr, eco, q.At), q, rules)
	if err != nil {
		var qe *route.QueryError
		if errors.As(err, &qe) {
			return ecodiff.WorldPlan{Error: routeQueryError(err).Error()}, err
		}
		return ecodiff.WorldPlan{}, err
	}
	return ecodiff.WorldPlan{Result: res}, nil
}

// writeDiff prints the differences for people: a header, one aligned table
// per section, then the route comparison.
func writeDiff(w io.Writer, out ecodiff.Report) error {
	ew := &diffWriter{w: w}
	ew.printf("A: %s — %s\nB: %s — %s\n", out.A.ID, out.A.Name, out.B.ID, out.B.Name)
	s := out.Summary
	if len(out.Differences) == 0 {
		ew.printf("\nNo differences.\n")
	} else {
		ew.printf("\n%d differences: %d added (only in B), %d removed (only in A), %d changed.\n", len(out.Differences), s.Added, s.Removed, s.Changed)
	}
	for _, section := range ecodiff.Sections {
		var rows []ecodiff.Entry
		for _, e := range out.Differences {
			if e.Section == section {
				rows = append(rows, e)
			}
		}
		if len(rows) == 0 {
			continue
		}
		ew.printf("\n%s (%d)\n", strings.ToUpper(section), len(rows))
		var table bytes.Buffer
		tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  \tID\tFIELD\tA: %s\tB: %s\tSOURCE\n", out.A.ID, out.B.ID)
		for _, e := range rows {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", changeMark(e.Change), e.ID, dash(e.Field), dash(clip(e.A)), dash(clip(e.B)), sourceText(e))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		// Rows without a source would end in the padding of the B column.
		for _, line := range strings.SplitAfter(table.String(), "\n") {
			ew.printf("%s", strings.TrimRight(line, " \n")+strings.Repeat("\n", strings.Count(line, "\n")))
		}
	}
	if s.Added+s.Removed+s.Changed > 0 {
		ew.printf("\n+ only in B, - only in A, ~ changed.\n")
	}
	if out.Routes != nil {
		writeRouteComparison(ew, out)
	}
	return ew.err
}

func changeMark(c ecodiff.Change) string {
	switch c {
	case ecodiff.Added:
		return "+"
	case ecodiff.Removed:
		return "-"
	}
	return "~"
}

// clip shortens a long value (a rule's message, a long name) for the table;
// --json carries it whole.
func clip(s string) string {
	const max = 60
	if r := []rune(s); len(r) > max {
		return string(r[:max-1]) + "…"
	}
	return s
}

// sourceText is the source column: A's source for what only A has, B's
// otherwise (A's, marked, when B gives none); clipped, as --json carries
// both sides' whole.
func sourceText(e ecodiff.Entry) string {
	var s string
	switch {
	case e.Change == ecodiff.Added:
		s = e.SourceB
	case e.Change == ecodiff.Removed:
		s = e.SourceA
	case e.SourceB == "":
		if e.SourceA != "" {
			s = "A: " + e.SourceA
		}
	default:
		s = e.SourceB
	}
	const max = 90
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	return s
}

// writeRouteComparison prints one summary line per world, then each world's
// route table.
func writeRouteComparison(ew *diffWriter, out ecodiff.Report) {
	plans := []struct {
		id string
		p  ecodiff.WorldPlan
	}{{out.A.ID, out.Routes.A}, {out.B.ID, out.Routes.B}}
	ew.printf("\nTHE QUERY IN EACH WORLD\n")
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  WORLD\tALLOWED\tREFUSED\tBEST ALLOWED ROUTE\tFEE\tTIME P50\tSUCCESS")
	for _, pl := range plans {
		if pl.p.Result == nil {
			fmt.Fprintf(tw, "  %s\t-\t-\t%s\t\t\t\n", pl.id, pl.p.Error)
			continue
		}
		summaryRow(tw, pl.id, pl.p.Result)
		if alt := pl.p.Alternative; alt != nil {
			summaryRow(tw, pl.id+" (own money at "+alt.Query.From+")", alt)
		}
	}
	_ = tw.Flush()
	for _, pl := range plans {
		ew.printf("\n=== Routes in %s ===\n", pl.id)
		if pl.p.Result == nil {
			ew.printf("%s\n", pl.p.Error)
			continue
		}
		if err := route.WriteTable(ew, pl.p.Result); err != nil {
			ew.err = err
		}
	}
}

// summaryRow prints one world's line of the query summary: how many routes
// are allowed and refused, and the best allowed one.
func summaryRow(tw io.Writer, label string, res *route.Result) {
	allowed, refused := 0, 0
	var best *route.Route
	for i, r := range res.Routes {
		if r.Verdict == route.VerdictRefused {
			refused++
			continue
		}
		allowed++
		if best == nil {
			best = &res.Routes[i]
		}
	}
	if best == nil {
		fmt.Fprintf(tw, "  %s\t%d\t%d\tnone\t-\t-\t-\n", label, allowed, refused)
		return
	}
	fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s yuan\t%s\t%.1f%%\n", label, allowed, refused,
		strings.Join(best.Channels(), " → "), money.FormatYuan(best.FeeFen),
		(time.Duration(math.Round(best.TimeP50S)) * time.Second).String(), best.Success*100)
}

// diffWriter remembers the first write error.
type diffWriter struct {
	w   io.Writer
	err error
}

func (d *diffWriter) Write(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	n, err := d.w.Write(p)
	d.err = err
	return n, err
}

func (d *diffWriter) printf(format string, args ...any) { fmt.Fprintf(d, format, args...) }
