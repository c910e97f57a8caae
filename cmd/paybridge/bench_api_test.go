package main

import (
	"context"
	"encoding/json"
	"strings"
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
	res = check("plans", runPaybridge(t, bin, append([]string{"bench", "api", "--kind", "plans"}, short...)...), "plans")
	if res.Status["200"] != res.OK {
		t.Errorf("plans: %+v: want all 200", res)
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
