package ledger

import (
	"math"
	"slices"
	"time"

	"github.com/paybridge/paybridge/money"
)

// machine is the ledger's deterministic state machine: the in-memory state
// and the rules that change it. It is owned by one goroutine (the engine's
// writer) and does no I/O; each group of applied batches yields a
// CommitRecord for the store.
type machine struct {
	accIdx accountTable
	accs   []Account
	// dirty[i] == group when accs[i] changed in the current group.
	dirty     []uint64
	dirtyList []int32
	group     uint64

	index    idTable
	keys     map[string]TransferID
	pending  map[TransferID]*pend
	expiries pendHeap

	counters   map[string]int64
	ctrDirty   map[string]struct{}
	lastTs     int64
	lastSeq    uint64
	lastRecSeq uint64

	rec  CommitRecord    // being built for the current group
	free []*CommitRecord // committed records whose slices can be reused

	// undo is non-nil while applying a unit that must commit all or none.
	undo     []undoEntry
	inUnit   bool
	unitMark unitMark
}

// tEntry is what the machine remembers of every committed transfer: enough
// to recognise a replay and the state of a pending transfer. 32 bytes.
type tEntry struct {
	fp    fingerprint
	ts    int64
	state TransferState
	flags TransferFlags
}

// pend is a live pending transfer.
type pend struct {
	id        TransferID
	debit     int32
	credit    int32
	heapPos   int32
	amount    int64
	expiresAt int64
}

func newMachine() *machine {
	return &machine{
		keys:     map[string]TransferID{},
		pending:  map[TransferID]*pend{},
		counters: map[string]int64{},
		ctrDirty: map[string]struct{}{},
		group:    1,
	}
}

// nextTs returns a timestamp ≥ now that is unique and increasing.
func (m *machine) nextTs(now int64) int64 {
	m.lastTs = max(now, m.lastTs+1)
	return m.lastTs
}

func (m *machine) touch(i int32) {
	if m.dirty[i] != m.group {
		m.dirty[i] = m.group
		m.dirtyList = append(m.dirtyList, i)
	}
}

// saveAccount records the account's value for undo and marks it dirty.
func (m *machine) saveAccount(i int32) {
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoAccount, acc: i, old: m.accs[i]})
	}
	m.touch(i)
}

// ---- expiry ----

// expire voids every pending transfer whose timeout has passed at now.
func (m *machine) expire(now int64) {
	for len(m.expiries) > 0 && m.expiries[0].expiresAt <= now {
		p := m.expiries.pop()
		delete(m.pending, p.id)
		m.release(p)
		e, _ := m.index.get(p.id)
		e.state = StateExpired
		m.index.put(p.id, e)
		m.rec.StateChanges = append(m.rec.StateChanges, StateChange{ID: p.id, State: StateExpired})
	}
}

// release undoes a hold's pending amounts (for void, expiry and post).
func (m *machine) release(p *pend) {
	m.saveAccount(p.debit)
	m.saveAccount(p.credit)
	m.accs[p.debit].DebitsPendingFen -= p.amount
	m.accs[p.credit].CreditsPendingFen -= p.amount
}

// ---- accounts ----

func (m *machine) createAccount(a *Account, now int64) Result {
	if code := validateAccount(a); code != ResultOK {
		return Result{Code: code}
	}
	if i, ok := m.accIdx.get(a.ID); ok {
		old := &m.accs[i]
		if old.Holder != a.Holder || old.Institution != a.Institution || old.Product != a.Product ||
			old.Currency != a.Currency || old.Flags&AccountNoFloor != a.Flags&AccountNoFloor {
			return Result{Code: ResultAccountExistsWithDifferentFields}
		}
		return Result{Code: ResultOK, Replayed: true, ID: uint64(a.ID), Timestamp: old.Timestamp}
	}
	acc := Account{
		ID: a.ID, Holder: a.Holder, Institution: a.Institution, Product: a.Product,
		Currency: a.Currency, FloorFen: a.FloorFen, Flags: a.Flags, Timestamp: m.nextTs(now),
	}
	i := int32(len(m.accs))
	m.accs = append(m.accs, acc)
	m.dirty = append(m.dirty, 0)
	m.accIdx.put(a.ID, i)
	m.touch(i)
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoAccountCreate, acc: i})
	}
	return Result{Code: ResultOK, ID: uint64(a.ID), Timestamp: acc.Timestamp}
}

