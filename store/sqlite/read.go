package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paybridge/paybridge/ledger"
)

const transferCols = `timestamp, id, key, debit_account, credit_account, amount_fen, currency, code, flags,
	pending_id, timeout_seconds, metadata, state, credit_share_fen`

// readReady brings the read tables up to date, so a read sees every commit
// that returned before it started.
func (s *Store) readReady() error { return s.catchUp() }

type scanner interface{ Scan(dest ...any) error }

func scanTransfer(r scanner) (ledger.Transfer, error) {
	var t ledger.Transfer
	var key sql.NullString
	var id, debit, credit, code, flags, pending, state int64
	err := r.Scan(&t.Timestamp, &id, &key, &debit, &credit, &t.AmountFen, &t.Currency, &code, &flags,
		&pending, &t.TimeoutSeconds, &t.Metadata, &state, &t.CreditShareFen)
	t.ID, t.Key, t.DebitAccount, t.CreditAccount = ledger.TransferID(id), key.String, ledger.AccountID(debit), ledger.AccountID(credit)
	t.Code, t.Flags, t.PendingID, t.State = uint16(code), ledger.TransferFlags(flags), ledger.TransferID(pending), ledger.TransferState(state)
	if len(t.Metadata) == 0 {
		t.Metadata = nil
	}
	return t, err
}

