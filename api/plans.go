package api

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/paybridge/paybridge/route"
)

// plan is a stored planner result: a quote a payment can take.
type plan struct {
	id        string
	query     route.Query
	result    *route.Result
	expiresAt time.Time
	principal Principal
}

// planStore keeps plans in memory until they expire (wall time).
type planStore struct {
	now   func() time.Time
	mu    sync.Mutex
	plans map[string]*plan
	order []string // creation order, for expiry and the MaxPlans bound
}

func newPlanStore(now func() time.Time) *planStore {
	return &planStore{now: now, plans: map[string]*plan{}}
}

func (s *planStore) put(p *plan) {
	var b [12]byte
	rand.Read(b[:])
	p.id = "pl_" + hex.EncodeToString(b[:])
	p.expiresAt = s.now().Add(PlanTTL)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	for len(s.order) >= MaxPlans {
		delete(s.plans, s.order[0])
		s.order = s.order[1:]
	}
	s.plans[p.id] = p
	s.order = append(s.order, p.id)
}

// prune drops expired plans from the front (plans expire in creation order).
func (s *planStore) prune() {
	now := s.now()
	n := 0
	for n < len(s.order) {
		p, ok := s.plans[s.order[n]]
		if ok && p.expiresAt.After(now) {
			break
		}
		delete(s.plans, s.order[n])
		n++
	}
	s.order = s.order[n:]
}

// get returns an unexpired plan.
func (s *planStore) get(id string) (*plan, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.plans[id]
	if !ok || !p.expiresAt.After(s.now()) {
		return nil, false
	}
	return p, true
}

func (s *planStore) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune()
	return len(s.plans)
}

// maxCachedPlans bounds the planner results cached; the cache is emptied
// when it is full.
const maxCachedPlans = 4096

// planCache shares planner results between identical queries (same
// products, amount, holders, objective, hop bound and start time). The
// planner is deterministic for a query, so a cached result is the result.
type planCache struct {
	mu sync.Mutex
	m  map[string]cachedPlan
}

type cachedPlan struct {
	res  *route.Result
	json json.RawMessage
}

func (c *planCache) plan(q route.Query, run func() (*route.Result, error)) (*route.Result, json.RawMessage, error) {
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%s\x00%s\x00%v\x00%v\x00%d\x00%d\x00%s",
		q.From, q.To, q.AmountFen, q.FromHolder, q.ToHolder, q.Objective, q.Policy, q.MaxHops, q.Seed, q.At.UTC().Format(time.RFC3339Nano))
	c.mu.Lock()
	hit, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return hit.res, hit.json, nil
	}
	res, err := run()
	if err != nil {
		return nil, nil, err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedPlans {
		c.m = map[string]cachedPlan{}
	}
	c.m[key] = cachedPlan{res, b}
	c.mu.Unlock()
	return res, b, nil
}
