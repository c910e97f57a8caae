package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecodiff"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/route"
	"github.com/paybridge/paybridge/store/audit"
)

// ---- keys: list and revoke ----

// KeyInfo is a key as GET /v1/keys lists it: never the key or its hash.
type KeyInfo struct {
	KeyID       string    `json:"key_id"`
	Role        string    `json:"role"`
	Institution string    `json:"institution,omitempty"`
	Holder      string    `json:"holder,omitempty"`
	Created     time.Time `json:"created"`
	Revoked     time.Time `json:"-"` // zero: active
}

// Errors a KeyAdmin returns (wrapped).
var (
	// ErrKeyNotFound: no active key has that id.
	ErrKeyNotFound = errors.New("api: no active key with that id")
	// ErrLastAdmin: the key is the last active admin key.
	ErrLastAdmin = errors.New("api: the last active admin key cannot be revoked")
)

// KeyAdmin lists and revokes API keys (GET /v1/keys, DELETE
// /v1/keys/{id}). The server finds it by type assertion on Config.Keys,
// then Config.Auth; without one those routes answer 503.
type KeyAdmin interface {
	// ListKeys returns every key, active and revoked, oldest first.
	ListKeys(ctx context.Context) ([]KeyInfo, error)
	// RevokeKey revokes an active key; it returns ErrKeyNotFound or
	// ErrLastAdmin (wrapped), checking and revoking atomically.
	RevokeKey(ctx context.Context, id string) error
}

// ListKeys implements KeyAdmin.
func (m *MemoryKeys) ListKeys(context.Context) ([]KeyInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]KeyInfo, 0, len(m.keys))
	for _, k := range m.keys {
		out = append(out, KeyInfo{KeyID: k.p.KeyID, Role: k.p.Role, Institution: k.p.Institution, Holder: k.p.Holder, Created: k.created, Revoked: k.revoked})
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].KeyID < out[j].KeyID
	})
	return out, nil
}

// RevokeKey implements KeyAdmin.
func (m *MemoryKeys) RevokeKey(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k, ok := m.keys[id]
	if !ok || !k.revoked.IsZero() {
		return ErrKeyNotFound
	}
	if k.p.Role == RoleAdmin {
		admins := 0
		for _, o := range m.keys {
			if o.p.Role == RoleAdmin && o.revoked.IsZero() {
				admins++
			}
		}
		if admins <= 1 {
			return ErrLastAdmin
		}
	}
	k.revoked = time.Now()
	m.keys[id] = k
	return nil
}

// keyAdmin returns the server's KeyAdmin, or nil.
func (s *Server) keyAdmin() KeyAdmin {
	for _, v := range []any{s.cfg.Keys, s.cfg.Auth} {
		if ka, ok := v.(KeyAdmin); ok {
			return ka
		}
	}
	return nil
}

// keyView is a key in GET /v1/keys: revoked is null for an active key.
type keyView struct {
	KeyInfo
	Revoked *string `json:"revoked"`
}

func viewKeyInfo(k KeyInfo) keyView {
	v := keyView{KeyInfo: k}
	v.Created = k.Created.UTC()
	if !k.Revoked.IsZero() {
		r := k.Revoked.UTC().Format(time.RFC3339Nano)
		v.Revoked = &r
	}
	return v
}

// listKeys answers GET /v1/keys: every key, oldest first, cursor-paged by key id.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	ka := s.keyAdmin()
	if ka == nil {
		return unavailable("this server cannot list keys")
	}
	limit, err := pageLimit(r)
	if err != nil {
		return err
	}
	qv := r.URL.Query()
	active := qv.Get("active")
	if active != "" && active != "true" && active != "false" {
		return invalid("active", "active=%s: must be true or false", quote(active))
	}
	keys, err := ka.ListKeys(r.Context())
	if err != nil {
		return err
	}
	start := 0
	if c := qv.Get("cursor"); c != "" {
		i := slices.IndexFunc(keys, func(k KeyInfo) bool { return k.KeyID == c })
		if i < 0 {
			return invalid("cursor", "cursor=%s: pass the next_cursor of the previous page", quote(c))
		}
		start = i + 1
	}
	out := []keyView{}
	next := ""
	for _, k := range keys[start:] {
		if active != "" && (active == "true") != k.Revoked.IsZero() {
			continue
		}
		if len(out) == limit {
			next = out[len(out)-1].KeyID
			break
		}
		out = append(out, viewKeyInfo(k))
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": out, "next_cursor": next})
	return nil
}

// revokeKey answers DELETE /v1/keys/{id}.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	ka := s.keyAdmin()
	if ka == nil {
		return unavailable("this server cannot revoke keys")
	}
	id := r.PathValue("id")
	switch err := ka.RevokeKey(r.Context(), id); {
	case errors.Is(err, ErrKeyNotFound):
		return notFound("no active key %s (GET /v1/keys lists them)", quote(id))
	case errors.Is(err, ErrLastAdmin):
		return conflict("key %s is the last active admin key: create another admin key (POST /v1/keys) before revoking it", id)
	case err != nil:
		return err
	}
	keys, err := ka.ListKeys(r.Context())
	if err != nil {
		return err
	}
	for _, k := range keys {
		if k.KeyID == id {
			writeJSON(w, http.StatusOK, viewKeyInfo(k))
			return nil
		}
	}
	return notFound("no key %s", quote(id))
}

// ---- ledger verify ----

// LedgerReport is what `paybridge ledger verify --json` reports, without
// the file name: the number of journal commits replayed, and the audit
// of every account and transfer (ok, violations).
type LedgerReport struct {
	Commits int `json:"commits"`
	audit.Report
}

