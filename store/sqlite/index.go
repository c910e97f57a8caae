package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ncruces/go-sqlite3"

	"github.com/paybridge/paybridge/ledger"
)

// indexer materialises the read tables from the journal on the writer
// connection. All its methods run with Store.wmu held.
// Rows per multi-row INSERT: one statement step per group instead of per row.
const (
	transferRowsPerInsert = 16
	transferColumns       = 14
)

type indexer struct {
	insTransfers                                            *sqlite3.Stmt // multi-row form
	w                                                       *sqlite3.Conn
	selCommits                                              *sqlite3.Stmt
	upAccount, insTransfer, upState, insPosting, setIndexed *sqlite3.Stmt
}

func newIndexer(w *sqlite3.Conn) (*indexer, error) {
	ix := &indexer{w: w}
	var err error
	prep := func(q string) *sqlite3.Stmt {
		if err != nil {
			return nil
		}
		var st *sqlite3.Stmt
		st, _, err = w.Prepare(q)
		return st
	}
	ix.selCommits = prep(`SELECT seq, body FROM commits WHERE seq > ? ORDER BY seq`)
	ix.upAccount = prep(`INSERT OR REPLACE INTO accounts(id, holder, institution, product, currency, floor_fen, flags,
		balance_fen, debits_pending_fen, credits_pending_fen, credit_share_fen, timestamp) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`)
	const insTransfer = `INSERT INTO transfers(timestamp, id, key, debit_account, credit_account, amount_fen, currency,
		code, flags, pending_id, timeout_seconds, metadata, state, credit_share_fen) VALUES`
	ix.insTransfer = prep(insTransfer + valuesList(1, transferColumns))
	ix.insTransfers = prep(insTransfer + valuesList(transferRowsPerInsert, transferColumns))
	ix.upState = prep(`UPDATE transfers SET state = ? WHERE id = ?`)
	ix.insPosting = prep(`INSERT INTO postings(account, last_ts, first_ts, n, ts) VALUES(?,?,?,?,?)`)
	ix.setIndexed = prep(`UPDATE meta SET value = ? WHERE name = 'indexed_seq'`)
	return ix, err
}

