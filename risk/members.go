package risk

import "time"

// pattern builds the explanation of family for the current event e from the
// graph as it is before e is recorded.
func (en *Engine) pattern(family string, e *Event, uID, vID uint32, hasU, hasV bool) *Pattern {
	g := en.g
	win := max(e.Time.Unix(), en.now) - int64(PatternWindow/time.Second)
	p := &Pattern{Family: family}
	add := func(m Member) {
		if len(p.Members) >= MaxPatternMembers {
			return
		}
		p.Members = append(p.Members, m)
		for _, h := range []string{m.From, m.To} {
			if !containsString(p.Holders, h) {
				p.Holders = append(p.Holders, h)
			}
		}
	}
	fromEdge := func(from uint32, ed *edge) Member {
		return Member{TxID: ed.tx, From: g.at(from).key, To: g.at(ed.peer).key, Time: time.Unix(ed.t, 0).UTC(), AmountMinor: ed.amount, Currency: ed.cur}
	}
	toEdge := func(to uint32, ed *edge) Member {
		return Member{TxID: ed.tx, From: g.at(ed.peer).key, To: g.at(to).key, Time: time.Unix(ed.t, 0).UTC(), AmountMinor: ed.amount, Currency: ed.cur}
	}
	outs := func(id uint32) {
		for i := range g.at(id).out {
			if ed := &g.at(id).out[i]; ed.t >= win && g.live(ed) {
				add(fromEdge(id, ed))
			}
		}
	}
	ins := func(id uint32) {
		for i := range g.at(id).in {
			if ed := &g.at(id).in[i]; ed.t >= win && g.live(ed) {
				add(toEdge(id, ed))
			}
		}
	}
	switch family {
	case FamilyCycle:
		ring := []uint32{}
		for _, st := range en.s.path {
			add(fromEdge(st.from, &st.e))
			ring = append(ring, st.from)
		}
		// Every other payment among the ring's holders inside the window belongs to it too.
		for _, id := range ring {
			for i := range g.at(id).out {
				ed := &g.at(id).out[i]
				if ed.t >= win && g.live(ed) && containsID(ring, ed.peer) && !hasMember(p, ed.tx) {
					add(fromEdge(id, ed))
				}
			}
		}
	case FamilyFanOut:
		if hasU {
			outs(uID)
		}
	case FamilyFanIn:
		if hasV {
			ins(vID)
		}
	case FamilyGatherScatter:
		if hasU {
			ins(uID)
			outs(uID)
		}
	case FamilyScatterGather:
		if hasU && hasV {
			en.scatterGatherMembers(uID, vID, win, add, fromEdge, toEdge)
		}
	case FamilyRepeatPair:
		if hasU && hasV {
			for i := range g.at(uID).out {
				if ed := &g.at(uID).out[i]; ed.t >= win && g.live(ed) && ed.peer == vID {
					add(fromEdge(uID, ed))
				}
			}
		}
	case FamilyMuleChain:
		m := en.s.mule
		add(Member{TxID: m.tx, From: m.from, To: m.to, Time: time.Unix(m.t, 0).UTC(), AmountMinor: m.amount, Currency: m.cur})
	}
	add(Member{TxID: e.ID, From: e.fromHolder(), To: e.toHolder(), Time: e.Time, AmountMinor: e.AmountMinor, Currency: e.Currency})
	return p
}

// scatterGatherMembers lists source → intermediary and intermediary → receiver edges.
func (en *Engine) scatterGatherMembers(uID, vID uint32, win int64, add func(Member), fromEdge, toEdge func(uint32, *edge) Member) {
	g := en.g
	src := en.s.sgBest
	mids := []uint32{uID}
	for i := range g.at(src).out {
		ed := &g.at(src).out[i]
		if ed.t < win || !g.live(ed) {
			continue
		}
		if ed.peer == uID || containsID(en.s.srcs, ed.peer) {
			add(fromEdge(src, ed))
			if !containsID(mids, ed.peer) {
				mids = append(mids, ed.peer)
			}
		}
	}
	for i := range g.at(vID).in {
		ed := &g.at(vID).in[i]
		if ed.t >= win && g.live(ed) && containsID(mids, ed.peer) {
			add(toEdge(vID, ed))
		}
	}
}

func hasMember(p *Pattern, tx string) bool {
	for i := range p.Members {
		if p.Members[i].TxID == tx {
			return true
		}
	}
	return false
}
