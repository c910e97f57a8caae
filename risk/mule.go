package risk

import (
	"math/bits"
	"time"
)

// Mule-chain detector bounds.
const (
	// MuleWindow is how long a transfer waits for its cash-out.
	MuleWindow = 24 * time.Hour
	// MuleMaxDiffBps is the widest amount difference (basis points of the larger
	// amount) the index reports; rules choose a tighter one.
	MuleMaxDiffBps = 50
	// MaxMuleEntries caps the index (oldest evicted first).
	MaxMuleEntries = 1 << 16
	// MaxMuleBucket caps the entries of one amount bucket (oldest dropped
	// first), so a popular amount cannot make lookups slow.
	MaxMuleBucket = 64
	// muleTopBits is the precision of an amount bucket (≈0.4–0.8% wide).
	muleTopBits = 8
)

// muleKey is an amount bucket; entries carry their currency, compared on lookup.
type muleKey struct {
	cashOut bool
	shift   uint8
	top     int64
}

type muleEntry struct {
	t       int64
	amount  int64
	cur     string
	tx      string
	from    string // holders
	to      string
	toAcct  string
	fromAcc string
	cashOut bool
	key     muleKey
}

// muleIndex finds transfers and cash-outs of about the same amount close in time.
type muleIndex struct {
	buckets map[muleKey][]muleEntry
	fifo    []muleEntry // ring of every entry in arrival order
	head, n int
}

func newMuleIndex() *muleIndex {
	return &muleIndex{buckets: make(map[muleKey][]muleEntry), fifo: make([]muleEntry, MaxMuleEntries)}
}

func bucketOf(cashOut bool, amount int64) muleKey {
	shift := max(0, bits.Len64(uint64(amount))-muleTopBits)
	return muleKey{cashOut: cashOut, shift: uint8(shift), top: amount >> shift}
}

func isCashOut(k Kind) bool { return k == KindCashOut || k == KindWithdraw }

// match finds the best counterpart of e: for a cash-out, an earlier transfer
// within MuleWindow; for a transfer, a cash-out at the same instant (the order
// of events inside one clock tick is unknown).
func (m *muleIndex) match(e *Event, now int64) (muleEntry, int64, bool) {
	wantCashOut := e.Kind == KindTransfer
	if !wantCashOut && !isCashOut(e.Kind) || e.AmountMinor <= 0 {
		return muleEntry{}, 0, false
	}
	since := now - int64(MuleWindow/time.Second)
	if wantCashOut {
		since = now
	}
	k := bucketOf(wantCashOut, e.AmountMinor)
	var best muleEntry
	bestDiff, found := int64(0), false
	for d := int64(-1); d <= 1; d++ {
		kk := k
		kk.top += d
		for _, c := range m.buckets[kk] {
			if c.cashOut != wantCashOut || c.t < since || c.t > now || c.cur != e.Currency {
				continue
			}
			diff := diffBps(c.amount, e.AmountMinor)
			if diff > MuleMaxDiffBps {
				continue
			}
			if !found || diff < bestDiff || diff == bestDiff && c.t > best.t {
				best, bestDiff, found = c, diff, true
			}
		}
	}
	return best, bestDiff, found
}

// diffBps is |a-b| in basis points of the larger, rounded up, in integers.
func diffBps(a, b int64) int64 {
	hi, lo := max(a, b), min(a, b)
	if hi == 0 {
		return 0
	}
	d := hi - lo
	over, prod := bits.Mul64(uint64(d), 10000)
	if over != 0 {
		return 10000
	}
	q := prod / uint64(hi)
	if prod%uint64(hi) != 0 {
		q++
	}
	return int64(q)
}

// add indexes e if it is a transfer or a cash-out.
func (m *muleIndex) add(e *Event, now int64) {
	if e.Kind != KindTransfer && !isCashOut(e.Kind) || e.AmountMinor <= 0 {
		return
	}
	if m.n == len(m.fifo) {
		m.drop()
	}
	since := now - int64(MuleWindow/time.Second)
	for m.n > 0 && m.fifo[m.head].t < since {
		m.drop()
	}
	en := muleEntry{t: now, amount: e.AmountMinor, cur: e.Currency, tx: e.ID, from: e.fromHolder(), to: e.toHolder(),
		toAcct: e.ToAccount, fromAcc: e.FromAccount, cashOut: isCashOut(e.Kind), key: bucketOf(isCashOut(e.Kind), e.AmountMinor)}
	m.fifo[(m.head+m.n)%len(m.fifo)] = en
	m.n++
	b := m.buckets[en.key]
	if len(b) >= MaxMuleBucket {
		b = append(b[:0], b[1:]...) // its FIFO slot stays until drop finds nothing to remove
	}
	m.buckets[en.key] = append(b, en)
}

// drop removes the oldest entry.
func (m *muleIndex) drop() {
	old := m.fifo[m.head]
	m.fifo[m.head] = muleEntry{}
	m.head = (m.head + 1) % len(m.fifo)
	m.n--
	b := m.buckets[old.key]
	for i := range b {
		if b[i].tx == old.tx && b[i].t == old.t {
			b = append(b[:i], b[i+1:]...)
			break
		}
	}
	if len(b) == 0 {
		delete(m.buckets, old.key)
	} else {
		m.buckets[old.key] = b
	}
}
