package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/route"
)

// access is what a route requires of its caller.
type access int

const (
	public access = iota // no key
	read                 // any key
	write                // admin, operator, holder
	admin                // admin only
)

type routeDef struct {
	pattern string
	access  access
	h       func(w http.ResponseWriter, r *http.Request) error
}

func (s *Server) routes() []routeDef {
	return []routeDef{
		{"GET /healthz", public, s.healthz},
		{"GET /readyz", public, s.readyz},
		{"GET /metrics", public, s.metricsHandler},
		{"GET /openapi.json", public, s.openapi},
		{"GET /v1/ecosystem", read, s.getEcosystem},
		{"GET /v1/holders", read, s.listHolders},
		{"GET /v1/holders/{id}", read, s.getHolder},
		{"POST /v1/holders", write, s.createHolder},              // admin; operator: with accounts at its institution (holders.go)
		{"POST /v1/holders/{id}/accounts", write, s.openAccount}, // admin; operator: its institution's products
		{"GET /v1/accounts", read, s.listAccounts},
		{"GET /v1/accounts/{holder}/{product}", read, s.getAccount},
		{"GET /v1/accounts/{holder}/{product}/history", read, s.accountHistory},
		{"POST /v1/plans", read, s.createPlan},
		{"POST /v1/payments", write, s.createPayment},
		{"GET /v1/payments", read, s.listPayments},
		{"GET /v1/payments/{id}", read, s.getPayment},
		{"POST /v1/payments/{id}/resume", write, s.resumePayment},
		{"POST /v1/payments/{id}/refund", write, s.refundPayment},
		{"GET /v1/payments/{id}/events", read, s.paymentEvents},
		{"GET /v1/events", read, s.allEvents},
		{"GET /v1/clock", read, s.getClock},
		{"POST /v1/clock/advance", admin, s.advanceClock},
		{"GET /v1/calibration", read, s.getCalibration},
		{"GET /v1/books", read, s.getBooks},
		{"POST /v1/keys", admin, s.createKey},
		{"GET /v1/keys", admin, s.listKeys},
		{"DELETE /v1/keys/{id}", admin, s.revokeKey},
		{"POST /v1/ecosystems/validate", read, s.validateEcosystem},
		{"GET /v1/risk/rules", read, s.getRiskRules},
		{"GET /v1/risk/cases", read, s.listCases},
		{"GET /v1/risk/cases/{id}", read, s.getCase},
		{"POST /v1/risk/cases/{id}/resolve", write, s.resolveCase},
		{"POST /v1/ledger/verify", read, s.verifyLedger},
		{"GET /v1/ecosystems", read, s.listEcosystems},
		{"GET /v1/ecosystems/diff", read, s.diffEcosystems},
		{"/", public, s.unknown},
	}
}

// wrap authenticates, checks the route's role, runs the handler and writes
// its error.
func (s *Server) wrap(rt routeDef) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.access != public {
			key, ok := bearer(r)
			if !ok {
				writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "send Authorization: Bearer KEY"})
				return
			}
			p, err := s.cfg.Auth.Authenticate(r.Context(), key)
			if err != nil {
				writeError(w, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthenticated, Message: "the API key is unknown or revoked"})
				return
			}
			switch {
			case rt.access == admin && p.Role != RoleAdmin:
				writeError(w, forbidden("%s needs an admin key; this key's role is %s", rt.pattern, p.Role))
				return
			case rt.access == write && !p.CanWrite():
				writeError(w, forbidden("%s changes state; role %s may only read", rt.pattern, p.Role))
				return
			}
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		if rt.access != public && !streaming(rt.pattern) {
			select {
			case s.inflight <- struct{}{}:
				defer func() { <-s.inflight }()
			default:
				w.Header().Set("Retry-After", "1")
				writeError(w, &Error{Status: http.StatusServiceUnavailable, Code: CodeOverloaded,
					Message: fmt.Sprintf("more than %d requests in flight; retry shortly", cap(s.inflight))})
				return
			}
		}
		if err := rt.h(w, r); err != nil {
			var e *Error
			switch {
			case errors.As(err, &e):
			case errors.Is(err, ledger.ErrClosed), errors.Is(err, ledger.ErrStoreClosed):
				err = unavailable("the server is shutting down")
			default:
				s.log.Error("request failed", "route", rt.pattern, "err", err)
			}
			writeError(w, err)
		}
	})
}