func (ix *indexer) close() error {
	var errs []error
	for _, st := range []*sqlite3.Stmt{ix.selCommits, ix.upAccount, ix.insTransfer, ix.insTransfers, ix.upState, ix.insPosting, ix.setIndexed} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// chunk is the decoded content of consecutive commits, folded: the last
// state of each account, all transfers (with state changes inside the chunk
// already applied) and the state changes to transfers of earlier chunks.
type chunk struct {
	lastSeq  uint64
	accounts map[ledger.AccountID]ledger.Account
	tr       []ledger.Transfer
	pos      map[ledger.TransferID]int
	outside  []ledger.StateChange
	items    int
}

// readChunk decodes commits after seq until about maxItems accounts,
// transfers and state changes.
func (ix *indexer) readChunk(after uint64, maxItems int) (*chunk, error) {
	st := ix.selCommits
	defer st.Reset()
	st.BindInt64(1, int64(after))
	ch := &chunk{lastSeq: after, accounts: map[ledger.AccountID]ledger.Account{}, pos: map[ledger.TransferID]int{}}
	for ch.items < maxItems && st.Step() {
		seq := uint64(st.ColumnInt64(0))
		c, err := decodeCommit(st.ColumnRawBlob(1))
		if err != nil {
			return nil, fmt.Errorf("journal commit %d: %w", seq, err)
		}
		ch.add(c)
		ch.lastSeq = seq
	}
	return ch, st.Err()
}

func (ch *chunk) add(c *ledger.CommitRecord) {
	ch.items += len(c.Accounts) + len(c.Transfers) + len(c.StateChanges)
	for _, a := range c.Accounts {
		ch.accounts[a.ID] = a
	}
	for _, t := range c.Transfers {
		ch.pos[t.ID] = len(ch.tr)
		ch.tr = append(ch.tr, t)
	}
	for _, sc := range c.StateChanges {
		if i, ok := ch.pos[sc.ID]; ok {
			ch.tr[i].State = sc.State
		} else {
			ch.outside = append(ch.outside, sc)
		}
	}
}

// materialise writes one chunk of about maxItems items of the journal after
// indexed into the read tables in one transaction and returns the new watermark.
func (ix *indexer) materialise(indexed uint64, maxItems int) (uint64, error) {
	ch, err := ix.readChunk(indexed, maxItems)
	if err != nil || ch.lastSeq == indexed {
		return indexed, err
	}
	if err := ix.w.Exec(`BEGIN IMMEDIATE`); err != nil {
		return indexed, err
	}
	if err := ix.write(ch); err != nil {
		if !ix.w.GetAutocommit() {
			err = errors.Join(err, ix.w.Exec(`ROLLBACK`))
		}
		return indexed, err
	}
	if err := ix.w.Exec(`COMMIT`); err != nil {
		if !ix.w.GetAutocommit() {
			err = errors.Join(err, ix.w.Exec(`ROLLBACK`))
		}
		return indexed, err
	}
	return ch.lastSeq, nil
}

func (ix *indexer) write(ch *chunk) error {
	ids := make([]ledger.AccountID, 0, len(ch.accounts))
	for id := range ch.accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if err := ix.writeAccount(ch.accounts[id]); err != nil {
			return fmt.Errorf("account %d: %w", id, err)
		}
	}
	i := 0
	for ; i+transferRowsPerInsert <= len(ch.tr); i += transferRowsPerInsert {
		for j := 0; j < transferRowsPerInsert; j++ {
			bindTransfer(ix.insTransfers, j*transferColumns, &ch.tr[i+j])
		}
		if err := ix.insTransfers.Exec(); err != nil {
			return fmt.Errorf("transfers %d…%d: %w", ch.tr[i].ID, ch.tr[i+transferRowsPerInsert-1].ID, err)
		}
	}
	for ; i < len(ch.tr); i++ {
		bindTransfer(ix.insTransfer, 0, &ch.tr[i])
		if err := ix.insTransfer.Exec(); err != nil {
			return fmt.Errorf("transfer %d: %w", ch.tr[i].ID, err)
		}
	}
	for _, sc := range ch.outside {
		ix.upState.BindInt64(1, int64(sc.State))
		ix.upState.BindInt64(2, int64(sc.ID))
		if err := ix.upState.Exec(); err != nil {
			return fmt.Errorf("state of transfer %d: %w", sc.ID, err)
		}
	}
	if err := ix.writePostings(ch.tr); err != nil {
		return err
	}
	ix.setIndexed.BindInt64(1, int64(ch.lastSeq))
	return ix.setIndexed.Exec()
}

func (ix *indexer) writeAccount(a ledger.Account) error {
	st := ix.upAccount
	st.BindInt64(1, int64(a.ID))
	st.BindText(2, a.Holder)
	st.BindText(3, a.Institution)
	st.BindText(4, a.Product)
	st.BindText(5, a.Currency)
	st.BindInt64(6, a.FloorFen)
	st.BindInt64(7, int64(a.Flags))
	st.BindInt64(8, a.BalanceFen)
	st.BindInt64(9, a.DebitsPendingFen)
	st.BindInt64(10, a.CreditsPendingFen)
	st.BindInt64(11, a.CreditShareFen)
	st.BindInt64(12, a.Timestamp)
	return st.Exec()
}

// bindTransfer binds t to parameters base+1 … base+transferColumns of st.
func bindTransfer(st *sqlite3.Stmt, base int, t *ledger.Transfer) {
	st.BindInt64(base+1, t.Timestamp)
	st.BindInt64(base+2, int64(t.ID))
	if t.Key == "" {
		st.BindNull(base + 3)
	} else {
		st.BindText(base+3, t.Key)
	}
	st.BindInt64(base+4, int64(t.DebitAccount))
	st.BindInt64(base+5, int64(t.CreditAccount))
	st.BindInt64(base+6, t.AmountFen)
	st.BindText(base+7, t.Currency)
	st.BindInt64(base+8, int64(t.Code))
	st.BindInt64(base+9, int64(t.Flags))
	st.BindInt64(base+10, int64(t.PendingID))
	st.BindInt64(base+11, t.TimeoutSeconds)
	if len(t.Metadata) == 0 {
		st.BindNull(base + 12)
	} else {
		st.BindBlob(base+12, t.Metadata)
	}
	st.BindInt64(base+13, int64(t.State))
	st.BindInt64(base+14, t.CreditShareFen)
}

