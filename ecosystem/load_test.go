package ecosystem

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files in testdata/")

func readSmall(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// mutate replaces old with new in src exactly once, or fails the test.
func mutate(t *testing.T, src, old, new string) string {
	t.Helper()
	if strings.Count(src, old) != 1 {
		t.Fatalf("test bug: %q occurs %d times in small.yaml, want once", old, strings.Count(src, old))
	}
	return strings.Replace(src, old, new, 1)
}

func TestLoadSmall(t *testing.T) {
	e, err := Load("small.yaml", []byte(readSmall(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Institutions) != 4 || len(e.Products) != 4 || len(e.Channels) != 3 || len(e.Rules) != 1 || len(e.Calibration) != 1 {
		t.Fatalf("counts %d/%d/%d/%d/%d, want 4/4/3/1/1", len(e.Institutions), len(e.Products), len(e.Channels), len(e.Rules), len(e.Calibration))
	}
	c, ok := e.Channel("wechat_topup")
	if !ok {
		t.Fatal("channel wechat_topup missing")
	}
	if c.Latency.Max.String() != "2h0m0s" || c.ValidFrom.Format("2006-01-02") != "2016-03-01" || c.ValidUntil.UTC().Format("2006-01-02T15") != "2029-12-31T16" {
		t.Fatalf("durations/times decoded wrong: %+v", c)
	}
	if c := e.ChannelsFrom("alipay.balance"); len(c) != 1 || c[0].ID != "alipay_withdraw" || c[0].Fee.RateBps != 10 {
		t.Fatalf("ChannelsFrom(alipay.balance) = %+v", c)
	}
	if h := e.DefaultHolder(); h == nil || h.ID != "me" {
		t.Fatalf("DefaultHolder() = %+v", h)
	}
	if got := strings.Join(e.ProductIDs(), ","); got != "alipay.balance,alipay.huabei,bank_a.debit,wechat.change" {
		t.Fatalf("ProductIDs() = %s", got)
	}
	if in, ok := e.Institution("bank_a"); !ok || in.Clearing.Windows[0].Close != "17:00" {
		t.Fatalf("Institution(bank_a) = %+v, %v", in, ok)
	}
	if h, ok := e.Holder("friend"); !ok || h.KYCLevel != 2 {
		t.Fatalf("Holder(friend) = %+v, %v", h, ok)
	}
	if _, ok := e.Product("alipay.nope"); ok {
		t.Fatal("Product(alipay.nope) found")
	}
}

// TestLoadProblems has one bad file per class of problem and asserts the
// exact position, path and reason of what Load reports.
func TestLoadProblems(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string // the problem line, exactly
	}{
		{"unknown top-level field", "timezone: Asia/Shanghai", "timezone: Asia/Shanghai\ncurrencies: [CNY]",
			"small.yaml:7:1: currencies: unknown field (did you mean \"currency\"?)"},
		{"unknown nested field", "      free_quota_fen: 2000000", "      free_quota: 2000000",
			"small.yaml:81:7: channels[0].fee.free_quota: unknown field (did you mean \"free_quota_fen\"?)"},
		{"text for a number", "      rate_bps: 10", "      rate_bps: ten",
			"small.yaml:79:17: channels[0].fee.rate_bps: must be a whole number"},
		{"fraction for a whole number", "    kyc_level: 2", "    kyc_level: 2.5",
			"small.yaml:16:16: holders[1].kyc_level: must be a whole number"},
		{"number overflow", "    credit_limit_fen: 1000000", "    credit_limit_fen: 99999999999999999999",
			"small.yaml:54:23: products[1].credit_limit_fen: is too large (more than 9223372036854775807)"},
		{"bool expected", "    cash_withdrawable: false", "    cash_withdrawable: nope",
			"small.yaml:53:24: products[1].cash_withdrawable: must be true or false"},
		{"list expected", "    via: [unionpay]", "    via: unionpay",
			"small.yaml:77:10: channels[0].via: must be a list"},
		{"mapping expected", "    requires:\n      other_holder: true", "    requires: yes",
			"small.yaml:117:15: channels[2].requires: must be a mapping of fields (same_holder, other_holder, bound_card, kyc_level, application)"},
		{"bad duration", "      p95: 30m", "      p95: 30 minutes",
			"small.yaml:88:12: channels[0].latency.p95: \"30 minutes\" is not a Go duration; write e.g. \"90s\", \"30m\" or \"2h30m\""},
		{"number as duration", "      p50: 5m", "      p50: 300",
			"small.yaml:87:12: channels[0].latency.p50: must be a Go duration such as \"30m\" or \"2h30m\""},
		{"bad time", "    valid_from: 2016-03-01", "    valid_from: last spring",
			"small.yaml:107:17: channels[1].valid_from: \"last spring\" is not a time; write RFC 3339 (2023-01-01T00:00:00+08:00) or a date (2023-01-01)"},
		{"syntax error", "    tags: [official]", "    tags: [official",
			"small.yaml:94:3: ',' or ']' must be specified"},
		{"duplicate key", "    kind: transfer", "    kind: transfer\n    kind: pay",
			"small.yaml:111:5: mapping key \"kind\" already defined at [110:5]"},
		{"empty id", "  - id: same-holder", "  - id: \"\"",
			"small.yaml:120:9: rules[0].id: must not be empty"},
		{"id syntax", "  - id: wechat_transfer", "  - id: wechat transfer",
			"small.yaml:109:9: channels[2].id: \"wechat transfer\" may contain only letters, digits, '_' and '-'"},
		{"duplicate channel id", "  - id: wechat_transfer", "  - id: wechat_topup",
			"small.yaml:109:9: channels[2].id: duplicate channel id \"wechat_topup\""},
		{"unknown product, with suggestion", "    to: bank_a.debit\n    institution: alipay", "    to: bank_a.debt\n    institution: alipay",
			"small.yaml:75:9: channels[0].to: unknown product \"bank_a.debt\" (did you mean \"bank_a.debit\"?)"},
		{"unknown via institution", "    via: [unionpay]", "    via: [netsunion]",
			"small.yaml:77:11: channels[0].via[0]: unknown institution \"netsunion\""},
		{"product id not institution.name", "  - id: alipay.huabei", "  - id: alipay.credit",
			"small.yaml:48:9: products[1].id: \"alipay.credit\" must be \"alipay.huabei\" (institution.name)"},
		{"product of unknown institution", "    institution: wechat\n    name: change", "    institution: weixin\n    name: change",
			"small.yaml:56:18: products[2].institution: unknown institution \"weixin\""},
		{"unknown holder of a product", "    holders: [me, friend]", "    holders: [me, friends]",
			"small.yaml:70:19: products[3].holders[1]: unknown holder \"friends\""},
		{"institution kind enum", "    kind: clearing_house", "    kind: clearinghouse",
			"small.yaml:41:11: institutions[3].kind: \"clearinghouse\" is not one of payment_institution, bank, credit_issuer, clearing_house, central_bank, intermediary, merchant_acquirer"},
		{"channel kind enum", "    kind: top_up", "    kind: topup",
			"small.yaml:95:11: channels[1].kind: \"topup\" is not one of top_up, withdraw, transfer, pay, repay, interbank, exchange, cash_out_service"},
		{"clearing mode enum", "      mode: t0", "      mode: t+0",
			"small.yaml:28:13: institutions[1].clearing.mode: \"t+0\" is not one of realtime, t0, t1"},
		{"no default holder", "    default: true", "    default: false",
			"small.yaml:7:1: holders: exactly one holder must have default: true (the holder a query means when it names none)"},
		{"two default holders", "    kyc_level: 2", "    kyc_level: 2\n    default: true",
			"small.yaml:17:14: holders[1].default: only one holder may be the default"},
		{"negative fee rate", "      rate_bps: 10", "      rate_bps: -5",
			"small.yaml:79:17: channels[0].fee.rate_bps: must be ≥ 0"},
		{"fee max below min", "      min_fen: 10", "      min_fen: 10\n      max_fen: 5",
			"small.yaml:81:16: channels[0].fee.max_fen: must be ≥ min_fen when set"},
		{"negative limit", "      per_txn_fen: 5000000", "      per_txn_fen: -1",
			"small.yaml:83:20: channels[0].limits.per_txn_fen: must be ≥ 0 (0 means no limit)"},
		{"inconsistent limits", "      per_day_fen: 5000000", "      per_day_fen: 100000",
			"small.yaml:84:20: channels[0].limits.per_day_fen: 100000 is less than per_txn_fen (5000000); a larger period must allow at least as much"},
		{"success zero", "    success: 0.95", "    success: 0",
			"small.yaml:103:14: channels[1].success: 0 must be a probability in (0, 1]"},
		{"success above one", "    success: 0.999", "    success: 1.5",
			"small.yaml:116:14: channels[2].success: 1.5 must be a probability in (0, 1]"},
		{"lognormal p95 not above p50", "      p95: 30m", "      p95: 5m",
			"small.yaml:88:12: channels[0].latency.p95: must be greater than p50 (5m0s) for a lognormal"},
		{"uniform min above max", "      min: 1m", "      min: 3h",
			"small.yaml:102:12: channels[1].latency.max: must be ≥ min (3h0m0s)"},
		{"latency field the dist ignores", "      dist: instant", "      dist: instant\n      p50: 1s",
			"small.yaml:116:12: channels[2].latency.p50: is not used by dist instant (it uses none)"},
		{"latency dist enum", "      dist: uniform", "      dist: normal",
			"small.yaml:100:13: channels[1].latency.dist: \"normal\" is not one of instant, fixed, lognormal, uniform"},
		{"clearing window malformed", `        - open: "09:00"`, `        - open: "9am"`,
			"small.yaml:37:17: institutions[2].clearing.windows[0].open: \"9am\" must be a local time \"HH:MM\" (00:00 to 23:59)"},
		{"clearing window reversed", `          close: "17:00"`, `          close: "08:00"`,
			"small.yaml:38:18: institutions[2].clearing.windows[0].close: must be later than open (09:00)"},
		{"valid_until before valid_from", "    valid_until: 2030-01-01T00:00:00+08:00", "    valid_until: 2015-01-01",
			"small.yaml:108:18: channels[1].valid_until: must be later than valid_from (2016-03-01T00:00:00Z)"},
		{"duplicate tier name", "          per_year_fen: 10000000", "          per_year_fen: 10000000\n      - name: class_ii\n        min_kyc_level: 3",
			"small.yaml:65:15: products[2].tiers[1].name: duplicate tier name \"class_ii\""},
		{"rule scope enum", "    scope: hop", "    scope: payment",
			"small.yaml:121:12: rules[0].scope: \"payment\" is not one of hop, route"},
		{"rule without citation", "    citation: PBOC Measures for Online Payment Business (2015) art. 11", "    citation: \"\"",
			"small.yaml:124:15: rules[0].citation: must not be empty: the regulation and article the rule enforces"},
		{"calibration amount", `      amount: "1000"`, `      amount: "1000.001"`,
			"small.yaml:132:15: calibration[0].query.amount: \"1000.001\": amount has more than two decimals (the smallest unit is 0.01 yuan)"},
		{"calibration unknown product", "      from: alipay.balance\n      to: bank_a.debit\n      amount", "      from: alipay.balanse\n      to: bank_a.debit\n      amount",
			"small.yaml:130:13: calibration[0].query.from: unknown product \"alipay.balanse\" (did you mean \"alipay.balance\"?)"},
		{"calibration without metric", "    metric: cost_ratio", "    metric: \"\"",
			"small.yaml:133:13: calibration[0].metric: must name a metric such as time_mean_s, cost_ratio or failure_rate"},
		{"missing field falls back to its parent", "    institution: wechat\n    latency:\n      dist: instant", "    latency:\n      dist: instant",
			"small.yaml:109:5: channels[2].institution: must name an institution"},
		{"bad currency", "currency: CNY", "currency: yuan",
			"small.yaml:5:11: currency: \"yuan\" must be a three-letter ISO 4217 code such as \"CNY\""},
		{"bad timezone", "timezone: Asia/Shanghai", "timezone: Asia/Beijing",
			"small.yaml:6:11: timezone: \"Asia/Beijing\" is not an IANA time zone name such as \"Asia/Shanghai\""},
	}
	base := readSmall(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("small.yaml", []byte(mutate(t, base, tt.old, tt.new)))
			var ee *Error
			if !errors.As(err, &ee) {
				t.Fatalf("Load() error = %v, want an *Error", err)
			}
			var got []string
			for _, p := range ee.Problems {
				got = append(got, p.Error())
			}
			if len(got) != 1 || got[0] != tt.want {
				t.Fatalf("problems:\n  %s\nwant exactly:\n  %s", strings.Join(got, "\n  "), tt.want)
			}
			if strings.Contains(err.Error(), "\n") != (len(ee.Problems) > 1) {
				t.Fatalf("message is not one line per problem: %q", err.Error())
			}
		})
	}
}

