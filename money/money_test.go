package money

import (
	"errors"
	"fmt"
	"math"
	"testing"
)

func TestParseYuan(t *testing.T) {
	tests := []struct {
		in      string
		wantFen int64
		wantErr error
	}{
		{"1000", 100000, nil},
		{"1000.5", 100050, nil},
		{"1000.05", 100005, nil},
		{"0.01", 1, nil},
		{".5", 50, nil},
		{"+12", 1200, nil},
		{" 7 ", 700, nil},
		{"1,000,000.00", 100000000, nil},
		{"92233720368547758.07", math.MaxInt64, nil},
		{"92233720368547758.08", 0, ErrOutOfRange},
		{"99999999999999999999", 0, ErrOutOfRange},
		{"", 0, ErrEmpty},
		{"0", 0, ErrNotPositive},
		{"0.00", 0, ErrNotPositive},
		{"-5", 0, ErrNotPositive},
		{"1.234", 0, ErrTooPrecise},
		{"1.", 0, ErrSyntax},
		{"abc", 0, ErrSyntax},
		{"1e3", 0, ErrSyntax},
		{"1,00", 0, ErrSyntax},
		{"12.3a", 0, ErrSyntax},
		{"0x10", 0, ErrSyntax},
		{".", 0, ErrSyntax},
		{"1.2.3", 0, ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseYuan(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("ParseYuan(%q) error = %v, want %v", tt.in, err, tt.wantErr)
			}
			if got != tt.wantFen {
				t.Fatalf("ParseYuan(%q) = %d, want %d", tt.in, got, tt.wantFen)
			}
		})
	}
}

func TestFormatYuan(t *testing.T) {
	tests := map[int64]string{0: "0.00", 1: "0.01", 100000: "1000.00", -5: "-0.05", math.MinInt64: "-92233720368547758.08", math.MaxInt64: "92233720368547758.07"}
	for fen, want := range tests {
		if got := FormatYuan(fen); got != want {
			t.Errorf("FormatYuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

// FuzzParseYuan checks that the parser never panics, accepts only positive
// amounts, and that what it accepts formats back to the same number of fen.
func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{"1000", "0.01", "1,000.50", "-1", "1e9", "92233720368547758.07", "1.999", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fen, err := ParseYuan(s)
		if err != nil {
			if fen != 0 {
				t.Fatalf("ParseYuan(%q) returned %d with error %v", s, fen, err)
			}
			return
		}
		if fen <= 0 {
			t.Fatalf("ParseYuan(%q) = %d, want > 0", s, fen)
		}
		back, err := ParseYuan(FormatYuan(fen))
		if err != nil || back != fen {
			t.Fatalf("round trip of %q: %d -> %q -> %d, %v", s, fen, FormatYuan(fen), back, err)
		}
	})
}

func TestFee(t *testing.T) {
	huabei := FeeSchedule{RateBps: 10, MinFen: 100} // 0.1%, minimum 1 yuan
	wechat := FeeSchedule{RateBps: 10, MinFen: 10, FreeQuotaFen: 100000}
	tests := []struct {
		name               string
		s                  FeeSchedule
		amount, quotaLeft  int64
		wantFee, wantQuota int64
	}{
		{"rate applies", huabei, 1000_00, 0, 100, 0},
		{"minimum applies", huabei, 500_00, 0, 100, 0},
		{"rate above minimum", huabei, 5000_00, 0, 500, 0},
		{"rounds up to the fen", huabei, 1234_56, 0, 124, 0},
		{"whole amount in free quota", wechat, 800_00, 1000_00, 0, 800_00},
		{"part in free quota", wechat, 1500_00, 1000_00, 50, 1000_00},
		{"min on the charged part", wechat, 1000_01, 1000_00, 10, 1000_00},
		{"max caps", FeeSchedule{RateBps: 100, MaxFen: 2500}, 1_000_000_00, 0, 2500, 0},
		{"fixed added", FeeSchedule{RateBps: 10, FixedFen: 200}, 1000_00, 0, 300, 0},
		{"free channel", FeeSchedule{}, 1000_00, 0, 0, 0},
		{"zero amount", huabei, 0, 0, 0, 0},
		{"huge amount no overflow", FeeSchedule{RateBps: 10000}, math.MaxInt64, 0, math.MaxInt64, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fee, used, err := tt.s.Fee(tt.amount, tt.quotaLeft)
			if err != nil {
				t.Fatal(err)
			}
			if fee != tt.wantFee || used != tt.wantQuota {
				t.Fatalf("Fee(%d, %d) = %d, %d; want %d, %d", tt.amount, tt.quotaLeft, fee, used, tt.wantFee, tt.wantQuota)
			}
		})
	}
	if _, _, err := huabei.Fee(-1, 0); !errors.Is(err, ErrNegativeAmount) {
		t.Fatalf("negative amount: got %v", err)
	}
}

func TestFeeScheduleValidate(t *testing.T) {
	tests := []struct {
		s         FeeSchedule
		wantField string
	}{
		{FeeSchedule{RateBps: 10, MinFen: 100}, ""},
		{FeeSchedule{RateBps: -1}, "rate_bps"},
		{FeeSchedule{RateBps: 10001}, "rate_bps"},
		{FeeSchedule{MinFen: -1}, "min_fen"},
		{FeeSchedule{MinFen: 10, MaxFen: 5}, "max_fen"},
		{FeeSchedule{FixedFen: -1}, "fixed_fen"},
		{FeeSchedule{FreeQuotaFen: -1}, "free_quota_fen"},
	}
	for i, tt := range tests {
		err := tt.s.Validate()
		var fe *FieldError
		switch {
		case tt.wantField == "" && err != nil:
			t.Errorf("%d: unexpected error %v", i, err)
		case tt.wantField != "" && (!errors.As(err, &fe) || fe.Field != tt.wantField):
			t.Errorf("%d: error %v, want field %s", i, err, tt.wantField)
		}
	}
}

func TestMulBpsCeilMatchesExactArithmetic(t *testing.T) {
	for _, amount := range []int64{0, 1, 9_999, 10_000, 123_456_789, math.MaxInt64 / 3, math.MaxInt64} {
		for _, bps := range []int64{0, 1, 10, 37, 9_999, 10_000} {
			got := MulBpsCeil(amount, bps)
			// exact: ceil(amount*bps/10000) computed in decimal strings via big-free split
			q, r := amount/10_000, amount%10_000
			want := q*bps + (r*bps+9_999)/10_000
			if got != want {
				t.Errorf("MulBpsCeil(%d, %d) = %d, want %d", amount, bps, got, want)
			}
		}
	}
}

func TestMulRatioFloor(t *testing.T) {
	tests := []struct{ amount, num, den, want int64 }{
		{1000, 1, 3, 333},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64, 1, 2, math.MaxInt64 / 2},
		{100, 0, 7, 0},
		{100, 5, 0, 0},
		{100, 8, 7, 0},
		{-100, 1, 2, 0},
	}
	for _, tt := range tests {
		if got := MulRatioFloor(tt.amount, tt.num, tt.den); got != tt.want {
			t.Errorf("MulRatioFloor(%d, %d, %d) = %d, want %d", tt.amount, tt.num, tt.den, got, tt.want)
		}
	}
}

func ExampleParseYuan() {
	fen, err := ParseYuan("1,000.50")
	fmt.Println(fen, err, FormatYuan(fen))
	// Output: 100050 <nil> 1000.50
}
