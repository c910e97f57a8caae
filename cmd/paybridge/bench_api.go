package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// Targets of issue 5 for bench api, on a 2-core machine with the load
// generator on the same machine.
const (
	targetPaymentsPerSec   = 10_000
	targetPaymentsP99      = 25 * time.Millisecond
	targetPlansPerSec      = 30_000
	maxAPIBenchConcurrency = 4096
)

type benchAPIFlags struct {
	addr, key, kind, from, to, holders, channels string
	client                                       string
	clockSpec, ecosystem, fund, db               string
	amountFen                                    int64
	duration, warmup, baseline                   time.Duration
	concurrency                                  int
	idempotency, asJSON                          bool
}

// benchAPIResult is what bench api prints with --json.
type benchAPIResult struct {
	Kind        string  `json:"kind"`
	Server      string  `json:"server"` // "subprocess" or the --addr given
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	Requests    int64   `json:"requests"`
	OK          int64   `json:"ok"`
	PerSec      float64 `json:"per_sec"` // successful requests per second
	LatencyMs   struct {
		P50  float64 `json:"p50"`
		P95  float64 `json:"p95"`
		P99  float64 `json:"p99"`
		Max  float64 `json:"max"`
		Mean float64 `json:"mean"`
	} `json:"latency_ms"`
	Status          map[string]int64  `json:"status"` // by HTTP status; "transport" for requests that got none
	Errors          int64             `json:"errors"`
	ErrorSamples    map[string]string `json:"error_samples,omitempty"`
	RouteHops       int               `json:"route_hops,omitempty"` // most hops among the first route each client saw
	TargetPerSec    float64           `json:"target_per_sec"`
	TargetP99Ms     float64           `json:"target_p99_ms,omitempty"`
	TargetMet       bool              `json:"target_met"`
	ClientCPUs      int               `json:"gomaxprocs"`
	Client          string            `json:"client"` // raw or net/http
	ServerPID       int               `json:"server_pid,omitempty"`
	ServerStartupMs float64           `json:"server_startup_ms,omitempty"`
	// CPU seconds used per second of the measured window (2.0 is both
	// cores of a 2-core machine), by this load generator and, when it
	// started the server (Linux), by the server.
	ClientCPU float64 `json:"client_cpu"`
	ServerCPU float64 `json:"server_cpu,omitempty"`
	// Baseline is the floor measured first on the same server and
	// machine: what the same clients get from a request that does nothing
	// but HTTP, authentication and a small JSON answer.
	Baseline *apiBaseline `json:"baseline,omitempty"`
	// PerSecSeries is the successful requests finished in each whole
	// second of the window: a falling series means the server slows as
	// its state grows.
	PerSecSeries []int64 `json:"per_sec_series"`
}