func validateAccount(a *Account) Code {
	switch {
	case a.ID == 0:
		return ResultIDZero
	case a.Flags&^accountFlagsAll != 0 || a.Flags&AccountClosed != 0:
		return ResultFlagsInvalid
	case len(a.Holder) > MaxNameLen || len(a.Institution) > MaxNameLen || len(a.Product) > MaxNameLen:
		return ResultNameInvalid
	case !validCurrency(a.Currency):
		return ResultCurrencyInvalid
	case a.FloorFen > 0 || (a.Flags&AccountNoFloor != 0 && a.FloorFen != 0):
		return ResultFloorInvalid
	}
	return ResultOK
}

// validCurrency accepts three upper-case ASCII letters (ISO 4217 style).
func validCurrency(c string) bool {
	return len(c) == 3 && isUpper(c[0]) && isUpper(c[1]) && isUpper(c[2])
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// effectiveFloor is the lowest BalanceFen − DebitsPendingFen a debit may leave.
func effectiveFloor(floor int64, flags AccountFlags) int64 {
	if flags&AccountDebitsMustNotExceedCredits != 0 {
		return max(floor, 0)
	}
	return floor
}

func (m *machine) updateAccount(u *AccountUpdate) Result {
	i, ok := m.accIdx.get(u.ID)
	if !ok {
		if u.ID == 0 {
			return Result{Code: ResultIDZero}
		}
		return Result{Code: ResultAccountNotFound}
	}
	a := &m.accs[i]
	if u.Flags&^accountFlagsAll != 0 || u.Flags&AccountNoFloor != a.Flags&AccountNoFloor {
		return Result{Code: ResultFlagsInvalid}
	}
	floor := a.FloorFen
	if u.SetFloor {
		if u.FloorFen > 0 || a.Flags&AccountNoFloor != 0 {
			return Result{Code: ResultFloorInvalid}
		}
		floor = u.FloorFen
	}
	if u.Flags&AccountClosed != 0 && a.Flags&AccountClosed == 0 &&
		(a.BalanceFen != 0 || a.DebitsPendingFen != 0 || a.CreditsPendingFen != 0) {
		return Result{Code: ResultAccountNotEmpty}
	}
	if a.Flags&AccountNoFloor == 0 && a.BalanceFen-a.DebitsPendingFen < effectiveFloor(floor, u.Flags) {
		return Result{Code: ResultExceedsFloor}
	}
	m.saveAccount(i)
	a.Flags = u.Flags
	a.FloorFen = floor
	return Result{Code: ResultOK, ID: uint64(u.ID), Timestamp: a.Timestamp}
}

// ---- transfers ----

// transfer applies one transfer request at engine time now. On a refusal
// nothing changed.
func (m *machine) transfer(t *Transfer, now int64) Result {
	if code := validateTransferShape(t); code != ResultOK {
		return Result{Code: code}
	}
	fp := fingerprintOf(t)
	if e, ok := m.index.get(t.ID); ok {
		if e.fp != fp {
			return Result{Code: ResultIDExistsWithDifferentFields}
		}
		return Result{Code: ResultOK, Replayed: true, ID: uint64(t.ID), Timestamp: e.ts}
	}
	if t.Key != "" {
		if id, ok := m.keys[t.Key]; ok {
			e, _ := m.index.get(id)
			if e.fp != fp {
				return Result{Code: ResultKeyReusedWithDifferentFields}
			}
			return Result{Code: ResultOK, Replayed: true, ID: uint64(id), Timestamp: e.ts}
		}
	}
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		return m.resolvePending(t, fp, now)
	}
	return m.move(t, fp, now)
}

