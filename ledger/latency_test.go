package ledger

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// slowStore is the in-memory store with a fixed delay per commit, standing
// in for an fsync of known cost.
type slowStore struct {
	*MemStore
	delay time.Duration
}

func (s slowStore) Commit(ctx context.Context, c *CommitRecord) error {
	time.Sleep(s.delay)
	return s.MemStore.Commit(ctx, c)
}

// TestCommitLatencyAtRate offers 10,000 single-transfer submissions per
// second for two seconds (open loop, 64 clients) to the engine on the
// in-memory store, without and with a 1 ms delay per commit (a stand-in for
// fsync), and reports the Submit latency percentiles: the engine's own share
// of commit latency. Set LEDGER_LATENCY=1 to run it (four seconds).
func TestCommitLatencyAtRate(t *testing.T) {
	if os.Getenv("LEDGER_LATENCY") == "" {
		t.Skip("set LEDGER_LATENCY=1 to measure latency at 10,000 transfers/s")
	}
	for _, delay := range []time.Duration{0, time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) { latencyAtRate(t, slowStore{NewMemStore(), delay}) })
	}
}

func latencyAtRate(t *testing.T, st Store) {
	const rate, seconds, clients, accounts = 10_000, 2, 64, 10_000
	ctx := context.Background()
	eng, err := Open(ctx, st, SystemClock{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for _, chunk := range chunks(benchAccounts(accounts), MaxBatchAccounts) {
		mustOK(t, eng, &Batch{Accounts: chunk})
	}
	for _, chunk := range chunks(fund(accounts), MaxBatchTransfers) {
		mustOK(t, eng, &Batch{Transfers: chunk})
	}
	src := newBatchSource(3, accounts, 1)
	total := rate * seconds
	due := make(chan time.Time, total)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan []Transfer, total)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				at := <-due
				time.Sleep(time.Until(at))
				if _, err := eng.Transfers(ctx, b...); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(at))
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for i := range total {
		due <- start.Add(time.Duration(i) * time.Second / rate)
		work <- src.next()
	}
	close(work)
	wg.Wait()
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	t.Logf("%d submissions at %d/s: p50 %v p99 %v max %v", len(lat), rate, p(0.5), p(0.99), lat[len(lat)-1])
}