// apiBaseline is bench api's GET /v1/clock measurement.
type apiBaseline struct {
	Kind      string  `json:"kind"`
	PerSec    float64 `json:"per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	Errors    int64   `json:"errors"`
	ServerCPU float64 `json:"server_cpu,omitempty"`
	ClientCPU float64 `json:"client_cpu"`
}

func newBenchAPICmd() *cobra.Command {
	var f benchAPIFlags
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Load-test the HTTP API over loopback: payments or plans per second and latency, beside a baseline",
		Long: `api runs a closed-loop load generator against the HTTP API over loopback:
--concurrency clients each send one request, wait for the answer, and send
the next, for --duration (after --warmup, which is not counted). It prints
requests per second, latency percentiles (p50, p95, p99, max) and the
answers by HTTP status, with a sample body of each kind of error.

--kind payments POSTs /v1/payments (201 is success) with a fresh
Idempotency-Key each (--idempotency=false sends none); --kind plans POSTs
/v1/plans (200 is success); --kind clock GETs /v1/clock. Payments and
plans go from --from to --to for --amount-fen each, from the holders of
--holders in turn (each to itself).

Each client is one keep-alive connection. With --client raw (the default)
it writes requests prepared once and reads the answers with a minimal
HTTP/1.1 parser, as wrk does: the generator shares the machine with the
server, so its own CPU per request decides how much is left for the
server. --client net/http uses Go's http.Client instead (about twice the
generator's CPU per request).

Before the measured kind it measures GET /v1/clock for --baseline on the
same server: the floor of HTTP, authentication and a small JSON answer on
this machine now, so the figures can be read on a loaded or another machine.

By default it starts its own server: the real binary ('paybridge serve',
the same wiring as a user gets) as a subprocess on a free loopback port and
a new temporary database (--db to keep it), on --clock (default
scaled:60: payments complete in the background as the clock runs, which is
part of the load) with each account funded with --fund yuan. It uses the
admin key the new server prints. With --addr URL --key KEY it loads a
running server instead; that server must hold the --holders' money.

The targets of the issue (on a 2-core machine, generator and server on the
same machine): payments ≥ 10,000/s with p99 ≤ 25 ms, plans ≥ 30,000/s. The
result says whether they were met. Any answer but the success status, and
any transport failure, is an error: the exit status is 1 if there was one
(0 otherwise, whether or not the targets were met).`,
		Example: `  # Payments against a server it starts, 10 s, 64 clients
  paybridge bench api --kind payments --duration 10s --concurrency 64

  # Plan requests, machine-readable
  paybridge bench api --kind plans --duration 10s --json

  # Against a server already running
  paybridge bench api --addr http://127.0.0.1:8080 --key "$KEY" --kind plans`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchAPI(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "", "base URL of a running server (http://host:port); empty: start one")
	fl.StringVar(&f.key, "key", "", "API key for --addr (a role that may pay: admin, or holder/operator in scope)")
	fl.StringVar(&f.kind, "kind", "payments", "payments (POST /v1/payments) or plans (POST /v1/plans)")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "how long to measure")
	fl.DurationVar(&f.warmup, "warmup", time.Second, "load sent before measuring, not counted")
	fl.DurationVar(&f.baseline, "baseline", 3*time.Second, "first measure GET /v1/clock this long, the HTTP and authentication floor, on the same server (0: skip)")
	fl.IntVar(&f.concurrency, "concurrency", 64, "clients sending at once (each waits for its answer)")
	fl.StringVar(&f.from, "from", "alipay.balance", "product the payments or plans start from")
	fl.StringVar(&f.to, "to", "wechat.change", "product they go to (alipay.balance → wechat.change is one hop in cn-2023)")
	fl.Int64Var(&f.amountFen, "amount-fen", 100, "amount of each payment or plan, in fen")
	fl.StringVar(&f.holders, "holders", "me", "comma-separated holders the payments come from, in turn (in cn-2023 only me may use the one-hop alipay_wechat_direct)")
	fl.StringVar(&f.channels, "channels", "", "comma-separated channels to pin each payment's route to (empty: the planner chooses)")
	fl.BoolVar(&f.idempotency, "idempotency", true, "send a fresh Idempotency-Key with each payment")
	fl.BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	fl.StringVar(&f.clockSpec, "clock", "scaled:60", "the started server's --clock: real, scaled:N or manual")
	fl.StringVar(&f.ecosystem, "ecosystem", "", "the started server's --ecosystem (default cn-2023)")
	fl.StringVar(&f.fund, "fund", "100000000", "the started server's --fund: opening balance in yuan of each account")
	fl.StringVar(&f.db, "db", "", "the started server's database (default: a new file in a temporary directory, removed after)")
	fl.StringVar(&f.client, "client", "raw", "raw (each client a keep-alive connection writing prepared HTTP/1.1 requests, reading answers with a minimal parser: little CPU, like wrk) or net/http (Go's http.Client: about twice the generator's CPU per request); an https:// --addr or one with a path always uses net/http")
	return cmd
}

func init() { benchCmd.AddCommand(newBenchAPICmd()) }

