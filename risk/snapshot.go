package risk

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// SnapshotVersion is the version of the engine snapshot format Snapshot
// writes and Restore reads. It changes whenever the engine's state or its
// meaning changes; a snapshot of another version is refused, and the caller
// replays the events instead.
const SnapshotVersion = 1

// snapshotMagic starts every snapshot.
const snapshotMagic = "PBRISKSNAP"

// snapshotHeaderLen is magic, version (4 bytes) and the payload's SHA-256.
const snapshotHeaderLen = len(snapshotMagic) + 4 + sha256.Size

// ErrSnapshot is wrapped by every Restore error: the snapshot is corrupt,
// of another version, taken under another rule set, or the engine has
// already observed events. The caller falls back to a full replay.
var ErrSnapshot = errors.New("unusable engine snapshot")

// Snapshot encodes the engine's whole state: the funds graph (every
// holder's slot, key, generation, edge buffers, day counters and watch
// mark), the mule index in arrival order, the engine clock and event
// count, and the rule set's fingerprint (watch marks depend on the rules).
// The state is bounded (docs/risk.md, "Funds graph and bounded memory"),
// so the snapshot is too. The format is gob behind a header of magic,
// SnapshotVersion and the payload's SHA-256.
func (en *Engine) Snapshot() ([]byte, error) {
	en.mu.Lock()
	defer en.mu.Unlock()
	st := snapState{Rules: en.rules.Fingerprint(), Now: en.now, Events: en.events, Gen: en.g.gen, Count: en.g.count, Free: slices.Clone(en.g.free)}
	for id := range en.g.count {
		n := en.g.at(id)
		if n.gen == 0 {
			continue
		}
		sn := snapNode{ID: id, Key: n.key, Gen: n.gen, Last: n.last, WatchUntil: n.watchUntil,
			Out: snapEdges(n.out), In: snapEdges(n.in),
			OutDay: n.outDays.day[:], OutN: n.outDays.n[:], InDay: n.inDays.day[:], InN: n.inDays.n[:]}
		st.Nodes = append(st.Nodes, sn)
	}
	m := en.mule
	for i := range m.n {
		st.MuleFIFO = append(st.MuleFIFO, snapMuleOf(m.fifo[(m.head+i)%len(m.fifo)]))
	}
	keys := make([]muleKey, 0, len(m.buckets))
	for k := range m.buckets {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b muleKey) int {
		return cmp.Or(cmp.Compare(b2i(a.cashOut), b2i(b.cashOut)), cmp.Compare(a.shift, b.shift), cmp.Compare(a.top, b.top))
	})
	for _, k := range keys {
		var b []snapMule
		for _, e := range m.buckets[k] {
			b = append(b, snapMuleOf(e))
		}
		st.MuleBuckets = append(st.MuleBuckets, b)
	}
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(&st); err != nil {
		return nil, fmt.Errorf("risk: encoding the engine snapshot: %w", err)
	}
	out := make([]byte, 0, snapshotHeaderLen+payload.Len())
	out = append(out, snapshotMagic...)
	out = binary.BigEndian.AppendUint32(out, SnapshotVersion)
	sum := sha256.Sum256(payload.Bytes())
	out = append(out, sum[:]...)
	return append(out, payload.Bytes()...), nil
}

// Restore loads a snapshot written by Snapshot into en, which must not
// have observed any event yet; afterwards en decides every later event as
// the engine that wrote the snapshot would. Errors wrap ErrSnapshot and say
// why (corrupt, another version, another rule set, a state outside the
// engine's bounds); en is unchanged then.
func (en *Engine) Restore(data []byte) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
	if len(data) < snapshotHeaderLen || string(data[:len(snapshotMagic)]) != snapshotMagic {
		return bad("not an engine snapshot (no %s header)", snapshotMagic)
	}
	if v := binary.BigEndian.Uint32(data[len(snapshotMagic):]); v != SnapshotVersion {
		return bad("version %d, this engine reads version %d", v, SnapshotVersion)
	}
	payload := data[snapshotHeaderLen:]
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], data[len(snapshotMagic)+4:snapshotHeaderLen]) {
		return bad("checksum mismatch: the snapshot is corrupt")
	}
	var st snapState
	if err := gob.NewDecoder(bytes.NewReader(payload)).Decode(&st); err != nil {
		return bad("decoding: %v", err)
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	if en.events != 0 || len(en.g.ids) != 0 {
		return bad("the engine has already observed %d events", en.events)
	}
	if fp := en.rules.Fingerprint(); st.Rules != fp {
		return bad("taken under rule set %s, the engine runs %s", st.Rules, fp)
	}
	g, fifo, buckets, err := st.build()
	if err != nil {
		return bad("%v", err)
	}
	// The engine is fresh: its mule ring is empty and takes the entries in
	// place (allocating another would cost more than the whole restore).
	m := en.mule
	clear(m.fifo)
	copy(m.fifo, fifo)
	m.head, m.n, m.buckets = 0, len(fifo), buckets
	en.g, en.now, en.events = g, st.Now, st.Events
	return nil
}

