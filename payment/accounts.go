package payment

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ledger"
)

// Transfer codes (ledger.Transfer.Code) the executor uses.
const (
	CodeOpening    = 1 // opening balance from an institution's external account
	CodePrincipal  = 2 // the holder's money moving along a hop
	CodeFee        = 3 // the operator's fee
	CodeSettlement = 4 // rebalancing two institutions' books through a clearing house
	CodeClearing   = 5 // the clearing house's record of it (member positions)
	CodeReversal   = 6 // compensation: money going back towards the origin
)

// Bilateral is the clearing layer named for hops between two institutions
// whose channel names no clearing house (Via empty).
const Bilateral = "bilateral"

// Product names of the institutions' own accounts.
const (
	productFee      = "fee_income"
	productExternal = "external"
	productMember   = "member"
	prefixClearing  = "clearing."
)

// accountID maps an account's key to its ledger id: FNV-1a 64 with the top
// two bits cleared and bit 61 set, so it is never 0 and stable across runs.
func accountID(key string) ledger.AccountID {
	h := fnv.New64a()
	h.Write([]byte(key))
	return ledger.AccountID(h.Sum64()&(1<<61-1) | 1<<61)
}

// HolderAccount is the ledger id of holder's account of product.
func HolderAccount(holder, product string) ledger.AccountID {
	return accountID("h/" + holder + "/" + product)
}

// FeeAccount is the ledger id of an institution's fee income account.
func FeeAccount(inst string) ledger.AccountID { return accountID("fee/" + inst) }

// ExternalAccount is the ledger id of an institution's external (issuance)
// account: it funds opening balances and has no floor.
func ExternalAccount(inst string) ledger.AccountID { return accountID("ext/" + inst) }

// ClearingAccount is the ledger id of inst's position at clearing house
// house, on inst's own books.
func ClearingAccount(inst, house string) ledger.AccountID {
	return accountID("clr/" + inst + "/" + house)
}

// MemberAccount is the ledger id of member's position on clearing house
// house's books: always the negation of ClearingAccount(member, house).
func MemberAccount(house, member string) ledger.AccountID {
	return accountID("mem/" + house + "/" + member)
}

// holds reports whether holder may hold product.
func holds(p *ecosystem.Product, h *ecosystem.Holder) bool {
	if len(p.Holders) > 0 {
		return slices.Contains(p.Holders, h.ID)
	}
	return p.HolderKind == "" || p.HolderKind == h.Kind
}

// holderAccount is holder h's account of product p: credit lines have
// their floor at −limit, external products (cash) none.
func holderAccount(h *ecosystem.Holder, p *ecosystem.Product, cur string) ledger.Account {
	a := ledger.Account{ID: HolderAccount(h.ID, p.ID), Holder: h.ID, Institution: p.Institution, Product: p.ID, Currency: cur}
	switch p.Kind {
	case ecosystem.ProductCredit:
		a.FloorFen = -p.CreditLimitFen
	case ecosystem.ProductExternal:
		a.Flags = ledger.AccountNoFloor
	}
	return a
}

// fundable reports whether an account of p may get an opening balance:
// stored-value and deposit products (not credit lines, receivables or cash).
func fundable(p *ecosystem.Product) bool {
	return p.Kind == ecosystem.ProductStoredValue || p.Kind == ecosystem.ProductDeposit
}

// openingTransfer funds account a with amountFen from its institution's
// external (issuance) account, so the books stay balanced: the institution
// owes the holder what it issued. Its id is derived from the account's, so
// an account has at most one opening and replaying it is harmless.
func openingTransfer(a ledger.Account, amountFen int64) ledger.Transfer {
	return ledger.Transfer{ID: ledger.TransferID(1<<63 | uint64(a.ID)), DebitAccount: ExternalAccount(a.Institution),
		CreditAccount: a.ID, AmountFen: amountFen, Currency: a.Currency, Code: CodeOpening}
}

