package risk

import (
	"slices"
	"time"
)

// Bounds on the engine's state. Memory is bounded by
// MaxNodes × 2 × MaxEdgesPerNode edges plus MaxMuleEntries mule-index entries,
// whatever the length of the stream: see docs/risk.md for the byte figure.
const (
	// PatternWindow is how long an edge of the funds graph lives: features,
	// fans, cycles and gather/scatter patterns look this far back.
	PatternWindow = 168 * time.Hour
	// MaxEdgesPerNode caps each holder's in- and out-edge buffers (ring: the oldest goes first).
	MaxEdgesPerNode = 32
	// MaxNodes caps the number of holders held in the graph. Past it, holders
	// idle longer than PatternWindow are evicted, then the least recently seen half.
	MaxNodes = 1 << 17
	// sweepEvery is how many events pass between sweeps of idle holders.
	sweepEvery = 1 << 16
)

// edge is one movement in a holder's in- or out-buffer.
type edge struct {
	t        int64 // unix seconds
	peer     uint32
	peerGen  uint32
	amount   int64 // minor units of cur
	cur      string
	creditBp int32
	tx       string
}

// node is one holder in the funds graph.
type node struct {
	key  string
	gen  uint32
	last int64
	out  []edge
	in   []edge
	// outDays and inDays count every payment made and received per day over
	// the last dayBuckets days, whatever the edge-buffer cap dropped.
	outDays, inDays dayCounts
	// watchUntil is when this holder stops counting as a member of a
	// detected ring (a pattern that made the engine hold or refuse).
	watchUntil int64
}

// dayBuckets is the number of one-day buckets of the uncapped counters (PatternWindow in days).
const dayBuckets = int(PatternWindow / (24 * time.Hour))

// dayCounts counts events per day in a ring of dayBuckets days.
type dayCounts struct {
	day [dayBuckets]int64
	n   [dayBuckets]uint32
}

func (c *dayCounts) add(now int64) {
	d := now / 86400
	i := int(d % int64(dayBuckets))
	if c.day[i] != d {
		c.day[i], c.n[i] = d, 0
	}
	c.n[i]++
}

// total counts the events of the last dayBuckets days (today included).
func (c *dayCounts) total(now int64) int64 {
	d := now / 86400
	var t int64
	for i := range c.day {
		if c.day[i] > d-int64(dayBuckets) && c.day[i] <= d {
			t += int64(c.n[i])
		}
	}
	return t
}

// graph is the cross-platform funds graph over holders, with bounded state.
type graph struct {
	ids    map[string]uint32
	chunks [][]node // nodes in fixed chunks, so growth never copies them
	count  uint32   // node slots handed out
	free   []uint32
	gen    uint32
}

// nodeChunk is the number of node slots allocated at a time.
const nodeChunk = 1024

// at returns the node in slot id.
func (g *graph) at(id uint32) *node { return &g.chunks[id/nodeChunk][id%nodeChunk] }

func newGraph() *graph { return &graph{ids: make(map[string]uint32)} }

// lookup returns the node for key, or nil.
func (g *graph) lookup(key string) *node {
	id, ok := g.ids[key]
	if !ok {
		return nil
	}
	return g.at(id)
}

// ensure returns the id of key's node, creating it (and evicting if at cap).
// keep names a holder the eviction must spare (the other party of the event being recorded).
func (g *graph) ensure(key string, now int64, keep string) uint32 {
	if id, ok := g.ids[key]; ok {
		return id
	}
	if len(g.ids) >= MaxNodes {
		g.evict(now, true, keep)
	}
	g.gen++
	var id uint32
	if n := len(g.free); n > 0 {
		id = g.free[n-1]
		g.free = g.free[:n-1]
	} else {
		if g.count%nodeChunk == 0 {
			g.chunks = append(g.chunks, make([]node, nodeChunk))
		}
		id = g.count
		g.count++
	}
	*g.at(id) = node{key: key, gen: g.gen, last: now}
	g.ids[key] = id
	return id
}

// live reports whether an edge's peer is still the node it was when recorded.
func (g *graph) live(e *edge) bool { return g.at(e.peer).gen == e.peerGen }

// evict removes holders idle longer than PatternWindow; with force it also
// removes the least recently seen half when that is not enough.
// keep is never evicted.
func (g *graph) evict(now int64, force bool, keep string) {
	cutoff := now - int64(PatternWindow/time.Second)
	g.evictBefore(cutoff, keep)
	if !force || len(g.ids) < MaxNodes {
		return
	}
	lasts := make([]int64, 0, len(g.ids))
	for _, id := range g.ids {
		lasts = append(lasts, g.at(id).last)
	}
	slices.Sort(lasts)
	g.evictBefore(lasts[len(lasts)/2]+1, keep)
}

func (g *graph) evictBefore(cutoff int64, keep string) {
	for key, id := range g.ids {
		if g.at(id).last < cutoff && key != keep {
			delete(g.ids, key)
			*g.at(id) = node{gen: 0}
			g.free = append(g.free, id)
		}
	}
}

// add records the movement from→to at time now.
func (g *graph) add(from, to uint32, now int64, amount int64, cur string, creditBp int32, tx string) {
	f, t := g.at(from), g.at(to)
	f.last, t.last = now, now
	f.outDays.add(now)
	t.inDays.add(now)
	f.out = pushEdge(f.out, edge{t: now, peer: to, peerGen: t.gen, amount: amount, cur: cur, creditBp: creditBp, tx: tx}, now)
	t.in = pushEdge(t.in, edge{t: now, peer: from, peerGen: f.gen, amount: amount, cur: cur, creditBp: creditBp, tx: tx}, now)
}

// pushEdge appends e, dropping edges older than PatternWindow and the oldest past MaxEdgesPerNode.
func pushEdge(buf []edge, e edge, now int64) []edge {
	cutoff := now - int64(PatternWindow/time.Second)
	drop := 0
	for drop < len(buf) && buf[drop].t < cutoff {
		drop++
	}
	if len(buf)-drop >= MaxEdgesPerNode {
		drop = len(buf) - MaxEdgesPerNode + 1
	}
	if drop > 0 {
		n := copy(buf, buf[drop:])
		clear(buf[n:])
		buf = buf[:n]
	}
	if buf == nil {
		buf = make([]edge, 0, 2)
	}
	return append(buf, e)
}

// size is the number of holders and edges held (for the bounded-state property).
func (g *graph) size() (nodes, edges int) {
	for _, id := range g.ids {
		edges += len(g.at(id).out) + len(g.at(id).in)
	}
	return len(g.ids), edges
}
