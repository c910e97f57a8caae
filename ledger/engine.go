package ledger

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Engine errors (wrapped; test with errors.Is). Refused items are not errors:
// they come back as result codes.
var (
	// ErrClosed: the engine was closed.
	ErrClosed = errors.New("ledger: engine closed")
	// ErrBatchInvalid: the batch as a whole is malformed (too many items, an
	// oversized record); the message names the field.
	ErrBatchInvalid = errors.New("ledger: invalid batch")
	// ErrStoreFailed: a commit failed; the engine stopped and must be reopened
	// (the failed commit may or may not be durable: Open tells).
	ErrStoreFailed = errors.New("ledger: store commit failed")
	// ErrCorrupt: Open found a stored state that breaks an invariant.
	ErrCorrupt = errors.New("ledger: stored state is inconsistent")
)

// Defaults for Options.
const (
	DefaultMaxGroupTransfers = 16384
	DefaultQueueDepth        = 1024
)

// Options tune an Engine. The zero value is usable.
type Options struct {
	// MaxGroupTransfers bounds how many transfers (plus accounts, updates and
	// counters) one group commit carries; a group is also flushed as soon as
	// the queue of submissions is empty. Default DefaultMaxGroupTransfers.
	MaxGroupTransfers int
	// QueueDepth is how many submissions may wait for the writer. Default DefaultQueueDepth.
	QueueDepth int
	// TickEvery, if > 0, runs Tick at this real-time interval so pending
	// transfers expire without traffic. Leave 0 with a fake clock and call Tick.
	TickEvery time.Duration
}

// Engine applies batches in order with a single writer goroutine and group
// commits them to a Store. Submit blocks until the batch is durable. Reads
// see committed state only. All methods are safe for concurrent use.
type Engine struct {
	store Store
	clock Clock
	opts  Options

	m          *machine // owned by the writer goroutine
	in         chan *submission
	commits    chan *commitGroup
	recycled   chan *CommitRecord // committed records back to the writer for reuse
	ready      chan struct{}      // the committer is waiting for a group
	writerDone chan struct{}      // closed when the writer has handed over its last group

	closeMu  sync.RWMutex
	closed   bool
	failed   atomic.Pointer[error]
	wg       sync.WaitGroup
	stopTick chan struct{}

	view view

	// observer, if set, is told of every group commit (ObserveCommits).
	observer atomic.Pointer[func(CommitStats)]
}

// CommitStats describes one group commit, for metrics: how much it
// carried and how long the store took to make it durable.
type CommitStats struct {
	Batches   int // the submitted batches it carried
	Transfers int
	Records   int
	// Duration is the real time the store's Commit took (journal write
	// and fsync), not the engine clock's.
	Duration time.Duration
	Failed   bool
}

// ObserveCommits has f called after every group commit, on the committer
// goroutine: f must be quick and must not call the engine. nil stops it.
func (e *Engine) ObserveCommits(f func(CommitStats)) {
	if f == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&f)
}

type submission struct {
	batch  *Batch
	result *BatchResult
	err    error
	done   chan struct{}
}

type commitGroup struct {
	rec  *CommitRecord
	subs []*submission
}

// view is the committed state readers see: updated after each durable
// commit, under a lock held only for the copy (never across I/O).
type view struct {
	mu       sync.RWMutex
	idx      map[AccountID]int32
	accs     []Account
	counters map[string]int64
	seq      uint64
	lastRec  uint64            // the largest Record.Seq committed
	lastKind map[string]uint64 // the largest Record.Seq of each kind committed since Open
}

