package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

// benchCmd is the parent of the benchmark commands; each lives in its own
// file (bench ledger here) and adds itself to benchCmd.
var benchCmd = &cobra.Command{
	Use:   "bench",
	Short: "Run paybridge's benchmarks and print machine-readable figures",
	Long: `bench runs a load generator against a real component and prints throughput
and latency, each beside a baseline measured in the same run, so the ratio
means something on any machine. Run it on a quiet machine.`,
}

func init() {
	benchCmd.AddCommand(newBenchLedgerCmd())
	root.AddCommand(benchCmd)
}

// Limits of bench ledger.
const (
	maxBenchAccounts  = 10_000_000
	maxBenchTransfers = 100_000_000
	maxBenchClients   = 1024
	// fundFen is what each bench account starts with, from the issuer account.
	fundFen = 1_000_000_000
	// fundIDBase is the id range of the funding transfers (far from load ids).
	fundIDBase = 1 << 62
)

type benchFlags struct {
	accounts, transfers, batch, clients int
	baselineTransfers, group            int
	db                                  string
	seed                                uint64
	hot, asJSON, index, mem             bool
	rate                                float64
}

// benchResult is what bench ledger prints with --json.
type benchResult struct {
	DB                     string  `json:"db"`
	Accounts               int     `json:"accounts"`
	Transfers              int     `json:"transfers"`
	Batch                  int     `json:"batch"`
	Clients                int     `json:"clients"`
	Hot                    bool    `json:"hot"`
	Store                  string  `json:"store"`
	Seed                   uint64  `json:"seed"`
	OfferedRate            float64 `json:"offered_rate,omitempty"`
	Rejected               int     `json:"rejected"`
	Seconds                float64 `json:"seconds"`
	TransfersPerS          float64 `json:"transfers_per_s"`
	Commits                uint64  `json:"commits"`
	CommitP50ms            float64 `json:"commit_p50_ms"`
	CommitP99ms            float64 `json:"commit_p99_ms"`
	CommitMaxMs            float64 `json:"commit_max_ms"`
	BaselineTransfers      int     `json:"baseline_transfers"`
	BaselineTransfersPerS  float64 `json:"baseline_transfers_per_s"`
	Ratio                  float64 `json:"ratio"`
	HeapBytesAfterAccounts uint64  `json:"heap_bytes_after_accounts"`
	HeapBytesPerAccount    float64 `json:"heap_bytes_per_account"`
	DBBytes                int64   `json:"db_bytes"`
	RecoverySeconds        float64 `json:"recovery_seconds"`
	IndexSeconds           float64 `json:"index_seconds,omitempty"`
	GOMAXPROCS             int     `json:"gomaxprocs"`
}

