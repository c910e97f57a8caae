// Package storetest is the conformance suite every ledger.Store must pass:
// commit/load round trip, lookups by id and idempotency key, history
// pagination, records, commit ordering, reopening after Close, a failed
// commit leaving nothing behind, and reads concurrent with commits seeing
// only whole commits. Each store package runs it from its tests:
//
//	storetest.Run(t, openEmpty, reopen)
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/paybridge/paybridge/ledger"
)

// Failer is implemented by stores that can inject a commit failure (for the
// "a failed commit leaves nothing" check): every Commit fails with err until
// FailCommits(nil).
type Failer interface{ FailCommits(err error) }

// Run runs the suite. open returns a new, empty store; reopen, given a
// store from open that the suite has closed, returns a fresh handle on the
// same data (as after a process restart).
func Run(t *testing.T, open func(t *testing.T) ledger.Store, reopen func(t *testing.T, closed ledger.Store) ledger.Store) {
	t.Run("EmptyLoad", func(t *testing.T) { testEmptyLoad(t, open(t)) })
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, open(t)) })
	t.Run("Lookups", func(t *testing.T) { testLookups(t, open(t)) })
	t.Run("CommitOrder", func(t *testing.T) { testCommitOrder(t, open(t)) })
	t.Run("HistoryPagination", func(t *testing.T) { testHistory(t, open(t)) })
	t.Run("Records", func(t *testing.T) { testRecords(t, open(t)) })
	t.Run("KeyRecords", func(t *testing.T) { testKeyRecords(t, open(t)) })
	t.Run("Reopen", func(t *testing.T) { testReopen(t, open(t), reopen) })
	t.Run("FailedCommitLeavesNothing", func(t *testing.T) { testFailedCommit(t, open(t)) })
	t.Run("ConcurrentReads", func(t *testing.T) { testConcurrentReads(t, open(t)) })
}

// tsBase is an arbitrary engine-clock origin (Unix ns).
const tsBase = int64(1_750_000_000_000_000_000)

func account(id ledger.AccountID, floor int64, flags ledger.AccountFlags, balance int64) ledger.Account {
	return ledger.Account{
		ID: id, Holder: fmt.Sprintf("holder-%d", id), Institution: "alipay", Product: "alipay.balance",
		Currency: "CNY", FloorFen: floor, Flags: flags, BalanceFen: balance, Timestamp: tsBase + int64(id),
	}
}

func transfer(id ledger.TransferID, key string, debit, credit ledger.AccountID, amount, ts int64) ledger.Transfer {
	return ledger.Transfer{
		ID: id, Key: key, DebitAccount: debit, CreditAccount: credit, AmountFen: amount,
		Currency: "CNY", Code: 7, Timestamp: ts, State: ledger.StatePosted,
	}
}

// fixture is three commits exercising every part of a CommitRecord.
func fixture() []*ledger.CommitRecord {
	pend := transfer(20, "hold-20", 2, 3, 500, tsBase+2_002)
	pend.Flags, pend.TimeoutSeconds, pend.State = ledger.TransferPending, 3600, ledger.StatePending
	post := transfer(21, "post-21", 2, 3, 400, tsBase+3_001)
	post.Flags, post.PendingID, post.CreditShareFen = ledger.TransferPostPending, 20, 100
	meta := transfer(11, "", 1, 2, 250, tsBase+1_002)
	meta.Metadata = []byte(`{"order":"A-1"}`)
	return []*ledger.CommitRecord{
		{
			Seq: 1, Timestamp: tsBase + 1_010,
			Accounts: []ledger.Account{
				account(1, 0, ledger.AccountNoFloor, -1000), account(2, -5000, 0, 750), account(3, 0, ledger.AccountFrozen, 250),
			},
			Transfers: []ledger.Transfer{transfer(10, "k-10", 1, 2, 1000, tsBase+1_001), meta},
			Counters:  []ledger.Counter{{Key: "daily:2", Value: 1000}},
			Records:   []ledger.Record{{Seq: 1, CommitSeq: 1, Kind: "outbox", Key: "p-1", Data: []byte("created")}},
		},
		{
			Seq: 2, Timestamp: tsBase + 2_010,
			Accounts: []ledger.Account{func() ledger.Account {
				a := account(2, -5000, 0, 750)
				a.DebitsPendingFen = 500
				return a
			}(), func() ledger.Account {
				a := account(3, 0, ledger.AccountFrozen, 250)
				a.CreditsPendingFen = 500
				return a
			}()},
			Transfers: []ledger.Transfer{pend},
			Counters:  []ledger.Counter{{Key: "daily:2", Value: 1500}, {Key: "quota:3", Value: 1}},
			Records: []ledger.Record{
				{Seq: 2, CommitSeq: 2, Kind: "payment", Key: "p-1", Data: []byte{0, 1, 2}},
				{Seq: 3, CommitSeq: 2, Kind: "outbox", Key: "p-1", Data: []byte("held")},
			},
		},
		{
			Seq: 3, Timestamp: tsBase + 3_010,
			Accounts: []ledger.Account{func() ledger.Account {
				a := account(2, -5000, 0, 350)
				return a
			}(), func() ledger.Account {
				a := account(3, 0, ledger.AccountFrozen, 650)
				a.CreditShareFen = 100
				return a
			}()},
			Transfers:    []ledger.Transfer{post},
			StateChanges: []ledger.StateChange{{ID: 20, State: ledger.StatePosted}},
		},
	}
}

