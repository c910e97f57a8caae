package ledger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture opens an engine on a memstore with: 1 issuance (no floor), 2 and
// 3 debit accounts holding 10,000 fen each, 4 a credit line (floor −5,000),
// 5 a USD account, 6 frozen, 7 closed.
func fixture(t *testing.T) (*Engine, *fakeClock, *MemStore) {
	t.Helper()
	clock := newFakeClock()
	st := NewMemStore()
	eng, err := Open(context.Background(), st, clock, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	mustOK(t, eng, &Batch{Accounts: []Account{
		{ID: 1, Holder: "pboc", Product: "issuance", Currency: "CNY", Flags: AccountNoFloor},
		{ID: 2, Holder: "alice", Product: "wallet", Currency: "CNY"},
		{ID: 3, Holder: "bob", Product: "wallet", Currency: "CNY"},
		{ID: 4, Holder: "alice", Product: "huabei", Currency: "CNY", FloorFen: -5000},
		{ID: 5, Holder: "alice", Product: "usd", Currency: "USD"},
		{ID: 6, Holder: "carol", Product: "wallet", Currency: "CNY"},
		{ID: 7, Holder: "dave", Product: "wallet", Currency: "CNY"},
	}, Transfers: []Transfer{
		{ID: 900, DebitAccount: 1, CreditAccount: 2, AmountFen: 10000, Currency: "CNY"},
		{ID: 901, DebitAccount: 1, CreditAccount: 3, AmountFen: 10000, Currency: "CNY"},
		{ID: 902, DebitAccount: 1, CreditAccount: 6, AmountFen: 10000, Currency: "CNY"},
		{ID: 903, DebitAccount: 2, CreditAccount: 1, AmountFen: 500, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 60},
		{ID: 904, DebitAccount: 2, CreditAccount: 1, AmountFen: 500, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 60},
		{ID: 905, PendingID: 904, AmountFen: 500, Flags: TransferPostPending},
		{ID: 906, DebitAccount: 2, CreditAccount: 1, AmountFen: 500, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 60},
		{ID: 907, PendingID: 906, Flags: TransferVoidPending},
		{ID: 908, Key: "order-1", DebitAccount: 3, CreditAccount: 2, AmountFen: 100, Currency: "CNY"},
		{ID: 909, DebitAccount: 2, CreditAccount: 1, AmountFen: 500, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 1},
	}, Updates: []AccountUpdate{{ID: 6, Flags: AccountFrozen}, {ID: 7, Flags: AccountClosed}}})
	clock.Advance(2 * time.Second) // 909 expires
	return eng, clock, st
}

// TestTransferCodes: one refused (or accepted) transfer per result code.
func TestTransferCodes(t *testing.T) {
	cny := func(id TransferID, d, c AccountID, amt int64) Transfer {
		return Transfer{ID: id, DebitAccount: d, CreditAccount: c, AmountFen: amt, Currency: "CNY"}
	}
	with := func(tr Transfer, f func(*Transfer)) Transfer { f(&tr); return tr }
	cases := []struct {
		name string
		tr   Transfer
		want Code
	}{
		{"ok", cny(1, 2, 3, 100), ResultOK},
		{"id zero", cny(0, 2, 3, 100), ResultIDZero},
		{"amount zero", cny(1, 2, 3, 0), ResultAmountNotPositive},
		{"amount negative", cny(1, 2, 3, -5), ResultAmountNotPositive},
		{"same account", cny(1, 2, 2, 100), ResultSameAccount},
		{"currency invalid", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Currency = "yuan" }), ResultCurrencyInvalid},
		{"flags invalid", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Flags = TransferPending | TransferPostPending }), ResultFlagsInvalid},
		{"pending without timeout", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Flags = TransferPending }), ResultTimeoutInvalid},
		{"timeout on single-phase", with(cny(1, 2, 3, 100), func(t *Transfer) { t.TimeoutSeconds = 5 }), ResultTimeoutInvalid},
		{"timeout too long", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Flags = TransferPending; t.TimeoutSeconds = MaxTimeoutSeconds + 1 }), ResultTimeoutInvalid},
		{"metadata too long", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Metadata = make([]byte, MaxMetadataBytes+1) }), ResultMetadataTooLong},
		{"key too long", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Key = strings.Repeat("k", MaxKeyLen+1) }), ResultKeyInvalid},
		{"debit not found", cny(1, 99, 3, 100), ResultDebitAccountNotFound},
		{"credit not found", cny(1, 2, 99, 100), ResultCreditAccountNotFound},
		{"currency differs", cny(1, 2, 5, 100), ResultCurrencyMismatch},
		{"debit frozen", cny(1, 6, 3, 100), ResultDebitAccountFrozen},
		{"credit to frozen is fine", cny(1, 3, 6, 100), ResultOK},
		{"debit closed", cny(1, 7, 3, 100), ResultDebitAccountClosed},
		{"credit closed", cny(1, 3, 7, 100), ResultCreditAccountClosed},
		{"exceeds floor", cny(1, 3, 2, 10_001), ResultExceedsFloor},
		// account 2: 10,000 − 500 posted + 100 received = 9,600, minus 500 still held (903)
		{"pending holds count", cny(1, 2, 3, 9101), ResultExceedsFloor},
		{"up to the floor", cny(1, 2, 3, 9100), ResultOK},
		{"credit line to its limit", cny(1, 4, 2, 5000), ResultOK},
		{"credit line past its limit", cny(1, 4, 2, 5001), ResultExceedsFloor},
		{"issuance has no floor", cny(1, 1, 2, 1<<40), ResultOK},
		{"id exists, different fields", cny(900, 1, 2, 10001), ResultIDExistsWithDifferentFields},
		{"id exists, same fields", cny(900, 1, 2, 10000), ResultOK},
		{"key reused, different fields", with(cny(1, 3, 2, 101), func(t *Transfer) { t.Key = "order-1" }), ResultKeyReusedWithDifferentFields},
		{"key reused, same fields", with(cny(1, 3, 2, 100), func(t *Transfer) { t.Key = "order-1" }), ResultOK},
		{"post without pending id", Transfer{ID: 1, AmountFen: 1, Flags: TransferPostPending}, ResultPendingIDInvalid},
		{"pending id on single-phase", with(cny(1, 2, 3, 100), func(t *Transfer) { t.PendingID = 903 }), ResultPendingIDInvalid},
		{"post sets accounts", Transfer{ID: 1, PendingID: 903, DebitAccount: 2, AmountFen: 1, Flags: TransferPostPending}, ResultPostVoidFieldSet},
		{"void sets amount", Transfer{ID: 1, PendingID: 903, AmountFen: 1, Flags: TransferVoidPending}, ResultPostVoidFieldSet},
		{"post amount zero", Transfer{ID: 1, PendingID: 903, Flags: TransferPostPending}, ResultAmountNotPositive},
		{"pending not found", Transfer{ID: 1, PendingID: 77, AmountFen: 1, Flags: TransferPostPending}, ResultPendingNotFound},
		{"not pending", Transfer{ID: 1, PendingID: 900, AmountFen: 1, Flags: TransferPostPending}, ResultNotPending},
		{"post more than held", Transfer{ID: 1, PendingID: 903, AmountFen: 501, Flags: TransferPostPending}, ResultPostAmountExceedsPending},
		{"post less than held", Transfer{ID: 1, PendingID: 903, AmountFen: 499, Flags: TransferPostPending}, ResultOK},
		{"void", Transfer{ID: 1, PendingID: 903, Flags: TransferVoidPending}, ResultOK},
		{"already posted", Transfer{ID: 1, PendingID: 904, AmountFen: 1, Flags: TransferPostPending}, ResultPendingAlreadyPosted},
		{"already voided", Transfer{ID: 1, PendingID: 906, Flags: TransferVoidPending}, ResultPendingAlreadyVoided},
		{"expired", Transfer{ID: 1, PendingID: 909, Flags: TransferVoidPending}, ResultPendingExpired},
		{"credit balance would overflow", cny(1, 1, 2, math.MaxInt64-9000), ResultOverflow},
		{"issuance balance would underflow", cny(1, 1, 3, math.MaxInt64), ResultOverflow},
		{"chain open", with(cny(1, 2, 3, 100), func(t *Transfer) { t.Flags = TransferLinked }), ResultLinkedChainOpen},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng, _, _ := fixture(t)
			rs, err := eng.Transfers(context.Background(), tc.tr)
			if err != nil {
				t.Fatal(err)
			}
			if rs[0].Code != tc.want {
				t.Errorf("got %s, want %s", rs[0].Code, tc.want)
			}
			if v := CheckAccounts(eng.Accounts()); len(v) > 0 {
				t.Errorf("invariants: %v", v)
			}
		})
	}
}

