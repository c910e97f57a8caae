package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
)

// TestObserveCommits: the observer sees every group commit with what it
// carried, a failed commit as failed, and nothing once removed.
func TestObserveCommits(t *testing.T) {
	eng, _, st := fixture(t)
	ctx := context.Background()
	var mu sync.Mutex
	var seen []CommitStats
	eng.ObserveCommits(func(c CommitStats) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	})
	if _, err := eng.Transfers(ctx,
		Transfer{ID: 1, DebitAccount: 2, CreditAccount: 3, AmountFen: 1, Currency: "CNY"},
		Transfer{ID: 2, DebitAccount: 3, CreditAccount: 2, AmountFen: 1, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].Batches != 1 || seen[0].Transfers != 2 || seen[0].Failed || seen[0].Duration < 0 {
		t.Fatalf("after one batch of two transfers: %+v", seen)
	}
	mu.Unlock()

	eng.ObserveCommits(nil)
	if _, err := eng.Transfers(ctx, Transfer{ID: 3, DebitAccount: 2, CreditAccount: 3, AmountFen: 1, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(seen) != 1 {
		t.Fatalf("observer removed, still called: %+v", seen)
	}
	mu.Unlock()

	eng.ObserveCommits(func(c CommitStats) {
		mu.Lock()
		seen = append(seen, c)
		mu.Unlock()
	})
	st.FailCommits(errors.New("disk full"))
	if _, err := eng.Transfers(ctx, Transfer{ID: 4, DebitAccount: 2, CreditAccount: 3, AmountFen: 1, Currency: "CNY"}); !errors.Is(err, ErrStoreFailed) {
		t.Fatalf("got %v, want ErrStoreFailed", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !seen[1].Failed {
		t.Fatalf("a failed commit: %+v", seen)
	}
}
