package api

import (
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
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

// planQuote is what a plan holds besides its id and expiry. Plans asked the
// same thing by the same key in the same second share one quote (the
// planner returns the very same result for them), so a full store holds
// MaxPlans small slots, not MaxPlans copies of a result.
type planQuote struct {
	query     route.Query
	result    *route.Result
	principal Principal
}

// Plan ids are "pl_" + 8 hex digits of the plan's slot + 16 hex digits of
// a random tag that the slot must hold: an id whose slot was reused since
// (MaxPlans later plans) or never held it is unknown.
const (
	planIDPrefix = "pl_"
	planIDLen    = len(planIDPrefix) + 8 + 16
	// planChunk slots are allocated at a time, when first used, so an idle
	// server (or a test's) does not hold MaxPlans slots.
	planChunk   = 4096
	planStripes = 64 // locks; slot i is guarded by lock i % planStripes
)

// planSlot is one stored plan: a tag, an expiry and one pointer, so the
// garbage collector scans MaxPlans pointers, most to the same few quotes.
type planSlot struct {
	seq     uint64 // the plan's number (+1: 0 is an empty slot)
	tag     uint64
	expires int64 // unix nanoseconds
	q       *planQuote
}

// planStore keeps plans in memory until they expire (wall time), at most
// MaxPlans: a ring of slots in creation order, so a new plan takes the slot
// of the plan MaxPlans older and the oldest go first. Putting a plan is a
// counter increment, a random tag, and a write under one of planStripes
// locks; no map and no pruning pass.
type planStore struct {
	now    func() time.Time
	seq    atomic.Uint64
	chunks [(MaxPlans + planChunk - 1) / planChunk]atomic.Pointer[[planChunk]planSlot]
	locks  [planStripes]struct {
		sync.Mutex
		_ [56]byte // a cache line each
	}
	last atomic.Pointer[planQuote] // the latest quote, shared by identical plans
}

func newPlanStore(now func() time.Time) *planStore { return &planStore{now: now} }

// slot returns slot i, allocating its chunk on first use.
func (s *planStore) slot(i uint64) *planSlot {
	c := &s.chunks[i/planChunk]
	ch := c.Load()
	if ch == nil {
		c.CompareAndSwap(nil, new([planChunk]planSlot))
		ch = c.Load()
	}
	return &ch[i%planChunk]
}

// put stores a plan of q, res and p, returning its id and expiry.
func (s *planStore) put(q route.Query, res *route.Result, p Principal) (id string, expires time.Time) {
	qt := s.last.Load()
	if qt == nil || qt.result != res || qt.principal != p || qt.query != q {
		qt = &planQuote{query: q, result: res, principal: p}
		s.last.Store(qt)
	}
	expires = s.now().Add(PlanTTL)
	seq := s.seq.Add(1)
	i := (seq - 1) % MaxPlans
	tag := rand.Uint64() | 1 // never 0
	sl := s.slot(i)
	mu := &s.locks[i%planStripes]
	mu.Lock()
	if sl.seq < seq { // a later plan may have taken the slot already
		*sl = planSlot{seq: seq, tag: tag, expires: expires.UnixNano(), q: qt}
	}
	mu.Unlock()
	var b [planIDLen]byte
	copy(b[:], planIDPrefix)
	hexUint(b[len(planIDPrefix):len(planIDPrefix)+8], i)
	hexUint(b[len(planIDPrefix)+8:], tag)
	return string(b[:]), expires
}

// hexUint writes v's low len(dst)*4 bits into dst as lower-case hex.
func hexUint(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// parsePlanID returns an id's slot and tag.
func parsePlanID(id string) (slot, tag uint64, ok bool) {
	if len(id) != planIDLen || id[:len(planIDPrefix)] != planIDPrefix {
		return 0, 0, false
	}
	var b [12]byte
	if _, err := hex.Decode(b[:], []byte(id[len(planIDPrefix):])); err != nil {
		return 0, 0, false
	}
	for _, c := range id[len(planIDPrefix):] { // hex.Decode also takes upper case
		if c >= 'A' && c <= 'F' {
			return 0, 0, false
		}
	}
	for _, c := range b[:4] {
		slot = slot<<8 | uint64(c)
	}
	for _, c := range b[4:] {
		tag = tag<<8 | uint64(c)
	}
	return slot, tag, slot < MaxPlans && tag != 0
}

// get returns an unexpired plan.
func (s *planStore) get(id string) (*plan, bool) {
	i, tag, ok := parsePlanID(id)
	if !ok {
		return nil, false
	}
	ch := s.chunks[i/planChunk].Load()
	if ch == nil {
		return nil, false
	}
	mu := &s.locks[i%planStripes]
	mu.Lock()
	sl := ch[i%planChunk]
	mu.Unlock()
	if sl.tag != tag || sl.q == nil || sl.expires <= s.now().UnixNano() {
		return nil, false
	}
	return &plan{id: id, query: sl.q.query, result: sl.q.result, expiresAt: time.Unix(0, sl.expires), principal: sl.q.principal}, true
}

// len counts the unexpired plans, and lets the expired ones' quotes go.
func (s *planStore) len() int {
	now := s.now().UnixNano()
	n := 0
	for c := range s.chunks {
		ch := s.chunks[c].Load()
		if ch == nil {
			continue
		}
		for j := range ch {
			mu := &s.locks[(uint64(c)*planChunk+uint64(j))%planStripes]
			mu.Lock()
			switch sl := &ch[j]; {
			case sl.q == nil:
			case sl.expires > now:
				n++
			default:
				sl.q = nil
			}
			mu.Unlock()
		}
	}
	return n
}

// ---- POST /v1/plans: reading the body and writing the answer ----

// bufPool holds request and response buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// ctJSON is the Content-Type header value of every plan answer (net/http
// only reads it).
var ctJSON = []string{"application/json"}

// decodePlan reads a plan request's body into b. The common request, an
// application/json body of known length holding one flat object of plan
// fields with plain strings and integers, is parsed directly; anything
// else (and anything the direct parser does not accept) goes through
// decode, which answers exactly as for every other endpoint.
func (s *Server) decodePlan(w http.ResponseWriter, r *http.Request, b *planBody) error {
	h := r.Header["Content-Type"]
	n := r.ContentLength
	if len(h) != 1 || h[0] != "application/json" || n <= 0 || n > MaxBodyBytes {
		return decode(w, r, b, false)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := (*bp)[:0]
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
		*bp = buf[:0]
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r.Body, buf); err != nil {
		return invalid("", "cannot read the request body: %v", err)
	}
	if parsePlanBody(buf, b, s.internPlan) {
		return nil
	}
	*b = planBody{}
	r.Body = io.NopCloser(bytes.NewReader(buf)) // decode is done with it before buf goes back to the pool
	return decode(w, r, b, false)
}

// internPlan returns the string of b, shared with the ecosystem's product
// and holder ids and the objectives when it is one of them (no allocation).
func (s *Server) internPlan(b []byte) string {
	s.internOnce.Do(func() {
		m := map[string]string{}
		if eco := s.eco(); eco != nil {
			for i := range eco.Products {
				m[eco.Products[i].ID] = eco.Products[i].ID
			}
			for i := range eco.Holders {
				m[eco.Holders[i].ID] = eco.Holders[i].ID
			}
		}
		for _, o := range []string{"cost", "time", "reliability", "effort", "balanced"} {
			m[o] = o
		}
		s.intern = m
	})
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	return string(b)
}

// parsePlanBody parses the common shape of a plan request: one JSON object
// whose members are planBody's fields spelled exactly, with strings of
// printable ASCII and no escapes, and integers without fraction or
// exponent. It reports false for anything else (which decode then
// handles, with its errors): it accepts only what encoding/json decodes to
// the same planBody (FuzzPlanBody checks it).
func parsePlanBody(d []byte, b *planBody, str func([]byte) string) bool {
	i := skipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return false
	}
	i = skipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return skipSpace(d, i+1) == len(d)
	}
	for {
		key, j, ok := plainString(d, i)
		if !ok {
			return false
		}
		i = skipSpace(d, j)
		if i >= len(d) || d[i] != ':' {
			return false
		}
		i = skipSpace(d, i+1)
		var sp *string
		var ip *int64
		var hops bool
		switch string(key) {
		case "from":
			sp = &b.From
		case "to":
			sp = &b.To
		case "from_holder":
			sp = &b.FromHolder
		case "to_holder":
			sp = &b.ToHolder
		case "objective":
			sp = &b.Objective
		case "at":
			sp = &b.At
		case "amount_fen":
			ip = &b.AmountFen
		case "max_hops":
			hops = true
		default:
			return false
		}
		if sp != nil {
			v, j, ok := plainString(d, i)
			if !ok {
				return false
			}
			*sp, i = str(v), j
		} else {
			v, j, ok := plainInt(d, i)
			if !ok {
				return false
			}
			if hops {
				if int64(int(v)) != v {
					return false
				}
				b.MaxHops = int(v)
			} else {
				*ip = v
			}
			i = j
		}
		i = skipSpace(d, i)
		if i >= len(d) {
			return false
		}
		switch d[i] {
		case ',':
			i = skipSpace(d, i+1)
		case '}':
			return skipSpace(d, i+1) == len(d)
		default:
			return false
		}
	}
}

