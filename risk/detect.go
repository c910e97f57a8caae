package risk

import "time"

// Detector bounds.
const (
	// MaxCycleLen is the longest cycle (in hops, the closing payment included) the cycle detector follows.
	MaxCycleLen = 6
	// MaxSearchSteps caps the edges one cycle search may visit.
	MaxSearchSteps = 512
	// maxSGSources caps the sources a scatter-gather search starts from.
	maxSGSources = 8
)

// Pattern families reported by the detectors.
const (
	FamilyCycle         = "cycle"
	FamilyFanIn         = "fan-in"
	FamilyFanOut        = "fan-out"
	FamilyGatherScatter = "gather-scatter"
	FamilyScatterGather = "scatter-gather"
	FamilyMuleChain     = "mule-chain"
	FamilyRepeatPair    = "repeat-pair"
)

// Families lists every pattern family, in a stable order.
var Families = []string{FamilyCycle, FamilyFanIn, FamilyFanOut, FamilyGatherScatter, FamilyScatterGather, FamilyMuleChain, FamilyRepeatPair}

// pathStep is one hop of a found cycle.
type pathStep struct {
	from uint32
	e    edge
}

// scratch holds a detection's intermediate results, reused between events.
type scratch struct {
	path   []pathStep
	steps  int
	peers  []uint32
	srcs   []uint32
	sgBest uint32 // source node of the best scatter-gather
	mule   muleEntry
}

// detect fills the detector outputs of f. u and v are the sender and receiver
// ids (valid only when hasU/hasV), e is the current payment at time now.
func (s *scratch) detect(g *graph, f *Features, e *Event, now int64, uID, vID uint32, hasU, hasV bool) {
	win := now - int64(PatternWindow/time.Second)
	f.CycleReturnRatio, f.GSPayoutRatio = -1, -1
	f.FanOut, f.FanIn = 1, 1
	if hasU {
		f.FanOut = s.distinct(g, g.at(uID).out, win, vID, hasV)
		if !hasV {
			f.FanOut++ // a payee the graph has never seen is a new distinct one
		}
		f.GSIn = s.distinct(g, g.at(uID).in, win, 0, false)
		if f.GSIn > 0 {
			f.GSOut = f.FanOut
			f.GSPayoutRatio = f.InOutRatio
		}
	}
	if hasV {
		f.FanIn = s.distinct(g, g.at(vID).in, win, uID, hasU)
		if !hasU {
			f.FanIn++
		}
	}
	if !hasU || !hasV || uID == vID {
		return
	}
	// Cycle: a time-ordered path v → … → u inside the window, closed by u → v now.
	s.path, s.steps = s.path[:0], 0
	if s.dfs(g, vID, uID, vID, win, 1) {
		f.CycleLen = int64(len(s.path) + 1)
		first := s.path[0].e
		if first.cur == e.Currency && first.amount > 0 {
			f.CycleReturnRatio = float64(e.AmountMinor) / float64(first.amount)
		}
	}
	f.SGPaths = s.scatterGather(g, uID, vID, win)
}

// distinct counts the distinct live peers of buf inside the window, plus extra when withExtra.
func (s *scratch) distinct(g *graph, buf []edge, win int64, extra uint32, withExtra bool) int64 {
	s.peers = s.peers[:0]
	if withExtra {
		s.peers = append(s.peers, extra)
	}
	for i := range buf {
		ed := &buf[i]
		if ed.t < win || !g.live(ed) || containsID(s.peers, ed.peer) {
			continue
		}
		s.peers = append(s.peers, ed.peer)
	}
	return int64(len(s.peers))
}

// dfs looks for a time-ordered path from cur to target, recording it in s.path.
func (s *scratch) dfs(g *graph, cur, target, start uint32, tmin int64, depth int) bool {
	n := g.at(cur)
	for i := len(n.out) - 1; i >= 0; i-- {
		ed := n.out[i]
		if ed.t < tmin || !g.live(&ed) {
			continue
		}
		if s.steps++; s.steps > MaxSearchSteps {
			return false
		}
		if ed.peer == target {
			s.path = append(s.path, pathStep{from: cur, e: ed})
			return true
		}
		if depth+1 >= MaxCycleLen || ed.peer == start || s.onPath(ed.peer) {
			continue
		}
		s.path = append(s.path, pathStep{from: cur, e: ed})
		if s.dfs(g, ed.peer, target, start, ed.t, depth+1) {
			return true
		}
		s.path = s.path[:len(s.path)-1]
	}
	return false
}

func (s *scratch) onPath(id uint32) bool {
	for _, p := range s.path {
		if p.from == id {
			return true
		}
	}
	return false
}

// scatterGather counts, for the best recent source p of u, the distinct
// intermediaries y with p → y earlier and y → v (u itself is one: p → u → v now).
func (s *scratch) scatterGather(g *graph, uID, vID uint32, win int64) int64 {
	v := g.at(vID)
	s.srcs = s.srcs[:0]
	for i := range v.in {
		ed := &v.in[i]
		if ed.t >= win && g.live(ed) && !containsID(s.srcs, ed.peer) {
			s.srcs = append(s.srcs, ed.peer)
		}
	}
	if len(s.srcs) == 0 {
		return 0
	}
	u := g.at(uID)
	var best int64
	tried := 0
	for i := len(u.in) - 1; i >= 0 && tried < maxSGSources; i-- {
		in := &u.in[i]
		if in.t < win || !g.live(in) || in.peer == vID {
			continue
		}
		tried++
		p := g.at(in.peer)
		var n int64 = 1 // u itself
		s.peers = append(s.peers[:0], uID)
		for j := range p.out {
			ed := &p.out[j]
			if ed.t < win || !g.live(ed) || ed.peer == vID || containsID(s.peers, ed.peer) {
				continue
			}
			if containsID(s.srcs, ed.peer) {
				s.peers = append(s.peers, ed.peer)
				n++
			}
		}
		if n > best {
			best, s.sgBest = n, in.peer
		}
	}
	return best
}
