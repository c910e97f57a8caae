package api

import (
	"bufio"
	"container/heap"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// readEvents reads events from path until stop says so or the deadline.
func readEvents(t *testing.T, h *harness, path, key string, headers map[string]string, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", h.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur.id != "" {
				out = append(out, cur)
				if stop(cur) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			cur.data = line[6:]
		}
	}
	t.Fatalf("%s: stream ended before the awaited event (%d events): %v", path, len(out), sc.Err())
	return nil
}

func TestPaymentRunsOnTheClockAndStreams(t *testing.T) {
	h := newHarness(t)
	p := h.pay(`{"from":"alipay.balance","to":"cmb.debit","amount_fen":50000}`)
	if p.State != "running" || p.Due == "" {
		t.Fatalf("a 3-hop payment on a manual clock should be waiting: %+v", p)
	}
	// GET answers while the payment waits for the clock (no lock is held).
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.do("GET", "/v1/payments/"+p.ID, h.admin, "")
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("GET of a running payment blocked")
	}
	evs := make(chan []sseEvent, 1)
	go func() {
		evs <- readEvents(t, h, "/v1/payments/"+p.ID+"/events", h.admin, nil, func(e sseEvent) bool { return e.event == "completed" })
	}()
	v := h.waitState(p.ID, "completed")
	if v.DeliveredFen != 50000 {
		t.Fatalf("delivered %d", v.DeliveredFen)
	}
	got := <-evs
	// A later payment's stream starts at its own created event.
	q := h.pay(`{"from":"alipay.balance","to":"alipay.yuebao","amount_fen":100}`)
	qevs := readEvents(t, h, "/v1/payments/"+q.ID+"/events", h.admin, nil, func(e sseEvent) bool { return e.event == "completed" })
	first, _ := strconv.ParseUint(qevs[0].id, 10, 64)
	prevLast, _ := strconv.ParseUint(got[len(got)-1].id, 10, 64)
	if qevs[0].event != "created" || first <= prevLast {
		t.Fatalf("the second payment's stream starts at %+v", qevs[0])
	}
	if s, err := h.srv.cfg.Executor.FirstSeq(context.Background(), q.ID); err != nil || s != first {
		t.Fatalf("FirstSeq(%s) = %d, %v; the stream started at %d", q.ID, s, err, first)
	}
	if len(got) != len(v.Events) {
		t.Fatalf("streamed %d events, the payment has %d", len(got), len(v.Events))
	}
	for i, e := range got {
		var ev struct {
			Payment, Type string
			Seq           uint64
		}
		if err := json.Unmarshal([]byte(e.data), &ev); err != nil || ev.Payment != p.ID || ev.Type != e.event || ev.Type != v.Events[i].Type {
			t.Fatalf("event %d: %+v %v (timeline %s)", i, e, err, v.Events[i].Type)
		}
	}
	// Resuming after the third event gives the rest.
	rest := readEvents(t, h, "/v1/payments/"+p.ID+"/events", h.admin, map[string]string{"Last-Event-ID": got[2].id},
		func(e sseEvent) bool { return e.event == "completed" })
	if len(rest) != len(got)-3 || rest[0].id != got[3].id {
		t.Fatalf("resumed after %s: %d events from %s", got[2].id, len(rest), rest[0].id)
	}
	code, b := h.do("GET", "/v1/accounts/me/cmb.debit", h.admin, "")
	var a accountView
	json.Unmarshal(b, &a)
	if code != 200 || a.BalanceFen != 1_000_000+50000 {
		t.Fatalf("cmb.debit after the payment: %d %s", code, b)
	}
	code, b = h.do("GET", "/v1/accounts/me/cmb.debit/history?limit=1", h.admin, "")
	var hist struct {
		Transfers  []map[string]any `json:"transfers"`
		NextCursor string           `json:"next_cursor"`
	}
	json.Unmarshal(b, &hist)
	if code != 200 || len(hist.Transfers) != 1 || hist.NextCursor == "" {
		t.Fatalf("history page 1: %d %s", code, b)
	}
	code, b = h.do("GET", "/v1/accounts/me/cmb.debit/history?limit=1000&cursor="+hist.NextCursor, h.admin, "")
	json.Unmarshal(b, &hist)
	if code != 200 || len(hist.Transfers) == 0 {
		t.Fatalf("history page 2: %d %s", code, b)
	}
	var books struct {
		OK         bool     `json:"ok"`
		Violations []string `json:"violations"`
	}
	if code, b = h.do("GET", "/v1/books", h.admin, ""); json.Unmarshal(b, &books) != nil || code != 200 || !books.OK {
		t.Fatalf("books after the payment: %d %s", code, b)
	}
}

func TestStrandedResumeAndRefund(t *testing.T) {
	h := newHarness(t)
	body := `{"from":"alipay.balance","to":"cmb.debit","amount_fen":50000,"on_failure":"strand","fail_hop":2}`
	a, b := h.pay(body), h.pay(body)
	h.waitState(a.ID, "stranded")
	h.waitState(b.ID, "stranded")
	if code, out := h.do("POST", "/v1/payments/"+a.ID+"/resume", h.admin, ""); code != 200 {
		t.Fatalf("resume: %d %s", code, out)
	}
	h.waitState(a.ID, "completed")
	code, out := h.do("POST", "/v1/payments/"+b.ID+"/refund", h.admin, "")
	var v paymentView
	json.Unmarshal(out, &v)
	if code != 200 || v.State != "refunded" || v.RefundedFen != 50000 {
		t.Fatalf("refund: %d %s", code, out)
	}
	if code, out := h.do("POST", "/v1/payments/"+b.ID+"/refund", h.admin, ""); code != 409 || errorOf(t, out).Code != CodeConflict {
		t.Fatalf("refund twice: %d %s", code, out)
	}
	code, out = h.do("GET", "/v1/payments?state=completed&limit=1", h.admin, "")
	var list struct {
		Payments   []paymentView `json:"payments"`
		NextCursor string        `json:"next_cursor"`
	}
	json.Unmarshal(out, &list)
	if code != 200 || len(list.Payments) != 1 || list.Payments[0].ID != a.ID {
		t.Fatalf("completed list: %d %s", code, out)
	}
}

// TestSchedulerOrder checks the scheduler's heap: payments due in any
// order, rescheduled and settled, come out due-first, each once.
func TestSchedulerOrder(t *testing.T) {
	s := newScheduler(nil, nil, nil, func() {})
	base := epoch
	add := func(id string, min int) {
		s.mu.Lock()
		d := base.Add(time.Duration(min) * time.Minute)
		s.due[id] = d
		heap.Push(&s.heap, dueEntry{d, id})
		s.mu.Unlock()
	}
	add("a", 30)
	add("b", 10)
	add("c", 20)
	add("a", 5) // rescheduled earlier: the 30-minute entry is stale
	if first, ok := s.next(); !ok || !first.Equal(base.Add(5*time.Minute)) {
		t.Fatalf("next %v %v", first, ok)
	}
	got := s.popDue(base.Add(20 * time.Minute))
	if strings.Join(got, ",") != "a,b,c" {
		t.Fatalf("due by 20 min: %v", got)
	}
	if ids := s.popDue(base.Add(time.Hour)); len(ids) != 0 || s.pending() != 0 {
		t.Fatalf("stale entries came out: %v (pending %d)", ids, s.pending())
	}
	if _, ok := s.next(); ok {
		t.Fatal("empty scheduler has a next")
	}
}
