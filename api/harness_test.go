package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/calibrate"
	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

var epoch = time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// harness is a server on an in-memory ledger and a manual clock.
type harness struct {
	t     testing.TB
	srv   *Server
	ts    *httptest.Server
	keys  *MemoryKeys
	clk   *Manual
	x     *payment.Executor
	admin string
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	return newHarnessCache(t, 0)
}

// newHarnessCache is newHarness with the executor's Config.CacheSize.
func newHarnessCache(t testing.TB, cacheSize int) *harness {
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
	clk := NewManual(clock.NewVirtual(epoch))
	mem := ledger.NewMemStore()
	led, err := ledger.Open(ctx, mem, NonBlocking(clk), ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, err := payment.New(ctx, payment.Config{Ecosystem: eco, Rules: rules, Ledger: led, Clock: NonBlocking(clk), CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	keys := NewMemoryKeys()
	admin, _, _ := keys.CreateKey(ctx, Principal{Role: RoleAdmin})
	srv := New(Config{Ecosystem: eco, Rules: rules, Ledger: led, Executor: x, Clock: clk, ClockMode: "manual",
		Auth: keys, Keys: keys, Calibration: func() (any, error) { return calibrate.Run(eco) },
		Cases: testCaseStore(t), VerifyLedger: memVerifier(mem)})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx) }()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		cancel()
		<-done
		led.Close()
	})
	return &harness{t: t, srv: srv, ts: ts, keys: keys, clk: clk, x: x, admin: admin}
}

// key creates a key for p.
func (h *harness) key(p Principal) string {
	k, _, err := h.keys.CreateKey(context.Background(), p)
	if err != nil {
		h.t.Fatal(err)
	}
	return k
}

// do sends a request; body "" sends none; headers are name, value pairs.
func (h *harness) do(method, path, key, body string, headers ...string) (int, []byte) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.ts.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// pay creates a payment as admin and returns it.
func (h *harness) pay(body string) paymentView {
	h.t.Helper()
	code, b := h.do("POST", "/v1/payments", h.admin, body)
	if code != http.StatusCreated {
		h.t.Fatalf("POST /v1/payments %s: %d %s", body, code, b)
	}
	var v paymentView
	if err := json.Unmarshal(b, &v); err != nil {
		h.t.Fatal(err)
	}
	return v
}

// waitState advances the manual clock until payment id is in state.
func (h *harness) waitState(id, state string) paymentView {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		code, b := h.do("GET", "/v1/payments/"+id, h.admin, "")
		var v paymentView
		json.Unmarshal(b, &v)
		if code == 200 && v.State == state {
			return v
		}
		if code == 200 && v.State != payment.StateRunning {
			h.t.Fatalf("payment %s is %s, want %s: %s", id, v.State, state, b)
		}
		h.clk.Advance(10 * time.Minute)
		time.Sleep(5 * time.Millisecond)
	}
	h.t.Fatalf("payment %s never became %s", id, state)
	return paymentView{}
}

// errorOf decodes an error body.
func errorOf(t testing.TB, b []byte) Error {
	t.Helper()
	var e struct{ Error Error }
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
		t.Fatalf("not an error body: %s", b)
	}
	return e.Error
}
