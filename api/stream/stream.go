// Package stream serves the payment outbox as Server-Sent Events.
//
// One Hub tails the outbox (payment.Outbox.Read after the last seq it has
// seen), encodes each event once, and fans the encoded frame out to every
// open stream through a bounded per-stream buffer. A stream is written as
//
//	id: SEQ
//	event: TYPE
//	data: {the payment.Event as JSON}
//
// with ": heartbeat" comment lines when nothing else is sent, so proxies
// and clients can tell an idle stream from a dead one.
//
// No gaps, no duplicates: a stream first replays history from the outbox
// (after the client's cursor: the Last-Event-ID header, else the after
// argument) until it has caught up with the hub, then registers with the hub
// under the hub's lock at exactly the seq it has reached, so every later
// event comes from the hub and every earlier one came from the replay; each
// stream still drops any event at or below the last id it wrote.
//
// A slow client does not hold up the others: the hub never blocks on a
// stream. When a stream's buffer is full the hub drops the stream; the
// handler writes what was already buffered (all in order) and ends the
// response, and the client reconnects with Last-Event-ID and replays from
// the outbox what it missed, so nothing is lost to a client that resumes.
// A client that stops reading altogether is let go after WriteTimeout.
//
// Cost: the hub makes one outbox read per wake-up whatever the number of
// streams (a per-stream poller makes one per stream), and with no stream
// open it reads no events at all: it starts at the outbox's end (found with
// a few one-event reads) and, while no stream is open, moves to the ledger's
// last record seq at each wake-up.
//
// The Hub fits api.Config.Streams: the server calls its Notify after each
// commit, Streams and Lag for metrics, and Close on shutdown; whoever
// starts the server runs Hub.Run beside it.
package stream

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// Options tune a Hub. Zero fields take the defaults.
type Options struct {
	// Poll is how often the hub reads the outbox when Notify is not called
	// (default 200ms).
	Poll time.Duration
	// Heartbeat is how long a stream may be silent before a comment line is
	// sent (default 15s).
	Heartbeat time.Duration
	// Batch is how many events one outbox read returns (default
	// DefaultBatch, at most ledger.MaxHistoryPage).
	Batch int
	// WriteTimeout ends a stream whose client has not taken a write for this
	// long (default 30s), so a stalled client does not hold a goroutine and
	// a connection for ever.
	WriteTimeout time.Duration
	// Buffer is how many events a stream may have waiting before the hub
	// drops it (default DefaultBuffer). Keep it at least Batch: the hub hands a
	// stream a whole outbox read at once, so a smaller buffer can drop a
	// stream that keeps up. Each slot costs 8 bytes per open stream.
	Buffer int
}

// Defaults.
const (
	DefaultPoll      = 200 * time.Millisecond
	DefaultHeartbeat = 15 * time.Second
	DefaultBuffer    = 256
	DefaultBatch     = 256
	// DefaultWriteTimeout is Options.WriteTimeout's default.
	DefaultWriteTimeout = 30 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.Batch <= 0 {
		o.Batch = DefaultBatch
	}
	if o.Batch > ledger.MaxHistoryPage {
		o.Batch = ledger.MaxHistoryPage
	}
	if o.Buffer <= 0 {
		o.Buffer = DefaultBuffer
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	return o
}

// frame is one event, encoded once for every stream.
type frame struct {
	ev   *payment.Event
	text []byte // "id: …\nevent: …\ndata: …\n\n"
}

func encode(ev *payment.Event) (*frame, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, len(data)+len(ev.Type)+40)
	b = append(b, "id: "...)
	b = strconv.AppendUint(b, ev.Seq, 10)
	b = append(b, "\nevent: "...)
	b = append(b, sanitizeLine(ev.Type)...)
	b = append(b, "\ndata: "...)
	b = append(b, data...) // json.Marshal output has no raw newlines
	b = append(b, "\n\n"...)
	return &frame{ev: ev, text: b}, nil
}