// snapState is the engine state as the snapshot carries it.
type snapState struct {
	Rules       string
	Now         int64
	Events      uint64
	Gen         uint32
	Count       uint32
	Free        []uint32
	Nodes       []snapNode
	MuleFIFO    []snapMule   // oldest first
	MuleBuckets [][]snapMule // each bucket's entries, oldest first
}

type snapNode struct {
	ID, Gen          uint32
	Key              string
	Last, WatchUntil int64
	Out, In          []snapEdge
	OutDay, InDay    []int64
	OutN, InN        []uint32
}

type snapEdge struct {
	T             int64
	Peer, PeerGen uint32
	Amount        int64
	Cur, Tx       string
	CreditBp      int32
}

type snapMule struct {
	T, Amount                     int64
	Cur, Tx, From, To, ToAcct, Fr string
	CashOut                       bool
}

func snapEdges(es []edge) []snapEdge {
	out := make([]snapEdge, len(es))
	for i, e := range es {
		out[i] = snapEdge{T: e.t, Peer: e.peer, PeerGen: e.peerGen, Amount: e.amount, Cur: e.cur, Tx: e.tx, CreditBp: e.creditBp}
	}
	return out
}

func snapMuleOf(e muleEntry) snapMule {
	return snapMule{T: e.t, Amount: e.amount, Cur: e.cur, Tx: e.tx, From: e.from, To: e.to, ToAcct: e.toAcct, Fr: e.fromAcc, CashOut: e.cashOut}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// interner shares equal strings (an edge's id is held by both of its ends).
type interner map[string]string

func (in interner) of(s string) string {
	if t, ok := in[s]; ok {
		return t
	}
	in[s] = s
	return s
}

// build checks st against the engine's invariants and bounds and returns
// the graph and the mule index's entries (oldest first) and buckets it
// describes.
func (st *snapState) build() (*graph, []muleEntry, map[muleKey][]muleEntry, error) {
	// Slots grow only when none is free, and holders stay within MaxNodes.
	if st.Count > MaxNodes {
		return nil, nil, nil, fmt.Errorf("%d holder slots, more than MaxNodes %d", st.Count, MaxNodes)
	}
	if uint64(st.Count) != uint64(len(st.Nodes))+uint64(len(st.Free)) {
		return nil, nil, nil, fmt.Errorf("%d slots, but %d holders and %d free slots", st.Count, len(st.Nodes), len(st.Free))
	}
	if st.Events > 0 && st.Now == 0 || st.Now < 0 {
		return nil, nil, nil, fmt.Errorf("engine clock %d", st.Now)
	}
	g := newGraph()
	g.gen, g.count = st.Gen, st.Count
	for g.count > uint32(len(g.chunks))*nodeChunk {
		g.chunks = append(g.chunks, make([]node, nodeChunk))
	}
	used := make([]bool, st.Count)
	for _, id := range st.Free {
		if id >= st.Count || used[id] {
			return nil, nil, nil, fmt.Errorf("free slot %d out of range or repeated", id)
		}
		used[id] = true
	}
	strs := interner{}
	for i := range st.Nodes {
		sn := &st.Nodes[i]
		switch {
		case sn.ID >= st.Count || used[sn.ID]:
			return nil, nil, nil, fmt.Errorf("holder %d: slot %d out of range or taken", i, sn.ID)
		case sn.Key == "" || len(sn.Key) > MaxIDLen:
			return nil, nil, nil, fmt.Errorf("holder %d: key of %d bytes", i, len(sn.Key))
		case sn.Gen == 0 || sn.Gen > st.Gen:
			return nil, nil, nil, fmt.Errorf("holder %q: generation %d outside 1..%d", sn.Key, sn.Gen, st.Gen)
		case len(sn.Out) > MaxEdgesPerNode || len(sn.In) > MaxEdgesPerNode:
			return nil, nil, nil, fmt.Errorf("holder %q: more than %d edges", sn.Key, MaxEdgesPerNode)
		case len(sn.OutDay) != dayBuckets || len(sn.InDay) != dayBuckets || len(sn.OutN) != dayBuckets || len(sn.InN) != dayBuckets:
			return nil, nil, nil, fmt.Errorf("holder %q: day counters are not %d long", sn.Key, dayBuckets)
		}
		if _, dup := g.ids[sn.Key]; dup {
			return nil, nil, nil, fmt.Errorf("holder %q twice", sn.Key)
		}
		used[sn.ID] = true
		g.ids[sn.Key] = sn.ID
		n := g.at(sn.ID)
		*n = node{key: sn.Key, gen: sn.Gen, last: sn.Last, watchUntil: sn.WatchUntil}
		copy(n.outDays.day[:], sn.OutDay)
		copy(n.outDays.n[:], sn.OutN)
		copy(n.inDays.day[:], sn.InDay)
		copy(n.inDays.n[:], sn.InN)
		var err error
		if n.out, err = edgesOf(sn.Out, st.Count, strs); err != nil {
			return nil, nil, nil, fmt.Errorf("holder %q: out: %v", sn.Key, err)
		}
		if n.in, err = edgesOf(sn.In, st.Count, strs); err != nil {
			return nil, nil, nil, fmt.Errorf("holder %q: in: %v", sn.Key, err)
		}
	}
	g.free = slices.Clone(st.Free)
	if len(st.MuleFIFO) > MaxMuleEntries {
		return nil, nil, nil, fmt.Errorf("%d mule entries, more than MaxMuleEntries %d", len(st.MuleFIFO), MaxMuleEntries)
	}
	fifo := make([]muleEntry, len(st.MuleFIFO))
	for i, sm := range st.MuleFIFO {
		e, err := muleOf(sm, strs)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("mule entry %d: %v", i, err)
		}
		fifo[i] = e
	}
	buckets := make(map[muleKey][]muleEntry, len(st.MuleBuckets))
	for i, b := range st.MuleBuckets {
		if len(b) == 0 || len(b) > MaxMuleBucket {
			return nil, nil, nil, fmt.Errorf("mule bucket %d: %d entries outside 1..%d", i, len(b), MaxMuleBucket)
		}
		var k muleKey
		es := make([]muleEntry, len(b))
		for j, sm := range b {
			e, err := muleOf(sm, strs)
			if err != nil {
				return nil, nil, nil, fmt.Errorf("mule bucket %d entry %d: %v", i, j, err)
			}
			if j == 0 {
				k = e.key
			} else if e.key != k {
				return nil, nil, nil, fmt.Errorf("mule bucket %d mixes amount buckets", i)
			}
			es[j] = e
		}
		if _, dup := buckets[k]; dup {
			return nil, nil, nil, fmt.Errorf("mule bucket %d repeated", i)
		}
		buckets[k] = es
	}
	return g, fifo, buckets, nil
}

