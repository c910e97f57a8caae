package audit

import (
	"testing"

	"github.com/paybridge/paybridge/ledger"
)

func acct(id ledger.AccountID, floor int64, flags ledger.AccountFlags, balance, dp, cp, share int64) ledger.Account {
	return ledger.Account{ID: id, Currency: "CNY", FloorFen: floor, Flags: flags, BalanceFen: balance,
		DebitsPendingFen: dp, CreditsPendingFen: cp, CreditShareFen: share}
}

func tr(id ledger.TransferID, key string, d, c ledger.AccountID, amount, ts int64, flags ledger.TransferFlags, state ledger.TransferState) ledger.Transfer {
	return ledger.Transfer{ID: id, Key: key, DebitAccount: d, CreditAccount: c, AmountFen: amount, Currency: "CNY",
		Flags: flags, Timestamp: ts, State: state}
}

// good is a consistent state: an issuer funds account 2, which holds 300 for
// account 3, then 200 of it is posted.
func good() ([]ledger.Account, []ledger.Transfer) {
	accounts := []ledger.Account{
		acct(1, 0, ledger.AccountNoFloor, -1000, 0, 0, 0),
		acct(2, 0, 0, 800, 100, 0, 0),
		acct(3, 0, 0, 200, 0, 100, 0),
	}
	transfers := []ledger.Transfer{
		tr(10, "fund", 1, 2, 1000, 1, 0, ledger.StatePosted),
		tr(11, "hold", 2, 3, 300, 2, ledger.TransferPending, ledger.StatePosted),
		{ID: 12, DebitAccount: 2, CreditAccount: 3, AmountFen: 200, Currency: "CNY", Flags: ledger.TransferPostPending, PendingID: 11, Timestamp: 3, State: ledger.StatePosted},
		tr(13, "hold2", 2, 3, 100, 4, ledger.TransferPending, ledger.StatePending),
		tr(14, "", 2, 3, 50, 5, ledger.TransferPending, ledger.StateExpired),
	}
	return accounts, transfers
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(a []ledger.Account, tr []ledger.Transfer) ([]ledger.Account, []ledger.Transfer)
		checks []string // expected violation checks, in order
	}{
		{"consistent", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) { return a, t }, nil},
		{"money created", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			a[2].BalanceFen += 5
			return a, t
		}, []string{"sum_zero", "balance_history"}},
		{"below floor", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			t = append(t, tr(15, "", 3, 2, 1000, 6, 0, ledger.StatePosted))
			a[1].BalanceFen += 1000
			a[2].BalanceFen -= 1000
			return a, t
		}, []string{"floor"}},
		{"pending sum off", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			t[3].State = ledger.StateVoided
			return a, t
		}, []string{"pending_sum", "pending_sum"}},
		{"duplicate id and key", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			t = append(t, tr(10, "fund", 2, 3, 0, 9, ledger.TransferVoidPending, ledger.StateVoided))
			return a, t
		}, []string{"id_unique", "key_unique"}},
		{"credit share too big", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			a[2].CreditShareFen = 201
			t[0].CreditShareFen = 1001
			return a, t
		}, []string{"provenance", "provenance"}},
		{"missing account", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			t[4].CreditAccount = 99
			return a, t
		}, []string{"transfer_account"}},
		{"timestamps out of order", func(a []ledger.Account, t []ledger.Transfer) ([]ledger.Account, []ledger.Transfer) {
			t[4].Timestamp = 1
			return a, t
		}, []string{"transfer_fields"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Check(tt.mutate(good()))
			var got []string
			for _, v := range r.Violations {
				got = append(got, v.Check)
			}
			if r.OK != (len(tt.checks) == 0) || r.Total != len(r.Violations) || len(got) != len(tt.checks) {
				t.Fatalf("Check = ok %v, %d violations %v; want %v", r.OK, r.Total, r.Violations, tt.checks)
			}
			seen := map[string]int{}
			for _, c := range got {
				seen[c]++
			}
			for _, c := range tt.checks {
				seen[c]--
			}
			for c, n := range seen {
				if n != 0 {
					t.Errorf("violations %v; want checks %v (mismatch on %s)", r.Violations, tt.checks, c)
				}
			}
		})
	}
}
