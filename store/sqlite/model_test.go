package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/ledger"
)

// TestMatchesMemStore is a metamorphic property: any sequence of commits
// (pending transfers posted or voided commits later, counters, records),
// with the read tables materialised at random points (so state changes hit
// transfers in earlier chunks) and the store reopened at random points,
// reads exactly like the in-memory store.
func TestMatchesMemStore(t *testing.T) {
	dir := t.TempDir()
	n := 0
	rapid.Check(t, func(rt *rapid.T) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("m%d.db", n))
		s, err := Open(path, Options{IdleIndex: -1})
		if err != nil {
			rt.Fatal(err)
		}
		defer func() { s.Close() }()
		mem := ledger.NewMemStore()
		ctx := context.Background()
		var pending []ledger.TransferID
		ts := int64(1000)
		id := ledger.TransferID(0)
		rec := uint64(0)
		commits := rapid.IntRange(1, 12).Draw(rt, "commits")
		for seq := uint64(1); seq <= uint64(commits); seq++ {
			c := &ledger.CommitRecord{Seq: seq}
			for i, k := 0, rapid.IntRange(0, 3).Draw(rt, "accounts"); i < k; i++ {
				aid := ledger.AccountID(rapid.IntRange(1, 4).Draw(rt, "account"))
				c.Accounts = append(c.Accounts, ledger.Account{ID: aid, Currency: "CNY", Holder: "h",
					BalanceFen: rapid.Int64Range(-100, 100).Draw(rt, "bal"), Timestamp: ts})
			}
			for i, k := 0, rapid.IntRange(0, 5).Draw(rt, "transfers"); i < k; i++ {
				id++
				ts += rapid.Int64Range(1, 5).Draw(rt, "dts")
				d := ledger.AccountID(rapid.IntRange(1, 4).Draw(rt, "debit"))
				t := ledger.Transfer{ID: id, DebitAccount: d, CreditAccount: d%4 + 1, AmountFen: 7, Currency: "CNY",
					Timestamp: ts, State: ledger.StatePosted}
				if rapid.Bool().Draw(rt, "keyed") {
					t.Key = fmt.Sprintf("key-%d", id)
				}
				if rapid.IntRange(0, 2).Draw(rt, "kind") == 0 {
					t.Flags, t.State = ledger.TransferPending, ledger.StatePending
					pending = append(pending, id)
				}
				c.Transfers = append(c.Transfers, t)
			}
			for len(pending) > 0 && rapid.Bool().Draw(rt, "resolve") {
				j := rapid.IntRange(0, len(pending)-1).Draw(rt, "which")
				state := rapid.SampledFrom([]ledger.TransferState{ledger.StatePosted, ledger.StateVoided, ledger.StateExpired}).Draw(rt, "state")
				c.StateChanges = append(c.StateChanges, ledger.StateChange{ID: pending[j], State: state})
				pending = append(pending[:j], pending[j+1:]...)
			}
			if rapid.Bool().Draw(rt, "counter") {
				c.Counters = append(c.Counters, ledger.Counter{Key: fmt.Sprintf("c%d", seq%3), Value: int64(seq)})
			}
			if rapid.Bool().Draw(rt, "record") {
				rec++
				c.Records = append(c.Records, ledger.Record{Seq: rec, CommitSeq: seq, Kind: fmt.Sprintf("k%d", rec%2), Key: "x", Data: []byte{byte(rec)}})
			}
			ts++
			c.Timestamp = ts
			if err := s.Commit(ctx, c); err != nil {
				rt.Fatalf("sqlite commit %d: %v", seq, err)
			}
			if err := mem.Commit(ctx, c); err != nil {
				rt.Fatalf("mem commit %d: %v", seq, err)
			}
			switch rapid.IntRange(0, 3).Draw(rt, "then") {
			case 0:
				if err := s.Index(); err != nil {
					rt.Fatalf("index after commit %d: %v", seq, err)
				}
			case 1:
				if err := s.Close(); err != nil {
					rt.Fatal(err)
				}
				if s, err = Open(path, Options{MustExist: true, IdleIndex: -1}); err != nil {
					rt.Fatal(err)
				}
			}
		}
		compareStores(rt, s, mem, id)
	})
}

func compareStores(t *rapid.T, s *Store, mem *ledger.MemStore, lastID ledger.TransferID) {
	ctx := context.Background()
	for id := ledger.TransferID(1); id <= lastID+1; id++ {
		a, errA := s.Transfer(ctx, id)
		b, errB := mem.Transfer(ctx, id)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("Transfer(%d): sqlite %+v, %v; mem %+v, %v", id, a, errA, b, errB)
		}
		key := fmt.Sprintf("key-%d", id)
		a, errA = s.TransferByKey(ctx, key)
		b, errB = mem.TransferByKey(ctx, key)
		if (errA == nil) != (errB == nil) || !reflect.DeepEqual(a, b) {
			t.Fatalf("TransferByKey(%s): sqlite %+v, %v; mem %+v, %v", key, a, errA, b, errB)
		}
	}
	limit := rapid.IntRange(1, 4).Draw(t, "limit")
	for acc := ledger.AccountID(1); acc <= 5; acc++ {
		after := int64(0)
		for {
			a, errA := s.History(ctx, acc, after, limit)
			b, errB := mem.History(ctx, acc, after, limit)
			if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
				t.Fatalf("History(%d, %d, %d): sqlite %+v, %v; mem %+v, %v", acc, after, limit, a, errA, b, errB)
			}
			if a.Next == 0 {
				break
			}
			after = a.Next
		}
	}
	for _, kind := range []string{"", "k0", "k1"} {
		a, errA := s.Records(ctx, kind, 0, ledger.MaxHistoryPage)
		b, errB := mem.Records(ctx, kind, 0, ledger.MaxHistoryPage)
		if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("Records(%q): sqlite %+v, %v; mem %+v, %v", kind, a, errA, b, errB)
		}
	}
	var la, lb recorder
	ma, errA := s.Load(ctx, &la)
	mb, errB := mem.Load(ctx, &lb)
	if errA != nil || errB != nil || ma != mb || !reflect.DeepEqual(la, lb) {
		t.Fatalf("Load: sqlite %+v %v; mem %+v %v", ma, errA, mb, errB)
	}
}

type recorder struct {
	acc []ledger.Account
	tr  []ledger.Transfer
	ctr []ledger.Counter
}

func (r *recorder) VisitAccount(a ledger.Account) error   { r.acc = append(r.acc, a); return nil }
func (r *recorder) VisitTransfer(t ledger.Transfer) error { r.tr = append(r.tr, t); return nil }
func (r *recorder) VisitCounter(c ledger.Counter) error   { r.ctr = append(r.ctr, c); return nil }
