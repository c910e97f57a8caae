package money

import (
	"errors"
	"fmt"
	"math/bits"
)

// BasisPointsPerUnit is the number of basis points in 100%.
const BasisPointsPerUnit = 10_000

// FeeSchedule is how a channel charges for moving an amount: a rate in basis
// points of the amount beyond any remaining free quota, bounded below by MinFen
// and above by MaxFen (0 means no maximum). FixedFen is added to every charged
// transaction. Fees round up to the fen.
type FeeSchedule struct {
	RateBps      int64 `json:"rate_bps" yaml:"rate_bps"`
	MinFen       int64 `json:"min_fen,omitempty" yaml:"min_fen"`
	MaxFen       int64 `json:"max_fen,omitempty" yaml:"max_fen"`
	FixedFen     int64 `json:"fixed_fen,omitempty" yaml:"fixed_fen"`
	FreeQuotaFen int64 `json:"free_quota_fen,omitempty" yaml:"free_quota_fen"`
}

// Validate reports the first field that makes the schedule impossible.
func (s FeeSchedule) Validate() error {
	switch {
	case s.RateBps < 0:
		return fieldError("rate_bps", "must be ≥ 0")
	case s.RateBps > BasisPointsPerUnit:
		return fieldError("rate_bps", "must be ≤ 10000 (100%)")
	case s.MinFen < 0:
		return fieldError("min_fen", "must be ≥ 0")
	case s.MaxFen < 0:
		return fieldError("max_fen", "must be ≥ 0")
	case s.MaxFen > 0 && s.MaxFen < s.MinFen:
		return fieldError("max_fen", "must be ≥ min_fen when set")
	case s.FixedFen < 0:
		return fieldError("fixed_fen", "must be ≥ 0")
	case s.FreeQuotaFen < 0:
		return fieldError("free_quota_fen", "must be ≥ 0")
	}
	return nil
}

// FieldError names the field of a value that is invalid and why.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldError(field, reason string) error { return &FieldError{Field: field, Reason: reason} }

// ErrNegativeAmount is returned when a fee is asked for a negative amount.
var ErrNegativeAmount = errors.New("amount must be ≥ 0")

// Fee returns the fee for moving amountFen when freeQuotaLeftFen of the
// holder's free quota remains, and how much of that quota the movement uses.
// The free quota covers the first part of the amount; the rate applies to the
// rest, the minimum applies only when some part is charged.
func (s FeeSchedule) Fee(amountFen, freeQuotaLeftFen int64) (feeFen, quotaUsedFen int64, err error) {
	if amountFen < 0 {
		return 0, 0, fmt.Errorf("fee of %d fen: %w", amountFen, ErrNegativeAmount)
	}
	if freeQuotaLeftFen < 0 {
		freeQuotaLeftFen = 0
	}
	quotaUsedFen = min(amountFen, freeQuotaLeftFen)
	charged := amountFen - quotaUsedFen
	if charged == 0 || (s.RateBps == 0 && s.MinFen == 0 && s.FixedFen == 0) {
		return 0, quotaUsedFen, nil
	}
	feeFen = MulBpsCeil(charged, s.RateBps)
	feeFen = max(feeFen, s.MinFen)
	if s.MaxFen > 0 {
		feeFen = min(feeFen, s.MaxFen)
	}
	feeFen += s.FixedFen
	return feeFen, quotaUsedFen, nil
}

// MulBpsCeil returns ceil(amountFen × bps / 10000) without overflow for any
// non-negative int64 amount and 0 ≤ bps ≤ 10000.
func MulBpsCeil(amountFen, bps int64) int64 {
	if amountFen <= 0 || bps <= 0 {
		return 0
	}
	hi, lo := amountFen/BasisPointsPerUnit, amountFen%BasisPointsPerUnit
	// amount × bps / 10000 = hi×bps + lo×bps/10000
	whole := hi * bps
	rest := lo * bps
	whole += rest / BasisPointsPerUnit
	if rest%BasisPointsPerUnit != 0 {
		whole++
	}
	return whole
}

// MulRatioFloor returns floor(amountFen × num / den) exactly, for den > 0 and
// 0 ≤ num ≤ den and amountFen ≥ 0. Used to move a share (such as a
// credit-derived share) pro rata. Other inputs return 0.
func MulRatioFloor(amountFen, num, den int64) int64 {
	if den <= 0 || num <= 0 || amountFen <= 0 || num > den {
		return 0
	}
	hi, lo := bits.Mul64(uint64(amountFen), uint64(num))
	q, _ := bits.Div64(hi, lo, uint64(den)) // hi < den because num ≤ den
	return int64(q)
}