func runBenchAPI(cmd *cobra.Command, f benchAPIFlags) error {
	switch f.kind {
	case "payments", "plans", "clock":
	default:
		return usageErrorf("--kind %q is not payments, plans or clock", f.kind)
	}
	if f.client != "raw" && f.client != "net/http" {
		return usageErrorf("--client %q is not raw or net/http", f.client)
	}
	if f.duration <= 0 {
		return usageErrorf("--duration must be more than 0, not %s", f.duration)
	}
	if f.baseline < 0 {
		return usageErrorf("--baseline must not be negative, not %s", f.baseline)
	}
	if f.warmup < 0 {
		return usageErrorf("--warmup must not be negative, not %s", f.warmup)
	}
	if f.concurrency < 1 || f.concurrency > maxAPIBenchConcurrency {
		return usageErrorf("--concurrency must be 1 to %d, not %d", maxAPIBenchConcurrency, f.concurrency)
	}
	if f.amountFen <= 0 {
		return usageErrorf("--amount-fen must be more than 0, not %d", f.amountFen)
	}
	holders := splitAPIList(f.holders)
	if len(holders) == 0 {
		return usageErrorf("--holders: name at least one holder")
	}
	res := benchAPIResult{Kind: f.kind, Concurrency: f.concurrency, ClientCPUs: runtime.GOMAXPROCS(0), Client: f.client}
	base, key := strings.TrimRight(f.addr, "/"), f.key
	if base == "" {
		if key != "" {
			return usageErrorf("--key is for --addr: the server bench api starts makes its own key")
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("bench api: finding the paybridge binary: %w", err)
		}
		srv, err := startAPIBenchServer(cmd.Context(), exe, f)
		if err != nil {
			return err
		}
		defer srv.stop()
		base, key = srv.base, srv.key
		res.Server, res.ServerPID, res.ServerStartupMs = "subprocess", srv.cmd.Process.Pid, apiMs(srv.startup)
	} else {
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return usageErrorf("--addr %q: give a URL like http://127.0.0.1:8080", f.addr)
		}
		if key == "" {
			return usageErrorf("--key: required with --addr")
		}
		res.Server = base
		if strings.HasPrefix(base, "https://") || strings.Contains(strings.TrimPrefix(base, "http://"), "/") {
			f.client, res.Client = "net/http", "net/http"
		}
	}
	serverPID := 0
	if res.Server == "subprocess" {
		serverPID = res.ServerPID
	}
	if f.baseline > 0 && f.kind != "clock" {
		bf := f
		bf.kind, bf.duration = "clock", f.baseline
		var b benchAPIResult
		if err := runAPILoad(cmd.Context(), bf, holders, base, key, serverPID, &b); err != nil {
			return err
		}
		res.Baseline = &apiBaseline{Kind: "GET /v1/clock", PerSec: b.PerSec, P50Ms: b.LatencyMs.P50, P99Ms: b.LatencyMs.P99,
			Errors: b.Errors, ServerCPU: b.ServerCPU, ClientCPU: b.ClientCPU}
	}
	if err := runAPILoad(cmd.Context(), f, holders, base, key, serverPID, &res); err != nil {
		return err
	}
	if f.asJSON {
		if err := writeJSON(cmd.OutOrStdout(), res); err != nil {
			return err
		}
	} else {
		printBenchAPI(cmd.OutOrStdout(), &res)
	}
	if res.Errors > 0 {
		return &failure{fmt.Sprintf("bench api: %d of %d requests failed", res.Errors, res.Requests)}
	}
	return nil
}

func splitAPIList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func apiMs(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// apiBenchServer is a paybridge serve subprocess.
type apiBenchServer struct {
	cmd       *exec.Cmd
	base, key string
	startup   time.Duration
	dir       string // temporary directory to remove, or ""
	stderr    *apiTailBuffer
	exited    chan struct{}
}

// startAPIBenchServer starts the real binary exe's serve on a free loopback port
// and waits until it printed its address and admin key.
func startAPIBenchServer(ctx context.Context, exe string, f benchAPIFlags) (*apiBenchServer, error) {
	var err error
	s := &apiBenchServer{stderr: &apiTailBuffer{max: 64 << 10}, exited: make(chan struct{})}
	db := f.db
	if db == "" {
		if s.dir, err = os.MkdirTemp("", "paybridge-bench-api-"); err != nil {
			return nil, err
		}
		db = filepath.Join(s.dir, "bench.db")
	} else if _, err := os.Stat(db); err == nil {
		return nil, usageErrorf("--db %s: exists; bench api needs a new database (it uses the admin key a new server prints)", db)
	}
	args := []string{"serve", "--addr", "127.0.0.1:0", "--db", db, "--clock", f.clockSpec, "--log-format", "json", "--fund", f.fund}
	if f.ecosystem != "" {
		args = append(args, "--ecosystem", f.ecosystem)
	}
	start := time.Now()
	s.cmd = exec.Command(exe, args...)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		s.cleanup()
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("bench api: starting %s serve: %w", exe, err)
	}
	ready := make(chan struct{})
	go func() {
		defer close(s.exited)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			s.stderr.add(line)
			if signalled {
				continue
			}
			if k, ok := strings.CutPrefix(line, "admin key (shown once, keep it): "); ok {
				s.key = strings.TrimSpace(k)
			}
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "serving" && l.Addr != "" {
				s.base = "http://" + l.Addr
			}
			if s.base != "" && s.key != "" {
				signalled = true
				close(ready)
			}
		}
		s.cmd.Wait()
	}()
	select {
	case <-ready:
	case <-s.exited:
		s.cleanup()
		return nil, fmt.Errorf("bench api: the server exited before it was ready:\n%s", s.stderr.String())
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("bench api: the server was not ready after 60 s:\n%s", s.stderr.String())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
	s.startup = time.Since(start)
	return s, nil
}

