// Package ledger is paybridge's double-entry engine: accounts with floors
// (0 for debit accounts, −limit for credit lines), single- and two-phase
// transfers, linked (all-or-none) batches, idempotency by id and key,
// provenance (the credit-derived share of every balance) and group commit to
// a durable Store. Every rejected item gets a specific result code; nothing
// panics on bad input. docs/ledger.md describes the model and guarantees.
package ledger

import "time"

// Limits. Each is checked; going past one gives a specific result code or error.
const (
	// MaxBatchTransfers is the most transfers one Submit may carry.
	MaxBatchTransfers = 8190
	// MaxBatchAccounts is the most account creations one Submit may carry.
	MaxBatchAccounts = 8190
	// MaxBatchUpdates is the most account updates one Submit may carry.
	MaxBatchUpdates = 1024
	// MaxBatchCounters is the most counter deltas one Submit may carry.
	MaxBatchCounters = 256
	// MaxBatchRecords is the most opaque records one Submit may carry.
	MaxBatchRecords = 256
	// MaxRecordKeys is the most keys one KeyRecords read may ask for.
	MaxRecordKeys = 256
	// MaxRecordBytes is the largest opaque record payload.
	MaxRecordBytes = 64 << 10
	// MaxKeyLen is the longest idempotency key, counter key or record key in bytes.
	MaxKeyLen = 128
	// MaxNameLen is the longest holder, institution or product name in bytes.
	MaxNameLen = 64
	// MaxMetadataBytes is the largest user metadata of a transfer.
	MaxMetadataBytes = 256
	// MaxTimeoutSeconds is the longest timeout of a pending transfer (one year).
	MaxTimeoutSeconds = 366 * 24 * 3600
	// MaxHistoryPage is the most transfers one History call returns.
	MaxHistoryPage = 1000
)

// AccountID identifies an account. Callers choose ids; 0 is invalid.
type AccountID uint64

// TransferID identifies a transfer. Callers choose ids; 0 is invalid.
type TransferID uint64

// AccountFlags are the flags of an account.
type AccountFlags uint32

const (
	// AccountNoFloor marks an external or issuance account through which money
	// enters or leaves the ledger: its balance may go below any floor. Set at
	// creation only; FloorFen must then be 0.
	AccountNoFloor AccountFlags = 1 << iota
	// AccountFrozen refuses new debits (money cannot leave); credits and voids
	// still apply.
	AccountFrozen
	// AccountClosed refuses debits and credits. Only an account with a zero
	// balance and nothing pending may be closed.
	AccountClosed
	// AccountDebitsMustNotExceedCredits makes the effective floor max(FloorFen, 0):
	// the account can never go negative even if it has a credit floor.
	AccountDebitsMustNotExceedCredits

	// accountFlagsMutable are the flags an AccountUpdate may change.
	accountFlagsMutable = AccountFrozen | AccountClosed | AccountDebitsMustNotExceedCredits
	accountFlagsAll     = AccountNoFloor | accountFlagsMutable
)

// Account is a holder's product instance at an institution. The first block
// of fields is chosen by the caller at creation; the second is kept by the
// engine.
//
// BalanceFen is the posted balance: credits minus debits. Money available to
// debit is BalanceFen − DebitsPendingFen − FloorFen (unless AccountNoFloor).
type Account struct {
	ID          AccountID    `json:"id"`
	Holder      string       `json:"holder"`
	Institution string       `json:"institution"`
	Product     string       `json:"product"`
	Currency    string       `json:"currency"`
	FloorFen    int64        `json:"floor_fen"` // 0 for debit accounts, −limit for credit lines
	Flags       AccountFlags `json:"flags"`

	BalanceFen        int64 `json:"balance_fen"`
	DebitsPendingFen  int64 `json:"debits_pending_fen"`
	CreditsPendingFen int64 `json:"credits_pending_fen"`
	// CreditShareFen is the credit-derived part of BalanceFen: 0 ≤ CreditShareFen ≤ max(BalanceFen, 0).
	CreditShareFen int64 `json:"credit_share_fen"`
	// Timestamp is when the account was created (engine clock, Unix ns).
	Timestamp int64 `json:"timestamp"`
}

// AccountUpdate changes the mutable flags and, optionally, the floor of an account.
type AccountUpdate struct {
	ID AccountID `json:"id"`
	// Flags is the new value of the mutable flags (Frozen, Closed,
	// DebitsMustNotExceedCredits); AccountNoFloor must match the account's.
	Flags AccountFlags `json:"flags"`
	// SetFloor makes FloorFen the new floor; the available balance must stay ≥ it.
	SetFloor bool  `json:"set_floor,omitempty"`
	FloorFen int64 `json:"floor_fen,omitempty"`
}

// TransferFlags are the flags of a transfer.
type TransferFlags uint16

const (
	// TransferLinked links this transfer with the next one in the batch: a
	// chain of linked transfers (ending with the first one without the flag)
	// commits all or none.
	TransferLinked TransferFlags = 1 << iota
	// TransferPending holds the amount (phase one) until it is posted, voided
	// or expires after TimeoutSeconds.
	TransferPending
	// TransferPostPending posts the pending transfer PendingID for AmountFen
	// (≤ the pending amount; the rest is released).
	TransferPostPending
	// TransferVoidPending releases the pending transfer PendingID.
	TransferVoidPending

	transferFlagsAll = TransferLinked | TransferPending | TransferPostPending | TransferVoidPending
)

// TransferState is where a transfer stands.
type TransferState uint8

