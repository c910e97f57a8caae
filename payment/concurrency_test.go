package payment

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
)

// TestConcurrentDailyLimit races many payments of one holder through a
// channel with a daily limit (wechat_withdraw: 5,000 yuan a day): the
// counters are checked in the same commit as the money, so the day's
// posted total never passes the limit, and nothing deadlocks.
func TestConcurrentDailyLimit(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ch, _ := w.eco.Channel("wechat_withdraw")
	limit := ch.Limits.PerDayFen
	if limit == 0 {
		t.Skip("wechat_withdraw has no daily limit in this world")
	}
	const workers, each = 40, 30_000 // 40 × 300 yuan against a 5,000-yuan day
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	results := make([]*Payment, workers)
	for i := range workers {
		wg.Go(func() {
			p, err := w.x.Pay(ctx, Request{From: "wechat.change", To: "cmb.debit", AmountFen: each,
				Channels: []string{"wechat_withdraw"}, Seed: uint64(i), At: epoch})
			if err != nil {
				t.Error(err)
			}
			results[i] = p
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("payments did not finish: deadlock?")
	}
	var completed, rejected int64
	for _, p := range results {
		if p == nil {
			continue
		}
		switch p.State {
		case StateCompleted:
			completed += p.Spec.AmountFen
		case StateRejected:
			rejected++
		}
	}
	if completed > limit {
		t.Errorf("completed %d fen through a %d-fen daily limit", completed, limit)
	}
	if rejected == 0 {
		t.Errorf("no payment was rejected although %d fen were asked against %d", workers*each, limit)
	}
	day := counterKey("day", periodsAt(epoch, w.x.loc).day, "me", "c:wechat_withdraw")
	if got := w.led.Counter(day); got != completed {
		t.Errorf("day counter %d, completed %d (failed hops must release theirs)", got, completed)
	}
	t.Logf("completed %d fen of %d asked, %d rejected, limit %d", completed, workers*each, rejected, limit)
	w.checkBooks(t)
	w.noPending(t)
}