// collector is a ledger.Visitor that keeps what it is shown and checks the
// order Load promises.
type collector struct {
	accounts  []ledger.Account
	transfers []ledger.Transfer
	counters  []ledger.Counter
	err       error
}

func (c *collector) VisitAccount(a ledger.Account) error {
	if len(c.transfers) > 0 || len(c.counters) > 0 {
		c.err = errors.New("account visited after a transfer or counter")
	}
	c.accounts = append(c.accounts, a)
	return nil
}

func (c *collector) VisitTransfer(t ledger.Transfer) error {
	if n := len(c.transfers); n > 0 && c.transfers[n-1].Timestamp >= t.Timestamp {
		c.err = fmt.Errorf("transfer %d visited after transfer %d with a later or equal timestamp", t.ID, c.transfers[n-1].ID)
	}
	if len(c.counters) > 0 {
		c.err = errors.New("transfer visited after a counter")
	}
	c.transfers = append(c.transfers, t)
	return nil
}

func (c *collector) VisitCounter(k ledger.Counter) error {
	c.counters = append(c.counters, k)
	return nil
}

func load(t *testing.T, s ledger.Store) (*collector, ledger.Meta) {
	t.Helper()
	c := &collector{}
	meta, err := s.Load(context.Background(), c)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.err != nil {
		t.Fatalf("Load visit order: %v", c.err)
	}
	return c, meta
}

func commitAll(t *testing.T, s ledger.Store, cs []*ledger.CommitRecord) {
	t.Helper()
	for _, c := range cs {
		if err := s.Commit(context.Background(), c); err != nil {
			t.Fatalf("Commit %d: %v", c.Seq, err)
		}
	}
}

// expected folds commits the way a store must: last account state wins,
// state changes apply, last counter value wins.
func expected(cs []*ledger.CommitRecord) (accounts map[ledger.AccountID]ledger.Account, transfers []ledger.Transfer, counters map[string]int64) {
	accounts, counters = map[ledger.AccountID]ledger.Account{}, map[string]int64{}
	for _, c := range cs {
		for _, a := range c.Accounts {
			accounts[a.ID] = a
		}
		transfers = append(transfers, c.Transfers...)
		for _, sc := range c.StateChanges {
			for i := range transfers {
				if transfers[i].ID == sc.ID {
					transfers[i].State = sc.State
				}
			}
		}
		for _, k := range c.Counters {
			counters[k.Key] = k.Value
		}
	}
	return accounts, transfers, counters
}

func closeStore(t *testing.T, s ledger.Store) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func testEmptyLoad(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	c, meta := load(t, s)
	if len(c.accounts)+len(c.transfers)+len(c.counters) != 0 || meta != (ledger.Meta{}) {
		t.Fatalf("empty store loaded %d accounts, %d transfers, %d counters, meta %+v", len(c.accounts), len(c.transfers), len(c.counters), meta)
	}
}

