package payment

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/audit"
	"github.com/paybridge/paybridge/store/sqlite"
)

// randomRequest draws a payment between the bundled world's person accounts.
func randomRequest(eco *ecosystem.Ecosystem, r *rand.Rand, seed uint64) Request {
	persons := []string{"me", "friend"}
	var products []string
	for _, p := range eco.Products {
		if p.HolderKind != ecosystem.HolderMerchant && len(p.Holders) == 0 {
			products = append(products, p.ID)
		}
	}
	from := persons[r.IntN(len(persons))]
	to := from
	if r.IntN(4) == 0 {
		to = persons[r.IntN(len(persons))]
	}
	onFail := OnFailureRefund
	if r.IntN(3) == 0 {
		onFail = OnFailureStrand
	}
	return Request{From: products[r.IntN(len(products))], To: products[r.IntN(len(products))], FromHolder: from, ToHolder: to,
		AmountFen: 100 + r.Int64N(50_000), Seed: seed, OnFailure: onFail}
}

// TestRandomPaymentsDurable runs seeded random payments over the bundled
// world on the virtual clock and a durable SQLite ledger, refunding half of
// the stranded ones, then checks the books after reopening and audits the
// whole ledger (the checks of paybridge ledger verify). 1,000 payments by
// default; PAYMENT_SOAK=1 runs the 10,000.
func TestRandomPaymentsDurable(t *testing.T) {
	n := 1000
	if os.Getenv("PAYMENT_SOAK") != "" {
		n = 10_000
	}
	if testing.Short() {
		n = 200
	}
	ctx := context.Background()
	eco := bundled(t)
	path := filepath.Join(t.TempDir(), "pay.db")
	s, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewVirtual(epoch)
	led, err := ledger.Open(ctx, s, clk, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules, _ := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	x, err := New(ctx, Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// Eight payers at once, each with its own seeded stream, so the ledger
	// group-commits their hops (the interleaving varies; the checks do not
	// depend on it).
	const payers = 8
	states := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	began := time.Now()
	for w := range payers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(42, uint64(w)))
			for i := w; i < n; i += payers {
				p, err := x.Pay(ctx, randomRequest(eco, r, uint64(i)))
				if err != nil {
					continue // a request the planner refuses as malformed (e.g. from == to): no payment
				}
				if p.State == StateStranded && i%2 == 0 {
					if p, err = x.Refund(ctx, p.ID); err != nil {
						t.Errorf("refund: %v", err)
						return
					}
				}
				if p.State == StateRunning {
					t.Errorf("payment %s still running", p.ID)
				}
				mu.Lock()
				states[p.State]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d payments in %v: %v", n, time.Since(began).Round(time.Millisecond), states)
	if states[StateCompleted] == 0 || states[StateRefunded]+states[StateStranded] == 0 {
		t.Errorf("the run reached too few states: %v", states)
	}
	for _, v := range CheckBooks(led.Accounts()) {
		t.Error(v)
	}
	if err := led.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := s.Replay(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accounts := make([]ledger.Account, 0, len(st.Accounts))
	for _, id := range st.AccountIDs() {
		accounts = append(accounts, st.Accounts[id])
	}
	rep := audit.Check(accounts, st.Transfers)
	if !rep.OK {
		t.Errorf("ledger audit: %d violations: %v", rep.Total, rep.Violations)
	}
	for _, v := range CheckBooks(accounts) {
		t.Error("after reopen: " + v)
	}
	s.Close()
}
