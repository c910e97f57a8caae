package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchAPIBinary runs paybridge bench api for a short while against the
// server it starts (the real binary's serve) and against a server started
// separately (--addr, --key), and checks that every request succeeded.
func TestBenchAPIBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers and loads them for seconds")
	}
	bin := buildPaybridge(t)
	check := func(name string, r binaryRun, kind string) benchAPIResult {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\nstdout %s\nstderr %s", name, r.code, r.stdout, r.stderr)
		}
		var res benchAPIResult
		if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, r.stdout)
		}
		if res.Kind != kind || res.Errors != 0 || res.OK == 0 || res.OK != res.Requests || res.PerSec <= 0 {
			t.Fatalf("%s: %+v: want successes and zero errors", name, res)
		}
		if res.LatencyMs.P50 <= 0 || res.LatencyMs.P50 > res.LatencyMs.P99 || res.LatencyMs.P99 > res.LatencyMs.Max {
			t.Errorf("%s: latency percentiles out of order: %+v", name, res.LatencyMs)
		}
		return res
	}
	short := []string{"--duration", "700ms", "--warmup", "200ms", "--baseline", "300ms", "--concurrency", "4", "--json"}

	res := check("payments", runPaybridge(t, bin, append([]string{"bench", "api", "--kind", "payments"}, short...)...), "payments")
	if res.RouteHops != 1 || res.Status["201"] != res.OK || res.Server != "subprocess" {
		t.Errorf("payments: %+v: want single-hop payments, all 201, on a started server", res)
	}
	if b := res.Baseline; b == nil || b.PerSec <= 0 || b.Errors != 0 || b.P50Ms <= 0 {
		t.Errorf("payments: baseline %+v: want GET /v1/clock measured without errors", b)
	}
	if res.Client != "raw" {
		t.Errorf("payments: client %q; want raw by default", res.Client)
	}
	res = check("plans", runPaybridge(t, bin, append([]string{"bench", "api", "--kind", "plans"}, short...)...), "plans")
	if res.Status["200"] != res.OK {
		t.Errorf("plans: %+v: want all 200", res)
	}
	res = check("plans, net/http", runPaybridge(t, bin, append([]string{"bench", "api", "--kind", "plans", "--client", "net/http"}, short...)...), "plans")
	if res.Status["200"] != res.OK || res.Client != "net/http" {
		t.Errorf("plans with --client net/http: %+v: want all 200", res)
	}

	// Against a server already running.
	srv, err := startAPIBenchServer(context.Background(), bin, benchAPIFlags{clockSpec: "manual", fund: "1000000"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	res = check("--addr", runPaybridge(t, bin, append([]string{"bench", "api", "--addr", srv.base, "--key", srv.key,
		"--kind", "payments", "--channels", "alipay_wechat_direct"}, short...)...), "payments")
	if res.Server != srv.base {
		t.Errorf("--addr: server %q; want %q", res.Server, srv.base)
	}

	// A wrong key: every request fails with 401, and the exit status says so.
	r := runPaybridge(t, bin, "bench", "api", "--addr", srv.base, "--key", "pbk_0000000000000000_"+strings.Repeat("0", 64),
		"--kind", "plans", "--duration", "300ms", "--warmup", "0s", "--baseline", "0s", "--concurrency", "2")
	if r.code != 1 || !strings.Contains(r.stdout, "401:") || !strings.Contains(r.stdout, "unauthenticated") {
		t.Errorf("wrong key: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--kind", "refunds"}, "--kind"},
		{[]string{"--client", "curl"}, "--client"},
		{[]string{"--duration", "0s"}, "--duration"},
		{[]string{"--baseline", "-1s"}, "--baseline"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--amount-fen", "-5"}, "--amount-fen"},
		{[]string{"--addr", "127.0.0.1:1"}, "--addr"},
		{[]string{"--addr", "http://127.0.0.1:1"}, "--key"},
		{[]string{"--key", "x"}, "--key"},
	} {
		start := time.Now()
		r := runPaybridge(t, bin, append([]string{"bench", "api"}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("bench api %v: exit %d, %q; want 2 naming %s", tc.args, r.code, r.stderr, tc.want)
		}
		if time.Since(start) > 5*time.Second {
			t.Errorf("bench api %v took %s to refuse", tc.args, time.Since(start))
		}
	}
}

// TestRawAPIClient: the load generator's HTTP/1.1 client reads answers
// with a Content-Length, chunked answers (a handler that flushes), keeps
// the body of errors and of answers it is asked to keep, sends the
// Idempotency-Key, and reconnects after Connection: close.
func TestRawAPIClient(t *testing.T) {
	var conns atomic.Int64
	big := strings.Repeat("x", 10000)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Header.Get("Authorization") != "Bearer k" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		switch string(body) {
		case `"length"`:
			w.Write([]byte(`{"ok":true}`))
		case `"chunked"`:
			w.Write([]byte(big[:5000]))
			w.(http.Flusher).Flush()
			w.Write([]byte(big[5000:]))
		case `"close"`:
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte(r.Header.Get("Idempotency-Key")))
		default:
			http.Error(w, "nope", http.StatusTeapot)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	bodies := [][]byte{[]byte(`"length"`), []byte(`"chunked"`), []byte(`"close"`), []byte(`"other"`)}
	c := newRawAPIClient(strings.TrimPrefix(srv.URL, "http://"), "POST", "/v1/plans", "k", bodies)
	defer c.close()
	for round := range 2 {
		for _, tc := range []struct {
			i    int
			keep bool
			code int
			out  string
		}{
			{0, false, 200, ""},
			{0, true, 200, `{"ok":true}`},
			{1, false, 200, ""},
			{1, true, 200, big[:4096]},
			{3, false, http.StatusTeapot, "nope\n"},
			{2, true, 201, "key-1"},
		} {
			code, out, err := c.do(tc.i, bodies[tc.i], []byte("key-1"), 200, tc.keep)
			if err != nil || code != tc.code || string(out) != tc.out {
				t.Fatalf("round %d body %s keep %v: %d %q %v; want %d %q", round, bodies[tc.i], tc.keep, code, out, err, tc.code, tc.out)
			}
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections; want 2 (one per Connection: close)", n)
	}
	// A server that is gone: an error, then a new connection is tried.
	srv.Close()
	if _, _, err := c.do(0, bodies[0], nil, 200, false); err == nil {
		t.Error("no error from a closed server")
	}
}
