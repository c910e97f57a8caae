package route

import (
	"fmt"
	"io"
	"strings"

	"github.com/paybridge/paybridge/money"
)

// WriteTable writes a result for people: the query, the allowed and warned
// routes ranked with their hops, cost, time, success and app switches, then
// the refused routes, each with the rules that refuse it, their citations
// and messages. A hop over a channel the world tags unverified is marked
// "[unverified]", and each result ends with its Sources: every channel and
// product its routes use, once, with what the world says of its source and
// the dates it is in force.
func WriteTable(w io.Writer, res *Result) error {
	tw := &errWriter{w: w, explained: map[string]bool{}}
	writeResult(tw, res)
	if alt := res.Alternative; alt != nil {
		tw.printf("\nNo route from %s is allowed. Money of your own at %s is another matter:\n\n", res.Query.From, alt.Query.From)
		writeResult(tw, alt)
	}
	return tw.err
}

func writeResult(tw *errWriter, res *Result) {
	q := res.Query
	tw.printf("Move %s yuan from %s (%s) to %s (%s) in %s; ranked by %s, policy %s",
		q.Amount, q.From, q.FromHolder, q.To, q.ToHolder, q.Ecosystem, q.Objective, q.Policy)
	if q.At != "" {
		tw.printf(", starting %s", q.At)
	}
	tw.printf(".\n")
	var ok, refused []*Route
	for i := range res.Routes {
		if res.Routes[i].Verdict == VerdictRefused {
			refused = append(refused, &res.Routes[i])
		} else {
			ok = append(ok, &res.Routes[i])
		}
	}
	if len(ok) == 0 {
		tw.printf("\nNo allowed route.\n")
	} else {
		tw.printf("\nAllowed routes (%d):\n", len(ok))
		for i, r := range ok {
			writeRoute(tw, i+1, r)
		}
	}
	if len(refused) > 0 {
		tw.printf("\nRefused routes (%d), and why:\n", len(refused))
		for i, r := range refused {
			writeRoute(tw, i+1, r)
		}
	}
	if res.Truncated {
		tw.printf("\nThe search hit its bounds (%d partial routes per account); a better route may exist.\n", MaxLabelsPerNode)
	}
	writeSources(tw, res)
}

// writeSources lists the result's sources: each channel and product the
// world says something of, one per line, then the ones it gives no source
// for on one line, so every one is named once. Only the channels and
// products of the routes shown are listed.
func writeSources(tw *errWriter, res *Result) {
	sources := res.UsedSources()
	if len(sources) == 0 {
		return
	}
	tw.printf("\nSources (what %s says of each channel and product used above):\n", res.Query.Ecosystem)
	var none []string
	for _, s := range sources {
		if s.Source == "" {
			none = append(none, s.Kind+" "+s.ID)
			continue
		}
		tw.printf("  %s %s: %s\n", s.Kind, s.ID, s.Source)
	}
	if len(none) > 0 {
		tw.printf("  No source given for: %s.\n", strings.Join(none, ", "))
	}
}

func writeRoute(tw *errWriter, n int, r *Route) {
	tw.printf("\n%2d. %s  %s  fee %s yuan (%s), delivered %s yuan\n", n, r.ID, r.Verdict,
		money.FormatYuan(r.FeeFen), percent(r.CostRatio), money.FormatYuan(r.DeliveredFen))
	tw.printf("    time mean %s, p50 %s, p95 %s; success %s; app switches %d\n",
		Duration(r.TimeMeanS), Duration(r.TimeP50S), Duration(r.TimeP95S), percent(r.Success), r.AppSwitches)
	for i, h := range r.Hops {
		holder := ""
		if h.FromHolder != h.ToHolder {
			holder = " (" + h.FromHolder + " → " + h.ToHolder + ")"
		}
		mark := ""
		if h.Unverified {
			mark = " [unverified]"
		}
		tw.printf("    %d) %s → %s%s  %s%s by %s in %s, fee %s, %s–%s, success %s\n", i+1, h.From, h.To, holder,
			h.Channel, mark, h.Institution, strings.Join(h.Apps, "→"), money.FormatYuan(h.FeeFen),
			Duration(h.TimeP50S), Duration(h.TimeP95S), percent(h.Success))
	}
	for _, f := range r.Findings {
		where := "route"
		if f.Hop > 0 {
			where = fmt.Sprintf("hop %d", f.Hop)
		}
		if tw.explained[f.Rule] {
			tw.printf("    %s %s (%s), explained above\n", f.Effect, f.Rule, where)
			continue
		}
		tw.explained[f.Rule] = true
		tw.printf("    %s %s (%s): %s [%s]\n", f.Effect, f.Rule, where, f.Message, f.Citation)
	}
}

// Duration renders seconds for people: "0s", "45s", "41.0 min", "2.50 h".
func Duration(seconds float64) string {
	switch {
	case seconds < 0.5:
		return "0s"
	case seconds < 90:
		return fmt.Sprintf("%.0fs", seconds)
	case seconds < 90*60:
		return fmt.Sprintf("%.1f min", seconds/60)
	default:
		return fmt.Sprintf("%.2f h", seconds/3600)
	}
}

func percent(x float64) string { return fmt.Sprintf("%.2f%%", 100*x) }

// errWriter remembers the first write error.
type errWriter struct {
	w         io.Writer
	err       error
	explained map[string]bool // rules whose message and citation were printed
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}
