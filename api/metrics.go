package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	latency   *prometheus.HistogramVec
	create    prometheus.Histogram
	createdBy *prometheus.CounterVec
	// the ledger's group commits (ledger.Engine.ObserveCommits)
	commitBatches   prometheus.Histogram
	commitTransfers prometheus.Histogram
	commitSeconds   prometheus.Histogram
	commitFailures  prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, s *Server) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "paybridge_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"route", "code"}),
		create: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paybridge_payment_create_seconds",
			Help:    "Time to create a payment: planning and its ledger commit (the commit waits for the group commit).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		createdBy: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paybridge_payments_created_total",
			Help: "Payments created through the API, by their state right after creation.",
		}, []string{"state"}),
		commitBatches: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paybridge_ledger_commit_batches",
			Help:    "Batches (one per payment step or ledger operation) carried by each group commit of the ledger.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 … 2048
		}),
		commitTransfers: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paybridge_ledger_commit_transfers",
			Help:    "Transfers carried by each group commit of the ledger.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 14), // 1 … 8192
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "paybridge_ledger_commit_duration_seconds",
			Help:    "Time the ledger's store took to make a group commit durable (journal write and fsync).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		commitFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paybridge_ledger_commit_failures_total",
			Help: "Group commits the ledger's store refused (the ledger stops accepting writes after one).",
		}),
	}
	reg.MustRegister(m.latency, m.create, m.createdBy, m.commitBatches, m.commitTransfers, m.commitSeconds, m.commitFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paybridge_outbox_lag_events",
		Help: "How many outbox events the slowest open event stream is behind the newest one streamed.",
	}, func() float64 {
		if l, ok := s.streams.(interface{ Lag() uint64 }); ok {
			return float64(l.Lag())
		}
		return 0
	}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paybridge_event_streams",
		Help: "Open Server-Sent Event streams.",
	}, func() float64 { return float64(s.openStreams()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paybridge_payments_waiting",
		Help: "Running payments waiting for the clock.",
	}, func() float64 { return float64(s.sched.pending()) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paybridge_ledger_commit_seq",
		Help: "Seq of the ledger's last durable commit.",
	}, func() float64 { return float64(s.cfg.Ledger.CommitSeq()) }))
	reg.MustRegister(&stateCollector{s: s, desc: prometheus.NewDesc("paybridge_payments",
		"Payments in the ledger by state.", []string{"state"}, nil)})
	return m
}

// commit records one of the ledger's group commits.
func (m *metrics) commit(c ledger.CommitStats) {
	if c.Failed {
		m.commitFailures.Inc()
		return
	}
	m.commitBatches.Observe(float64(c.Batches))
	m.commitTransfers.Observe(float64(c.Transfers))
	m.commitSeconds.Observe(c.Duration.Seconds())
}

// created records a payment the API created.
func (m *metrics) created(p *payment.Payment) { m.createdBy.WithLabelValues(p.State).Inc() }

// instrument times a route.
func (m *metrics) instrument(pattern string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		d := time.Since(start).Seconds()
		m.latency.WithLabelValues(pattern, strconv.Itoa(sw.code)).Observe(d)
		if pattern == "POST /v1/payments" && sw.code < 300 {
			m.create.Observe(d)
		}
	})
}

// statusWriter records the status code; it passes Flush on for streams.
type statusWriter struct {
	http.ResponseWriter
	code    int
	written bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.written {
		w.code, w.written = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stateCollector reports the executor's counts by state at scrape time
// (numbers it keeps: no payment is read).
type stateCollector struct {
	s    *Server
	desc *prometheus.Desc
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	for st, k := range c.s.cfg.Executor.CountByState() {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(k), st)
	}
}