// sanitizeLine keeps a field on one line.
func sanitizeLine(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// sub is one registered stream.
type sub struct {
	ch    chan *frame
	after uint64 // the stream has everything ≤ after
	keep  func(payment.Event) bool
}

// Hub tails the outbox and fans events out to streams. Run must be running
// for streams to go live; until then they replay history only.
type Hub struct {
	outbox *payment.Outbox
	opts   Options
	wake   chan struct{}

	mu   sync.Mutex
	last uint64 // the hub has fanned out every event ≤ last
	subs map[*sub]struct{}

	streams atomic.Int64
	done    chan struct{} // closed by Close
	closed  bool          // guarded by mu
}

// NewHub returns a hub over outbox.
func NewHub(outbox *payment.Outbox, opts Options) *Hub {
	return &Hub{outbox: outbox, opts: opts.withDefaults(), wake: make(chan struct{}, 1), subs: map[*sub]struct{}{}, done: make(chan struct{})}
}

// Notify wakes the tail early (call it after a commit that wrote events).
// It never blocks.
func (h *Hub) Notify() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// Streams is the number of open streams (registered or replaying).
func (h *Hub) Streams() int { return int(h.streams.Load()) }

// Lag is the most events any live stream has waiting in its buffer (the
// outbox-lag metric; streams still replaying history are not counted).
func (h *Hub) Lag() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	var lag int
	for s := range h.subs {
		lag = max(lag, len(s.ch))
	}
	return uint64(lag)
}

// Last is the seq of the last event the hub has fanned out.
func (h *Hub) Last() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

// Run tails the outbox until ctx ends, then returns ctx's error. It starts
// at the outbox's current end, found with a few one-event reads (history is
// what each stream replays for itself); if that search fails it starts from
// the beginning. A failed read is retried at the next poll.
func (h *Hub) Run(ctx context.Context) error {
	if end, err := h.seekEnd(ctx, 0); err == nil {
		h.mu.Lock()
		// A stream registered meanwhile may hold less than end: then the
		// hub must fan out from where it is, or that stream would miss
		// events; it starts from the beginning and the stream skips what
		// it has.
		if len(h.subs) == 0 {
			h.last = max(h.last, end)
		}
		h.mu.Unlock()
	}
	t := time.NewTimer(h.opts.Poll)
	defer t.Stop()
	for {
		n, err := h.tail(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil && n == h.opts.Batch {
			continue // more waiting
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(h.opts.Poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.wake:
		case <-t.C:
		}
	}
}

// seekEnd returns the seq of the outbox's last event after from (from if
// there is none) with O(log n) reads of one event each, n the number of
// events after from: a read after x is empty exactly when x is at or past
// the last event, so step forward by doubling strides until past the end,
// then bisect.
func (h *Hub) seekEnd(ctx context.Context, from uint64) (uint64, error) {
	next := func(after uint64) (uint64, bool, error) {
		evs, err := h.outbox.Read(ctx, after, 1)
		if err != nil || len(evs) == 0 {
			return 0, false, err
		}
		return evs[0].Seq, true, nil
	}
	seq, ok, err := next(from)
	if err != nil || !ok {
		return from, err
	}
	lo, step := seq, uint64(64) // an event at lo
	var hi uint64
	for {
		if lo > math.MaxUint64-step {
			return 0, errors.New("stream: outbox seq out of range")
		}
		hi = lo + step
		s, ok, err := next(hi)
		if err != nil {
			return 0, err
		}
		if !ok {
			break // nothing after hi
		}
		lo, step = s, 2*step
	}
	// Invariant: an event at lo, none after hi, lo < hi. Find the last.
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		s, ok, err := next(mid - 1)
		if err != nil {
			return 0, err
		}
		if !ok {
			hi = mid - 1
		} else {
			lo = max(lo, s)
			hi = max(hi, s)
		}
	}
	return lo, nil
}

// tail reads one batch after h.last and fans it out.
func (h *Hub) tail(ctx context.Context) (int, error) {
	h.mu.Lock()
	after, idle := h.last, len(h.subs) == 0
	h.mu.Unlock()
	if idle {
		// Nobody to fan out to: move to the end without reading what is
		// in between (a server committing thousands of events a second
		// with no stream open should not pay for them): the ledger knows
		// its last payment event's seq (an event's, so a stream that has
		// read up to it can register).
		end := max(after, h.outbox.End())
		h.mu.Lock()
		if len(h.subs) == 0 { // else a stream may hold less than end
			h.last = max(h.last, end)
		}
		h.mu.Unlock()
		return 0, nil
	}
	evs, err := h.outbox.Read(ctx, after, h.opts.Batch)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	frames := make([]*frame, 0, len(evs))
	for i := range evs {
		f, err := encode(&evs[i])
		if err != nil {
			return 0, err
		}
		frames = append(frames, f)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, f := range frames {
			if f.ev.Seq <= s.after || (s.keep != nil && !s.keep(*f.ev)) {
				continue
			}
			select {
			case s.ch <- f:
			default: // full: drop the stream; it resumes from the outbox
				delete(h.subs, s)
				close(s.ch)
			}
			if _, ok := h.subs[s]; !ok {
				break
			}
		}
		// Whatever the filter skipped, the stream is past it.
		if _, ok := h.subs[s]; ok {
			s.after = frames[len(frames)-1].ev.Seq
		}
	}
	h.last = frames[len(frames)-1].ev.Seq
	return len(evs), nil
}

// register adds a stream that has everything ≤ after, if the hub has not
// fanned out anything beyond after; otherwise the stream must replay more.
func (h *Hub) register(s *sub) (ok, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false, true
	}
	if s.after < h.last {
		return false, false
	}
	h.subs[s] = struct{}{}
	return true, false
}

