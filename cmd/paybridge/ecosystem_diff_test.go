package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// diffDoc is `ecosystem diff --json`'s contract.
type diffDoc struct {
	A, B    struct{ ID, Name string }
	Summary struct{ Added, Removed, Changed int }
	// Differences are the rows; Routes the query's plans.
	Differences []diffRow
	Routes      *struct {
		A, B struct {
			Query  struct{ Ecosystem, From string }
			Routes []diffRoute
			Error  string
		}
	}
}

// diffRow is one row of the differences.
type diffRow struct {
	Section, ID, Change, Field, A, B string
	SourceA                          string `json:"source_a"`
	SourceB                          string `json:"source_b"`
}

// diffRoute is what the tests read of a planned route.
type diffRoute struct {
	Verdict string
	FeeFen  int64 `json:"fee_fen"`
	Hops    []struct{ Channel string }
}

func parseDiff(t *testing.T, out string) diffDoc {
	t.Helper()
	var d diffDoc
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	return d
}

// TestEcosystemDiffEndToEnd runs `paybridge ecosystem diff` as a user does.
// Every difference ../shared/seed/public-facts.md lists between the seed's
// world and the public facts is its own row of `diff cn-2023 cn-facts`; the
// rows are asserted against the bundled worlds only, so the test needs no
// ../shared.
func TestEcosystemDiffEndToEnd(t *testing.T) {
	bin := buildPaybridge(t)

	jsonRun := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts", "--json")
	if jsonRun.code != 0 {
		t.Fatalf("exit %d: %s", jsonRun.code, jsonRun.stderr)
	}
	doc := parseDiff(t, jsonRun.stdout)
	textRun := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts")
	if textRun.code != 0 {
		t.Fatalf("exit %d: %s", textRun.code, textRun.stderr)
	}
	lines := strings.Split(textRun.stdout, "\n")

	// One row per public fact that differs (public-facts.md, the row named).
	facts := []struct {
		fact                             string
		section, id, change, field, a, b string
	}{
		{"Alipay withdrawal minimum 0.1 yuan, not the seed's 1", "fees", "alipay_withdraw", "changed", "fee.min_fen", "1.00 yuan", "0.10 yuan"},
		{"Alipay lifetime free withdrawal quota 20,000 yuan", "fees", "alipay_withdraw", "changed", "fee.free_quota_fen", "0.00 yuan", "20000.00 yuan"},
		{"WeChat lifetime free withdrawal quota 1,000 yuan", "fees", "wechat_withdraw", "changed", "fee.free_quota_fen", "0.00 yuan", "1000.00 yuan"},
		{"WeChat fee in force from 2016-03-01", "limits", "wechat_withdraw", "changed", "valid_from", "", "2016-03-01T00:00:00+08:00"},
		{"Alipay fee in force from 2016-10-12", "limits", "alipay_withdraw", "changed", "valid_from", "", "2016-10-12T00:00:00+08:00"},
		{"Huabei cannot top up a balance (the forced path's step 1)", "channels", "huabei_topup_balance", "removed", "", "top_up alipay.huabei → alipay.balance by alipay, fee free", ""},
		{"payment-account Class I: 1,000 yuan since opening", "limits", "alipay.balance", "added", "tiers[class_i]", "", "min_kyc_level 0, limits.lifetime_fen 1000.00 yuan"},
		{"payment-account Class II: 100,000 yuan a year", "limits", "alipay.balance", "added", "tiers[class_ii]", "", "min_kyc_level 2, limits.per_year_fen 100000.00 yuan"},
		{"payment-account Class III: 200,000 yuan a year", "limits", "alipay.balance", "added", "tiers[class_iii]", "", "min_kyc_level 3, limits.per_year_fen 200000.00 yuan"},
		{"payment-account classes on WeChat change too", "limits", "wechat.change", "added", "tiers[class_iii]", "", "min_kyc_level 3, limits.per_year_fen 200000.00 yuan"},
		{"e-CNY Class IV later balance cap 10k", "limits", "ecny.wallet", "changed", "tiers[class_iv].balance_cap_fen", "1000.00 yuan", "10000.00 yuan"},
		{"e-CNY Class IV later per payment 2k", "limits", "ecny.wallet", "changed", "tiers[class_iv].limits.per_txn_fen", "500.00 yuan", "2000.00 yuan"},
		{"e-CNY Class IV later per day 5k", "limits", "ecny.wallet", "changed", "tiers[class_iv].limits.per_day_fen", "1000.00 yuan", "5000.00 yuan"},
		{"e-CNY Class IV later per year 50k", "limits", "ecny.wallet", "changed", "tiers[class_iv].limits.per_year_fen", "10000.00 yuan", "50000.00 yuan"},
		{"static QR code ≤ 500 yuan a day from 2018-04-01", "channels", "wechat_pay_static_qr", "added", "", "", "pay wechat.change → wechat.merchant by wechat, fee free"},
		{"the intermediary's 8–15% is not found anywhere public", "channels", "huabei_via_movemoney", "changed", "tags", "[third_party, cash_out_service, cross_platform]", "[third_party, cash_out_service, cross_platform, unverified]"},
		{"calibrated on the public 0.1-yuan minimum", "calibration", "wechat_withdraw_minimum_fee", "added", "", "", "fee_fen 10 for wechat.change → cmb.debit, 1050 yuan"},
		{"the seed's 1-yuan minimum is no target of cn-facts", "calibration", "huabei_official_fee_minimum", "removed", "", "fee_fen 100 for alipay.balance → icbc.debit, 100 yuan", ""},
	}
	for _, f := range facts {
		t.Run(f.fact, func(t *testing.T) {
			i := slices.IndexFunc(doc.Differences, func(d diffRow) bool {
				return d.Section == f.section && d.ID == f.id && d.Field == f.field && d.Change == f.change
			})
			if i < 0 {
				t.Fatalf("no %s row %s %s %s in the JSON", f.section, f.change, f.id, f.field)
			}
			if got := doc.Differences[i]; got.A != f.a || got.B != f.b {
				t.Errorf("%s %s: a %q b %q, want a %q b %q", f.id, f.field, got.A, got.B, f.a, f.b)
			}
			// The same row in the text table, on one line.
			mark := map[string]string{"added": "+", "removed": "-", "changed": "~"}[f.change]
			found := slices.ContainsFunc(lines, func(l string) bool {
				fs := strings.Fields(l)
				return len(fs) > 2 && fs[0] == mark && fs[1] == f.id && (f.field == "" || fs[2] == f.field) &&
					strings.Contains(l, dashIfEmpty(clip(f.b)))
			})
			if !found {
				t.Errorf("text output has no row %s %s %s:\n%s", mark, f.id, f.field, textRun.stdout)
			}
		})
	}

	t.Run("sources beside the figures", func(t *testing.T) {
		for _, d := range doc.Differences {
			if d.ID == "alipay_withdraw" && d.Field == "fee.min_fen" && !strings.Contains(d.SourceB, "in force from 2016-10-12") {
				t.Errorf("alipay_withdraw's source %q lacks its date", d.SourceB)
			}
			if d.ID == "huabei_topup_balance" && !strings.Contains(d.SourceA, "not an offered function") {
				t.Errorf("huabei_topup_balance's source %q lacks the public fact", d.SourceA)
			}
		}
		for _, want := range []string{"FEES (", "LIMITS (", "CHANNELS (", "CALIBRATION (", "A: cn-2023", "B: cn-facts"} {
			if !strings.Contains(textRun.stdout, want) {
				t.Errorf("text output lacks %q", want)
			}
		}
	})

	t.Run("summary counts the rows", func(t *testing.T) {
		s := doc.Summary
		if s.Added+s.Removed+s.Changed != len(doc.Differences) || doc.A.ID != "cn-2023" || doc.B.ID != "cn-facts" {
			t.Errorf("summary %+v for %d rows, a %q b %q", s, len(doc.Differences), doc.A.ID, doc.B.ID)
		}
		if doc.Routes != nil {
			t.Error("routes present without a query")
		}
	})

	t.Run("a world against itself is empty", func(t *testing.T) {
		for _, w := range []string{"cn-2023", "cn-facts"} {
			r := runPaybridge(t, bin, "ecosystem", "diff", w, w, "--json")
			if d := parseDiff(t, r.stdout); r.code != 0 || len(d.Differences) != 0 {
				t.Errorf("%s vs itself: exit %d, %d differences", w, r.code, len(d.Differences))
			}
			if r := runPaybridge(t, bin, "ecosystem", "diff", w, w); r.code != 0 || !strings.Contains(r.stdout, "No differences.") {
				t.Errorf("%s vs itself: exit %d\n%s", w, r.code, r.stdout)
			}
		}
	})

	t.Run("the forced path exists only in cn-2023", func(t *testing.T) {
		r := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts", "--json",
			"--from", "alipay.huabei", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000")
		if r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		d := parseDiff(t, r.stdout)
		if d.Routes == nil || d.Routes.A.Query.Ecosystem != "cn-2023" || d.Routes.B.Query.Ecosystem != "cn-facts" {
			t.Fatalf("routes missing or mislabelled: %+v", d.Routes)
		}
		uses := func(routes []diffRoute, channel string) bool {
			for _, rt := range routes {
				for _, h := range rt.Hops {
					if h.Channel == channel {
						return true
					}
				}
			}
			return false
		}
		if !uses(d.Routes.A.Routes, "huabei_topup_balance") {
			t.Error("cn-2023's routes do not show the forced path (huabei_topup_balance)")
		}
		if uses(d.Routes.B.Routes, "huabei_topup_balance") || len(d.Routes.B.Routes) == 0 {
			t.Errorf("cn-facts: %d routes, forced path present: %v", len(d.Routes.B.Routes), uses(d.Routes.B.Routes, "huabei_topup_balance"))
		}
		text := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts",
			"--from", "alipay.huabei", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000")
		for _, want := range []string{"THE QUERY IN EACH WORLD", "=== Routes in cn-2023 ===", "=== Routes in cn-facts ===", "huabei_topup_balance"} {
			if !strings.Contains(text.stdout, want) {
				t.Errorf("text output lacks %q", want)
			}
		}
	})

	t.Run("what a 1,000-yuan withdrawal costs in each", func(t *testing.T) {
		r := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts", "--json",
			"--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1000")
		d := parseDiff(t, r.stdout)
		if r.code != 0 || d.Routes == nil {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		fee := func(routes []diffRoute) int64 {
			for _, rt := range routes {
				if len(rt.Hops) == 1 && rt.Hops[0].Channel == "alipay_withdraw" {
					return rt.FeeFen
				}
			}
			t.Fatalf("no one-hop alipay_withdraw route in %+v", routes)
			return 0
		}
		// The seed: 0.1% with a 1-yuan minimum; public facts: inside the 20,000-yuan free quota.
		if a, b := fee(d.Routes.A.Routes), fee(d.Routes.B.Routes); a != 100 || b != 0 {
			t.Errorf("alipay_withdraw of 1,000 yuan: cn-2023 %d fen, cn-facts %d fen; want 100 and 0", a, b)
		}
	})

	t.Run("a query that fits one world only", func(t *testing.T) {
		other := filepath.Join(t.TempDir(), "gen.yaml")
		if r := runPaybridge(t, bin, "ecosystem", "generate", "--institutions", "40", "--seed", "3", "--out", other); r.code != 0 {
			t.Fatalf("generate: exit %d: %s", r.code, r.stderr)
		}
		r := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", other, "--json", "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "10")
		d := parseDiff(t, r.stdout)
		if r.code != 0 || d.Routes == nil || len(d.Routes.A.Routes) == 0 || !strings.Contains(d.Routes.B.Error, "--from") {
			t.Fatalf("exit %d, stderr %q, routes %+v", r.code, r.stderr, d.Routes)
		}
		if len(d.Differences) == 0 {
			t.Error("cn-2023 and a generated world do not differ")
		}
		text := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", other, "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "10")
		if text.code != 0 || !strings.Contains(text.stdout, `--from: unknown product "alipay.balance"`) {
			t.Errorf("exit %d:\n%s", text.code, text.stdout)
		}
	})

	t.Run("a query that fits neither world", func(t *testing.T) {
		r := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts", "--json",
			"--from", "alipay.balance", "--to", "wechat.merchant", "--to-holder", "nobody", "--amount", "10")
		if r.code != 2 || !strings.Contains(r.stderr, "--to-holder") {
			t.Errorf("a query that fits neither world: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	t.Run("help says what it does and what --at defaults to", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"ecosystem", "diff", "--help"}, "diff exits 0 when it ran"},
			{[]string{"ecosystem", "diff", "--help"}, "default: now"},
			{[]string{"route", "--help"}, "Without --at the plan is for now"},
			{[]string{"route", "--help"}, "default: now"},
		} {
			if r := runPaybridge(t, bin, c.args...); r.code != 0 || !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), c.want) {
				t.Errorf("%v: exit %d, lacks %q", c.args, r.code, c.want)
			}
		}
	})

	t.Run("the rows docs/ecosystem.md shows are what diff prints", func(t *testing.T) {
		doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "ecosystem.md"))
		if err != nil {
			t.Skipf("docs/ecosystem.md not readable: %v", err)
		}
		start := strings.Index(string(doc), "## Comparing worlds: ecosystem diff")
		end := strings.Index(string(doc), "## Writing another world")
		if start < 0 || end < start {
			t.Fatal("docs/ecosystem.md lost its section on ecosystem diff")
		}
		outputs := textRun.stdout
		for _, q := range [][]string{
			{"--from", "alipay.huabei", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000"},
			{"--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1000"},
		} {
			outputs += runPaybridge(t, bin, append([]string{"ecosystem", "diff", "cn-2023", "cn-facts"}, q...)...).stdout
		}
		rows := 0
		for _, line := range strings.Split(string(doc[start:end]), "\n") {
			if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(line, "  ") && (slices.Contains([]string{"+", "-", "~"}, f[0]) || f[0] == "cn-2023" || f[0] == "cn-facts") {
				rows++
				if !strings.Contains(outputs, line) {
					t.Errorf("docs show a row diff does not print:\n%s", line)
				}
			}
		}
		if rows < 10 {
			t.Errorf("only %d output rows found in the docs' diff section", rows)
		}
	})

	t.Run("bad usage exits 2 with one line", func(t *testing.T) {
		for _, args := range [][]string{
			{"ecosystem", "diff", "cn-2023"},
			{"ecosystem", "diff", "cn-2023", "cn-facts", "extra"},
			{"ecosystem", "diff", "cn-2023", "atlantis"},
			{"ecosystem", "diff", "cn-2023", "cn-facts", "--from", "alipay.balance"},
			{"ecosystem", "diff", "cn-2023", "cn-facts", "--to-holder", "friend"},
			{"ecosystem", "diff", "cn-2023", "cn-facts", "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1.234"},
			{"ecosystem", "diff", "cn-2023", "cn-facts", "--from", "alipay.balance", "--to", "icbc.debit", "--amount", "1", "--at", "yesterday"},
		} {
			r := runPaybridge(t, bin, args...)
			if r.code != 2 || strings.Count(strings.TrimSpace(r.stderr), "\n") > 0 || r.stderr == "" {
				t.Errorf("%v: exit %d, stderr %q", args, r.code, r.stderr)
			}
		}
	})
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