// Open rebuilds the engine's state from everything committed in store and
// starts it. The caller keeps ownership of store (Close the engine first,
// then the store). Errors: the store's Load errors, ErrCorrupt.
func Open(ctx context.Context, store Store, clock Clock, opts Options) (*Engine, error) {
	if opts.MaxGroupTransfers <= 0 {
		opts.MaxGroupTransfers = DefaultMaxGroupTransfers
	}
	if opts.QueueDepth <= 0 {
		opts.QueueDepth = DefaultQueueDepth
	}
	m := newMachine()
	meta, err := store.Load(ctx, (*loader)(m))
	if err != nil {
		return nil, fmt.Errorf("ledger: load: %w", err)
	}
	m.lastSeq, m.lastRecSeq = meta.LastCommitSeq, meta.LastRecordSeq
	if err := m.checkLoaded(); err != nil {
		return nil, err
	}
	e := &Engine{
		store: store, clock: clock, opts: opts, m: m,
		in:         make(chan *submission, opts.QueueDepth),
		commits:    make(chan *commitGroup, 1),
		ready:      make(chan struct{}),
		writerDone: make(chan struct{}),
		recycled:   make(chan *CommitRecord, 2),
		stopTick:   make(chan struct{}),
	}
	e.view = view{idx: make(map[AccountID]int32, len(m.accs)), accs: make([]Account, len(m.accs)),
		counters: make(map[string]int64, len(m.counters)), seq: m.lastSeq, lastRec: m.lastRecSeq,
		lastKind: map[string]uint64{}}
	copy(e.view.accs, m.accs)
	for i, a := range m.accs {
		e.view.idx[a.ID] = int32(i)
	}
	for k, v := range m.counters {
		e.view.counters[k] = v
	}
	e.wg.Add(2)
	go e.writer()
	go e.committer()
	if opts.TickEvery > 0 {
		e.wg.Add(1)
		go e.ticker()
	}
	return e, nil
}

