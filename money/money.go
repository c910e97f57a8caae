// Package money holds amounts of money as integer minor units (fen) with a
// currency, parses and formats decimal yuan strings, and computes fees from
// fee schedules with explicit rounding. It never uses floating point for money.
package money

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// CNY is the currency code of the Chinese yuan (renminbi); its minor unit is the fen (1/100 yuan).
const CNY = "CNY"

// MaxFen is the largest amount in fen that paybridge accepts anywhere.
const MaxFen int64 = math.MaxInt64

// Amount is an amount of money in minor units of a currency.
type Amount struct {
	Fen      int64  `json:"fen"`
	Currency string `json:"currency"`
}

// Errors returned by ParseYuan. Each is wrapped with the offending input.
var (
	ErrEmpty       = errors.New("amount is empty")
	ErrSyntax      = errors.New("amount must be a decimal number such as 1000 or 12.34")
	ErrTooPrecise  = errors.New("amount has more than two decimals (the smallest unit is 0.01 yuan)")
	ErrNotPositive = errors.New("amount must be greater than zero")
	ErrOutOfRange  = errors.New("amount is too large to represent in fen")
)

// ParseYuan parses a positive decimal yuan amount ("1000", "12.5", "0.01",
// "1,000.00") into fen. It accepts at most two decimals and refuses signs,
// exponents, zero and anything that overflows int64 fen.
func ParseYuan(s string) (int64, error) {
	fen, err := parseYuan(s)
	if err != nil {
		return 0, fmt.Errorf("%q: %w", s, err)
	}
	return fen, nil
}

func parseYuan(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, ErrEmpty
	}
	if strings.HasPrefix(s, "-") {
		return 0, ErrNotPositive
	}
	s = strings.TrimPrefix(s, "+")
	whole, frac, hasDot := strings.Cut(s, ".")
	if hasDot && frac == "" {
		return 0, ErrSyntax
	}
	whole = stripThousands(whole)
	if whole == "" && !hasDot {
		return 0, ErrSyntax
	}
	if len(frac) > 2 {
		if !allDigits(frac) {
			return 0, ErrSyntax
		}
		return 0, ErrTooPrecise
	}
	if !allDigits(whole) || !allDigits(frac) {
		return 0, ErrSyntax
	}
	var fen int64
	for _, c := range whole {
		d := int64(c - '0')
		if fen > (MaxFen-d)/10 {
			return 0, ErrOutOfRange
		}
		fen = fen*10 + d
	}
	if fen > MaxFen/100 {
		return 0, ErrOutOfRange
	}
	fen *= 100
	for len(frac) < 2 {
		frac += "0"
	}
	cents := int64(frac[0]-'0')*10 + int64(frac[1]-'0')
	if fen > MaxFen-cents {
		return 0, ErrOutOfRange
	}
	fen += cents
	if fen == 0 {
		return 0, ErrNotPositive
	}
	return fen, nil
}

// stripThousands removes "," separators when they are placed in groups of
// three ("1,000,000"); anything else is left for the digit check to refuse.
func stripThousands(s string) string {
	if !strings.Contains(s, ",") {
		return s
	}
	groups := strings.Split(s, ",")
	if len(groups[0]) == 0 || len(groups[0]) > 3 {
		return s
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return s
		}
	}
	return strings.Join(groups, "")
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// FormatYuan renders fen as a decimal yuan string with exactly two decimals ("1000.00", "-0.05").
func FormatYuan(fen int64) string {
	sign := ""
	u := uint64(fen)
	if fen < 0 {
		sign = "-"
		u = uint64(-(fen + 1)) + 1 // safe for MinInt64
	}
	return fmt.Sprintf("%s%d.%02d", sign, u/100, u%100)
}

// String renders the amount as "1000.00 CNY".
func (a Amount) String() string { return FormatYuan(a.Fen) + " " + a.Currency }
