package payment

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/money"
)

// Holders added while the world runs.
//
// A holder added with AddHolder is one ledger commit: a HolderRecordKind
// record carrying the holder, its accounts and their opening transfers,
// all or none. The ledger is then the one place that knows the holder, so
// a crash leaves either the whole holder (record, accounts, money) or no
// trace of it, and New merges the records into the ecosystem on every
// start, before anything plans or pays. The executor publishes the grown
// ecosystem as a new value (ecosystem.WithHolders, copy on write) with an
// atomic store: readers never lock, and whatever snapshot one holds stays
// valid, since a later one differs only by holders added and accounts
// opened (ecosystem.WithAccounts: an added holder has the accounts opened
// for it, and the planner routes through those only).

const (
	// HolderRecordKind is the ledger record kind of a holder added at run
	// time (its data: the ecosystem.Holder as JSON).
	HolderRecordKind = "payment.holder"
	// MaxOpeningFen bounds one account's opening balance (100 million yuan).
	MaxOpeningFen = 10_000_000_000
	// MaxOpenings bounds the accounts one AddHolder or OpenAccounts opens.
	MaxOpenings = 64
)

// Errors of AddHolder and OpenAccounts (wrapped; test with errors.Is).
var (
	// ErrHolderExists: a holder with that id exists already.
	ErrHolderExists = errors.New("payment: holder exists")
	// ErrNoHolder: no holder has that id.
	ErrNoHolder = errors.New("payment: no such holder")
	// ErrAccountExists: the holder's account of that product is open already.
	ErrAccountExists = errors.New("payment: account is open already")
)

// Opening is an account to open: a product, and the balance it opens with
// (0: none), funded from the product's institution's external account as
// the ledger's seeding funds the ecosystem's holders.
type Opening struct {
	Product    string `json:"product"`
	OpeningFen int64  `json:"opening_balance_fen,omitempty"`
}

// Ecosystem returns the world the executor runs: the one it was created
// with, plus the holders added since (by AddHolder, and by earlier runs on
// the same ledger). The value is never modified: a holder added later
// makes a new one. Do not modify it.
func (x *Executor) Ecosystem() *ecosystem.Ecosystem { return x.eco.Load() }

// ecosystem is Ecosystem, for the executor's own lookups.
func (x *Executor) ecosystem() *ecosystem.Ecosystem { return x.eco.Load() }

// AddedHolders returns the holders added at run time (by this run or an
// earlier one on the same ledger), oldest first.
func (x *Executor) AddedHolders() []ecosystem.Holder {
	return slices.Clone(x.ecosystem().Holders[x.baseHolders:])
}

// AddHolder adds holder h and opens its accounts, in one ledger commit
// that carries the holder's record too; then the executor (and whatever
// reads its Ecosystem) sees the holder. Errors: *RequestError for a bad
// field of h (id, name, kind, kyc_level, default) or of an opening
// (accounts[i].product, accounts[i].opening_balance_fen); ErrHolderExists;
// ErrAccountExists; ErrReadOnly; a ledger error.
func (x *Executor) AddHolder(ctx context.Context, h ecosystem.Holder, opens []Opening) ([]ledger.Account, error) {
	if x.ro {
		return nil, ErrReadOnly
	}
	x.hmu.Lock()
	defer x.hmu.Unlock()
	eco := x.ecosystem()
	if _, ok := eco.Holder(h.ID); ok {
		return nil, fmt.Errorf("%w: %q", ErrHolderExists, h.ID)
	}
	if err := eco.CheckNewHolder(h); err != nil {
		var he *ecosystem.HolderError
		if errors.As(err, &he) {
			return nil, &RequestError{he.Field, he.Reason}
		}
		return nil, err
	}
	data, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	b, err := x.openBatch(eco, &h, opens)
	if err != nil {
		return nil, err
	}
	b.Records = []ledger.Record{{Kind: HolderRecordKind, Key: h.ID, Data: data}}
	if err := x.submitOpenings(ctx, b); err != nil {
		return nil, err
	}
	x.eco.Store(eco.WithHolders(ecosystem.AddedHolder{Holder: h, Products: productsOf(b)}))
	return x.accountsOf(b), nil
}

