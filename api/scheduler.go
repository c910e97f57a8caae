package api

import (
	"container/heap"
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/payment"
)

// maxSettling bounds the payments settled at once.
const maxSettling = 64

// scheduler runs payments on the clock: it waits (holding no payment's
// lock) for the earliest hop to fall due, then lets the executor settle
// every due payment; the executor, on a NonBlocking clock, returns as soon
// as a payment's next hop is not yet due.
type scheduler struct {
	x        *payment.Executor
	clk      clock.Clock
	log      *slog.Logger
	settled  func() // after each settlement (wakes the event streams)
	mu       sync.Mutex
	due      map[string]time.Time // the authoritative due time of each waiting payment
	heap     dueHeap              // (due, id), with stale entries skipped on pop
	waiting  time.Time            // the due time run waits for (zero: not waiting on a time)
	wake     chan struct{}
	inflight sync.WaitGroup
}

func newScheduler(x *payment.Executor, clk clock.Clock, log *slog.Logger, settled func()) *scheduler {
	return &scheduler{x: x, clk: clk, log: log, settled: settled, due: map[string]time.Time{}, wake: make(chan struct{}, 1)}
}

// add schedules a running payment (a terminal one is ignored).
func (s *scheduler) add(p *payment.Payment) {
	if p == nil || p.State != payment.StateRunning {
		return
	}
	s.mu.Lock()
	d := p.Due()
	s.due[p.ID] = d
	heap.Push(&s.heap, dueEntry{d, p.ID})
	// Wake run only if it waits for a later time (or none): a payment due
	// after the one it waits for is found when that one is settled. On a
	// busy server that skips nearly every wake-up.
	later := !s.waiting.IsZero() && !d.Before(s.waiting)
	s.mu.Unlock()
	if later {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// pending returns how many payments wait for the clock.
func (s *scheduler) pending() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.due)
}

// next returns the earliest due time.
func (s *scheduler) next() (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.heap.Len() > 0 {
		e := s.heap[0]
		if d, ok := s.due[e.id]; ok && d.Equal(e.at) {
			return e.at, true
		}
		heap.Pop(&s.heap) // stale: settled or rescheduled since
	}
	return time.Time{}, false
}

// setWaiting records the due time run waits for (zero: none).
func (s *scheduler) setWaiting(t time.Time) {
	s.mu.Lock()
	s.waiting = t
	s.mu.Unlock()
}

// popDue removes and returns the payments due at now.
func (s *scheduler) popDue(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for s.heap.Len() > 0 && !s.heap[0].at.After(now) {
		e := heap.Pop(&s.heap).(dueEntry)
		if d, ok := s.due[e.id]; ok && d.Equal(e.at) {
			ids = append(ids, e.id)
			delete(s.due, e.id)
		}
	}
	return ids
}

type dueEntry struct {
	at time.Time
	id string
}

// dueHeap is a min-heap of due times.
type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// run loops until ctx ends, then waits for settlements in flight.
func (s *scheduler) run(ctx context.Context) error {
	defer s.inflight.Wait()
	sem := make(chan struct{}, maxSettling)
	for {
		first, ok := s.next()
		if !ok {
			select {
			case <-s.wake:
				continue
			case <-ctx.Done():
				return nil
			}
		}
		if first.After(s.clk.Now()) {
			s.setWaiting(first)
			wctx, cancel := context.WithCancel(ctx)
			stop := make(chan struct{})
			go func() {
				select {
				case <-s.wake:
					cancel()
				case <-stop:
				}
			}()
			err := s.clk.WaitUntil(wctx, first)
			s.setWaiting(time.Time{})
			close(stop)
			cancel()
			if ctx.Err() != nil {
				return nil
			}
			if err != nil && first.After(s.clk.Now()) {
				continue // woken early: a payment was added; recompute
			}
		}
		// Due: settle now, whether or not a payment was added meanwhile
		// (a wake-up must not starve payments already due: under a steady
		// stream of new payments one is always pending).
		for _, id := range s.popDue(s.clk.Now()) {
			sem <- struct{}{}
			s.inflight.Add(1)
			go func() {
				defer func() { <-sem; s.inflight.Done() }()
				s.settle(id)
			}()
		}
	}
}

// settle runs payment id as far as the clock allows. The commit is not
// tied to the server's context: a shutdown waits for it.
func (s *scheduler) settle(id string) {
	p, err := s.x.Run(context.Background(), id)
	s.settled()
	switch {
	case err == nil || errors.Is(err, ErrNotDue):
		s.add(p)
	default:
		s.log.Error("payment settlement failed; it stays running until a restart recovers it", "payment", id, "err", err)
	}
}