// valuesList returns "(?,…,?),…" for rows rows of cols columns.
func valuesList(rows, cols int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

// writePostings writes the chunk's account history: for each account, one
// row holding the timestamps of every transfer of the chunk that debits or
// credits it. Chunks are materialised in commit order, so an account's rows
// cover increasing, disjoint timestamp ranges.
func (ix *indexer) writePostings(tr []ledger.Transfer) error {
	type leg struct {
		account ledger.AccountID
		ts      int64
	}
	legs := make([]leg, 0, 2*len(tr))
	for i := range tr {
		legs = append(legs, leg{tr[i].DebitAccount, tr[i].Timestamp})
		if tr[i].CreditAccount != tr[i].DebitAccount {
			legs = append(legs, leg{tr[i].CreditAccount, tr[i].Timestamp})
		}
	}
	slices.SortFunc(legs, func(a, b leg) int {
		if a.account != b.account {
			return cmpU64(uint64(a.account), uint64(b.account))
		}
		return cmpI64(a.ts, b.ts)
	})
	var blob []byte
	for i := 0; i < len(legs); {
		j := i
		blob = blob[:0]
		for ; j < len(legs) && legs[j].account == legs[i].account; j++ {
			prev := legs[i].ts
			if j > i {
				prev = legs[j-1].ts
			}
			blob = binary.AppendUvarint(blob, uint64(legs[j].ts-prev))
		}
		st := ix.insPosting
		st.BindInt64(1, int64(legs[i].account))
		st.BindInt64(2, legs[j-1].ts)
		st.BindInt64(3, legs[i].ts)
		st.BindInt64(4, int64(j-i))
		st.BindBlob(5, blob)
		if err := st.Exec(); err != nil {
			return fmt.Errorf("postings of account %d: %w", legs[i].account, err)
		}
		i = j
	}
	return nil
}

// decodePostings appends to dst the timestamps of a postings row.
func decodePostings(dst []int64, firstTS int64, n int, blob []byte) ([]int64, error) {
	ts := firstTS
	for k := 0; k < n; k++ {
		d, m := binary.Uvarint(blob)
		if m <= 0 || d > 1<<62 {
			return dst, fmt.Errorf("%w: bad postings row", ErrCorrupt)
		}
		blob = blob[m:]
		ts += int64(d)
		dst = append(dst, ts)
	}
	return dst, nil
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpI64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// catchUp brings the read tables up to the commit that was the last one
// when it was called. It holds wmu for one chunk at a time, so commits
// interleave with a long catch-up instead of waiting for all of it.
func (s *Store) catchUp() error {
	s.wmu.Lock()
	target := s.lastSeq
	s.wmu.Unlock()
	for {
		s.wmu.Lock()
		done, err := s.catchUpChunk(target)
		s.wmu.Unlock()
		if err != nil || done {
			return err
		}
	}
}

// catchUpChunk materialises one chunk if the read tables are behind target
// and reports whether they have reached it. Called with wmu held.
func (s *Store) catchUpChunk(target uint64) (bool, error) {
	if s.w == nil {
		return false, ledger.ErrStoreClosed
	}
	if s.indexedSeq >= target {
		return true, nil
	}
	next, err := s.ix.materialise(s.indexedSeq, readChunkItems)
	if err != nil {
		return false, fmt.Errorf("sqlite store: materialise read tables after commit %d: %w", s.indexedSeq, err)
	}
	if next == s.indexedSeq {
		return false, fmt.Errorf("sqlite store: journal ends at commit %d, expected %d: %w", next, target, ErrCorrupt)
	}
	s.indexedSeq = next
	return next >= target, nil
}

// Index brings the read tables (accounts, transfers, postings) up to the last
// commit now, rather than lazily.
func (s *Store) Index() error { return s.catchUp() }

// idleIndexLoop materialises one chunk at a time while the writer is idle.
func (s *Store) idleIndexLoop(idle time.Duration) {
	if idle < 0 {
		<-s.stop
		return
	}
	t := time.NewTicker(idle / 2)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.wmu.Lock()
		if s.w != nil && s.indexedSeq < s.lastSeq && time.Since(s.lastCommitAt) >= idle {
			if next, err := s.ix.materialise(s.indexedSeq, readChunkItems); err == nil {
				s.indexedSeq = next
			}
			// An error here is reported by the next read, which retries.
		}
		s.wmu.Unlock()
	}
}
