//go:build invariants

package ledger

import (
	"fmt"
	"strings"
)

// invariantsOn is true in builds with -tags invariants (CI runs the race
// tests with it): every group commit then re-checks the whole ledger.
const invariantsOn = true

// assertLedger checks invariants 1–2 and provenance over all accounts and
// that pending sums match the live pending transfers.
func assertLedger(m *machine) {
	if v := CheckAccounts(m.accs); len(v) > 0 {
		panic("ledger invariant: " + strings.Join(v, "; "))
	}
	dp := make([]int64, len(m.accs))
	cp := make([]int64, len(m.accs))
	for _, p := range m.pending {
		dp[p.debit] += p.amount
		cp[p.credit] += p.amount
	}
	for i := range m.accs {
		if dp[i] != m.accs[i].DebitsPendingFen || cp[i] != m.accs[i].CreditsPendingFen {
			panic(fmt.Sprintf("ledger invariant: account %d pending %d/%d, live holds %d/%d",
				m.accs[i].ID, m.accs[i].DebitsPendingFen, m.accs[i].CreditsPendingFen, dp[i], cp[i]))
		}
	}
}
