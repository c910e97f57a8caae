package ecosystem

import (
	"testing"
	"time"
)

func TestChannelSource(t *testing.T) {
	from := time.Date(2016, 10, 12, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	until := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		ch         Channel
		want       string
		unverified bool
	}{
		{"nothing said", Channel{ID: "a", Tags: []string{"official"}}, "", false},
		{"note only, spacing normalised", Channel{Note: "  China Daily\n  2016-09-13:\t0.1%  "}, "China Daily 2016-09-13: 0.1%", false},
		{"dates in their own zone", Channel{ValidFrom: from, ValidUntil: until}, "in force from 2016-10-12; until 2030-01-01", false},
		{"unverified with note", Channel{Tags: []string{"third_party", TagUnverified}, Note: "Seed §8."}, "unverified; Seed §8.", true},
		{"all of it", Channel{ValidFrom: from, Tags: []string{TagUnverified}, Note: "x"}, "in force from 2016-10-12; unverified; x", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ch.Source(); got != tt.want {
				t.Errorf("Source() = %q, want %q", got, tt.want)
			}
			if got := tt.ch.Unverified(); got != tt.unverified {
				t.Errorf("Unverified() = %v, want %v", got, tt.unverified)
			}
		})
	}
	if got := (Product{Note: "WeChat change\n(零钱)."}).Source(); got != "WeChat change (零钱)." {
		t.Errorf("Product.Source() = %q", got)
	}
	if got := (Institution{Note: " a  b "}).Source(); got != "a b" {
		t.Errorf("Institution.Source() = %q", got)
	}
}