// validateTransferShape checks what needs no state.
func validateTransferShape(t *Transfer) Code {
	kinds := t.Flags & (TransferPending | TransferPostPending | TransferVoidPending)
	switch {
	case t.ID == 0:
		return ResultIDZero
	case t.Flags&^transferFlagsAll != 0 || kinds&(kinds-1) != 0:
		return ResultFlagsInvalid
	case len(t.Key) > MaxKeyLen:
		return ResultKeyInvalid
	case len(t.Metadata) > MaxMetadataBytes:
		return ResultMetadataTooLong
	}
	if kinds&(TransferPostPending|TransferVoidPending) != 0 {
		switch {
		case t.PendingID == 0:
			return ResultPendingIDInvalid
		case t.DebitAccount != 0 || t.CreditAccount != 0 || t.Currency != "" ||
			(kinds == TransferVoidPending && t.AmountFen != 0):
			return ResultPostVoidFieldSet
		case t.TimeoutSeconds != 0:
			return ResultTimeoutInvalid
		case kinds == TransferPostPending && t.AmountFen <= 0:
			return ResultAmountNotPositive
		}
		return ResultOK
	}
	switch {
	case t.PendingID != 0:
		return ResultPendingIDInvalid
	case t.AmountFen <= 0:
		return ResultAmountNotPositive
	case t.DebitAccount == t.CreditAccount:
		return ResultSameAccount
	case kinds == TransferPending && (t.TimeoutSeconds <= 0 || t.TimeoutSeconds > MaxTimeoutSeconds):
		return ResultTimeoutInvalid
	case kinds != TransferPending && t.TimeoutSeconds != 0:
		return ResultTimeoutInvalid
	case !validCurrency(t.Currency):
		return ResultCurrencyInvalid
	}
	return ResultOK
}

// move applies a single-phase or pending transfer.
func (m *machine) move(t *Transfer, fp fingerprint, now int64) Result {
	di, ok := m.accIdx.get(t.DebitAccount)
	if !ok {
		return Result{Code: ResultDebitAccountNotFound}
	}
	ci, ok := m.accIdx.get(t.CreditAccount)
	if !ok {
		return Result{Code: ResultCreditAccountNotFound}
	}
	d, c := &m.accs[di], &m.accs[ci]
	switch {
	case d.Currency != t.Currency || c.Currency != t.Currency:
		return Result{Code: ResultCurrencyMismatch}
	case d.Flags&AccountClosed != 0:
		return Result{Code: ResultDebitAccountClosed}
	case d.Flags&AccountFrozen != 0:
		return Result{Code: ResultDebitAccountFrozen}
	case c.Flags&AccountClosed != 0:
		return Result{Code: ResultCreditAccountClosed}
	}
	amount := t.AmountFen
	available := d.BalanceFen - d.DebitsPendingFen // cannot overflow: both within bounds checked below
	if d.Flags&AccountNoFloor == 0 {
		if available < effectiveFloor(d.FloorFen, d.Flags)+amount { // floor ≤ 0 < amount: no overflow
			return Result{Code: ResultExceedsFloor}
		}
	} else if available < math.MinInt64+amount || d.DebitsPendingFen > math.MaxInt64-amount {
		return Result{Code: ResultOverflow}
	}
	if c.BalanceFen > math.MaxInt64-amount || c.CreditsPendingFen > math.MaxInt64-amount ||
		d.DebitsPendingFen > math.MaxInt64-amount {
		return Result{Code: ResultOverflow}
	}
	m.saveAccount(di)
	m.saveAccount(ci)
	stored := *t
	stored.Metadata = slices.Clone(t.Metadata)
	stored.Timestamp = m.nextTs(now)
	if t.Flags&TransferPending != 0 {
		d.DebitsPendingFen += amount
		c.CreditsPendingFen += amount
		stored.State = StatePending
		p := &pend{id: t.ID, debit: di, credit: ci, amount: amount,
			expiresAt: expiryOf(stored.Timestamp, t.TimeoutSeconds)}
		m.addPending(p)
	} else {
		stored.State = StatePosted
		stored.CreditShareFen = m.post(d, c, amount)
	}
	m.record(&stored, fp)
	return Result{Code: ResultOK, ID: uint64(t.ID), Timestamp: stored.Timestamp}
}

