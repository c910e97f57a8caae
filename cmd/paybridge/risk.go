package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/risk/dataset"
	"github.com/paybridge/paybridge/risk/eval"
)

var riskCmd = &cobra.Command{
	Use:   "risk",
	Short: "Replay, evaluate and review the cross-platform risk engine",
	Long: `risk runs paybridge's streaming risk engine (features, pattern detectors,
CEL rules) over transaction files, measures it on labelled data and manages
the cases its alerts open.

Formats: paysim (CSV), ibm-aml (CSV, optional --patterns answer key),
amlsim (a folder with transactions.csv and nodes.csv) and paybridge (JSONL
of risk events, see docs/risk.md). The bundled rule file is used unless
--rules names another.`,
	Example: `  paybridge risk eval --format paysim ../shared/data/risk/paysim-sample.csv
  paybridge risk scan --format ibm-aml ../shared/data/risk/ibm-aml-hi-small-sample.csv --db risk.db
  paybridge risk cases --db risk.db
  paybridge risk resolve 3 --state confirmed --reason "cycle through known mules" --db risk.db`,
}

func init() {
	riskCmd.AddCommand(riskEvalCmd(), riskScanCmd(), riskCasesCmd(), riskCaseCmd(), riskResolveCmd(), riskRulesCmd(), riskWatchCmd())
	root.AddCommand(riskCmd)
}

// loadRiskData loads FILEs of one format into one time-ordered set.
func loadRiskData(format string, files []string) (*dataset.Set, error) {
	if !riskContains(dataset.Formats, format) {
		return nil, usageErrorf("--format: %q is not one of %s", format, strings.Join(dataset.Formats, ", "))
	}
	if len(files) == 0 {
		return nil, usageErrorf("FILE: give at least one data file (or folder for amlsim)")
	}
	var all *dataset.Set
	for i, name := range files {
		s, err := loadRiskFile(format, name)
		if err != nil {
			return nil, err
		}
		if len(files) > 1 && format != "ibm-aml" { // line-numbered ids repeat across files; IBM ids are content keys
			for j := range s.Events {
				s.Events[j].ID = fmt.Sprintf("%d:%s", i+1, s.Events[j].ID)
			}
		}
		if all == nil {
			all = s
			continue
		}
		all.Events = append(all.Events, s.Events...)
		for a := range s.Accounts {
			all.Accounts[a] = true
		}
		for a := range s.PositiveAccounts {
			all.PositiveAccounts[a] = true
		}
	}
	if len(files) > 1 {
		sort.SliceStable(all.Events, func(i, j int) bool { return all.Events[i].Time.Before(all.Events[j].Time) })
	}
	return all, nil
}

func loadRiskFile(format, name string) (*dataset.Set, error) {
	if format == "amlsim" {
		st, err := os.Stat(name)
		if err != nil {
			return nil, usageErrorf("FILE %s: %v", name, errors.Unwrap(err))
		}
		if !st.IsDir() {
			return nil, usageErrorf("FILE %s: --format amlsim needs a folder holding transactions.csv and nodes.csv", name)
		}
		s, err := dataset.LoadAMLSim(name)
		if err != nil {
			return nil, usageErrorf("%s: %v", name, err)
		}
		return s, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, usageErrorf("FILE %s: %v", name, errors.Unwrap(err))
	}
	defer f.Close()
	var s *dataset.Set
	switch format {
	case "paysim":
		s, err = dataset.LoadPaySim(f)
	case "ibm-aml":
		s, err = dataset.LoadIBM(f)
	default:
		s, err = dataset.LoadJSONL(f)
	}
	if err != nil {
		return nil, usageErrorf("%s: %v", name, err)
	}
	return s, nil
}

