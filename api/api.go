// Package api is paybridge's HTTP JSON API: the server behind
// `paybridge serve`. Every /v1 request carries `Authorization: Bearer KEY`;
// the key's role (admin, operator, holder, auditor) and scope (an
// institution, a holder) decide what it may read and do, checked on every
// endpoint. Bodies are decoded strictly (unknown fields, trailing data and
// oversized bodies are refused) and every error has the shape
// {"error":{"code","message","field"}} with a 4xx status for bad input.
//
// Payments are created through payment.Executor and run in the background
// on the server's clock by a scheduler that never holds a payment's lock
// while waiting, so GET shows a payment's progress while it runs. Plans are
// quotes: POST /v1/plans stores the planner's result in memory for
// PlanTTL, and a payment naming its plan_id takes that plan's route.
// docs/api.md describes the endpoints; /openapi.json is the OpenAPI 3.1
// document, checked against the registered routes by the tests.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/route"
)

// Limits of the server.
const (
	// MaxBodyBytes is the largest request body accepted (413 beyond).
	MaxBodyBytes = 64 << 10
	// PlanTTL is how long a plan id stays valid (wall time).
	PlanTTL = 10 * time.Minute
	// MaxPlans bounds the plans kept in memory; the oldest go first.
	MaxPlans = 100_000
	// DefaultPageLimit and MaxPageLimit bound list pages.
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Authenticator checks an API key (auth.Store satisfies it through a
// small adapter in cmd/paybridge). Any error means 401.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (Principal, error)
}

// KeyCreator creates API keys (POST /v1/keys). It returns the key, shown
// once, and the principal as stored.
type KeyCreator interface {
	CreateKey(ctx context.Context, p Principal) (key string, out Principal, err error)
}

// Streamer serves Server-Sent Events of the payment outbox after a cursor,
// keeping only the events keep accepts. NewPoller is the built-in one; the
// api/stream hub fits too. If the Streamer has Notify(), the server calls
// it after each commit it makes; Streams() int feeds the metrics; Close()
// is called on shutdown. The Streamer runs itself (the built-in one is run
// by Server.Run).
type Streamer interface {
	ServeSSE(w http.ResponseWriter, r *http.Request, after uint64, keep func(payment.Event) bool)
}

// Config wires a Server.
type Config struct {
	// Ecosystem is the world the Executor was created with. The server
	// serves the Executor's (Executor.Ecosystem), which grows as holders
	// are added (POST /v1/holders).
	Ecosystem *ecosystem.Ecosystem
	Rules     route.RuleChecker // the policy payments and plans follow
	Ledger    *ledger.Engine
	Executor  *payment.Executor
	// Clock is the server's clock, the one the scheduler waits on (the
	// executor must run on NonBlocking(Clock)).
	Clock clock.Clock
	// ClockMode is "real", "scaled:N" or "manual" (shown by GET /v1/clock);
	// with "manual", Clock must be a *Manual.
	ClockMode string
	Auth      Authenticator
	Keys      KeyCreator // nil: POST /v1/keys answers 503
	Streams   Streamer   // nil: a Poller on the executor's outbox
	Logger    *slog.Logger
	// Registry gets the server's metrics (nil: a new registry); /metrics
	// serves it.
	Registry *prometheus.Registry
	// Calibration returns the calibration report (nil: 503).
	Calibration func() (any, error)
	// Cases is the risk case database of /v1/risk/cases (nil: 503).
	Cases CaseStore
	// VerifyLedger runs ledger verify for POST /v1/ledger/verify (nil: 503).
	VerifyLedger LedgerVerifier
	// RiskRules is the rule set the server's risk engine runs (GET
	// /v1/risk/rules; nil: the bundled rules), RiskRulesSource where it
	// came from ("bundled" or the file), RiskMode "on" or "off".
	// EcosystemChecks run after the loader's own on a file sent to POST
	// /v1/ecosystems/validate (serve passes the calibration targets' check,
	// as paybridge ecosystem validate runs it).
	EcosystemChecks []ecosystem.Check
	RiskRules       *risk.RuleSet
	RiskRulesSource string
	RiskMode        string
	// Now is the wall clock for plan expiry (nil: time.Now).
	Now func() time.Time
	// MaxInFlight bounds the /v1 requests served at once (event streams
	// aside); beyond it the server answers 503 overloaded with Retry-After.
	// 0: DefaultMaxInFlight.
	MaxInFlight int
}

// DefaultMaxInFlight is Config.MaxInFlight's default.
const DefaultMaxInFlight = 1024

// Server is the HTTP API. Create it with New, start its scheduler with Run,
// and serve it as an http.Handler.
type Server struct {
	cfg        Config
	mux        *http.ServeMux
	handler    http.Handler
	log        *slog.Logger
	plans      *planStore
	outbox     *payment.Outbox
	planner    atomic.Pointer[route.Planner] // memoised planning over eco(): see routePlanner
	sched      *scheduler
	streams    Streamer
	poller     *Poller
	metrics    *metrics
	ready      atomic.Bool
	inflight   chan struct{} // one token per /v1 request being served
	expiry     atomic.Pointer[expiryText]
	intern     map[string]string // ids and names a plan request may use, shared (see internPlan)
	internOnce sync.Once
	admin      adminState // keys, ledger verify, worlds (admin.go)
	calib      struct {
		once   sync.Once
		report any
		err    error
	}
}

// New builds the server; call Run to start running payments.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, plans: newPlanStore(cfg.Now),
		inflight: make(chan struct{}, cfg.MaxInFlight)}
	s.planner.Store(route.NewPlanner(cfg.Executor.Ecosystem()))
	s.outbox = payment.NewOutbox(cfg.Ledger)
	s.poller = NewPoller(s.outbox)
	s.streams = cfg.Streams
	if s.streams == nil {
		s.streams = s.poller
	}
	s.metrics = newMetrics(cfg.Registry, s)
	if cfg.Ledger != nil {
		cfg.Ledger.ObserveCommits(s.metrics.commit)
	}
	s.sched = newScheduler(cfg.Executor, cfg.Clock, cfg.Logger, s.notify)
	for _, rt := range s.routes() {
		s.mux.Handle(rt.pattern, s.metrics.instrument(rt.pattern, s.wrap(rt)))
	}
	s.handler = s.recoverer(s.mux)
	return s
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run schedules the payments left running (recovery after a restart) and
// runs every payment on the clock until ctx ends; then it waits for the
// settlements in flight to commit. /readyz answers 200 once Run started.
func (s *Server) Run(ctx context.Context) error {
	for _, p := range s.cfg.Executor.Live(payment.StateRunning) {
		s.sched.add(p)
	}
	s.ready.Store(true)
	defer s.ready.Store(false)
	if s.streams == Streamer(s.poller) {
		go s.poller.Run(ctx)
	}
	return s.sched.run(ctx)
}

// Routes returns every METHOD /path pattern the server registers.
func (s *Server) Routes() []string {
	var out []string
	for _, rt := range s.routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// Plans returns how many plans are held (for tests and metrics).
func (s *Server) Plans() int { return s.plans.len() }

// CloseStreams ends the event streams served by the built-in poller (call
// it when the HTTP server shuts down: streams never go idle by themselves).
func (s *Server) CloseStreams() {
	s.poller.Close()
	if c, ok := s.streams.(interface{ Close() }); ok && s.streams != Streamer(s.poller) {
		c.Close()
	}
}

// notify wakes the event streams after a commit this server made (the
// Streamer's Notify, if it has one).
func (s *Server) notify() {
	if n, ok := s.streams.(interface{ Notify() }); ok {
		n.Notify()
	}
}

// openStreams is the number of open event streams (if the Streamer counts them).
func (s *Server) openStreams() int {
	if c, ok := s.streams.(interface{ Streams() int }); ok {
		return c.Streams()
	}
	return 0
}
