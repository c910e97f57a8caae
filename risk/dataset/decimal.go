// Package dataset loads labelled transaction data sets (PaySim, IBM AML,
// AMLSim, paybridge JSONL) into risk.Event streams for replay and
// evaluation. Amounts are converted from their decimal text to integer
// minor units exactly, never through floating point.
package dataset

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ErrAmount is wrapped by every amount parse error.
var ErrAmount = errors.New("invalid amount")

// maxExponent bounds the exponent accepted in "1.5E7" forms.
const maxExponent = 30

// ParseMinor converts a non-negative decimal string ("12.34", "0.0",
// "1.5E7") to minor units with scale decimals. With round false, more
// significant decimals than scale is an error; with round true the extra
// digits are rounded half up (exact decimal arithmetic).
func ParseMinor(s string, scale int, round bool) (int64, error) {
	v, err := parseMinor(strings.TrimSpace(s), scale, round)
	if err != nil {
		return 0, fmt.Errorf("%w %q: %v", ErrAmount, s, err)
	}
	return v, nil
}

func parseMinor(s string, scale int, round bool) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	s = strings.TrimPrefix(s, "+")
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("negative")
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		e, err := parseSmallInt(s[i+1:])
		if err != nil {
			return 0, err
		}
		exp = e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	if whole == "" && frac == "" || !digits(whole) || !digits(frac) {
		return 0, errors.New("not a decimal number")
	}
	// The number is 0.digits × 10^(len(whole)+exp); shift so it has scale decimals.
	all := strings.TrimLeft(whole+frac, "0")
	point := len(whole) + exp - (len(whole+frac) - len(all)) // position of the decimal point inside all
	keep := point + scale                                    // digits of all that form the integer result
	if all == "" {
		return 0, nil
	}
	if keep > 19 {
		return 0, errors.New("too large")
	}
	var v int64
	for i := 0; i < keep; i++ {
		d := int64(0)
		if i < len(all) {
			d = int64(all[i] - '0')
		}
		if v > (math.MaxInt64-d)/10 {
			return 0, errors.New("too large")
		}
		v = v*10 + d
	}
	rest := ""
	if keep < 0 {
		rest = strings.Repeat("0", -keep) + all
	} else if keep < len(all) {
		rest = all[keep:]
	}
	if strings.Trim(rest, "0") == "" {
		return v, nil
	}
	if !round {
		return 0, fmt.Errorf("more than %d decimals", scale)
	}
	if rest[0] >= '5' {
		if v == math.MaxInt64 {
			return 0, errors.New("too large")
		}
		v++
	}
	return v, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseSmallInt(s string) (int, error) {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(strings.TrimPrefix(s, "-"), "+")
	if s == "" || !digits(s) || len(s) > 3 {
		return 0, errors.New("bad exponent")
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	if n > maxExponent {
		return 0, errors.New("exponent out of range")
	}
	if neg {
		n = -n
	}
	return n, nil
}