func newBenchLedgerCmd() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Durable ledger throughput and commit latency against a naive SQLite baseline",
		Long: `bench ledger creates --accounts accounts (funded from an issuer account),
then --clients goroutines submit --transfers seeded random transfers through
the real engine and the embedded SQLite store (WAL, fsync on every commit),
--batch transfers per Submit, the engine group-committing whatever is queued.
"Commit latency" is the time from a Submit (or, with --rate, from when it was
due) until it returned durable.

In the same run the same load shape goes through a naive baseline: one SQLite
transaction per transfer (read both balances, check the floor, update both,
insert the transfer, fsync), --baseline-transfers of them, and the ratio of
the two rates is printed.

Throughput comes from how many transfers are in flight (--clients × --batch):
each group commit costs one fsync, and the engine groups whatever is queued.
--hot makes every transfer touch account 1 (contention on one account).
--rate R offers R transfers/s in total (open loop) instead of as fast as
possible, to measure latency at a fixed load; give enough --clients that
one outstanding Submit each can carry R. --mem swaps in the in-memory store
to show the engine's own cost. After the load the bench times a restart
(reopen, replay the journal, rebuild the engine) and, with --index, the
materialisation of the read tables that history and lookups use.

The database stays at --db (a new temporary file when not given, printed)
so that 'paybridge ledger verify --db FILE' can check it afterwards.`,
		Example: `  paybridge bench ledger
  paybridge bench ledger --accounts 10000 --transfers 1000000 --batch 1000 --json
  paybridge bench ledger --rate 10000 --batch 1 --clients 64 --transfers 50000 --baseline-transfers 0
  paybridge bench ledger --hot --transfers 200000
  paybridge bench ledger --batch 100 --clients 80
  paybridge bench ledger --accounts 1000000 --transfers 100000   # memory per account
  paybridge bench ledger --mem --transfers 300000                # engine alone, nothing durable`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			return runBenchLedger(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&f.accounts, "accounts", 10_000, "number of accounts")
	fl.IntVar(&f.transfers, "transfers", 1_000_000, "transfers to submit through the engine")
	fl.IntVar(&f.batch, "batch", 1000, fmt.Sprintf("transfers per Submit (1…%d)", ledger.MaxBatchTransfers))
	fl.IntVar(&f.clients, "clients", 8, "concurrent submitting goroutines")
	fl.IntVar(&f.group, "group", 0, "most transfers per group commit (0: the engine default)")
	fl.IntVar(&f.baselineTransfers, "baseline-transfers", 20_000, "transfers through the naive baseline (0 skips it)")
	fl.StringVar(&f.db, "db", "", "database file to create (must not exist; default a new temporary file)")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed for the load")
	fl.BoolVar(&f.hot, "hot", false, "every transfer debits or credits account 1")
	fl.Float64Var(&f.rate, "rate", 0, "offered load in transfers/s (0: as fast as possible)")
	fl.BoolVar(&f.asJSON, "json", false, "print the figures as one JSON object")
	fl.BoolVar(&f.mem, "mem", false, "use the in-memory store instead of SQLite (engine cost alone; nothing durable, no --db)")
	fl.BoolVar(&f.index, "index", false, "also time materialising the read tables (history, lookups) after the load")
	return cmd
}

func (f *benchFlags) validate() error {
	switch {
	case f.accounts < 2 || f.accounts > maxBenchAccounts:
		return usageErrorf("--accounts %d: must be 2…%d", f.accounts, maxBenchAccounts)
	case f.transfers < 0 || f.transfers > maxBenchTransfers:
		return usageErrorf("--transfers %d: must be 0…%d", f.transfers, maxBenchTransfers)
	case f.batch < 1 || f.batch > ledger.MaxBatchTransfers:
		return usageErrorf("--batch %d: must be 1…%d", f.batch, ledger.MaxBatchTransfers)
	case f.clients < 1 || f.clients > maxBenchClients:
		return usageErrorf("--clients %d: must be 1…%d", f.clients, maxBenchClients)
	case f.group < 0:
		return usageErrorf("--group %d: must be ≥ 0", f.group)
	case f.baselineTransfers < 0 || f.baselineTransfers > maxBenchTransfers:
		return usageErrorf("--baseline-transfers %d: must be 0…%d", f.baselineTransfers, maxBenchTransfers)
	case f.rate < 0 || f.rate > 1e9 || f.rate != f.rate:
		return usageErrorf("--rate %v: must be 0…1e9 transfers/s", f.rate)
	}
	return nil
}