// streaming reports whether a route serves an event stream (long-lived:
// not counted against the in-flight limit).
func streaming(pattern string) bool { return strings.HasSuffix(pattern, "/events") }

// recoverer turns a panic into a logged 500 (a bug: tests fuzz for it).
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				writeError(w, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func (s *Server) unknown(w http.ResponseWriter, r *http.Request) error {
	var allow []string
	for _, m := range []string{"GET", "POST", "DELETE"} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethod,
			Message: fmt.Sprintf("%s %s: use %s", r.Method, quote(r.URL.Path), strings.Join(allow, " or "))}
	}
	return notFound("no endpoint %s %s (see /openapi.json)", r.Method, quote(r.URL.Path))
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if !s.ready.Load() {
		return unavailable("not ready: the scheduler is not running")
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "payments_waiting": s.sched.pending()})
	return nil
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) error {
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
	return nil
}

// ---- ecosystem, holders, accounts ----

func (s *Server) getEcosystem(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.eco())
	return nil
}

func (s *Server) listHolders(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	out := []any{}
	for _, h := range s.eco().Holders {
		if p.Role != RoleHolder || p.Holder == h.ID {
			out = append(out, h)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"holders": out})
	return nil
}

func (s *Server) getHolder(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	h, ok := s.eco().Holder(id)
	if !ok {
		return notFound("no holder %s in ecosystem %s", quote(id), s.eco().ID)
	}
	if p := principalOf(r.Context()); p.Role == RoleHolder && p.Holder != id {
		return forbidden("this key sees holder %s only", p.Holder)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) listAccounts(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	holder := r.URL.Query().Get("holder")
	if holder != "" {
		if _, ok := s.eco().Holder(holder); !ok {
			return invalid("holder", "no holder %s in ecosystem %s", quote(holder), s.eco().ID)
		}
		if p.Role == RoleHolder && p.Holder != holder {
			return forbidden("this key sees holder %s only", p.Holder)
		}
	}
	out := []accountView{}
	for _, a := range s.cfg.Ledger.Accounts() {
		if _, isHolder := s.eco().Holder(a.Holder); !isHolder || (holder != "" && a.Holder != holder) {
			continue
		}
		if a.ID != payment.HolderAccount(a.Holder, a.Product) || !p.SeesAccount(a.Holder, a.Institution) {
			continue
		}
		out = append(out, viewAccount(a))
	}
	writeJSON(w, http.StatusOK, map[string]any{"accounts": out})
	return nil
}

// account resolves {holder}/{product} and checks the caller sees it.
func (s *Server) account(r *http.Request) (ledger.Account, error) {
	holder, product := r.PathValue("holder"), r.PathValue("product")
	if _, ok := s.eco().Holder(holder); !ok {
		return ledger.Account{}, notFound("no holder %s in ecosystem %s", quote(holder), s.eco().ID)
	}
	pr, ok := s.eco().Product(product)
	if !ok {
		return ledger.Account{}, notFound("no product %s in ecosystem %s", quote(product), s.eco().ID)
	}
	if !principalOf(r.Context()).SeesAccount(holder, pr.Institution) {
		return ledger.Account{}, forbidden("this key does not see %s's %s account", holder, product)
	}
	a, ok := s.cfg.Ledger.Account(payment.HolderAccount(holder, product))
	if !ok {
		return ledger.Account{}, notFound("holder %s has no %s account", holder, product)
	}
	return a, nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	a, err := s.account(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewAccount(a))
	return nil
}

// pageLimit parses ?limit=.
func pageLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageLimit {
		return 0, invalid("limit", "limit=%s: must be an integer from 1 to %d", quote(v), MaxPageLimit)
	}
	return n, nil
}

