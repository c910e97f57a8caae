package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

// shape is what a payment looks like from outside: its JSON (id, spec with
// the route, state, events, reason) and its derived amounts. Event Seq
// (the outbox position) is left out: in-process events do not carry it.
func shape(t tb, p *Payment) string {
	t.Helper()
	c := *p
	c.Events = slices.Clone(p.Events)
	for i := range c.Events {
		c.Events[i].Seq = 0
	}
	b, err := json.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s delivered=%d fee=%d refunded=%d hops=%d terminal=%v due=%v",
		b, p.DeliveredFen(), p.FeeFen(), p.RefundedFen(), p.Hops(), p.Terminal(), p.Due())
}

// TestPropertyEvictedPaymentReadsBack: random payments (routes, failures,
// refunds, strandings, resumes and refunds of stranded ones, idempotent
// retries) on an executor that keeps few finished payments in memory; every
// finished payment read back after it left memory equals what it was when
// it finished, Count and CountByState agree with the payments, paging
// returns each payment once in creation order, and a reopened executor
// (which loads with the same small cache) agrees too.
func TestPropertyEvictedPaymentReadsBack(t *testing.T) {
	eco := bundled(t)
	rules, _ := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		cache := rapid.IntRange(-1, 3).Draw(rt, "cache")
		store := ledger.NewMemStore()
		clk := clock.NewVirtual(epoch)
		led, err := ledger.Open(ctx, store, clk, ledger.Options{})
		if err != nil {
			rt.Fatal(err)
		}
		defer led.Close()
		x, err := New(ctx, Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk, CacheSize: cache})
		if err != nil {
			rt.Fatal(err)
		}
		seen := map[string]string{} // id → shape when it was last seen finished
		n := rapid.IntRange(1, 25).Draw(rt, "payments")
		r := rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "seed"), 1))
		for i := range n {
			req := randomRequest(eco, r, uint64(i))
			if r.IntN(4) == 0 {
				req.FailHop = 1 + r.IntN(2)
			}
			if r.IntN(3) == 0 {
				req.Key = fmt.Sprintf("k%d", r.IntN(8)) // some repeat: same payment or a conflict
			}
			p, err := x.Pay(ctx, req)
			var re *RequestError
			if err != nil && !errors.As(err, &re) {
				rt.Fatalf("payment %d: %v", i, err)
			}
			if p == nil {
				continue
			}
			if p.State == StateStranded && r.IntN(2) == 0 {
				if r.IntN(2) == 0 {
					p, err = x.Refund(ctx, p.ID)
				} else {
					p, err = x.Resume(ctx, p.ID)
				}
				if err != nil && p == nil {
					continue
				}
			}
			if Final(p.State) {
				if prev, ok := seen[p.ID]; ok && prev != shape(rt, p) {
					rt.Fatalf("%s changed after it finished:\n%s\n%s", p.ID, prev, shape(rt, p))
				}
				seen[p.ID] = shape(rt, p)
			}
		}
		check := func(x *Executor, what string) {
			for id, want := range seen {
				got, err := x.Get(id)
				if err != nil {
					rt.Fatalf("%s: Get(%s): %v", what, id, err)
				}
				if s := shape(rt, got); s != want {
					rt.Fatalf("%s: %s read back:\n%s\nwant\n%s", what, id, s, want)
				}
			}
			all := x.List()
			counts := map[string]int{}
			for i, p := range all {
				counts[p.State]++
				if i > 0 && p.Spec.Num <= all[i-1].Spec.Num {
					rt.Fatalf("%s: List out of creation order at %s", what, p.ID)
				}
			}
			if x.Count() != len(all) {
				rt.Fatalf("%s: Count() = %d, List has %d", what, x.Count(), len(all))
			}
			for st, k := range x.CountByState() {
				if counts[st] != k {
					rt.Fatalf("%s: CountByState()[%s] = %d, List has %d", what, st, k, counts[st])
				}
			}
			// Pages of 2 give the same payments, once each, in order.
			var paged []string
			for cursor := ""; ; {
				ps, next, err := x.Page(ctx, cursor, 2, Filter{})
				if err != nil {
					rt.Fatal(err)
				}
				for _, p := range ps {
					paged = append(paged, p.ID)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			var listed []string
			for _, p := range all {
				listed = append(listed, p.ID)
			}
			if !slices.Equal(paged, listed) {
				rt.Fatalf("%s: pages %v, List %v", what, paged, listed)
			}
			inMemory := len(x.entries)
			live := counts[StateRunning] + counts[StateHeld] + counts[StateStranded]
			keep := max(cache, 0)
			if cache == 0 {
				keep = DefaultCacheSize
			}
			if limit := live + keep; inMemory > limit {
				rt.Fatalf("%s: %d payments in memory, at most %d (live %d, cache %d)", what, inMemory, limit, live, cache)
			}
		}
		check(x, "running")
		if err := led.Close(); err != nil {
			rt.Fatal(err)
		}
		led2, err := ledger.Open(ctx, store.Reopen(), clk, ledger.Options{})
		if err != nil {
			rt.Fatal(err)
		}
		defer led2.Close()
		x2, err := New(ctx, Config{Ecosystem: eco, Rules: rules, Ledger: led2, Clock: clk, CacheSize: cache})
		if err != nil {
			rt.Fatal(err)
		}
		check(x2, "reopened")
	})
}

