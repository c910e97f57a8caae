package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// Open a ledger on a SQLite file, move money, restart, and read it back.
func Example() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "ledger.db")
	ctx := context.Background()
	clock := fixedClock{time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

	store, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	engine, _ := ledger.Open(ctx, store, clock, ledger.Options{})
	engine.CreateAccounts(ctx,
		ledger.Account{ID: 1, Holder: "bank", Institution: "icbc", Product: "issuance", Currency: "CNY", Flags: ledger.AccountNoFloor},
		ledger.Account{ID: 2, Holder: "li", Institution: "alipay", Product: "alipay.balance", Currency: "CNY"})
	res, _ := engine.Transfers(ctx,
		ledger.Transfer{ID: 10, Key: "top-up-1", DebitAccount: 1, CreditAccount: 2, AmountFen: 100_00, Currency: "CNY"},
		ledger.Transfer{ID: 11, DebitAccount: 2, CreditAccount: 1, AmountFen: 500_00, Currency: "CNY"})
	fmt.Println(res[0].Code, res[1].Code)
	engine.Close()
	store.Close() // every acknowledged transfer is already durable

	store, _ = sqlite.Open(path, sqlite.Options{MustExist: true})
	defer store.Close()
	engine, _ = ledger.Open(ctx, store, clock, ledger.Options{})
	defer engine.Close()
	acc, _ := engine.Account(2)
	t, _ := engine.TransferByKey(ctx, "top-up-1")
	page, _ := engine.History(ctx, 2, 0, 10)
	fmt.Println(acc.BalanceFen, t.ID, len(page.Transfers))
	// Output:
	// ok exceeds_floor
	// 10000 10 1
}