func (s *Server) accountHistory(w http.ResponseWriter, r *http.Request) error {
	a, err := s.account(r)
	if err != nil {
		return err
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var after int64
	if v := r.URL.Query().Get("cursor"); v != "" {
		if after, err = strconv.ParseInt(v, 10, 64); err != nil || after < 0 {
			return invalid("cursor", "cursor=%s: pass the next_cursor of the previous page", quote(v))
		}
	}
	page, err := s.cfg.Ledger.History(r.Context(), a.ID, after, limit)
	if err != nil {
		return err
	}
	next := ""
	if page.Next != 0 && len(page.Transfers) == limit {
		next = strconv.FormatInt(page.Next, 10)
	}
	ts := page.Transfers
	if ts == nil {
		ts = []ledger.Transfer{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"transfers": ts, "next_cursor": next})
	return nil
}

// ---- plans ----

type planBody struct {
	From       string `json:"from"`
	To         string `json:"to"`
	AmountFen  int64  `json:"amount_fen"`
	FromHolder string `json:"from_holder"`
	ToHolder   string `json:"to_holder"`
	Objective  string `json:"objective"`
	At         string `json:"at"`
	MaxHops    int    `json:"max_hops"`
}

// required names the first empty required field.
func required(fields ...[2]string) error {
	for _, f := range fields {
		if strings.TrimSpace(f[1]) == "" {
			return invalid(f[0], "%s is required", f[0])
		}
	}
	return nil
}

// fromHolder applies a holder key's scope to a request's from_holder.
func (s *Server) fromHolder(p Principal, h string) (string, error) {
	if p.Role != RoleHolder {
		return h, nil
	}
	if h == "" {
		return p.Holder, nil
	}
	if h != p.Holder {
		return "", forbidden("this key moves holder %s's money only, not %s's", p.Holder, quote(h))
	}
	return h, nil
}

// queryError maps a planner error to a 400 naming the JSON field.
func queryError(err error) error {
	var qe *route.QueryError
	if errors.As(err, &qe) {
		return invalid(jsonField(qe.Field), "%s", strings.TrimPrefix(qe.Error(), qe.Field+": "))
	}
	return err
}

// jsonField maps a payment or planner field name to the request's JSON name.
func jsonField(f string) string {
	switch {
	case f == "amount":
		return "amount_fen"
	case f == "route":
		return "route_id"
	case f == "key":
		return "Idempotency-Key"
	case strings.HasPrefix(f, "channels"):
		return "channels"
	}
	return f
}

func (s *Server) createPlan(w http.ResponseWriter, r *http.Request) error {
	var b planBody
	if err := s.decodePlan(w, r, &b); err != nil {
		return err
	}
	if err := required([2]string{"from", b.From}, [2]string{"to", b.To}); err != nil {
		return err
	}
	if b.AmountFen <= 0 {
		return invalid("amount_fen", "amount_fen must be more than 0 (integer fen: 100000 is 1,000 yuan)")
	}
	p := principalOf(r.Context())
	fromH, err := s.fromHolder(p, b.FromHolder)
	if err != nil {
		return err
	}
	objective, err := route.ParseObjective(orDefault(b.Objective, "balanced"))
	if err != nil {
		return invalid("objective", "%s is not one of cost, time, reliability, effort, balanced", quote(b.Objective))
	}
	if b.MaxHops == 0 {
		b.MaxHops = route.DefaultMaxHops
	}
	if b.MaxHops < 1 || b.MaxHops > route.MaxHopsCap {
		return invalid("max_hops", "max_hops %d must be between 1 and %d (0: %d)", b.MaxHops, route.MaxHopsCap, route.DefaultMaxHops)
	}
	q := route.Query{From: b.From, To: b.To, AmountFen: b.AmountFen, FromHolder: fromH, ToHolder: b.ToHolder,
		Objective: objective, Policy: compliance.PolicyStrict, MaxHops: b.MaxHops, Seed: 1}
	if b.At != "" {
		if q.At, err = time.Parse(time.RFC3339, b.At); err != nil {
			return invalid("at", "at %s is not an RFC 3339 time such as 2023-05-05T10:00:00+08:00", quote(b.At))
		}
	} else {
		// Plans without "at" are as of the clock's current second, so
		// identical requests within a second share one planner run.
		q.At = s.cfg.Clock.Now().Truncate(time.Second)
	}
	res, resJSON, err := s.routePlanner().PlanJSON(q, s.cfg.Rules) // memoised by every Query field
	if err != nil {
		return queryError(err)
	}
	s.writePlan(w, q, res, resJSON, p) // stores the plan; api/plans.go
	return nil
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// ---- payments ----

type paymentBody struct {
	From       string   `json:"from"`
	To         string   `json:"to"`
	AmountFen  int64    `json:"amount_fen"`
	FromHolder string   `json:"from_holder"`
	ToHolder   string   `json:"to_holder"`
	PlanID     string   `json:"plan_id"`
	RouteID    string   `json:"route_id"`
	Channels   []string `json:"channels"`
	Objective  string   `json:"objective"`
	OnFailure  string   `json:"on_failure"`
	Seed       *uint64  `json:"seed"`
	FailHop    int      `json:"fail_hop"`
}

// request builds the executor's request, taking a plan's route when the
// body names one.
func (s *Server) request(p Principal, b paymentBody) (payment.Request, error) {
	req := payment.Request{From: b.From, To: b.To, AmountFen: b.AmountFen, FromHolder: b.FromHolder, ToHolder: b.ToHolder,
		RouteID: b.RouteID, Channels: b.Channels, OnFailure: b.OnFailure, Seed: 1, FailHop: b.FailHop}
	if b.Seed != nil {
		req.Seed = *b.Seed
	}
	var err error
	if req.Objective, err = route.ParseObjective(orDefault(b.Objective, "balanced")); err != nil {
		return req, invalid("objective", "%s is not one of cost, time, reliability, effort, balanced", quote(b.Objective))
	}
	if b.RouteID != "" && len(b.Channels) > 0 {
		return req, invalid("channels", "give route_id or channels, not both")
	}
	if b.PlanID != "" {
		pl, ok := s.plans.get(b.PlanID)
		if !ok {
			return req, invalid("plan_id", "plan %s is unknown or expired (plans last %s): POST /v1/plans again", quote(b.PlanID), PlanTTL)
		}
		q := pl.query
		for _, f := range [][3]string{{"from", b.From, q.From}, {"to", b.To, q.To}, {"from_holder", b.FromHolder, q.FromHolder}, {"to_holder", b.ToHolder, q.ToHolder}} {
			if f[1] != "" && f[1] != f[2] {
				return req, invalid(f[0], "%s %s differs from the plan's %s", f[0], quote(f[1]), quote(f[2]))
			}
		}
		if b.AmountFen != 0 && b.AmountFen != q.AmountFen {
			return req, invalid("amount_fen", "amount_fen %d differs from the plan's %d", b.AmountFen, q.AmountFen)
		}
		if len(b.Channels) > 0 {
			return req, invalid("channels", "a payment with plan_id takes the plan's route: give route_id, not channels")
		}
		req.From, req.To, req.AmountFen, req.FromHolder, req.ToHolder = q.From, q.To, q.AmountFen, q.FromHolder, q.ToHolder
		var pick *route.Route
		for i := range pl.result.Routes {
			rt := &pl.result.Routes[i]
			if b.RouteID == "" || rt.ID == b.RouteID {
				pick = rt
				break
			}
		}
		if pick == nil {
			if b.RouteID != "" {
				return req, invalid("route_id", "plan %s has no route %s", b.PlanID, quote(b.RouteID))
			}
			return req, &Error{Status: http.StatusUnprocessableEntity, Code: CodeRefused, Message: "the plan has no route that moves this money"}
		}
		req.RouteID, req.Channels = "", pick.Channels()
	} else {
		if err := required([2]string{"from", b.From}, [2]string{"to", b.To}); err != nil {
			return req, err
		}
		if b.AmountFen <= 0 {
			return req, invalid("amount_fen", "amount_fen must be more than 0 (integer fen: 100000 is 1,000 yuan)")
		}
	}
	if req.FromHolder, err = s.fromHolder(p, req.FromHolder); err != nil {
		return req, err
	}
	if p.Role == RoleOperator {
		ok := false
		for _, id := range []string{req.From, req.To} {
			if pr, found := s.eco().Product(id); found && pr.Institution == p.Institution {
				ok = true
			}
		}
		if !ok {
			return req, forbidden("an operator of %s moves money from or to its own products only", p.Institution)
		}
	}
	return req, nil
}

func (s *Server) createPayment(w http.ResponseWriter, r *http.Request) error {
	var b paymentBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	p := principalOf(r.Context())
	key := r.Header.Get("Idempotency-Key")
	if len(key) > payment.MaxKeyLen {
		return invalid("Idempotency-Key", "Idempotency-Key is %d bytes, more than %d", len(key), payment.MaxKeyLen)
	}
	sum := ""
	if key != "" {
		// The key is stored with the payment (with the body's digest), so
		// a retry finds it however long ago it was made, across restarts.
		bj, _ := json.Marshal(b)
		h := sha256.Sum256(bj)
		sum = hex.EncodeToString(h[:16])
		pay, err := s.cfg.Executor.ByKey(r.Context(), key)
		if err != nil {
			if strings.Contains(err.Error(), "is being created") {
				return conflict("Idempotency-Key %s: the first request with it is still being created; retry", quote(key))
			}
			return err
		}
		if pay != nil {
			// A retry: the same payment, without re-planning (its plan may
			// have expired, the server may have restarted).
			if pay.Spec.KeySum != "" && pay.Spec.KeySum != sum {
				return conflict("Idempotency-Key %s was used with another request body", quote(key))
			}
			if !p.seesPayment(s.eco(), pay.Spec) {
				return conflict("Idempotency-Key %s belongs to another caller's payment", quote(key))
			}
			return s.writePayment(w, pay, http.StatusOK)
		}
	}
	req, err := s.request(p, b)
	if err != nil {
		return err
	}
	req.Key, req.KeySum = key, sum
	// The commit is not abandoned if the client goes away.
	pay, err := s.cfg.Executor.Create(context.WithoutCancel(r.Context()), req)
	if err != nil {
		var re *payment.RequestError
		if errors.As(err, &re) {
			if re.Field == "key" {
				return conflict("Idempotency-Key: %s", re.Reason)
			}
			return invalid(jsonField(re.Field), "%s: %s", jsonField(re.Field), re.Reason)
		}
		if key != "" && strings.Contains(err.Error(), "is being created") {
			return conflict("Idempotency-Key %s: the first request with it is still being created; retry", quote(key))
		}
		return err
	}
	if !p.seesPayment(s.eco(), pay.Spec) {
		return conflict("Idempotency-Key %s belongs to another caller's payment", quote(key))
	}
	s.metrics.created(pay)
	s.sched.add(pay)
	s.notify()
	return s.writePayment(w, pay, http.StatusCreated)
}

// writePayment answers with a payment: a rejected one is a 422 refusal.
func (s *Server) writePayment(w http.ResponseWriter, pay *payment.Payment, status int) error {
	if pay.State == payment.StateRejected {
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRefused, Message: pay.Reason,
			Details: map[string]any{"findings": refusingFindings(pay), "payment": viewPayment(pay)}}
	}
	w.Header().Set("Location", "/v1/payments/"+pay.ID)
	writePaymentView(w, status, viewPayment(pay))
	return nil
}

// visiblePayment returns payment {id} if the caller sees it.
func (s *Server) visiblePayment(r *http.Request) (*payment.Payment, error) {
	id := r.PathValue("id")
	pay, err := s.cfg.Executor.Get(id)
	if err != nil {
		return nil, notFound("no payment %s", quote(id))
	}
	if !principalOf(r.Context()).seesPayment(s.eco(), pay.Spec) {
		return nil, notFound("no payment %s", quote(id)) // do not reveal others' payments
	}
	return pay, nil
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) error {
	pay, err := s.visiblePayment(r)
	if err != nil {
		return err
	}
	writePaymentView(w, http.StatusOK, viewPayment(pay))
	return nil
}

var states = payment.States

func (s *Server) listPayments(w http.ResponseWriter, r *http.Request) error {
	p := principalOf(r.Context())
	qv := r.URL.Query()
	state, holder, cursor := qv.Get("state"), qv.Get("holder"), qv.Get("cursor")
	if state != "" && !slices.Contains(states, state) {
		return invalid("state", "state=%s is not one of %s", quote(state), strings.Join(states, ", "))
	}
	if holder != "" {
		if _, ok := s.eco().Holder(holder); !ok {
			return invalid("holder", "no holder %s in ecosystem %s", quote(holder), s.eco().ID)
		}
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	// One page read from the executor (finished payments out of memory
	// come from the ledger): nothing else is materialised.
	keep := func(pay *payment.Payment) bool {
		return (holder == "" || pay.Spec.FromHolder == holder || pay.Spec.ToHolder == holder) && p.seesPayment(s.eco(), pay.Spec)
	}
	page, next, err := s.cfg.Executor.Page(r.Context(), cursor, limit, payment.Filter{State: state, Keep: keep})
	if err != nil {
		var re *payment.RequestError
		if errors.As(err, &re) {
			return invalid("cursor", "cursor=%s: pass the next_cursor of the previous page", quote(cursor))
		}
		return err
	}
	out := make([]paymentView, 0, len(page))
	for _, pay := range page {
		out = append(out, viewPayment(pay))
	}
	writeJSON(w, http.StatusOK, map[string]any{"payments": out, "next_cursor": next})
	return nil
}

// act resumes or refunds payment {id}.
func (s *Server) act(w http.ResponseWriter, r *http.Request, name string, do func(context.Context, string) (*payment.Payment, error)) error {
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	pay, err := s.visiblePayment(r)
	if err != nil {
		return err
	}
	pay, err = do(context.WithoutCancel(r.Context()), pay.ID)
	switch {
	case errors.Is(err, ErrNotDue) && pay != nil:
	case errors.Is(err, payment.ErrNotFound):
		return notFound("no payment %s", quote(r.PathValue("id")))
	case errors.Is(err, payment.ErrGuardRefused):
		return &Error{Status: http.StatusUnprocessableEntity, Code: CodeRefused, Message: fmt.Sprintf("cannot %s payment %s: %v", name, r.PathValue("id"), err)}
	case errors.Is(err, payment.ErrState):
		return conflict("cannot %s payment %s: %s", name, r.PathValue("id"), strings.TrimPrefix(err.Error(), payment.ErrState.Error()+": "))
	case err != nil:
		return err
	}
	s.sched.add(pay)
	s.notify()
	writeJSON(w, http.StatusOK, viewPayment(pay))
	return nil
}

func (s *Server) resumePayment(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, "resume", s.cfg.Executor.Resume)
}

func (s *Server) refundPayment(w http.ResponseWriter, r *http.Request) error {
	return s.act(w, r, "refund", s.cfg.Executor.Refund)
}

// ---- events ----

func (s *Server) paymentEvents(w http.ResponseWriter, r *http.Request) error {
	pay, err := s.visiblePayment(r)
	if err != nil {
		return err
	}
	after, e := afterOf(r)
	if e != nil {
		return e
	}
	id := pay.ID
	if after == 0 && r.Header.Get("Last-Event-ID") == "" && r.URL.Query().Get("after") == "" {
		// Start just before the payment's created event (read by key).
		if seq, err := s.cfg.Executor.FirstSeq(r.Context(), id); err == nil && seq > 0 {
			after = seq - 1
		}
	}
	s.streams.ServeSSE(w, r, after, func(ev payment.Event) bool { return ev.Payment == id })
	return nil
}

// maxSeenPerStream bounds the visibility answers one event stream keeps.
const maxSeenPerStream = 4096

func (s *Server) allEvents(w http.ResponseWriter, r *http.Request) error {
	after, e := afterOf(r)
	if e != nil {
		return e
	}
	p := principalOf(r.Context())
	var keep func(payment.Event) bool
	if !p.Everything() {
		// payment → visible, for the payments seen lately: a stream is one
		// goroutine and may run for days, so the map starts afresh when full
		// (a payment seen again is looked up again).
		seen := map[string]bool{}
		keep = func(ev payment.Event) bool {
			v, ok := seen[ev.Payment]
			if !ok {
				if len(seen) >= maxSeenPerStream {
					clear(seen)
				}
				if ev.Spec != nil {
					v = p.seesPayment(s.eco(), *ev.Spec)
				} else if pay, err := s.cfg.Executor.Get(ev.Payment); err == nil {
					v = p.seesPayment(s.eco(), pay.Spec)
				}
				seen[ev.Payment] = v
			}
			return v
		}
	}
	s.streams.ServeSSE(w, r, after, keep)
	return nil
}

// ---- clock, calibration, keys ----

func (s *Server) getClock(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{"now": s.cfg.Clock.Now().Format(time.RFC3339Nano), "mode": s.cfg.ClockMode})
	return nil
}

