package payment

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

// BenchmarkPayVirtual executes payments end to end on the virtual clock
// and the in-memory ledger store: plan (the planner's best allowed route,
// rules re-checked), every hop's holds and posts, events in the same
// commits. Concurrent payers let the ledger group-commit their hops.
// Reports payments/s. The sqlite/ cases use the durable embedded store
// (fsync per group commit). "planned" repeats one query, so after the first
// payment the route choice comes from the memo (the ledger work is all
// still done); "planned_distinct_amounts" plans every payment afresh.
// Cases ending in _clock start every payment at the virtual clock's now,
// which moves on as payments wait for their hops (the others start all at
// one instant). PAYMENT_BENCH_PAYERS sets the number of concurrent payers
// (default 32 per GOMAXPROCS); paybridge bench payments is the same load
// from the command line.
func BenchmarkPayVirtual(b *testing.B) {
	for _, bc := range []struct {
		name     string
		req      Request
		distinct bool // a different amount per payment: every plan is computed afresh
		sqlite   bool // the durable embedded store instead of the memory store
		clockNow bool // start at the virtual clock's now (it advances as payments wait), not at a fixed time
	}{
		{"planned", Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000}, false, false, false},
		{"planned_distinct_amounts", Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000}, true, false, false},
		{"pinned_4_hops", Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops}, false, false, false},
		{"sqlite/planned", Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000}, false, true, false},
		{"sqlite/pinned_4_hops", Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops}, false, true, false},
		{"sqlite/planned_clock", Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000}, false, true, true},
		{"sqlite/pinned_4_hops_clock", Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 10_000, Channels: fourHops}, false, true, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			eco := bundled(b)
			clk := clock.NewVirtual(epoch)
			var store ledger.Store = ledger.NewMemStore()
			if bc.sqlite {
				s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				store = s
			}
			led, err := ledger.Open(ctx, store, clk, ledger.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer led.Close()
			rules, _ := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
			x, err := New(ctx, Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk, OpeningFen: 1 << 50})
			if err != nil {
				b.Fatal(err)
			}
			var seed, completed atomic.Uint64
			workers := runtime.GOMAXPROCS(0) * 32
			if n, err := strconv.Atoi(os.Getenv("PAYMENT_BENCH_PAYERS")); err == nil && n > 0 {
				workers = n
			}
			b.ResetTimer()
			var wg sync.WaitGroup
			var next atomic.Int64
			for range workers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						req := bc.req
						req.Seed = seed.Add(1)
						if bc.distinct {
							req.AmountFen += int64(req.Seed)
						}
						if !bc.clockNow {
							req.At = epoch
						}
						p, err := x.Pay(ctx, req)
						if err != nil {
							b.Error(err)
							return
						}
						if p.State == StateCompleted {
							completed.Add(1)
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
			b.ReportMetric(float64(completed.Load())/float64(b.N), "completed/op")
		})
	}
}
