// Package calibrate checks an ecosystem against its calibration targets: for
// each target it computes the model's figure with the route planner (a route
// pinned by channel ids, or the query's best allowed route) and compares it
// with the source's figure within a tolerance or a bound. It holds no figure
// of its own: the targets and the world are data.
package calibrate

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/money"
	"github.com/paybridge/paybridge/route"
)

// Metric names a figure of a route or of one of its hops.
type Metric struct {
	Name string
	// Hop is true when the metric is of one hop (the target's `hop`, 1-based).
	Hop bool
	// Quantile is true when the metric needs the target's `quantile`.
	Quantile bool
	Doc      string
	value    func(m measured) float64
}

// measured is what a metric reads: the evaluated route and, for hop
// metrics, the hop's index (0-based) and channel.
type measured struct {
	route    *route.Route
	hop      int
	channel  *ecosystem.Channel
	quantile float64
}

// Metrics are the metrics a calibration target may name, in the order docs list them.
var Metrics = []Metric{
	{Name: "time_mean_s", Doc: "mean time of the route, seconds", value: func(m measured) float64 { return m.route.TimeMeanS }},
	{Name: "time_p50_s", Doc: "median time of the route, seconds", value: func(m measured) float64 { return m.route.TimeP50S }},
	{Name: "time_p95_s", Doc: "95th-percentile time of the route, seconds", value: func(m measured) float64 { return m.route.TimeP95S }},
	{Name: "cost_ratio", Doc: "total fee / amount sent (0.002 is 0.2%)", value: func(m measured) float64 { return m.route.CostRatio }},
	{Name: "fee_fen", Doc: "total fee, fen", value: func(m measured) float64 { return float64(m.route.FeeFen) }},
	{Name: "delivered_fen", Doc: "amount delivered, fen", value: func(m measured) float64 { return float64(m.route.DeliveredFen) }},
	{Name: "success", Doc: "probability that every hop succeeds (0–1)", value: func(m measured) float64 { return m.route.Success }},
	{Name: "failure_rate", Doc: "1 − success", value: func(m measured) float64 { return 1 - m.route.Success }},
	{Name: "app_switches", Doc: "changes of app along the route", value: func(m measured) float64 { return float64(m.route.AppSwitches) }},
	{Name: "hop_time_quantile", Hop: true, Quantile: true, Doc: "the hop's latency at probability `quantile` (0 = its fastest), seconds",
		value: func(m measured) float64 { return route.HopLatency(m.channel).Quantile(m.quantile) }},
	{Name: "hop_time_mean_s", Hop: true, Doc: "the hop's mean latency, seconds", value: func(m measured) float64 { return route.HopLatency(m.channel).Mean() }},
	{Name: "hop_fee_fen", Hop: true, Doc: "the hop's fee, fen", value: func(m measured) float64 { return float64(m.route.Hops[m.hop].FeeFen) }},
	{Name: "hop_success", Hop: true, Doc: "the hop's success probability", value: func(m measured) float64 { return m.route.Hops[m.hop].Success }},
	{Name: "per_txn_limit_fen", Hop: true, Doc: "the hop's channel per-transaction limit, fen (0: none)", value: func(m measured) float64 { return float64(m.channel.Limits.PerTxnFen) }},
	{Name: "per_day_limit_fen", Hop: true, Doc: "the hop's channel daily limit, fen (0: none)", value: func(m measured) float64 { return float64(m.channel.Limits.PerDayFen) }},
}

// MetricNamed returns the metric called name.
func MetricNamed(name string) (Metric, bool) {
	i := slices.IndexFunc(Metrics, func(m Metric) bool { return m.Name == name })
	if i < 0 {
		return Metric{}, false
	}
	return Metrics[i], true
}

