package ledger

import (
	"bytes"
	"maps"
	"slices"

	"github.com/paybridge/paybridge/money"
)

// model is the reference ledger for property tests: plain maps, whole-state
// copies for all-or-none units, exact field comparison for idempotency and
// a linear scan for expiry. It shares only the stateless validation
// functions with the engine.
type model struct {
	accounts  map[AccountID]Account
	order     []AccountID
	transfers map[TransferID]Transfer
	keys      map[string]TransferID
	counters  map[string]int64
	records   []Record
	lastTs    int64 // never rolled back, as in the engine
	recSeq    uint64
}

func newModel() *model {
	return &model{
		accounts:  map[AccountID]Account{},
		transfers: map[TransferID]Transfer{},
		keys:      map[string]TransferID{},
		counters:  map[string]int64{},
	}
}

// snapshot is a deep-enough copy (Account and Transfer are values).
func (m *model) snapshot() *model {
	c := *m
	c.accounts = maps.Clone(m.accounts)
	c.order = append([]AccountID(nil), m.order...)
	c.transfers = maps.Clone(m.transfers)
	c.keys = maps.Clone(m.keys)
	c.counters = maps.Clone(m.counters)
	return &c
}

func (m *model) restore(s *model) {
	last := m.lastTs
	*m = *s
	m.lastTs = last
}

func (m *model) ts(now int64) int64 {
	m.lastTs = max(now, m.lastTs+1)
	return m.lastTs
}

func (m *model) expire(now int64) {
	for id, t := range m.transfers {
		if t.Flags&TransferPending != 0 && t.State == StatePending && expiryOf(t.Timestamp, t.TimeoutSeconds) <= now {
			t.State = StateExpired
			m.transfers[id] = t
			m.release(t)
		}
	}
}

func (m *model) release(p Transfer) {
	d, c := m.accounts[p.DebitAccount], m.accounts[p.CreditAccount]
	d.DebitsPendingFen -= p.AmountFen
	c.CreditsPendingFen -= p.AmountFen
	m.accounts[d.ID], m.accounts[c.ID] = d, c
}

func (m *model) createAccount(a Account, now int64) Result {
	if code := validateAccount(&a); code != ResultOK {
		return Result{Code: code}
	}
	if old, ok := m.accounts[a.ID]; ok {
		if old.Holder != a.Holder || old.Institution != a.Institution || old.Product != a.Product ||
			old.Currency != a.Currency || old.Flags&AccountNoFloor != a.Flags&AccountNoFloor {
			return Result{Code: ResultAccountExistsWithDifferentFields}
		}
		return Result{Code: ResultOK, Replayed: true, ID: uint64(a.ID), Timestamp: old.Timestamp}
	}
	n := Account{ID: a.ID, Holder: a.Holder, Institution: a.Institution, Product: a.Product,
		Currency: a.Currency, FloorFen: a.FloorFen, Flags: a.Flags, Timestamp: m.ts(now)}
	m.accounts[a.ID] = n
	m.order = append(m.order, a.ID)
	return Result{Code: ResultOK, ID: uint64(a.ID), Timestamp: n.Timestamp}
}

func (m *model) update(u AccountUpdate) Result {
	a, ok := m.accounts[u.ID]
	if !ok {
		if u.ID == 0 {
			return Result{Code: ResultIDZero}
		}
		return Result{Code: ResultAccountNotFound}
	}
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
	eff := floor
	if u.Flags&AccountDebitsMustNotExceedCredits != 0 && eff < 0 {
		eff = 0
	}
	if a.Flags&AccountNoFloor == 0 && a.BalanceFen-a.DebitsPendingFen < eff {
		return Result{Code: ResultExceedsFloor}
	}
	a.Flags, a.FloorFen = u.Flags, floor
	m.accounts[u.ID] = a
	return Result{Code: ResultOK, ID: uint64(u.ID), Timestamp: a.Timestamp}
}

// sameRequest compares a request with the stored transfer it may repeat.
func sameRequest(stored Transfer, req *Transfer) bool {
	if stored.Key != req.Key || stored.Code != req.Code || stored.Flags&^TransferLinked != req.Flags&^TransferLinked ||
		stored.PendingID != req.PendingID || stored.TimeoutSeconds != req.TimeoutSeconds ||
		!bytes.Equal(stored.Metadata, req.Metadata) {
		return false
	}
	switch {
	case req.Flags&TransferVoidPending != 0:
		return req.AmountFen == 0 && req.DebitAccount == 0 && req.CreditAccount == 0 && req.Currency == ""
	case req.Flags&TransferPostPending != 0:
		return req.AmountFen == stored.AmountFen && req.DebitAccount == 0 && req.CreditAccount == 0 && req.Currency == ""
	}
	return stored.DebitAccount == req.DebitAccount && stored.CreditAccount == req.CreditAccount &&
		stored.AmountFen == req.AmountFen && stored.Currency == req.Currency
}

