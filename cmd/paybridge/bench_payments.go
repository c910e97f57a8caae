package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/store/sqlite"
)

// Limits of bench payments.
const (
	maxBenchPayments    = 10_000_000
	maxBenchConcurrency = 4096
)

// benchFourHops is the 4-hop route bench payments --hops 4 pins: Alipay
// balance to a bank card, across banks, to WeChat change, to a friend.
var benchFourHops = []string{"alipay_withdraw", "quickpass_icbc_to_cmb", "cmb_topup_wechat", "wechat_transfer"}

type benchPayFlags struct {
	db                   string
	n, hops, concurrency int
	baselineN            int
	distinct, asJSON     bool
	risk                 bool
	seed                 uint64
}

// benchPayRun is one store's figures.
type benchPayRun struct {
	Store        string  `json:"store"`
	Payments     int     `json:"payments"`
	Seconds      float64 `json:"seconds"`
	PaymentsPerS float64 `json:"payments_per_s"`
	// CPUBusy is the share of GOMAXPROCS × wall time the Go scheduler
	// spent not idle (runtime/metrics), and CPUMicrosPerPayment that busy
	// time per payment: steadier than payments/s on a shared machine.
	CPUBusy             float64        `json:"cpu_busy"`
	CPUMicrosPerPayment float64        `json:"cpu_us_per_payment"`
	States              map[string]int `json:"states"`
	Events              int            `json:"events"`
	BooksClean          bool           `json:"books_clean"`
}

// benchPayResult is what bench payments prints with --json.
type benchPayResult struct {
	DB          string       `json:"db"`
	Hops        int          `json:"hops"`
	Concurrency int          `json:"concurrency"`
	Distinct    bool         `json:"distinct_amounts"`
	Risk        bool         `json:"risk"`
	Seed        uint64       `json:"seed"`
	GOMAXPROCS  int          `json:"gomaxprocs"`
	SQLite      benchPayRun  `json:"sqlite"`
	Baseline    *benchPayRun `json:"baseline,omitempty"`
	Ratio       float64      `json:"ratio,omitempty"`
}

func init() { benchCmd.AddCommand(newBenchPaymentsCmd()) }