// stop ends the server with SIGTERM (its graceful shutdown) and removes
// the temporary database.
func (s *apiBenchServer) stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(30 * time.Second):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	s.cleanup()
}

func (s *apiBenchServer) cleanup() {
	if s.dir != "" {
		os.RemoveAll(s.dir)
	}
}

// apiTailBuffer keeps the last max bytes of lines.
type apiTailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *apiTailBuffer) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(append(t.b, line...), '\n')
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
}

func (t *apiTailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// apiLoadWorker is one client's tally.
type apiLoadWorker struct {
	lat     []time.Duration
	bySec   []int64 // successes finished in each second of the window
	status  map[int]int64
	samples map[int]string
	hops    int
}

func runAPILoad(ctx context.Context, f benchAPIFlags, holders []string, base, key string, serverPID int, res *benchAPIResult) error {
	path := "/v1/" + f.kind
	method := http.MethodPost
	if f.kind == "clock" {
		method = http.MethodGet
	}
	okStatus := http.StatusOK
	if f.kind == "payments" {
		okStatus = http.StatusCreated
	}
	channels := splitAPIList(f.channels)
	// Bodies are built once per holder: the load is the server's, not
	// the generator's JSON encoding.
	bodies := make([][]byte, len(holders))
	for i, h := range holders {
		m := map[string]any{"from": f.from, "to": f.to, "amount_fen": f.amountFen, "from_holder": h, "to_holder": h}
		if f.kind == "payments" && len(channels) > 0 {
			m["channels"] = channels
		}
		bodies[i], _ = json.Marshal(m)
	}
	if method == http.MethodGet {
		bodies = [][]byte{nil}
	}
	var newClient func() apiClient
	if f.client == "net/http" {
		tr := &http.Transport{
			Proxy:               nil,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        f.concurrency,
			MaxIdleConnsPerHost: f.concurrency,
			MaxConnsPerHost:     f.concurrency,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		}
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
		newClient = func() apiClient {
			return &stdAPIClient{ctx: ctx, client: hc, method: method, url: base + path, auth: "Bearer " + key}
		}
	} else {
		host := strings.TrimPrefix(base, "http://")
		newClient = func() apiClient { return newRawAPIClient(host, method, path, key, bodies) }
	}
	var measuring atomic.Bool
	var windowStart atomic.Int64 // unix nanoseconds
	var stopFlag atomic.Bool
	var seq atomic.Uint64
	idemPrefix := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-"
	workers := make([]*apiLoadWorker, f.concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &apiLoadWorker{status: map[int]int64{}, samples: map[int]string{}, lat: make([]time.Duration, 0, 4096)}
		workers[i] = w
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c := newClient()
			defer c.close()
			var idem []byte
			for n := i; !stopFlag.Load(); n += f.concurrency {
				idem = idem[:0]
				if f.kind == "payments" && f.idempotency {
					idem = strconv.AppendUint(append(idem, idemPrefix...), seq.Add(1), 36)
				}
				counted := measuring.Load()
				keep := w.hops == 0 && f.kind == "payments"
				t0 := time.Now()
				code, out, err := c.do(n%len(bodies), bodies[n%len(bodies)], idem, okStatus, keep)
				if err != nil {
					code, out = -1, []byte(err.Error())
					if ctx.Err() != nil {
						return
					}
				}
				d := time.Since(t0)
				if code == okStatus && w.hops == 0 && f.kind == "payments" {
					var p struct {
						Route struct {
							Hops []json.RawMessage `json:"hops"`
						} `json:"route"`
					}
					if json.Unmarshal(out, &p) == nil {
						w.hops = len(p.Route.Hops)
					}
				}
				if !counted || ctx.Err() != nil {
					continue
				}
				w.lat = append(w.lat, d)
				if code == okStatus {
					sec := int(time.Duration(t0.Add(d).UnixNano()-windowStart.Load()) / time.Second)
					for sec >= 0 && len(w.bySec) <= sec {
						w.bySec = append(w.bySec, 0)
					}
					if sec >= 0 {
						w.bySec[sec]++
					}
				}
				w.status[code]++
				if code != okStatus {
					if _, ok := w.samples[code]; !ok {
						w.samples[code] = strings.TrimSpace(string(out))
					}
				}
			}
		}(i)
	}
	select {
	case <-time.After(f.warmup):
	case <-ctx.Done():
	}
	windowStart.Store(time.Now().UnixNano())
	measuring.Store(true)
	t0 := time.Now()
	client0, server0 := selfCPU(), procCPU(serverPID)
	select {
	case <-time.After(f.duration):
	case <-ctx.Done():
	}
	measuring.Store(false)
	elapsed := time.Since(t0)
	res.ClientCPU = (selfCPU() - client0).Seconds() / elapsed.Seconds()
	if server0 >= 0 {
		if s1 := procCPU(serverPID); s1 >= 0 {
			res.ServerCPU = (s1 - server0).Seconds() / elapsed.Seconds()
		}
	}
	stopFlag.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}

	res.DurationS = elapsed.Seconds()
	whole := int(elapsed / time.Second)
	res.PerSecSeries = make([]int64, whole)
	for _, w := range workers {
		for i, n := range w.bySec {
			if i < whole {
				res.PerSecSeries[i] += n
			}
		}
	}
	res.Status = map[string]int64{}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		for code, n := range w.status {
			name := strconv.Itoa(code)
			if code == -1 {
				name = "transport"
			}
			res.Status[name] += n
			res.Requests += n
			if code == okStatus {
				res.OK += n
			} else {
				res.Errors += n
			}
		}
		for code, s := range w.samples {
			if res.ErrorSamples == nil {
				res.ErrorSamples = map[string]string{}
			}
			name := strconv.Itoa(code)
			if code == -1 {
				name = "transport"
			}
			res.ErrorSamples[name] = s
		}
		res.RouteHops = max(res.RouteHops, w.hops)
	}
	if len(all) == 0 {
		return errors.New("bench api: no request completed in the measured window")
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return apiMs(all[min(len(all)-1, int(p*float64(len(all))))]) }
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	res.LatencyMs.P50, res.LatencyMs.P95, res.LatencyMs.P99 = pct(0.50), pct(0.95), pct(0.99)
	res.LatencyMs.Max, res.LatencyMs.Mean = apiMs(all[len(all)-1]), apiMs(sum/time.Duration(len(all)))
	res.PerSec = float64(res.OK) / elapsed.Seconds()
	if f.kind == "payments" {
		res.TargetPerSec, res.TargetP99Ms = targetPaymentsPerSec, apiMs(targetPaymentsP99)
		res.TargetMet = res.PerSec >= targetPaymentsPerSec && res.LatencyMs.P99 <= res.TargetP99Ms && res.Errors == 0
	} else if f.kind == "plans" {
		res.TargetPerSec = targetPlansPerSec
		res.TargetMet = res.PerSec >= targetPlansPerSec && res.Errors == 0
	}
	return nil
}