// TestIdempotentAfterEviction: a retry with the key of a payment that left
// memory long ago (and after a restart) returns that payment and moves
// nothing; the key with other fields or another KeySum is refused; on the
// SQLite store, so the key is read through its index.
func TestIdempotentAfterEviction(t *testing.T) {
	ctx := context.Background()
	eco := bundled(t)
	rules, _ := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	path := filepath.Join(t.TempDir(), "pay.db")
	open := func() (*Executor, func()) {
		s, err := sqlite.Open(path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		led, err := ledger.Open(ctx, s, clock.NewVirtual(epoch), ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		x, err := New(ctx, Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clock.NewVirtual(epoch), CacheSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		return x, func() { led.Close(); s.Close() }
	}
	x, closeAll := open()
	req := Request{From: "alipay.balance", To: "alipay.yuebao", AmountFen: 100, Channels: []string{"alipay_to_yuebao"}, Key: "order-1", KeySum: "sum-a"}
	first, err := x.Pay(ctx, req)
	if err != nil || first.State != StateCompleted {
		t.Fatalf("first: %v %v", first, err)
	}
	for i := range 5 {
		other := req
		other.Key, other.Seed = fmt.Sprintf("other-%d", i), uint64(i)
		if _, err := x.Pay(ctx, other); err != nil {
			t.Fatal(err)
		}
	}
	x.mu.Lock()
	_, inMemory := x.entries[first.ID]
	x.mu.Unlock()
	if inMemory {
		t.Fatalf("%s still in memory with a cache of 2 after 5 more payments", first.ID)
	}
	check := func(x *Executor, what string) {
		count := x.Count()
		again, err := x.Pay(ctx, req)
		if err != nil || again.ID != first.ID || shape(t, again) != shape(t, first) {
			t.Errorf("%s: retry = %v, %v; want %s unchanged", what, again, err, first.ID)
		}
		if x.Count() != count {
			t.Errorf("%s: the retry made a payment (%d → %d)", what, count, x.Count())
		}
		for _, bad := range []Request{
			func() Request { r := req; r.AmountFen = 200; return r }(),
			func() Request { r := req; r.KeySum = "sum-b"; return r }(),
		} {
			var re *RequestError
			if _, err := x.Pay(ctx, bad); !errors.As(err, &re) || re.Field != "key" {
				t.Errorf("%s: key with other fields %+v: %v; want a key RequestError", what, bad, err)
			}
		}
		if p, err := x.ByKey(ctx, "never-used"); p != nil || err != nil {
			t.Errorf("%s: ByKey(never-used) = %v, %v", what, p, err)
		}
	}
	check(x, "evicted")
	closeAll()
	x, closeAll = open()
	defer closeAll()
	check(x, "reopened")
}

// TestKeyFilter: no false negatives; few false positives.
func TestKeyFilter(t *testing.T) {
	var f keyFilter
	if f.has("x") {
		t.Fatal("an empty filter has a key")
	}
	for i := range 100_000 {
		f.add(fmt.Sprintf("key-%d", i))
	}
	fp := 0
	for i := range 100_000 {
		if !f.has(fmt.Sprintf("key-%d", i)) {
			t.Fatalf("key-%d added but not found", i)
		}
		if f.has(fmt.Sprintf("other-%d", i)) {
			fp++
		}
	}
	if fp > 100 { // expected ~0.0001% at 100k keys in 2 MiB
		t.Errorf("%d false positives in 100,000", fp)
	}
}

// TestPaymentIDs: ids round-trip and sort as numbers up to 999,999.
func TestPaymentIDs(t *testing.T) {
	for _, tc := range []struct {
		n  uint64
		id string
	}{{1, "p000001"}, {999_999, "p999999"}, {1_000_000, "p1000000"}, {1 << 40, "p1099511627776"}} {
		if got := paymentID(tc.n); got != tc.id {
			t.Errorf("paymentID(%d) = %s, want %s", tc.n, got, tc.id)
		}
		if n, ok := parseID(tc.id); !ok || n != tc.n {
			t.Errorf("parseID(%s) = %d, %v", tc.id, n, ok)
		}
	}
	for _, bad := range []string{"", "p", "p0", "p000000", "p1", "p00001", "p+00001", "x000001", "p0000001", "p00000a"} {
		if n, ok := parseID(bad); ok {
			t.Errorf("parseID(%q) = %d, ok; want not an id", bad, n)
		}
	}
}
