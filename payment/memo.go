package payment

import (
	"encoding/json"
	"strings"
	"sync"

	"github.com/paybridge/paybridge/route"
)

// PlanSeed is the seed of the planner's time-quantile samples for every
// payment's route: the route's predicted times are then a function of the
// query alone, while the payment's own seed drives its execution draws.
const PlanSeed = 1

// MaxMemoPlans bounds the memo of route choices; past it the memo starts afresh.
const MaxMemoPlans = 4096

// planMemo remembers route choices by their exact inputs: the query (with
// the holder's usage of limited channels, quotas and capped balances) and
// the pinned route. A hit returns what the planner returned for the same
// inputs, so memoising changes no result, only its cost.
type planMemo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	r   *route.Route
	js  json.RawMessage
	err error
}

func (pm *planMemo) pick(q route.Query, req Request, pick func(route.Query, Request) (*route.Route, error)) (*route.Route, json.RawMessage, error) {
	usage, err := json.Marshal(q.Usage) // maps marshal in key order
	if err != nil {
		r, err := pick(q, req)
		return r, nil, err
	}
	var b strings.Builder
	b.WriteString(q.From + "|" + q.To + "|" + q.FromHolder + "|" + q.ToHolder + "|" + string(q.Objective) + "|")
	b.WriteString(q.At.UTC().Format("2006-01-02T15:04:05.999999999") + "|" + req.RouteID + "|" + strings.Join(req.Channels, ",") + "|")
	b.Write(json.RawMessage(usage))
	key := b.String() + "|" + itoa64(q.AmountFen)
	pm.mu.Lock()
	e, ok := pm.m[key]
	pm.mu.Unlock()
	if ok {
		return e.r, e.js, e.err
	}
	e.r, e.err = pick(q, req)
	if e.r != nil {
		e.js, _ = json.Marshal(e.r)
	}
	pm.mu.Lock()
	if pm.m == nil || len(pm.m) >= MaxMemoPlans {
		pm.m = make(map[string]memoEntry)
	}
	pm.m[key] = e
	pm.mu.Unlock()
	return e.r, e.js, e.err
}

func itoa64(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