func runBenchLedger(ctx context.Context, stdout, stderr io.Writer, f benchFlags) error {
	if err := f.validate(); err != nil {
		return err
	}
	switch {
	case f.mem && f.db != "":
		return usageErrorf("--db and --mem: choose one (--mem keeps nothing on disk)")
	case f.mem && f.index:
		return usageErrorf("--index and --mem: the in-memory store has no read tables to materialise")
	case f.mem:
	case f.db == "":
		dir, err := os.MkdirTemp("", "paybridge-bench-")
		if err != nil {
			return err
		}
		f.db = filepath.Join(dir, "ledger.db")
	default:
		if _, err := os.Stat(f.db); err == nil {
			return usageErrorf("--db %s: already exists; bench ledger writes a new database", f.db)
		}
	}
	if f.mem {
		f.db = ""
	}
	res := benchResult{DB: f.db, Store: "sqlite", Accounts: f.accounts, Transfers: f.transfers, Batch: f.batch, Clients: f.clients,
		Hot: f.hot, Seed: f.seed, OfferedRate: f.rate, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	if f.mem {
		res.Store = "memory"
	}
	if !f.asJSON && !f.mem {
		fmt.Fprintf(stdout, "database: %s\n", f.db)
	}
	if err := benchEngine(ctx, f, &res); err != nil {
		return err
	}
	if f.baselineTransfers > 0 {
		rate, err := benchBaseline(ctx, f)
		if err != nil {
			return err
		}
		res.BaselineTransfers, res.BaselineTransfersPerS = f.baselineTransfers, rate
		if rate > 0 {
			res.Ratio = res.TransfersPerS / rate
		}
	}
	if fi, err := os.Stat(f.db); err == nil && !f.mem {
		res.DBBytes = fi.Size()
	}
	if f.asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	printBench(stdout, &res)
	return nil
}

func printBench(w io.Writer, r *benchResult) {
	shape := "random pairs"
	if r.Hot {
		shape = "every transfer touches account 1"
	}
	fmt.Fprintf(w, "load:     %d accounts, %d transfers (%s), %d per Submit, %d clients, seed %d, GOMAXPROCS %d\n",
		r.Accounts, r.Transfers, shape, r.Batch, r.Clients, r.Seed, r.GOMAXPROCS)
	if r.OfferedRate > 0 {
		fmt.Fprintf(w, "offered:  %.0f transfers/s\n", r.OfferedRate)
	}
	durable := "durable"
	if r.Store == "memory" {
		durable = "in memory"
	}
	fmt.Fprintf(w, "engine:   %.0f transfers/s %s (%.2f s, %d group commits, %d refused)\n", r.TransfersPerS, durable, r.Seconds, r.Commits, r.Rejected)
	fmt.Fprintf(w, "latency:  commit p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.CommitP50ms, r.CommitP99ms, r.CommitMaxMs)
	if r.BaselineTransfers > 0 {
		fmt.Fprintf(w, "baseline: %.0f transfers/s (%d transfers, one SQLite transaction each)\n", r.BaselineTransfersPerS, r.BaselineTransfers)
		fmt.Fprintf(w, "ratio:    %.1fx\n", r.Ratio)
	}
	fmt.Fprintf(w, "memory:   %.0f heap bytes per account (%d MiB live heap after creating the accounts)\n",
		r.HeapBytesPerAccount, r.HeapBytesAfterAccounts>>20)
	if r.Store == "memory" {
		fmt.Fprintln(w, "store:    in memory (nothing durable; engine cost alone)")
		return
	}
	fmt.Fprintf(w, "restart:  %.2f s to reopen the store and rebuild the engine from the journal\n", r.RecoverySeconds)
	if r.IndexSeconds > 0 {
		fmt.Fprintf(w, "index:    %.2f s to materialise the read tables (history, lookups by id and key)\n", r.IndexSeconds)
	}
	fmt.Fprintf(w, "file:     %d MiB; check it with: paybridge ledger verify --db %s\n", r.DBBytes>>20, r.DB)
}

// transferGen draws seeded random transfers between accounts 1…n.
type transferGen struct {
	r   *rand.Rand
	n   uint64
	hot bool
}

func newTransferGen(r *rand.Rand, accounts int, hot bool) *transferGen {
	return &transferGen{r: r, n: uint64(accounts), hot: hot}
}

func (g *transferGen) pair() (debit, credit uint64) {
	debit = 1 + g.r.Uint64N(g.n)
	credit = 1 + (debit+g.r.Uint64N(g.n-1))%g.n // never debit
	if g.hot {
		if g.r.IntN(2) == 0 {
			debit, credit = 1, 2+g.r.Uint64N(g.n-1)
		} else {
			debit, credit = 2+g.r.Uint64N(g.n-1), 1
		}
	}
	return debit, credit
}

func (g *transferGen) next(id ledger.TransferID) ledger.Transfer {
	d, c := g.pair()
	return ledger.Transfer{ID: id, DebitAccount: ledger.AccountID(d), CreditAccount: ledger.AccountID(c),
		AmountFen: 1 + g.r.Int64N(1000), Currency: "CNY", Code: 1}
}

// setupAccounts creates accounts 1…n and an issuer n+1, and funds each
// account from the issuer. Idempotent: on a database that already has them
// every item is a replay.
func setupAccounts(ctx context.Context, e *ledger.Engine, n int) error {
	issuer := ledger.AccountID(n + 1)
	accs := make([]ledger.Account, 0, ledger.MaxBatchAccounts)
	flush := func() error {
		if len(accs) == 0 {
			return nil
		}
		res, err := e.CreateAccounts(ctx, accs...)
		if err != nil {
			return fmt.Errorf("create accounts: %w", err)
		}
		for i, r := range res {
			if r.Code != ledger.ResultOK {
				return fmt.Errorf("create account %d: %v", accs[i].ID, r.Code)
			}
		}
		accs = accs[:0]
		return nil
	}
	for id := 1; id <= n+1; id++ {
		a := ledger.Account{ID: ledger.AccountID(id), Holder: fmt.Sprintf("h%d", id), Institution: "bench",
			Product: "bench.balance", Currency: "CNY"}
		if a.ID == issuer {
			a.Holder, a.Flags = "issuer", ledger.AccountNoFloor
		}
		accs = append(accs, a)
		if len(accs) == cap(accs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	ts := make([]ledger.Transfer, 0, ledger.MaxBatchTransfers)
	fund := func() error {
		if len(ts) == 0 {
			return nil
		}
		res, err := e.Transfers(ctx, ts...)
		if err != nil {
			return fmt.Errorf("fund accounts: %w", err)
		}
		for i, r := range res {
			if r.Code != ledger.ResultOK {
				return fmt.Errorf("fund account %d: %v", ts[i].CreditAccount, r.Code)
			}
		}
		ts = ts[:0]
		return nil
	}
	for id := 1; id <= n; id++ {
		ts = append(ts, ledger.Transfer{ID: ledger.TransferID(fundIDBase + id), DebitAccount: issuer,
			CreditAccount: ledger.AccountID(id), AmountFen: fundFen, Currency: "CNY", Code: 9})
		if len(ts) == cap(ts) {
			if err := fund(); err != nil {
				return err
			}
		}
	}
	return fund()
}

// liveHeap returns the live heap after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func benchEngine(ctx context.Context, f benchFlags, res *benchResult) error {
	heap0 := liveHeap()
	var s ledger.Store = ledger.NewMemStore()
	if !f.mem {
		ss, err := sqlite.Open(f.db, sqlite.Options{})
		if err != nil {
			return usageErrorf("--db %s: %v", f.db, err)
		}
		s = ss
	}
	defer s.Close()
	e, err := ledger.Open(ctx, s, ledger.SystemClock{}, ledger.Options{MaxGroupTransfers: f.group})
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer e.Close()
	if err := setupAccounts(ctx, e, f.accounts); err != nil {
		return err
	}
	res.HeapBytesAfterAccounts = liveHeap() - min(heap0, liveHeap())
	res.HeapBytesPerAccount = float64(res.HeapBytesAfterAccounts) / float64(f.accounts+1)
	// Materialise the set-up now, so the background indexer does not start
	// on it (the set-up plus the GCs above idle the writer) during the load.
	if ix, ok := s.(interface{ Index() error }); ok {
		if err := ix.Index(); err != nil {
			return err
		}
	}
	seq0 := e.CommitSeq()
	lat, rejected, elapsed, err := runLoad(ctx, f, func(batch []ledger.Transfer) (int, error) {
		r, err := e.Transfers(ctx, batch...)
		if err != nil {
			return 0, err
		}
		bad := 0
		for _, x := range r {
			if x.Code != ledger.ResultOK {
				bad++
			}
		}
		return bad, nil
	}, f.transfers, 0)
	if err != nil {
		return err
	}
	res.Commits = e.CommitSeq() - seq0
	res.Rejected = rejected
	res.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		res.TransfersPerS = float64(f.transfers) / elapsed.Seconds()
	}
	res.CommitP50ms, res.CommitP99ms, res.CommitMaxMs = percentileMs(lat, 0.50), percentileMs(lat, 0.99), percentileMs(lat, 1)
	if err := e.Close(); err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	if f.mem {
		return nil
	}
	return benchReopen(ctx, f, res)
}

// benchReopen times a restart (open the store, replay the journal, rebuild
// the engine) and, with --index, materialising the read tables.
func benchReopen(ctx context.Context, f benchFlags, res *benchResult) error {
	t0 := time.Now()
	s, err := sqlite.Open(f.db, sqlite.Options{MustExist: true, IdleIndex: -1})
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := ledger.Open(ctx, s, ledger.SystemClock{}, ledger.Options{})
	if err != nil {
		return fmt.Errorf("reopen ledger: %w", err)
	}
	res.RecoverySeconds = time.Since(t0).Seconds()
	if f.index {
		t1 := time.Now()
		if err := s.Index(); err != nil {
			return err
		}
		res.IndexSeconds = time.Since(t1).Seconds()
	}
	if err := e.Close(); err != nil {
		return err
	}
	return s.Close()
}

// runLoad drives total transfers through submit from f.clients goroutines,
// f.batch per call, and returns each call's latency. With f.rate > 0 the
// calls are scheduled open-loop at that total rate and latency counts from
// the scheduled time (so a stall is not hidden).
func runLoad(ctx context.Context, f benchFlags, submit func([]ledger.Transfer) (int, error), total int, idBase uint64) ([]time.Duration, int, time.Duration, error) {
	var next atomic.Int64 // transfers handed out
	var rejected atomic.Int64
	lats := make([][]time.Duration, f.clients)
	errs := make([]error, f.clients)
	var wg sync.WaitGroup
	start := time.Now()
	var interval time.Duration
	if f.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(f.batch) / f.rate)
	}
	for c := 0; c < f.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			gen := newTransferGen(rand.New(rand.NewPCG(f.seed, uint64(c))), f.accounts, f.hot)
			batch := make([]ledger.Transfer, 0, f.batch)
			for {
				first := next.Add(int64(f.batch)) - int64(f.batch)
				if first >= int64(total) || ctx.Err() != nil {
					return
				}
				n := min(int64(f.batch), int64(total)-first)
				batch = batch[:0]
				for i := int64(0); i < n; i++ {
					batch = append(batch, gen.next(ledger.TransferID(idBase+uint64(first+i)+1)))
				}
				t0 := time.Now()
				if interval > 0 {
					due := start.Add(time.Duration(first/int64(f.batch)) * interval)
					if d := time.Until(due); d > 0 {
						time.Sleep(d)
					}
					t0 = due
				}
				bad, err := submit(batch)
				if err != nil {
					errs[c] = err
					return
				}
				rejected.Add(int64(bad))
				lats[c] = append(lats[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, 0, 0, fmt.Errorf("bench: %w", err)
	}
	return slices.Concat(lats...), int(rejected.Load()), elapsed, nil
}

func percentileMs(lat []time.Duration, p float64) float64 {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	i := int(p*float64(len(lat))+0.5) - 1
	i = min(max(i, 0), len(lat)-1)
	return float64(lat[i]) / float64(time.Millisecond)
}

// benchBaseline runs f.baselineTransfers of the same load shape through the
// naive one-transaction-per-transfer store and returns its rate.
func benchBaseline(ctx context.Context, f benchFlags) (float64, error) {
	path := f.db + ".baseline"
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		os.Remove(p)
	}
	defer func() {
		for _, p := range []string{path, path + "-wal", path + "-shm"} {
			os.Remove(p)
		}
	}()
	n, err := sqlite.OpenNaive(path)
	if err != nil {
		return 0, err
	}
	defer n.Close()
	if err := n.CreateAccounts(ctx, f.accounts, fundFen, 0); err != nil {
		return 0, err
	}
	bf := f
	bf.rate = 0
	_, _, elapsed, err := runLoad(ctx, bf, func(batch []ledger.Transfer) (int, error) {
		bad := 0
		for _, t := range batch {
			err := n.Transfer(ctx, uint64(t.ID), fmt.Sprintf("k%d", t.ID), uint64(t.DebitAccount), uint64(t.CreditAccount), t.AmountFen)
			if errors.Is(err, sqlite.ErrNaiveFloor) {
				bad++
			} else if err != nil {
				return bad, err
			}
		}
		return bad, nil
	}, f.baselineTransfers, 0)
	if err != nil {
		return 0, err
	}
	return float64(f.baselineTransfers) / elapsed.Seconds(), nil
}
