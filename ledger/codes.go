package ledger

import "fmt"

// Code is the result of one item of a batch: ResultOK or the specific reason
// it was refused. Codes are stable; their names are in docs/ledger.md.
type Code uint8

// Result codes. A refused item has no effect.
const (
	ResultOK Code = iota
	// ResultLinkedFailed: this item was fine but another member of its linked
	// chain (or of its AllOrNone batch) failed; see Result.FailedIndex/FailedCode.
	ResultLinkedFailed
	// ResultLinkedChainOpen: the last transfer of the batch has TransferLinked.
	ResultLinkedChainOpen
	ResultIDZero
	ResultAmountNotPositive
	ResultSameAccount
	ResultCurrencyInvalid
	ResultFlagsInvalid
	ResultTimeoutInvalid
	ResultMetadataTooLong
	ResultKeyInvalid
	ResultDebitAccountNotFound
	ResultCreditAccountNotFound
	ResultCurrencyMismatch
	ResultDebitAccountFrozen
	ResultDebitAccountClosed
	ResultCreditAccountClosed
	ResultExceedsFloor
	// ResultPendingIDInvalid: a post or void without PendingID, or PendingID on another kind.
	ResultPendingIDInvalid
	// ResultPostVoidFieldSet: a post or void set accounts or currency (they come from the pending).
	ResultPostVoidFieldSet
	ResultPendingNotFound
	ResultNotPending
	ResultPendingExpired
	ResultPendingAlreadyPosted
	ResultPendingAlreadyVoided
	ResultPostAmountExceedsPending
	ResultIDExistsWithDifferentFields
	ResultKeyReusedWithDifferentFields
	ResultCounterExceeded
	ResultCounterInvalid
	ResultAccountExistsWithDifferentFields
	ResultAccountNotFound
	ResultFloorInvalid
	ResultNameInvalid
	ResultAccountNotEmpty
	ResultOverflow
	numCodes
)

var codeNames = [numCodes]string{
	ResultOK:                               "ok",
	ResultLinkedFailed:                     "linked_failed",
	ResultLinkedChainOpen:                  "linked_chain_open",
	ResultIDZero:                           "id_zero",
	ResultAmountNotPositive:                "amount_not_positive",
	ResultSameAccount:                      "same_account",
	ResultCurrencyInvalid:                  "currency_invalid",
	ResultFlagsInvalid:                     "flags_invalid",
	ResultTimeoutInvalid:                   "timeout_invalid",
	ResultMetadataTooLong:                  "metadata_too_long",
	ResultKeyInvalid:                       "key_invalid",
	ResultDebitAccountNotFound:             "debit_account_not_found",
	ResultCreditAccountNotFound:            "credit_account_not_found",
	ResultCurrencyMismatch:                 "currency_mismatch",
	ResultDebitAccountFrozen:               "debit_account_frozen",
	ResultDebitAccountClosed:               "debit_account_closed",
	ResultCreditAccountClosed:              "credit_account_closed",
	ResultExceedsFloor:                     "exceeds_floor",
	ResultPendingIDInvalid:                 "pending_id_invalid",
	ResultPostVoidFieldSet:                 "post_void_field_set",
	ResultPendingNotFound:                  "pending_not_found",
	ResultNotPending:                       "not_pending",
	ResultPendingExpired:                   "pending_expired",
	ResultPendingAlreadyPosted:             "pending_already_posted",
	ResultPendingAlreadyVoided:             "pending_already_voided",
	ResultPostAmountExceedsPending:         "post_amount_exceeds_pending",
	ResultIDExistsWithDifferentFields:      "id_exists_with_different_fields",
	ResultKeyReusedWithDifferentFields:     "key_reused_with_different_fields",
	ResultCounterExceeded:                  "counter_exceeded",
	ResultCounterInvalid:                   "counter_invalid",
	ResultAccountExistsWithDifferentFields: "account_exists_with_different_fields",
	ResultAccountNotFound:                  "account_not_found",
	ResultFloorInvalid:                     "floor_invalid",
	ResultNameInvalid:                      "name_invalid",
	ResultAccountNotEmpty:                  "account_not_empty",
	ResultOverflow:                         "overflow",
}

// String returns the code's stable snake_case name.
func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return "unknown"
}

// MarshalText encodes the code as its name (for JSON).
func (c Code) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText decodes a code from its name.
func (c *Code) UnmarshalText(b []byte) error {
	for i, n := range codeNames {
		if n == string(b) {
			*c = Code(i)
			return nil
		}
	}
	return fmt.Errorf("ledger: unknown result code %q", b)
}
