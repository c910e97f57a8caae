package route

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
)

// Bounds of a Planner's memos. Past a bound a new entry evicts an arbitrary
// old one, so memory stays bounded whatever the queries.
const (
	// MaxMemoTimeStats bounds the memoised time statistics (one per
	// sequence of channels, start key and seed; 40 bytes and a key each).
	MaxMemoTimeStats = 65_536
	// MaxMemoResults bounds the memoised whole plan results.
	MaxMemoResults = 4_096
	// MaxMemoRecent bounds the results remembered by the exact query asked
	// (the fast path in front of the result memo). Each holds its own query
	// echo and JSON (a few kB for the bundled world), and a server asking
	// the same query adds one a second (its start is the clock's second),
	// so it is smaller than the result memo.
	MaxMemoRecent = 1_024
)

// Planner plans over one ecosystem and remembers what it computed, so
// repeated and similar queries cost less. Its results are Plan's, byte for
// byte in JSON: it memoises the time statistics of a route by (channel
// ids, StartKey of the start, seed), which StartKey guarantees give the same
// statistics, and whole results by the complete normalised query (every
// field of Query, At through its StartKey) and the RuleChecker; a query
// asked exactly as before gets the very result it got then. It is safe
// for concurrent use. The ecosystem must not change while the Planner is
// in use (make a new Planner for a new ecosystem), and the RuleChecker
// must answer the same for the same hop or route, as Plan already assumes.
type Planner struct {
	eco     *ecosystem.Ecosystem
	times   *memo[timeStatsKey, timeStatsValue]
	results *memo[resultKey, *memoResult]
	// recent answers a query asked exactly as before (the same Query
	// value, Usage nil, and the same rules) with the very result and
	// encoding it got then, before normalising and keying it: the common
	// case of a server asked the same thing many times a second.
	recent *memo[recentKey, *recentResult]
}

// recentKey is a query exactly as asked, and its rules. Two equal keys ask
// the same thing: Query's fields are all values (strings, numbers, a
// time.Time) but Usage, which the fast path requires to be nil
// (recentKeyable checks the fields once, so a field of another kind
// added later turns the fast path off rather than compare it by identity).
type recentKey struct {
	q     Query
	rules any
}

// recentResult is a result as returned for a recentKey, and its JSON
// encoding once PlanJSON asked for it.
type recentResult struct {
	res *Result
	enc atomic.Pointer[[]byte]
}

// recentKeyable reports whether Query's fields are all of kinds == compares
// by value (besides Usage, which the fast path requires to be nil).
var recentKeyable = func() bool {
	for i := range queryType.NumField() {
		f := queryType.Field(i)
		switch {
		case f.Type == timeType, f.Type == usageType:
		case f.Type.Kind() == reflect.String, f.Type.Kind() == reflect.Bool,
			f.Type.Kind() >= reflect.Int && f.Type.Kind() <= reflect.Float64:
		default:
			return false
		}
	}
	return true
}()

// memoResult is a memoised result and its latest JSON encoding, which is
// valid for the queries whose echoed start (Result.Query.At) is enc.at.
type memoResult struct {
	res *Result
	enc atomic.Pointer[encodedResult]
}

type encodedResult struct {
	at   string
	json []byte
}

// NewPlanner returns a Planner over eco with empty memos.
func NewPlanner(eco *ecosystem.Ecosystem) *Planner {
	return &Planner{eco: eco,
		times:   &memo[timeStatsKey, timeStatsValue]{max: MaxMemoTimeStats},
		results: &memo[resultKey, *memoResult]{max: MaxMemoResults},
		recent:  &memo[recentKey, *recentResult]{max: MaxMemoRecent},
	}
}

// Ecosystem returns the ecosystem the Planner plans over.
func (pl *Planner) Ecosystem() *ecosystem.Ecosystem { return pl.eco }

// WithEcosystem returns a Planner over eco. When eco is the Planner's
// ecosystem with holders added (eco.HoldersAddedTo), the new Planner
// shares the memos, which stay right: a result depends on its query's
// two holders and never on the others, an unknown holder is an error and
// errors are not memoised, and a holder, once added, never changes. For
// any other ecosystem it is NewPlanner(eco). The Planner itself is
// unchanged and stays usable.
func (pl *Planner) WithEcosystem(eco *ecosystem.Ecosystem) *Planner {
	if !eco.HoldersAddedTo(pl.eco) {
		return NewPlanner(eco)
	}
	return &Planner{eco: eco, times: pl.times, results: pl.results, recent: pl.recent}
}