// nsPerSecond converts TimeoutSeconds to timestamp units.
const nsPerSecond = int64(time.Second)

// expiryOf returns ts + timeout seconds in ns, saturating.
func expiryOf(ts, timeoutSeconds int64) int64 {
	if ts > 0 && timeoutSeconds > (math.MaxInt64-ts)/nsPerSecond {
		return math.MaxInt64
	}
	return ts + timeoutSeconds*nsPerSecond
}

// post moves amount of posted balance from d to c with its provenance and
// returns the credit-derived fen that moved (docs/ledger.md, "Provenance").
func (m *machine) post(d, c *Account, amount int64) int64 {
	share := debitShare(d, amount)
	d.BalanceFen -= amount
	d.CreditShareFen -= share.fromShare
	creditShare(c, amount, share.moved)
	c.BalanceFen += amount
	assertAccount(d)
	assertAccount(c)
	return share.moved
}

type shareMove struct {
	fromShare int64 // taken from d's existing credit-derived share
	moved     int64 // credit-derived fen leaving with the amount
}

// debitShare computes the provenance of amount leaving d: the part covered
// by d's positive balance carries d's share pro rata (rounded down); the
// part that takes the balance below zero is credit-derived if d has a floor
// (it is drawn on a credit line) and not if d is a no-floor issuance account.
func debitShare(d *Account, amount int64) shareMove {
	positive := max(d.BalanceFen, 0)
	covered := min(amount, positive)
	var s shareMove
	if covered == positive {
		s.fromShare = d.CreditShareFen
	} else {
		s.fromShare = money.MulRatioFloor(covered, d.CreditShareFen, positive)
	}
	s.moved = s.fromShare
	if d.Flags&AccountNoFloor == 0 {
		s.moved += amount - covered
	}
	return s
}

// creditShare adds the provenance of amount arriving at c: money first
// repays c's negative balance (its credit-derived part is absorbed by the
// debt), and the share of the rest lands pro rata (rounded down).
func creditShare(c *Account, amount, moved int64) {
	debt := max(-c.BalanceFen, 0)
	landed := amount - min(amount, debt)
	if landed == amount {
		c.CreditShareFen += moved
	} else {
		c.CreditShareFen += money.MulRatioFloor(landed, moved, amount)
	}
}

// resolvePending applies a post or void transfer.
func (m *machine) resolvePending(t *Transfer, fp fingerprint, now int64) Result {
	e, ok := m.index.get(t.PendingID)
	switch {
	case !ok:
		return Result{Code: ResultPendingNotFound}
	case e.flags&TransferPending == 0:
		return Result{Code: ResultNotPending}
	case e.state == StatePosted:
		return Result{Code: ResultPendingAlreadyPosted}
	case e.state == StateVoided:
		return Result{Code: ResultPendingAlreadyVoided}
	case e.state == StateExpired:
		return Result{Code: ResultPendingExpired}
	}
	p := m.pending[t.PendingID]
	d, c := &m.accs[p.debit], &m.accs[p.credit]
	post := t.Flags&TransferPostPending != 0
	if post {
		switch {
		case t.AmountFen > p.amount:
			return Result{Code: ResultPostAmountExceedsPending}
		case d.Flags&AccountClosed != 0:
			return Result{Code: ResultDebitAccountClosed}
		case d.Flags&AccountFrozen != 0:
			return Result{Code: ResultDebitAccountFrozen}
		case c.Flags&AccountClosed != 0:
			return Result{Code: ResultCreditAccountClosed}
		case c.BalanceFen > math.MaxInt64-t.AmountFen:
			return Result{Code: ResultOverflow}
		}
	}
	m.removePending(p)
	m.release(p)
	stored := *t
	stored.Metadata = slices.Clone(t.Metadata)
	stored.DebitAccount, stored.CreditAccount, stored.Currency = d.ID, c.ID, d.Currency
	stored.Timestamp = m.nextTs(now)
	newState := StateVoided
	if post {
		newState = StatePosted
		stored.State = StatePosted
		stored.CreditShareFen = m.post(d, c, t.AmountFen)
	} else {
		stored.AmountFen = p.amount
		stored.State = StateVoided
	}
	m.setState(t.PendingID, e, newState)
	m.record(&stored, fp)
	return Result{Code: ResultOK, ID: uint64(t.ID), Timestamp: stored.Timestamp}
}

