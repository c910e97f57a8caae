package risk

import (
	"errors"
	"fmt"
	"time"
)

// Kind is what a transaction does with the money.
type Kind string

// Transaction kinds understood by the engine. Loaders map their formats onto these.
const (
	KindPay      Kind = "pay"      // payment to a merchant
	KindTransfer Kind = "transfer" // account-to-account transfer
	KindCashOut  Kind = "cash_out" // money leaves to cash or to a cash-withdrawable store
	KindTopUp    Kind = "top_up"   // money enters a wallet (cash-in, top-up)
	KindWithdraw Kind = "withdraw" // withdrawal to a bank account
	KindInternal Kind = "internal" // movement inside one holder (reinvestment, own accounts)
)

var validKinds = map[Kind]bool{KindPay: true, KindTransfer: true, KindCashOut: true, KindTopUp: true, KindWithdraw: true, KindInternal: true}

// MaxCreditShareBps is a credit share of 100% in basis points.
const MaxCreditShareBps = 10000

// Event is one transaction as the risk engine sees it: from the payments
// outbox inside paybridge or from a labelled data set.
type Event struct {
	Time        time.Time `json:"time"`
	ID          string    `json:"id"`
	FromAccount string    `json:"from_account"`
	ToAccount   string    `json:"to_account"`
	// FromHolder and ToHolder are the real-name holders behind the accounts.
	// Empty means "unknown": the engine then uses the account as its own holder.
	FromHolder string `json:"from_holder,omitempty"`
	ToHolder   string `json:"to_holder,omitempty"`
	// AmountMinor is the amount paid, in minor units of Currency (fen for CNY).
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	// ReceivedMinor and ReceivedCurrency are what the receiver got when it
	// differs (cross-currency); zero means "same as paid".
	ReceivedMinor    int64  `json:"received_minor,omitempty"`
	ReceivedCurrency string `json:"received_currency,omitempty"`
	Kind             Kind   `json:"kind"`
	// CreditShareBps is the credit-derived share of the money moved, 0..10000.
	CreditShareBps int64 `json:"credit_share_bps,omitempty"`
	// Labels are ground truth for evaluation only. The engine never reads them.
	Labels *Labels `json:"labels,omitempty"`
}

// Labels are the evaluation answer key attached to an event by a loader.
type Labels struct {
	Fraud bool `json:"fraud"`
	// Pattern is the pattern family the answer key gives (IBM patterns file), if any.
	Pattern string `json:"pattern,omitempty"`
	// PatternID identifies the labelled pattern instance, if any.
	PatternID string `json:"pattern_id,omitempty"`
}

// Limits on event fields.
const (
	MaxIDLen       = 256
	MaxCurrencyLen = 32
)

// ErrInvalidEvent is wrapped by every Event.Validate error.
var ErrInvalidEvent = errors.New("invalid event")

// Validate reports the first problem with e, naming the field.
func (e *Event) Validate() error {
	bad := func(field, reason string) error { return fmt.Errorf("%w: %s: %s", ErrInvalidEvent, field, reason) }
	switch {
	case e.Time.IsZero():
		return bad("time", "is missing")
	case e.ID == "":
		return bad("id", "is empty")
	case len(e.ID) > MaxIDLen:
		return bad("id", fmt.Sprintf("is longer than %d bytes", MaxIDLen))
	case e.FromAccount == "":
		return bad("from_account", "is empty")
	case e.ToAccount == "":
		return bad("to_account", "is empty")
	case len(e.FromAccount) > MaxIDLen || len(e.ToAccount) > MaxIDLen || len(e.FromHolder) > MaxIDLen || len(e.ToHolder) > MaxIDLen:
		return bad("account", fmt.Sprintf("account and holder ids are at most %d bytes", MaxIDLen))
	case e.AmountMinor < 0:
		return bad("amount_minor", "is negative")
	case e.ReceivedMinor < 0:
		return bad("received_minor", "is negative")
	case e.Currency == "":
		return bad("currency", "is empty")
	case len(e.Currency) > MaxCurrencyLen || len(e.ReceivedCurrency) > MaxCurrencyLen:
		return bad("currency", fmt.Sprintf("is longer than %d bytes", MaxCurrencyLen))
	case !validKinds[e.Kind]:
		return bad("kind", fmt.Sprintf("%q is not one of pay, transfer, cash_out, top_up, withdraw, internal", e.Kind))
	case e.CreditShareBps < 0 || e.CreditShareBps > MaxCreditShareBps:
		return bad("credit_share_bps", "must be between 0 and 10000")
	}
	return nil
}

// fromHolder is the sending holder: the holder if known, else the account.
func (e *Event) fromHolder() string {
	if e.FromHolder != "" {
		return e.FromHolder
	}
	return e.FromAccount
}

// toHolder is the receiving holder: the holder if known, else the account.
func (e *Event) toHolder() string {
	if e.ToHolder != "" {
		return e.ToHolder
	}
	return e.ToAccount
}