// Plan is Plan(eco, q, rules) for the Planner's ecosystem. The result may
// be shared with other callers that asked the same: it must not be modified.
func (pl *Planner) Plan(q Query, rules RuleChecker) (*Result, error) {
	res, _, err := pl.plan(q, rules, false)
	return res, err
}

// PlanJSON is Plan, with the result's JSON encoding (json.Marshal's bytes),
// memoised with it: a server writes it as it is. The bytes are shared too:
// they must not be modified.
func (pl *Planner) PlanJSON(q Query, rules RuleChecker) (*Result, []byte, error) {
	return pl.plan(q, rules, true)
}

func (pl *Planner) plan(q Query, rules RuleChecker, encode bool) (*Result, []byte, error) {
	if pl == nil {
		return nil, nil, queryErr("ecosystem", "no planner given")
	}
	if rules == nil {
		rules = NoRules{}
	}
	fast := recentKeyable && q.Usage == nil && reflect.TypeOf(rules).Comparable()
	if !fast {
		return pl.planMemo(q, rules, encode)
	}
	rk := recentKey{q: q, rules: rules}
	if r, ok := pl.recent.get(rk); ok {
		if !encode {
			return r.res, nil, nil
		}
		if b := r.enc.Load(); b != nil {
			return r.res, *b, nil
		}
		b, err := json.Marshal(r.res)
		if err != nil {
			return nil, nil, err
		}
		r.enc.Store(&b)
		return r.res, b, nil
	}
	res, b, err := pl.planMemo(q, rules, encode)
	if err != nil {
		return nil, nil, err
	}
	r := &recentResult{res: res}
	if encode {
		r.enc.Store(&b)
	}
	pl.recent.put(rk, r)
	return res, b, nil
}

// planMemo plans through the result memo, keyed by the normalised query.
func (pl *Planner) planMemo(q Query, rules RuleChecker, encode bool) (*Result, []byte, error) {
	n, err := normalize(pl.eco, q)
	if err != nil {
		return nil, nil, err
	}
	key, cacheable := resultKeyOf(pl.eco, n, rules)
	if !cacheable {
		res, err := plan(pl.eco, q, rules, pl)
		if err != nil || !encode {
			return res, nil, err
		}
		b, err := json.Marshal(res)
		return res, b, err
	}
	m, ok := pl.results.get(key)
	var res *Result
	if ok {
		res = withQuery(m.res, pl.eco, n)
	} else {
		if res, err = plan(pl.eco, q, rules, pl); err != nil {
			return nil, nil, err
		}
		m = &memoResult{res: res}
		pl.results.put(key, m)
	}
	if !encode {
		return res, nil, nil
	}
	if e := m.enc.Load(); e != nil && e.at == res.Query.At {
		return res, e.json, nil
	}
	b, err := json.Marshal(res)
	if err != nil {
		return nil, nil, err
	}
	m.enc.Store(&encodedResult{at: res.Query.At, json: b})
	return res, b, nil
}

// MemoStats counts a Planner's memo use, for benchmarks and metrics.
type MemoStats struct {
	TimeStatsHits, TimeStatsMisses int64
	ResultHits, ResultMisses       int64
	TimeStatsSize, ResultSize      int
}

// Stats returns the Planner's memo counters.
func (pl *Planner) Stats() MemoStats {
	var s MemoStats
	s.TimeStatsHits, s.TimeStatsMisses, s.TimeStatsSize = pl.times.stats()
	s.ResultHits, s.ResultMisses, s.ResultSize = pl.results.stats()
	recentHits, _, _ := pl.recent.stats() // a recent miss falls through to the result memo, which counts it
	s.ResultHits += recentHits
	return s
}

// withQuery returns res with its query echo (and its alternative's) for n:
// two queries with the same key differ at most in At, which only the echo shows.
func withQuery(res *Result, eco *ecosystem.Ecosystem, n *normalized) *Result {
	out := *res
	out.Query = n.info(eco)
	if res.Alternative != nil {
		alt := *res.Alternative
		alt.Query.At = out.Query.At
		out.Alternative = &alt
	}
	return &out
}

// memo is a bounded, concurrency-safe map.
type memo[K comparable, V any] struct {
	mu           sync.Mutex
	max          int
	m            map[K]V
	hits, misses int64
}

func (c *memo[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	if ok {
		c.hits++
	} else {
		c.misses++
	}
	c.mu.Unlock()
	return v, ok
}

func (c *memo[K, V]) put(k K, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[K]V)
	}
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for old := range c.m { // map order is unspecified: an arbitrary entry
			delete(c.m, old)
			break
		}
	}
	c.m[k] = v
}

