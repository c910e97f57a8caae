package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paybridge/paybridge/risk"
)

// CaseStore is the risk case database behind /v1/risk/cases: the one
// `paybridge risk cases|case|resolve`, `risk watch` and `pay --risk-cases`
// use (*risk.SQLiteStore satisfies it).
type CaseStore interface {
	// Cases lists cases, newest first; state "" lists all.
	Cases(ctx context.Context, state risk.CaseState) ([]risk.Case, error)
	// Case returns a case and its alerts, or risk.ErrCaseNotFound.
	Case(ctx context.Context, id int64) (risk.Case, []risk.Alert, error)
	// Resolve moves a case; it returns risk.ErrCaseNotFound,
	// risk.ErrBadTransition or risk.ErrReasonRequired.
	Resolve(ctx context.Context, id int64, state risk.CaseState, reason string, at time.Time) error
}

// Limits of the risk endpoints.
const (
	// MaxCaseAlerts is the most alerts GET /v1/risk/cases/{id} returns (the
	// first ones; the case's "alerts" field counts them all).
	MaxCaseAlerts = 1000
	// maxCaseHolderLen bounds the holder filter.
	maxCaseHolderLen = 200
)

var caseStates = []string{string(risk.CaseOpen), string(risk.CaseReviewing), string(risk.CaseConfirmed), string(risk.CaseDismissed)}

// caseScope decides which cases a principal sees. The rule: admin and
// auditor see every case; a holder key the cases filed against its
// holder; an operator the cases whose holder has an account (in the
// ledger) at one of its institution's products, i.e. its own customers.
// Which hops made the case does not matter: a case is about a holder.
type caseScope struct {
	p       Principal
	holders map[string]bool // operator: the holders with an account at its institution
}

func (s *Server) caseScope(p Principal) caseScope {
	sc := caseScope{p: p}
	if p.Role == RoleOperator {
		sc.holders = map[string]bool{}
		for _, a := range s.cfg.Ledger.Accounts() {
			if a.Institution == p.Institution && a.Holder != "" {
				if _, ok := s.eco().Holder(a.Holder); ok {
					sc.holders[a.Holder] = true
				}
			}
		}
	}
	return sc
}

func (sc caseScope) sees(c risk.Case) bool {
	switch sc.p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleHolder:
		return c.Holder == sc.p.Holder
	case RoleOperator:
		return sc.holders[c.Holder]
	}
	return false
}

func (s *Server) cases() (CaseStore, error) {
	if s.cfg.Cases == nil {
		return nil, unavailable("this server keeps no risk cases: start it with serve --risk on (or --cases FILE)")
	}
	return s.cfg.Cases, nil
}

// listCases answers GET /v1/risk/cases: the cases the key sees, newest
// first, cursor-paged by case id.
func (s *Server) listCases(w http.ResponseWriter, r *http.Request) error {
	store, err := s.cases()
	if err != nil {
		return err
	}
	p := principalOf(r.Context())
	qv := r.URL.Query()
	state, holder := qv.Get("state"), qv.Get("holder")
	if state != "" && !slices.Contains(caseStates, state) {
		return invalid("state", "state=%s is not one of %s", quote(state), strings.Join(caseStates, ", "))
	}
	if len(holder) > maxCaseHolderLen {
		return invalid("holder", "holder is %d bytes, more than %d", len(holder), maxCaseHolderLen)
	}
	if holder != "" && p.Role == RoleHolder && holder != p.Holder {
		return forbidden("this key sees holder %s's cases only", p.Holder)
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	var before int64
	if c := qv.Get("cursor"); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before < 1 {
			return invalid("cursor", "cursor=%s: pass the next_cursor of the previous page", quote(c))
		}
	}
	all, err := store.Cases(r.Context(), risk.CaseState(state))
	if err != nil {
		return err
	}
	sc := s.caseScope(p)
	out := []risk.Case{}
	next := ""
	for _, c := range all {
		if (before != 0 && c.ID >= before) || (holder != "" && c.Holder != holder) || !sc.sees(c) {
			continue
		}
		if len(out) == limit {
			next = strconv.FormatInt(out[len(out)-1].ID, 10)
			break
		}
		out = append(out, c)
	}
	writeJSON(w, http.StatusOK, map[string]any{"cases": out, "next_cursor": next})
	return nil
}

