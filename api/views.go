package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/route"
)

// eventView is an event in a payment's timeline (the shape of
// `paybridge pay --json`).
type eventView struct {
	At          string              `json:"at"`
	Type        string              `json:"type"`
	Hop         int                 `json:"hop"`
	TransferIDs []ledger.TransferID `json:"transfer_ids"`
	Reason      string              `json:"reason,omitempty"`
	AmountFen   int64               `json:"amount_fen,omitempty"`
	FeeFen      int64               `json:"fee_fen,omitempty"`
	Due         string              `json:"due,omitempty"`
}

// paymentView is a payment as the API and `paybridge pay --json` show it.
type paymentView struct {
	ID           string      `json:"id"`
	State        string      `json:"state"`
	Reason       string      `json:"reason,omitempty"`
	From         string      `json:"from"`
	To           string      `json:"to"`
	FromHolder   string      `json:"from_holder"`
	ToHolder     string      `json:"to_holder"`
	AmountFen    int64       `json:"amount_fen"`
	Seed         uint64      `json:"seed"`
	OnFailure    string      `json:"on_failure"`
	Key          string      `json:"idempotency_key,omitempty"`
	Route        routeView   `json:"route"`
	Events       []eventView `json:"events"`
	DeliveredFen int64       `json:"delivered_fen"`
	FeeFen       int64       `json:"fee_fen"`
	RefundedFen  int64       `json:"refunded_fen"`
	Due          string      `json:"due,omitempty"`
}

// routeView is a payment's route in a view: encoded from the executor's
// memoised JSON when it has it (the same bytes encoding/json gives), so a
// response does not encode the route by reflection each time.
type routeView struct {
	*route.Route
	js json.RawMessage
}

func (r routeView) MarshalJSON() ([]byte, error) {
	switch {
	case r.Route == nil:
		return []byte("null"), nil
	case r.js != nil:
		return r.js, nil
	}
	return json.Marshal(r.Route)
}

func (r *routeView) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &r.Route) }

// paymentHead and paymentTail are a paymentView's fields before and after
// the route, in its order.
type paymentHead struct {
	ID         string `json:"id"`
	State      string `json:"state"`
	Reason     string `json:"reason,omitempty"`
	From       string `json:"from"`
	To         string `json:"to"`
	FromHolder string `json:"from_holder"`
	ToHolder   string `json:"to_holder"`
	AmountFen  int64  `json:"amount_fen"`
	Seed       uint64 `json:"seed"`
	OnFailure  string `json:"on_failure"`
	Key        string `json:"idempotency_key,omitempty"`
}

type paymentTail struct {
	Events       []eventView `json:"events"`
	DeliveredFen int64       `json:"delivered_fen"`
	FeeFen       int64       `json:"fee_fen"`
	RefundedFen  int64       `json:"refunded_fen"`
	Due          string      `json:"due,omitempty"`
}

// writePaymentView writes v as writeJSON would, with the same bytes, but
// splices the route's memoised JSON in instead of having encoding/json
// re-scan it (the route is most of a payment's bytes).
func writePaymentView(w http.ResponseWriter, status int, v paymentView) {
	if v.Route.js == nil {
		writeJSON(w, status, v)
		return
	}
	head, err1 := json.Marshal(paymentHead{v.ID, v.State, v.Reason, v.From, v.To, v.FromHolder, v.ToHolder, v.AmountFen, v.Seed, v.OnFailure, v.Key})
	tail, err2 := json.Marshal(paymentTail{v.Events, v.DeliveredFen, v.FeeFen, v.RefundedFen, v.Due})
	if err1 != nil || err2 != nil {
		writeJSON(w, status, v)
		return
	}
	b := make([]byte, 0, len(head)+len(v.Route.js)+len(tail)+12)
	b = append(b, head[:len(head)-1]...)
	b = append(b, `,"route":`...)
	b = append(b, v.Route.js...)
	b = append(b, ',')
	b = append(b, tail[1:]...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func viewPayment(p *payment.Payment) paymentView {
	v := paymentView{ID: p.ID, State: p.State, Reason: p.Reason, From: p.Spec.From, To: p.Spec.To,
		FromHolder: p.Spec.FromHolder, ToHolder: p.Spec.ToHolder, AmountFen: p.Spec.AmountFen, Seed: p.Spec.Seed,
		OnFailure: p.Spec.OnFailure, Key: p.Spec.Key, Route: routeView{p.Spec.Route, p.Spec.RouteJSON()}, Events: make([]eventView, 0, len(p.Events)),
		DeliveredFen: p.DeliveredFen(), FeeFen: p.FeeFen(), RefundedFen: p.RefundedFen()}
	if d := p.Due(); !d.IsZero() {
		v.Due = d.Format(time.RFC3339Nano)
	}
	for _, e := range p.Events {
		ev := eventView{At: e.At.Format(time.RFC3339Nano), Type: e.Type, Hop: e.Hop, TransferIDs: e.TransferIDs,
			Reason: e.Reason, AmountFen: e.AmountFen, FeeFen: e.FeeFen}
		if ev.TransferIDs == nil {
			ev.TransferIDs = []ledger.TransferID{}
		}
		if e.Due != nil {
			ev.Due = e.Due.Format(time.RFC3339Nano)
		}
		v.Events = append(v.Events, ev)
	}
	return v
}

// refusingFindings are the findings that refused a payment's route.
func refusingFindings(p *payment.Payment) []compliance.Finding {
	out := []compliance.Finding{}
	if p.Spec.Route != nil {
		for _, f := range p.Spec.Route.Findings {
			if f.Effect == ecosystem.EffectRefuse {
				out = append(out, f)
			}
		}
	}
	return out
}

// accountView is a holder's account: its balance with provenance (how
// much of it is credit-derived).
type accountView struct {
	Holder            string `json:"holder"`
	Product           string `json:"product"`
	Institution       string `json:"institution"`
	Currency          string `json:"currency"`
	BalanceFen        int64  `json:"balance_fen"`
	AvailableFen      int64  `json:"available_fen"`
	DebitsPendingFen  int64  `json:"debits_pending_fen"`
	CreditsPendingFen int64  `json:"credits_pending_fen"`
	FloorFen          int64  `json:"floor_fen"`
	CreditShareFen    int64  `json:"credit_share_fen"`
	OwnFen            int64  `json:"own_fen"`
	Frozen            bool   `json:"frozen"`
	Closed            bool   `json:"closed"`
}

func viewAccount(a ledger.Account) accountView {
	v := accountView{Holder: a.Holder, Product: a.Product, Institution: a.Institution, Currency: a.Currency,
		BalanceFen: a.BalanceFen, DebitsPendingFen: a.DebitsPendingFen, CreditsPendingFen: a.CreditsPendingFen,
		FloorFen: a.FloorFen, CreditShareFen: a.CreditShareFen, Frozen: a.Flags&ledger.AccountFrozen != 0,
		Closed: a.Flags&ledger.AccountClosed != 0}
	v.AvailableFen = a.BalanceFen - a.DebitsPendingFen
	if a.Flags&ledger.AccountNoFloor == 0 {
		v.AvailableFen -= a.FloorFen
	}
	if a.BalanceFen > 0 {
		v.OwnFen = a.BalanceFen - a.CreditShareFen
	}
	return v
}
