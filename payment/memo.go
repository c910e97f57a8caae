package payment

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/route"
)

// PlanSeed is the seed of the planner's time-quantile samples for every
// payment's route: the route's predicted times are then a function of the
// query alone, while the payment's own seed drives its execution draws.
const PlanSeed = 1

// MaxMemoPlans bounds the memo of route choices; past it the memo starts afresh.
const MaxMemoPlans = 4096

// planMemo remembers route choices by their exact inputs: the query (with
// the holder's usage of limited channels, quotas and capped balances, and
// the start's route.StartKey) and the pinned route. A hit returns what the
// planner returned for the same inputs, so memoising changes no result,
// only its cost.
type planMemo struct {
	eco *ecosystem.Ecosystem // the executor's first: its timezone and channels (StartKey, Times)
	mu  sync.Mutex
	// world is the ecosystem m's routes were chosen in. A later one with
	// holders added keeps them (the routes of other holders are the same);
	// one in which accounts were opened (OpenAccounts) starts m afresh.
	world *ecosystem.Ecosystem
	m     map[string]memoEntry
	times map[string]routeTimes // by channels and StartKey: see timesOf
}

// routeTimes are a route's time statistics.
type routeTimes struct{ mean, p50, p95 float64 }

// timesOf sets r's time statistics (route.Times for its start and the plan
// seed), memoised by the route's channels and the start's StartKey, which
// changes no result: route.Times depends on nothing else.
func (pm *planMemo) timesOf(r *route.Route, at time.Time) error {
	key := strings.Join(r.Channels(), ",") + "|" + route.StartKey(pm.eco, at)
	pm.mu.Lock()
	t, ok := pm.times[key]
	pm.mu.Unlock()
	if ok {
		r.TimeMeanS, r.TimeP50S, r.TimeP95S = t.mean, t.p50, t.p95
		return nil
	}
	if err := route.Times(pm.eco, at, PlanSeed, r); err != nil {
		return err
	}
	pm.mu.Lock()
	if pm.times == nil || len(pm.times) >= MaxMemoPlans {
		pm.times = make(map[string]routeTimes)
	}
	pm.times[key] = routeTimes{r.TimeMeanS, r.TimeP50S, r.TimeP95S}
	pm.mu.Unlock()
	return nil
}

type memoEntry struct {
	r   *route.Route
	js  json.RawMessage
	err error
}

// usable reports whether m may serve (and keep) routes chosen in eco,
// adopting eco as m's world when it is newer. Called with mu held.
func (pm *planMemo) usable(eco *ecosystem.Ecosystem) bool {
	switch {
	case pm.world == eco:
	case eco.HoldersAddedTo(pm.world): // newer, holders added only
		pm.world = eco
	case pm.world != nil && pm.world.HoldersAddedTo(eco): // older than m's: a request that read the world before a change
		return false
	default: // accounts opened since
		pm.m, pm.world = nil, eco
	}
	return true
}

func (pm *planMemo) pick(eco *ecosystem.Ecosystem, q route.Query, req Request, pick func(*ecosystem.Ecosystem, route.Query, Request) (*route.Route, error)) (*route.Route, json.RawMessage, error) {
	var b strings.Builder
	b.WriteString(q.From + "|" + q.To + "|" + q.FromHolder + "|" + q.ToHolder + "|" + string(q.Objective) + "|")
	// Starts with the same StartKey give the same routes (in the bundled
	// world, with no clearing constraint, every start between two channel
	// validity dates does), so the memo serves a clock that moves on.
	b.WriteString(route.StartKey(pm.eco, q.At) + "|" + req.RouteID + "|" + strings.Join(req.Channels, ",") + "|")
	writeUsage(&b, q.Usage)
	key := b.String() + "|" + strconv.FormatInt(q.AmountFen, 10) + "|" + strconv.FormatInt(q.CreditShareBps, 10)
	pm.mu.Lock()
	use := pm.usable(eco)
	e, ok := pm.m[key]
	pm.mu.Unlock()
	if ok && use {
		return e.r, e.js, e.err
	}
	e.r, e.err = pick(eco, q, req)
	if e.r != nil {
		e.js, _ = json.Marshal(e.r)
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if !pm.usable(eco) {
		return e.r, e.js, e.err
	}
	if pm.m == nil || len(pm.m) >= MaxMemoPlans {
		pm.m = make(map[string]memoEntry)
	}
	pm.m[key] = e
	return e.r, e.js, e.err
}

// writeUsage writes u to b in key order: equal usages write equal text.
func writeUsage(b *strings.Builder, u *route.Usage) {
	if u == nil {
		return
	}
	for _, m := range []map[string]route.Used{u.Channels, u.Products} {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			v := m[k]
			b.WriteString(k)
			for _, n := range []int64{v.FreeQuotaFen, v.DayFen, v.MonthFen, v.YearFen, v.LifetimeFen, v.DayCount} {
				b.WriteByte(':')
				b.WriteString(strconv.FormatInt(n, 10))
			}
			b.WriteByte(';')
		}
		b.WriteByte('|')
	}
	for _, k := range slices.Sorted(maps.Keys(u.Balances)) {
		b.WriteString(k + "=" + strconv.FormatInt(u.Balances[k], 10) + ";")
	}
}