func (m *model) transfer(t Transfer, now int64) Result {
	if code := validateTransferShape(&t); code != ResultOK {
		return Result{Code: code}
	}
	if s, ok := m.transfers[t.ID]; ok {
		if !sameRequest(s, &t) {
			return Result{Code: ResultIDExistsWithDifferentFields}
		}
		return Result{Code: ResultOK, Replayed: true, ID: uint64(t.ID), Timestamp: s.Timestamp}
	}
	if t.Key != "" {
		if id, ok := m.keys[t.Key]; ok {
			if !sameRequest(m.transfers[id], &t) {
				return Result{Code: ResultKeyReusedWithDifferentFields}
			}
			return Result{Code: ResultOK, Replayed: true, ID: uint64(id), Timestamp: m.transfers[id].Timestamp}
		}
	}
	stored := t
	stored.Flags = t.Flags
	if t.Flags&(TransferPostPending|TransferVoidPending) != 0 {
		p, ok := m.transfers[t.PendingID]
		switch {
		case !ok:
			return Result{Code: ResultPendingNotFound}
		case p.Flags&TransferPending == 0:
			return Result{Code: ResultNotPending}
		case p.State == StatePosted:
			return Result{Code: ResultPendingAlreadyPosted}
		case p.State == StateVoided:
			return Result{Code: ResultPendingAlreadyVoided}
		case p.State == StateExpired:
			return Result{Code: ResultPendingExpired}
		}
		d, c := m.accounts[p.DebitAccount], m.accounts[p.CreditAccount]
		post := t.Flags&TransferPostPending != 0
		if post {
			switch {
			case t.AmountFen > p.AmountFen:
				return Result{Code: ResultPostAmountExceedsPending}
			case d.Flags&AccountClosed != 0:
				return Result{Code: ResultDebitAccountClosed}
			case d.Flags&AccountFrozen != 0:
				return Result{Code: ResultDebitAccountFrozen}
			case c.Flags&AccountClosed != 0:
				return Result{Code: ResultCreditAccountClosed}
			}
		}
		m.release(p)
		stored.DebitAccount, stored.CreditAccount, stored.Currency = p.DebitAccount, p.CreditAccount, p.Currency
		stored.Timestamp = m.ts(now)
		if post {
			p.State = StatePosted
			stored.State = StatePosted
			stored.CreditShareFen = m.post(p.DebitAccount, p.CreditAccount, t.AmountFen)
		} else {
			p.State = StateVoided
			stored.State = StateVoided
			stored.AmountFen = p.AmountFen
		}
		m.transfers[p.ID] = p
		m.store(stored)
		return Result{Code: ResultOK, ID: uint64(t.ID), Timestamp: stored.Timestamp}
	}
	d, ok := m.accounts[t.DebitAccount]
	if !ok {
		return Result{Code: ResultDebitAccountNotFound}
	}
	c, ok := m.accounts[t.CreditAccount]
	if !ok {
		return Result{Code: ResultCreditAccountNotFound}
	}
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
	floor := d.FloorFen
	if d.Flags&AccountDebitsMustNotExceedCredits != 0 && floor < 0 {
		floor = 0
	}
	if d.Flags&AccountNoFloor == 0 && d.BalanceFen-d.DebitsPendingFen-t.AmountFen < floor {
		return Result{Code: ResultExceedsFloor}
	}
	stored.Timestamp = m.ts(now)
	if t.Flags&TransferPending != 0 {
		d.DebitsPendingFen += t.AmountFen
		c.CreditsPendingFen += t.AmountFen
		m.accounts[d.ID], m.accounts[c.ID] = d, c
		stored.State = StatePending
	} else {
		stored.State = StatePosted
		stored.CreditShareFen = m.post(d.ID, c.ID, t.AmountFen)
	}
	m.store(stored)
	return Result{Code: ResultOK, ID: uint64(t.ID), Timestamp: stored.Timestamp}
}

func (m *model) store(t Transfer) {
	t.Metadata = bytes.Clone(t.Metadata)
	m.transfers[t.ID] = t
	if t.Key != "" {
		m.keys[t.Key] = t.ID
	}
}