func newBenchPaymentsCmd() *cobra.Command {
	var f benchPayFlags
	cmd := &cobra.Command{
		Use:   "payments",
		Short: "Payments executed end to end per second on the durable SQLite ledger, beside the in-memory store",
		Long: `bench payments runs --n payments through the real executor on the bundled
world (cn-2023), the virtual clock and the embedded SQLite ledger (WAL,
fsync on every group commit), --concurrency payers at a time, and prints
payments per second. Each payment is the whole thing: the route choice and
its re-check against the current limits, balances and rules, every hop's
holds and posts with their limit counters, and every event in the same
ledger commit as its money; the payers' commits share the ledger's group
commits. A payment starts at the virtual clock's now, which moves on as
payments wait for their hops.

--hops 1 pays 100 yuan from Alipay balance to WeChat change by the planner's
best allowed route; --hops 4 pins a 4-hop route to a friend (Alipay →
ICBC → CMB → WeChat → friend). Route choices are memoised by their exact
inputs, so a repeated query is planned once; --distinct-amounts adds one fen
per payment so that every one is planned (or, with --hops 4, checked)
afresh.

In the same run the same load goes through the in-memory ledger store
(--baseline-n payments; 0 skips it): the ratio is what durability costs.
After each run the institutions' books are checked (CheckBooks). The
database stays at --db (a new temporary file when not given) for
'paybridge ledger verify --db FILE' and 'paybridge payments list --db FILE'.

--risk asks the risk engine (bundled rules) before each hop, as 'paybridge
pay --risk on' does, in both runs: compare with a run without it for what
the inline guard costs per payment. The states show what it held or refused.`,
		Example: `  paybridge bench payments
  paybridge bench payments --hops 4 --n 20000 --concurrency 512
  paybridge bench payments --distinct-amounts --n 5000 --json
  # What the inline risk guard costs: the same load with and without it
  paybridge bench payments --n 20000 --baseline-n 0 && paybridge bench payments --n 20000 --baseline-n 0 --risk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runBenchPayments(ctx, cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.db, "db", "", "database file to create (must not exist; default a new temporary file)")
	fl.IntVar(&f.n, "n", 20_000, "payments through the SQLite ledger")
	fl.IntVar(&f.baselineN, "baseline-n", -1, "payments through the in-memory store in the same run (default: --n; 0 skips it)")
	fl.IntVar(&f.hops, "hops", 1, "1: the planner's route Alipay balance → WeChat change; 4: a pinned 4-hop route to a friend")
	fl.IntVar(&f.concurrency, "concurrency", 512, "payments in flight at once")
	fl.BoolVar(&f.distinct, "distinct-amounts", false, "a different amount per payment, so every route is planned or checked afresh")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the first payment (payment i has seed+i)")
	fl.BoolVar(&f.asJSON, "json", false, "print the figures as one JSON object")
	fl.BoolVar(&f.risk, "risk", false, "ask the risk engine before each hop (the inline guard of pay --risk on)")
	return cmd
}

func runBenchPayments(ctx context.Context, stdout io.Writer, f benchPayFlags) error {
	if f.baselineN < 0 {
		f.baselineN = f.n
	}
	switch {
	case f.n < 1 || f.n > maxBenchPayments:
		return usageErrorf("--n %d: must be 1…%d", f.n, maxBenchPayments)
	case f.baselineN > maxBenchPayments:
		return usageErrorf("--baseline-n %d: must be 0…%d", f.baselineN, maxBenchPayments)
	case f.hops != 1 && f.hops != 4:
		return usageErrorf("--hops %d: must be 1 or 4", f.hops)
	case f.concurrency < 1 || f.concurrency > maxBenchConcurrency:
		return usageErrorf("--concurrency %d: must be 1…%d", f.concurrency, maxBenchConcurrency)
	}
	if f.db == "" {
		dir, err := os.MkdirTemp("", "paybridge-bench-")
		if err != nil {
			return err
		}
		f.db = filepath.Join(dir, "payments.db")
	} else if _, err := os.Stat(f.db); err == nil {
		return usageErrorf("--db %s: already exists; bench payments writes a new database", f.db)
	}
	eco, err := ecosystems.Resolve("cn-2023")
	if err != nil {
		return err
	}
	res := benchPayResult{DB: f.db, Hops: f.hops, Concurrency: f.concurrency, Distinct: f.distinct, Risk: f.risk, Seed: f.seed, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	s, err := sqlite.Open(f.db, sqlite.Options{})
	if err != nil {
		return usageErrorf("--db %s: %v", f.db, err)
	}
	res.SQLite, err = benchPayStore(ctx, eco, s, "sqlite", f.n, f)
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if f.baselineN > 0 {
		run, err := benchPayStore(ctx, eco, ledger.NewMemStore(), "memory", f.baselineN, f)
		if err != nil {
			return err
		}
		res.Baseline = &run
		if run.PaymentsPerS > 0 {
			res.Ratio = res.SQLite.PaymentsPerS / run.PaymentsPerS
		}
	}
	if f.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	shape := "1 hop, the planner's route, alipay.balance → wechat.change"
	if f.hops == 4 {
		shape = "4 hops pinned, alipay.balance → icbc → cmb → wechat.change → friend"
	}
	if f.distinct {
		shape += ", a different amount each"
	}
	if f.risk {
		shape += ", risk guard on"
	}
	fmt.Fprintf(stdout, "load:     %s; %d in flight, GOMAXPROCS %d, virtual clock\n", shape, f.concurrency, res.GOMAXPROCS)
	printPayRun := func(label string, r benchPayRun) {
		fmt.Fprintf(stdout, "%-9s %.0f payments/s (%d payments in %.2f s, %d events; %v; books balance: %v)\n",
			label, r.PaymentsPerS, r.Payments, r.Seconds, r.Events, r.States, r.BooksClean)
		fmt.Fprintf(stdout, "%-9s %.0f µs of CPU per payment, CPUs %.0f%% busy\n", "", r.CPUMicrosPerPayment, 100*r.CPUBusy)
	}
	printPayRun("sqlite:", res.SQLite)
	if res.Baseline != nil {
		printPayRun("memory:", *res.Baseline)
		fmt.Fprintf(stdout, "ratio:    %.2f (durable / in memory)\n", res.Ratio)
	}
	fmt.Fprintf(stdout, "file:     %s; check it with: paybridge ledger verify --db %s\n", f.db, f.db)
	return nil
}

// benchPayStore runs n payments on a fresh ledger over store.
func benchPayStore(ctx context.Context, eco *ecosystem.Ecosystem, store ledger.Store, name string, n int, f benchPayFlags) (benchPayRun, error) {
	run := benchPayRun{Store: name, Payments: n, States: map[string]int{}}
	clk := clock.NewVirtual(virtualEpoch)
	led, err := ledger.Open(ctx, store, clk, ledger.Options{})
	if err != nil {
		return run, err
	}
	defer led.Close()
	rules, err := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	if err != nil {
		return run, err
	}
	// Opening balances large enough that no payment runs out of money.
	cfg := payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk, OpeningFen: 1 << 50}
	var g *liveGuard
	if f.risk {
		if g, err = (riskFlags{mode: "on"}).guard(); err != nil {
			return run, err
		}
		cfg.Guard = g
	}
	x, err := payment.New(ctx, cfg)
	if err != nil {
		return run, err
	}
	if g != nil {
		if err := g.beginOn(ctx, eco, led); err != nil {
			return run, err
		}
	}
	req := payment.Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000}
	if f.hops == 4 {
		req.ToHolder, req.Channels = "friend", benchFourHops
	}
	var next atomic.Int64
	var mu sync.Mutex
	var firstErr error
	busy0, total0 := cpuSeconds()
	start := time.Now()
	var wg sync.WaitGroup
	for range min(f.concurrency, n) {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				r := req
				r.Seed = f.seed + uint64(i)
				if f.distinct {
					r.AmountFen += i
				}
				p, err := x.Pay(ctx, r)
				if g != nil && err == nil {
					g.done(ctx, p)
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = fmt.Errorf("payment %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
				run.States[p.State]++
				run.Events += len(p.Events)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	run.Seconds = time.Since(start).Seconds()
	busy1, total1 := cpuSeconds()
	if total1 > total0 {
		run.CPUBusy = (busy1 - busy0) / (total1 - total0)
	}
	run.CPUMicrosPerPayment = 1e6 * (busy1 - busy0) / float64(n)
	if firstErr != nil {
		return run, firstErr
	}
	run.PaymentsPerS = float64(n) / run.Seconds
	run.BooksClean = len(payment.CheckBooks(led.Accounts())) == 0
	return run, nil
}

// cpuSeconds returns the CPU time the Go scheduler has spent busy (not
// idle) and in total (GOMAXPROCS × wall time) since the process started,
// as runtime/metrics estimates them. The runtime brings these up to date
// at each garbage collection, so it collects first (a few ms, counted).
func cpuSeconds() (busy, total float64) {
	runtime.GC()
	ms := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}, {Name: "/cpu/classes/idle:cpu-seconds"}}
	metrics.Read(ms)
	if ms[0].Value.Kind() != metrics.KindFloat64 || ms[1].Value.Kind() != metrics.KindFloat64 {
		return 0, 0
	}
	total = ms[0].Value.Float64()
	return total - ms[1].Value.Float64(), total
}
