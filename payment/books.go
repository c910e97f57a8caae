package payment

import (
	"fmt"
	"sort"
	"strings"

	"github.com/paybridge/paybridge/ledger"
)

// CheckBooks checks the payment layer's invariants over a ledger's accounts
// and returns one line per violation (none when all hold):
//
//   - per currency, balances sum to zero and pending debits equal pending credits;
//   - per institution, its own books balance: the balances (and the pending
//     debits and credits) of the accounts it keeps sum to zero;
//   - each institution's position at a clearing house equals the negation of
//     the house's record of that member.
func CheckBooks(accounts []ledger.Account) []string {
	type sums struct{ balance, debits, credits int64 }
	cur := map[string]*sums{}
	inst := map[string]*sums{}
	byID := make(map[ledger.AccountID]ledger.Account, len(accounts))
	add := func(m map[string]*sums, k string, a ledger.Account) {
		s := m[k]
		if s == nil {
			s = &sums{}
			m[k] = s
		}
		s.balance += a.BalanceFen
		s.debits += a.DebitsPendingFen
		s.credits += a.CreditsPendingFen
	}
	for _, a := range accounts {
		add(cur, a.Currency, a)
		add(inst, a.Institution+" "+a.Currency, a)
		byID[a.ID] = a
	}
	var out []string
	report := func(what string, m map[string]*sums) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s := m[k]; s.balance != 0 || s.debits != s.credits {
				out = append(out, fmt.Sprintf("%s %s: balances sum to %d fen, pending debits %d, pending credits %d", what, k, s.balance, s.debits, s.credits))
			}
		}
	}
	report("currency", cur)
	report("institution", inst)
	for _, a := range accounts {
		house, ok := strings.CutPrefix(a.Product, prefixClearing)
		if !ok || a.Holder != a.Institution {
			continue
		}
		m, ok := byID[MemberAccount(house, a.Institution)]
		if !ok {
			out = append(out, fmt.Sprintf("clearing %s/%s: the house has no member account", house, a.Institution))
			continue
		}
		if a.BalanceFen+m.BalanceFen != 0 || a.CreditsPendingFen-a.DebitsPendingFen+m.CreditsPendingFen-m.DebitsPendingFen != 0 {
			out = append(out, fmt.Sprintf("clearing %s/%s: position %d fen on the member's books, %d on the house's", house, a.Institution, a.BalanceFen, m.BalanceFen))
		}
	}
	return out
}
