package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/calibrate"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/money"
)

// ecosystemCmd is `paybridge ecosystem`; other files may add subcommands to it.
var ecosystemCmd = &cobra.Command{
	Use:   "ecosystem",
	Short: "Validate, show, list and generate ecosystem files (the payment worlds paybridge plans in)",
	Long: `An ecosystem file is a YAML description of a payment world: holders,
institutions, their account products, the channels between products (fees,
limits, latency, success rate), compliance rules and calibration targets.
docs/ecosystem.md documents every field.

paybridge bundles worlds into the binary (see "paybridge ecosystem list"; the
default is ` + ecosystems.Default + `). Every command that takes --ecosystem accepts a
bundled name or the path of your own file.`,
	Example: `  paybridge ecosystem list
  paybridge ecosystem show
  paybridge ecosystem validate my-world.yaml
  paybridge ecosystem generate --institutions 1000 --seed 1 --out big.yaml`,
	Args: cobra.NoArgs,
	RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
}

// ecosystemRegistry resolves --ecosystem for the ecosystem commands: the
// bundled worlds, with rules compiled and calibration targets checked on load.
var ecosystemRegistry = ecosystems.Bundled.With(calibrate.Validate)

func init() {
	ecosystemCmd.AddCommand(newEcosystemValidateCmd(), newEcosystemShowCmd(), newEcosystemListCmd(), newEcosystemGenerateCmd())
	root.AddCommand(ecosystemCmd)
}

// resolveEcosystemFlag loads --ecosystem (a bundled name or a file) and turns
// its errors into what the CLI prints: every problem of an invalid file on its
// own line on stderr, then a one-line usage error (exit 2).
func resolveEcosystemFlag(stderr io.Writer, flag, nameOrPath string) (*ecosystem.Ecosystem, error) {
	e, err := ecosystemRegistry.Resolve(nameOrPath)
	if err == nil {
		return e, nil
	}
	var ee *ecosystem.Error
	switch {
	case errors.As(err, &ee):
		for _, p := range ee.Problems {
			fmt.Fprintln(stderr, p.Error())
		}
		if ee.Omitted > 0 {
			fmt.Fprintf(stderr, "… and %d more problems\n", ee.Omitted)
		}
		return nil, usageErrorf("%s %s: invalid ecosystem, %d problems", flag, displayEcosystem(nameOrPath), len(ee.Problems)+ee.Omitted)
	case errors.Is(err, ecosystems.ErrUnknown), errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("%s: %v", flag, err)
	}
	return nil, usageErrorf("%s %s: %v", flag, displayEcosystem(nameOrPath), err)
}

func displayEcosystem(nameOrPath string) string {
	if nameOrPath == "" {
		return ecosystems.Default
	}
	return nameOrPath
}

func newEcosystemValidateCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "validate FILE|NAME",
		Short: "Check an ecosystem file and report every problem with file:line:column",
		Long: `validate loads an ecosystem file (or a bundled world by name) with every check
paybridge runs before planning: unknown fields, types, dangling references,
duplicate ids, enums, fees, limits, latency distributions, clearing windows,
calibration queries and the rules' CEL expressions. It prints

  ok: N institutions, N products, N channels, N rules

or every problem, one per line, as "file:line:column: field.path: reason",
and exits 2 when the file is invalid.`,
		Example: `  paybridge ecosystem validate my-world.yaml
  paybridge ecosystem validate cn-2023
  paybridge ecosystem validate --json my-world.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !asJSON {
				e, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "validate", args[0])
				if err != nil {
					return err
				}
				c := e.Counts()
				fmt.Fprintf(cmd.OutOrStdout(), "ok: %d institutions, %d products, %d channels, %d rules\n", c.Institutions, c.Products, c.Channels, c.Rules)
				return nil
			}
			return validateJSON(cmd.OutOrStdout(), args[0])
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ok":bool,"counts":{…},"problems":[{"file","line","column","path","reason"}]}`)
	return cmd
}