// apiClient is one load generator client: one request at a time.
type apiClient interface {
	// do sends the body (bodies[i]; nil for GET) with the Idempotency-Key
	// idem (none if empty) and returns the status and, when the status is
	// not ok or keep is set, up to 4 KiB of the answer's body.
	do(i int, body, idem []byte, ok int, keep bool) (code int, out []byte, err error)
	close()
}

// stdAPIClient sends requests with Go's http.Client.
type stdAPIClient struct {
	ctx         context.Context
	client      *http.Client
	method, url string
	auth        string
}

func (c *stdAPIClient) do(_ int, body, idem []byte, ok int, keep bool) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.ctx, c.method, c.url, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", c.auth)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if len(idem) > 0 {
		req.Header.Set("Idempotency-Key", string(idem))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var out []byte
	if resp.StatusCode != ok || keep {
		out, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, out, nil
}

func (c *stdAPIClient) close() {}

// rawAPIClient is one keep-alive HTTP/1.1 connection that writes requests
// prepared once (per body; only an Idempotency-Key is appended per
// request) and reads answers with a minimal parser: status line,
// Content-Length or chunked body, Connection: close. It spends a fraction
// of http.Client's CPU per request, which matters when the generator
// shares the machine's cores with the server it measures. A transport
// error closes the connection; the next request dials again.
type rawAPIClient struct {
	host   string
	heads  [][]byte // per body: request line and headers, without the final CRLF
	bodies [][]byte
	conn   net.Conn
	br     *bufio.Reader
	buf    []byte // the request being written
	out    []byte // the body kept
}

