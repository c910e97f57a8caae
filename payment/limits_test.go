package payment

import (
	"testing"
	"time"
)

// TestPeriodsAt: the hand-built period keys are what time.Format gives.
func TestPeriodsAt(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	for _, tc := range []struct {
		t   time.Time
		loc *time.Location
	}{
		{epoch, sh},
		{time.Date(2023, 12, 31, 16, 30, 0, 0, time.UTC), sh}, // already 2024-01-01 in Shanghai
		{time.Date(9, 2, 3, 4, 5, 6, 7, time.UTC), time.UTC},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC},
		{time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC},
	} {
		lt := tc.t.In(tc.loc)
		want := periods{lt.Format("20060102"), lt.Format("200601"), lt.Format("2006")}
		if got := periodsAt(tc.t, tc.loc); got != want {
			t.Errorf("periodsAt(%v) = %+v, want %+v", tc.t, got, want)
		}
	}
}