func edgesOf(ses []snapEdge, count uint32, strs interner) ([]edge, error) {
	if len(ses) == 0 {
		return nil, nil
	}
	out := make([]edge, len(ses), max(len(ses), 2))
	for i, se := range ses {
		switch {
		case se.Peer >= count:
			return nil, fmt.Errorf("edge %d: peer slot %d out of range", i, se.Peer)
		case se.Amount < 0 || se.CreditBp < 0 || se.CreditBp > MaxCreditShareBps:
			return nil, fmt.Errorf("edge %d: amount %d, credit share %d", i, se.Amount, se.CreditBp)
		case len(se.Cur) > MaxCurrencyLen || len(se.Tx) > MaxIDLen:
			return nil, fmt.Errorf("edge %d: currency or id too long", i)
		}
		out[i] = edge{t: se.T, peer: se.Peer, peerGen: se.PeerGen, amount: se.Amount, cur: strs.of(se.Cur), tx: strs.of(se.Tx), creditBp: se.CreditBp}
	}
	return out, nil
}

func muleOf(sm snapMule, strs interner) (muleEntry, error) {
	if sm.Amount <= 0 {
		return muleEntry{}, fmt.Errorf("amount %d", sm.Amount)
	}
	for _, s := range []string{sm.Tx, sm.From, sm.To, sm.ToAcct, sm.Fr} {
		if len(s) > MaxIDLen {
			return muleEntry{}, fmt.Errorf("id longer than %d bytes", MaxIDLen)
		}
	}
	if len(sm.Cur) > MaxCurrencyLen {
		return muleEntry{}, fmt.Errorf("currency longer than %d bytes", MaxCurrencyLen)
	}
	return muleEntry{t: sm.T, amount: sm.Amount, cur: strs.of(sm.Cur), tx: strs.of(sm.Tx), from: strs.of(sm.From), to: strs.of(sm.To),
		toAcct: strs.of(sm.ToAcct), fromAcc: strs.of(sm.Fr), cashOut: sm.CashOut, key: bucketOf(sm.CashOut, sm.Amount)}, nil
}

// Fingerprint identifies the rule set's behaviour: a hash over every rule's
// id, pattern, expression, score and actions. Engine snapshots carry it,
// because which holders are watched depends on the rules.
func (rs *RuleSet) Fingerprint() string {
	h := sha256.New()
	for _, r := range rs.Rules {
		acts := make([]string, len(r.Actions))
		for i, a := range r.Actions {
			acts[i] = a.String()
		}
		for _, s := range []string{r.ID, r.Pattern, r.Expr, strconv.Itoa(r.Score), strings.Join(acts, ",")} {
			fmt.Fprintf(h, "%d:%s;", len(s), s)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
