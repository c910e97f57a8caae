package ledger

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// MemStore is an in-memory Store for tests and benchmarks. It is not durable
// across processes, but its data survives Close: Reopen returns a fresh handle
// on the same data, as if the process had restarted.
type MemStore struct {
	d *memData
}

type memData struct {
	mu        sync.RWMutex
	closed    bool
	failWith  error
	lastSeq   uint64
	lastRec   uint64
	accounts  map[AccountID]Account
	transfers []Transfer // increasing Timestamp
	byID      map[TransferID]int
	byKey     map[string]int
	history   map[AccountID][]int // positions in transfers
	counters  map[string]int64
	records   []Record
	byRecKey  map[string][]int // kind + "\x00" + key → positions in records
}

// NewMemStore returns an empty in-memory store.
func NewMemStore() *MemStore {
	return &MemStore{d: &memData{
		accounts: map[AccountID]Account{},
		byID:     map[TransferID]int{},
		byKey:    map[string]int{},
		history:  map[AccountID][]int{},
		counters: map[string]int64{},
		byRecKey: map[string][]int{},
	}}
}

// Reopen returns an open handle on the same data (after Close, to test recovery).
func (m *MemStore) Reopen() *MemStore {
	m.d.mu.Lock()
	m.d.closed = false
	m.d.mu.Unlock()
	return &MemStore{d: m.d}
}

// FailCommits makes every following Commit return err without storing
// anything (nil restores normal behaviour). For fault-injection tests.
func (m *MemStore) FailCommits(err error) {
	m.d.mu.Lock()
	m.d.failWith = err
	m.d.mu.Unlock()
}

// Load visits accounts (in id order), transfers (in Timestamp order) and counters (in key order).
func (m *MemStore) Load(ctx context.Context, v Visitor) (Meta, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return Meta{}, ErrStoreClosed
	}
	ids := make([]AccountID, 0, len(d.accounts))
	for id := range d.accounts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if err := v.VisitAccount(d.accounts[id]); err != nil {
			return Meta{}, err
		}
	}
	for _, t := range d.transfers {
		if err := v.VisitTransfer(t); err != nil {
			return Meta{}, err
		}
	}
	keys := make([]string, 0, len(d.counters))
	for k := range d.counters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := v.VisitCounter(Counter{Key: k, Value: d.counters[k]}); err != nil {
			return Meta{}, err
		}
	}
	return Meta{LastCommitSeq: d.lastSeq, LastRecordSeq: d.lastRec}, ctx.Err()
}

// Commit applies c atomically.
func (m *MemStore) Commit(_ context.Context, c *CommitRecord) error {
	d := m.d
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.closed:
		return ErrStoreClosed
	case d.failWith != nil:
		return fmt.Errorf("memstore commit %d: %w", c.Seq, d.failWith)
	case c.Seq != d.lastSeq+1:
		return fmt.Errorf("memstore commit %d after %d: %w", c.Seq, d.lastSeq, ErrCommitOrder)
	}
	for _, a := range c.Accounts {
		d.accounts[a.ID] = a
	}
	for _, t := range c.Transfers {
		pos := len(d.transfers)
		d.transfers = append(d.transfers, t)
		d.byID[t.ID] = pos
		if t.Key != "" {
			d.byKey[t.Key] = pos
		}
		d.history[t.DebitAccount] = append(d.history[t.DebitAccount], pos)
		d.history[t.CreditAccount] = append(d.history[t.CreditAccount], pos)
	}
	for _, s := range c.StateChanges {
		if pos, ok := d.byID[s.ID]; ok {
			d.transfers[pos].State = s.State
		}
	}
	for _, ctr := range c.Counters {
		d.counters[ctr.Key] = ctr.Value
	}
	for _, r := range c.Records {
		k := r.Kind + "\x00" + r.Key
		d.byRecKey[k] = append(d.byRecKey[k], len(d.records))
		d.records = append(d.records, r)
		d.lastRec = max(d.lastRec, r.Seq)
	}
	d.lastSeq = c.Seq
	return nil
}

// Transfer returns the transfer id or ErrNotFound.
func (m *MemStore) Transfer(_ context.Context, id TransferID) (Transfer, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return Transfer{}, ErrStoreClosed
	}
	pos, ok := d.byID[id]
	if !ok {
		return Transfer{}, fmt.Errorf("transfer %d: %w", id, ErrNotFound)
	}
	return d.transfers[pos], nil
}

// TransferByKey returns the transfer with idempotency key key or ErrNotFound.
func (m *MemStore) TransferByKey(_ context.Context, key string) (Transfer, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return Transfer{}, ErrStoreClosed
	}
	pos, ok := d.byKey[key]
	if !ok {
		return Transfer{}, fmt.Errorf("transfer key %q: %w", key, ErrNotFound)
	}
	return d.transfers[pos], nil
}

// History returns a page of the account's transfers after the cursor.
func (m *MemStore) History(_ context.Context, account AccountID, after int64, limit int) (HistoryPage, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return HistoryPage{}, ErrStoreClosed
	}
	limit = min(max(limit, 1), MaxHistoryPage)
	positions := d.history[account]
	i := sort.Search(len(positions), func(i int) bool { return d.transfers[positions[i]].Timestamp > after })
	var page HistoryPage
	for ; i < len(positions) && len(page.Transfers) < limit; i++ {
		page.Transfers = append(page.Transfers, d.transfers[positions[i]])
	}
	if len(page.Transfers) == limit && i < len(positions) {
		page.Next = page.Transfers[limit-1].Timestamp
	}
	return page, nil
}

// Records returns records of kind (or all) with Seq > after.
func (m *MemStore) Records(_ context.Context, kind string, after uint64, limit int) ([]Record, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrStoreClosed
	}
	limit = min(max(limit, 1), MaxHistoryPage)
	i := sort.Search(len(d.records), func(i int) bool { return d.records[i].Seq > after })
	var out []Record
	for ; i < len(d.records) && len(out) < limit; i++ {
		if kind == "" || d.records[i].Kind == kind {
			out = append(out, d.records[i])
		}
	}
	return out, nil
}

// KeyRecords returns records of kind with one of keys and Seq > after.
func (m *MemStore) KeyRecords(_ context.Context, kind string, keys []string, after uint64, limit int) ([]Record, error) {
	d := m.d
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return nil, ErrStoreClosed
	}
	limit = min(max(limit, 1), MaxHistoryPage)
	var pos []int
	seen := map[string]bool{}
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			pos = append(pos, d.byRecKey[kind+"\x00"+k]...)
		}
	}
	sort.Ints(pos) // records are in Seq order
	var out []Record
	for _, p := range pos {
		if r := d.records[p]; r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

// Close marks the handle closed; the data stays for Reopen.
func (m *MemStore) Close() error {
	m.d.mu.Lock()
	m.d.closed = true
	m.d.mu.Unlock()
	return nil
}

var _ Store = (*MemStore)(nil)