func TestLoadWholeFileProblems(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"empty", "", "small.yaml: the file is empty; an ecosystem needs at least id, name, currency, holders, institutions, products and channels"},
		{"comment only", "# nothing\n", "small.yaml: the file is empty; an ecosystem needs at least id, name, currency, holders, institutions, products and channels"},
		{"two documents", "id: a\n---\nid: b\n", "small.yaml:3:1: more than one YAML document; an ecosystem file holds exactly one"},
		{"a list, not a mapping", "- a\n- b\n", "small.yaml:1:1: must be a mapping of fields (id, name, description, currency, timezone, holders, institutions, products, channels, rules, calibration)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load("small.yaml", []byte(tt.src))
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load() error =\n  %v\nwant\n  %s", err, tt.want)
			}
		})
	}
}

// TestLoadManyProblemsGolden loads a file with many mistakes and compares the
// whole message with testdata/many-problems.golden (go test -rewrite updates it).
func TestLoadManyProblemsGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "many-problems.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Load("many-problems.yaml", data)
	if err == nil {
		t.Fatal("Load(many-problems.yaml) succeeded")
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "many-problems.golden")
	if *rewrite {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatalf("message differs from %s (run go test -rewrite to update after checking):\n%s", golden, got)
	}
	if n := strings.Count(got, "\n"); n < 10 {
		t.Fatalf("only %d problems reported; the file has more", n)
	}
}