// checkState compares Load's output with what the commits imply.
func checkState(t *testing.T, s ledger.Store, cs []*ledger.CommitRecord) {
	t.Helper()
	c, meta := load(t, s)
	accounts, transfers, counters := expected(cs)
	if len(c.accounts) != len(accounts) {
		t.Fatalf("Load visited %d accounts, want %d", len(c.accounts), len(accounts))
	}
	for _, a := range c.accounts {
		if !reflect.DeepEqual(a, accounts[a.ID]) {
			t.Errorf("account %d = %+v, want %+v", a.ID, a, accounts[a.ID])
		}
	}
	if !reflect.DeepEqual(normalise(c.transfers), normalise(transfers)) {
		t.Errorf("Load transfers =\n%+v\nwant\n%+v", c.transfers, transfers)
	}
	got := map[string]int64{}
	for _, k := range c.counters {
		got[k.Key] = k.Value
	}
	if !reflect.DeepEqual(got, counters) {
		t.Errorf("Load counters = %v, want %v", got, counters)
	}
	wantMeta := ledger.Meta{}
	for _, cr := range cs {
		wantMeta.LastCommitSeq = cr.Seq
		for _, r := range cr.Records {
			wantMeta.LastRecordSeq = max(wantMeta.LastRecordSeq, r.Seq)
		}
	}
	if meta != wantMeta {
		t.Errorf("Load meta = %+v, want %+v", meta, wantMeta)
	}
}

// normalise makes empty and nil metadata compare equal.
func normalise(ts []ledger.Transfer) []ledger.Transfer {
	out := make([]ledger.Transfer, len(ts))
	for i, t := range ts {
		if len(t.Metadata) == 0 {
			t.Metadata = nil
		}
		out[i] = t
	}
	return out
}

func testRoundTrip(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := fixture()
	commitAll(t, s, cs)
	checkState(t, s, cs)
}

func testLookups(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := fixture()
	commitAll(t, s, cs)
	_, transfers, _ := expected(cs)
	ctx := context.Background()
	for _, want := range normalise(transfers) {
		got, err := s.Transfer(ctx, want.ID)
		if err != nil {
			t.Fatalf("Transfer(%d): %v", want.ID, err)
		}
		if !reflect.DeepEqual(normalise([]ledger.Transfer{got})[0], want) {
			t.Errorf("Transfer(%d) = %+v, want %+v", want.ID, got, want)
		}
		if want.Key == "" {
			continue
		}
		got, err = s.TransferByKey(ctx, want.Key)
		if err != nil {
			t.Fatalf("TransferByKey(%q): %v", want.Key, err)
		}
		if got.ID != want.ID || got.State != want.State {
			t.Errorf("TransferByKey(%q) = transfer %d (%v), want %d (%v)", want.Key, got.ID, got.State, want.ID, want.State)
		}
	}
	if _, err := s.Transfer(ctx, 999); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Transfer(999) error = %v, want ErrNotFound", err)
	}
	for _, key := range []string{"no-such-key", ""} {
		if _, err := s.TransferByKey(ctx, key); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("TransferByKey(%q) error = %v, want ErrNotFound", key, err)
		}
	}
}

func testCommitOrder(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := fixture()
	ctx := context.Background()
	for _, bad := range []uint64{0, 2, 5} {
		c := *cs[0]
		c.Seq = bad
		if err := s.Commit(ctx, &c); !errors.Is(err, ledger.ErrCommitOrder) {
			t.Errorf("Commit seq %d into an empty store: error = %v, want ErrCommitOrder", bad, err)
		}
	}
	checkState(t, s, nil)
	commitAll(t, s, cs[:1])
	if err := s.Commit(ctx, cs[0]); !errors.Is(err, ledger.ErrCommitOrder) {
		t.Errorf("repeating commit 1: error = %v, want ErrCommitOrder", err)
	}
	commitAll(t, s, cs[1:])
	checkState(t, s, cs)
}

// historyCommits builds n commits of per transfers each, alternating the
// direction between accounts 1 and 2 and involving account 3 every third.
func historyCommits(n, per int) []*ledger.CommitRecord {
	var cs []*ledger.CommitRecord
	id := ledger.TransferID(100)
	ts := tsBase
	for seq := 1; seq <= n; seq++ {
		c := &ledger.CommitRecord{Seq: uint64(seq)}
		if seq == 1 {
			c.Accounts = []ledger.Account{account(1, 0, ledger.AccountNoFloor, 0), account(2, 0, 0, 0), account(3, 0, 0, 0)}
		}
		for i := 0; i < per; i++ {
			id++
			ts += 10
			debit, credit := ledger.AccountID(1), ledger.AccountID(2)
			if id%3 == 0 {
				credit = 3
			}
			c.Transfers = append(c.Transfers, transfer(id, fmt.Sprintf("key-%d", id), debit, credit, int64(id), ts))
		}
		c.Timestamp = ts + 1
		cs = append(cs, c)
	}
	return cs
}

