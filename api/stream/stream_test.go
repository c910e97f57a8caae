package stream

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/store/sqlite"
)

// testOutbox is a ledger in memory whose outbox the tests append to.
type testOutbox struct {
	led *ledger.Engine
	ob  *payment.Outbox
	n   int
}

func newOutbox(t testing.TB) *testOutbox {
	t.Helper()
	return newOutboxOn(t, ledger.NewMemStore())
}

// newSQLiteOutbox is a ledger in a SQLite file, as the server runs it.
func newSQLiteOutbox(t testing.TB) *testOutbox {
	t.Helper()
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "l.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // runs after the ledger's Close: cleanups run last first
	return newOutboxOn(t, st)
}

func newOutboxOn(t testing.TB, store ledger.Store) *testOutbox {
	t.Helper()
	led, err := ledger.Open(context.Background(), store, ledger.SystemClock{}, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { led.Close() })
	return &testOutbox{led: led, ob: payment.NewOutbox(led)}
}

// add appends n events, alternating payments p1 and p2, in commits of at
// most 200.
func (o *testOutbox) add(t testing.TB, n int) {
	t.Helper()
	for n > 200 {
		o.add(t, 200)
		n -= 200
	}
	if n == 0 {
		return
	}
	var recs []ledger.Record
	for range n {
		o.n++
		ev := payment.Event{Payment: fmt.Sprintf("p%d", 1+o.n%2), At: time.Date(2026, 1, 1, 0, 0, o.n, 0, time.UTC), Type: "hop_started", Hop: 1, TransferIDs: []ledger.TransferID{}}
		data, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, ledger.Record{Kind: payment.RecordKind, Key: ev.Payment, Data: data})
	}
	res, err := o.led.Submit(context.Background(), &ledger.Batch{Records: recs})
	if err != nil || !res.OK() {
		t.Fatalf("append events: %v %+v", err, res)
	}
}

func startHub(t testing.TB, ob *testOutbox, opts Options) *Hub {
	t.Helper()
	h := NewHub(ob.ob, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run returned %v", err)
		}
	})
	return h
}

// server serves the hub; ?after=N and ?payment=ID (a keep filter).
func server(t testing.TB, h *Hub) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		var keep func(payment.Event) bool
		if p := r.URL.Query().Get("payment"); p != "" {
			keep = func(e payment.Event) bool { return e.Payment == p }
		}
		h.ServeSSE(w, r, after, keep)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sseEvent is one parsed event.
type sseEvent struct {
	id   uint64
	typ  string
	data payment.Event
}

// client reads an SSE response.
type client struct {
	resp *http.Response
	sc   *bufio.Scanner
	beat int
}

func open(t testing.TB, url, lastID string) *client {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %s %s", url, resp.Status, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &client{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event (false at end of stream).
func (c *client) next(t testing.TB) (sseEvent, bool) {
	t.Helper()
	var e sseEvent
	have := false
	for c.sc.Scan() {
		line := c.sc.Text()
		switch {
		case line == "":
			if have {
				return e, true
			}
		case strings.HasPrefix(line, ": heartbeat"):
			c.beat++
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			id, err := strconv.ParseUint(line[4:], 10, 64)
			if err != nil {
				t.Fatalf("bad id line %q", line)
			}
			e.id, have = id, true
		case strings.HasPrefix(line, "event: "):
			e.typ = line[7:]
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(line[6:]), &e.data); err != nil {
				t.Fatalf("bad data %q: %v", line, err)
			}
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
	return e, false
}

// take reads n events, checking each is well formed.
func (c *client) take(t testing.TB, n int) []sseEvent {
	t.Helper()
	var out []sseEvent
	for len(out) < n {
		e, ok := c.next(t)
		if !ok {
			t.Fatalf("stream ended after %d of %d events", len(out), n)
		}
		if e.data.Seq != e.id || e.typ != e.data.Type || e.typ == "" {
			t.Fatalf("event id %d type %q does not match data %+v", e.id, e.typ, e.data)
		}
		out = append(out, e)
	}
	return out
}

func ids(evs []sseEvent) []uint64 {
	out := make([]uint64, len(evs))
	for i, e := range evs {
		out[i] = e.id
	}
	return out
}

func consecutive(t *testing.T, got []uint64, from uint64) {
	t.Helper()
	for i, id := range got {
		if id != from+uint64(i) {
			t.Fatalf("event %d has id %d, want %d (ids %v)", i, id, from+uint64(i), got)
		}
	}
}

// TestReplayThenLive: history is replayed, then live events follow without
// a gap or a duplicate, in order (on both ledger stores).
func TestReplayThenLive(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testReplayThenLive(t, newOutbox(t)) })
	t.Run("sqlite", func(t *testing.T) { testReplayThenLive(t, newSQLiteOutbox(t)) })
}

func testReplayThenLive(t *testing.T, ob *testOutbox) {
	ob.add(t, 50)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond, Batch: 7})
	srv := server(t, h)
	c := open(t, srv.URL, "")
	first := c.take(t, 20)
	consecutive(t, ids(first), 1)
	for range 10 {
		ob.add(t, 5)
		h.Notify()
	}
	consecutive(t, ids(c.take(t, 80)), 21)
	if h.Streams() != 1 {
		t.Fatalf("Streams = %d, want 1", h.Streams())
	}
}