// Submit applies b after every batch submitted before it and returns when
// the commit that holds it is durable. Each item's outcome is in the
// BatchResult; err is only for the engine itself: ErrBatchInvalid, ErrClosed,
// ErrStoreFailed, or ctx's error — in that last case the batch may still
// commit (retry with the same ids or keys to learn its outcome).
func (e *Engine) Submit(ctx context.Context, b *Batch) (*BatchResult, error) {
	if err := checkBatch(b); err != nil {
		return nil, err
	}
	s := &submission{batch: b, done: make(chan struct{})}
	e.closeMu.RLock()
	if e.closed {
		e.closeMu.RUnlock()
		return nil, ErrClosed
	}
	if err := e.failedErr(); err != nil {
		e.closeMu.RUnlock()
		return nil, err
	}
	select {
	case e.in <- s:
	case <-ctx.Done():
		e.closeMu.RUnlock()
		return nil, ctx.Err()
	}
	e.closeMu.RUnlock()
	select {
	case <-s.done:
		return s.result, s.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Transfers submits transfers alone (a convenience around Submit).
func (e *Engine) Transfers(ctx context.Context, ts ...Transfer) ([]Result, error) {
	r, err := e.Submit(ctx, &Batch{Transfers: ts})
	if err != nil {
		return nil, err
	}
	return r.Transfers, nil
}

// CreateAccounts submits account creations alone (a convenience around Submit).
func (e *Engine) CreateAccounts(ctx context.Context, as ...Account) ([]Result, error) {
	r, err := e.Submit(ctx, &Batch{Accounts: as})
	if err != nil {
		return nil, err
	}
	return r.Accounts, nil
}

// Tick expires every pending transfer whose timeout has passed on the
// engine's clock and returns once that is durable. Submit does the same
// before each batch; Tick is for when there is no traffic.
func (e *Engine) Tick(ctx context.Context) error {
	_, err := e.Submit(ctx, &Batch{})
	return err
}

func checkBatch(b *Batch) error {
	bad := func(field, reason string) error { return fmt.Errorf("%w: %s: %s", ErrBatchInvalid, field, reason) }
	switch {
	case b == nil:
		return bad("batch", "is nil")
	case len(b.Transfers) > MaxBatchTransfers:
		return bad("transfers", fmt.Sprintf("%d items, at most %d", len(b.Transfers), MaxBatchTransfers))
	case len(b.Accounts) > MaxBatchAccounts:
		return bad("accounts", fmt.Sprintf("%d items, at most %d", len(b.Accounts), MaxBatchAccounts))
	case len(b.Updates) > MaxBatchUpdates:
		return bad("updates", fmt.Sprintf("%d items, at most %d", len(b.Updates), MaxBatchUpdates))
	case len(b.Counters) > MaxBatchCounters:
		return bad("counters", fmt.Sprintf("%d items, at most %d", len(b.Counters), MaxBatchCounters))
	case len(b.Records) > MaxBatchRecords:
		return bad("records", fmt.Sprintf("%d items, at most %d", len(b.Records), MaxBatchRecords))
	}
	for i, r := range b.Records {
		switch {
		case r.Kind == "" || len(r.Kind) > MaxKeyLen:
			return bad(fmt.Sprintf("records[%d].kind", i), fmt.Sprintf("must be 1…%d bytes", MaxKeyLen))
		case len(r.Key) > MaxKeyLen:
			return bad(fmt.Sprintf("records[%d].key", i), fmt.Sprintf("must be at most %d bytes", MaxKeyLen))
		case len(r.Data) > MaxRecordBytes:
			return bad(fmt.Sprintf("records[%d].data", i), fmt.Sprintf("must be at most %d bytes", MaxRecordBytes))
		}
	}
	return nil
}

func (e *Engine) failedErr() error {
	if p := e.failed.Load(); p != nil {
		return *p
	}
	return nil
}

func batchSize(b *Batch) int {
	return max(1, len(b.Transfers)+len(b.Accounts)+len(b.Updates)+len(b.Counters))
}

// writer applies submissions in arrival order into the current group and
// hands the group over when the committer is free (it signals on ready) or
// when the group is full. So while one group is being made durable the next
// one grows with everything that arrives meanwhile: the busier the store,
// the bigger the groups.
func (e *Engine) writer() {
	defer e.wg.Done()
	defer close(e.writerDone)
	var g *commitGroup
	n := 0
	in := e.in
	for in != nil || g != nil {
		var ready chan struct{}
		if g != nil {
			ready = e.ready
		}
		select {
		case s, ok := <-in:
			if !ok {
				in = nil
				continue
			}
			if g == nil {
				g = &commitGroup{}
			}
			n += e.applyOne(s, g)
			if n >= e.opts.MaxGroupTransfers {
				<-e.ready
				e.handOver(g)
				g, n = nil, 0
			}
		case <-ready:
			e.handOver(g)
			g, n = nil, 0
		}
	}
}

// handOver closes the group and gives it to the committer, which has just
// signalled that it is waiting.
func (e *Engine) handOver(g *commitGroup) {
	select {
	case r := <-e.recycled:
		e.m.recycle(r)
	default:
	}
	g.rec = e.m.finishGroup(e.clock.Now().UnixNano())
	e.commits <- g
}

func (e *Engine) applyOne(s *submission, g *commitGroup) int {
	g.subs = append(g.subs, s)
	if e.failedErr() != nil {
		return 0 // the committer answers with the failure
	}
	s.result = e.m.apply(s.batch, e.clock.Now().UnixNano())
	return batchSize(s.batch)
}

// committer makes each group durable in order, publishes it to readers and
// releases its submitters.
func (e *Engine) committer() {
	defer e.wg.Done()
	for {
		select {
		case e.ready <- struct{}{}:
		case <-e.writerDone:
			return
		}
		g := <-e.commits
		err := e.failedErr()
		if err == nil && g.rec != nil {
			start := time.Now()
			cerr := e.store.Commit(context.Background(), g.rec)
			if cerr != nil {
				err = fmt.Errorf("%w: commit %d: %w", ErrStoreFailed, g.rec.Seq, cerr)
				e.failed.CompareAndSwap(nil, &err)
			} else {
				e.view.publish(g.rec)
			}
			if obs := e.observer.Load(); obs != nil {
				(*obs)(CommitStats{Batches: len(g.subs), Transfers: len(g.rec.Transfers), Records: len(g.rec.Records),
					Duration: time.Since(start), Failed: cerr != nil})
			}
		}
		seq := e.view.lastSeq()
		for _, s := range g.subs {
			if err != nil {
				s.result, s.err = nil, err
			} else {
				s.result.CommitSeq = seq
			}
			close(s.done)
		}
		if err == nil && g.rec != nil {
			select {
			case e.recycled <- g.rec:
			default:
			}
		}
	}
}

func (e *Engine) ticker() {
	defer e.wg.Done()
	t := time.NewTicker(e.opts.TickEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := e.Tick(context.Background()); err != nil {
				return
			}
		case <-e.stopTick:
			return
		}
	}
}

// Close stops accepting batches, waits until every accepted one is durable
// (or failed) and stops the engine. It does not close the store.
func (e *Engine) Close() error {
	e.closeMu.Lock()
	if e.closed {
		e.closeMu.Unlock()
		return nil
	}
	e.closed = true
	close(e.stopTick)
	close(e.in)
	e.closeMu.Unlock()
	e.wg.Wait()
	return e.failedErr()
}

func (v *view) publish(rec *CommitRecord) {
	v.mu.Lock()
	defer v.mu.Unlock()
	// Accounts keep the writer's positions: accounts are never removed, and
	// one rolled back before its group finished never reaches a commit.
	for i := range rec.Accounts {
		a, pos := &rec.Accounts[i], int(rec.positions[i])
		for pos >= len(v.accs) {
			v.accs = append(v.accs, Account{})
		}
		if v.accs[pos].ID != a.ID {
			v.idx[a.ID] = int32(pos)
		}
		v.accs[pos] = *a
	}
	for _, c := range rec.Counters {
		v.counters[c.Key] = c.Value
	}
	for i := range rec.Records {
		r := &rec.Records[i]
		v.lastRec = max(v.lastRec, r.Seq)
		if v.lastKind[r.Kind] < r.Seq {
			v.lastKind[r.Kind] = r.Seq
		}
	}
	v.seq = rec.Seq
}

func (v *view) lastSeq() uint64 {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.seq
}

// Account returns the committed state of account id.
func (e *Engine) Account(id AccountID) (Account, bool) {
	e.view.mu.RLock()
	defer e.view.mu.RUnlock()
	i, ok := e.view.idx[id]
	if !ok {
		return Account{}, false
	}
	return e.view.accs[i], true
}

// Accounts returns a copy of every committed account, in creation order.
func (e *Engine) Accounts() []Account {
	e.view.mu.RLock()
	defer e.view.mu.RUnlock()
	out := make([]Account, len(e.view.accs))
	copy(out, e.view.accs)
	return out
}

// Counter returns the committed value of counter key (0 if never set).
func (e *Engine) Counter(key string) int64 {
	e.view.mu.RLock()
	defer e.view.mu.RUnlock()
	return e.view.counters[key]
}

// LastRecordSeq returns the Seq of the last durable record of kind (of any
// kind if kind is ""): a reader of records after it finds only later
// commits'. For a kind, only records committed since Open count (0 if
// none yet): a cursor a reader may move forward to, never one past records
// it has not read.
func (e *Engine) LastRecordSeq(kind string) uint64 {
	e.view.mu.RLock()
	defer e.view.mu.RUnlock()
	if kind == "" {
		return e.view.lastRec
	}
	return e.view.lastKind[kind]
}

// CommitSeq returns the Seq of the last durable commit.
func (e *Engine) CommitSeq() uint64 { return e.view.lastSeq() }

// Transfer returns the committed transfer id. Errors: ErrNotFound and the store's errors.
func (e *Engine) Transfer(ctx context.Context, id TransferID) (Transfer, error) {
	return e.store.Transfer(ctx, id)
}

// TransferByKey returns the committed transfer with idempotency key key.
// Errors: ErrNotFound and the store's errors.
func (e *Engine) TransferByKey(ctx context.Context, key string) (Transfer, error) {
	return e.store.TransferByKey(ctx, key)
}

// History returns the committed transfers of account after the cursor
// (a Timestamp; 0 for the start), up to limit (1…MaxHistoryPage).
// Errors: ErrBatchInvalid for a bad limit, the store's errors.
func (e *Engine) History(ctx context.Context, account AccountID, after int64, limit int) (HistoryPage, error) {
	if limit < 1 || limit > MaxHistoryPage {
		return HistoryPage{}, fmt.Errorf("%w: limit: %d, must be 1…%d", ErrBatchInvalid, limit, MaxHistoryPage)
	}
	return e.store.History(ctx, account, after, limit)
}

// Records returns committed records of kind (all if "") after the cursor.
// Errors: ErrBatchInvalid for a bad limit, the store's errors.
func (e *Engine) Records(ctx context.Context, kind string, after uint64, limit int) ([]Record, error) {
	if limit < 1 || limit > MaxHistoryPage {
		return nil, fmt.Errorf("%w: limit: %d, must be 1…%d", ErrBatchInvalid, limit, MaxHistoryPage)
	}
	return e.store.Records(ctx, kind, after, limit)
}

// KeyRecords returns committed records of kind whose Key is one of keys,
// after the cursor (see Store.KeyRecords). Errors: ErrBatchInvalid for a
// bad limit or key count, the store's errors.
func (e *Engine) KeyRecords(ctx context.Context, kind string, keys []string, after uint64, limit int) ([]Record, error) {
	if limit < 1 || limit > MaxHistoryPage {
		return nil, fmt.Errorf("%w: limit: %d, must be 1…%d", ErrBatchInvalid, limit, MaxHistoryPage)
	}
	if len(keys) < 1 || len(keys) > MaxRecordKeys {
		return nil, fmt.Errorf("%w: keys: %d, must be 1…%d", ErrBatchInvalid, len(keys), MaxRecordKeys)
	}
	return e.store.KeyRecords(ctx, kind, keys, after, limit)
}

// ---- recovery ----

// loader rebuilds a machine from Store.Load.
type loader machine

func (l *loader) VisitAccount(a Account) error {
	m := (*machine)(l)
	if _, dup := m.accIdx.get(a.ID); dup || a.ID == 0 {
		return fmt.Errorf("%w: account %d listed twice or zero", ErrCorrupt, a.ID)
	}
	m.accIdx.put(a.ID, int32(len(m.accs)))
	m.accs = append(m.accs, a)
	m.dirty = append(m.dirty, 0)
	m.lastTs = max(m.lastTs, a.Timestamp)
	return nil
}

func (l *loader) VisitTransfer(t Transfer) error {
	m := (*machine)(l)
	if _, dup := m.index.get(t.ID); dup || t.ID == 0 {
		return fmt.Errorf("%w: transfer %d listed twice or zero", ErrCorrupt, t.ID)
	}
	m.index.put(t.ID, tEntry{fp: fingerprintOf(&t), ts: t.Timestamp, state: t.State, flags: t.Flags})
	if t.Key != "" {
		m.keys[t.Key] = t.ID
	}
	m.lastTs = max(m.lastTs, t.Timestamp)
	if t.Flags&TransferPending == 0 || t.State != StatePending {
		return nil
	}
	di, ok1 := m.accIdx.get(t.DebitAccount)
	ci, ok2 := m.accIdx.get(t.CreditAccount)
	if !ok1 || !ok2 {
		return fmt.Errorf("%w: pending transfer %d names a missing account", ErrCorrupt, t.ID)
	}
	p := &pend{id: t.ID, debit: di, credit: ci, amount: t.AmountFen, expiresAt: expiryOf(t.Timestamp, t.TimeoutSeconds)}
	m.pending[t.ID] = p
	m.expiries.push(p)
	return nil
}

func (l *loader) VisitCounter(c Counter) error {
	(*machine)(l).counters[c.Key] = c.Value
	return nil
}

// checkLoaded verifies the loaded state: invariants 1–2, provenance, and
// that pending sums equal the live pending transfers.
func (m *machine) checkLoaded() error {
	v := CheckAccounts(m.accs)
	dp := make([]int64, len(m.accs))
	cp := make([]int64, len(m.accs))
	for _, p := range m.pending {
		dp[p.debit] += p.amount
		cp[p.credit] += p.amount
	}
	for i := range m.accs {
		if dp[i] != m.accs[i].DebitsPendingFen || cp[i] != m.accs[i].CreditsPendingFen {
			v = append(v, fmt.Sprintf("account %d: pending %d/%d but live holds %d/%d",
				m.accs[i].ID, m.accs[i].DebitsPendingFen, m.accs[i].CreditsPendingFen, dp[i], cp[i]))
		}
	}
	if len(v) > 0 {
		return fmt.Errorf("%w: %s", ErrCorrupt, strings.Join(v, "; "))
	}
	return nil
}