// post moves posted money with provenance as docs/ledger.md defines it.
func (m *model) post(debit, credit AccountID, amount int64) int64 {
	d, c := m.accounts[debit], m.accounts[credit]
	positive := max(d.BalanceFen, 0)
	covered := min(amount, positive)
	var from int64
	if covered == positive {
		from = d.CreditShareFen
	} else {
		from = money.MulRatioFloor(covered, d.CreditShareFen, positive)
	}
	moved := from
	if d.Flags&AccountNoFloor == 0 {
		moved += amount - covered
	}
	landed := amount - min(amount, max(-c.BalanceFen, 0))
	if landed == amount {
		c.CreditShareFen += moved
	} else {
		c.CreditShareFen += money.MulRatioFloor(landed, moved, amount)
	}
	d.BalanceFen -= amount
	d.CreditShareFen -= from
	c.BalanceFen += amount
	m.accounts[debit], m.accounts[credit] = d, c
	return moved
}

func (m *model) counter(cd CounterDelta) Result {
	switch {
	case cd.Key == "" || len(cd.Key) > MaxKeyLen:
		return Result{Code: ResultKeyInvalid}
	case cd.MaxValue < 0:
		return Result{Code: ResultCounterInvalid}
	}
	v := m.counters[cd.Key] + cd.Delta
	if v > cd.MaxValue || v < 0 {
		return Result{Code: ResultCounterExceeded}
	}
	m.counters[cd.Key] = v
	return Result{Code: ResultOK}
}

func (m *model) addRecords(rs []Record) {
	for _, r := range rs {
		m.recSeq++
		r.Seq = m.recSeq
		m.records = append(m.records, r)
	}
}

func (m *model) apply(b *Batch, now int64) *BatchResult {
	m.expire(now)
	r := &BatchResult{
		Accounts: make([]Result, len(b.Accounts)), Updates: make([]Result, len(b.Updates)),
		Transfers: make([]Result, len(b.Transfers)), Counters: make([]Result, len(b.Counters)),
	}
	if b.AllOrNone {
		m.applyAllOrNone(b, r, now)
		return r
	}
	for i, a := range b.Accounts {
		r.Accounts[i] = m.createAccount(a, now)
	}
	for i, u := range b.Updates {
		r.Updates[i] = m.update(u)
	}
	for i := 0; i < len(b.Transfers); {
		end := i
		for end < len(b.Transfers) && b.Transfers[end].Flags&TransferLinked != 0 {
			end++
		}
		if end == len(b.Transfers) && end > i {
			failChain(r.Transfers, i, end-1, end-1, ResultLinkedChainOpen)
			break
		}
		var snap *model
		if end > i {
			snap = m.snapshot()
		}
		failed := -1
		for j := i; j <= end; j++ {
			r.Transfers[j] = m.transfer(b.Transfers[j], now)
			if r.Transfers[j].Code != ResultOK {
				failed = j
				break
			}
		}
		if failed >= 0 && end > i {
			m.restore(snap)
			failChain(r.Transfers, i, end, failed, r.Transfers[failed].Code)
		}
		i = end + 1
	}
	for i, cd := range b.Counters {
		r.Counters[i] = m.counter(cd)
	}
	m.addRecords(b.Records)
	return r
}

func (m *model) applyAllOrNone(b *Batch, r *BatchResult, now int64) {
	snap := m.snapshot()
	fail := func(part string, i int, code Code) {
		m.restore(snap)
		parts := map[string][]Result{"accounts": r.Accounts, "updates": r.Updates, "transfers": r.Transfers, "counters": r.Counters}
		for name, rs := range parts {
			for j := range rs {
				if name == part && j == i {
					rs[j] = Result{Code: code}
				} else {
					rs[j] = Result{Code: ResultLinkedFailed, FailedIndex: i, FailedCode: code}
				}
			}
		}
		r.Failure = &Failure{Part: part, Index: i, Code: code}
	}
	for i, a := range b.Accounts {
		if x := m.createAccount(a, now); x.Code != ResultOK {
			fail("accounts", i, x.Code)
			return
		} else {
			r.Accounts[i] = x
		}
	}
	for i, u := range b.Updates {
		if x := m.update(u); x.Code != ResultOK {
			fail("updates", i, x.Code)
			return
		} else {
			r.Updates[i] = x
		}
	}
	if n := len(b.Transfers); n > 0 && b.Transfers[n-1].Flags&TransferLinked != 0 {
		fail("transfers", n-1, ResultLinkedChainOpen)
		return
	}
	for i, t := range b.Transfers {
		if x := m.transfer(t, now); x.Code != ResultOK {
			fail("transfers", i, x.Code)
			return
		} else {
			r.Transfers[i] = x
		}
	}
	for i, cd := range b.Counters {
		if x := m.counter(cd); x.Code != ResultOK {
			fail("counters", i, x.Code)
			return
		} else {
			r.Counters[i] = x
		}
	}
	m.addRecords(b.Records)
}

// pendingIDs returns the ids of pending transfers (in any state), sorted.
func (m *model) pendingIDs() []TransferID {
	var ids []TransferID
	for id, t := range m.transfers {
		if t.Flags&TransferPending != 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
