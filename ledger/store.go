package ledger

import (
	"context"
	"errors"
)

// Errors returned by Store implementations (wrapped with what was being done;
// test with errors.Is).
var (
	// ErrNotFound: the transfer, key or record asked for is not in the store.
	ErrNotFound = errors.New("ledger: not found")
	// ErrCommitOrder: a CommitRecord's Seq is not the store's last Seq + 1.
	ErrCommitOrder = errors.New("ledger: commit out of order")
	// ErrStoreClosed: the store was used after Close.
	ErrStoreClosed = errors.New("ledger: store closed")
)

// CommitRecord is one group commit: everything the engine changed since the
// previous one. A store applies it atomically and in this order: upsert
// Accounts (the full new state of every account created or changed), insert
// Transfers, apply StateChanges to earlier (or same-commit) pending
// transfers, upsert Counters (their new values), insert Records.
type CommitRecord struct {
	// Seq is 1 for the first commit and increases by 1.
	Seq uint64
	// Timestamp is the engine-clock time of the commit (Unix ns); every
	// transfer in it has Timestamp ≤ this.
	Timestamp    int64
	Accounts     []Account
	Transfers    []Transfer
	StateChanges []StateChange
	Counters     []Counter
	Records      []Record

	// Added: positions[i] is Accounts[i]'s position in the engine's account
	// table (engine-internal and unexported; stores ignore it).
	positions []int32
}

// StateChange moves the pending transfer ID to State (posted, voided or expired).
type StateChange struct {
	ID    TransferID    `json:"id"`
	State TransferState `json:"state"`
}

// Meta is what Load reports about the store as a whole.
type Meta struct {
	// LastCommitSeq is the Seq of the last durable commit (0 for an empty store).
	LastCommitSeq uint64
	// LastRecordSeq is the largest Record.Seq stored (0 if none).
	LastRecordSeq uint64
}

// Visitor receives the committed state during Store.Load. A non-nil error
// from a method stops Load, which returns it.
type Visitor interface {
	// VisitAccount is called once per account, in any order, before any transfer.
	VisitAccount(Account) error
	// VisitTransfer is called once per transfer, in increasing Timestamp
	// order, with its current State.
	VisitTransfer(Transfer) error
	// VisitCounter is called once per counter after the transfers.
	VisitCounter(Counter) error
}

// HistoryPage is one page of an account's transfers.
type HistoryPage struct {
	Transfers []Transfer `json:"transfers"`
	// Next is the cursor for the following page (the last Timestamp
	// returned); 0 when this page is the last.
	Next int64 `json:"next"`
}

// Store persists the ledger. The engine is its only writer and calls Commit
// from one goroutine at a time; reads may run concurrently with Commit and
// with each other, and see only whole commits. Implementations live in
// subpackages of store/ and must pass store/storetest.
type Store interface {
	// Load visits the whole committed state (accounts, then transfers in
	// Timestamp order, then counters) and returns Meta. Errors: the
	// underlying I/O error, a Visitor's error, ErrStoreClosed.
	Load(ctx context.Context, v Visitor) (Meta, error)

	// Commit makes c durable atomically: when it returns nil, the commit
	// survives a crash (fsync'd); when it returns an error, the store holds
	// either all of c or none of it, and the engine stops (reopen to learn
	// which). Errors: ErrCommitOrder, ErrStoreClosed, the underlying I/O error.
	// Added: Commit must not keep c or its slices after it returns (the
	// engine reuses them); copy what it keeps.
	Commit(ctx context.Context, c *CommitRecord) error

	// Transfer returns the committed transfer id. Errors: ErrNotFound,
	// ErrStoreClosed, the underlying I/O error.
	Transfer(ctx context.Context, id TransferID) (Transfer, error)

	// TransferByKey returns the committed transfer with idempotency key key.
	// Errors: ErrNotFound, ErrStoreClosed, the underlying I/O error.
	TransferByKey(ctx context.Context, key string) (Transfer, error)

	// History returns up to limit (1…MaxHistoryPage) committed transfers
	// that debit or credit account, with Timestamp > after, in increasing
	// Timestamp order. An unknown account gives an empty page. Errors:
	// ErrStoreClosed, the underlying I/O error.
	History(ctx context.Context, account AccountID, after int64, limit int) (HistoryPage, error)

	// Records returns up to limit (1…MaxHistoryPage) records of kind (all
	// kinds if kind is "") with Seq > after, in increasing Seq order.
	// Errors: ErrStoreClosed, the underlying I/O error.
	Records(ctx context.Context, kind string, after uint64, limit int) ([]Record, error)

	// KeyRecords returns up to limit (1…MaxHistoryPage) records of kind
	// whose Key is one of keys (1…MaxRecordKeys of them), with Seq > after,
	// in increasing Seq order: a payment's events, or what was stored
	// under an idempotency key, without reading the others. Errors:
	// ErrStoreClosed, the underlying I/O error.
	KeyRecords(ctx context.Context, kind string, keys []string, after uint64, limit int) ([]Record, error)

	// Close releases the store. Commits already returned stay durable.
	// Errors: the underlying I/O error.
	Close() error
}
