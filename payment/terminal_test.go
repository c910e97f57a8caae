package payment

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/paybridge/paybridge/compliance"
)

// TestEveryTerminalState forces a failure at each hop of a 4-hop route
// under both failure policies and checks where every fen is afterwards.
func TestEveryTerminalState(t *testing.T) {
	const amount = 100_000
	for _, policy := range []string{OnFailureRefund, OnFailureStrand} {
		for failHop := 0; failHop <= 4; failHop++ {
			t.Run(fmt.Sprintf("%s/fail_hop_%d", policy, failHop), func(t *testing.T) {
				w := newWorld(t, compliance.PolicyStrict)
				ctx := context.Background()
				origin, total := w.balance("me", "alipay.balance"), w.held()
				p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend",
					AmountFen: amount, Channels: fourHops, Seed: 3, FailHop: failHop, OnFailure: policy})
				if err != nil {
					t.Fatal(err)
				}
				lost := origin - w.balance("me", "alipay.balance")
				want := StateCompleted
				switch {
				case failHop == 1 || (failHop > 0 && policy == OnFailureRefund):
					want = StateRefunded
				case failHop > 0:
					want = StateStranded
				}
				if p.State != want {
					t.Fatalf("state %s (%s), want %s", p.State, p.Reason, want)
				}
				switch p.State {
				case StateCompleted:
					if lost != amount || p.DeliveredFen()+p.FeeFen() != amount {
						t.Errorf("origin lost %d, delivered %d, fee %d", lost, p.DeliveredFen(), p.FeeFen())
					}
				case StateRefunded:
					if lost != p.FeeFen() {
						t.Errorf("origin lost %d, want the kept fees %d", lost, p.FeeFen())
					}
					if p.DeliveredFen() != 0 || w.balance("friend", "wechat.change") != DefaultOpeningFen {
						t.Errorf("refunded payment delivered money")
					}
				case StateStranded:
					last := p.Spec.Route.Hops[failHop-2]
					at := w.balance(last.ToHolder, last.To) - DefaultOpeningFen
					if last.To == "cmb.debit" || last.To == "icbc.debit" || last.To == "wechat.change" {
						if lost != amount || at+p.FeeFen() != amount {
							t.Errorf("origin lost %d; %d at %s + fees %d != amount", lost, at, last.To, p.FeeFen())
						}
					}
				}
				checkTimeline(t, p)
				if w.held() != total {
					t.Errorf("holders and fee accounts hold %d, had %d", w.held(), total)
				}
				w.noPending(t)
				w.checkBooks(t)
				if p.State != StateStranded {
					return
				}
				// The stranded money can be refunded…
				if _, err := w.x.Resume(ctx, "p999999"); !errors.Is(err, ErrNotFound) {
					t.Errorf("Resume of an unknown id: %v", err)
				}
				q, err := w.x.Refund(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if q.State != StateRefunded || origin-w.balance("me", "alipay.balance") != q.FeeFen() {
					t.Errorf("after Refund: %s, origin lost %d, fees %d", q.State, origin-w.balance("me", "alipay.balance"), q.FeeFen())
				}
				if _, err := w.x.Refund(ctx, p.ID); !errors.Is(err, ErrState) {
					t.Errorf("second Refund: %v, want ErrState", err)
				}
				checkTimeline(t, q)
				w.checkBooks(t)
				w.noPending(t)
				if w.held() != total {
					t.Errorf("after refund: %d held, had %d", w.held(), total)
				}
			})
		}
	}
}

