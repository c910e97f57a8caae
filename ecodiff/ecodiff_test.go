package ecodiff

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/money"
)

// base is a small world every case starts from: two products, a channel
// between them, a tiered product, a rule and a calibration target.
func base() *ecosystem.Ecosystem {
	return &ecosystem.Ecosystem{
		ID: "w", Name: "World", Currency: "CNY",
		Holders:      []ecosystem.Holder{{ID: "me", Name: "Me", Kind: "person", KYCLevel: 3, Default: true}},
		Institutions: []ecosystem.Institution{{ID: "pay", Name: "Pay", Kind: "payment_institution", Note: "A wallet."}},
		Products: []ecosystem.Product{
			{ID: "pay.balance", Institution: "pay", Name: "balance", Kind: "stored_value", CashWithdrawable: true,
				Tiers: []ecosystem.Tier{{Name: "class_i", MinKYCLevel: 0, Limits: ecosystem.Limits{LifetimeFen: 100000}}}},
			{ID: "pay.card", Institution: "pay", Name: "card", Kind: "deposit", CashWithdrawable: true},
		},
		Channels: []ecosystem.Channel{{
			ID: "withdraw", Kind: "withdraw", From: "pay.balance", To: "pay.card", Institution: "pay",
			Fee:     money.FeeSchedule{RateBps: 10, MinFen: 100},
			Limits:  ecosystem.Limits{PerDayFen: 500000},
			Latency: ecosystem.Latency{Dist: "fixed", P50: time.Minute}, Success: 0.99,
			Note: "Seed §3.",
		}},
		Rules: []ecosystem.Rule{{ID: "min", Scope: "hop", When: "hop.under_min", Effect: "refuse", Citation: "c", Message: "Too little."}},
		Calibration: []ecosystem.CalibrationTarget{{Name: "fee", Source: "seed §3",
			Query: ecosystem.Query{From: "pay.balance", To: "pay.card", AmountYuan: "1000"}, Metric: "fee_fen", Value: 100}},
	}
}

// key is what a case asserts of an entry (sources are checked separately).
type key struct {
	Section string
	ID      string
	Change  Change
	Field   string
	A, B    string
}

func keys(d *Diff) []key {
	out := []key{}
	for _, e := range d.Entries {
		out = append(out, key{e.Section, e.ID, e.Change, e.Field, e.A, e.B})
	}
	return out
}

func TestCompare(t *testing.T) {
	at := time.Date(2016, 3, 1, 0, 0, 0, 0, time.FixedZone("CST", 8*3600))
	tests := []struct {
		name string
		edit func(b *ecosystem.Ecosystem)
		want []key
	}{
		{"identical", func(*ecosystem.Ecosystem) {}, []key{}},
		{"a note or a source is not a difference", func(b *ecosystem.Ecosystem) {
			b.Channels[0].Note = "Public facts."
			b.Calibration[0].Source = "public facts"
			b.Institutions[0].Note = "Another note."
		}, []key{}},
		{"fee minimum and free quota", func(b *ecosystem.Ecosystem) {
			b.Channels[0].Fee.MinFen = 10
			b.Channels[0].Fee.FreeQuotaFen = 100000
		}, []key{
			{SectionFees, "withdraw", Changed, "fee.min_fen", "1.00 yuan", "0.10 yuan"},
			{SectionFees, "withdraw", Changed, "fee.free_quota_fen", "0.00 yuan", "1000.00 yuan"},
		}},
		{"fee rate in percent", func(b *ecosystem.Ecosystem) { b.Channels[0].Fee.RateBps = 60 }, []key{
			{SectionFees, "withdraw", Changed, "fee.rate_bps", "0.10%", "0.60%"},
		}},
		{"a limit and the date a channel comes into force", func(b *ecosystem.Ecosystem) {
			b.Channels[0].Limits.PerDayFen = 0
			b.Channels[0].Limits.PerTxnFen = 200000
			b.Channels[0].ValidFrom = at
		}, []key{
			{SectionLimits, "withdraw", Changed, "limits.per_day_fen", "5000.00 yuan", ""}, // A's fields first,
			{SectionLimits, "withdraw", Changed, "limits.per_txn_fen", "", "2000.00 yuan"}, // then B's new ones
			{SectionLimits, "withdraw", Changed, "valid_from", "", "2016-03-01T00:00:00+08:00"},
		}},
		{"channel removed and added", func(b *ecosystem.Ecosystem) {
			b.Channels[0].ID = "withdraw_new"
		}, []key{
			{SectionChannels, "withdraw", Removed, "", "withdraw pay.balance → pay.card by pay, fee 0.10% min 1.00", ""},
			{SectionChannels, "withdraw_new", Added, "", "", "withdraw pay.balance → pay.card by pay, fee 0.10% min 1.00"},
		}},
		{"channel non-fee fields stay under channels", func(b *ecosystem.Ecosystem) {
			b.Channels[0].Success = 0.9
			b.Channels[0].Latency.P50 = 2 * time.Minute
			b.Channels[0].Tags = []string{"unverified"}
		}, []key{
			{SectionChannels, "withdraw", Changed, "latency.p50", "1m0s", "2m0s"},
			{SectionChannels, "withdraw", Changed, "success", "0.99", "0.9"},
			{SectionChannels, "withdraw", Changed, "tags", "", "[unverified]"},
		}},
		{"a class added is one entry; a class's limit changed is one entry", func(b *ecosystem.Ecosystem) {
			b.Products[0].Tiers[0].Limits.LifetimeFen = 200000
			b.Products[0].Tiers = append(b.Products[0].Tiers, ecosystem.Tier{Name: "class_ii", MinKYCLevel: 2, Limits: ecosystem.Limits{PerYearFen: 10000000}})
		}, []key{
			{SectionLimits, "pay.balance", Changed, "tiers[class_i].limits.lifetime_fen", "1000.00 yuan", "2000.00 yuan"},
			{SectionLimits, "pay.balance", Added, "tiers[class_ii]", "", "min_kyc_level 2, limits.per_year_fen 100000.00 yuan"},
		}},
		{"a class removed", func(b *ecosystem.Ecosystem) { b.Products[0].Tiers = nil }, []key{
			{SectionLimits, "pay.balance", Removed, "tiers[class_i]", "min_kyc_level 0, limits.lifetime_fen 1000.00 yuan", ""},
		}},
		{"product fields and holders", func(b *ecosystem.Ecosystem) {
			b.Products[1].CashWithdrawable = false
			b.Holders[0].KYCLevel = 2
		}, []key{
			{SectionHolders, "me", Changed, "kyc_level", "3", "2"},
			{SectionProducts, "pay.card", Changed, "cash_withdrawable", "true", "false"},
		}},
		{"world fields, rules and calibration", func(b *ecosystem.Ecosystem) {
			b.Currency = "HKD"
			b.Rules[0].Effect = "warn"
			b.Calibration[0].Value = 10
			b.ID, b.Name = "other", "Other" // ids and names are not differences
		}, []key{
			{SectionWorld, "currency", Changed, "currency", "CNY", "HKD"},
			{SectionRules, "min", Changed, "effect", "refuse", "warn"},
			{SectionCalibration, "fee", Changed, "value", "100", "10"},
		}},
		{"calibration target removed", func(b *ecosystem.Ecosystem) { b.Calibration = nil }, []key{
			{SectionCalibration, "fee", Removed, "", "fee_fen 100 for pay.balance → pay.card, 1000 yuan", ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, b := base(), base()
			tc.edit(b)
			d := Compare(a, b)
			if got := keys(d); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("entries\n got %+v\nwant %+v", got, tc.want)
			}
			if d.Empty() != (len(tc.want) == 0) {
				t.Errorf("Empty() = %v with %d entries", d.Empty(), len(d.Entries))
			}
		})
	}
}