func (c *memo[K, V]) stats() (hits, misses int64, size int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses, len(c.m)
}

// timeStatsKey names the inputs of a route's time statistics besides the
// Planner's ecosystem: the channels, the start (by StartKey) and the seed.
type timeStatsKey struct {
	channels string // ids joined by "\x00"
	start    string // StartKey
	seed     uint64
}

type timeStatsValue struct{ mean, p50, p95 float64 }

// memoTimeStats is timeStats through the Planner's memo when the planner has one.
func (p *planner) memoTimeStats(steps []*step) (mean, p50, p95 float64) {
	if p.memo == nil {
		return p.timeStats(steps)
	}
	var ids strings.Builder
	for i, s := range steps {
		if i > 0 {
			ids.WriteByte(0)
		}
		ids.WriteString(s.ch.ID)
	}
	key := timeStatsKey{channels: ids.String(), start: p.startKey, seed: p.q.Seed}
	if v, ok := p.memo.times.get(key); ok {
		return v.mean, v.p50, v.p95
	}
	mean, p50, p95 = p.timeStats(steps)
	p.memo.times.put(key, timeStatsValue{mean, p50, p95})
	return mean, p50, p95
}

// resultKey names everything a plan result depends on besides the
// Planner's ecosystem: the normalised query and the rules.
type resultKey struct {
	query string
	rules any
}

var (
	queryType = reflect.TypeFor[Query]()
	timeType  = reflect.TypeFor[time.Time]()
	usageType = reflect.TypeFor[*Usage]()
)

// resultKeyOf derives the key of a normalised query from every field of
// Query, by reflection, so a field added to Query later is in the key
// without anyone remembering to add it: At by its StartKey, Usage by its
// JSON (map keys sorted), anything else by its value. It is not cacheable
// when a field has a kind it cannot render faithfully or the rules are
// not comparable (they are part of the key).
func resultKeyOf(eco *ecosystem.Ecosystem, n *normalized, rules RuleChecker) (resultKey, bool) {
	if !reflect.TypeOf(rules).Comparable() {
		return resultKey{}, false
	}
	s, ok := queryKey(eco, n.Query)
	return resultKey{query: s, rules: rules}, ok
}

// queryFields are Query's fields as queryKey renders them, found once.
var queryFields = func() []queryField {
	fs := make([]queryField, queryType.NumField())
	for i := range fs {
		f := queryType.Field(i)
		fs[i] = queryField{name: f.Name + "=", typ: f.Type, kind: f.Type.Kind()}
	}
	return fs
}()

type queryField struct {
	name string // "From="
	typ  reflect.Type
	kind reflect.Kind
}

func queryKey(eco *ecosystem.Ecosystem, q Query) (string, bool) {
	b := make([]byte, 0, 256)
	v := reflect.ValueOf(&q).Elem()
	for i, f := range queryFields {
		fv := v.Field(i)
		b = append(b, f.name...)
		switch {
		case f.typ == timeType:
			b = appendString(b, StartKey(eco, fv.Interface().(time.Time)))
		case f.typ == usageType:
			j, err := json.Marshal(fv.Interface())
			if err != nil {
				return "", false
			}
			b = appendString(b, string(j))
		default:
			switch f.kind {
			case reflect.String:
				b = appendString(b, fv.String())
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				b = strconv.AppendInt(b, fv.Int(), 10)
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
				b = strconv.AppendUint(b, fv.Uint(), 10)
			case reflect.Bool:
				b = strconv.AppendBool(b, fv.Bool())
			case reflect.Float32, reflect.Float64:
				b = strconv.AppendFloat(b, fv.Float(), 'g', -1, 64)
			default:
				// A kind this function does not know how to render
				// (a slice, map, pointer…): never cache rather than
				// risk two different queries sharing a key.
				return "", false
			}
		}
		b = append(b, ';')
	}
	return string(b), true
}

// appendString appends s with its length before it, so no content can
// imitate a field boundary.
func appendString(b []byte, s string) []byte {
	b = strconv.AppendInt(b, int64(len(s)), 10)
	b = append(b, ':')
	return append(b, s...)
}

// String describes the memo counters.
func (s MemoStats) String() string {
	return fmt.Sprintf("time stats %d hits, %d misses, %d kept; results %d hits, %d misses, %d kept",
		s.TimeStatsHits, s.TimeStatsMisses, s.TimeStatsSize, s.ResultHits, s.ResultMisses, s.ResultSize)
}
