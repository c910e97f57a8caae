// Package audit checks the ledger's invariants over a whole stored state
// (every account and every transfer, as a store's journal replays them): the
// per-currency sum is zero, no balance is below its floor, every account's
// pending amounts equal the sums of its open pending transfers, every
// balance equals the sum of the money its transfers moved, transfer ids and
// idempotency keys are unique, and provenance (the credit-derived share)
// stays within bounds. It is what `paybridge ledger verify` runs.
package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/paybridge/paybridge/ledger"
)

// MaxViolations is the most violations a Report lists; Total counts them all.
const MaxViolations = 1000

// Violation is one broken invariant.
type Violation struct {
	// Check names the invariant: sum_zero, floor, provenance, pending_sum,
	// balance_history, id_unique, key_unique, transfer_account, transfer_fields.
	Check string `json:"check"`
	// Detail says which account or transfer and by how much.
	Detail string `json:"detail"`
}

// Report is the outcome of Check.
type Report struct {
	OK         bool        `json:"ok"`
	Accounts   int         `json:"accounts"`
	Transfers  int         `json:"transfers"`
	Violations []Violation `json:"violations"`
	// Total is the number of violations found (Violations is capped at MaxViolations).
	Total int `json:"violations_total"`
}

func (r *Report) add(check, format string, args ...any) {
	r.Total++
	if len(r.Violations) < MaxViolations {
		r.Violations = append(r.Violations, Violation{Check: check, Detail: fmt.Sprintf(format, args...)})
	}
}

// Check audits accounts (any order) and transfers (in Timestamp order, each
// with its current State). It never modifies its inputs.
func Check(accounts []ledger.Account, transfers []ledger.Transfer) Report {
	r := Report{Accounts: len(accounts), Transfers: len(transfers), Violations: []Violation{}}
	checkAccounts(&r, accounts)
	byID := make(map[ledger.AccountID]int, len(accounts))
	for i, a := range accounts {
		if _, dup := byID[a.ID]; dup {
			r.add("id_unique", "account %d appears twice", a.ID)
		}
		byID[a.ID] = i
	}
	moved := make([]int64, len(accounts))
	debitsPending := make([]int64, len(accounts))
	creditsPending := make([]int64, len(accounts))
	ids := make(map[ledger.TransferID]struct{}, len(transfers))
	keys := make(map[string]ledger.TransferID)
	lastTS := int64(0)
	for i := range transfers {
		t := &transfers[i]
		if _, dup := ids[t.ID]; dup {
			r.add("id_unique", "transfer id %d appears twice", t.ID)
		}
		ids[t.ID] = struct{}{}
		if t.Key != "" {
			if other, dup := keys[t.Key]; dup {
				r.add("key_unique", "idempotency key %q is on transfers %d and %d", t.Key, other, t.ID)
			}
			keys[t.Key] = t.ID
		}
		if i > 0 && t.Timestamp <= lastTS {
			r.add("transfer_fields", "transfer %d: timestamp %d not after the previous %d", t.ID, t.Timestamp, lastTS)
		}
		lastTS = t.Timestamp
		if t.CreditShareFen < 0 || (t.AmountFen >= 0 && t.CreditShareFen > t.AmountFen) {
			r.add("provenance", "transfer %d: credit share %d outside [0, amount %d]", t.ID, t.CreditShareFen, t.AmountFen)
		}
		di, okD := byID[t.DebitAccount]
		ci, okC := byID[t.CreditAccount]
		if !okD || !okC {
			r.add("transfer_account", "transfer %d names account %d or %d that does not exist", t.ID, t.DebitAccount, t.CreditAccount)
			continue
		}
		if accounts[di].Currency != t.Currency || accounts[ci].Currency != t.Currency {
			r.add("transfer_account", "transfer %d in %s between accounts in %s and %s", t.ID, t.Currency, accounts[di].Currency, accounts[ci].Currency)
		}
		switch {
		case t.Flags&ledger.TransferPending != 0:
			if t.State == ledger.StatePending {
				debitsPending[di] += t.AmountFen
				creditsPending[ci] += t.AmountFen
			}
		case t.Flags&ledger.TransferVoidPending != 0:
			// A void moves nothing.
		case t.State == ledger.StatePosted:
			moved[di] -= t.AmountFen
			moved[ci] += t.AmountFen
		default:
			r.add("transfer_fields", "transfer %d: single-phase or post transfer in state %v", t.ID, t.State)
		}
	}
	for i, a := range accounts {
		if a.DebitsPendingFen != debitsPending[i] || a.CreditsPendingFen != creditsPending[i] {
			r.add("pending_sum", "account %d: pending debits/credits %d/%d but its open pending transfers hold %d/%d",
				a.ID, a.DebitsPendingFen, a.CreditsPendingFen, debitsPending[i], creditsPending[i])
		}
		if a.BalanceFen != moved[i] {
			r.add("balance_history", "account %d: balance %d but its posted transfers sum to %d", a.ID, a.BalanceFen, moved[i])
		}
	}
	r.OK = r.Total == 0
	return r
}

// checkAccounts runs the engine's own per-account and per-currency checks
// (sum zero, floors, provenance bounds, pending debits = pending credits)
// and classifies them.
func checkAccounts(r *Report, accounts []ledger.Account) {
	sorted := slices.Clone(accounts)
	slices.SortFunc(sorted, func(a, b ledger.Account) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	msgs := ledger.CheckAccounts(sorted)
	slices.Sort(msgs) // per-currency messages come in map order
	for _, msg := range msgs {
		r.add(classify(msg), "%s", msg)
	}
}

// classify maps a ledger.CheckAccounts message to a check name.
func classify(msg string) string {
	for _, c := range []struct{ needle, check string }{
		{"sum to", "sum_zero"},
		{"below floor", "floor"},
		{"credit share", "provenance"},
		{"pending", "pending_sum"},
	} {
		if strings.Contains(msg, c.needle) {
			return c.check
		}
	}
	return "account"
}
