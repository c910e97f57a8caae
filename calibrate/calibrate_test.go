package calibrate

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
)

func loadBundled(t *testing.T) *ecosystem.Ecosystem {
	t.Helper()
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatalf("loading cn-2023: %v", err)
	}
	return eco
}

// TestBundledWorldPasses is the seed's figures as a test: every target of
// cn-2023 passes, and the targets of issue 2 §6 are all there.
func TestBundledWorldPasses(t *testing.T) {
	eco := loadBundled(t)
	report, err := Run(eco)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range report.Targets {
		if !r.Pass {
			t.Errorf("%s: seed %v, model %v, tolerance %v, min %v, max %v, err %q", r.Name, r.Seed, r.Model, r.Tolerance, r.Min, r.Max, r.Err)
		}
	}
	if !report.Pass || len(report.Failed()) != 0 {
		t.Errorf("report.Pass = %v, failed %v", report.Pass, report.Failed())
	}
	var metrics []string
	for _, r := range report.Targets {
		metrics = append(metrics, r.Metric)
	}
	for _, want := range []string{"time_mean_s", "cost_ratio", "failure_rate", "app_switches", "hop_time_quantile", "fee_fen", "per_txn_limit_fen", "success", "time_p50_s"} {
		if !slices.Contains(metrics, want) {
			t.Errorf("cn-2023 has no target with metric %s", want)
		}
	}
	if len(report.Targets) < 20 {
		t.Errorf("%d targets; issue 2 §6 lists at least 20 figures", len(report.Targets))
	}
}

// TestMisSetWorldFails changes one figure of the world at a time and checks
// that exactly the targets that depend on it fail, by name.
func TestMisSetWorldFails(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *ecosystem.Ecosystem)
		fails  []string
	}{
		{"MYbank leg fee doubled", func(e *ecosystem.Ecosystem) { channel(e, "alipay_withdraw_mybank").Fee.RateBps = 20 }, []string{"mybank_bridge_cost"}},
		{"direct transfer slower", func(e *ecosystem.Ecosystem) { channel(e, "alipay_wechat_direct").Latency.P50 *= 2 }, []string{"direct_transfer_time_mean"}},
		{"step 3 less skewed", func(e *ecosystem.Ecosystem) { channel(e, "icbc_online_banking_to_wechat").Latency.P95 *= 3 },
			[]string{"forced_path_time_mean", "forced_path_step3_slowest"}},
		{"huabei top-up never fails", func(e *ecosystem.Ecosystem) { channel(e, "huabei_topup_balance").Success = 1 }, []string{"forced_path_failure_rate"}},
		{"one app per hop", func(e *ecosystem.Ecosystem) { channel(e, "icbc_online_banking_to_wechat").Apps = []string{"WeChat"} }, []string{"forced_path_app_switches"}},
		{"no minimum fee", func(e *ecosystem.Ecosystem) { channel(e, "alipay_withdraw").Fee.MinFen = 0 }, []string{"huabei_official_fee_minimum"}},
		{"WeChat cap lifted", func(e *ecosystem.Ecosystem) { channel(e, "wechat_withdraw").Limits.PerTxnFen = 0 }, []string{"wechat_withdraw_cap"}},
		{"intermediary cheap", func(e *ecosystem.Ecosystem) {
			channel(e, "huabei_via_movemoney").Fee.FixedFen = 0
			channel(e, "huabei_via_movemoney").Fee.RateBps = 500
		},
			[]string{"intermediary_cost"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eco := loadBundled(t)
			tc.mutate(eco)
			eco.Reindex()
			report, err := Run(eco)
			if err != nil {
				t.Fatal(err)
			}
			if report.Pass {
				t.Fatal("report passes on a mis-set world")
			}
			if got := report.Failed(); !slices.Equal(got, tc.fails) {
				t.Errorf("failed targets = %v, want %v", got, tc.fails)
			}
		})
	}
}

func channel(e *ecosystem.Ecosystem, id string) *ecosystem.Channel {
	for i := range e.Channels {
		if e.Channels[i].ID == id {
			return &e.Channels[i]
		}
	}
	panic("test world has no channel " + id)
}

func f64(v float64) *float64 { return &v }

func TestPasses(t *testing.T) {
	tests := []struct {
		name   string
		target ecosystem.CalibrationTarget
		model  float64
		want   bool
		tol    float64
	}{
		{"relative inside", ecosystem.CalibrationTarget{Value: 2460, Tolerance: 0.1, Relative: true}, 2700, true, 246},
		{"relative outside", ecosystem.CalibrationTarget{Value: 2460, Tolerance: 0.1, Relative: true}, 2710, false, 246},
		{"absolute edge", ecosystem.CalibrationTarget{Value: 0.002, Tolerance: 0.0002}, 0.0022, true, 0.0002},
		{"absolute outside", ecosystem.CalibrationTarget{Value: 0.002, Tolerance: 0.0002}, 0.0023, false, 0.0002},
		{"exact zero", ecosystem.CalibrationTarget{Value: 0}, 0, true, 0},
		{"exact miss", ecosystem.CalibrationTarget{Value: 4}, 3, false, 0},
		{"two-sided inside", ecosystem.CalibrationTarget{Value: 0.115, Min: f64(0.08), Max: f64(0.15)}, 0.11, true, 0.035},
		{"two-sided below", ecosystem.CalibrationTarget{Value: 0.115, Min: f64(0.08), Max: f64(0.15)}, 0.05, false, 0.035},
		{"max edge", ecosystem.CalibrationTarget{Value: 1800, Max: f64(1800)}, 1800, true, 0},
		{"max above", ecosystem.CalibrationTarget{Value: 1800, Max: f64(1800)}, 1800.5, false, 0},
		{"min above", ecosystem.CalibrationTarget{Value: 7200, Min: f64(7200)}, 10800, true, 0},
		{"min below", ecosystem.CalibrationTarget{Value: 7200, Min: f64(7200)}, 7100, false, 0},
		{"NaN fails", ecosystem.CalibrationTarget{Value: 1, Tolerance: 1e9}, math.NaN(), false, 1e9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := passes(tc.target, tc.model); got != tc.want {
				t.Errorf("passes = %v, want %v", got, tc.want)
			}
			if got := tolerance(tc.target); math.Abs(got-tc.tol) > 1e-12 {
				t.Errorf("tolerance = %v, want %v", got, tc.tol)
			}
		})
	}
}