func TestShapeProblemsAreAllReported(t *testing.T) {
	src := readSmall(t)
	src = strings.Replace(src, "      rate_bps: 10", "      rate_bps: ten", 1)
	src = strings.Replace(src, "      p50: 5m", "      p50: five", 1)
	src = strings.Replace(src, "    tags: [official]", "    tag: [official]", 1)
	_, err := Load("x.yaml", []byte(src))
	var ee *Error
	if !errors.As(err, &ee) || len(ee.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestLoadFile(t *testing.T) {
	e, err := LoadFile(filepath.Join("testdata", "small.yaml"))
	if err != nil || e.ID != "small" {
		t.Fatalf("LoadFile = %v, %v", e, err)
	}
	if _, err := LoadFile(filepath.Join("testdata", "no-such.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadFile(missing) = %v, want not-exist", err)
	}
}

func TestLoadRunsChecks(t *testing.T) {
	check := func(e *Ecosystem) []Problem {
		return []Problem{{Path: "rules[0].when", Reason: "undeclared reference to 'x'"}}
	}
	_, err := Load("small.yaml", []byte(readSmall(t)), check)
	if err == nil || err.Error() != "small.yaml:122:11: rules[0].when: undeclared reference to 'x'" {
		t.Fatalf("Load with a failing check = %v", err)
	}
}

func TestSuggest(t *testing.T) {
	e, err := Load("small.yaml", []byte(readSmall(t)))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]string{
		"alipay.huabie":  "alipay.huabei",
		"huabei":         "alipay.huabei",
		"wechat.changes": "wechat.change",
		"wechat":         "wechat.change",
		"alipay":         "alipay.balance,alipay.huabei",
		"bank_a.credit":  "bank_a.debit",
		"zzz.qqq":        "",
		"":               "",
	}
	for in, want := range tests {
		if got := strings.Join(e.Suggest(in), ","); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
