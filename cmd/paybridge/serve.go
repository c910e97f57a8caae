package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/api/stream"
	"github.com/paybridge/paybridge/calibrate"
	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/payment"
)

// serveFlags are `paybridge serve`'s flags.
type serveFlags struct {
	addr, clockSpec, logFormat string
	shutdownTimeout            time.Duration
	world                      worldFlags
	risk                       riskFlags
	cases                      string // the risk case database (serve_cases.go)
}

func init() {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the HTTP JSON API: plan, pay, stream events, read balances",
		Long: `serve runs paybridge as a server: the HTTP JSON API under /v1 (plans,
payments, accounts, events as Server-Sent Events, the clock, calibration,
API keys), /healthz, /readyz, Prometheus /metrics and the OpenAPI 3.1
document at /openapi.json. docs/api.md walks through it with curl.

The ledger is the SQLite file --db, created and seeded on first use like
'paybridge pay' does. Holders created with POST /v1/holders (or 'paybridge
holders add') are kept in it and merged into the ecosystem at every start. Payments run in the background on the server's clock:
--clock real waits the channels' real clearing delays, scaled:N runs N times
faster, manual moves only when an admin calls POST /v1/clock/advance.
Payments a previous run left in flight are picked up at start.

Every /v1 request sends Authorization: Bearer KEY. Keys are stored hashed
in the --db file itself. When it holds none, the server prints a one-time
admin key on stderr; create more with POST /v1/keys or 'paybridge keys
create --db FILE' (also while the server runs). Roles: admin (everything), operator (one institution),
holder (own accounts and payments), auditor (read-only everything).

--risk on asks the risk engine before each hop (as 'paybridge pay --risk
on' does): a refused payment answers 422, a held one waits for
POST /v1/payments/{id}/resume or /refund. It also runs the streaming risk
engine over the payment outbox in the background (as 'risk watch --follow'
does), filing alerts into the case database --cases (default: beside --db,
paybridge.db → paybridge-risk.db), which GET /v1/risk/cases serves; its
state is snapshotted there and survives restarts. With --risk off an
existing --cases file is served, read and resolved only.

SIGINT or SIGTERM stops it gracefully: it stops accepting connections,
finishes the requests and ledger commits in flight, and closes the ledger.
Logs are structured (log/slog) on stderr.

The Go garbage collector runs at GOGC=200 unless the GOGC environment
variable says otherwise: fewer collections under load for a larger heap
(docs/api.md, Performance).

For profiling, PAYBRIDGE_PPROF=127.0.0.1:6060 in the environment serves
net/http/pprof on that address (keep it on loopback: it needs no key).`,
		Example: `  # Serve the bundled world on a clock 600 times faster than real time
  paybridge serve --db /tmp/pb.db --clock scaled:600

  # A clock that moves only when told (tests, demos), on another port
  paybridge serve --addr 127.0.0.1:9090 --clock manual

  # Then, with the admin key it printed:
  curl -s -H "Authorization: Bearer $KEY" localhost:8080/v1/clock`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runServe(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on (port 0: any free port, logged at start)")
	fl.StringVar(&f.clockSpec, "clock", "real", "real, scaled:N (N× real time) or manual (moves only on POST /v1/clock/advance)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format on stderr: text or json")
	fl.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown waits for requests in flight")
	f.world.register(fl)
	f.risk.register(fl)
	fl.StringVar(&f.cases, "cases", "", "risk case database (default: beside --db, paybridge.db → paybridge-risk.db); with --risk on, created and fed")
	root.AddCommand(cmd)
}

// serveGCPercent is the server's GOGC when the environment sets none.
const serveGCPercent = 200

func runServe(cmd *cobra.Command, f serveFlags) error {
	start := time.Now()
	if os.Getenv("GOGC") == "" {
		// The heap of a busy server is mostly payments in flight and
		// per-request garbage: collecting at 3× the live heap instead of
		// 2× spends less CPU on GC per payment (measured in docs/api.md).
		debug.SetGCPercent(serveGCPercent)
	}
	var logger *slog.Logger
	switch f.logFormat {
	case "text":
		logger = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
	default:
		return usageErrorf("--log-format %q is not text or json", f.logFormat)
	}
	manual := f.clockSpec == "manual"
	spec := clock.Spec{Kind: "virtual"}
	if !manual {
		var err error
		if spec, err = clock.ParseSpec(f.clockSpec); err != nil || spec.Kind == "virtual" {
			return usageErrorf("--clock %q is not real, scaled:N or manual", f.clockSpec)
		}
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return usageErrorf("--addr %s: %v", f.addr, err)
	}
	defer ln.Close()

	sc, err := openServeCases(&f, cmd.Flags().Changed("cases"), logger)
	if err != nil {
		return err
	}
	defer sc.close()
	guard, err := f.risk.guard()
	if err != nil {
		return err
	}
	sc.attach(guard)
	if guard != nil {
		f.world.guard = guard
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var base clock.Clock
	f.world.wrapClock = func(c clock.Clock) clock.Clock {
		if v, ok := c.(*clock.Virtual); ok && manual {
			c = api.NewManual(v)
		}
		base = c
		return api.NonBlocking(c)
	}
	w, err := openWorld(ctx, cmd, f.world, compliance.PolicyStrict, spec, false, false, time.Time{})
	if err != nil {
		return err
	}
	defer w.close()
	if sc, ok := base.(*clock.Scaled); ok && !w.x.LastEventAt().IsZero() {
		// Simulated time goes on from the last recorded event.
		sc.RealAnchor, sc.SimAnchor = time.Now(), w.x.LastEventAt()
	}
	if guard != nil {
		if err := guard.begin(ctx, w); err != nil {
			return err
		}
		defer func() {
			if err := guard.finish(context.Background()); err != nil {
				logger.Warn("risk guard: taking the last hops in", "err", err)
			}
		}()
		if err := sc.start(ctx, w, f.risk.rules); err != nil {
			return err
		}
	}
	defer sc.close() // before the ledger closes
	rules, err := compliance.NewChecker(w.eco.Rules, compliance.PolicyStrict)
	if err != nil {
		return err
	}
	keys, err := openKeys(f.world.db)
	if err != nil {
		return err
	}
	defer keys.Close()
	if n, err := keys.Count(ctx); err != nil {
		return err
	} else if n == 0 {
		key, _, err := keys.CreateKey(ctx, api.Principal{Role: api.RoleAdmin})
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "admin key (shown once, keep it): %s\n", key)
	}
	mode := spec.String()
	if manual {
		mode = "manual"
	}
	eco := w.eco
	riskRules, riskRulesSource, err := f.risk.ruleSet()
	if err != nil {
		return err
	}
	// One hub reads the outbox once per commit and fans the events out to
	// every open stream (and reads nothing while no stream is open).
	hub := stream.NewHub(payment.NewOutbox(w.led), stream.Options{})
	srv := api.New(api.Config{Ecosystem: eco, Rules: rules, Ledger: w.led, Executor: w.x, Clock: base, ClockMode: mode,
		Auth: keys, Keys: keys, Logger: logger, Streams: hub, Cases: sc.caseStore(), VerifyLedger: ledgerVerifier(w),
		EcosystemChecks: []ecosystem.Check{calibrate.Validate},
		RiskRules:       riskRules, RiskRulesSource: riskRulesSource, RiskMode: f.risk.mode,
		Calibration: func() (any, error) { return calibrate.Run(eco) }})
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	hs.RegisterOnShutdown(srv.CloseStreams)

	runCtx, stopRun := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	go func() { runDone <- srv.Run(runCtx) }()
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(runCtx) }()
	serveDone := make(chan error, 1)
	go func() { serveDone <- hs.Serve(ln) }()
	if addr := os.Getenv("PAYBRIDGE_PPROF"); addr != "" {
		servePprof(logger, addr)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "db", f.world.db, "ecosystem", eco.ID, "clock", mode,
		"clock_now", base.Now().Format(time.RFC3339), "payments", w.x.Count(), "startup", time.Since(start).Round(time.Millisecond).String())

	select {
	case <-ctx.Done():
	case err := <-serveDone:
		stopRun()
		<-runDone
		<-hubDone
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("shutting down: no new connections; finishing requests and commits in flight")
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		logger.Warn("requests still running at the shutdown timeout", "err", err)
	}
	if err := <-serveDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("serve", "err", err)
	}
	stopRun()
	if err := <-runDone; err != nil {
		logger.Warn("scheduler", "err", err)
	}
	if err := <-hubDone; err != nil && !errors.Is(err, context.Canceled) {
		logger.Warn("event stream hub", "err", err)
	}
	logger.Info("stopped; ledger closed", "payments", w.x.Count())
	return nil
}

// keyStore is what serve needs of an API key store.
type keyStore interface {
	api.Authenticator
	api.KeyCreator
	Count(ctx context.Context) (int, error)
	Close() error
}

// servePprof serves net/http/pprof on addr (PAYBRIDGE_PPROF), for profiling
// the server under load; it needs no key, so keep addr on loopback.
func servePprof(logger *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		if err := http.ListenAndServe(addr, mux); err != nil {
			logger.Warn("pprof", "addr", addr, "err", err)
		}
	}()
	logger.Info("pprof", "addr", addr)
}
