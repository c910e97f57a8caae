package stream_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/api/stream"
	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// apiServer is the real API server on an in-memory ledger and a manual
// clock, streaming with hub (nil: the server's built-in Poller).
type apiServer struct {
	ts    *httptest.Server
	admin string
	led   *ledger.Engine
}

func newAPIServer(t *testing.T, useHub bool) *apiServer {
	t.Helper()
	ctx := context.Background()
	eco, err := ecosystems.Load(ecosystems.Default)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.NewChecker(eco.Rules, compliance.PolicyStrict)
	if err != nil {
		t.Fatal(err)
	}
	clk := api.NewManual(clock.NewVirtual(time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))))
	led, err := ledger.Open(ctx, ledger.NewMemStore(), api.NonBlocking(clk), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := payment.New(ctx, payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: api.NonBlocking(clk)})
	if err != nil {
		t.Fatal(err)
	}
	keys := api.NewMemoryKeys()
	admin, _, err := keys.CreateKey(ctx, api.Principal{Role: api.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	cfg := api.Config{Ecosystem: eco, Rules: rules, Ledger: led, Executor: x, Clock: clk, ClockMode: "manual", Auth: keys, Keys: keys}
	runCtx, cancel := context.WithCancel(ctx)
	var hubDone chan error
	if useHub {
		hub := stream.NewHub(payment.NewOutbox(led), stream.Options{Poll: 10 * time.Millisecond})
		hubDone = make(chan error, 1)
		go func() { hubDone <- hub.Run(runCtx) }()
		cfg.Streams = hub
	}
	srv := api.New(cfg)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		cancel()
		<-done
		if hubDone != nil {
			<-hubDone
		}
		led.Close()
	})
	return &apiServer{ts: ts, admin: admin, led: led}
}

func (s *apiServer) do(t *testing.T, method, path, body string) string {
	t.Helper()
	req, _ := http.NewRequest(method, s.ts.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
	}
	return string(b)
}

// eventsOf pays twice, completes the payments on the clock, and returns the
// raw SSE frames GET path streams (up to the last payment's completion).
func eventsOf(t *testing.T, useHub bool, path string, lastID string) (got, want []string) {
	s := newAPIServer(t, useHub)
	var ids []string
	for range 2 {
		var p struct{ ID string }
		if err := json.Unmarshal([]byte(s.do(t, "POST", "/v1/payments", `{"from":"alipay.balance","to":"wechat.change","amount_fen":10000}`)), &p); err != nil || p.ID == "" {
			t.Fatalf("payment response: %v", err)
		}
		ids = append(ids, p.ID)
	}
	path = strings.ReplaceAll(path, "{second}", ids[1])
	for range 3 {
		s.do(t, "POST", "/v1/clock/advance", `{"seconds":3600}`)
	}
	req, _ := http.NewRequest("GET", s.ts.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.admin)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %s %s", path, resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var frames []string
	var cur []string
	completed := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, ":") {
			continue
		}
		if line != "" {
			cur = append(cur, line)
			continue
		}
		if len(cur) == 0 {
			continue
		}
		frames = append(frames, strings.Join(cur, "\n"))
		if cur[1] == "event: completed" {
			completed++
		}
		cur = nil
		if completed == 2 || (!strings.HasPrefix(path, "/v1/events") && completed == 1) {
			return frames, s.expect(t, path, lastID, ids[1], len(frames))
		}
	}
	t.Fatalf("stream ended before both payments completed: %v (%d frames: %q)", sc.Err(), len(frames), frames)
	return nil, nil
}

// expect is the first n frames the outbox says path should stream.
func (s *apiServer) expect(t *testing.T, path, lastID, payID string, n int) []string {
	t.Helper()
	var after uint64
	if i := strings.Index(path, "after="); i >= 0 {
		fmt.Sscan(path[i+len("after="):], &after)
	}
	if lastID != "" {
		fmt.Sscan(lastID, &after)
	}
	evs, err := payment.NewOutbox(s.led).Read(context.Background(), after, ledger.MaxHistoryPage)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if strings.HasPrefix(path, "/v1/payments/") && e.Payment != payID {
			continue
		}
		data, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("id: %d\nevent: %s\ndata: %s", e.Seq, e.Type, data))
		if len(out) == n {
			break
		}
	}
	return out
}

// TestHubInServer: the hub plugged into the real API server streams what
// the outbox holds (all events, after a cursor, resumed, one payment's),
// and so does the server's built-in Poller.
func TestHubInServer(t *testing.T) {
	for _, tc := range []struct{ path, lastID string }{
		{"/v1/events", ""},
		{"/v1/events?after=2", ""},
		{"/v1/events", "3"},
		{"/v1/payments/{second}/events", ""},
	} {
		for _, hub := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s#%s/hub=%v", tc.path, tc.lastID, hub), func(t *testing.T) {
				got, want := eventsOf(t, hub, tc.path, tc.lastID)
				if len(got) == 0 || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("streamed\n%s\n\noutbox holds\n%s", strings.Join(got, "\n\n"), strings.Join(want, "\n\n"))
				}
			})
		}
	}
}

// TestServerStreams opens 1,000 /v1/events streams on the real API server
// (200 under the race detector), with the hub and with the built-in
// poller, checks that a payment's events reach every stream, and logs the
// memory each open stream costs the process.
func TestServerStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("opens many connections")
	}
	for _, hub := range []bool{true, false} {
		t.Run(fmt.Sprintf("hub=%v", hub), func(t *testing.T) {
			s := newAPIServer(t, hub)
			addr := s.ts.Listener.Addr().String()
			n := manyStreams
			var before runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			readers := make([]*bufio.Reader, n)
			for i := range readers {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				defer c.Close()
				fmt.Fprintf(c, "GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", s.admin)
				br := bufio.NewReaderSize(c, 512)
				c.SetReadDeadline(time.Now().Add(30 * time.Second))
				line, err := br.ReadString('\n')
				if err != nil || !strings.Contains(line, " 200 ") {
					t.Fatalf("stream %d: %q %v", i, line, err)
				}
				readers[i] = br
			}
			time.Sleep(100 * time.Millisecond) // let the handlers reach their wait
			var after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&after)
			per := (float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)) / float64(n)
			t.Logf("%d open /v1/events streams: %.1f KiB each (heap+stacks in use after GC, both ends in this process)", n, per/1024)

			s.do(t, "POST", "/v1/payments", `{"from":"alipay.balance","to":"wechat.change","amount_fen":10000}`)
			errs := make(chan error, n)
			for i, br := range readers {
				go func() {
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							errs <- fmt.Errorf("stream %d: %v", i, err)
							return
						}
						if strings.HasPrefix(line, "event: created") {
							errs <- nil
							return
						}
					}
				}()
			}
			for range n {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
