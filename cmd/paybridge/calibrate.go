package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/calibrate"
	"github.com/paybridge/paybridge/ecosystem"
)

func init() {
	var flags struct {
		ecosystem string
		json      bool
	}
	cmd := &cobra.Command{
		Use:   "calibrate",
		Short: "Check that a world reproduces its source's figures (the seed article's, for cn-2023)",
		Long: `calibrate computes every target figure in a world's calibration: section with
the route planner — the time, cost, success rate or app switches of a route
pinned by its channel ids (or of the query's best allowed route), or a figure
of one hop such as a latency quantile, a fee or a limit — and compares it with
the source's figure.

It prints, for each target, the source's figure (seed), the model's figure,
the tolerance and pass or FAIL, and exits 0 only if every target passes, 1 if
any fails, 2 if the world or a target is malformed. A tolerance is absolute
(0.0002 on a cost ratio is ±0.02 percentage points) or, with relative: true, a
fraction of the figure (0.1 is ±10%); min:/max: make a target a bound.

With --json it prints {"targets":[{"name","seed","model","tolerance","pass"}],"pass":bool};
there the tolerance is absolute and pass is |model − seed| ≤ tolerance; a
two-sided bound shows its middle ± half its width, a one-sided bound shows the
bound as seed with tolerance 0 (pass: model ≤ max, or ≥ min).

docs/calibration.md lists the bundled world's targets, their sources and
how the seed's ranges map to latency quantiles.`,
		Example: `  # The bundled world, cn-2023, against the seed article's figures
  paybridge calibrate

  # For a program, or for your own world file
  paybridge calibrate --json
  paybridge calibrate --ecosystem my-world.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eco, err := resolveEcosystemFlag(cmd.ErrOrStderr(), "--ecosystem", flags.ecosystem)
			if err != nil {
				return err
			}
			report, err := calibrate.Run(eco)
			if err != nil {
				return calibrationInputError(cmd.ErrOrStderr(), eco.ID, err)
			}
			out := cmd.OutOrStdout()
			if flags.json {
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				if err := enc.Encode(report); err != nil {
					return err
				}
			} else {
				printCalibration(out, eco.ID, report)
			}
			if failed := report.Failed(); len(failed) > 0 {
				return &failure{fmt.Sprintf("calibration of %s: %d of %d targets fail: %s", eco.ID, len(failed), len(report.Targets), strings.Join(failed, ", "))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&flags.ecosystem, "ecosystem", "", "bundled world name or ecosystem YAML file (default cn-2023)")
	cmd.Flags().BoolVar(&flags.json, "json", false, "print the report as JSON")
	root.AddCommand(cmd)
}

// calibrationInputError prints a malformed target's problems on stderr and
// returns a one-line usage error.
func calibrationInputError(stderr io.Writer, world string, err error) error {
	if ee, ok := err.(*ecosystem.Error); ok {
		for _, p := range ee.Problems {
			fmt.Fprintln(stderr, p.Error())
		}
		first := ee.Problems[0].Error()
		if len(ee.Problems) > 1 {
			first += fmt.Sprintf(" (and %d more)", len(ee.Problems)-1)
		}
		return usageErrorf("calibrate %s: %s", world, first)
	}
	return usageErrorf("calibrate %s: %s", world, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// printCalibration writes the human table.
func printCalibration(w io.Writer, world string, r *calibrate.Report) {
	fmt.Fprintf(w, "Calibration of %s: %d targets\n\n", world, len(r.Targets))
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tMETRIC\tSEED\tMODEL\tTOLERANCE\tRESULT")
	for _, t := range r.Targets {
		result := "pass"
		if !t.Pass {
			result = "FAIL"
		}
		model := formatFigure(t.Metric, t.Model)
		if t.Err != "" {
			model = "—"
			result = "FAIL: " + t.Err
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Metric, formatFigure(t.Metric, t.Seed), model, formatTolerance(t), result)
	}
	tw.Flush()
	fmt.Fprintln(w)
	if r.Pass {
		fmt.Fprintf(w, "All %d targets pass.\n", len(r.Targets))
		return
	}
	fmt.Fprintf(w, "%d of %d targets fail.\n", len(r.Failed()), len(r.Targets))
}

// formatTolerance shows a tolerance or a bound in the metric's unit.
func formatTolerance(t calibrate.Result) string {
	switch {
	case t.Min != nil && t.Max != nil:
		return formatFigure(t.Metric, *t.Min) + " to " + formatFigure(t.Metric, *t.Max)
	case t.Min != nil:
		return "≥ " + formatFigure(t.Metric, *t.Min)
	case t.Max != nil:
		return "≤ " + formatFigure(t.Metric, *t.Max)
	}
	if isRatioMetric(t.Metric) {
		return "± " + trimFloat(t.Tolerance*100, 3) + " pt"
	}
	return "± " + formatFigure(t.Metric, t.Tolerance)
}

// isRatioMetric reports whether a metric is a fraction shown as a percentage.
func isRatioMetric(metric string) bool {
	switch metric {
	case "cost_ratio", "success", "failure_rate", "hop_success":
		return true
	}
	return false
}

// formatFigure shows a figure in the unit its metric implies.
func formatFigure(metric string, v float64) string {
	switch {
	case strings.HasSuffix(metric, "_s") || metric == "hop_time_quantile":
		return formatSeconds(v)
	case strings.HasSuffix(metric, "_fen"):
		return fmt.Sprintf("%.2f yuan", v/100)
	case isRatioMetric(metric):
		return trimFloat(v*100, 3) + "%"
	}
	return trimFloat(v, 3)
}

func formatSeconds(s float64) string {
	switch {
	case math.Abs(s) >= 2*3600:
		return trimFloat(s/3600, 3) + " h"
	case math.Abs(s) >= 60:
		return trimFloat(s/60, 2) + " min"
	}
	return trimFloat(s, 1) + " s"
}

// trimFloat formats v with up to digits decimals, trailing zeros dropped.
func trimFloat(v float64, digits int) string {
	s := fmt.Sprintf("%.*f", digits, v)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