// TestResumeStranded resumes a stranded payment to completion.
func TestResumeStranded(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	total := w.held()
	p, err := w.x.Pay(ctx, Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend",
		AmountFen: 50_000, Channels: fourHops, Seed: 11, FailHop: 3, OnFailure: OnFailureStrand})
	if err != nil || p.State != StateStranded {
		t.Fatalf("%v %v", p, err)
	}
	for range MaxAttempts {
		if p, err = w.x.Resume(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		if p.State != StateStranded {
			break
		}
	}
	if p.State != StateCompleted {
		t.Fatalf("after resume: %s %s", p.State, p.Reason)
	}
	if got := w.balance("friend", "wechat.change") - DefaultOpeningFen; got != p.DeliveredFen() || p.DeliveredFen()+p.FeeFen() != 50_000 {
		t.Errorf("friend got %d, delivered %d, fee %d", got, p.DeliveredFen(), p.FeeFen())
	}
	checkTimeline(t, p)
	w.checkBooks(t)
	w.noPending(t)
	if w.held() != total {
		t.Errorf("held %d, had %d", w.held(), total)
	}
}

// TestRejected: refused routes and refused money are rejected with nothing moved.
func TestRejected(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	total := w.held()
	for _, tc := range []struct {
		name string
		req  Request
		want string
	}{
		{"insufficient funds", Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: DefaultOpeningFen + 1, Channels: fourHops}, "insufficient funds"},
		{"cash-out refused", Request{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountFen: 100_000}, "refused"},
		{"per-transaction limit", Request{From: "wechat.change", To: "cmb.debit", AmountFen: 600_000, Channels: []string{"wechat_withdraw"}}, "per-transaction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := w.x.Pay(ctx, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if p.State != StateRejected || !contains(p.Reason, tc.want) {
				t.Fatalf("state %s reason %q, want rejected with %q", p.State, p.Reason, tc.want)
			}
			checkTimeline(t, p)
		})
	}
	if w.held() != total {
		t.Errorf("held %d, had %d", w.held(), total)
	}
	w.noPending(t)
	w.checkBooks(t)
}

func TestBadRequests(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	ctx := context.Background()
	for _, tc := range []struct {
		req   Request
		field string
	}{
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 0}, "amount"},
		{Request{From: "alipay.balanc", To: "wechat.change", AmountFen: 100}, "from"},
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 100, OnFailure: "pray"}, "on_failure"},
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 100_000, FailHop: 9, Channels: fourHops[:3]}, "fail_hop"},
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 100, RouteID: "nope"}, "route"},
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 100, Channels: []string{"wechat_transfer"}}, "channels[0]"},
		{Request{From: "alipay.balance", To: "wechat.change", AmountFen: 100, FromHolder: "ghost"}, "from_holder"},
	} {
		_, err := w.x.Pay(ctx, tc.req)
		var re *RequestError
		if !errors.As(err, &re) || re.Field != tc.field {
			t.Errorf("%+v: error %v, want field %s", tc.req, err, tc.field)
		}
	}
	if n := len(w.x.List()); n != 0 {
		t.Errorf("bad requests left %d payments", n)
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && indexOf(s, sub) >= 0)
}

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

// checkTimeline: created first, exactly one terminal event last (after any
// resume), times never go back, every transfer id unique.
func checkTimeline(t *testing.T, p *Payment) {
	t.Helper()
	if len(p.Events) == 0 || p.Events[0].Type != EventCreated {
		t.Fatalf("timeline does not start with created: %+v", p.Events)
	}
	terminal := map[string]bool{EventCompleted: true, EventRefunded: true, EventStranded: true, EventRejected: true}
	seen := map[uint64]bool{}
	for i, e := range p.Events {
		if i > 0 && e.At.Before(p.Events[i-1].At) {
			t.Errorf("event %d (%s) at %v before the previous one", i, e.Type, e.At)
		}
		if terminal[e.Type] && i != len(p.Events)-1 && p.Events[i+1].Type != EventResumed && !(e.Type == EventStranded && p.Events[i+1].Type == EventReversal) {
			t.Errorf("terminal event %s at %d is not last", e.Type, i)
		}
		for _, id := range e.TransferIDs {
			if seen[uint64(id)] {
				t.Errorf("transfer id %d appears twice", id)
			}
			seen[uint64(id)] = true
		}
	}
	if last := p.Events[len(p.Events)-1]; !terminal[last.Type] || last.Type != p.State {
		t.Errorf("last event %s, state %s", last.Type, p.State)
	}
}