const (
	// StatePosted: a single-phase or post transfer whose money moved, or a
	// pending transfer that was posted.
	StatePosted TransferState = iota + 1
	// StatePending: a pending transfer still holding money.
	StatePending
	// StateVoided: a pending transfer released by a void transfer, or the void transfer itself.
	StateVoided
	// StateExpired: a pending transfer released by the engine when its timeout passed.
	StateExpired
)

var stateNames = [...]string{"", "posted", "pending", "voided", "expired"}

// String names the state.
func (s TransferState) String() string {
	if int(s) < len(stateNames) && s != 0 {
		return stateNames[s]
	}
	return "unknown"
}

// Transfer moves AmountFen from DebitAccount to CreditAccount. The first
// block is chosen by the caller; the second is set by the engine.
//
// For post and void transfers, DebitAccount, CreditAccount and Currency must
// be left zero in the request (they come from the pending transfer and are
// filled in when stored); a post carries the amount to post (> 0, ≤ pending);
// a void carries AmountFen 0 and is stored with the released amount.
type Transfer struct {
	ID             TransferID    `json:"id"`
	Key            string        `json:"key,omitempty"` // idempotency key, optional, ≤ MaxKeyLen
	DebitAccount   AccountID     `json:"debit_account"`
	CreditAccount  AccountID     `json:"credit_account"`
	AmountFen      int64         `json:"amount_fen"`
	Currency       string        `json:"currency"`
	Code           uint16        `json:"code"` // caller's kind of transfer (fee, top-up, settlement…)
	Flags          TransferFlags `json:"flags"`
	PendingID      TransferID    `json:"pending_id,omitempty"`      // for post/void
	TimeoutSeconds int64         `json:"timeout_seconds,omitempty"` // for pending, 1…MaxTimeoutSeconds
	Metadata       []byte        `json:"metadata,omitempty"`        // ≤ MaxMetadataBytes

	// Timestamp is the engine-clock time of commit (Unix ns), unique and
	// increasing across the ledger; it orders history and is its cursor.
	Timestamp int64 `json:"timestamp"`
	// State is the transfer's current state (see TransferState).
	State TransferState `json:"state"`
	// CreditShareFen is the credit-derived part of the money this transfer
	// moved (0 for pending and void transfers; set on single-phase and post).
	CreditShareFen int64 `json:"credit_share_fen"`
}

// Counter is a named running total kept by the engine in the same commit as
// the money (daily limits, free quotas). Its value never exceeds the MaxValue
// of any delta applied to it.
type Counter struct {
	Key   string `json:"key"`
	Value int64  `json:"value"`
}

// CounterDelta adds Delta to the counter Key, refusing with
// ResultCounterExceeded if the result would exceed MaxValue or go below 0.
type CounterDelta struct {
	Key      string `json:"key"`
	Delta    int64  `json:"delta"`
	MaxValue int64  `json:"max_value"`
}

// Record is an opaque record (an outbox event, a payment state) persisted in
// the same commit as the batch that carries it. The engine assigns Seq
// (increasing from 1 across the ledger) and CommitSeq.
type Record struct {
	Seq       uint64 `json:"seq"`
	CommitSeq uint64 `json:"commit_seq"`
	Kind      string `json:"kind"` // ≤ MaxKeyLen
	Key       string `json:"key"`  // ≤ MaxKeyLen
	Data      []byte `json:"data"` // ≤ MaxRecordBytes
}

// Batch is one submission. Accounts are created first, then updates, then
// transfers in order, then counters. Transfers chained with TransferLinked
// commit all or none. With AllOrNone, every item of the batch commits or none
// does, and Records are persisted only if it commits; otherwise every item
// (or linked chain) stands alone and Records are always persisted.
type Batch struct {
	Accounts  []Account
	Updates   []AccountUpdate
	Transfers []Transfer
	Counters  []CounterDelta
	Records   []Record
	AllOrNone bool
}

// Result is the outcome of one item of a batch.
type Result struct {
	Code Code `json:"code"`
	// Replayed is true when the item repeats an already committed one (same id
	// or key, same fields): it had no new effect and carries the original's
	// ID and Timestamp.
	Replayed  bool   `json:"replayed,omitempty"`
	ID        uint64 `json:"id,omitempty"`
	Timestamp int64  `json:"timestamp,omitempty"`
	// FailedIndex and FailedCode name the member that failed when Code is
	// ResultLinkedFailed (index within the same slice of the batch, or within
	// Batch.Transfers for AllOrNone failures found elsewhere; see BatchResult.Failure).
	FailedIndex int  `json:"failed_index,omitempty"`
	FailedCode  Code `json:"failed_code,omitempty"`
}

// Failure names the item that made an AllOrNone batch fail.
type Failure struct {
	Part  string `json:"part"` // "accounts", "updates", "transfers" or "counters"
	Index int    `json:"index"`
	Code  Code   `json:"code"`
}

// BatchResult has one Result per item, in the batch's order.
type BatchResult struct {
	Accounts  []Result `json:"accounts,omitempty"`
	Updates   []Result `json:"updates,omitempty"`
	Transfers []Result `json:"transfers,omitempty"`
	Counters  []Result `json:"counters,omitempty"`
	// Failure is set when an AllOrNone batch did not commit.
	Failure *Failure `json:"failure,omitempty"`
	// CommitSeq is the commit that made the batch durable.
	CommitSeq uint64 `json:"commit_seq"`
}

// OK reports whether every item of the batch succeeded.
func (r *BatchResult) OK() bool {
	for _, part := range [][]Result{r.Accounts, r.Updates, r.Transfers, r.Counters} {
		for _, x := range part {
			if x.Code != ResultOK {
				return false
			}
		}
	}
	return r.Failure == nil
}

// Clock gives the engine the current time. Inject a fake clock in tests.
type Clock interface{ Now() time.Time }

// SystemClock is the real wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }
