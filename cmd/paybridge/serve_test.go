package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// server is a running `paybridge serve`.
type server struct {
	t      *testing.T
	cmd    *exec.Cmd
	url    string
	key    string // the admin key printed at this start ("" if none)
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan error
}

var (
	addrLine = regexp.MustCompile(`msg=serving addr=(\S+)`)
	keyLine  = regexp.MustCompile(`admin key \(shown once, keep it\): (pbk_\S+)`)
)

// startServe starts the binary on a free port and waits until it serves.
func startServe(t *testing.T, bin string, args ...string) *server {
	t.Helper()
	s := &server{t: t, done: make(chan error, 1)}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	pr, pw := io.Pipe()
	s.cmd.Stderr = pw
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	go func() { s.done <- s.cmd.Wait(); pw.Close() }()
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.stderr.WriteString(line + "\n")
			if m := keyLine.FindStringSubmatch(line); m != nil {
				s.key = m[1]
			}
			if m := addrLine.FindStringSubmatch(line); m != nil && s.url == "" {
				s.url = "http://" + m[1]
				close(ready)
			}
			s.mu.Unlock()
		}
	}()
	select {
	case <-ready:
	case err := <-s.done:
		t.Fatalf("serve exited: %v\n%s", err, s.log())
	case <-time.After(20 * time.Second):
		s.cmd.Process.Kill()
		t.Fatalf("serve did not start:\n%s", s.log())
	}
	t.Logf("serve ready in %s", time.Since(begin).Round(time.Millisecond))
	t.Cleanup(func() { s.cmd.Process.Kill() })
	return s
}

func (s *server) log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *server) stop() {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			s.t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, s.log())
		}
	case <-time.After(20 * time.Second):
		s.t.Fatalf("serve did not stop on SIGTERM:\n%s", s.log())
	}
	if l := s.log(); !strings.Contains(l, "stopped; ledger closed") || strings.Contains(l, "panic") {
		s.t.Fatalf("no clean shutdown:\n%s", l)
	}
}

// call sends a request with key and decodes a JSON answer into out.
func (s *server) call(method, path, key, body string, out any, headers ...string) int {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode
}

type e2ePayment struct {
	ID     string `json:"id"`
	State  string `json:"state"`
	Events []struct {
		Type string `json:"type"`
	} `json:"events"`
	DeliveredFen int64 `json:"delivered_fen"`
}

// waitCompleted advances the manual clock until payment id completes.
func (s *server) waitCompleted(key, id string) e2ePayment {
	s.t.Helper()
	for range 200 {
		var p e2ePayment
		if code := s.call("GET", "/v1/payments/"+id, key, "", &p); code != 200 {
			s.t.Fatalf("GET %s: %d", id, code)
		}
		if p.State == "completed" {
			return p
		}
		if p.State != "running" {
			s.t.Fatalf("payment %s is %s", id, p.State)
		}
		s.call("POST", "/v1/clock/advance", key, `{"seconds":600}`, nil)
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("payment %s did not complete", id)
	return e2ePayment{}
}

// TestServeEndToEnd runs the real binary: start, key, plan, pay, stream
// events, stop mid-payment, restart, read back.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "pb.db")
	s := startServe(t, bin, "--db", db, "--clock", "manual")
	admin := s.key
	if admin == "" {
		t.Fatalf("first start printed no admin key:\n%s", s.log())
	}
	var health map[string]any
	if code := s.call("GET", "/readyz", "", "", &health); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	// An auditor key created through the API, and a holder key for "me"
	// created by another process (paybridge keys create) while the server runs.
	var auditor struct{ Key string }
	if code := s.call("POST", "/v1/keys", admin, `{"role":"auditor"}`, &auditor); code != 201 || auditor.Key == "" {
		t.Fatalf("POST /v1/keys: %d", code)
	}
	kr := runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "holder", "--holder", "me", "--json")
	var key struct{ Key, Role string }
	if err := json.Unmarshal([]byte(kr.stdout), &key); kr.code != 0 || err != nil || key.Key == "" || key.Role != "holder" {
		t.Fatalf("keys create: exit %d %v: %s %s", kr.code, err, kr.stdout, kr.stderr)
	}
	// Stream every event the holder sees.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := make(chan string, 100)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+key.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				events <- ev
			}
		}
	}()
	var plan struct {
		PlanID string `json:"plan_id"`
	}
	if code := s.call("POST", "/v1/plans", key.Key, `{"from":"alipay.balance","to":"cmb.debit","amount_fen":50000}`, &plan); code != 200 || plan.PlanID == "" {
		t.Fatalf("plan: %d", code)
	}
	body := `{"plan_id":"` + plan.PlanID + `"}`
	var p e2ePayment
	if code := s.call("POST", "/v1/payments", key.Key, body, &p, "Idempotency-Key", "e2e-1"); code != 201 || p.State != "running" {
		t.Fatalf("pay: %d %+v", code, p)
	}
	done := s.waitCompleted(admin, p.ID)
	if done.DeliveredFen != 50000 {
		t.Fatalf("delivered %d", done.DeliveredFen)
	}
	timeout := time.After(10 * time.Second)
	for n := 0; n < len(done.Events); n++ {
		select {
		case ev := <-events:
			if ev != done.Events[n].Type {
				t.Fatalf("streamed event %d is %s, timeline has %s", n, ev, done.Events[n].Type)
			}
		case <-timeout:
			t.Fatalf("streamed %d of %d events", n, len(done.Events))
		}
	}
	cancel()

	// A second payment is left in flight across a restart.
	var inflight e2ePayment
	if code := s.call("POST", "/v1/payments", admin, `{"from":"alipay.balance","to":"cmb.debit","amount_fen":20000,"seed":7}`, &inflight); code != 201 || inflight.State != "running" {
		t.Fatalf("second payment: %d %+v", code, inflight)
	}
	s.stop()

	s2 := startServe(t, bin, "--db", db, "--clock", "manual")
	if s2.key != "" {
		t.Fatalf("a restart with keys in the store printed another admin key:\n%s", s2.log())
	}
	admin2 := admin // keys survive the restart
	if code := s2.call("POST", "/v1/payments", auditor.Key, `{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`, nil); code != 403 {
		t.Fatalf("auditor paying after restart: %d, want 403", code)
	}
	var back e2ePayment
	if code := s2.call("GET", "/v1/payments/"+p.ID, admin2, "", &back); code != 200 || back.State != "completed" || len(back.Events) != len(done.Events) {
		t.Fatalf("after restart: %d %+v", code, back)
	}
	// The retry with the same key after the restart returns the same payment.
	var again e2ePayment
	if code := s2.call("POST", "/v1/payments", admin2, body, &again, "Idempotency-Key", "e2e-1"); code != 200 || again.ID != p.ID {
		t.Fatalf("retry after restart: %d %+v", code, again)
	}
	if got := s2.waitCompleted(admin2, inflight.ID); got.DeliveredFen != 20000 {
		t.Fatalf("recovered payment delivered %d", got.DeliveredFen)
	}
	var metrics bytes.Buffer
	resp, err := http.Get(s2.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(&metrics, resp.Body)
	resp.Body.Close()
	for _, m := range []string{`paybridge_payments{state="completed"} 2`, "paybridge_http_request_duration_seconds_bucket", "paybridge_outbox_lag_events"} {
		if !strings.Contains(metrics.String(), m) {
			t.Errorf("/metrics lacks %s", m)
		}
	}
	// An open event stream does not hold the shutdown up: it is ended.
	streamDone := make(chan struct{})
	go func() {
		defer close(streamDone)
		req, _ := http.NewRequest("GET", s2.url+"/v1/events", nil)
		req.Header.Set("Authorization", "Bearer "+admin2)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	time.Sleep(200 * time.Millisecond)
	begin := time.Now()
	s2.stop()
	if d := time.Since(begin); d > 5*time.Second || strings.Contains(s2.log(), "still running") {
		t.Fatalf("shutdown with an open stream took %s:\n%s", d, s2.log())
	}
	select {
	case <-streamDone:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end at shutdown")
	}
}

func TestServeUsageErrors(t *testing.T) {
	bin := buildPaybridge(t)
	for _, args := range [][]string{
		{"serve", "--clock", "virtual"},
		{"serve", "--clock", "scaled:0"},
		{"serve", "--addr", "nowhere:-1"},
		{"serve", "--log-format", "xml"},
		{"serve", "--risk", "maybe"},
		{"serve", "--risk-rules", "/nonexistent"},
	} {
		r := runPaybridge(t, bin, args...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("paybridge %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
}