// validateJSON prints the validation result as one JSON object; an invalid
// file still exits 2.
func validateJSON(w io.Writer, nameOrPath string) error {
	out := struct {
		OK       bool                `json:"ok"`
		Counts   *ecosystem.Counts   `json:"counts,omitempty"`
		Problems []ecosystem.Problem `json:"problems"`
	}{Problems: []ecosystem.Problem{}}
	e, err := ecosystemRegistry.Resolve(nameOrPath)
	var ee *ecosystem.Error
	switch {
	case err == nil:
		c := e.Counts()
		out.OK, out.Counts = true, &c
	case errors.As(err, &ee):
		out.Problems = ee.Problems
	default:
		return usageErrorf("validate: %v", err)
	}
	if err := writeJSON(w, out); err != nil {
		return err
	}
	if !out.OK {
		return usageErrorf("validate %s: invalid ecosystem, %d problems", nameOrPath, len(ee.Problems)+ee.Omitted)
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newEcosystemShowCmd() *cobra.Command {
	var name string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print a world: institutions, products, channels, rules and calibration targets",
		Long: `show prints a readable summary of an ecosystem: one table each for institutions,
products, channels (fee, latency, success), rules and calibration targets.
With --json it prints the whole model as JSON, field names as in the YAML file
(durations in JSON are integer nanoseconds).`,
		Example: `  paybridge ecosystem show
  paybridge ecosystem show --ecosystem my-world.yaml
  paybridge ecosystem show --json | jq '.channels | length'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", name)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), e)
			}
			return showEcosystem(cmd.OutOrStdout(), e)
		},
	}
	cmd.Flags().StringVar(&name, "ecosystem", ecosystems.Default, "bundled world name or path of an ecosystem YAML file")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the full model as JSON")
	return cmd
}

func showEcosystem(w io.Writer, e *ecosystem.Ecosystem) error {
	fmt.Fprintf(w, "%s — %s\n", e.ID, e.Name)
	if e.Description != "" {
		fmt.Fprintln(w, strings.TrimSpace(e.Description))
	}
	tz := e.Timezone
	if tz == "" {
		tz = "Asia/Shanghai (default)"
	}
	fmt.Fprintf(w, "currency %s, timezone %s\n", e.Currency, tz)
	var holders []string
	for _, h := range e.Holders {
		s := fmt.Sprintf("%s (%s, KYC %d", h.ID, h.Kind, h.KYCLevel)
		if h.Default {
			s += ", default"
		}
		holders = append(holders, s+")")
	}
	fmt.Fprintf(w, "holders: %s\n", strings.Join(holders, ", "))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\nINSTITUTIONS (%d)\nID\tKIND\tAPP\tCLEARING\tNAME\n", len(e.Institutions))
	for _, in := range e.Institutions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", in.ID, in.Kind, dash(in.App), clearingText(in.Clearing), in.Name)
	}
	fmt.Fprintf(tw, "\nPRODUCTS (%d)\nID\tKIND\tCASH-WITHDRAWABLE\tPURPOSE\tCREDIT LIMIT\tTIERS\n", len(e.Products))
	for _, p := range e.Products {
		limit := "-"
		if p.CreditLimitFen > 0 {
			limit = money.FormatYuan(p.CreditLimitFen)
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\t%s\n", p.ID, p.Kind, p.CashWithdrawable, dash(p.Purpose), limit, tierNames(p.Tiers))
	}
	fmt.Fprintf(tw, "\nCHANNELS (%d)\nID\tKIND\tFROM → TO\tBY\tFEE\tLATENCY\tSUCCESS\n", len(e.Channels))
	for _, c := range e.Channels {
		fmt.Fprintf(tw, "%s\t%s\t%s → %s\t%s\t%s\t%s\t%.3g\n", c.ID, c.Kind, c.From, c.To, c.Institution, feeText(c.Fee), latencyText(c.Latency), c.Success)
	}
	fmt.Fprintf(tw, "\nRULES (%d)\nID\tSCOPE\tEFFECT\tCITATION\n", len(e.Rules))
	for _, r := range e.Rules {
		effect := r.Effect
		if r.Advisory {
			effect += " (advisory)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.Scope, effect, r.Citation)
	}
	if len(e.Calibration) > 0 {
		fmt.Fprintf(tw, "\nCALIBRATION TARGETS (%d)\nNAME\tMETRIC\tTARGET\tQUERY\n", len(e.Calibration))
		for _, c := range e.Calibration {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s → %s, %s yuan\n", c.Name, c.Metric, targetText(c), c.Query.From, c.Query.To, c.Query.AmountYuan)
		}
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tierNames(tiers []ecosystem.Tier) string {
	var names []string
	for _, t := range tiers {
		names = append(names, t.Name)
	}
	return dash(strings.Join(names, ", "))
}

func clearingText(c ecosystem.Clearing) string {
	s := c.Mode
	if s == "" {
		s = ecosystem.ClearingRealtime
	}
	for _, win := range c.Windows {
		s += " " + win.Open + "-" + win.Close
	}
	if c.Days == "weekdays" {
		s += " weekdays"
	}
	return s
}

func feeText(f money.FeeSchedule) string {
	if f == (money.FeeSchedule{}) {
		return "free"
	}
	parts := []string{fmt.Sprintf("%d.%02d%%", f.RateBps/100, f.RateBps%100)}
	if f.MinFen > 0 {
		parts = append(parts, "min "+money.FormatYuan(f.MinFen))
	}
	if f.MaxFen > 0 {
		parts = append(parts, "max "+money.FormatYuan(f.MaxFen))
	}
	if f.FixedFen > 0 {
		parts = append(parts, "+"+money.FormatYuan(f.FixedFen))
	}
	if f.FreeQuotaFen > 0 {
		parts = append(parts, money.FormatYuan(f.FreeQuotaFen)+" free")
	}
	return strings.Join(parts, " ")
}

func latencyText(l ecosystem.Latency) string {
	switch l.Dist {
	case ecosystem.LatencyInstant:
		return "instant"
	case ecosystem.LatencyFixed:
		return "fixed " + l.P50.String()
	case ecosystem.LatencyUniform:
		return fmt.Sprintf("uniform %s–%s", l.Min, l.Max)
	case ecosystem.LatencyLogNormal:
		s := fmt.Sprintf("lognormal p50 %s p95 %s", l.P50, l.P95)
		if l.Min > 0 {
			s += " +" + l.Min.String()
		}
		return s
	}
	return l.Dist
}

func targetText(c ecosystem.CalibrationTarget) string {
	switch {
	case c.Min != nil && c.Max != nil:
		return fmt.Sprintf("%g–%g", *c.Min, *c.Max)
	case c.Min != nil:
		return fmt.Sprintf("≥ %g", *c.Min)
	case c.Max != nil:
		return fmt.Sprintf("≤ %g", *c.Max)
	case c.Relative:
		return fmt.Sprintf("%g ±%g%%", c.Value, c.Tolerance*100)
	}
	return fmt.Sprintf("%g ±%g", c.Value, c.Tolerance)
}

func newEcosystemListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the worlds bundled into paybridge",
		Long: `list prints the bundled ecosystems: their id (what --ecosystem takes), name and
description. The default world is marked with *.`,
		Example: `  paybridge ecosystem list
  paybridge ecosystem list --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			infos := ecosystems.List()
			if asJSON {
				if infos == nil {
					infos = []ecosystems.Info{}
				}
				return writeJSON(cmd.OutOrStdout(), infos)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tDESCRIPTION")
			for _, in := range infos {
				id := in.ID
				if id == ecosystems.Default {
					id += " *"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", id, in.Name, firstSentence(in.Description))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print [{"id","name","description","file"}]`)
	return cmd
}

// firstSentence shortens a description to its first line.
func firstSentence(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

func newEcosystemGenerateCmd() *cobra.Command {
	var institutions int
	var seed int64
	var out string
	cmd := &cobra.Command{
		Use:   "generate --institutions N --seed S [--out FILE]",
		Short: "Generate a large synthetic world (for benchmarks and what-ifs) as YAML",
		Long: fmt.Sprintf(`generate writes a valid, plausible synthetic ecosystem: the e-CNY wallet, two
clearing houses, then banks (35%%), wallets (15%%), credit issuers (10%%),
merchants (35%%) and cash-out intermediaries (5%%), with about 20 channels per
institution, holders "me" and "friend", and rules shaped like the bundled
world's. The same --institutions and --seed give byte-identical output.
--institutions must be between %d and %d.`, ecosystem.MinGenerated, ecosystem.MaxGenerated),
		Example: `  paybridge ecosystem generate --institutions 1000 --seed 1 --out big.yaml
  paybridge route --ecosystem big.yaml --from wallet0001.balance --to bank0002.debit --amount 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if institutions < ecosystem.MinGenerated || institutions > ecosystem.MaxGenerated {
				return usageErrorf("--institutions: %d is out of range; use %d to %d", institutions, ecosystem.MinGenerated, ecosystem.MaxGenerated)
			}
			e := ecosystem.Generate(institutions, seed)
			data, err := ecosystem.Marshal(e)
			if err != nil {
				return err
			}
			if out == "" || out == "-" {
				_, err = cmd.OutOrStdout().Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return usageErrorf("--out: %v", err)
			}
			c := e.Counts()
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d institutions, %d products, %d channels, %d rules\n", out, c.Institutions, c.Products, c.Channels, c.Rules)
			return nil
		},
	}
	cmd.Flags().IntVar(&institutions, "institutions", 1000, "number of institutions")
	cmd.Flags().Int64Var(&seed, "seed", 1, "random seed; the same seed gives the same world")
	cmd.Flags().StringVar(&out, "out", "", "write the YAML to this file instead of stdout")
	return cmd
}