func testHistory(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := historyCommits(5, 7) // 35 transfers
	commitAll(t, s, cs)
	_, transfers, _ := expected(cs)
	ctx := context.Background()
	for _, acc := range []ledger.AccountID{1, 2, 3} {
		var want []ledger.Transfer
		for _, tr := range transfers {
			if tr.DebitAccount == acc || tr.CreditAccount == acc {
				want = append(want, tr)
			}
		}
		for _, limit := range []int{1, 4, 10, len(want), len(want) + 1, ledger.MaxHistoryPage} {
			var got []ledger.Transfer
			after := int64(0)
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("account %d limit %d: pagination does not end", acc, limit)
				}
				page, err := s.History(ctx, acc, after, limit)
				if err != nil {
					t.Fatalf("History(%d, %d, %d): %v", acc, after, limit, err)
				}
				if len(page.Transfers) > limit {
					t.Fatalf("History limit %d returned %d", limit, len(page.Transfers))
				}
				got = append(got, page.Transfers...)
				if page.Next == 0 {
					break
				}
				if len(page.Transfers) != limit || page.Next != page.Transfers[len(page.Transfers)-1].Timestamp {
					t.Fatalf("account %d limit %d: Next %d after a page of %d", acc, limit, page.Next, len(page.Transfers))
				}
				after = page.Next
			}
			if !reflect.DeepEqual(normalise(got), normalise(want)) {
				t.Errorf("account %d limit %d: paged history has %d transfers, want %d (or they differ)", acc, limit, len(got), len(want))
			}
		}
	}
	if page, err := s.History(ctx, 42, 0, 10); err != nil || len(page.Transfers) != 0 || page.Next != 0 {
		t.Errorf("History of an unknown account = %+v, %v; want an empty last page", page, err)
	}
	page, err := s.History(ctx, 1, transfers[len(transfers)-1].Timestamp, 10)
	if err != nil || len(page.Transfers) != 0 {
		t.Errorf("History after the last timestamp = %d transfers, %v; want none", len(page.Transfers), err)
	}
}

func testRecords(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := fixture()
	commitAll(t, s, cs)
	ctx := context.Background()
	all, err := s.Records(ctx, "", 0, 100)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	var want []ledger.Record
	for _, c := range cs {
		want = append(want, c.Records...)
	}
	if !reflect.DeepEqual(all, want) {
		t.Errorf("Records(all) = %+v, want %+v", all, want)
	}
	outbox, err := s.Records(ctx, "outbox", 0, 100)
	if err != nil || len(outbox) != 2 || outbox[0].Seq != 1 || outbox[1].Seq != 3 {
		t.Errorf("Records(outbox) = %+v, %v; want seqs 1 and 3", outbox, err)
	}
	page, err := s.Records(ctx, "", 1, 1)
	if err != nil || len(page) != 1 || page[0].Seq != 2 {
		t.Errorf("Records(after 1, limit 1) = %+v, %v; want seq 2", page, err)
	}
	if none, err := s.Records(ctx, "no-such-kind", 0, 10); err != nil || len(none) != 0 {
		t.Errorf("Records(unknown kind) = %+v, %v; want none", none, err)
	}
}