func (s *Store) oneTransfer(ctx context.Context, what, where string, arg any) (ledger.Transfer, error) {
	if err := s.readReady(); err != nil {
		return ledger.Transfer{}, err
	}
	t, err := scanTransfer(s.rd.QueryRowContext(ctx, `SELECT `+transferCols+` FROM transfers WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return ledger.Transfer{}, fmt.Errorf("%s: %w", what, ledger.ErrNotFound)
	}
	if err != nil {
		return ledger.Transfer{}, fmt.Errorf("sqlite store: read %s: %w", what, err)
	}
	return t, nil
}

// Transfer returns the committed transfer id. See ledger.Store.
func (s *Store) Transfer(ctx context.Context, id ledger.TransferID) (ledger.Transfer, error) {
	return s.oneTransfer(ctx, fmt.Sprintf("transfer %d", id), "id = ?", int64(id))
}

// TransferByKey returns the committed transfer with idempotency key key. See ledger.Store.
func (s *Store) TransferByKey(ctx context.Context, key string) (ledger.Transfer, error) {
	if key == "" {
		return ledger.Transfer{}, fmt.Errorf("transfer key %q: %w", key, ledger.ErrNotFound)
	}
	return s.oneTransfer(ctx, fmt.Sprintf("transfer key %q", key), "key = ?", key)
}

// Records returns records of kind (all kinds if "") with Seq > after. See ledger.Store.
func (s *Store) Records(ctx context.Context, kind string, after uint64, limit int) ([]ledger.Record, error) {
	if s.isClosed() {
		return nil, ledger.ErrStoreClosed
	}
	limit = min(max(limit, 1), ledger.MaxHistoryPage)
	q := `SELECT seq, commit_seq, kind, key, data FROM records WHERE seq > ? ORDER BY seq LIMIT ?`
	args := []any{int64(after), limit}
	if kind != "" {
		q = `SELECT seq, commit_seq, kind, key, data FROM records WHERE kind = ? AND seq > ? ORDER BY seq LIMIT ?`
		args = []any{kind, int64(after), limit}
	}
	return s.queryRecords(ctx, q, args)
}

// KeyRecords returns records of kind whose key is one of keys, with Seq >
// after. See ledger.Store.
func (s *Store) KeyRecords(ctx context.Context, kind string, keys []string, after uint64, limit int) ([]ledger.Record, error) {
	if s.isClosed() {
		return nil, ledger.ErrStoreClosed
	}
	limit = min(max(limit, 1), ledger.MaxHistoryPage)
	if len(keys) == 0 {
		return nil, nil
	}
	args := make([]any, 0, len(keys)+3)
	args = append(args, kind)
	for _, k := range keys {
		args = append(args, k)
	}
	args = append(args, int64(after), limit)
	return s.queryRecords(ctx, keyRecordsSQL(len(keys)), args)
}

// keyRecordsSQL is KeyRecords' query for n keys. "+kind" keeps SQLite from
// scanning records_kind for the kind: rows are found by key (records_key).
func keyRecordsSQL(n int) string {
	var q strings.Builder
	q.WriteString(`SELECT seq, commit_seq, kind, key, data FROM records WHERE +kind = ? AND key IN (?`)
	for range n - 1 {
		q.WriteString(`,?`)
	}
	q.WriteString(`) AND seq > ? ORDER BY seq LIMIT ?`)
	return q.String()
}

func (s *Store) queryRecords(ctx context.Context, q string, args []any) ([]ledger.Record, error) {
	rows, err := s.rd.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite store: records: %w", err)
	}
	defer rows.Close()
	var out []ledger.Record
	for rows.Next() {
		var r ledger.Record
		var seq, commitSeq int64
		if err := rows.Scan(&seq, &commitSeq, &r.Kind, &r.Key, &r.Data); err != nil {
			return nil, fmt.Errorf("sqlite store: records: %w", err)
		}
		r.Seq, r.CommitSeq = uint64(seq), uint64(commitSeq)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite store: records: %w", err)
	}
	return out, nil
}

// isClosed reports whether Close has begun (without waiting for a commit
// in flight, as taking wmu would).
func (s *Store) isClosed() bool { return s.closed.Load() }

// Load replays the journal, checking its hash chain, and visits the final
// state: accounts in id order, transfers in Timestamp order, counters in key
// order. See ledger.Store.
func (s *Store) Load(ctx context.Context, v ledger.Visitor) (ledger.Meta, error) {
	st, err := s.Replay(ctx)
	if err != nil {
		return ledger.Meta{}, err
	}
	for _, id := range st.AccountIDs() {
		if err := v.VisitAccount(st.Accounts[id]); err != nil {
			return ledger.Meta{}, err
		}
	}
	for _, t := range st.Transfers {
		if err := v.VisitTransfer(t); err != nil {
			return ledger.Meta{}, err
		}
	}
	keys := make([]string, 0, len(st.Counters))
	for k := range st.Counters {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := v.VisitCounter(ledger.Counter{Key: k, Value: st.Counters[k]}); err != nil {
			return ledger.Meta{}, err
		}
	}
	return st.Meta, ctx.Err()
}

// State is the whole committed state rebuilt from the journal.
type State struct {
	Meta      ledger.Meta
	Accounts  map[ledger.AccountID]ledger.Account
	Transfers []ledger.Transfer // in Timestamp order, with current State
	Counters  map[string]int64
	// Commits is the number of journal entries replayed.
	Commits int
}

// AccountIDs returns the ids of st.Accounts in increasing order.
func (st *State) AccountIDs() []ledger.AccountID {
	ids := make([]ledger.AccountID, 0, len(st.Accounts))
	for id := range st.Accounts {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Replay reads the whole journal in one read transaction, checks that its
// sequence numbers are contiguous and its hash chain intact, and folds it
// into the final state. Errors wrap ErrCorrupt for a damaged journal.
func (s *Store) Replay(ctx context.Context) (*State, error) {
	if s.isClosed() {
		return nil, ledger.ErrStoreClosed
	}
	tx, err := s.rd.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("sqlite store: load: %w", err)
	}
	defer tx.Rollback()
	st := &State{Accounts: map[ledger.AccountID]ledger.Account{}, Counters: map[string]int64{}}
	if err := replayCommits(ctx, tx, st); err != nil {
		return nil, err
	}
	var lastRec sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM records`).Scan(&lastRec); err != nil {
		return nil, fmt.Errorf("sqlite store: load records: %w", err)
	}
	st.Meta.LastRecordSeq = uint64(lastRec.Int64)
	return st, nil
}

func replayCommits(ctx context.Context, tx *sql.Tx, st *State) error {
	rows, err := tx.QueryContext(ctx, `SELECT seq, hash, body FROM commits ORDER BY seq`)
	if err != nil {
		return fmt.Errorf("sqlite store: load: %w", err)
	}
	defer rows.Close()
	pos := map[ledger.TransferID]int{}
	var prev [32]byte
	var seq int64
	var hash, body sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&seq, &hash, &body); err != nil {
			return fmt.Errorf("sqlite store: load: %w", err)
		}
		if uint64(seq) != st.Meta.LastCommitSeq+1 {
			return fmt.Errorf("sqlite store: journal commit %d follows %d: %w", seq, st.Meta.LastCommitSeq, ErrCorrupt)
		}
		sum := chainHash(prev, body)
		if string(sum[:]) != string(hash) {
			return fmt.Errorf("sqlite store: journal commit %d: hash chain broken: %w", seq, ErrCorrupt)
		}
		c, err := decodeCommit(body)
		if err != nil {
			return fmt.Errorf("sqlite store: journal commit %d: %w", seq, err)
		}
		if c.Seq != uint64(seq) {
			return fmt.Errorf("sqlite store: journal row %d holds commit %d: %w", seq, c.Seq, ErrCorrupt)
		}
		st.apply(c, pos)
		prev, st.Meta.LastCommitSeq = sum, uint64(seq)
		st.Commits++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("sqlite store: load: %w", err)
	}
	return nil
}

func (st *State) apply(c *ledger.CommitRecord, pos map[ledger.TransferID]int) {
	for _, a := range c.Accounts {
		st.Accounts[a.ID] = a
	}
	for _, t := range c.Transfers {
		pos[t.ID] = len(st.Transfers)
		st.Transfers = append(st.Transfers, t)
	}
	for _, sc := range c.StateChanges {
		if i, ok := pos[sc.ID]; ok {
			st.Transfers[i].State = sc.State
		}
	}
	for _, ctr := range c.Counters {
		st.Counters[ctr.Key] = ctr.Value
	}
}