func TestValidateNamesTheField(t *testing.T) {
	q := ecosystem.Query{From: "alipay.balance", To: "wechat.change", AmountYuan: "1000"}
	tests := []struct {
		target ecosystem.CalibrationTarget
		want   string
	}{
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "speed"}, `calibration[0].metric: "speed" is not one of time_mean_s`},
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "hop_time_quantile", Quantile: f64(0.5)}, "calibration[0].hop: metric hop_time_quantile is of one hop"},
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "hop_time_quantile", Hop: 1}, "calibration[0].quantile: metric hop_time_quantile needs quantile"},
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "hop_time_quantile", Hop: 1, Quantile: f64(1.5)}, "calibration[0].quantile: 1.5 must be between 0 and 1"},
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "cost_ratio", Quantile: f64(0.5)}, "calibration[0].quantile: is not used by metric cost_ratio"},
		{ecosystem.CalibrationTarget{Name: "x", Query: q, Metric: "cost_ratio", Relative: true, Tolerance: 0.1}, "calibration[0].relative: a relative tolerance needs a non-zero value"},
	}
	for _, tc := range tests {
		eco := &ecosystem.Ecosystem{Calibration: []ecosystem.CalibrationTarget{tc.target}}
		ps := Validate(eco)
		if len(ps) != 1 || !strings.Contains(ps[0].Error(), tc.want) {
			t.Errorf("Validate = %v, want one problem containing %q", ps, tc.want)
		}
		_, err := Run(eco)
		var ee *ecosystem.Error
		if !errors.As(err, &ee) {
			t.Errorf("Run error = %v, want an *ecosystem.Error", err)
		}
	}
}

// TestTargetErrors checks that a target whose route cannot be evaluated
// fails with a reason instead of stopping the run.
func TestTargetErrors(t *testing.T) {
	eco := loadBundled(t)
	eco.Calibration = []ecosystem.CalibrationTarget{
		{Name: "broken_chain", Query: ecosystem.Query{From: "alipay.balance", To: "wechat.change", AmountYuan: "1000"},
			Channels: []string{"alipay_withdraw", "mybank_topup_wechat"}, Metric: "time_mean_s", Value: 1, Tolerance: 1},
		{Name: "hop_beyond_route", Query: ecosystem.Query{From: "alipay.balance", To: "wechat.change", AmountYuan: "1000"},
			Channels: []string{"alipay_wechat_direct"}, Hop: 2, Metric: "hop_fee_fen", Value: 1},
		{Name: "no_allowed_route", Query: ecosystem.Query{From: "alipay.huabei", To: "wechat.change", ToHolder: "friend", AmountYuan: "1000"},
			Metric: "cost_ratio", Value: 0},
	}
	report, err := Run(eco)
	if err != nil {
		t.Fatal(err)
	}
	wants := []string{"channel mybank_topup_wechat leaves mybank.deposit", "hop 2: the route has 1 hops", "no allowed or warned route"}
	for i, r := range report.Targets {
		if r.Pass || !strings.Contains(r.Err, wants[i]) {
			t.Errorf("%s: pass %v, err %q, want an error containing %q", r.Name, r.Pass, r.Err, wants[i])
		}
	}
	if report.Pass {
		t.Error("report passes")
	}
}

// TestUnpinnedTargetUsesThePlanner measures the best allowed route the
// planner finds when no channels are pinned.
func TestUnpinnedTargetUsesThePlanner(t *testing.T) {
	eco := loadBundled(t)
	eco.Calibration = []ecosystem.CalibrationTarget{{
		Name:   "cheapest",
		Query:  ecosystem.Query{From: "alipay.balance", To: "wechat.change", AmountYuan: "1000", Objective: "cost"},
		Metric: "cost_ratio", Value: 0, Tolerance: 0,
	}}
	report, err := Run(eco)
	if err != nil {
		t.Fatal(err)
	}
	r := report.Targets[0]
	if !r.Pass || len(r.Route) == 0 || r.Err != "" {
		t.Fatalf("cheapest route: %+v; cn-2023 has a 0%% route (QuickPass via Yu'ebao)", r)
	}
}

func TestSeedOfBounds(t *testing.T) {
	tests := []struct {
		target ecosystem.CalibrationTarget
		want   float64
	}{
		{ecosystem.CalibrationTarget{Value: 41}, 41},
		{ecosystem.CalibrationTarget{Value: 0.1, Min: f64(0.08), Max: f64(0.15)}, 0.115},
		{ecosystem.CalibrationTarget{Value: 0.02, Max: f64(0.03)}, 0.03},
		{ecosystem.CalibrationTarget{Min: f64(7200)}, 7200},
	}
	for _, tc := range tests {
		if got := seed(tc.target); got != tc.want {
			t.Errorf("seed(%+v) = %v, want %v", tc.target, got, tc.want)
		}
	}
}
