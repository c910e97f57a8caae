package ledger

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// fakeClock is a clock the test moves by hand; safe for concurrent use.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func genAccount(t *rapid.T) Account {
	a := Account{
		ID:          AccountID(rapid.SampledFrom([]int{0, 2, 4, 4, 5, 5, 6, 6}).Draw(t, "account.id")),
		Holder:      rapid.SampledFrom([]string{"alice", "bob"}).Draw(t, "holder"),
		Institution: "inst",
		Product:     rapid.SampledFrom([]string{"wallet", "bank"}).Draw(t, "product"),
		Currency:    rapid.SampledFrom([]string{"CNY", "CNY", "CNY", "CNY", "CNY", "USD", "bad"}).Draw(t, "account.currency"),
	}
	switch rapid.IntRange(0, 3).Draw(t, "account.kind") {
	case 1: // credit line
		a.FloorFen = -int64(rapid.IntRange(0, 5000).Draw(t, "limit"))
	case 2: // issuance
		a.Flags |= AccountNoFloor
	case 3:
		a.FloorFen = -int64(rapid.IntRange(0, 5000).Draw(t, "limit"))
		a.Flags |= AccountDebitsMustNotExceedCredits
	}
	return a
}

// pendingIDs are the pending transfers the model holds, so that posts and
// voids mostly name one.
func genTransfer(pendingIDs []TransferID) *rapid.Generator[Transfer] {
	return rapid.Custom(func(t *rapid.T) Transfer { return drawTransfer(t, pendingIDs) })
}

func drawTransfer(t *rapid.T, pendingIDs []TransferID) Transfer {
	pick := func(label string) TransferID {
		if len(pendingIDs) > 0 && rapid.IntRange(0, 4).Draw(t, label+".known") < 4 {
			return rapid.SampledFrom(pendingIDs).Draw(t, label)
		}
		return TransferID(rapid.IntRange(1, 30).Draw(t, label))
	}
	tr := Transfer{
		ID:   TransferID(rapid.IntRange(0, 40).Draw(t, "transfer.id")),
		Key:  rapid.SampledFrom([]string{"", "", "", "k1", "k2", "k3"}).Draw(t, "key"),
		Code: uint16(rapid.IntRange(0, 2).Draw(t, "code")),
	}
	if rapid.IntRange(0, 5).Draw(t, "meta") == 0 {
		tr.Metadata = []byte("order-7")
	}
	if rapid.IntRange(0, 5).Draw(t, "linked") == 5 {
		tr.Flags |= TransferLinked
	}
	switch rapid.IntRange(0, 6).Draw(t, "transfer.kind") {
	case 0, 1, 2: // single-phase
	case 3:
		tr.Flags |= TransferPending
		tr.TimeoutSeconds = int64(rapid.IntRange(1, 120).Draw(t, "timeout"))
	case 4, 5:
		tr.Flags |= TransferPostPending
		tr.PendingID = pick("post.pending")
		tr.AmountFen = drawAmount(t, "post.amount")
		return tr
	case 6:
		tr.Flags |= TransferVoidPending
		tr.PendingID = pick("void.pending")
		return tr
	}
	accounts := []AccountID{1, 2, 2, 3, 3, 4, 5, 6}
	tr.DebitAccount = rapid.SampledFrom(accounts).Draw(t, "debit")
	tr.CreditAccount = rapid.SampledFrom(accounts).Draw(t, "credit")
	tr.AmountFen = drawAmount(t, "amount")
	tr.Currency = rapid.SampledFrom([]string{"CNY", "CNY", "CNY", "CNY", "USD"}).Draw(t, "currency")
	return tr
}

// drawAmount is mostly 1…3000 fen, sometimes 0 or negative.
func drawAmount(t *rapid.T, label string) int64 {
	if rapid.IntRange(0, 20).Draw(t, label+".bad") == 20 {
		return -int64(rapid.IntRange(0, 1).Draw(t, label+".nonpositive"))
	}
	return int64(rapid.IntRange(1, 3000).Draw(t, label))
}

func genUpdate(t *rapid.T) AccountUpdate {
	u := AccountUpdate{ID: AccountID(rapid.IntRange(1, 6).Draw(t, "update.id"))}
	u.Flags = AccountFlags(rapid.IntRange(0, 15).Draw(t, "update.flags"))
	if rapid.Bool().Draw(t, "update.setfloor") {
		u.SetFloor = true
		u.FloorFen = -int64(rapid.IntRange(-10, 5000).Draw(t, "update.floor"))
	}
	return u
}

