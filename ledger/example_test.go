package ledger_test

import (
	"context"
	"fmt"
	"time"

	"github.com/paybridge/paybridge/ledger"
)

// fixedClock is a clock that only moves when told.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

// A credit line (Huabei-like, floor −5,000.00) pays a merchant; part of the
// merchant's money is then withdrawn to a bank: the credit-derived share
// follows pro rata. A two-phase hold is then posted for less than it held.
func Example() {
	ctx := context.Background()
	clock := &fixedClock{time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)}
	eng, err := ledger.Open(ctx, ledger.NewMemStore(), clock, ledger.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer eng.Close()

	const (
		huabei   ledger.AccountID = 1
		merchant ledger.AccountID = 2
		bank     ledger.AccountID = 3
	)
	_, _ = eng.CreateAccounts(ctx,
		ledger.Account{ID: huabei, Holder: "alice", Institution: "antgroup", Product: "alipay.huabei", Currency: "CNY", FloorFen: -500000},
		ledger.Account{ID: merchant, Holder: "shop", Institution: "alipay", Product: "merchant.receivable", Currency: "CNY"},
		ledger.Account{ID: bank, Holder: "shop", Institution: "icbc", Product: "bank.debit", Currency: "CNY"},
	)
	res, _ := eng.Transfers(ctx,
		ledger.Transfer{ID: 10, Key: "order-1", DebitAccount: huabei, CreditAccount: merchant, AmountFen: 100000, Currency: "CNY"},
		ledger.Transfer{ID: 11, DebitAccount: merchant, CreditAccount: bank, AmountFen: 40000, Currency: "CNY"},
		ledger.Transfer{ID: 12, DebitAccount: merchant, CreditAccount: bank, AmountFen: 90000, Currency: "CNY"},
	)
	for _, r := range res {
		fmt.Println("transfer:", r.Code)
	}
	// Two-phase: hold 300.00, post 250.00; the other 50.00 is released.
	res, _ = eng.Transfers(ctx,
		ledger.Transfer{ID: 20, DebitAccount: merchant, CreditAccount: bank, AmountFen: 30000, Currency: "CNY",
			Flags: ledger.TransferPending, TimeoutSeconds: 3600},
		ledger.Transfer{ID: 21, PendingID: 20, AmountFen: 25000, Flags: ledger.TransferPostPending},
		ledger.Transfer{ID: 22, PendingID: 20, Flags: ledger.TransferVoidPending},
	)
	for _, r := range res {
		fmt.Println("two-phase:", r.Code)
	}
	// Retrying the first transfer by its key has no second effect.
	res, _ = eng.Transfers(ctx, ledger.Transfer{ID: 99, Key: "order-1", DebitAccount: huabei, CreditAccount: merchant, AmountFen: 100000, Currency: "CNY"})
	fmt.Println("retry:", res[0].Code, "replayed:", res[0].Replayed, "original id:", res[0].ID)

	for _, id := range []ledger.AccountID{huabei, merchant, bank} {
		a, _ := eng.Account(id)
		fmt.Printf("%-20s balance %8d fen, credit-derived %6d fen\n", a.Product, a.BalanceFen, a.CreditShareFen)
	}
	// Output:
	// transfer: ok
	// transfer: ok
	// transfer: exceeds_floor
	// two-phase: ok
	// two-phase: ok
	// two-phase: pending_already_posted
	// retry: ok replayed: true original id: 10
	// alipay.huabei        balance  -100000 fen, credit-derived      0 fen
	// merchant.receivable  balance    35000 fen, credit-derived  35000 fen
	// bank.debit           balance    65000 fen, credit-derived  65000 fen
}