func (s *Server) advanceClock(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Seconds int64 `json:"seconds"`
	}
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	m, ok := s.cfg.Clock.(*Manual)
	if !ok {
		return conflict("the clock is %s: only a manual clock (serve --clock manual) can be advanced", s.cfg.ClockMode)
	}
	const maxAdvance = 366 * 24 * 3600
	if b.Seconds < 1 || b.Seconds > maxAdvance {
		return invalid("seconds", "seconds must be from 1 to %d (one year)", maxAdvance)
	}
	m.Advance(time.Duration(b.Seconds) * time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"now": m.Now().Format(time.RFC3339Nano), "mode": s.cfg.ClockMode})
	return nil
}

func (s *Server) getCalibration(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Calibration == nil {
		return unavailable("this server has no calibration report")
	}
	s.calib.once.Do(func() { s.calib.report, s.calib.err = s.cfg.Calibration() })
	if s.calib.err != nil {
		return unavailable("calibration failed: %v", s.calib.err)
	}
	writeJSON(w, http.StatusOK, s.calib.report)
	return nil
}

// getBooks checks every institution's books (as paybridge payments books).
func (s *Server) getBooks(w http.ResponseWriter, r *http.Request) error {
	if p := principalOf(r.Context()); !p.Everything() {
		return forbidden("the books span every institution: admin or auditor only; role %s", p.Role)
	}
	accounts := s.cfg.Ledger.Accounts()
	violations := payment.CheckBooks(accounts)
	if violations == nil {
		violations = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": len(violations) == 0, "accounts": len(accounts), "violations": violations})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		Role        string `json:"role"`
		Institution string `json:"institution"`
		Holder      string `json:"holder"`
	}
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	if s.cfg.Keys == nil {
		return unavailable("this server cannot create keys")
	}
	p := Principal{Role: b.Role, Institution: b.Institution, Holder: b.Holder}
	if e := p.validate(s.eco()); e != nil {
		return e
	}
	key, out, err := s.cfg.Keys.CreateKey(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, map[string]any{"key": key, "key_id": out.KeyID, "role": out.Role,
		"institution": out.Institution, "holder": out.Holder})
	return nil
}
