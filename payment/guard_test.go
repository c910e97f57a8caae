package payment

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
)

// fakeGuard answers by hop number and records every question.
type fakeGuard struct {
	mu     sync.Mutex
	action map[int]string // hop → action; missing: allow
	asked  []HopCheck
}

func (g *fakeGuard) CheckHop(_ context.Context, h HopCheck) GuardDecision {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.asked = append(g.asked, h)
	return GuardDecision{Action: g.action[h.Hop], Rule: "test-rule", Reason: fmt.Sprintf("hop %d looks odd", h.Hop)}
}

func (g *fakeGuard) hopsAsked() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []int
	for _, h := range g.asked {
		out = append(out, h.Hop)
	}
	return out
}

func guardedWorld(t *testing.T, action map[int]string) (*world, *fakeGuard) {
	return guardedWorldPolicy(t, action, compliance.PolicyStrict)
}

func guardedWorldPolicy(t *testing.T, action map[int]string, policy compliance.Policy) (*world, *fakeGuard) {
	t.Helper()
	g := &fakeGuard{action: action}
	w := &world{eco: bundled(t), store: ledger.NewMemStore(), clk: clock.NewVirtual(epoch), guard: g}
	w.open(t, policy)
	return w, g
}

// fourHopReq completes without a guard (seed 3, TestEveryTerminalState).
func fourHopReq(policy string) Request {
	return Request{From: "alipay.balance", To: "wechat.change", ToHolder: "friend", AmountFen: 100_000, Channels: fourHops, Seed: 3, OnFailure: policy}
}

// TestGuardAllowSeesEveryHop: an allowing guard is asked once per hop,
// before it holds, with the hop's accounts, institutions and amount.
func TestGuardAllowSeesEveryHop(t *testing.T) {
	w, g := guardedWorld(t, nil)
	p, err := w.x.Pay(context.Background(), fourHopReq(OnFailureRefund))
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateCompleted {
		t.Fatalf("state %s (%s)", p.State, p.Reason)
	}
	if got := fmt.Sprint(g.hopsAsked()); got != "[1 2 3 4]" {
		t.Fatalf("guard asked about hops %s, want [1 2 3 4]", got)
	}
	started := map[int]Event{}
	for _, ev := range p.Events {
		if ev.Type == EventHopStarted {
			started[ev.Hop] = ev
		}
	}
	for _, h := range g.asked {
		hop := p.Spec.Route.Hops[h.Hop-1]
		from, _ := w.eco.Product(hop.From)
		to, _ := w.eco.Product(hop.To)
		want := HopCheck{Payment: p.ID, FromHolder: hop.FromHolder, ToHolder: hop.ToHolder, Channel: hop.Channel,
			FromProduct: hop.From, ToProduct: hop.To, FromInstitution: from.Institution, ToInstitution: to.Institution,
			Hop: h.Hop, At: started[h.Hop].At, AmountFen: started[h.Hop].AmountFen}
		if h != want {
			t.Errorf("hop %d asked with\n%+v\nwant\n%+v", h.Hop, h, want)
		}
	}
	checkTimeline(t, p)
	w.checkBooks(t)
}

