package payment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
)

var alice = ecosystem.Holder{ID: "alice", Name: "Alice", Kind: ecosystem.HolderPerson, KYCLevel: 2}

// TestAddHolderOpensAndFunds: a holder added with accounts has them at
// their opening balances, funded from the institutions' external accounts
// (the books balance, the money is the institution's issuance), and the
// ecosystem the executor plans on has the holder.
func TestAddHolderOpensAndFunds(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	before := w.x.Ecosystem()
	held := w.held()
	accs, err := w.x.AddHolder(ctx, alice, []Opening{{Product: "alipay.balance", OpeningFen: 50_000}, {Product: "alipay.huabei"}, {Product: "wechat.change"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(accs) != 3 || accs[0].Holder != "alice" || accs[0].BalanceFen != 50_000 || accs[1].FloorFen >= 0 || accs[2].BalanceFen != 0 {
		t.Fatalf("accounts %+v", accs)
	}
	if got := w.balance("alice", "alipay.balance"); got != 50_000 {
		t.Errorf("alipay.balance %d", got)
	}
	if w.held() != held+50_000 {
		t.Errorf("held %d, want %d (the opening is new money from the issuer)", w.held(), held+50_000)
	}
	w.checkBooks(t)
	eco := w.x.Ecosystem()
	if h, ok := eco.Holder("alice"); !ok || *h != alice {
		t.Fatalf("ecosystem holder alice: %v %+v", ok, h)
	}
	if _, ok := before.Holder("alice"); ok || len(before.Holders) != len(eco.Holders)-1 {
		t.Error("the earlier ecosystem value changed")
	}
	if !eco.HoldersAddedTo(before) || before.HoldersAddedTo(eco) {
		t.Error("HoldersAddedTo")
	}
	if got := w.x.AddedHolders(); len(got) != 1 || got[0] != alice {
		t.Errorf("AddedHolders %+v", got)
	}
	// An opening transfer like the seeding's: code CodeOpening, from the issuer.
	page, err := w.led.History(ctx, HolderAccount("alice", "alipay.balance"), 0, 10)
	if err != nil || len(page.Transfers) != 1 {
		t.Fatalf("history %v %+v", err, page)
	}
	if tr := page.Transfers[0]; tr.Code != CodeOpening || tr.DebitAccount != ExternalAccount("alipay") {
		t.Errorf("opening transfer %+v", tr)
	}
	// More accounts later; the same one twice is a conflict.
	if _, err := w.x.OpenAccounts(ctx, "alice", []Opening{{Product: "icbc.debit", OpeningFen: 1000}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.x.OpenAccounts(ctx, "alice", []Opening{{Product: "icbc.debit"}}); !errors.Is(err, ErrAccountExists) {
		t.Errorf("second icbc.debit: %v", err)
	}
	if _, err := w.x.OpenAccounts(ctx, "me", []Opening{{Product: "alipay.balance"}}); !errors.Is(err, ErrAccountExists) {
		t.Errorf("me's seeded alipay.balance: %v", err)
	}
	if _, err := w.x.OpenAccounts(ctx, "bob", []Opening{{Product: "alipay.balance"}}); !errors.Is(err, ErrNoHolder) {
		t.Errorf("unknown holder: %v", err)
	}
	w.checkBooks(t)
}

// TestAddHolderRefusals: bad fields name the field; nothing is written.
func TestAddHolderRefusals(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	shop := ecosystem.Holder{ID: "shop2", Name: "Shop", Kind: ecosystem.HolderMerchant, KYCLevel: 3}
	cases := []struct {
		name  string
		h     ecosystem.Holder
		opens []Opening
		field string // "" : want err
		err   error
	}{
		{"exists in the file", ecosystem.Holder{ID: "me", Name: "Me", Kind: "person"}, nil, "", ErrHolderExists},
		{"empty id", ecosystem.Holder{Name: "X", Kind: "person"}, nil, "id", nil},
		{"bad id", ecosystem.Holder{ID: "a b", Name: "X", Kind: "person"}, nil, "id", nil},
		{"long id", ecosystem.Holder{ID: strings.Repeat("a", 65), Name: "X", Kind: "person"}, nil, "id", nil},
		{"institution id", ecosystem.Holder{ID: "alipay", Name: "X", Kind: "person"}, nil, "id", nil},
		{"no name", ecosystem.Holder{ID: "x", Name: " ", Kind: "person"}, nil, "name", nil},
		{"bad kind", ecosystem.Holder{ID: "x", Name: "X", Kind: "robot"}, nil, "kind", nil},
		{"bad kyc", ecosystem.Holder{ID: "x", Name: "X", Kind: "person", KYCLevel: 4}, nil, "kyc_level", nil},
		{"default", ecosystem.Holder{ID: "x", Name: "X", Kind: "person", Default: true}, nil, "default", nil},
		{"unknown product", alice, []Opening{{Product: "alipay.balanse"}}, "accounts[0].product", nil},
		{"empty product", alice, []Opening{{Product: ""}}, "accounts[0].product", nil},
		{"merchant product for a person", alice, []Opening{{Product: "alipay.balance"}, {Product: "alipay.merchant"}}, "accounts[1].product", nil},
		{"listed holders only", shop, []Opening{{Product: "alipay.merchant"}}, "accounts[0].product", nil},
		{"person product for a merchant", shop, []Opening{{Product: "alipay.huabei"}}, "accounts[0].product", nil},
		{"twice", alice, []Opening{{Product: "alipay.balance"}, {Product: "alipay.balance"}}, "accounts[1].product", nil},
		{"opening on credit", alice, []Opening{{Product: "alipay.huabei", OpeningFen: 100}}, "accounts[0].opening_balance_fen", nil},
		{"negative opening", alice, []Opening{{Product: "alipay.balance", OpeningFen: -1}}, "accounts[0].opening_balance_fen", nil},
		{"huge opening", alice, []Opening{{Product: "alipay.balance", OpeningFen: MaxOpeningFen + 1}}, "accounts[0].opening_balance_fen", nil},
		{"too many", alice, make([]Opening, MaxOpenings+1), "accounts", nil},
	}
	n := len(w.led.Accounts())
	for _, c := range cases {
		_, err := w.x.AddHolder(ctx, c.h, c.opens)
		var re *RequestError
		switch {
		case c.err != nil:
			if !errors.Is(err, c.err) {
				t.Errorf("%s: %v, want %v", c.name, err, c.err)
			}
		case !errors.As(err, &re) || re.Field != c.field:
			t.Errorf("%s: %v, want a request error on %s", c.name, err, c.field)
		}
	}
	if len(w.led.Accounts()) != n || len(w.x.AddedHolders()) != 0 {
		t.Errorf("refused additions wrote: %d accounts (had %d), added %v", len(w.led.Accounts()), n, w.x.AddedHolders())
	}
	// e-CNY wallet classes: class IV (KYC 0) holds at most 1,000 yuan.
	low := ecosystem.Holder{ID: "low", Name: "Low", Kind: "person", KYCLevel: 0}
	var re *RequestError
	if _, err := w.x.AddHolder(ctx, low, []Opening{{Product: "ecny.wallet", OpeningFen: 100_001}}); !errors.As(err, &re) || re.Field != "accounts[0].opening_balance_fen" {
		t.Errorf("an opening over the wallet class cap: %v", err)
	}
	if _, err := w.x.AddHolder(ctx, low, []Opening{{Product: "ecny.wallet", OpeningFen: 100_000}}); err != nil {
		t.Errorf("an opening at the wallet class cap: %v", err)
	}
	if _, err := w.x.AddHolder(ctx, shop, nil); err != nil {
		t.Fatalf("a merchant with no accounts: %v", err)
	}
	if _, err := w.x.AddHolder(ctx, shop, nil); !errors.Is(err, ErrHolderExists) {
		t.Errorf("the same holder again: %v", err)
	}
}

// TestAddedHolderSurvivesRestart: the holder, its accounts and balances
// come back from the ledger, and a failed commit leaves no trace.
func TestAddedHolderSurvivesRestart(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	if _, err := w.x.AddHolder(ctx, alice, []Opening{{Product: "alipay.balance", OpeningFen: 70_000}}); err != nil {
		t.Fatal(err)
	}
	w.store.FailCommits(errors.New("disk full"))
	bob := ecosystem.Holder{ID: "bob", Name: "Bob", Kind: "person"}
	if _, err := w.x.AddHolder(ctx, bob, []Opening{{Product: "alipay.balance", OpeningFen: 1}}); err == nil {
		t.Fatal("a failed commit reported success")
	}
	if _, ok := w.x.Ecosystem().Holder("bob"); ok {
		t.Error("bob is visible after a failed commit")
	}
	// Restart: the engine that failed reports it on close.
	w.led.Close()
	w.store.FailCommits(nil)
	w.store = w.store.Reopen()
	w.open(t, compliance.PolicyStrict)
	eco := w.x.Ecosystem()
	if h, ok := eco.Holder("alice"); !ok || *h != alice {
		t.Fatalf("after restart: alice %v %+v", ok, h)
	}
	if _, ok := eco.Holder("bob"); ok {
		t.Error("bob came back from a failed commit")
	}
	if got := w.balance("alice", "alipay.balance"); got != 70_000 {
		t.Errorf("balance after restart %d", got)
	}
	if got := w.x.AddedHolders(); len(got) != 1 || got[0].ID != "alice" {
		t.Errorf("AddedHolders after restart %+v", got)
	}
	// The file's holders come first and keep their order.
	if eco.Holders[0].ID != "me" || eco.Holders[len(eco.Holders)-1].ID != "alice" {
		t.Errorf("holders %+v", eco.Holders)
	}
	w.checkBooks(t)
}

// TestPayNewHolder: payments from and to an added holder; a payment to
// a holder that did not exist yet is refused, and works once it exists
// (no refusal is remembered).
func TestPayNewHolder(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	toBob := Request{From: "alipay.balance", To: "alipay.balance", ToHolder: "bob", AmountFen: 3_000, Seed: 1}
	var re *RequestError
	if _, err := w.x.Pay(ctx, toBob); !errors.As(err, &re) || re.Field != "to_holder" {
		t.Fatalf("to an unknown holder: %v", err)
	}
	if _, err := w.x.AddHolder(ctx, ecosystem.Holder{ID: "bob", Name: "Bob", Kind: "person", KYCLevel: 2}, []Opening{{Product: "alipay.balance"}}); err != nil {
		t.Fatal(err)
	}
	p, err := w.x.Pay(ctx, toBob)
	if err != nil || p.State != StateCompleted {
		t.Fatalf("to bob: %v %+v", err, p)
	}
	if got := w.balance("bob", "alipay.balance"); got != 3_000 {
		t.Errorf("bob has %d", got)
	}
	if _, err := w.x.AddHolder(ctx, alice, []Opening{{Product: "alipay.balance", OpeningFen: 20_000}}); err != nil {
		t.Fatal(err)
	}
	p, err = w.x.Pay(ctx, Request{From: "alipay.balance", FromHolder: "alice", To: "alipay.balance", ToHolder: "bob", AmountFen: 5_000, Seed: 1})
	if err != nil || p.State != StateCompleted {
		t.Fatalf("alice to bob: %v %+v", err, p)
	}
	if a, b := w.balance("alice", "alipay.balance"), w.balance("bob", "alipay.balance"); a+b != 20_000+3_000 || b < 8_000 {
		t.Errorf("alice %d, bob %d", a, b)
	}
	w.checkBooks(t)
	w.noPending(t)
}

// TestAddHolderConcurrentWithPayments: holders are added while payments
// run (go test -race): every payment and every holder goes through, and
// the books balance.
func TestAddHolderConcurrentWithPayments(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, 3*n)
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			h := ecosystem.Holder{ID: fmt.Sprintf("h%02d", i), Name: "H", Kind: "person", KYCLevel: 2}
			if _, err := w.x.AddHolder(ctx, h, []Opening{{Product: "alipay.balance", OpeningFen: 1_000}}); err != nil {
				errs <- err
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "alipay.balance", ToHolder: "friend", AmountFen: 100, Seed: uint64(i)})
			if err != nil {
				errs <- err
			} else if p.State != StateCompleted && p.State != StateRefunded {
				errs <- fmt.Errorf("payment %s: %s", p.ID, p.State)
			}
			// Read whatever holders exist now, as a server's handlers do.
			for _, h := range w.x.Ecosystem().Holders {
				w.led.Account(HolderAccount(h.ID, "alipay.balance"))
			}
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(w.x.AddedHolders()); got != n {
		t.Errorf("%d holders added, want %d", got, n)
	}
	w.checkBooks(t)
	var sum int64
	for _, a := range w.led.Accounts() {
		sum += a.BalanceFen
	}
	if sum != 0 {
		t.Errorf("balances sum to %d, not 0", sum)
	}
}

// TestHolderIDLimitIsTheLedgers: a holder id the ecosystem accepts fits an
// account's holder name.
func TestHolderIDLimitIsTheLedgers(t *testing.T) {
	if ecosystem.MaxHolderIDLength > ledger.MaxNameLen {
		t.Fatalf("ecosystem.MaxHolderIDLength %d > ledger.MaxNameLen %d", ecosystem.MaxHolderIDLength, ledger.MaxNameLen)
	}
}

// TestUnopenedAccounts: an added holder's accounts are the ones opened for
// it: no route goes through another (before, the ledger refused the hop
// with an account_not_found), and once accounts are opened the routes
// through them are found (the route memo forgets what it chose before).
func TestUnopenedAccounts(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	if _, err := w.x.AddHolder(ctx, alice, []Opening{{Product: "alipay.balance", OpeningFen: 50_000}}); err != nil {
		t.Fatal(err)
	}
	toWechat := Request{From: "alipay.balance", FromHolder: "alice", To: "wechat.change", AmountFen: 10_000, Seed: 1}
	var re *RequestError
	if _, err := w.x.Pay(ctx, toWechat); !errors.As(err, &re) || re.Field != "to_holder" || !strings.Contains(re.Reason, "no account of product wechat.change") {
		t.Fatalf("to an unopened account: %v", err)
	}
	if _, err := w.x.OpenAccounts(ctx, "alice", []Opening{{Product: "wechat.change"}}); err != nil {
		t.Fatal(err)
	}
	p, err := w.x.Pay(ctx, toWechat)
	if err != nil || p.State != StateRejected || strings.Contains(p.Reason, "not_found") {
		t.Fatalf("with no bank account to pass through: %v %s %q", err, p.State, p.Reason)
	}
	if _, err := w.x.OpenAccounts(ctx, "alice", []Opening{{Product: "icbc.debit"}, {Product: "cmb.debit"}}); err != nil {
		t.Fatal(err)
	}
	p, err = w.x.Pay(ctx, toWechat)
	if err != nil || p.State != StateCompleted {
		t.Fatalf("with bank accounts: %v %s %q", err, p.State, p.Reason)
	}
	for _, h := range p.Spec.Route.Hops {
		for _, prod := range []string{h.From, h.To} {
			if _, ok := w.led.Account(HolderAccount("alice", prod)); !ok {
				t.Errorf("the route passes through alice's unopened %s", prod)
			}
		}
	}
	if got := w.balance("alice", "wechat.change"); got != p.DeliveredFen() || got < 9_000 {
		t.Errorf("wechat.change %d, delivered %d", got, p.DeliveredFen())
	}
	w.checkBooks(t)
	w.noPending(t)
	// After a restart the accounts are read back from the ledger.
	w.reopen(t)
	eco := w.x.Ecosystem()
	for prod, want := range map[string]bool{"alipay.balance": true, "wechat.change": true, "icbc.debit": true, "alipay.huabei": false} {
		if got := eco.HasAccountOf("alice", prod); got != want {
			t.Errorf("after restart alice has %s: %v", prod, got)
		}
	}
}