func (m *machine) setState(id TransferID, old tEntry, state TransferState) {
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoState, id: id, entry: old})
	}
	e := old
	e.state = state
	m.index.put(id, e)
	m.rec.StateChanges = append(m.rec.StateChanges, StateChange{ID: id, State: state})
}

// record indexes a newly accepted transfer and adds it to the commit.
func (m *machine) record(t *Transfer, fp fingerprint) {
	m.index.put(t.ID, tEntry{fp: fp, ts: t.Timestamp, state: t.State, flags: t.Flags})
	if t.Key != "" {
		m.keys[t.Key] = t.ID
	}
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoIndex, id: t.ID, key: t.Key})
	}
	m.rec.Transfers = append(m.rec.Transfers, *t)
}

func (m *machine) addPending(p *pend) {
	m.pending[p.id] = p
	m.expiries.push(p)
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoPendAdd, p: p})
	}
}

func (m *machine) removePending(p *pend) {
	delete(m.pending, p.id)
	m.expiries.remove(p)
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoPendRemove, p: p})
	}
}

// ---- counters ----

func (m *machine) counter(cd *CounterDelta) Result {
	switch {
	case cd.Key == "" || len(cd.Key) > MaxKeyLen:
		return Result{Code: ResultKeyInvalid}
	case cd.MaxValue < 0:
		return Result{Code: ResultCounterInvalid}
	}
	old, existed := m.counters[cd.Key]
	if (cd.Delta > 0 && old > math.MaxInt64-cd.Delta) || (cd.Delta < 0 && old < math.MinInt64-cd.Delta) {
		return Result{Code: ResultOverflow}
	}
	v := old + cd.Delta
	if v > cd.MaxValue || v < 0 {
		return Result{Code: ResultCounterExceeded}
	}
	if m.inUnit {
		m.undo = append(m.undo, undoEntry{kind: undoCounter, key: cd.Key, ctrOld: old, ctrExisted: existed})
	}
	m.counters[cd.Key] = v
	m.ctrDirty[cd.Key] = struct{}{}
	return Result{Code: ResultOK}
}

// ---- all-or-none units ----

type undoKind uint8

const (
	undoAccount undoKind = iota + 1
	undoAccountCreate
	undoIndex
	undoState
	undoPendAdd
	undoPendRemove
	undoCounter
)

type undoEntry struct {
	kind       undoKind
	ctrExisted bool
	acc        int32
	id         TransferID
	key        string
	ctrOld     int64
	entry      tEntry
	p          *pend
	old        Account
}

type unitMark struct{ transfers, stateChanges int }

func (m *machine) beginUnit() {
	m.inUnit = true
	m.undo = m.undo[:0]
	m.unitMark = unitMark{len(m.rec.Transfers), len(m.rec.StateChanges)}
}

func (m *machine) commitUnit() { m.inUnit = false }

