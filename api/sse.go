package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// pollEvery is how often a Poller looks at the outbox without a Notify.
const pollEvery = 250 * time.Millisecond

// Poller serves Server-Sent Events by reading the outbox after each
// stream's cursor, woken by Notify (the server calls it after every
// commit it makes) or by Run when the outbox grew. It is the server's Streamer unless
// Config.Streams names another (the api/stream hub).
type Poller struct {
	outbox  *payment.Outbox
	mu      sync.Mutex
	changed chan struct{}
	streams atomic.Int64
	head    atomic.Uint64 // the last outbox seq any stream read
	slowest sync.Map      // stream → its cursor, for the lag metric
	done    chan struct{} // closed by Close
	closed  bool
}

// NewPoller returns a poller on outbox.
func NewPoller(outbox *payment.Outbox) *Poller {
	return &Poller{outbox: outbox, changed: make(chan struct{}), done: make(chan struct{})}
}

// Notify wakes every stream to read the outbox.
func (p *Poller) Notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// Run looks at the outbox every pollEvery until ctx ends and wakes the
// streams when it grew (commits made by other processes on the same
// ledger file are seen that way; this server's own commits Notify at
// once). Idle streams cost one read per tick, whatever their number;
// without streams it reads nothing.
func (p *Poller) Run(ctx context.Context) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	var seen uint64
	for {
		var evs []payment.Event
		var err error
		if p.streams.Load() > 0 { // nobody to wake otherwise
			evs, err = p.outbox.Read(ctx, seen, ledger.MaxHistoryPage)
		}
		if err == nil && len(evs) > 0 {
			seen = evs[len(evs)-1].Seq
			p.Notify()
			if len(evs) == ledger.MaxHistoryPage {
				continue // catching up
			}
		}
		select {
		case <-ctx.Done():
			p.Notify()
			return
		case <-t.C:
		}
	}
}

// Streams returns the number of open streams.
func (p *Poller) Streams() int { return int(p.streams.Load()) }

// Lag returns how many outbox events the slowest stream is behind the
// newest one read by any stream.
func (p *Poller) Lag() uint64 {
	head := p.head.Load()
	var lag uint64
	p.slowest.Range(func(_, v any) bool {
		if c := v.(*atomic.Uint64).Load(); c < head && head-c > lag {
			lag = head - c
		}
		return true
	})
	return lag
}

// ServeSSE streams the events after cursor after that keep accepts, as
// `id: SEQ`, `event: TYPE`, `data: JSON`, until the client goes away.
func (p *Poller) ServeSSE(w http.ResponseWriter, r *http.Request, after uint64, keep func(payment.Event) bool) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, unavailable("this connection cannot stream events"))
		return
	}
	p.streams.Add(1)
	defer p.streams.Add(-1)
	cursor := new(atomic.Uint64)
	cursor.Store(after)
	p.slowest.Store(cursor, cursor)
	defer p.slowest.Delete(cursor)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": paybridge events after %d\n\n", after)
	fl.Flush()
	ctx := r.Context()
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		p.mu.Lock()
		changed := p.changed
		p.mu.Unlock()
		for {
			evs, err := p.outbox.Read(ctx, after, 500)
			if err != nil {
				return // the client left or the ledger closed
			}
			for _, e := range evs {
				after = e.Seq
				if keep != nil && !keep(e) {
					continue
				}
				data, err := json.Marshal(e)
				if err != nil {
					return
				}
				if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Type, data); err != nil {
					return
				}
			}
			cursor.Store(after)
			if after > p.head.Load() {
				p.head.Store(after)
			}
			if len(evs) > 0 {
				fl.Flush()
			}
			if len(evs) < 500 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-p.done:
			return
		case <-changed:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// afterOf reads the resume cursor: the Last-Event-ID header or ?after=.
func afterOf(r *http.Request) (uint64, *Error) {
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, invalid("Last-Event-ID", "Last-Event-ID %s is not an event id (an outbox seq)", quote(v))
		}
		return n, nil
	}
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, invalid("after", "after=%s is not an event id (an outbox seq)", quote(v))
		}
		return n, nil
	}
	return 0, nil
}

// Close ends every open stream (a server shutting down) and refuses new ones.
func (p *Poller) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.done)
	}
	p.mu.Unlock()
}