// TestGuardRefuses: a refused hop fails before it holds anything, with a
// "risk:" reason, and the payment is compensated by its policy; at hop 1
// it is rejected with nothing moved.
func TestGuardRefuses(t *testing.T) {
	for _, tc := range []struct {
		hop    int
		policy string
		want   string
	}{
		{1, OnFailureRefund, StateRejected},
		{1, OnFailureStrand, StateRejected},
		{2, OnFailureRefund, StateRefunded},
		{3, OnFailureRefund, StateRefunded},
		{4, OnFailureStrand, StateStranded},
	} {
		t.Run(fmt.Sprintf("hop_%d_%s", tc.hop, tc.policy), func(t *testing.T) {
			w, g := guardedWorld(t, map[int]string{tc.hop: GuardRefuse})
			ctx := context.Background()
			origin, total := w.balance("me", "alipay.balance"), w.held()
			p, err := w.x.Pay(ctx, fourHopReq(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			if p.State != tc.want {
				t.Fatalf("state %s (%s), want %s", p.State, p.Reason, tc.want)
			}
			if asked := g.hopsAsked(); len(asked) != tc.hop || asked[len(asked)-1] != tc.hop {
				t.Errorf("guard asked about hops %v; want 1…%d once each", asked, tc.hop)
			}
			var failed *Event
			for i, ev := range p.Events {
				if ev.Type == EventHopStarted && ev.Hop >= tc.hop {
					t.Errorf("hop %d started after the guard refused hop %d", ev.Hop, tc.hop)
				}
				if ev.Type == EventHopFailed {
					failed = &p.Events[i]
				}
			}
			wantReason := fmt.Sprintf("risk: test-rule: hop %d looks odd", tc.hop)
			if failed == nil || failed.Hop != tc.hop || failed.Reason != wantReason || len(failed.TransferIDs) != 0 {
				t.Errorf("hop_failed event %+v; want hop %d, reason %q, no transfers", failed, tc.hop, wantReason)
			}
			lost := origin - w.balance("me", "alipay.balance")
			switch p.State {
			case StateRejected:
				if lost != 0 || p.Reason != wantReason {
					t.Errorf("rejected: origin lost %d, reason %q", lost, p.Reason)
				}
			case StateRefunded:
				if lost != p.FeeFen() {
					t.Errorf("refunded: origin lost %d, want the kept fees %d", lost, p.FeeFen())
				}
			case StateStranded:
				if !strings.Contains(p.Reason, wantReason) {
					t.Errorf("stranded reason %q does not name the guard's", p.Reason)
				}
			}
			checkTimeline(t, p)
			if w.held() != total {
				t.Errorf("holders and fee accounts hold %d, had %d", w.held(), total)
			}
			w.noPending(t)
			w.checkBooks(t)
		})
	}
}

// TestGuardHolds: a held payment pauses before the hop with nothing
// pending; Resume starts the hop without asking again and completes it,
// Refund sends the money home; both survive a restart.
func TestGuardHolds(t *testing.T) {
	for _, tc := range []struct {
		hop    int
		action string // "resume" or "refund"
		reopen bool
	}{
		{1, "resume", false},
		{1, "refund", false},
		{2, "resume", true},
		{3, "refund", true},
		{4, "resume", false},
	} {
		t.Run(fmt.Sprintf("hop_%d_%s", tc.hop, tc.action), func(t *testing.T) {
			w, g := guardedWorld(t, map[int]string{tc.hop: GuardHold})
			ctx := context.Background()
			origin, total := w.balance("me", "alipay.balance"), w.held()
			p, err := w.x.Pay(ctx, fourHopReq(OnFailureRefund))
			if err != nil {
				t.Fatal(err)
			}
			if p.State != StateHeld || p.Terminal() {
				t.Fatalf("state %s (%s), want held and not terminal", p.State, p.Reason)
			}
			last := p.Events[len(p.Events)-1]
			if last.Type != EventHeld || last.Hop != tc.hop || !strings.HasPrefix(last.Reason, "risk: test-rule: ") {
				t.Fatalf("last event %+v; want held at hop %d with the guard's reason", last, tc.hop)
			}
			w.noPending(t)
			if w.held() != total {
				t.Errorf("while held: holders and fee accounts hold %d, had %d", w.held(), total)
			}
			if tc.hop > 1 {
				prev := p.Spec.Route.Hops[tc.hop-2]
				if got := w.balance(prev.ToHolder, prev.To) - DefaultOpeningFen; got <= 0 {
					t.Errorf("while held before hop %d: %s of %s gained %d; the money should wait there", tc.hop, prev.To, prev.ToHolder, got)
				}
			}
			if tc.reopen {
				w.reopen(t)
				q, err := w.x.Get(p.ID)
				if err != nil || q.State != StateHeld {
					t.Fatalf("after a restart: %v, state %v", err, q)
				}
				if rec, err := w.x.Recover(ctx); err != nil || len(rec) != 0 {
					t.Fatalf("Recover ran %d payments (%v); a held payment waits for Resume or Refund", len(rec), err)
				}
			}
			asked := len(g.hopsAsked())
			switch tc.action {
			case "resume":
				p, err = w.x.Resume(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if p.State != StateCompleted {
					t.Fatalf("after Resume: %s (%s)", p.State, p.Reason)
				}
				for _, h := range g.hopsAsked()[asked:] {
					if h == tc.hop {
						t.Errorf("Resume asked the guard about held hop %d again", h)
					}
				}
				if lost := origin - w.balance("me", "alipay.balance"); lost != 100_000 || p.DeliveredFen()+p.FeeFen() != 100_000 {
					t.Errorf("completed: origin lost %d, delivered %d + fees %d", lost, p.DeliveredFen(), p.FeeFen())
				}
			case "refund":
				p, err = w.x.Refund(ctx, p.ID)
				if err != nil {
					t.Fatal(err)
				}
				if p.State != StateRefunded {
					t.Fatalf("after Refund: %s", p.State)
				}
				if lost := origin - w.balance("me", "alipay.balance"); lost != p.FeeFen() {
					t.Errorf("refunded: origin lost %d, want the kept fees %d", lost, p.FeeFen())
				}
			}
			if _, err := w.x.Resume(ctx, p.ID); !errors.Is(err, ErrState) {
				t.Errorf("Resume of a %s payment: %v, want ErrState", p.State, err)
			}
			checkTimeline(t, p)
			if w.held() != total {
				t.Errorf("holders and fee accounts hold %d, had %d", w.held(), total)
			}
			w.noPending(t)
			w.checkBooks(t)
		})
	}
}

// TestGuardOnStrandedResume: resuming a stranded payment asks the guard
// about the new attempt; a refusal leaves it stranded, a hold holds it.
func TestGuardOnStrandedResume(t *testing.T) {
	w, g := guardedWorld(t, nil)
	ctx := context.Background()
	req := fourHopReq(OnFailureStrand)
	req.FailHop = 3
	p, err := w.x.Pay(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateStranded {
		t.Fatalf("state %s, want stranded", p.State)
	}
	g.mu.Lock()
	g.action = map[int]string{3: GuardRefuse}
	g.mu.Unlock()
	if _, err := w.x.Resume(ctx, p.ID); !errors.Is(err, ErrGuardRefused) {
		t.Fatalf("Resume with the guard refusing: %v, want ErrGuardRefused", err)
	}
	if q, _ := w.x.Get(p.ID); q.State != StateStranded || len(q.Events) != len(p.Events) {
		t.Fatalf("after a refused Resume: %s with %d events; want stranded, unchanged", q.State, len(q.Events))
	}
	g.mu.Lock()
	g.action = map[int]string{3: GuardHold}
	g.mu.Unlock()
	q, err := w.x.Resume(ctx, p.ID)
	if err != nil || q.State != StateHeld {
		t.Fatalf("Resume with the guard holding: %v, state %v", err, q)
	}
	if q, err = w.x.Resume(ctx, p.ID); err != nil || q.State != StateCompleted {
		t.Fatalf("Resume of the held payment: %v, %+v", err, q)
	}
	w.noPending(t)
	w.checkBooks(t)
}

// unknownGuard answers with an action the executor does not know.
type unknownGuard struct{}

func (unknownGuard) CheckHop(context.Context, HopCheck) GuardDecision {
	return GuardDecision{Action: "block", Rule: "r", Reason: "why"}
}

func TestGuardUnknownActionHolds(t *testing.T) {
	w := newWorld(t, compliance.PolicyStrict)
	w.guard = unknownGuard{}
	w.reopen(t)
	p, err := w.x.Pay(context.Background(), Request{From: "alipay.balance", To: "wechat.change", AmountFen: 10_000, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if p.State != StateHeld || !strings.Contains(p.Reason, `unknown guard action "block"`) {
		t.Fatalf("state %s (%s); want held naming the unknown action", p.State, p.Reason)
	}
}

// TestCreditSourceGuardShare: a hop of a payment drawn on Huabei is
// checked with a 10000 bps credit share.
func TestCreditSourceGuardShare(t *testing.T) {
	w, g := guardedWorldPolicy(t, nil, compliance.PolicyAdvisory)
	if _, err := w.x.Pay(context.Background(), Request{From: "alipay.huabei", To: "alipay.balance", AmountFen: 10_000, Channels: []string{"huabei_topup_balance"}, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if len(g.asked) == 0 {
		src, _ := w.eco.Product("alipay.huabei")
		t.Fatalf("guard not asked (source kind %s, want %s)", src.Kind, ecosystem.ProductCredit)
	}
	if g.asked[0].CreditShareBps != 10_000 {
		t.Errorf("credit share %d bps, want 10000", g.asked[0].CreditShareBps)
	}
}

// randomGuard answers allow, hold, refuse or an unknown action from a
// seeded stream (one question at a time).
type randomGuard struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (g *randomGuard) CheckHop(context.Context, HopCheck) GuardDecision {
	g.mu.Lock()
	defer g.mu.Unlock()
	actions := []string{GuardAllow, GuardAllow, GuardAllow, "", GuardHold, GuardRefuse, "block"}
	return GuardDecision{Action: actions[g.r.IntN(len(actions))], Rule: "random", Reason: "drawn"}
}

// TestPropertyGuardNothingLost: with a guard that answers at random, random
// payments, resumes, refunds and restarts never lose money, never leave
// holds behind a held payment, keep every institution's books balanced,
// and every held or stranded payment can be refunded to a terminal state.
func TestPropertyGuardNothingLost(t *testing.T) {
	states := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		g := &randomGuard{r: rand.New(rand.NewPCG(rapid.Uint64().Draw(rt, "guard_seed"), 1))}
		w := &world{eco: bundled(rt), store: ledger.NewMemStore(), clk: clock.NewVirtual(epoch), guard: g}
		w.open(rt, compliance.PolicyStrict)
		ctx := context.Background()
		total := w.held()
		products := []string{"alipay.balance", "wechat.change", "icbc.debit", "cmb.debit", "alipay.yuebao"}
		for range rapid.IntRange(1, 10).Draw(rt, "steps") {
			switch rapid.IntRange(0, 5).Draw(rt, "action") {
			case 0: // act on a held or stranded payment
				for _, p := range w.x.List() {
					if p.State != StateHeld && p.State != StateStranded {
						continue
					}
					if rapid.Bool().Draw(rt, "resume") {
						_, _ = w.x.Resume(ctx, p.ID) // the guard may refuse again, a limit may bite
					} else if _, err := w.x.Refund(ctx, p.ID); err != nil {
						rt.Fatalf("refund %s (%s): %v", p.ID, p.State, err)
					}
					break
				}
			case 1: // restart
				w.reopen(rt)
				if _, err := w.x.Recover(ctx); err != nil {
					rt.Fatalf("recover: %v", err)
				}
			default:
				req := drawRequest(rt, products)
				if rapid.Bool().Draw(rt, "four_hops") {
					req = fourHopReq(req.OnFailure)
					req.Seed, req.FailHop = rapid.Uint64().Draw(rt, "seed4"), 0
				}
				p, err := w.x.Pay(ctx, req)
				if err != nil {
					continue
				}
				if p.State == StateRunning {
					rt.Fatalf("Pay returned a running payment")
				}
				states[p.State]++
			}
			for _, v := range CheckBooks(w.led.Accounts()) {
				rt.Fatal(v)
			}
			if got := w.held(); got != total {
				rt.Fatalf("holders and fee accounts hold %d, had %d", got, total)
			}
			w.noPending(rt)
		}
		for _, p := range w.x.List() {
			if p.State == StateHeld || p.State == StateStranded {
				if q, err := w.x.Refund(ctx, p.ID); err != nil || q.State != StateRefunded {
					rt.Fatalf("final refund of %s (%s): %v", p.ID, p.State, err)
				}
			}
		}
		for _, p := range w.x.List() {
			if !p.Terminal() {
				rt.Fatalf("%s still %s after every hold and strand was refunded", p.ID, p.State)
			}
		}
		if got := w.held(); got != total {
			rt.Fatalf("at the end holders and fee accounts hold %d, had %d", got, total)
		}
	})
	t.Logf("states after Pay: %v", states)
	for _, s := range []string{StateCompleted, StateHeld, StateRejected} {
		if states[s] == 0 {
			t.Errorf("no payment ended %s: the generator misses it", s)
		}
	}
}