func riskContains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// riskLoadRules reads --rules FILE or the bundled default.
func riskLoadRules(path string) (*risk.RuleSet, error) {
	if path == "" {
		return risk.DefaultRules(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("--rules %s: %v", path, errors.Unwrap(err))
	}
	rs, err := risk.ParseRules(b)
	if err != nil {
		return nil, usageErrorf("--rules %s: %v", path, err)
	}
	return rs, nil
}

func riskEvalCmd() *cobra.Command {
	var format, patterns, rules string
	var asJSON bool
	c := &cobra.Command{
		Use:   "eval --format paysim|ibm-aml|amlsim|paybridge FILE...",
		Short: "Replay labelled data through the engine and print precision, recall and F1",
		Long: `eval replays labelled transactions through the same engine and rules used
live, then scores its alerts against the labels. A transaction counts as
flagged when its own decision alerts or when it is a member of a pattern an
alerting decision explains. Accounts count as flagged when they are a party
to a flagged transaction (AMLSim: the answer key is nodes.csv isFraud).

It prints precision, recall and F1 at transaction and account level, recall
per pattern family (with --patterns for IBM: mean per-pattern recall over
the patterns wholly inside the sample), alerts per 1,000 transactions,
events per second and the p99 decision latency.`,
		Example: `  paybridge risk eval --format paysim ../shared/data/risk/paysim-sample.csv
  paybridge risk eval --format ibm-aml ../shared/data/risk/ibm-aml-hi-small-sample.csv \
      --patterns ../shared/data/risk/ibm-aml-hi-small-patterns.csv --json
  paybridge risk eval --format amlsim ./amlsim-out/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := loadRiskData(format, args)
			if err != nil {
				return err
			}
			var pats []dataset.IBMPatternTx
			if patterns != "" {
				if format != "ibm-aml" {
					return usageErrorf("--patterns: only applies to --format ibm-aml")
				}
				f, err := os.Open(patterns)
				if err != nil {
					return usageErrorf("--patterns %s: %v", patterns, errors.Unwrap(err))
				}
				pats, err = dataset.LoadIBMPatterns(f)
				f.Close()
				if err != nil {
					return usageErrorf("--patterns %s: %v", patterns, err)
				}
			}
			rs, err := riskLoadRules(rules)
			if err != nil {
				return err
			}
			rep, err := eval.Run(set, risk.NewEngine(rs), pats, nil)
			if err != nil {
				return err
			}
			if asJSON {
				return riskWriteJSON(cmd.OutOrStdout(), rep)
			}
			riskPrintReport(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "input format: paysim, ibm-aml, amlsim or paybridge (required)")
	c.Flags().StringVar(&patterns, "patterns", "", "IBM patterns answer key CSV (ibm-aml only)")
	c.Flags().StringVar(&rules, "rules", "", "rule file (default: the bundled risk/rules/default.yaml)")
	c.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return c
}

func riskWriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func riskPrintReport(w io.Writer, r *eval.Report) {
	fmt.Fprintf(w, "format %s: %d events, %d positives, %d alerts (%.2f per 1,000)\n", r.Format, r.Events, r.Positives, r.Alerts, r.AlertsPer1000)
	for _, row := range []struct {
		name string
		s    eval.Score
	}{{"transactions", r.Transactions}, {"accounts", r.Accounts}} {
		fmt.Fprintf(w, "%-13s precision %.3f  recall %.3f  F1 %.3f  (tp %d, fp %d, fn %d)\n", row.name, row.s.Precision, row.s.Recall, row.s.F1, row.s.TP, row.s.FP, row.s.FN)
	}
	names := make([]string, 0, len(r.Families))
	for n := range r.Families {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		f := r.Families[n]
		if f.Patterns == 0 {
			fmt.Fprintf(w, "family %-15s no whole pattern; row recall %.3f over %d labelled rows\n", n, f.RowsRecall, f.Rows)
			continue
		}
		fmt.Fprintf(w, "family %-15s recall %.3f over %d whole patterns (%d detected); rows in sample %d, row recall %.3f\n", n, f.Recall, f.Patterns, f.Detected, f.Rows, f.RowsRecall)
	}
	hits := make([]string, 0, len(r.RuleHits))
	for id, n := range r.RuleHits {
		hits = append(hits, fmt.Sprintf("%s=%d", id, n))
	}
	sort.Strings(hits)
	fmt.Fprintf(w, "rule hits: %s\n", strings.Join(hits, " "))
	fmt.Fprintf(w, "throughput %.0f events/s, p99 decision latency %.4f ms\n", r.EventsPerSecond, r.DecisionP99Ms)
}

// riskOpenDB opens the case database; mustExist refuses to create a new one
// (for commands that only read or resolve cases).
func riskOpenDB(path string, mustExist bool) (*risk.SQLiteStore, error) {
	if strings.TrimSpace(path) == "" {
		return nil, usageErrorf("--db: give a file name")
	}
	if _, err := os.Stat(path); mustExist && err != nil {
		return nil, usageErrorf("--db %s: no case database there (paybridge risk scan … --db %s creates one)", path, path)
	}
	st, err := risk.OpenSQLite(path)
	if err != nil {
		return nil, usageErrorf("--db %s: %v", path, err)
	}
	return st, nil
}

func riskScanCmd() *cobra.Command {
	var format, rules, db string
	var asJSON bool
	c := &cobra.Command{
		Use:   "scan --format FORMAT FILE... [--db FILE]",
		Short: "Replay a transaction file through the engine and file its alerts into cases",
		Long: `scan replays FILE(s) through the engine in time order and stores every
alert in the case database, grouped into one case per holder and pattern
family while the case is open or in review. An alert is filed against the
holder its pattern names (a fan-in's hub, a mule, a cycle's credit holder,
an intermediary), not necessarily the payer of the transaction that
completed it. Labels in the file are ignored.`,
		Example: `  paybridge risk scan --format paysim ../shared/data/risk/paysim-sample.csv --db risk.db
  paybridge risk cases --db risk.db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			set, err := loadRiskData(format, args)
			if err != nil {
				return err
			}
			rs, err := riskLoadRules(rules)
			if err != nil {
				return err
			}
			st, err := riskOpenDB(db, false)
			if err != nil {
				return err
			}
			defer st.Close()
			cases := map[int64]bool{}
			alerts := 0
			rep, err := eval.Run(set, risk.NewEngine(rs), nil, func(_ risk.Event, d risk.Decision) error {
				for _, a := range risk.Alerts(d) {
					id, err := st.AddAlert(cmd.Context(), a)
					if err != nil {
						return err
					}
					cases[id] = true
					alerts++
				}
				return nil
			})
			if err != nil {
				return err
			}
			out := map[string]any{"events": rep.Events, "alerts": alerts, "cases": len(cases), "db": db}
			if asJSON {
				return riskWriteJSON(cmd.OutOrStdout(), out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "scanned %d events: %d alerts filed into %d cases in %s\n", rep.Events, alerts, len(cases), db)
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "", "input format: paysim, ibm-aml, amlsim or paybridge (required)")
	c.Flags().StringVar(&rules, "rules", "", "rule file (default: the bundled rules)")
	c.Flags().StringVar(&db, "db", risk.DefaultCaseDB, "case database file")
	c.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return c
}

func riskCasesCmd() *cobra.Command {
	var db, state string
	var asJSON bool
	c := &cobra.Command{
		Use:   "cases [--db FILE] [--state STATE] [--json]",
		Short: "List risk cases, newest first",
		Args:  cobra.NoArgs,
		Example: `  paybridge risk cases --db risk.db --state open
  paybridge risk cases --json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if state != "" && !riskContains([]string{"open", "reviewing", "confirmed", "dismissed"}, state) {
				return usageErrorf("--state: %q is not one of open, reviewing, confirmed, dismissed", state)
			}
			st, err := riskOpenDB(db, true)
			if err != nil {
				return err
			}
			defer st.Close()
			cs, err := st.Cases(cmd.Context(), risk.CaseState(state))
			if err != nil {
				return err
			}
			if asJSON {
				if cs == nil {
					cs = []risk.Case{}
				}
				return riskWriteJSON(cmd.OutOrStdout(), cs)
			}
			w := cmd.OutOrStdout()
			if len(cs) == 0 {
				fmt.Fprintln(w, "no cases")
				return nil
			}
			fmt.Fprintf(w, "%-6s %-10s %-16s %-7s %-9s %s\n", "ID", "STATE", "FAMILY", "ALERTS", "MAXSCORE", "HOLDER")
			for _, c := range cs {
				fmt.Fprintf(w, "%-6d %-10s %-16s %-7d %-9d %s\n", c.ID, c.State, c.Family, c.Alerts, c.MaxScore, c.Holder)
			}
			return nil
		},
	}
	c.Flags().StringVar(&db, "db", risk.DefaultCaseDB, "case database file")
	c.Flags().StringVar(&state, "state", "", "only cases in this state")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func riskCaseID(arg string) (int64, error) {
	var id int64
	if _, err := fmt.Sscan(arg, &id); err != nil || id <= 0 || fmt.Sprint(id) != arg {
		return 0, usageErrorf("ID: %q is not a case number", arg)
	}
	return id, nil
}

func riskCaseCmd() *cobra.Command {
	var db string
	var asJSON bool
	c := &cobra.Command{
		Use:     "case ID [--db FILE] [--json]",
		Short:   "Show one case with its alerts and their explanations",
		Args:    cobra.ExactArgs(1),
		Example: `  paybridge risk case 3 --db risk.db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := riskCaseID(args[0])
			if err != nil {
				return err
			}
			st, err := riskOpenDB(db, true)
			if err != nil {
				return err
			}
			defer st.Close()
			cs, alerts, err := st.Case(cmd.Context(), id)
			if errors.Is(err, risk.ErrCaseNotFound) {
				return usageErrorf("ID: %v", err)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return riskWriteJSON(cmd.OutOrStdout(), map[string]any{"case": cs, "alerts": alerts})
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "case %d: %s, holder %s, family %s, %d alerts, max score %d\n", cs.ID, cs.State, cs.Holder, cs.Family, cs.Alerts, cs.MaxScore)
			if cs.Reason != "" {
				fmt.Fprintf(w, "reason: %s\n", cs.Reason)
			}
			for _, a := range alerts {
				fmt.Fprintf(w, "- %s event %s rule %s score %d: %s\n", a.Time.Format("2006-01-02 15:04"), a.EventID, a.RuleID, a.Score, a.Detail)
			}
			return nil
		},
	}
	c.Flags().StringVar(&db, "db", risk.DefaultCaseDB, "case database file")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}

func riskResolveCmd() *cobra.Command {
	var db, state, reason string
	c := &cobra.Command{
		Use:     "resolve ID --state confirmed|dismissed|reviewing --reason TEXT [--db FILE]",
		Short:   "Move a case to reviewing, confirmed or dismissed, with a reason",
		Args:    cobra.ExactArgs(1),
		Example: `  paybridge risk resolve 3 --state dismissed --reason "payroll, known employer" --db risk.db`,
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := riskCaseID(args[0])
			if err != nil {
				return err
			}
			if !riskContains([]string{"reviewing", "confirmed", "dismissed"}, state) {
				return usageErrorf("--state: %q is not one of reviewing, confirmed, dismissed", state)
			}
			if strings.TrimSpace(reason) == "" {
				return usageErrorf("--reason: say why the case moves")
			}
			st, err := riskOpenDB(db, true)
			if err != nil {
				return err
			}
			defer st.Close()
			err = st.Resolve(cmd.Context(), id, risk.CaseState(state), reason, time.Now())
			switch {
			case errors.Is(err, risk.ErrCaseNotFound):
				return usageErrorf("ID: %v", err)
			case errors.Is(err, risk.ErrBadTransition), errors.Is(err, risk.ErrReasonRequired):
				return usageErrorf("--state: %v", err)
			case err != nil:
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "case %d is now %s\n", id, state)
			return nil
		},
	}
	c.Flags().StringVar(&db, "db", risk.DefaultCaseDB, "case database file")
	c.Flags().StringVar(&state, "state", "", "new state: reviewing, confirmed or dismissed (required)")
	c.Flags().StringVar(&reason, "reason", "", "why (required)")
	return c
}

func riskRulesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "rules",
		Short: "Print the bundled default rule file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := cmd.OutOrStdout().Write(risk.DefaultRulesYAML())
			return err
		},
	}
}