// Close ends every open stream (a server shutting down: streams never go
// idle by themselves) and makes later ones end at once. Run goes on until
// its context ends.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *Hub) unregister(s *sub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		close(s.ch)
	}
}

// LastEventID returns the cursor a request resumes from: the Last-Event-ID
// header if present and valid, else after. ok is false for a header that is
// not a seq.
func LastEventID(r *http.Request, after uint64) (uint64, bool) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		return after, true
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return after, false
	}
	return n, true
}

// ServeSSE streams the events with seq > after (or > the Last-Event-ID
// header, which overrides after) for which keep returns true (keep nil
// keeps all), until the client goes away, the stream overflows, or a read
// of the outbox fails. A malformed Last-Event-ID is answered 400.
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request, after uint64, keep func(payment.Event) bool) {
	cursor, ok := LastEventID(r, after)
	if !ok {
		http.Error(w, `{"error":{"code":"invalid_request","message":"Last-Event-ID: not an event id (a decimal seq)","field":"Last-Event-ID"}}`, http.StatusBadRequest)
		return
	}
	h.streams.Add(1)
	defer h.streams.Add(-1)
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// put writes with a deadline (ignored where the writer has none).
	put := func(b []byte) error {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		_, err := w.Write(b)
		return err
	}
	if err := put([]byte(": paybridge events\n\n")); err != nil {
		return
	}
	if rc.Flush() != nil {
		return
	}
	ctx := r.Context()
	hb := time.NewTicker(h.opts.Heartbeat)
	defer hb.Stop()
	write := func(b []byte) bool {
		if err := put(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}

	// Replay from the outbox until caught up with the hub, then register.
	s := &sub{ch: make(chan *frame, h.opts.Buffer), after: cursor, keep: keep}
	var last uint64 // the last seq this stream has (s.after belongs to the hub once registered)
	for {
		select {
		case <-h.done:
			return
		default:
		}
		evs, err := h.outbox.Read(ctx, s.after, h.opts.Batch)
		if err != nil || ctx.Err() != nil {
			return
		}
		if len(evs) == 0 {
			last = s.after
			ok, closed := h.register(s)
			if closed {
				return
			}
			if ok {
				break
			}
			// The hub has fanned out events this read did not return yet
			// (a read racing the commit): read again shortly.
			select {
			case <-ctx.Done():
				return
			case <-h.done:
				return
			case <-time.After(h.opts.Poll):
			}
			continue
		}
		wrote := false
		for i := range evs {
			ev := &evs[i]
			if keep == nil || keep(*ev) {
				f, err := encode(ev)
				if err != nil {
					return
				}
				if err := put(f.text); err != nil {
					return
				}
				wrote = true
			}
			s.after = ev.Seq
		}
		if wrote {
			if rc.Flush() != nil {
				return
			}
			hb.Reset(h.opts.Heartbeat)
		}
	}
	defer h.unregister(s)

	for {
		select {
		case <-ctx.Done():
			return
		case f, ok := <-s.ch:
			if !ok {
				return // dropped by the hub: the client resumes from its last id
			}
			if f.ev.Seq <= last {
				continue
			}
			// Write everything already waiting in one flush.
			if err := put(f.text); err != nil {
				return
			}
			last = f.ev.Seq
			for more := true; more; {
				select {
				case g, ok := <-s.ch:
					if !ok {
						rc.Flush()
						return
					}
					if g.ev.Seq > last {
						if err := put(g.text); err != nil {
							return
						}
						last = g.ev.Seq
					}
				default:
					more = false
				}
			}
			if rc.Flush() != nil {
				return
			}
			hb.Reset(h.opts.Heartbeat)
		case <-hb.C:
			if !write([]byte(": heartbeat\n\n")) {
				return
			}
		}
	}
}
