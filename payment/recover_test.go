package payment

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
)

// timeline reduces events to what must match between two runs.
func timeline(p *Payment) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, fmt.Sprintf("%s %s hop %d %v %s", e.At.UTC().Format(time.RFC3339Nano), e.Type, e.Hop, e.TransferIDs, e.Reason))
	}
	return out
}

// TestRecoverMidHop stops the process (closes the engine without running
// the payment on) after each hop has started, reopens the ledger from the
// store alone and recovers: the payment ends exactly as an uninterrupted
// run with the same seed, for each failure mode.
func TestRecoverMidHop(t *testing.T) {
	for _, tc := range []struct {
		failHop int
		policy  string
	}{{0, OnFailureRefund}, {3, OnFailureRefund}, {4, OnFailureStrand}} {
		req := Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 77_700,
			Channels: fourHops, Seed: 5, FailHop: tc.failHop, OnFailure: tc.policy, At: epoch}
		ref := newWorld(t, compliance.PolicyStrict)
		want, err := ref.x.Pay(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		for stopAfter := 1; stopAfter <= 4; stopAfter++ {
			w := newWorld(t, compliance.PolicyStrict)
			ctx := context.Background()
			p, err := w.x.Create(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			// Run hop by hop until hop stopAfter has started, then "crash".
			for p.State == StateRunning && p.cur < stopAfter {
				x := w.x
				x.mu.Lock()
				e := x.entries[p.ID]
				x.mu.Unlock()
				if err := x.settle(ctx, e.p); err != nil {
					t.Fatal(err)
				}
				p = e.p.snapshot()
			}
			w.reopen(t)
			got, err := w.x.Recover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			final, _ := w.x.Get(p.ID)
			if p.State == StateRunning && len(got) != 1 {
				t.Fatalf("recovered %d payments, want 1", len(got))
			}
			if final.State != want.State || !reflect.DeepEqual(timeline(final), timeline(want)) {
				t.Errorf("fail hop %d, stopped after hop %d: %s\n%v\nwant %s\n%v", tc.failHop, stopAfter, final.State, timeline(final), want.State, timeline(want))
			}
			if final.DeliveredFen() != want.DeliveredFen() || final.FeeFen() != want.FeeFen() {
				t.Errorf("delivered/fee %d/%d, want %d/%d", final.DeliveredFen(), final.FeeFen(), want.DeliveredFen(), want.FeeFen())
			}
			w.checkBooks(t)
			w.noPending(t)
		}
	}
}
