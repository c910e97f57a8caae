package ledger

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// nopStore commits nothing: it measures the engine alone.
type nopStore struct{}

func (nopStore) Load(context.Context, Visitor) (Meta, error) { return Meta{}, nil }
func (nopStore) Commit(context.Context, *CommitRecord) error { return nil }
func (nopStore) Transfer(context.Context, TransferID) (Transfer, error) {
	return Transfer{}, ErrNotFound
}
func (nopStore) TransferByKey(context.Context, string) (Transfer, error) {
	return Transfer{}, ErrNotFound
}
func (nopStore) History(context.Context, AccountID, int64, int) (HistoryPage, error) {
	return HistoryPage{}, nil
}
func (nopStore) Records(context.Context, string, uint64, int) ([]Record, error) { return nil, nil }
func (nopStore) KeyRecords(context.Context, string, []string, uint64, int) ([]Record, error) {
	return nil, nil
}
func (nopStore) Close() error { return nil }

type benchClock struct{}

func (benchClock) Now() time.Time { return time.Unix(1_800_000_000, 0) }

// benchAccounts returns n CNY accounts: account 1 is a no-floor issuance
// account, every other one a debit account.
func benchAccounts(n int) []Account {
	as := make([]Account, n)
	for i := range as {
		as[i] = Account{ID: AccountID(i + 1), Holder: "h", Institution: "bank", Product: "bank.debit", Currency: "CNY"}
	}
	as[0].Flags = AccountNoFloor
	return as
}

// benchTransfers returns batches of random single-phase transfers between
// the n accounts; a fraction hot of them debit account 2 (contention).
func benchTransfers(seed uint64, n, accounts, batch int, firstID TransferID) [][]Transfer {
	r := rand.New(rand.NewPCG(seed, 1))
	var out [][]Transfer
	id := firstID
	for len(out)*batch < n {
		b := make([]Transfer, batch)
		for i := range b {
			d := AccountID(2 + r.IntN(accounts-1))
			c := AccountID(2 + r.IntN(accounts-1))
			for c == d {
				c = AccountID(2 + r.IntN(accounts-1))
			}
			b[i] = Transfer{ID: id, DebitAccount: d, CreditAccount: c, AmountFen: 1 + r.Int64N(100), Currency: "CNY"}
			id++
		}
		out = append(out, b)
	}
	return out
}

// batchSource hands out batches of fresh transfers (new ids) over a fixed
// set of random account pairs, so a long benchmark does not hold every
// transfer in memory.
type batchSource struct {
	pairs  [][]Transfer
	i      int
	nextID TransferID
	buf    []Transfer
}

func newBatchSource(seed uint64, accounts, batch int) *batchSource {
	return &batchSource{pairs: benchTransfers(seed, 64*batch, accounts, batch, 1), nextID: 1}
}

func (s *batchSource) next() []Transfer {
	b := append(s.buf[:0], s.pairs[s.i%len(s.pairs)]...)
	s.i++
	for i := range b {
		b[i].ID = s.nextID
		s.nextID++
	}
	s.buf = nil // the engine may still read it
	return b
}

// fund gives every account 1,000,000.00 from the issuance account.
func fund(accounts int) []Transfer {
	ts := make([]Transfer, 0, accounts)
	for i := 2; i <= accounts; i++ {
		ts = append(ts, Transfer{ID: TransferID(1<<40 + i), DebitAccount: 1, CreditAccount: AccountID(i), AmountFen: 100_000_000, Currency: "CNY"})
	}
	return ts
}

// BenchmarkMachine measures the in-memory apply alone (no engine, no store):
// ns/op is per transfer.
func BenchmarkMachine(b *testing.B) {
	const accounts = 10_000
	m := newMachine()
	m.apply(&Batch{Accounts: benchAccounts(accounts)}, 1)
	for _, chunk := range chunks(fund(accounts), MaxBatchTransfers) {
		m.apply(&Batch{Transfers: chunk}, 1)
	}
	m.finishGroup(1)
	src := newBatchSource(1, accounts, 1000)
	b.ResetTimer()
	cpu := startCPU()
	for done := 0; done < b.N; done += 1000 {
		m.apply(&Batch{Transfers: src.next()}, 2)
		m.recycle(m.finishGroup(2))
	}
	cpu.report(b)
}

func chunks[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	return append(out, xs)
}

// BenchmarkApply measures the engine (submit, single writer, group commit)
// with 10,000 accounts, batches of 1,000 transfers and 4 submitters, against
// a no-op store and the in-memory store. ns/op is per transfer.
func BenchmarkApply(b *testing.B) {
	for _, tc := range []struct {
		name  string
		store func() Store
	}{{"nop", func() Store { return nopStore{} }}, {"memstore", func() Store { return NewMemStore() }}} {
		b.Run(tc.name, func(b *testing.B) { benchEngine(b, tc.store(), 10_000, 1000, 4, false) })
	}
}

// BenchmarkScaling measures the engine on the no-op store as the number of
// accounts, the batch size and contention (every transfer debits one hot
// account) change. ns/op is per transfer.
func BenchmarkScaling(b *testing.B) {
	for _, accounts := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) { benchEngine(b, nopStore{}, accounts, 1000, 4, false) })
	}
	for _, batch := range []int{1, 10, 100, 8000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) { benchEngine(b, nopStore{}, 10_000, batch, 4, false) })
	}
	b.Run("hot", func(b *testing.B) { benchEngine(b, nopStore{}, 10_000, 1000, 4, true) })
}

func benchEngine(b *testing.B, st Store, accounts, batch, submitters int, hot bool) {
	ctx := context.Background()
	e, err := Open(ctx, st, benchClock{}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	for _, chunk := range chunks(benchAccounts(accounts), MaxBatchAccounts) {
		if _, err := e.Submit(ctx, &Batch{Accounts: chunk}); err != nil {
			b.Fatal(err)
		}
	}
	for _, chunk := range chunks(fund(accounts), MaxBatchTransfers) {
		if _, err := e.Transfers(ctx, chunk...); err != nil {
			b.Fatal(err)
		}
	}
	src := newBatchSource(2, accounts, batch)
	work := make(chan []Transfer, submitters)
	go func() {
		for done := 0; done < b.N; done += batch {
			bt := src.next()
			if hot {
				for i := range bt {
					if bt[i].CreditAccount != 2 {
						bt[i].DebitAccount = 2
					}
				}
			}
			work <- bt
		}
		close(work)
	}()
	b.ResetTimer()
	cpu := startCPU()
	defer cpu.report(b)
	errs := make(chan error, submitters)
	for range submitters {
		go func() {
			for bt := range work {
				r, err := e.Transfers(ctx, bt...)
				if err != nil {
					errs <- err
					return
				}
				for _, x := range r {
					if x.Code != ResultOK {
						errs <- fmt.Errorf("transfer refused: %s", x.Code)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range submitters {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

// cpuMeter measures the process's CPU time (all threads, GC included), which
// is steadier than wall time on a shared 2-core machine.
type cpuMeter struct{ start time.Duration }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuMeter { return cpuMeter{cpuTime()} }

// report adds cpu-ns/transfer (b.N counts transfers).
func (c cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime()-c.start)/float64(b.N), "cpu-ns/transfer")
}