func genBatch(t *rapid.T, pendingIDs []TransferID) *Batch {
	b := &Batch{AllOrNone: rapid.IntRange(0, 4).Draw(t, "allornone") == 4}
	b.Transfers = rapid.SliceOfN(genTransfer(pendingIDs), 0, 6).Draw(t, "transfers")
	if n := len(b.Transfers); n > 0 && rapid.IntRange(0, 5).Draw(t, "close.chain") < 5 {
		b.Transfers[n-1].Flags &^= TransferLinked
	}
	if rapid.IntRange(0, 3).Draw(t, "with.counters") == 0 {
		b.Counters = []CounterDelta{{
			Key:      rapid.SampledFrom([]string{"alice/day", "bob/day"}).Draw(t, "counter.key"),
			Delta:    int64(rapid.IntRange(-500, 3000).Draw(t, "counter.delta")),
			MaxValue: 5000,
		}}
	}
	if rapid.IntRange(0, 3).Draw(t, "with.record") == 0 {
		b.Records = []Record{{Kind: "outbox", Key: "p1", Data: []byte("event")}}
	}
	return b
}

// mutate changes one request field of a copy of b (for retries with different fields).
func mutate(t *rapid.T, b *Batch) *Batch {
	c := *b
	c.Transfers = slices.Clone(b.Transfers)
	if len(c.Transfers) == 0 {
		return &c
	}
	i := rapid.IntRange(0, len(c.Transfers)-1).Draw(t, "mutate.index")
	switch rapid.IntRange(0, 2).Draw(t, "mutate.field") {
	case 0:
		c.Transfers[i].AmountFen++
	case 1:
		c.Transfers[i].Code++
	case 2:
		c.Transfers[i].Metadata = []byte("other")
	}
	return &c
}

type harness struct {
	t     *rapid.T
	clock *fakeClock
	store *MemStore
	eng   *Engine
	mod   *model
}

func (h *harness) submit(b *Batch) {
	ctx := context.Background()
	got, err := h.eng.Submit(ctx, b)
	if err != nil {
		h.t.Fatalf("submit: %v", err)
	}
	want := h.mod.apply(b, h.clock.Now().UnixNano())
	got.CommitSeq = 0
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("results differ for batch %+v\nengine: %+v\nmodel:  %+v", b, got, want)
	}
}

// check compares the engine's committed state with the model's and checks
// DESIGN.md §3 invariants 1–3 and the provenance bounds.
func (h *harness) check() {
	ctx := context.Background()
	accs := h.eng.Accounts()
	sort.Slice(accs, func(i, j int) bool { return accs[i].ID < accs[j].ID })
	var want []Account
	for _, a := range h.mod.accounts {
		want = append(want, a)
	}
	sort.Slice(want, func(i, j int) bool { return want[i].ID < want[j].ID })
	if !reflect.DeepEqual(accs, want) && !(len(accs) == 0 && len(want) == 0) {
		h.t.Fatalf("accounts differ\nengine: %+v\nmodel:  %+v", accs, want)
	}
	if v := CheckAccounts(accs); len(v) > 0 {
		h.t.Fatalf("invariants: %v", v)
	}
	// Pending sums equal the live holds (invariant 1 with pending accounting).
	dp, cp := map[AccountID]int64{}, map[AccountID]int64{}
	for id, mt := range h.mod.transfers {
		st, err := h.eng.Transfer(ctx, id)
		if err != nil {
			h.t.Fatalf("transfer %d: %v", id, err)
		}
		if !reflect.DeepEqual(st, mt) {
			h.t.Fatalf("transfer %d differs\nstore: %+v\nmodel: %+v", id, st, mt)
		}
		if st.Flags&TransferPending != 0 && st.State == StatePending {
			dp[st.DebitAccount] += st.AmountFen
			cp[st.CreditAccount] += st.AmountFen
		}
	}
	for _, a := range accs {
		if a.DebitsPendingFen != dp[a.ID] || a.CreditsPendingFen != cp[a.ID] {
			h.t.Fatalf("account %d pending %d/%d, live holds %d/%d", a.ID, a.DebitsPendingFen, a.CreditsPendingFen, dp[a.ID], cp[a.ID])
		}
	}
	// Idempotency: one stored transfer per key.
	for key, id := range h.mod.keys {
		st, err := h.eng.TransferByKey(ctx, key)
		if err != nil || st.ID != id {
			h.t.Fatalf("key %q: got %d, %v; want %d", key, st.ID, err, id)
		}
	}
	for k, v := range h.mod.counters {
		if got := h.eng.Counter(k); got != v {
			h.t.Fatalf("counter %q = %d, model %d", k, got, v)
		}
	}
	recs, err := h.eng.Records(ctx, "", 0, MaxHistoryPage)
	if err != nil {
		h.t.Fatal(err)
	}
	if len(recs) != len(h.mod.records) {
		h.t.Fatalf("%d records, model %d", len(recs), len(h.mod.records))
	}
	for i := range recs {
		if recs[i].Seq != h.mod.records[i].Seq || string(recs[i].Data) != string(h.mod.records[i].Data) {
			h.t.Fatalf("record %d: %+v, model %+v", i, recs[i], h.mod.records[i])
		}
	}
}