func newRawAPIClient(host, method, path, key string, bodies [][]byte) *rawAPIClient {
	c := &rawAPIClient{host: host, bodies: bodies}
	for _, b := range bodies {
		h := method + " " + path + " HTTP/1.1\r\nHost: " + host + "\r\nAuthorization: Bearer " + key + "\r\n"
		if b != nil {
			h += "Content-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(b)) + "\r\n"
		}
		c.heads = append(c.heads, []byte(h))
	}
	return c
}

func (c *rawAPIClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawAPIClient) do(i int, body, idem []byte, ok int, keep bool) (int, []byte, error) {
	code, out, closeAfter, err := c.roundTrip(i, idem, ok, keep)
	if err != nil || closeAfter {
		c.close()
	}
	return code, out, err
}

func (c *rawAPIClient) roundTrip(i int, idem []byte, ok int, keep bool) (code int, out []byte, closeAfter bool, err error) {
	if c.conn == nil {
		if c.conn, err = net.DialTimeout("tcp", c.host, 5*time.Second); err != nil {
			return 0, nil, false, err
		}
		if c.br == nil {
			c.br = bufio.NewReaderSize(c.conn, 16<<10)
		} else {
			c.br.Reset(c.conn)
		}
	}
	c.buf = append(c.buf[:0], c.heads[i]...)
	if len(idem) > 0 {
		c.buf = append(append(append(c.buf, "Idempotency-Key: "...), idem...), "\r\n"...)
	}
	c.buf = append(append(c.buf, "\r\n"...), c.bodies[i]...)
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err = c.conn.Write(c.buf); err != nil {
		return 0, nil, false, err
	}
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	if code, err = strconv.Atoi(string(line[9:12])); err != nil {
		return 0, nil, false, fmt.Errorf("bad status line %q", line)
	}
	length, chunked := int64(-1), false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			return 0, nil, false, fmt.Errorf("bad header line %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.ParseInt(string(value), 10, 64); err != nil || length < 0 {
				return 0, nil, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
			if !chunked {
				return 0, nil, false, fmt.Errorf("transfer encoding %q", value)
			}
		case bytes.EqualFold(name, []byte("Connection")):
			closeAfter = bytes.EqualFold(value, []byte("close"))
		}
	}
	keep = keep || code != ok
	c.out = c.out[:0]
	if chunked {
		for {
			line, err = c.br.ReadSlice('\n')
			if err != nil {
				return 0, nil, false, err
			}
			sz, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
			n, perr := strconv.ParseInt(string(sz), 16, 64)
			if perr != nil || n < 0 {
				return 0, nil, false, fmt.Errorf("bad chunk size %q", line)
			}
			if n == 0 {
				for { // trailers, up to the empty line
					if line, err = c.br.ReadSlice('\n'); err != nil {
						return 0, nil, false, err
					}
					if len(bytes.TrimRight(line, "\r\n")) == 0 {
						break
					}
				}
				break
			}
			if err = c.body(n, keep); err != nil {
				return 0, nil, false, err
			}
			if _, err = c.br.Discard(2); err != nil { // the chunk's CRLF
				return 0, nil, false, err
			}
		}
	} else if length >= 0 {
		if err = c.body(length, keep); err != nil {
			return 0, nil, false, err
		}
	} else if code >= 200 && code != http.StatusNoContent && code != http.StatusNotModified {
		return 0, nil, false, errors.New("an answer with neither Content-Length nor chunked encoding")
	}
	if keep {
		out = c.out
	}
	return code, out, closeAfter, nil
}

