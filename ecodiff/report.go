package ecodiff

import "github.com/paybridge/paybridge/route"

// Report is a comparison as `paybridge ecosystem diff --json` prints it and
// GET /v1/ecosystems/diff answers it: the two worlds, the counts, every
// difference, and, for a query, each world's routes.
type Report struct {
	A           World   `json:"a"`
	B           World   `json:"b"`
	Summary     Summary `json:"summary"`
	Differences []Entry `json:"differences"`
	Routes      *Routes `json:"routes,omitempty"`
}

// Summary counts a Diff's entries by change.
type Summary struct {
	Added   int `json:"added"`
	Removed int `json:"removed"`
	Changed int `json:"changed"`
}

// Routes is each world's answer to the same query.
type Routes struct {
	A WorldPlan `json:"a"`
	B WorldPlan `json:"b"`
}

// WorldPlan is one world's answer to the query: the planner's result, or
// why the query does not fit that world.
type WorldPlan struct {
	*route.Result
	Error string `json:"error,omitempty"`
}

// Report returns d as a Report without routes (Differences is never nil).
func (d *Diff) Report() Report {
	r := Report{A: d.A, B: d.B, Differences: d.Entries}
	if r.Differences == nil {
		r.Differences = []Entry{}
	}
	r.Summary.Added, r.Summary.Removed, r.Summary.Changed = d.Counts()
	return r
}