func skipSpace(d []byte, i int) int {
	for i < len(d) && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r') {
		i++
	}
	return i
}

// plainString reads a JSON string at d[i] of printable ASCII without
// escapes, returning its contents and the index after it.
func plainString(d []byte, i int) ([]byte, int, bool) {
	if i >= len(d) || d[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return d[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x7f:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainInt reads a JSON integer (-?(0|[1-9][0-9]*), no fraction or
// exponent) at d[i] that fits an int64.
func plainInt(d []byte, i int) (int64, int, bool) {
	j := i
	if j < len(d) && d[j] == '-' {
		j++
	}
	start := j
	for j < len(d) && d[j] >= '0' && d[j] <= '9' {
		j++
	}
	if j == start || (d[start] == '0' && j > start+1) {
		return 0, 0, false
	}
	if j < len(d) && (d[j] == '.' || d[j] == 'e' || d[j] == 'E') {
		return 0, 0, false
	}
	v, err := strconv.ParseInt(string(d[i:j]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return v, j, true
}

// expiryText caches the RFC 3339 text of the latest expiry second.
type expiryText struct {
	unix int64
	text string
}

// writePlan stores a plan and writes its answer: the envelope
// {"expires_at","plan_id","result"} around the planner's cached JSON of
// the result, which is written as it is (encoding/json would re-validate
// all of it on every request), in one Write with a Content-Length.
func (s *Server) writePlan(w http.ResponseWriter, q route.Query, res *route.Result, resJSON []byte, p Principal) {
	id, expires := s.plans.put(q, res, p)
	sec := expires.Unix()
	et := s.expiry.Load()
	if et == nil || et.unix != sec {
		et = &expiryText{unix: sec, text: expires.UTC().Truncate(time.Second).Format(time.RFC3339)}
		s.expiry.Store(et)
	}
	bp := bufPool.Get().(*[]byte)
	out := append((*bp)[:0], `{"expires_at":"`...)
	out = append(out, et.text...)
	out = append(out, `","plan_id":"`...)
	out = append(out, id...)
	out = append(out, `","result":`...)
	out = append(out, resJSON...)
	out = append(out, "}\n"...)
	h := w.Header()
	h["Content-Type"] = ctJSON
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.Write(out)
	*bp = out[:0]
	bufPool.Put(bp)
}