// body reads n bytes of body, keeping up to 4 KiB of them in c.out if keep.
func (c *rawAPIClient) body(n int64, keep bool) error {
	if keep && len(c.out) < 4096 {
		k := min(n, int64(4096-len(c.out)))
		start := len(c.out)
		c.out = append(c.out, make([]byte, k)...)
		if _, err := io.ReadFull(c.br, c.out[start:]); err != nil {
			return err
		}
		n -= k
	}
	_, err := c.br.Discard(int(n))
	return err
}

func printBenchAPI(w io.Writer, r *benchAPIResult) {
	fmt.Fprintf(w, "bench api: %s, server %s, %d clients (%s), %.1f s measured\n", r.Kind, r.Server, r.Concurrency, r.Client, r.DurationS)
	if r.ServerStartupMs > 0 {
		fmt.Fprintf(w, "  server ready in %.0f ms (pid %d)\n", r.ServerStartupMs, r.ServerPID)
	}
	fmt.Fprintf(w, "  requests   %d, %d succeeded: %.0f/s\n", r.Requests, r.OK, r.PerSec)
	if r.ServerCPU > 0 {
		fmt.Fprintf(w, "  cpu        server %.2f cores, load generator %.2f cores\n", r.ServerCPU, r.ClientCPU)
	} else {
		fmt.Fprintf(w, "  cpu        load generator %.2f cores\n", r.ClientCPU)
	}
	if n := len(r.PerSecSeries); n >= 2 {
		k := max(1, min(3, n/2))
		var first, last int64
		for i := 0; i < k; i++ {
			first += r.PerSecSeries[i]
			last += r.PerSecSeries[n-1-i]
		}
		fmt.Fprintf(w, "  by second  first %d s %.0f/s, last %d s %.0f/s\n", k, float64(first)/float64(k), k, float64(last)/float64(k))
	}
	fmt.Fprintf(w, "  latency    p50 %.2f ms  p95 %.2f ms  p99 %.2f ms  max %.2f ms  mean %.2f ms\n",
		r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99, r.LatencyMs.Max, r.LatencyMs.Mean)
	codes := make([]string, 0, len(r.Status))
	for c := range r.Status {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	fmt.Fprint(w, "  status    ")
	for _, c := range codes {
		fmt.Fprintf(w, " %s: %d", c, r.Status[c])
	}
	fmt.Fprintln(w)
	if r.RouteHops > 0 {
		fmt.Fprintf(w, "  route      %d hop(s)\n", r.RouteHops)
	}
	for _, c := range codes {
		if s, ok := r.ErrorSamples[c]; ok {
			fmt.Fprintf(w, "  error %s e.g. %s\n", c, s)
		}
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline   %s: %.0f/s, p50 %.2f ms, p99 %.2f ms (server %.2f cores, load generator %.2f); %s is %.1f%% of it\n",
			b.Kind, b.PerSec, b.P50Ms, b.P99Ms, b.ServerCPU, b.ClientCPU, r.Kind, 100*r.PerSec/max(b.PerSec, 1))
	}
	if r.TargetPerSec == 0 {
		return
	}
	verdict := "missed"
	if r.TargetMet {
		verdict = "met"
	}
	if r.TargetP99Ms > 0 {
		fmt.Fprintf(w, "  target     ≥ %.0f/s with p99 ≤ %.0f ms and no errors: %s\n", r.TargetPerSec, r.TargetP99Ms, verdict)
	} else {
		fmt.Fprintf(w, "  target     ≥ %.0f/s and no errors: %s\n", r.TargetPerSec, verdict)
	}
}

// selfCPU is the user+system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// procCPU is the user+system CPU time of process pid from /proc (Linux),
// or -1 when it cannot be read.
func procCPU(pid int) time.Duration {
	if pid <= 0 {
		return -1
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	// Fields after the command name (which may hold spaces) end at ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 13 {
		return -1
	}
	ut, err1 := strconv.ParseInt(fields[11], 10, 64) // utime, field 14
	st, err2 := strconv.ParseInt(fields[12], 10, 64) // stime, field 15
	if err1 != nil || err2 != nil {
		return -1
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / clkTck
}