// TestResume: Last-Event-ID resumes after the last event seen and
// overrides ?after; a bad Last-Event-ID is a 400.
func TestResume(t *testing.T) {
	ob := newOutbox(t)
	ob.add(t, 30)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond})
	srv := server(t, h)
	c := open(t, srv.URL+"?after=5", "")
	consecutive(t, ids(c.take(t, 10)), 6)
	c.resp.Body.Close()
	ob.add(t, 10)
	c = open(t, srv.URL+"?after=1", "15") // the header wins
	consecutive(t, ids(c.take(t, 25)), 16)

	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Last-Event-ID", "x1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("bad Last-Event-ID: %s", resp.Status)
	}
}

// TestFilter: keep selects the events of one payment, in replay and live.
func TestFilter(t *testing.T) {
	ob := newOutbox(t)
	ob.add(t, 10)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond})
	srv := server(t, h)
	c := open(t, srv.URL+"?payment=p1", "")
	got := c.take(t, 5)
	ob.add(t, 10)
	h.Notify()
	got = append(got, c.take(t, 5)...)
	for i, e := range got {
		if e.data.Payment != "p1" || e.id != uint64(2*i+2) {
			t.Fatalf("event %d: %+v", i, e)
		}
	}
}

// TestHeartbeat: an idle stream gets comment lines.
func TestHeartbeat(t *testing.T) {
	ob := newOutbox(t)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond, Heartbeat: 10 * time.Millisecond})
	srv := server(t, h)
	c := open(t, srv.URL, "")
	go func() {
		time.Sleep(60 * time.Millisecond)
		ob.add(t, 1)
		h.Notify()
	}()
	c.take(t, 1)
	if c.beat == 0 {
		t.Fatal("no heartbeat on an idle stream")
	}
}

// gatedWriter is a ResponseWriter whose writes block until the gate opens.
type gatedWriter struct {
	hdr  http.Header
	gate chan struct{}
	mu   sync.Mutex
	buf  strings.Builder
}

func (g *gatedWriter) Header() http.Header { return g.hdr }
func (g *gatedWriter) WriteHeader(int)     {}
func (g *gatedWriter) Write(b []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(b)
}
func (g *gatedWriter) Flush() {}

// TestSlowClient: a stream that does not read is dropped when its buffer
// fills, others keep receiving meanwhile, and the slow client loses nothing
// when it resumes from the last id it got.
func TestSlowClient(t *testing.T) {
	ob := newOutbox(t)
	h := startHub(t, ob, Options{Poll: 2 * time.Millisecond, Buffer: 8})
	srv := server(t, h)
	fast := open(t, srv.URL, "")

	slow := &gatedWriter{hdr: http.Header{}, gate: make(chan struct{})}
	req := httptest.NewRequest("GET", "/", nil)
	done := make(chan struct{})
	go func() { h.ServeSSE(slow, req, 0, nil); close(done) }()
	// The slow handler is stuck writing its preamble; it has not registered
	// yet, so open the gate for the preamble only once it is counted.
	for h.Streams() < 2 {
		time.Sleep(time.Millisecond)
	}
	slow.gate <- struct{}{} // the preamble
	// It registers after reading an empty outbox.
	for {
		h.mu.Lock()
		n := len(h.subs)
		h.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// 103 events: the slow stream (stuck on its first write) overflows.
	var fastGot []sseEvent
	ob.add(t, 3)
	h.Notify()
	deadline := time.Now().Add(5 * time.Second)
	for h.Lag() != 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if h.Lag() != 2 { // the slow stream is stuck writing the 1st and holds 2; the fast one drains
		t.Fatalf("Lag = %d, want 2", h.Lag())
	}
	fastGot = append(fastGot, fast.take(t, 3)...)
	for range 20 {
		ob.add(t, 5)
		h.Notify()
		fastGot = append(fastGot, fast.take(t, 5)...) // not held up by the slow one
	}
	consecutive(t, ids(fastGot), 1)
	close(slow.gate)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the overflowed stream was not ended")
	}
	// Parse what the slow stream wrote, then resume from its last id.
	sc := &client{sc: bufio.NewScanner(strings.NewReader(slow.buf.String()))}
	var got []uint64
	for {
		e, ok := sc.next(t)
		if !ok {
			break
		}
		got = append(got, e.id)
	}
	if len(got) >= 103 || len(got) == 0 {
		t.Fatalf("slow stream wrote %d events before it was dropped; want some but not all 103", len(got))
	}
	consecutive(t, got, 1)
	c := open(t, srv.URL, strconv.FormatUint(got[len(got)-1], 10))
	consecutive(t, ids(c.take(t, 103-len(got))), got[len(got)-1]+1)
}

