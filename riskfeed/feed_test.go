package riskfeed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// flakyCases fails the AddAlert calls numbered in fail (1-based).
type flakyCases struct {
	risk.CaseStore
	calls int
	fail  map[int]bool
}

func (f *flakyCases) AddAlert(ctx context.Context, a risk.Alert) (int64, error) {
	f.calls++
	if f.fail[f.calls] {
		return 0, errors.New("disk full")
	}
	return f.CaseStore.AddAlert(ctx, a)
}

// TestFeedRetriesAHopWhoseHandlingFailed: when filing an alert fails, Poll
// stops before saving the cursor; the next poll files it (the engine does
// not see the hop twice) and the case store ends as without the failure.
func TestFeedRetriesAHopWhoseHandlingFailed(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	flaky := &flakyCases{CaseStore: w.feed.Cases, fail: map[int]bool{1: true}}
	w.feed.Cases = flaky
	min := time.Minute
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		w.pay(t, "alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*min)
		w.pay(t, "alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
	}
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		w.pay(t, "alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
	}
	first, err := w.feed.Poll(ctx)
	if err == nil {
		t.Fatal("poll with a failing case store returned no error")
	}
	if c, _ := (OutboxCursor{Outbox: w.feed.Outbox}).Load(ctx); c != 0 {
		t.Errorf("cursor saved at %d despite the failure", c)
	}
	observed := w.feed.Engine.Stats().Events
	second, err := w.feed.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.feed.Engine.Stats().Events; got != 12 {
		t.Errorf("engine observed %d hops (%d after the failed poll), want 12: a retried hop was observed twice or lost", got, observed)
	}
	all := append(first, second...)
	if len(all) != 12 {
		t.Errorf("%d hops reported over both polls, want 12", len(all))
	}
	alerting := 0
	for _, r := range all {
		if r.Decision.Alert() {
			alerting++
			if len(r.Cases) == 0 {
				t.Errorf("alerting hop %s filed into no case", r.Event.ID)
			}
		}
	}
	if alerting == 0 {
		t.Fatal("the scheme raised no alert; the test proves nothing")
	}
	cases, err := flaky.Cases(ctx, "")
	if err != nil || len(cases) == 0 {
		t.Fatalf("cases %v, %v", cases, err)
	}
	if third, err := w.feed.Poll(ctx); err != nil || len(third) != 0 {
		t.Errorf("third poll: %d results, %v", len(third), err)
	}
}