func testKeyRecords(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	cs := fixture()
	cs = append(cs, &ledger.CommitRecord{Seq: 4, Timestamp: tsBase + 4_010, Records: []ledger.Record{
		{Seq: 4, CommitSeq: 4, Kind: "outbox", Key: "p-2", Data: []byte("created 2")},
		{Seq: 5, CommitSeq: 4, Kind: "outbox", Key: "p-1", Data: []byte("done")},
		{Seq: 6, CommitSeq: 4, Kind: "outbox", Key: "p-3", Data: []byte("created 3")},
	}})
	commitAll(t, s, cs)
	ctx := context.Background()
	seqs := func(rs []ledger.Record) []uint64 {
		out := []uint64{}
		for _, r := range rs {
			out = append(out, r.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		name  string
		kind  string
		keys  []string
		after uint64
		limit int
		want  []uint64
	}{
		{"one key, every kind's record kept apart", "outbox", []string{"p-1"}, 0, 10, []uint64{1, 3, 5}},
		{"other kind", "payment", []string{"p-1"}, 0, 10, []uint64{2}},
		{"two keys in seq order", "outbox", []string{"p-3", "p-1"}, 0, 10, []uint64{1, 3, 5, 6}},
		{"a key twice counts once", "outbox", []string{"p-2", "p-2"}, 0, 10, []uint64{4}},
		{"after", "outbox", []string{"p-1"}, 3, 10, []uint64{5}},
		{"limit", "outbox", []string{"p-1", "p-2"}, 0, 2, []uint64{1, 3}},
		{"unknown key", "outbox", []string{"p-9"}, 0, 10, []uint64{}},
	} {
		got, err := s.KeyRecords(ctx, tc.kind, tc.keys, tc.after, tc.limit)
		if err != nil || !reflect.DeepEqual(seqs(got), tc.want) {
			t.Errorf("%s: KeyRecords(%q, %q, %d, %d) = %v, %v; want seqs %v", tc.name, tc.kind, tc.keys, tc.after, tc.limit, seqs(got), err, tc.want)
		}
	}
	got, err := s.KeyRecords(ctx, "outbox", []string{"p-2"}, 0, 10)
	if err != nil || len(got) != 1 || string(got[0].Data) != "created 2" || got[0].Key != "p-2" || got[0].CommitSeq != 4 {
		t.Errorf("KeyRecords(p-2) = %+v, %v; want the whole record", got, err)
	}
}

func testReopen(t *testing.T, s ledger.Store, reopen func(*testing.T, ledger.Store) ledger.Store) {
	cs := historyCommits(4, 5)
	commitAll(t, s, cs[:3])
	closeStore(t, s)
	ctx := context.Background()
	if err := s.Commit(ctx, cs[3]); !errors.Is(err, ledger.ErrStoreClosed) {
		t.Errorf("Commit after Close: error = %v, want ErrStoreClosed", err)
	}
	if _, err := s.Transfer(ctx, 101); !errors.Is(err, ledger.ErrStoreClosed) {
		t.Errorf("Transfer after Close: error = %v, want ErrStoreClosed", err)
	}
	if _, err := s.Load(ctx, &collector{}); !errors.Is(err, ledger.ErrStoreClosed) {
		t.Errorf("Load after Close: error = %v, want ErrStoreClosed", err)
	}
	s2 := reopen(t, s)
	checkState(t, s2, cs[:3])
	if _, err := s2.TransferByKey(ctx, "key-101"); err != nil {
		t.Errorf("TransferByKey after reopen: %v", err)
	}
	commitAll(t, s2, cs[3:])
	checkState(t, s2, cs)
	if page, err := s2.History(ctx, 1, 0, ledger.MaxHistoryPage); err != nil || len(page.Transfers) != 20 {
		t.Errorf("History after reopen = %d transfers, %v; want 20", len(page.Transfers), err)
	}
	closeStore(t, s2)
}

func testFailedCommit(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	f, ok := s.(Failer)
	if !ok {
		t.Skip("store cannot inject commit failures (does not implement storetest.Failer)")
	}
	cs := fixture()
	commitAll(t, s, cs[:1])
	f.FailCommits(errors.New("injected"))
	if err := s.Commit(context.Background(), cs[1]); err == nil {
		t.Fatal("Commit succeeded while failures were injected")
	}
	f.FailCommits(nil)
	checkState(t, s, cs[:1])
	if _, err := s.Transfer(context.Background(), 20); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("transfer of the failed commit: error = %v, want ErrNotFound", err)
	}
	if recs, err := s.Records(context.Background(), "", 0, 10); err != nil || len(recs) != 1 {
		t.Errorf("records after the failed commit = %d, %v; want 1", len(recs), err)
	}
	commitAll(t, s, cs[1:])
	checkState(t, s, cs)
}

// testConcurrentReads commits pairs of transfers on account 1 while readers
// page its history: every read must see a whole number of commits.
func testConcurrentReads(t *testing.T, s ledger.Store) {
	defer closeStore(t, s)
	const commits, per = 40, 2
	cs := historyCommits(commits, per)
	ctx := context.Background()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	done := make(chan struct{})
	for r := 0; r < 3; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				page, err := s.History(ctx, 1, 0, ledger.MaxHistoryPage)
				if err != nil {
					errc <- err
					return
				}
				if len(page.Transfers)%per != 0 {
					errc <- fmt.Errorf("history of account 1 saw %d transfers: a partial commit", len(page.Transfers))
					return
				}
			}
		}()
	}
	for _, c := range cs {
		if err := s.Commit(ctx, c); err != nil {
			t.Fatalf("Commit %d: %v", c.Seq, err)
		}
	}
	close(done)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	page, err := s.History(ctx, 1, 0, ledger.MaxHistoryPage)
	if err != nil || len(page.Transfers) != commits*per {
		t.Errorf("final history = %d transfers, %v; want %d", len(page.Transfers), err, commits*per)
	}
}
