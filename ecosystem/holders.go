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

// WithHolders returns a copy of e with hs appended to its holders. The copy
// shares every other list with e (copy on write): e itself is not changed,
// so goroutines still reading it are unaffected, and the copy is what a
// caller publishes (atomically) as the new world. The caller checks hs
// (CheckNewHolder and no duplicates) first.
func (e *Ecosystem) WithHolders(hs ...Holder) *Ecosystem {
	indexMu.Lock() // lookup() may be filling e.idx while we copy e
	c := *e
	indexMu.Unlock()
	c.Holders = append(slices.Clip(slices.Clone(e.Holders)), hs...)
	c.idx = nil
	c.Reindex()
	return &c
}

// HoldersAddedTo reports whether e is base with holders added by
// WithHolders (any number of times): the same model — institutions,
// products, channels, rules and calibration, shared with base, and the
// same id, currency and timezone — and base's holders as a prefix of e's.
// A planner's memos over base stay right for e then: a plan depends on the
// two holders of its query, never on the others.
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
	return len(e.Holders) >= len(base.Holders) && slices.Equal(e.Holders[:len(base.Holders)], base.Holders)
}

// sameArray reports whether a and b are the same slice of one array.
func sameArray[T any](a, b []T) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}
