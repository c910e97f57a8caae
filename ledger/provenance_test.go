package ledger

import "testing"

// TestProvenanceMath pins the provenance rules of docs/ledger.md with exact
// numbers: pro rata share leaving, rounding down, credit-line drawing,
// issuance, and debt repayment absorbing the share that arrives.
func TestProvenanceMath(t *testing.T) {
	cases := []struct {
		name             string
		d, c             Account
		amount           int64
		moved            int64
		dBalance, dShare int64
		cBalance, cShare int64
	}{
		{"pro rata", Account{BalanceFen: 1000, CreditShareFen: 300}, Account{}, 100, 30, 900, 270, 100, 30},
		{"rounds down, sender keeps the rest", Account{BalanceFen: 3, CreditShareFen: 1}, Account{}, 1, 0, 2, 1, 1, 0},
		{"whole balance takes the whole share", Account{BalanceFen: 7, CreditShareFen: 5}, Account{}, 7, 5, 0, 0, 7, 5},
		{"credit line draws below zero", Account{BalanceFen: 200, CreditShareFen: 50, FloorFen: -1000}, Account{}, 500, 350, -300, 0, 500, 350},
		{"credit line already negative", Account{BalanceFen: -100, FloorFen: -1000}, Account{}, 400, 400, -500, 0, 400, 400},
		{"issuance is not credit", Account{BalanceFen: -100, Flags: AccountNoFloor}, Account{}, 50, 0, -150, 0, 50, 0},
		{"repays part of a debt", Account{BalanceFen: -100, FloorFen: -1000}, Account{BalanceFen: -100, FloorFen: -500}, 300, 300, -400, 0, 200, 200},
		{"pro rata share lands after debt", Account{BalanceFen: 300, CreditShareFen: 150}, Account{BalanceFen: -100, FloorFen: -500}, 300, 150, 0, 0, 200, 100},
		{"all absorbed by debt", Account{BalanceFen: 300, CreditShareFen: 300}, Account{BalanceFen: -500, FloorFen: -500}, 300, 300, 0, 0, -200, 0},
		{"adds to the receiver's share", Account{BalanceFen: 100, CreditShareFen: 100}, Account{BalanceFen: 50, CreditShareFen: 10}, 40, 40, 60, 60, 90, 50},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine()
			d, c := tc.d, tc.c
			d.ID, c.ID = 1, 2
			moved := m.post(&d, &c, tc.amount)
			if moved != tc.moved || d.BalanceFen != tc.dBalance || d.CreditShareFen != tc.dShare ||
				c.BalanceFen != tc.cBalance || c.CreditShareFen != tc.cShare {
				t.Errorf("moved %d, debit %d/%d, credit %d/%d; want %d, %d/%d, %d/%d",
					moved, d.BalanceFen, d.CreditShareFen, c.BalanceFen, c.CreditShareFen,
					tc.moved, tc.dBalance, tc.dShare, tc.cBalance, tc.cShare)
			}
		})
	}
}