// visibleCase returns case {id} with its alerts if the caller sees it
// (404 otherwise, as for payments: others' cases are not revealed).
func (s *Server) visibleCase(r *http.Request) (risk.Case, []risk.Alert, error) {
	store, err := s.cases()
	if err != nil {
		return risk.Case{}, nil, err
	}
	v := r.PathValue("id")
	id, err := strconv.ParseInt(v, 10, 64)
	if err != nil || id < 1 {
		return risk.Case{}, nil, invalid("id", "case id %s is not a case number", quote(v))
	}
	c, alerts, err := store.Case(r.Context(), id)
	if errors.Is(err, risk.ErrCaseNotFound) || (err == nil && !s.caseScope(principalOf(r.Context())).sees(c)) {
		return risk.Case{}, nil, notFound("no risk case %d", id)
	}
	if err != nil {
		return risk.Case{}, nil, err
	}
	return c, alerts, nil
}

func writeCase(w http.ResponseWriter, c risk.Case, alerts []risk.Alert) {
	if alerts == nil {
		alerts = []risk.Alert{}
	}
	if len(alerts) > MaxCaseAlerts {
		alerts = alerts[:MaxCaseAlerts]
	}
	writeJSON(w, http.StatusOK, map[string]any{"case": c, "alerts": alerts})
}

func (s *Server) getCase(w http.ResponseWriter, r *http.Request) error {
	c, alerts, err := s.visibleCase(r)
	if err != nil {
		return err
	}
	writeCase(w, c, alerts)
	return nil
}

// resolveCase answers POST /v1/risk/cases/{id}/resolve: admin, or an
// operator whose scope holds the case; a holder may not judge its own case.
func (s *Server) resolveCase(w http.ResponseWriter, r *http.Request) error {
	var b struct {
		State  string `json:"state"`
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	p := principalOf(r.Context())
	if p.Role == RoleHolder {
		return forbidden("a holder key may read its cases but not resolve them: admin or the operator of the holder's institution")
	}
	c, _, err := s.visibleCase(r)
	if err != nil {
		return err
	}
	state := risk.CaseState(b.State)
	reason := strings.TrimSpace(b.Reason)
	switch state {
	case risk.CaseReviewing:
		if reason == "" {
			reason = "taken into review with key " + p.KeyID
		}
	case risk.CaseConfirmed, risk.CaseDismissed:
		if reason == "" {
			return invalid("reason", "reason is required to %s a case: say why", strings.TrimSuffix(b.State, "ed"))
		}
	default:
		return invalid("state", "state %s is not one of reviewing, confirmed, dismissed", quote(b.State))
	}
	if len(reason) > risk.MaxReasonLen {
		return invalid("reason", "reason is %d bytes, more than %d", len(reason), risk.MaxReasonLen)
	}
	err = s.cfg.Cases.Resolve(context.WithoutCancel(r.Context()), c.ID, state, reason, s.cfg.Clock.Now())
	switch {
	case errors.Is(err, risk.ErrCaseNotFound):
		return notFound("no risk case %d", c.ID)
	case errors.Is(err, risk.ErrBadTransition):
		return conflict("case %d is %s and cannot become %s (open → reviewing → confirmed | dismissed)", c.ID, c.State, state)
	case errors.Is(err, risk.ErrReasonRequired):
		return invalid("reason", "reason is required (1 to %d bytes)", risk.MaxReasonLen)
	case err != nil:
		return err
	}
	s.log.Info("risk case resolved", "case", c.ID, "state", string(state), "key_id", p.KeyID)
	c, alerts, err := s.cfg.Cases.Case(r.Context(), c.ID)
	if err != nil {
		return err
	}
	writeCase(w, c, alerts)
	return nil
}

// getRiskRules answers GET /v1/risk/rules: the rules the server's risk
// engine runs, compiled (as paybridge risk rules prints their source), so
// that every decision and case can be read against them.
func (s *Server) getRiskRules(w http.ResponseWriter, r *http.Request) error {
	rs, src := s.cfg.RiskRules, s.cfg.RiskRulesSource
	if rs == nil {
		rs, src = risk.DefaultRules(), "bundled"
	}
	writeJSON(w, http.StatusOK, map[string]any{"risk": orDefault(s.cfg.RiskMode, "off"), "source": src, "rules": rs.Rules})
	return nil
}