// LedgerVerifier runs `paybridge ledger verify`'s checks over the server's
// ledger (POST /v1/ledger/verify). An error is a failure to read, not a
// violation: violations are in the report.
type LedgerVerifier func(ctx context.Context) (LedgerReport, error)

// adminState is the server's state for the endpoints of this file.
type adminState struct {
	verifying sync.Mutex // one verification at a time (TryLock)
	worlds    sync.Map   // bundled world name → *ecosystem.Ecosystem
}

func (s *Server) verifyLedger(w http.ResponseWriter, r *http.Request) error {
	if p := principalOf(r.Context()); !p.Everything() {
		return forbidden("verifying the ledger reads every account: admin or auditor only; role %s", p.Role)
	}
	if err := decode(w, r, &struct{}{}, true); err != nil {
		return err
	}
	if s.cfg.VerifyLedger == nil {
		return unavailable("this server cannot verify its ledger")
	}
	if !s.admin.verifying.TryLock() {
		w.Header().Set("Retry-After", "5")
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeOverloaded, Message: "a ledger verification is already running; retry when it ends"}
	}
	defer s.admin.verifying.Unlock()
	rep, err := s.cfg.VerifyLedger(r.Context())
	if err != nil {
		return err
	}
	if rep.Violations == nil {
		rep.Violations = []audit.Violation{}
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// ---- bundled worlds and their differences ----

func (s *Server) listEcosystems(w http.ResponseWriter, r *http.Request) error {
	infos := ecosystems.List()
	if infos == nil {
		infos = []ecosystems.Info{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ecosystems": infos, "default": ecosystems.Default, "serving": s.eco().ID})
	return nil
}

// world loads a bundled world once (they are embedded and never change).
func (s *Server) world(field, name string) (*ecosystem.Ecosystem, error) {
	if name == "" {
		return nil, invalid(field, "%s is required: a bundled world (GET /v1/ecosystems lists them)", field)
	}
	if v, ok := s.admin.worlds.Load(name); ok {
		return v.(*ecosystem.Ecosystem), nil
	}
	if !slices.Contains(ecosystems.Names(), name) {
		return nil, invalid(field, "%s=%s is not a bundled world: one of %s", field, quote(name), strings.Join(ecosystems.Names(), ", "))
	}
	eco, err := ecosystems.Load(name)
	if err != nil {
		return nil, err // embedded and tested: a bug
	}
	v, _ := s.admin.worlds.LoadOrStore(name, eco)
	return v.(*ecosystem.Ecosystem), nil
}

// diffQuery parses the optional query of GET /v1/ecosystems/diff: none when
// from, to and amount_fen are all absent.
func (s *Server) diffQuery(r *http.Request) (route.Query, bool, error) {
	qv := r.URL.Query()
	from, to, amount, toHolder, at := qv.Get("from"), qv.Get("to"), qv.Get("amount_fen"), qv.Get("to_holder"), qv.Get("at")
	if from == "" && to == "" && amount == "" {
		for _, f := range [][2]string{{"to_holder", toHolder}, {"at", at}} {
			if f[1] != "" {
				return route.Query{}, false, invalid(f[0], "%s needs a query: give from, to and amount_fen too", f[0])
			}
		}
		return route.Query{}, false, nil
	}
	if err := required([2]string{"from", from}, [2]string{"to", to}, [2]string{"amount_fen", amount}); err != nil {
		return route.Query{}, false, err
	}
	fen, err := strconv.ParseInt(amount, 10, 64)
	if err != nil || fen <= 0 {
		return route.Query{}, false, invalid("amount_fen", "amount_fen=%s: must be an integer more than 0 (fen: 100000 is 1,000 yuan)", quote(amount))
	}
	q := route.Query{From: from, To: to, AmountFen: fen, ToHolder: toHolder, Objective: route.ObjectiveBalanced,
		Policy: compliance.PolicyStrict, MaxHops: route.DefaultMaxHops, Seed: 1}
	if at != "" {
		if q.At, err = time.Parse(time.RFC3339, at); err != nil {
			return route.Query{}, false, invalid("at", "at=%s is not an RFC 3339 time such as 2023-05-05T10:00:00+08:00", quote(at))
		}
	} else {
		q.At = s.cfg.Clock.Now()
	}
	return q, true, nil
}

// planIn plans q in one world; a query that does not fit it is that
// world's error (and returned, for the 400 when it fits neither).
func planIn(eco *ecosystem.Ecosystem, q route.Query) (ecodiff.WorldPlan, error) {
	rules, err := compliance.NewChecker(eco.Rules, q.Policy)
	if err != nil {
		return ecodiff.WorldPlan{}, err
	}
	res, err := route.Plan(eco, q, rules)
	if err != nil {
		var qe *route.QueryError
		if errors.As(err, &qe) {
			return ecodiff.WorldPlan{Error: qe.Error()}, err
		}
		return ecodiff.WorldPlan{}, err
	}
	return ecodiff.WorldPlan{Result: res}, nil
}

func (s *Server) diffEcosystems(w http.ResponseWriter, r *http.Request) error {
	a, err := s.world("a", r.URL.Query().Get("a"))
	if err != nil {
		return err
	}
	b, err := s.world("b", r.URL.Query().Get("b"))
	if err != nil {
		return err
	}
	q, hasQuery, err := s.diffQuery(r)
	if err != nil {
		return err
	}
	d := ecodiff.Compare(a, b)
	out := d.Report()
	if hasQuery {
		pa, errA := planIn(a, q)
		pb, errB := planIn(b, q)
		if errA != nil && errB != nil {
			return queryError(errA)
		}
		for _, e := range []error{errA, errB} {
			var qe *route.QueryError
			if e != nil && !errors.As(e, &qe) {
				return e
			}
		}
		out.Routes = &ecodiff.Routes{A: pa, B: pb}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
