package ecosystem

import (
	"slices"
	"sort"
	"strings"
	"sync"
)

// lookupIndex holds the maps behind the lookup methods, built once.
type lookupIndex struct {
	products      map[string]*Product
	institutions  map[string]*Institution
	holders       map[string]*Holder
	channels      map[string]*Channel
	from          map[string][]*Channel
	productIDs    []string
	defaultHolder *Holder
}

// indexMu guards the lazy building of an Ecosystem's index.
var indexMu sync.Mutex

// Reindex rebuilds the lookup index. Load and Generate call it; call it again
// after changing an Ecosystem's lists by hand. Lookups on an Ecosystem never
// indexed build the index on first use.
func (e *Ecosystem) Reindex() {
	idx := newLookupIndex(e)
	indexMu.Lock()
	e.idx = idx
	indexMu.Unlock()
}

func (e *Ecosystem) lookup() *lookupIndex {
	indexMu.Lock()
	defer indexMu.Unlock()
	if e.idx == nil {
		e.idx = newLookupIndex(e)
	}
	return e.idx
}

func newLookupIndex(e *Ecosystem) *lookupIndex {
	idx := &lookupIndex{
		products:     make(map[string]*Product, len(e.Products)),
		institutions: make(map[string]*Institution, len(e.Institutions)),
		holders:      make(map[string]*Holder, len(e.Holders)),
		channels:     make(map[string]*Channel, len(e.Channels)),
		from:         make(map[string][]*Channel, len(e.Products)),
	}
	for i := range e.Products {
		p := &e.Products[i]
		if _, dup := idx.products[p.ID]; !dup {
			idx.products[p.ID] = p
			idx.productIDs = append(idx.productIDs, p.ID)
		}
	}
	sort.Strings(idx.productIDs)
	for i := range e.Institutions {
		if _, dup := idx.institutions[e.Institutions[i].ID]; !dup {
			idx.institutions[e.Institutions[i].ID] = &e.Institutions[i]
		}
	}
	for i := range e.Holders {
		h := &e.Holders[i]
		if _, dup := idx.holders[h.ID]; !dup {
			idx.holders[h.ID] = h
		}
		if h.Default && idx.defaultHolder == nil {
			idx.defaultHolder = h
		}
	}
	for i := range e.Channels {
		c := &e.Channels[i]
		if _, dup := idx.channels[c.ID]; !dup {
			idx.channels[c.ID] = c
		}
		idx.from[c.From] = append(idx.from[c.From], c)
	}
	return idx
}

// Product returns the product with the given id ("alipay.huabei").
func (e *Ecosystem) Product(id string) (*Product, bool) {
	p, ok := e.lookup().products[id]
	return p, ok
}

// Institution returns the institution with the given id.
func (e *Ecosystem) Institution(id string) (*Institution, bool) {
	in, ok := e.lookup().institutions[id]
	return in, ok
}

// Holder returns the holder with the given id.
func (e *Ecosystem) Holder(id string) (*Holder, bool) {
	h, ok := e.lookup().holders[id]
	return h, ok
}

// Channel returns the channel with the given id.
func (e *Ecosystem) Channel(id string) (*Channel, bool) {
	c, ok := e.lookup().channels[id]
	return c, ok
}

// DefaultHolder returns the holder a query means when it names none; nil only
// for an ecosystem that has not been validated.
func (e *Ecosystem) DefaultHolder() *Holder { return e.lookup().defaultHolder }

// ChannelsFrom returns the channels leaving a product, in file order. The
// slice is shared: do not modify it.
func (e *Ecosystem) ChannelsFrom(productID string) []*Channel { return e.lookup().from[productID] }

// ProductIDs returns every product id, sorted. The slice is shared: do not modify it.
func (e *Ecosystem) ProductIDs() []string { return e.lookup().productIDs }

// MaxSuggestions is the most names Suggest returns.
const MaxSuggestions = 3

// Suggest returns up to MaxSuggestions product ids near an unknown one, by
// edit distance, by a shared institution or product name, or by prefix, for
// "unknown product" messages. It returns nil when nothing is close.
func (e *Ecosystem) Suggest(productID string) []string {
	return suggest(productID, e.ProductIDs())
}

// suggest ranks candidates for an unknown product id.
func suggest(id string, candidates []string) []string {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" {
		return nil
	}
	type scored struct {
		name  string
		score int
	}
	var hits []scored
	inst, name, hasDot := strings.Cut(id, ".")
	for _, c := range candidates {
		lc := strings.ToLower(c)
		cInst, cName, _ := strings.Cut(lc, ".")
		d := editDistance(id, lc)
		best := -1
		if d <= max(2, len(id)/3) {
			best = d
		}
		// "huabei" -> "alipay.huabei"; "alipay.huabie" -> alipay.* by name distance.
		if !hasDot && (id == cName || id == cInst) {
			best = minScore(best, 1)
		}
		if hasDot && inst == cInst {
			if nd := editDistance(name, cName); nd <= max(2, len(name)/2) {
				best = minScore(best, nd+1)
			}
		}
		if len(id) >= 3 && strings.HasPrefix(lc, id) {
			best = minScore(best, 2)
		}
		if best >= 0 {
			hits = append(hits, scored{c, best})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score < hits[j].score
		}
		return hits[i].name < hits[j].name
	})
	var out []string
	for _, h := range hits {
		if len(out) == MaxSuggestions {
			break
		}
		if len(out) == 0 || out[len(out)-1] != h.name && !slices.Contains(out, h.name) {
			out = append(out, h.name)
		}
	}
	return out
}

func minScore(current, candidate int) int {
	if current < 0 || candidate < current {
		return candidate
	}
	return current
}

// nearest returns up to n names within a small edit distance of s, closest first.
func nearest(s string, names []string, n int) []string {
	type scored struct {
		name string
		d    int
	}
	var hits []scored
	for _, name := range names {
		if d := editDistance(s, name); d <= max(1, len(s)/3) {
			hits = append(hits, scored{name, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].d < hits[j].d })
	var out []string
	for i := 0; i < len(hits) && i < n; i++ {
		out = append(out, hits[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance between a and b, in bytes; inputs
// longer than 256 bytes count as far apart.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Counts is how much a world holds, as ecosystem validate reports it.
type Counts struct {
	Institutions int `json:"institutions"`
	Products     int `json:"products"`
	Channels     int `json:"channels"`
	Rules        int `json:"rules"`
}

// Counts returns e's counts.
func (e *Ecosystem) Counts() Counts {
	return Counts{len(e.Institutions), len(e.Products), len(e.Channels), len(e.Rules)}
}