// rollbackUnit undoes everything since beginUnit, newest first.
func (m *machine) rollbackUnit() {
	for i := len(m.undo) - 1; i >= 0; i-- {
		u := &m.undo[i]
		switch u.kind {
		case undoAccount:
			m.accs[u.acc] = u.old
		case undoAccountCreate:
			m.accIdx.del(m.accs[u.acc].ID)
			m.accs = m.accs[:u.acc]
			m.dirty = m.dirty[:u.acc]
		case undoIndex:
			m.index.del(u.id)
			if u.key != "" {
				delete(m.keys, u.key)
			}
		case undoState:
			m.index.put(u.id, u.entry)
		case undoPendAdd:
			delete(m.pending, u.p.id)
			m.expiries.remove(u.p)
		case undoPendRemove:
			m.pending[u.p.id] = u.p
			m.expiries.push(u.p)
		case undoCounter:
			if u.ctrExisted {
				m.counters[u.key] = u.ctrOld
			} else {
				delete(m.counters, u.key)
			}
		}
		*u = undoEntry{}
	}
	m.undo = m.undo[:0]
	m.rec.Transfers = m.rec.Transfers[:m.unitMark.transfers]
	m.rec.StateChanges = m.rec.StateChanges[:m.unitMark.stateChanges]
	m.inUnit = false
}

// ---- batches and groups ----

// apply applies one batch at engine time now and returns its results. The
// changes join the current group's CommitRecord.
func (m *machine) apply(b *Batch, now int64) *BatchResult {
	m.expire(now)
	r := &BatchResult{
		Accounts:  make([]Result, len(b.Accounts)),
		Updates:   make([]Result, len(b.Updates)),
		Transfers: make([]Result, len(b.Transfers)),
		Counters:  make([]Result, len(b.Counters)),
	}
	if b.AllOrNone {
		m.applyAllOrNone(b, r, now)
		return r
	}
	for i := range b.Accounts {
		r.Accounts[i] = m.createAccount(&b.Accounts[i], now)
	}
	for i := range b.Updates {
		r.Updates[i] = m.updateAccount(&b.Updates[i])
	}
	m.applyTransfers(b.Transfers, r.Transfers, now)
	for i := range b.Counters {
		r.Counters[i] = m.counter(&b.Counters[i])
	}
	m.addRecords(b.Records)
	return r
}

// applyTransfers applies transfers, each alone or in its linked chain.
func (m *machine) applyTransfers(ts []Transfer, rs []Result, now int64) {
	for i := 0; i < len(ts); {
		end := i
		for end < len(ts) && ts[end].Flags&TransferLinked != 0 {
			end++
		}
		if end == i { // not linked: no undo needed, refusals change nothing
			rs[i] = m.transfer(&ts[i], now)
			i++
			continue
		}
		if end == len(ts) { // chain never closed
			failChain(rs, i, len(ts)-1, len(ts)-1, ResultLinkedChainOpen)
			return
		}
		m.beginUnit()
		failed := -1
		for j := i; j <= end; j++ {
			rs[j] = m.transfer(&ts[j], now)
			if rs[j].Code != ResultOK {
				failed = j
				break
			}
		}
		if failed >= 0 {
			m.rollbackUnit()
			failChain(rs, i, end, failed, rs[failed].Code)
		} else {
			m.commitUnit()
		}
		i = end + 1
	}
}

// failChain marks rs[from..to] as failed because member failed with code.
func failChain(rs []Result, from, to, failed int, code Code) {
	for j := from; j <= to; j++ {
		if j == failed {
			rs[j] = Result{Code: code}
		} else {
			rs[j] = Result{Code: ResultLinkedFailed, FailedIndex: failed, FailedCode: code}
		}
	}
}