func TestCompareSources(t *testing.T) {
	a, b := base(), base()
	b.Channels[0].Fee.MinFen = 10
	b.Channels[0].ValidFrom = time.Date(2016, 10, 12, 0, 0, 0, 0, time.UTC)
	b.Channels[0].Tags = []string{"unverified"}
	b.Channels[0].Note = "Public facts,\n  Alipay row."
	d := Compare(a, b)
	var fee *Entry
	for i := range d.Entries {
		if d.Entries[i].Field == "fee.min_fen" {
			fee = &d.Entries[i]
		}
	}
	if fee == nil {
		t.Fatalf("no fee.min_fen entry in %+v", d.Entries)
	}
	if fee.SourceA != "Seed §3." {
		t.Errorf("SourceA = %q, want the channel's note", fee.SourceA)
	}
	if want := "in force from 2016-10-12; unverified; Public facts, Alipay row."; fee.SourceB != want {
		t.Errorf("SourceB = %q, want %q", fee.SourceB, want)
	}
}

// TestCompareBundledWithItself: a world compared with itself has no
// differences, and Compare leaves both worlds as they were.
func TestCompareBundledWithItself(t *testing.T) {
	for _, info := range ecosystems.List() {
		t.Run(info.ID, func(t *testing.T) {
			e, err := ecosystems.Bundled.Resolve(info.ID)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(e)
			if d := Compare(e, e); !d.Empty() {
				t.Errorf("%s differs from itself: %+v", info.ID, d.Entries)
			}
			after, _ := json.Marshal(e)
			if string(before) != string(after) {
				t.Error("Compare changed the world it read")
			}
		})
	}
}

// TestCompareIsSymmetric: B against A is A against B mirrored — every
// addition a removal, every change with its sides swapped — on the bundled
// worlds and on generated ones.
func TestCompareIsSymmetric(t *testing.T) {
	type pair struct {
		name string
		a, b *ecosystem.Ecosystem
	}
	var pairs []pair
	if a, err := ecosystems.Bundled.Resolve("cn-2023"); err == nil {
		if b, err := ecosystems.Bundled.Resolve("cn-facts"); err == nil {
			pairs = append(pairs, pair{"cn-2023/cn-facts", a, b})
		}
	}
	for seed := int64(1); seed <= 3; seed++ {
		pairs = append(pairs, pair{"generated", ecosystem.Generate(ecosystem.MinGenerated, seed), ecosystem.Generate(ecosystem.MinGenerated, seed+10)})
	}
	mirror := map[Change]Change{Added: Removed, Removed: Added, Changed: Changed}
	for _, p := range pairs {
		ab, ba := Compare(p.a, p.b), Compare(p.b, p.a)
		if len(ab.Entries) != len(ba.Entries) {
			t.Fatalf("%s: %d entries one way, %d the other", p.name, len(ab.Entries), len(ba.Entries))
		}
		back := map[key]int{}
		for _, e := range ba.Entries {
			back[key{e.Section, e.ID, mirror[e.Change], e.Field, e.B, e.A}]++
		}
		for _, k := range keys(ab) {
			if back[k] == 0 {
				t.Errorf("%s: %+v has no mirror", p.name, k)
			}
			back[k]--
		}
		if ab.Empty() && p.name == "cn-2023/cn-facts" {
			t.Error("cn-2023 and cn-facts do not differ")
		}
	}
}