func TestAccountAndUpdateCodes(t *testing.T) {
	cases := []struct {
		name string
		b    Batch
		want Code
	}{
		{"exists same", Batch{Accounts: []Account{{ID: 2, Holder: "alice", Product: "wallet", Currency: "CNY"}}}, ResultOK},
		{"exists different", Batch{Accounts: []Account{{ID: 2, Holder: "eve", Product: "wallet", Currency: "CNY"}}}, ResultAccountExistsWithDifferentFields},
		{"positive floor", Batch{Accounts: []Account{{ID: 20, Currency: "CNY", FloorFen: 1}}}, ResultFloorInvalid},
		{"no floor with floor", Batch{Accounts: []Account{{ID: 20, Currency: "CNY", FloorFen: -1, Flags: AccountNoFloor}}}, ResultFloorInvalid},
		{"created closed", Batch{Accounts: []Account{{ID: 20, Currency: "CNY", Flags: AccountClosed}}}, ResultFlagsInvalid},
		{"long name", Batch{Accounts: []Account{{ID: 20, Currency: "CNY", Holder: strings.Repeat("x", MaxNameLen+1)}}}, ResultNameInvalid},
		{"bad currency", Batch{Accounts: []Account{{ID: 20, Currency: "cny"}}}, ResultCurrencyInvalid},
		{"update missing", Batch{Updates: []AccountUpdate{{ID: 99}}}, ResultAccountNotFound},
		{"close non-empty", Batch{Updates: []AccountUpdate{{ID: 2, Flags: AccountClosed}}}, ResultAccountNotEmpty},
		{"raise floor above balance", Batch{Updates: []AccountUpdate{{ID: 3, SetFloor: true, FloorFen: 0, Flags: AccountDebitsMustNotExceedCredits}}}, ResultOK},
		{"cut credit line below use", Batch{Updates: []AccountUpdate{{ID: 4, SetFloor: true, FloorFen: 0}}}, ResultOK},
		{"drop no-floor", Batch{Updates: []AccountUpdate{{ID: 1}}}, ResultFlagsInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			eng, _, _ := fixture(t)
			r, err := eng.Submit(context.Background(), &tc.b)
			if err != nil {
				t.Fatal(err)
			}
			got := append(r.Accounts, r.Updates...)[0].Code
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	// A credit line in use cannot have its limit cut below what it owes.
	eng, _, _ := fixture(t)
	mustOK(t, eng, &Batch{Transfers: []Transfer{{ID: 1, DebitAccount: 4, CreditAccount: 2, AmountFen: 3000, Currency: "CNY"}}})
	r, _ := eng.Submit(context.Background(), &Batch{Updates: []AccountUpdate{{ID: 4, SetFloor: true, FloorFen: -2999}}})
	if r.Updates[0].Code != ResultExceedsFloor {
		t.Errorf("cut below use: got %s", r.Updates[0].Code)
	}
}

func TestLinkedAndAllOrNone(t *testing.T) {
	eng, _, _ := fixture(t)
	before := eng.Accounts()
	r, err := eng.Transfers(context.Background(),
		Transfer{ID: 1, DebitAccount: 2, CreditAccount: 3, AmountFen: 100, Currency: "CNY", Flags: TransferLinked},
		Transfer{ID: 2, DebitAccount: 3, CreditAccount: 2, AmountFen: 1 << 30, Currency: "CNY", Flags: TransferLinked},
		Transfer{ID: 3, DebitAccount: 2, CreditAccount: 3, AmountFen: 100, Currency: "CNY"},
		Transfer{ID: 4, DebitAccount: 2, CreditAccount: 3, AmountFen: 100, Currency: "CNY"},
	)
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Code: ResultLinkedFailed, FailedIndex: 1, FailedCode: ResultExceedsFloor},
		{Code: ResultExceedsFloor},
		{Code: ResultLinkedFailed, FailedIndex: 1, FailedCode: ResultExceedsFloor},
	}
	for i, w := range want {
		if r[i] != w {
			t.Errorf("transfer %d: %+v, want %+v", i, r[i], w)
		}
	}
	if r[3].Code != ResultOK {
		t.Errorf("independent transfer after the chain: %s", r[3].Code)
	}
	a2, _ := eng.Account(2)
	if a2.BalanceFen != before[1].BalanceFen-100 {
		t.Errorf("chain left a trace: balance %d", a2.BalanceFen)
	}
	// All-or-none: a counter over its maximum undoes the transfer and the record.
	res, err := eng.Submit(context.Background(), &Batch{AllOrNone: true,
		Transfers: []Transfer{{ID: 10, DebitAccount: 2, CreditAccount: 3, AmountFen: 100, Currency: "CNY"}},
		Counters:  []CounterDelta{{Key: "alice/day", Delta: 100, MaxValue: 99}},
		Records:   []Record{{Kind: "outbox", Data: []byte("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failure == nil || res.Failure.Part != "counters" || res.Failure.Code != ResultCounterExceeded ||
		res.Transfers[0].Code != ResultLinkedFailed {
		t.Fatalf("got %s", describe(res))
	}
	if _, err := eng.Transfer(context.Background(), 10); !errors.Is(err, ErrNotFound) {
		t.Errorf("transfer 10 stored despite failure: %v", err)
	}
	if recs, _ := eng.Records(context.Background(), "", 0, 10); len(recs) != 0 {
		t.Errorf("record stored despite failure: %+v", recs)
	}
}

func TestExpiryOnClock(t *testing.T) {
	eng, clock, _ := fixture(t)
	ctx := context.Background()
	mustOK(t, eng, &Batch{Transfers: []Transfer{{ID: 1, DebitAccount: 3, CreditAccount: 2, AmountFen: 700, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 30}}})
	a, _ := eng.Account(3)
	if a.DebitsPendingFen != 700 {
		t.Fatalf("hold not visible: %+v", a)
	}
	clock.Advance(29 * time.Second)
	if err := eng.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if tr, _ := eng.Transfer(ctx, 1); tr.State != StatePending {
		t.Fatalf("expired early: %s", tr.State)
	}
	clock.Advance(time.Second)
	if err := eng.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if tr, _ := eng.Transfer(ctx, 1); tr.State != StateExpired {
		t.Fatalf("not expired at its timeout: %s", tr.State)
	}
	if a, _ := eng.Account(3); a.DebitsPendingFen != 0 {
		t.Fatalf("hold not released: %+v", a)
	}
}

func TestHistoryPagination(t *testing.T) {
	eng, _, _ := fixture(t)
	ctx := context.Background()
	var ts []Transfer
	for i := range 25 {
		ts = append(ts, Transfer{ID: TransferID(100 + i), DebitAccount: 3, CreditAccount: 2, AmountFen: 1, Currency: "CNY"})
	}
	mustOK(t, eng, &Batch{Transfers: ts})
	var got []TransferID
	var after int64
	for pages := 0; ; pages++ {
		p, err := eng.History(ctx, 3, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range p.Transfers {
			got = append(got, tr.ID)
		}
		if p.Next == 0 {
			break
		}
		after = p.Next
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	// account 3: funding 901, order-1 908, then the 25.
	if len(got) != 27 || got[0] != 901 || got[1] != 908 || got[26] != 124 {
		t.Fatalf("history %v", got)
	}
	if _, err := eng.History(ctx, 3, 0, 0); !errors.Is(err, ErrBatchInvalid) {
		t.Errorf("limit 0: %v", err)
	}
}

func TestBatchLimits(t *testing.T) {
	eng, _, _ := fixture(t)
	ctx := context.Background()
	for _, b := range []*Batch{
		nil,
		{Transfers: make([]Transfer, MaxBatchTransfers+1)},
		{Records: []Record{{Kind: ""}}},
		{Records: []Record{{Kind: "x", Data: make([]byte, MaxRecordBytes+1)}}},
	} {
		if _, err := eng.Submit(ctx, b); !errors.Is(err, ErrBatchInvalid) {
			t.Errorf("batch accepted: %v", err)
		}
	}
}

// TestStoreFailureStopsEngine: a failed commit fails its submitters and
// every later one; reopening shows only what was committed.
func TestStoreFailureStopsEngine(t *testing.T) {
	eng, clock, st := fixture(t)
	ctx := context.Background()
	before := eng.Accounts()
	st.FailCommits(errors.New("disk full"))
	if _, err := eng.Transfers(ctx, Transfer{ID: 1, DebitAccount: 2, CreditAccount: 3, AmountFen: 1, Currency: "CNY"}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("got %v, want ErrStoreFailed", err)
	}
	if _, err := eng.Transfers(ctx, Transfer{ID: 2, DebitAccount: 2, CreditAccount: 3, AmountFen: 1, Currency: "CNY"}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("later submit: got %v", err)
	}
	eng.Close()
	st.FailCommits(nil)
	eng2, err := Open(ctx, st.Reopen(), clock, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng2.Close()
	after := eng2.Accounts()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("state changed by a failed commit:\n%v\n%v", before, after)
	}
	if _, err := eng2.Transfer(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uncommitted transfer present: %v", err)
	}
}

// TestConcurrentSubmitters: many goroutines move money at random between
// accounts (including a hot one); totals are conserved, every accepted
// transfer is stored, and nothing deadlocks. Run it with -race.
func TestConcurrentSubmitters(t *testing.T) {
	const accounts, workers, perWorker = 50, 16, 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := NewMemStore()
	eng, err := Open(ctx, st, newFakeClock(), Options{MaxGroupTransfers: 64, QueueDepth: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	as := benchAccounts(accounts)
	mustOK(t, eng, &Batch{Accounts: as, Transfers: fund(accounts)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted := 0
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for i := range perWorker {
				id := TransferID(w*perWorker + i + 1)
				d := AccountID(2 + r.IntN(accounts-1))
				if i%3 == 0 {
					d = 2 // hot account
				}
				c := AccountID(2 + r.IntN(accounts-1))
				if c == d {
					continue
				}
				tr := Transfer{ID: id, DebitAccount: d, CreditAccount: c, AmountFen: 1 + r.Int64N(1_000_000), Currency: "CNY"}
				if i%5 == 0 {
					tr.Flags = TransferPending
					tr.TimeoutSeconds = 60
				}
				res, err := eng.Transfers(ctx, tr)
				if err != nil {
					t.Error(err)
					return
				}
				if res[0].Code == ResultOK {
					mu.Lock()
					accepted++
					mu.Unlock()
				}
				runtime.Gosched()
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("deadlock: submitters did not finish")
	}
	if v := CheckAccounts(eng.Accounts()); len(v) > 0 {
		t.Fatalf("invariants: %v", v)
	}
	n := 0
	for id := TransferID(1); id <= workers*perWorker; id++ {
		if _, err := eng.Transfer(ctx, id); err == nil {
			n++
		}
	}
	if n != accepted || accepted == 0 {
		t.Fatalf("%d transfers stored, %d accepted", n, accepted)
	}
}

// TestTickEveryExpiresWithoutTraffic: with Options.TickEvery, holds expire
// on the engine's clock although nobody submits.
func TestTickEveryExpiresWithoutTraffic(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	eng, err := Open(ctx, NewMemStore(), clock, Options{TickEvery: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	mustOK(t, eng, &Batch{Accounts: []Account{{ID: 1, Currency: "CNY", Flags: AccountNoFloor}, {ID: 2, Currency: "CNY"}},
		Transfers: []Transfer{{ID: 1, DebitAccount: 1, CreditAccount: 2, AmountFen: 10, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 10}}})
	clock.Advance(11 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if tr, _ := eng.Transfer(ctx, 1); tr.State == StateExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("hold did not expire")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if a, _ := eng.Account(1); a.DebitsPendingFen != 0 {
		t.Fatalf("hold not released: %+v", a)
	}
}