// OpenAccounts opens accounts of an existing holder (of the ecosystem
// file or added), in one ledger commit. Errors: *RequestError for a bad
// opening (accounts[i].product, accounts[i].opening_balance_fen);
// ErrNoHolder; ErrAccountExists; ErrReadOnly; a ledger error.
func (x *Executor) OpenAccounts(ctx context.Context, holder string, opens []Opening) ([]ledger.Account, error) {
	if x.ro {
		return nil, ErrReadOnly
	}
	x.hmu.Lock()
	defer x.hmu.Unlock()
	eco := x.ecosystem()
	h, ok := eco.Holder(holder)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoHolder, holder)
	}
	if len(opens) == 0 {
		return nil, &RequestError{"accounts", "name at least one product to open"}
	}
	b, err := x.openBatch(eco, h, opens)
	if err != nil {
		return nil, err
	}
	if err := x.submitOpenings(ctx, b); err != nil {
		return nil, err
	}
	// Routes through the new accounts exist now: publish them (the route
	// memo then forgets the routes chosen without them).
	x.eco.Store(eco.WithAccounts(h.ID, productsOf(b)...))
	return x.accountsOf(b), nil
}

// productsOf returns the products of the accounts a batch creates.
func productsOf(b *ledger.Batch) []string {
	out := make([]string, len(b.Accounts))
	for i, a := range b.Accounts {
		out[i] = a.Product
	}
	return out
}

// openBatch checks the openings for holder h and returns the batch that
// creates the accounts and funds them.
func (x *Executor) openBatch(eco *ecosystem.Ecosystem, h *ecosystem.Holder, opens []Opening) (*ledger.Batch, error) {
	if len(opens) > MaxOpenings {
		return nil, &RequestError{"accounts", fmt.Sprintf("%d accounts; at most %d at once", len(opens), MaxOpenings)}
	}
	b := &ledger.Batch{AllOrNone: true}
	seen := map[string]bool{}
	for i, o := range opens {
		field := fmt.Sprintf("accounts[%d].", i)
		p, err := openable(eco, h, o)
		if err != nil {
			err.Field = field + err.Field
			return nil, err
		}
		if seen[p.ID] {
			return nil, &RequestError{field + "product", fmt.Sprintf("%s is named twice", p.ID)}
		}
		seen[p.ID] = true
		a := holderAccount(h, p, eco.Currency)
		if _, open := x.led.Account(a.ID); open {
			return nil, fmt.Errorf("%w: %s's %s", ErrAccountExists, h.ID, p.ID)
		}
		b.Accounts = append(b.Accounts, a)
		if o.OpeningFen > 0 {
			b.Transfers = append(b.Transfers, openingTransfer(a, o.OpeningFen))
		}
	}
	return b, nil
}

// openable checks that holder h may open an account of o.Product with
// o.OpeningFen: the product's Holders and HolderKind rules (as the
// ledger's seeding applies them), a tier for h's KYC level, and an
// opening balance only on stored-value and deposit accounts, within
// MaxOpeningFen and the balance cap.
func openable(eco *ecosystem.Ecosystem, h *ecosystem.Holder, o Opening) (*ecosystem.Product, *RequestError) {
	if strings.TrimSpace(o.Product) == "" {
		return nil, &RequestError{"product", "is required (a product id such as alipay.balance)"}
	}
	p, ok := eco.Product(o.Product)
	if !ok {
		msg := fmt.Sprintf("unknown product %q", o.Product)
		if s := eco.Suggest(o.Product); len(s) > 0 {
			msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(s, " or "))
		}
		return nil, &RequestError{"product", msg}
	}
	if !holds(p, h) {
		why := fmt.Sprintf("for %s holders only", p.HolderKind)
		if len(p.Holders) > 0 {
			why = "for " + strings.Join(p.Holders, ", ") + " only"
		}
		return nil, &RequestError{"product", fmt.Sprintf("%s is %s; %s is a %s", p.ID, why, h.ID, h.Kind)}
	}
	tierCap := int64(0)
	if len(p.Tiers) > 0 {
		t := p.TierFor(h)
		if t == nil {
			return nil, &RequestError{"product", fmt.Sprintf("%s has no class for KYC level %d", p.ID, h.KYCLevel)}
		}
		tierCap = t.BalanceCapFen
	}
	switch {
	case o.OpeningFen < 0:
		return nil, &RequestError{"opening_balance_fen", "must not be negative"}
	case o.OpeningFen == 0:
	case !fundable(p):
		return nil, &RequestError{"opening_balance_fen", fmt.Sprintf("%s is a %s product: only stored-value and deposit accounts open with a balance", p.ID, p.Kind)}
	case o.OpeningFen > MaxOpeningFen:
		return nil, &RequestError{"opening_balance_fen", fmt.Sprintf("%d fen is more than %d (%s yuan)", o.OpeningFen, int64(MaxOpeningFen), money.FormatYuan(MaxOpeningFen))}
	case p.BalanceCapFen > 0 && o.OpeningFen > p.BalanceCapFen, tierCap > 0 && o.OpeningFen > tierCap:
		capFen := p.BalanceCapFen
		if tierCap > 0 && (capFen == 0 || tierCap < capFen) {
			capFen = tierCap
		}
		return nil, &RequestError{"opening_balance_fen", fmt.Sprintf("%d fen is over the %s account's balance cap of %d fen", o.OpeningFen, p.ID, capFen)}
	}
	return p, nil
}