func (m *machine) applyAllOrNone(b *Batch, r *BatchResult, now int64) {
	m.beginUnit()
	fail := func(part string, rs []Result, i int) {
		f := &Failure{Part: part, Index: i, Code: rs[i].Code}
		m.rollbackUnit()
		for _, p := range []struct {
			name string
			rs   []Result
		}{{"accounts", r.Accounts}, {"updates", r.Updates}, {"transfers", r.Transfers}, {"counters", r.Counters}} {
			for j := range p.rs {
				if p.name == part && j == i {
					p.rs[j] = Result{Code: f.Code}
					continue
				}
				p.rs[j] = Result{Code: ResultLinkedFailed, FailedIndex: i, FailedCode: f.Code}
			}
		}
		r.Failure = f
	}
	for i := range b.Accounts {
		if r.Accounts[i] = m.createAccount(&b.Accounts[i], now); r.Accounts[i].Code != ResultOK {
			fail("accounts", r.Accounts, i)
			return
		}
	}
	for i := range b.Updates {
		if r.Updates[i] = m.updateAccount(&b.Updates[i]); r.Updates[i].Code != ResultOK {
			fail("updates", r.Updates, i)
			return
		}
	}
	if n := len(b.Transfers); n > 0 && b.Transfers[n-1].Flags&TransferLinked != 0 {
		r.Transfers[n-1] = Result{Code: ResultLinkedChainOpen}
		fail("transfers", r.Transfers, n-1)
		return
	}
	for i := range b.Transfers {
		if r.Transfers[i] = m.transfer(&b.Transfers[i], now); r.Transfers[i].Code != ResultOK {
			fail("transfers", r.Transfers, i)
			return
		}
	}
	for i := range b.Counters {
		if r.Counters[i] = m.counter(&b.Counters[i]); r.Counters[i].Code != ResultOK {
			fail("counters", r.Counters, i)
			return
		}
	}
	m.commitUnit()
	m.addRecords(b.Records)
}

func (m *machine) addRecords(rs []Record) {
	for _, r := range rs {
		m.lastRecSeq++
		r.Seq = m.lastRecSeq
		r.Data = slices.Clone(r.Data)
		m.rec.Records = append(m.rec.Records, r)
	}
}

// finishGroup closes the current group: it returns its CommitRecord (nil
// when nothing changed) and starts the next group.
func (m *machine) finishGroup(now int64) *CommitRecord {
	rec := m.rec
	m.rec = CommitRecord{}
	if n := len(m.free); n > 0 {
		old := m.free[n-1]
		m.free = m.free[:n-1]
		m.rec.Transfers, m.rec.StateChanges = old.Transfers[:0], old.StateChanges[:0]
		rec.Accounts, rec.positions = old.Accounts[:0], old.positions[:0]
	}
	for _, i := range m.dirtyList {
		if int(i) < len(m.accs) && m.dirty[i] == m.group {
			rec.Accounts = append(rec.Accounts, m.accs[i])
			rec.positions = append(rec.positions, i)
			m.dirty[i] = 0 // a rolled-back and re-created account may be listed twice
		}
	}
	m.dirtyList = m.dirtyList[:0]
	m.group++
	assertLedger(m)
	if len(m.ctrDirty) > 0 {
		keys := make([]string, 0, len(m.ctrDirty))
		for k := range m.ctrDirty {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if v, ok := m.counters[k]; ok {
				rec.Counters = append(rec.Counters, Counter{Key: k, Value: v})
			}
		}
		clear(m.ctrDirty)
	}
	if len(rec.Accounts) == 0 && len(rec.Transfers) == 0 && len(rec.StateChanges) == 0 &&
		len(rec.Counters) == 0 && len(rec.Records) == 0 {
		return nil
	}
	m.lastSeq++
	rec.Seq = m.lastSeq

	rec.Timestamp = max(now, m.lastTs)
	for i := range rec.Records {
		rec.Records[i].CommitSeq = rec.Seq
	}
	return &rec
}

// recycle hands back a committed record so its slices can be reused (the
// store must not keep them; Store.Commit says so). nil is ignored.
func (m *machine) recycle(rec *CommitRecord) {
	if rec == nil || len(m.free) >= 2 {
		return
	}
	clear(rec.Transfers) // drop references to metadata and keys
	clear(rec.Accounts)
	m.free = append(m.free, rec)
}
