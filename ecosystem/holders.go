package ecosystem

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of a holder added to a running world (AddHolder's checks).
const (
	// MaxHolderIDLength is the longest id of a holder added at run time: the
	// ledger's limit on an account's holder name (ledger.MaxNameLen).
	MaxHolderIDLength = 64
	// MaxHolderNameLength is the longest name of a holder added at run time, in bytes.
	MaxHolderNameLength = 200
)

// HolderError is a field of a holder to be added that is wrong, and why.
type HolderError struct {
	Field  string // id, name, kind, kyc_level, default
	Reason string
}

func (e *HolderError) Error() string { return e.Field + ": " + e.Reason }

func holderErr(field, format string, args ...any) *HolderError {
	return &HolderError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// CheckNewHolder checks a holder to be added to e: its id (letters, digits,
// '_' and '-', at most MaxHolderIDLength bytes, not a holder's or an
// institution's id already), name, kind and KYC level. A holder added at
// run time is never the default one. It returns a *HolderError or nil.
func (e *Ecosystem) CheckNewHolder(h Holder) error {
	switch {
	case h.ID == "":
		return holderErr("id", "is required")
	case len(h.ID) > MaxHolderIDLength:
		return holderErr("id", "is %d bytes long; the limit is %d", len(h.ID), MaxHolderIDLength)
	case !isIdent(h.ID):
		return holderErr("id", "%q may contain only letters, digits, '_' and '-'", h.ID)
	}
	if _, ok := e.Institution(h.ID); ok {
		return holderErr("id", "%q is an institution's id; choose another", h.ID)
	}
	switch {
	case strings.TrimSpace(h.Name) == "":
		return holderErr("name", "is required")
	case len(h.Name) > MaxHolderNameLength:
		return holderErr("name", "is %d bytes long; the limit is %d", len(h.Name), MaxHolderNameLength)
	case !utf8.ValidString(h.Name):
		return holderErr("name", "is not valid UTF-8")
	}
	if !slices.Contains(HolderKinds, h.Kind) {
		return holderErr("kind", "%q is not one of %s", h.Kind, strings.Join(HolderKinds, ", "))
	}
	if h.KYCLevel < 0 || h.KYCLevel > MaxKYCLevel {
		return holderErr("kyc_level", "%d must be between 0 and %d", h.KYCLevel, MaxKYCLevel)
	}
	if h.Default {
		return holderErr("default", "a holder added at run time cannot be the default holder")
	}
	return nil
}

// AddedHolder is a holder added at run time and the products it has
// accounts of.
type AddedHolder struct {
	Holder
	Products []string
}

// productSet is an immutable set of product ids.
type productSet struct{ ids []string }

func (ps *productSet) has(id string) bool { return slices.Contains(ps.ids, id) }

// WithHolders returns a copy of e with hs appended to its holders, each
// having accounts of its Products only. The copy shares every other list
// with e (copy on write): e itself is not changed, so goroutines still
// reading it are unaffected, and the copy is what a caller publishes
// (atomically) as the new world. The caller checks hs (CheckNewHolder and
// no duplicates) first.
func (e *Ecosystem) WithHolders(hs ...AddedHolder) *Ecosystem {
	c := e.clone()
	c.Holders = slices.Clip(slices.Clone(e.Holders))
	for _, h := range hs {
		c.Holders = append(c.Holders, h.Holder)
		c.opened[h.ID] = &productSet{ids: slices.Clone(h.Products)}
	}
	c.Reindex()
	return c
}

// WithAccounts returns a copy of e in which holder, added at run time,
// has accounts of products too (copy on write, as WithHolders). For a
// holder of the ecosystem file, which has every account the rules allow,
// it returns e.
func (e *Ecosystem) WithAccounts(holder string, products ...string) *Ecosystem {
	ps, ok := e.opened[holder]
	if !ok {
		return e
	}
	c := e.clone()
	ids := slices.Clone(ps.ids)
	for _, p := range products {
		if !slices.Contains(ids, p) {
			ids = append(ids, p)
		}
	}
	c.opened[holder] = &productSet{ids: ids}
	c.Reindex()
	return c
}

// clone is a shallow copy of e with its own opened map and no index.
func (e *Ecosystem) clone() *Ecosystem {
	indexMu.Lock() // lookup() may be filling e.idx while we copy e
	c := *e
	indexMu.Unlock()
	c.idx = nil
	c.opened = make(map[string]*productSet, len(e.opened)+1)
	for id, ps := range e.opened {
		c.opened[id] = ps
	}
	return &c
}

// HasAccountOf reports whether the world gives holder an account of
// product, as far as which accounts were opened goes: for a holder added
// at run time, the products opened for it; for a holder of the ecosystem
// file, every product (the ledger's seeding opens every account the
// rules allow: a product's holders, holder_kind and tiers, which the
// caller checks).
func (e *Ecosystem) HasAccountOf(holder, product string) bool {
	ps, ok := e.opened[holder]
	return !ok || ps.has(product)
}

// HoldersAddedTo reports whether e is base with holders added by
// WithHolders (any number of times) and no account opened since for
// base's holders: the same model — institutions, products, channels,
// rules and calibration, shared with base, and the same id, currency and
// timezone — and base's holders, with the same accounts, as a prefix of
// e's. A planner's memos over base stay right for e then: a plan depends
// on the two holders of its query, never on the others.
func (e *Ecosystem) HoldersAddedTo(base *Ecosystem) bool {
	if e == base {
		return true
	}
	if e == nil || base == nil || e.ID != base.ID || e.Currency != base.Currency || e.Timezone != base.Timezone ||
		e.Name != base.Name || e.Description != base.Description {
		return false
	}
	if !sameArray(e.Institutions, base.Institutions) || !sameArray(e.Products, base.Products) ||
		!sameArray(e.Channels, base.Channels) || !sameArray(e.Rules, base.Rules) || !sameArray(e.Calibration, base.Calibration) {
		return false
	}
	for id, ps := range base.opened {
		if e.opened[id] != ps {
			return false
		}
	}
	return len(e.Holders) >= len(base.Holders) && slices.Equal(e.Holders[:len(base.Holders)], base.Holders)
}

// sameArray reports whether a and b are the same slice of one array.
func sameArray[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