func metricNames() string {
	names := make([]string, len(Metrics))
	for i, m := range Metrics {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

// Result is one target's outcome. Its JSON is the contract
// {"name","seed","model","tolerance","pass"}; the other fields are for people.
type Result struct {
	Name string `json:"name"`
	// Seed is the source's figure: the target's value, or for a bound its
	// middle (min and max) or the bound (min or max alone).
	Seed float64 `json:"seed"`
	// Model is the model's figure (0 when it could not be computed; see Err).
	Model float64 `json:"model"`
	// Tolerance is the absolute tolerance: pass is |model − seed| ≤ tolerance.
	// For a two-sided bound it is half the bound's width around its middle;
	// for a one-sided bound it is 0 and pass is model ≤ max (or ≥ min).
	Tolerance float64 `json:"tolerance"`
	Pass      bool    `json:"pass"`

	Source string   `json:"-"`
	Metric string   `json:"-"`
	Min    *float64 `json:"-"`
	Max    *float64 `json:"-"`
	// Route is the evaluated route's channel ids.
	Route []string `json:"-"`
	// Err says why the model's figure could not be computed.
	Err string `json:"-"`
}

// Report is the outcome of every target, in file order.
type Report struct {
	Targets []Result `json:"targets"`
	Pass    bool     `json:"pass"`
}

// Failed returns the names of the targets that did not pass.
func (r *Report) Failed() []string {
	var out []string
	for _, t := range r.Targets {
		if !t.Pass {
			out = append(out, t.Name)
		}
	}
	return out
}

// Validate checks that every target names a known metric with what it needs
// (a hop for hop metrics, a quantile in [0, 1] for quantile metrics) and
// returns the problems by field path. Its signature fits ecosystem.Check.
func Validate(eco *ecosystem.Ecosystem) []ecosystem.Problem {
	var ps []ecosystem.Problem
	add := func(i int, field, format string, args ...any) {
		ps = append(ps, ecosystem.Problem{Path: fmt.Sprintf("calibration[%d].%s", i, field), Reason: fmt.Sprintf(format, args...)})
	}
	for i, t := range eco.Calibration {
		m, ok := MetricNamed(t.Metric)
		if !ok {
			add(i, "metric", "%q is not one of %s", t.Metric, metricNames())
			continue
		}
		if m.Hop && t.Hop < 1 {
			add(i, "hop", "metric %s is of one hop: set hop to 1 for the first hop, 2 for the second, …", m.Name)
		}
		switch {
		case m.Quantile && t.Quantile == nil:
			add(i, "quantile", "metric %s needs quantile, a probability from 0 (the fastest) to 1", m.Name)
		case t.Quantile != nil && !m.Quantile:
			add(i, "quantile", "is not used by metric %s", m.Name)
		case t.Quantile != nil && !(*t.Quantile >= 0 && *t.Quantile <= 1):
			add(i, "quantile", "%v must be between 0 and 1", *t.Quantile)
		}
		if t.Relative && t.Value == 0 {
			add(i, "relative", "a relative tolerance needs a non-zero value")
		}
	}
	return ps
}

// Run evaluates every calibration target of eco under the strict policy. It
// returns an *ecosystem.Error when a target is malformed or the rules do not
// compile; a target whose route cannot be evaluated fails with its reason in
// Result.Err.
func Run(eco *ecosystem.Ecosystem) (*Report, error) {
	if ps := Validate(eco); len(ps) > 0 {
		return nil, &ecosystem.Error{Problems: ps}
	}
	checker, err := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	if err != nil {
		return nil, err
	}
	report := &Report{Targets: make([]Result, 0, len(eco.Calibration)), Pass: true}
	for _, t := range eco.Calibration {
		res := evaluate(eco, checker, t)
		report.Pass = report.Pass && res.Pass
		report.Targets = append(report.Targets, res)
	}
	return report, nil
}

// evaluate computes one target.
func evaluate(eco *ecosystem.Ecosystem, checker route.RuleChecker, t ecosystem.CalibrationTarget) Result {
	res := Result{Name: t.Name, Seed: seed(t), Source: t.Source, Metric: t.Metric, Min: t.Min, Max: t.Max, Tolerance: tolerance(t)}
	model, channels, err := measure(eco, checker, t)
	res.Route = channels
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.Model = model
	res.Pass = passes(t, model)
	return res
}

// seed is the source's figure as reported: the value, or for a bound its
// middle (two-sided) or the bound itself (one-sided), so that the reported
// seed and tolerance say what passes.
func seed(t ecosystem.CalibrationTarget) float64 {
	switch {
	case t.Min != nil && t.Max != nil:
		return roundFloat((*t.Min + *t.Max) / 2)
	case t.Min != nil:
		return *t.Min
	case t.Max != nil:
		return *t.Max
	}
	return t.Value
}

// tolerance is the target's absolute tolerance as reported.
func tolerance(t ecosystem.CalibrationTarget) float64 {
	switch {
	case t.Min != nil && t.Max != nil:
		return roundFloat((*t.Max - *t.Min) / 2)
	case t.Min != nil || t.Max != nil:
		return 0
	case t.Relative:
		return roundFloat(math.Abs(t.Value) * t.Tolerance)
	}
	return t.Tolerance
}

// roundFloat drops binary-fraction noise (0.15−0.08 = 0.06999…) from a
// derived tolerance: 12 significant digits.
func roundFloat(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	scale := math.Pow(10, 11-math.Floor(math.Log10(math.Abs(v))))
	return math.Round(v*scale) / scale
}

// boundSlack absorbs floating-point noise in comparisons (a fraction of the scale).
const boundSlack = 1e-9

// passes reports whether model meets the target.
func passes(t ecosystem.CalibrationTarget, model float64) bool {
	if math.IsNaN(model) || math.IsInf(model, 0) {
		return false
	}
	slack := func(ref float64) float64 { return boundSlack * max(1, math.Abs(ref)) }
	if t.Min != nil || t.Max != nil {
		ok := true
		if t.Min != nil {
			ok = ok && model >= *t.Min-slack(*t.Min)
		}
		if t.Max != nil {
			ok = ok && model <= *t.Max+slack(*t.Max)
		}
		return ok
	}
	return math.Abs(model-t.Value) <= tolerance(t)+slack(t.Value)
}

// measure evaluates the target's route and reads its metric.
func measure(eco *ecosystem.Ecosystem, checker route.RuleChecker, t ecosystem.CalibrationTarget) (float64, []string, error) {
	m, _ := MetricNamed(t.Metric) // Validate checked it
	amountFen, err := money.ParseYuan(t.Query.AmountYuan)
	if err != nil {
		return 0, nil, fmt.Errorf("query.amount: %w", err)
	}
	q := route.Query{From: t.Query.From, To: t.Query.To, AmountFen: amountFen, ToHolder: t.Query.ToHolder,
		Objective: route.Objective(t.Query.Objective), Policy: compliance.PolicyStrict}
	var r *route.Route
	if len(t.Channels) > 0 {
		r, err = route.Evaluate(eco, q, t.Channels, checker)
		if err != nil {
			return 0, t.Channels, fmt.Errorf("evaluating the pinned route: %w", err)
		}
	} else {
		r, err = bestAllowed(eco, q, checker)
		if err != nil {
			return 0, nil, err
		}
	}
	channels := r.Channels()
	in := measured{route: r, hop: t.Hop - 1}
	if m.Hop {
		if t.Hop > len(r.Hops) {
			return 0, channels, fmt.Errorf("hop %d: the route has %d hops", t.Hop, len(r.Hops))
		}
		ch, ok := eco.Channel(r.Hops[in.hop].Channel)
		if !ok {
			return 0, channels, fmt.Errorf("hop %d: unknown channel %q", t.Hop, r.Hops[in.hop].Channel)
		}
		in.channel = ch
	}
	if t.Quantile != nil {
		in.quantile = *t.Quantile
	}
	return m.value(in), channels, nil
}

// errNoAllowedRoute is returned when a target's query has no allowed route.
var errNoAllowedRoute = errors.New("the query has no allowed or warned route")

// bestAllowed is the planner's first-ranked route that is not refused.
func bestAllowed(eco *ecosystem.Ecosystem, q route.Query, checker route.RuleChecker) (*route.Route, error) {
	res, err := route.Plan(eco, q, checker)
	if err != nil {
		return nil, fmt.Errorf("planning: %w", err)
	}
	for i := range res.Routes {
		if res.Routes[i].Verdict != route.VerdictRefused {
			return &res.Routes[i], nil
		}
	}
	return nil, errNoAllowedRoute
}