// submitOpenings commits an opening batch.
func (x *Executor) submitOpenings(ctx context.Context, b *ledger.Batch) error {
	res, err := x.led.Submit(ctx, b)
	if err != nil {
		return fmt.Errorf("payment: open accounts: %w", err)
	}
	if res.Failure != nil {
		return fmt.Errorf("payment: open accounts: %s[%d]: %s", res.Failure.Part, res.Failure.Index, res.Failure.Code)
	}
	return nil
}

// accountsOf returns the accounts a committed batch created, as the ledger has them.
func (x *Executor) accountsOf(b *ledger.Batch) []ledger.Account {
	out := make([]ledger.Account, 0, len(b.Accounts))
	for _, a := range b.Accounts {
		if got, ok := x.led.Account(a.ID); ok {
			out = append(out, got)
		}
	}
	return out
}

// RecordSource reads a ledger's records: a *ledger.Engine, or a
// ledger.Store read without opening an engine on it.
type RecordSource interface {
	Records(ctx context.Context, kind string, after uint64, limit int) ([]ledger.Record, error)
}

// ReadHolders returns the holders added to a ledger (AddHolder's
// records), oldest first.
func ReadHolders(ctx context.Context, src RecordSource) ([]ecosystem.Holder, error) {
	var out []ecosystem.Holder
	var after uint64
	for {
		recs, err := src.Records(ctx, HolderRecordKind, after, ledger.MaxHistoryPage)
		if err != nil {
			return nil, fmt.Errorf("payment: read holders: %w", err)
		}
		for _, r := range recs {
			var h ecosystem.Holder
			if err := json.Unmarshal(r.Data, &h); err != nil {
				return nil, fmt.Errorf("payment: holder record %d: %w", r.Seq, err)
			}
			out = append(out, h)
		}
		if len(recs) < ledger.MaxHistoryPage {
			return out, nil
		}
		after = recs[len(recs)-1].Seq
	}
}

// loadHolders merges the holders recorded in the ledger into the
// executor's ecosystem, each with the accounts the ledger has for it. A recorded holder the ecosystem file now defines
// too is the file's, if it is the same kind of holder; another kind is an
// error (the accounts were opened for the recorded one).
func (x *Executor) loadHolders(ctx context.Context) error {
	eco := x.ecosystem()
	hs, err := ReadHolders(ctx, x.led)
	if err != nil {
		return err
	}
	var added []ecosystem.AddedHolder
	seen := map[string]bool{}
	for _, h := range hs {
		if file, ok := eco.Holder(h.ID); ok {
			if file.Kind != h.Kind {
				return fmt.Errorf("%w: holder %q was added as a %s, and ecosystem %s defines it as a %s", ErrOtherEcosystem, h.ID, h.Kind, eco.ID, file.Kind)
			}
			continue
		}
		if seen[h.ID] {
			continue // AddHolder never records a holder twice; a replayed record is harmless
		}
		seen[h.ID] = true
		a := ecosystem.AddedHolder{Holder: h}
		for _, pid := range eco.ProductIDs() { // the accounts opened for it, with it or after
			if _, ok := x.led.Account(HolderAccount(h.ID, pid)); ok {
				a.Products = append(a.Products, pid)
			}
		}
		added = append(added, a)
	}
	if len(added) > 0 {
		x.eco.Store(eco.WithHolders(added...))
	}
	return nil
}