// clearingHouses returns the clearing layers hops may settle through: every
// institution a channel names in Via, and Bilateral.
func clearingHouses(eco *ecosystem.Ecosystem) []string {
	seen := map[string]bool{Bilateral: true}
	out := []string{Bilateral}
	for _, ch := range eco.Channels {
		for _, v := range ch.Via {
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// setupBatches returns the account creations and opening transfers that seed
// a fresh ledger for eco, in batches within the ledger's limits.
func setupBatches(eco *ecosystem.Ecosystem, openingFen int64) []*ledger.Batch {
	cur := eco.Currency
	var accs []ledger.Account
	var ts []ledger.Transfer
	houses := clearingHouses(eco)
	insts := make([]string, 0, len(eco.Institutions)+1)
	for _, in := range eco.Institutions {
		insts = append(insts, in.ID)
	}
	for _, inst := range insts {
		accs = append(accs,
			ledger.Account{ID: FeeAccount(inst), Holder: inst, Institution: inst, Product: productFee, Currency: cur},
			ledger.Account{ID: ExternalAccount(inst), Holder: inst, Institution: inst, Product: productExternal, Currency: cur, Flags: ledger.AccountNoFloor})
		for _, house := range houses {
			accs = append(accs,
				ledger.Account{ID: ClearingAccount(inst, house), Holder: inst, Institution: inst, Product: prefixClearing + house, Currency: cur, Flags: ledger.AccountNoFloor},
				ledger.Account{ID: MemberAccount(house, inst), Holder: inst, Institution: house, Product: productMember, Currency: cur, Flags: ledger.AccountNoFloor})
		}
	}
	for i := range eco.Holders {
		h := &eco.Holders[i]
		for j := range eco.Products {
			p := &eco.Products[j]
			if !holds(p, h) {
				continue
			}
			a := holderAccount(h, p, cur)
			accs = append(accs, a)
			if h.Kind == ecosystem.HolderPerson && fundable(p) && openingFen > 0 {
				ts = append(ts, openingTransfer(a, openingFen))
			}
		}
	}
	var out []*ledger.Batch
	for len(accs) > 0 {
		n := min(len(accs), ledger.MaxBatchAccounts)
		out = append(out, &ledger.Batch{Accounts: accs[:n], AllOrNone: true})
		accs = accs[n:]
	}
	for len(ts) > 0 {
		n := min(len(ts), ledger.MaxBatchTransfers)
		out = append(out, &ledger.Batch{Transfers: ts[:n], AllOrNone: true})
		ts = ts[n:]
	}
	if len(out) == 0 {
		out = append(out, &ledger.Batch{AllOrNone: true})
	}
	last := out[len(out)-1]
	last.Records = append(last.Records, ledger.Record{Kind: SetupKind, Key: eco.ID, Data: fmt.Appendf(nil, `{"opening_fen":%d}`, openingFen)})
	return out
}

// setup seeds the ledger once: every account the payments may touch and
// the opening balances. Re-running it after a crash between batches is
// safe: accounts and transfers with the same ids and fields are replays.
// checkSeeded returns nil when the ledger was seeded for eco's payments,
// ErrNotSeeded when it never was, ErrOtherEcosystem for another world.
func checkSeeded(ctx context.Context, led *ledger.Engine, eco *ecosystem.Ecosystem) error {
	recs, err := led.Records(ctx, SetupKind, 0, 1)
	switch {
	case err != nil:
		return fmt.Errorf("payment: read setup record: %w", err)
	case len(recs) == 0:
		return ErrNotSeeded
	case recs[0].Key != eco.ID:
		return fmt.Errorf("%w: the ledger was seeded for ecosystem %q, not %q", ErrOtherEcosystem, recs[0].Key, eco.ID)
	}
	return nil
}

func setup(ctx context.Context, led *ledger.Engine, eco *ecosystem.Ecosystem, openingFen int64) error {
	recs, err := led.Records(ctx, SetupKind, 0, 1)
	if err != nil {
		return fmt.Errorf("payment: read setup record: %w", err)
	}
	if len(recs) > 0 {
		if recs[0].Key != eco.ID {
			return fmt.Errorf("%w: the ledger was seeded for ecosystem %q, not %q", ErrOtherEcosystem, recs[0].Key, eco.ID)
		}
		return nil
	}
	for _, b := range setupBatches(eco, openingFen) {
		res, err := led.Submit(ctx, b)
		if err != nil {
			return fmt.Errorf("payment: seed accounts: %w", err)
		}
		if res.Failure != nil {
			return fmt.Errorf("payment: seed accounts: %s[%d]: %s (a ledger made for another ecosystem or opening balance?)", res.Failure.Part, res.Failure.Index, res.Failure.Code)
		}
	}
	return nil
}
