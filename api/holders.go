package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/route"
)

// Holders created while the server runs.
//
// POST /v1/holders and POST /v1/holders/{id}/accounts go through
// payment.Executor.AddHolder and OpenAccounts: one ledger commit carries
// the holder's record, its accounts and their opening money, and the
// executor then publishes a grown ecosystem value. Every handler reads the
// world through eco() (an atomic load), and plans through routePlanner(),
// a planner over that world that keeps the memos of the one before.
//
// Who may create: an admin, anything. An operator creates holders and
// opens accounts at its own institution only — a holder together with at
// least one account there (a bank onboarding its customer), and accounts
// of its own products for any holder; the opening balance is then its own
// institution's issuance. Holder and auditor keys may not.

// eco returns the world the server runs now: the executor's, with the
// holders added so far. The value never changes; a holder added later
// makes a new one.
func (s *Server) eco() *ecosystem.Ecosystem { return s.cfg.Executor.Ecosystem() }

// routePlanner returns the memoised planner over eco(). When holders were
// added since the last one was made, it makes one over the new world that
// shares the memos (route.Planner.WithEcosystem) and keeps it.
func (s *Server) routePlanner() *route.Planner {
	pl := s.planner.Load()
	eco := s.eco() // loaded after pl: never older than pl's world
	if pl.Ecosystem() == eco {
		return pl
	}
	next := pl.WithEcosystem(eco)
	s.planner.CompareAndSwap(pl, next) // a lost race leaves another planner over eco or a newer world
	return next
}

type holderBody struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	KYCLevel int               `json:"kyc_level"`
	Accounts []payment.Opening `json:"accounts"`
}

// holderView is a created holder with the accounts opened with it.
type holderView struct {
	ecosystem.Holder
	Accounts []accountView `json:"accounts"`
}

func (s *Server) createHolder(w http.ResponseWriter, r *http.Request) error {
	var b holderBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	p := principalOf(r.Context())
	switch p.Role {
	case RoleAdmin:
	case RoleOperator:
		if len(b.Accounts) == 0 {
			return forbidden("an operator creates a holder only together with accounts at its own institution (%s): give accounts", p.Institution)
		}
		for _, o := range b.Accounts {
			if err := s.operatorOpens(p, o.Product); err != nil {
				return err
			}
		}
	default:
		return forbidden("creating holders needs an admin key, or an operator key with accounts at its institution; this key's role is %s", p.Role)
	}
	h := ecosystem.Holder{ID: b.ID, Name: b.Name, Kind: b.Kind, KYCLevel: b.KYCLevel}
	accs, err := s.cfg.Executor.AddHolder(context.WithoutCancel(r.Context()), h, b.Accounts)
	if err != nil {
		return holderError(err, "")
	}
	v := holderView{Holder: h, Accounts: viewAccounts(accs)}
	w.Header().Set("Location", "/v1/holders/"+h.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

type openBody struct {
	Product    string `json:"product"`
	OpeningFen int64  `json:"opening_balance_fen"`
}

func (s *Server) openAccount(w http.ResponseWriter, r *http.Request) error {
	var b openBody
	if err := decode(w, r, &b, false); err != nil {
		return err
	}
	p := principalOf(r.Context())
	switch p.Role {
	case RoleAdmin:
	case RoleOperator:
		if err := s.operatorOpens(p, b.Product); err != nil {
			return err
		}
	default:
		return forbidden("opening accounts needs an admin key, or an operator key for its institution's products; this key's role is %s", p.Role)
	}
	id := r.PathValue("id")
	accs, err := s.cfg.Executor.OpenAccounts(context.WithoutCancel(r.Context()), id, []payment.Opening{{Product: b.Product, OpeningFen: b.OpeningFen}})
	if err != nil {
		return holderError(err, "accounts[0].")
	}
	if len(accs) != 1 {
		return errors.New("opened an account the ledger does not show") // a bug: logged as a 500
	}
	w.Header().Set("Location", "/v1/accounts/"+id+"/"+b.Product)
	writeJSON(w, http.StatusCreated, viewAccount(accs[0]))
	return nil
}

// operatorOpens refuses an operator a product of another institution (an
// unknown product is left to the executor's 400).
func (s *Server) operatorOpens(p Principal, product string) error {
	if pr, ok := s.eco().Product(product); ok && pr.Institution != p.Institution {
		return forbidden("an operator of %s opens accounts of its own products only, not %s", p.Institution, quote(product))
	}
	return nil
}

// holderError maps AddHolder's and OpenAccounts' errors; trim is cut from
// the front of a field name (a single account's body has no accounts list).
func holderError(err error, trim string) error {
	var re *payment.RequestError
	switch {
	case errors.As(err, &re):
		field := strings.TrimPrefix(re.Field, trim)
		return invalid(field, "%s: %s", field, re.Reason)
	case errors.Is(err, payment.ErrHolderExists), errors.Is(err, payment.ErrAccountExists):
		return conflict("%s", strings.TrimPrefix(err.Error(), "payment: "))
	case errors.Is(err, payment.ErrNoHolder):
		return notFound("%s", strings.TrimPrefix(err.Error(), "payment: "))
	case errors.Is(err, payment.ErrReadOnly):
		return unavailable("this server's ledger is read-only")
	}
	return err
}

func viewAccounts(as []ledger.Account) []accountView {
	out := make([]accountView, len(as))
	for i, a := range as {
		out[i] = viewAccount(a)
	}
	return out
}
