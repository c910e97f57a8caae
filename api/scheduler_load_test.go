package api

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paybridge/paybridge/payment"
)

// TestSchedulerSettlesUnderLoad: a payment that falls due settles while
// the scheduler is woken again and again by payments being added (as on a
// busy server, where a wake-up is nearly always pending); the wake-ups must
// not keep it from settling what is due.
func TestSchedulerSettlesUnderLoad(t *testing.T) {
	h := newHarness(t)
	// Payments whose single hop falls due at different times (by seed):
	// the earliest is the one to settle, the latest keeps being re-added.
	var early, late *payment.Payment
	for seed := range 20 {
		v := h.pay(fmt.Sprintf(`{"from":"alipay.balance","to":"wechat.change","amount_fen":100,"seed":%d}`, seed))
		p, err := h.x.Get(v.ID)
		if err != nil || p.State != payment.StateRunning {
			t.Fatalf("payment %s: %v %v", v.ID, p, err)
		}
		if early == nil || p.Due().Before(early.Due()) {
			early = p
		}
		if late == nil || p.Due().After(late.Due()) {
			late = p
		}
	}
	gap := late.Due().Sub(early.Due())
	if gap < time.Minute {
		t.Fatalf("due times within %v of each other", gap)
	}
	stop := make(chan struct{})
	var adds atomic.Int64
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				h.srv.sched.add(late)
				adds.Add(1)
			}
		})
	}
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			h.do("POST", "/v1/payments", h.admin, `{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":100}`)
		}
	})
	defer func() { close(stop); wg.Wait() }()
	for adds.Load() < 10_000 {
		time.Sleep(time.Millisecond)
	}
	// Now the earliest falls due, the latest not yet.
	h.clk.Advance(early.Due().Sub(h.clk.Now()) + gap/2)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p, err := h.x.Get(early.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != payment.StateRunning {
			if !p.Terminal() {
				t.Fatalf("%s is %s", early.ID, p.State)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s still running 10 s after it fell due, with the scheduler woken %d times", early.ID, adds.Load())
}