// TestRegisterWhileHubBehind: a stream that asks for events after a seq the
// hub has not reached yet gets each event once.
func TestRegisterWhileHubBehind(t *testing.T) {
	ob := newOutbox(t)
	ob.add(t, 40)
	h := NewHub(ob.ob, Options{Poll: 2 * time.Millisecond, Batch: 3})
	srv := server(t, h)
	c := open(t, srv.URL+"?after=10", "")
	first := c.take(t, 30) // replayed while the hub is not running
	consecutive(t, ids(first), 11)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	ob.add(t, 10)
	h.Notify()
	consecutive(t, ids(c.take(t, 10)), 41)
}

// TestManyStreams opens streamCount concurrent streams, reports the memory
// each costs the process (client connections included), and checks every
// stream gets every event.
func TestManyStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	n := streamCount
	ob := newOutbox(t)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond})
	srv := server(t, h)
	addr := srv.Listener.Addr().String()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	conns := make([]net.Conn, n)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /?payment= HTTP/1.1\r\nHost: x\r\n\r\n")
		conns[i] = c
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		reg := len(h.subs)
		h.mu.Unlock()
		if reg == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d streams registered", reg, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if h.Streams() != n {
		t.Fatalf("Streams = %d, want %d", h.Streams(), n)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / float64(n)
	t.Logf("%d open streams: %.1f KiB each (heap+stacks in use, server and client sides, after GC); %d goroutines", n, per/1024, runtime.NumGoroutine())

	ob.add(t, 20)
	h.Notify()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			want := 1
			for want <= 20 {
				line, err := br.ReadString('\n')
				if err != nil {
					errs <- fmt.Errorf("stream %d: %v after id %d", i, err, want-1)
					return
				}
				if strings.HasPrefix(line, "id: ") {
					if got, _ := strconv.Atoi(strings.TrimSpace(line[4:])); got != want {
						errs <- fmt.Errorf("stream %d: id %d, want %d", i, got, want)
						return
					}
					want++
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, c := range conns {
		c.Close()
	}
	deadline = time.Now().Add(10 * time.Second)
	for h.Streams() != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.Streams() != 0 {
		t.Fatalf("Streams = %d after every client left", h.Streams())
	}
}

// TestClose: Close ends open streams and later ones.
func TestClose(t *testing.T) {
	ob := newOutbox(t)
	ob.add(t, 3)
	h := startHub(t, ob, Options{Poll: 5 * time.Millisecond})
	srv := server(t, h)
	c := open(t, srv.URL, "")
	c.take(t, 3)
	h.Close()
	if e, ok := c.next(t); ok {
		t.Fatalf("stream goes on after Close: %+v", e)
	}
	c = open(t, srv.URL, "")
	if _, ok := c.next(t); ok {
		t.Fatal("a stream opened after Close got an event")
	}
	h.Close() // twice is fine
}

// TestSeekEnd: the hub finds the outbox's last event for any length.
func TestSeekEnd(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testSeekEnd(t, newOutbox(t)) })
	t.Run("sqlite", func(t *testing.T) { testSeekEnd(t, newSQLiteOutbox(t)) })
}

func testSeekEnd(t *testing.T, ob *testOutbox) {
	h := NewHub(ob.ob, Options{})
	total := 0
	for _, add := range []int{0, 1, 1, 1, 5, 7, 100, 500, 1000, 1, 2385} {
		ob.add(t, add)
		total += add
		for _, from := range []uint64{0, uint64(total / 2), uint64(max(total-1, 0)), uint64(total)} {
			got, err := h.seekEnd(context.Background(), from)
			if err != nil || got != uint64(total) {
				t.Fatalf("after %d events seekEnd(%d) = %d, %v", total, from, got, err)
			}
		}
	}
}

// TestRunStartsAtEnd: a hub started on a long outbox goes live at its end
// and streams still replay history.
func TestRunStartsAtEnd(t *testing.T) {
	ob := newOutbox(t)
	ob.add(t, 3000)
	h := startHub(t, ob, Options{Poll: 2 * time.Millisecond})
	deadline := time.Now().Add(5 * time.Second)
	for h.Last() != 3000 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if h.Last() != 3000 {
		t.Fatalf("hub at %d, want 3000", h.Last())
	}
	srv := server(t, h)
	c := open(t, srv.URL+"?after=2990", "")
	ob.add(t, 5)
	h.Notify()
	consecutive(t, ids(c.take(t, 15)), 2991)
}

// TestWriteTimeout: a client that stops reading is let go after
// WriteTimeout, not held for ever.
func TestWriteTimeout(t *testing.T) {
	ob := newOutbox(t)
	h := startHub(t, ob, Options{Poll: 2 * time.Millisecond, Buffer: 1 << 20, WriteTimeout: 200 * time.Millisecond})
	srv := server(t, h)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(1024)
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	for h.Streams() != 1 {
		time.Sleep(time.Millisecond)
	}
	// Far more than the socket buffers hold.
	deadline := time.Now().Add(20 * time.Second)
	for h.Streams() == 1 {
		if time.Now().After(deadline) {
			t.Fatalf("a client that reads nothing still holds its stream after %d events", ob.n)
		}
		ob.add(t, 2000)
		h.Notify()
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("stream let go after %d unread events", ob.n)
}
