package ledger

import "fmt"

// assertAccount is the cheap always-on check after money moves on an
// account: provenance bounds and the floor. A failure is a bug in the
// engine, never bad input, so it panics (TIGER_STYLE assertions).
func assertAccount(a *Account) {
	if a.CreditShareFen < 0 || a.CreditShareFen > max(a.BalanceFen, 0) {
		panic(fmt.Sprintf("ledger invariant: account %d credit share %d outside [0, max(balance %d, 0)]",
			a.ID, a.CreditShareFen, a.BalanceFen))
	}
	if a.DebitsPendingFen < 0 || a.CreditsPendingFen < 0 {
		panic(fmt.Sprintf("ledger invariant: account %d negative pending (debits %d, credits %d)",
			a.ID, a.DebitsPendingFen, a.CreditsPendingFen))
	}
	if a.Flags&AccountNoFloor == 0 && a.BalanceFen-a.DebitsPendingFen < effectiveFloor(a.FloorFen, a.Flags) {
		panic(fmt.Sprintf("ledger invariant: account %d balance %d − pending debits %d below floor %d",
			a.ID, a.BalanceFen, a.DebitsPendingFen, a.FloorFen))
	}
}

// CheckAccounts checks DESIGN.md §3 invariants 1–2 and the provenance bounds
// over a set of accounts: per currency the balances sum to zero and pending
// debits equal pending credits; no account is past its floor; 0 ≤ credit
// share ≤ max(balance, 0). It returns one message per violation (nil when
// clean). Used by tests, the invariants build and `paybridge ledger verify`.
func CheckAccounts(accounts []Account) []string {
	type sums struct{ balance, debitsPending, creditsPending int64 }
	per := map[string]*sums{}
	var out []string
	for i := range accounts {
		a := &accounts[i]
		s := per[a.Currency]
		if s == nil {
			s = &sums{}
			per[a.Currency] = s
		}
		s.balance += a.BalanceFen // wraps identically in any order; zero-sum survives wrap
		s.debitsPending += a.DebitsPendingFen
		s.creditsPending += a.CreditsPendingFen
		if a.CreditShareFen < 0 || a.CreditShareFen > max(a.BalanceFen, 0) {
			out = append(out, fmt.Sprintf("account %d: credit share %d outside [0, max(balance %d, 0)]", a.ID, a.CreditShareFen, a.BalanceFen))
		}
		if a.DebitsPendingFen < 0 || a.CreditsPendingFen < 0 {
			out = append(out, fmt.Sprintf("account %d: negative pending amounts", a.ID))
		}
		if a.Flags&AccountNoFloor == 0 && a.BalanceFen-a.DebitsPendingFen < effectiveFloor(a.FloorFen, a.Flags) {
			out = append(out, fmt.Sprintf("account %d: balance %d − pending debits %d below floor %d", a.ID, a.BalanceFen, a.DebitsPendingFen, effectiveFloor(a.FloorFen, a.Flags)))
		}
	}
	for cur, s := range per {
		if s.balance != 0 {
			out = append(out, fmt.Sprintf("currency %s: balances sum to %d, not 0", cur, s.balance))
		}
		if s.debitsPending != s.creditsPending {
			out = append(out, fmt.Sprintf("currency %s: pending debits %d ≠ pending credits %d", cur, s.debitsPending, s.creditsPending))
		}
	}
	return out
}
