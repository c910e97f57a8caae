package route

import (
	"cmp"
	"slices"
)

// rank computes the balanced score of each route among routes and sorts
// them by the objective; at equal merit a route over fewer unverified
// channels comes first, then ties are broken by route id.
func rank(routes []*Route, obj Objective) {
	score(routes)
	slices.SortFunc(routes, func(a, b *Route) int {
		var c int
		switch obj {
		case ObjectiveCost:
			c = cmp.Or(cmp.Compare(a.FeeFen, b.FeeFen), cmp.Compare(a.TimeMeanS, b.TimeMeanS), cmp.Compare(b.Success, a.Success), cmp.Compare(a.AppSwitches, b.AppSwitches))
		case ObjectiveTime:
			c = cmp.Or(cmp.Compare(a.TimeMeanS, b.TimeMeanS), cmp.Compare(a.FeeFen, b.FeeFen), cmp.Compare(b.Success, a.Success), cmp.Compare(a.AppSwitches, b.AppSwitches))
		case ObjectiveReliability:
			c = cmp.Or(cmp.Compare(b.Success, a.Success), cmp.Compare(a.FeeFen, b.FeeFen), cmp.Compare(a.TimeMeanS, b.TimeMeanS), cmp.Compare(a.AppSwitches, b.AppSwitches))
		case ObjectiveEffort:
			c = cmp.Or(cmp.Compare(a.AppSwitches, b.AppSwitches), cmp.Compare(a.Effort, b.Effort), cmp.Compare(a.FeeFen, b.FeeFen), cmp.Compare(a.TimeMeanS, b.TimeMeanS), cmp.Compare(b.Success, a.Success))
		default:
			c = cmp.Compare(a.Score, b.Score)
		}
		return cmp.Or(c, cmp.Compare(a.unverifiedHops(), b.unverifiedHops()), cmp.Compare(a.ID, b.ID))
	})
}

// score sets each route's balanced score: every criterion (fee, mean time,
// failure probability, app switches) is scaled to [0, 1] between the best
// and the worst value among routes (0 when all are equal), then weighted by
// WeightCost, WeightTime, WeightFailure and WeightEffort.
func score(routes []*Route) {
	if len(routes) == 0 {
		return
	}
	get := []func(*Route) float64{
		func(r *Route) float64 { return float64(r.FeeFen) },
		func(r *Route) float64 { return r.TimeMeanS },
		func(r *Route) float64 { return 1 - r.Success },
		func(r *Route) float64 { return float64(r.AppSwitches) },
	}
	weights := []float64{WeightCost, WeightTime, WeightFailure, WeightEffort}
	for _, r := range routes {
		r.Score = 0
	}
	for k, f := range get {
		lo, hi := f(routes[0]), f(routes[0])
		for _, r := range routes[1:] {
			lo, hi = min(lo, f(r)), max(hi, f(r))
		}
		if hi <= lo {
			continue
		}
		for _, r := range routes {
			r.Score += weights[k] * (f(r) - lo) / (hi - lo)
		}
	}
}