func (h *harness) reopen() {
	if err := h.eng.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.store = h.store.Reopen()
	eng, err := Open(context.Background(), h.store, h.clock, Options{})
	if err != nil {
		h.t.Fatalf("reopen: %v", err)
	}
	h.eng = eng
	// Recovery restarts the timestamp sequence after the newest stored one;
	// the model forgets timestamps used only by rolled-back items the same way.
	h.mod.lastTs = 0
	for _, a := range h.mod.accounts {
		h.mod.lastTs = max(h.mod.lastTs, a.Timestamp)
	}
	for _, t := range h.mod.transfers {
		h.mod.lastTs = max(h.mod.lastTs, t.Timestamp)
	}
}

// TestEngineMatchesModel runs random operation sequences against the engine
// and the reference model and checks they agree after every step, with the
// invariants, including close-and-reopen (recovery equivalence).
func TestEngineMatchesModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		clock := newFakeClock()
		store := NewMemStore()
		eng, err := Open(context.Background(), store, clock, Options{MaxGroupTransfers: rapid.IntRange(1, 64).Draw(rt, "group")})
		if err != nil {
			rt.Fatal(err)
		}
		h := &harness{t: rt, clock: clock, store: store, eng: eng, mod: newModel()}
		defer func() { h.eng.Close() }()
		// Money enters through an issuance account; start with one and fund it out.
		h.submit(&Batch{Accounts: []Account{
			{ID: 1, Holder: "central", Institution: "pboc", Product: "issuance", Currency: "CNY", Flags: AccountNoFloor},
			{ID: 2, Holder: "alice", Institution: "bank", Product: "bank", Currency: "CNY"},
			{ID: 3, Holder: "alice", Institution: "ant", Product: "wallet", Currency: "CNY", FloorFen: -3000},
		}})
		h.submit(&Batch{Transfers: []Transfer{
			{ID: 1000, DebitAccount: 1, CreditAccount: 2, AmountFen: 20000, Currency: "CNY"},
			{ID: 1001, DebitAccount: 3, CreditAccount: 2, AmountFen: 1000, Currency: "CNY"}, // credit-derived
		}})
		var sent []*Batch
		steps := rapid.IntRange(1, 50).Draw(rt, "steps")
		for range steps {
			switch rapid.IntRange(0, 9).Draw(rt, "action") {
			case 0:
				h.submit(&Batch{Accounts: rapid.SliceOfN(rapid.Custom(genAccount), 1, 3).Draw(rt, "accounts")})
			case 1:
				h.submit(&Batch{Updates: []AccountUpdate{genUpdate(rt)}})
			case 2:
				clock.Advance(time.Duration(rapid.IntRange(0, 90).Draw(rt, "advance")) * time.Second)
				if err := h.eng.Tick(context.Background()); err != nil {
					rt.Fatal(err)
				}
				h.mod.expire(clock.Now().UnixNano())
			case 3:
				if len(sent) > 0 {
					h.submit(rapid.SampledFrom(sent).Draw(rt, "retry")) // same fields: no second effect
				}
			case 4:
				if len(sent) > 0 {
					h.submit(mutate(rt, rapid.SampledFrom(sent).Draw(rt, "retry.mutated")))
				}
			case 5:
				h.reopen()
			default:
				b := genBatch(rt, h.mod.pendingIDs())
				sent = append(sent, b)
				h.submit(b)
			}
			h.check()
		}
	})
}

// TestReplayHasNoEffect: resubmitting a committed batch changes nothing and
// reports every transfer as replayed with its original timestamp.
func TestReplayHasNoEffect(t *testing.T) {
	ctx := context.Background()
	eng, err := Open(ctx, NewMemStore(), newFakeClock(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	mustOK(t, eng, &Batch{Accounts: []Account{
		{ID: 1, Currency: "CNY", Flags: AccountNoFloor}, {ID: 2, Currency: "CNY"}}})
	b := &Batch{Transfers: []Transfer{
		{ID: 1, Key: "a", DebitAccount: 1, CreditAccount: 2, AmountFen: 500, Currency: "CNY"},
		{ID: 2, DebitAccount: 2, CreditAccount: 1, AmountFen: 200, Currency: "CNY", Flags: TransferPending, TimeoutSeconds: 60},
		{ID: 3, PendingID: 2, AmountFen: 100, Flags: TransferPostPending},
	}}
	first := mustOK(t, eng, b)
	before := eng.Accounts()
	second := mustOK(t, eng, b)
	if !reflect.DeepEqual(before, eng.Accounts()) {
		t.Fatalf("replay changed balances: %+v → %+v", before, eng.Accounts())
	}
	for i := range second.Transfers {
		if !second.Transfers[i].Replayed || second.Transfers[i].Timestamp != first.Transfers[i].Timestamp {
			t.Errorf("transfer %d: replay %+v, original %+v", i, second.Transfers[i], first.Transfers[i])
		}
	}
}

func mustOK(t *testing.T, eng *Engine, b *Batch) *BatchResult {
	t.Helper()
	r, err := eng.Submit(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK() {
		t.Fatalf("batch refused: %s", describe(r))
	}
	return r
}

func describe(r *BatchResult) string {
	return fmt.Sprintf("accounts %v updates %v transfers %v counters %v failure %+v", r.Accounts, r.Updates, r.Transfers, r.Counters, r.Failure)
}
