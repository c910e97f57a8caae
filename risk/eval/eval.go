// Package eval replays a labelled data set through the risk engine and scores
// its alerts against the answer key: precision, recall and F1 at transaction
// and account level, recall per pattern family, alert rate, throughput and
// decision latency.
package eval

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/risk/dataset"
)

// Score is precision, recall and F1 with the counts behind them.
type Score struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
}

func score(tp, fp, fn int) Score {
	s := Score{TP: tp, FP: fp, FN: fn}
	if tp+fp > 0 {
		s.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		s.Recall = float64(tp) / float64(tp+fn)
	}
	if s.Precision+s.Recall > 0 {
		s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
	}
	return s
}

// Family is the recall on one pattern family. With an IBM patterns file,
// Recall is the mean per-pattern recall over the patterns wholly inside the
// sample (Patterns of them); RowsRecall is over every sample row that joins
// a pattern of the family. Without one, Recall is over the positives the
// loader labelled with the family.
type Family struct {
	Recall     float64 `json:"recall"`
	Patterns   int     `json:"patterns"`
	Detected   int     `json:"patterns_detected"` // patterns with at least half their rows flagged
	Rows       int     `json:"rows"`
	RowsRecall float64 `json:"rows_recall"`
}

// Report is the result of one evaluation; its JSON form is the CLI contract.
type Report struct {
	Format          string            `json:"format"`
	Events          int               `json:"events"`
	Positives       int               `json:"positives"`
	Alerts          int               `json:"alerts"`
	AlertsPer1000   float64           `json:"alerts_per_1000"`
	Transactions    Score             `json:"transactions"`
	Accounts        Score             `json:"accounts"`
	Families        map[string]Family `json:"families"`
	EventsPerSecond float64           `json:"events_per_s"`
	DecisionP99Ms   float64           `json:"decision_p99_ms"`
	RuleHits        map[string]int    `json:"rule_hits"`
}

// Run replays set through en (a fresh engine) and scores it. patterns is the
// IBM answer key, or nil. onAlert, when not nil, receives every alerting decision.
func Run(set *dataset.Set, en *risk.Engine, patterns []dataset.IBMPatternTx, onAlert func(risk.Event, risk.Decision) error) (*Report, error) {
	flagged := make(map[string]bool)
	flaggedAcc := make(map[string]bool)
	lat := make([]time.Duration, len(set.Events))
	rep := &Report{Format: set.Format, Events: len(set.Events), Families: map[string]Family{}, RuleHits: map[string]int{}}
	start := time.Now()
	for i := range set.Events {
		e := set.Events[i]
		t0 := time.Now()
		d, err := en.Observe(e)
		lat[i] = time.Since(t0)
		if err != nil {
			return nil, fmt.Errorf("event %s: %w", e.ID, err)
		}
		if !d.Alert() {
			continue
		}
		rep.Alerts++
		flagged[e.ID] = true
		flaggedAcc[e.FromAccount], flaggedAcc[e.ToAccount] = true, true
		for _, m := range d.Matches {
			rep.RuleHits[m.RuleID]++
			if m.Pattern == nil {
				continue
			}
			for _, mem := range m.Pattern.Members {
				flagged[mem.TxID] = true
				flaggedAcc[mem.From], flaggedAcc[mem.To] = true, true
			}
		}
		if onAlert != nil {
			if err := onAlert(e, d); err != nil {
				return nil, err
			}
		}
	}
	elapsed := time.Since(start)
	if elapsed > 0 {
		rep.EventsPerSecond = math.Round(float64(len(set.Events)) / elapsed.Seconds())
	}
	rep.DecisionP99Ms = p99ms(lat)
	if rep.Events > 0 {
		rep.AlertsPer1000 = round4(float64(rep.Alerts) * 1000 / float64(rep.Events))
	}
	var tp, fp, fn int
	for i := range set.Events {
		e := &set.Events[i]
		pos := e.Labels != nil && e.Labels.Fraud
		rep.Positives += b2i(pos)
		switch {
		case pos && flagged[e.ID]:
			tp++
		case !pos && flagged[e.ID]:
			fp++
		case pos:
			fn++
		}
	}
	rep.Transactions = score(tp, fp, fn)
	tp, fp, fn = 0, 0, 0
	for a := range set.Accounts {
		pos := set.PositiveAccounts[a]
		switch {
		case pos && flaggedAcc[a]:
			tp++
		case !pos && flaggedAcc[a]:
			fp++
		case pos:
			fn++
		}
	}
	rep.Accounts = score(tp, fp, fn)
	if patterns != nil {
		ibmFamilies(rep, set, patterns, flagged)
	} else {
		labelFamilies(rep, set, flagged)
	}
	return rep, nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func round4(x float64) float64 { return math.Round(x*1e4) / 1e4 }

func p99ms(lat []time.Duration) float64 {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return round4(float64(s[(len(s)*99)/100]) / float64(time.Millisecond))
}

// ibmFamilies scores per-pattern recall on patterns wholly inside the sample.
func ibmFamilies(rep *Report, set *dataset.Set, patterns []dataset.IBMPatternTx, flagged map[string]bool) {
	inSample := make(map[string]bool, len(set.Events))
	for i := range set.Events {
		inSample[set.Events[i].ID] = true
	}
	type pat struct {
		family     string
		rows, in   int
		flaggedIns int
	}
	pats := map[string]*pat{}
	var ids []string
	rows := map[string][2]int{} // family -> rows in sample, flagged
	for _, p := range patterns {
		q := pats[p.PatternID]
		if q == nil {
			q = &pat{family: p.Family}
			pats[p.PatternID] = q
			ids = append(ids, p.PatternID)
		}
		q.rows++
		if inSample[p.Key] {
			q.in++
			r := rows[p.Family]
			r[0]++
			if flagged[p.Key] {
				q.flaggedIns++
				r[1]++
			}
			rows[p.Family] = r
		}
	}
	sort.Strings(ids)
	sums := map[string]float64{}
	for _, id := range ids {
		q := pats[id]
		f := rep.Families[q.family]
		if q.in == q.rows {
			f.Patterns++
			r := float64(q.flaggedIns) / float64(q.rows)
			sums[q.family] += r
			if 2*q.flaggedIns >= q.rows {
				f.Detected++
			}
		}
		rep.Families[q.family] = f
	}
	for name, f := range rep.Families {
		if f.Patterns > 0 {
			f.Recall = round4(sums[name] / float64(f.Patterns))
		}
		r := rows[name]
		f.Rows = r[0]
		if r[0] > 0 {
			f.RowsRecall = round4(float64(r[1]) / float64(r[0]))
		}
		rep.Families[name] = f
	}
}

// labelFamilies scores recall per family named in the events' labels.
func labelFamilies(rep *Report, set *dataset.Set, flagged map[string]bool) {
	counts := map[string][2]int{}
	for i := range set.Events {
		l := set.Events[i].Labels
		if l == nil || !l.Fraud || l.Pattern == "" {
			continue
		}
		c := counts[l.Pattern]
		c[0]++
		if flagged[set.Events[i].ID] {
			c[1]++
		}
		counts[l.Pattern] = c
	}
	for name, c := range counts {
		r := round4(float64(c[1]) / float64(c[0]))
		rep.Families[name] = Family{Recall: r, Rows: c[0], RowsRecall: r}
	}
}
