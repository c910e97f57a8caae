package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/route"
)

// TestRouteEndToEnd builds the real binary once and runs `paybridge route`
// the way a user does: the seed's question, JSON output, determinism, and
// every kind of bad input (exit 2, one line naming the flag).
func TestRouteEndToEnd(t *testing.T) {
	bin := buildPaybridge(t)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		r := runPaybridge(t, bin, args...)
		return r.stdout, r.stderr, r.code
	}
	seed := []string{"route", "--from", "alipay.huabei", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000"}

	t.Run("the seed's question answered", func(t *testing.T) {
		out, errOut, code := run(seed...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		for _, want := range []string{"No allowed route.", "Refused routes", "credit-cash-out", "icbc_online_banking_to_wechat", "app switches 4", "Allowed routes", "alipay_wechat_direct"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("json contract and determinism", func(t *testing.T) {
		args := append(append([]string{}, seed...), "--json", "--seed", "5")
		out1, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		out2, _, _ := run(args...)
		if out1 != out2 {
			t.Fatal("the same query and seed printed different JSON")
		}
		var doc struct {
			Query  map[string]any   `json:"query"`
			Routes []map[string]any `json:"routes"`
		}
		if err := json.Unmarshal([]byte(out1), &doc); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out1)
		}
		if doc.Query["from"] != "alipay.huabei" || len(doc.Routes) == 0 {
			t.Fatalf("query %v, %d routes", doc.Query, len(doc.Routes))
		}
		for _, key := range []string{"id", "verdict", "hops", "sent_fen", "delivered_fen", "fee_fen", "cost_ratio", "time_mean_s", "time_p50_s", "time_p95_s", "success", "app_switches", "findings"} {
			if _, ok := doc.Routes[0][key]; !ok {
				t.Errorf("route lacks %q", key)
			}
		}
		hop := doc.Routes[0]["hops"].([]any)[0].(map[string]any)
		for _, key := range []string{"channel", "from", "to", "institution", "app", "fee_fen", "time_p50_s", "time_p95_s", "success"} {
			if _, ok := hop[key]; !ok {
				t.Errorf("hop lacks %q", key)
			}
		}
		finding := doc.Routes[0]["findings"].([]any)[0].(map[string]any)
		for _, key := range []string{"rule", "effect", "citation", "message"} {
			if _, ok := finding[key]; !ok {
				t.Errorf("finding lacks %q", key)
			}
		}
		id := doc.Routes[0]["id"].(string)
		one, _, code := run(append(args[:len(args)-2:len(args)-2], "--route", id)...)
		if code != 0 || !strings.Contains(one, `"id": "`+id+`"`) || strings.Count(one, `"verdict"`) != 1 {
			t.Fatalf("--route %s: exit %d\n%s", id, code, one)
		}
	})

	t.Run("advisory policy warns", func(t *testing.T) {
		out, errOut, code := run(append(append([]string{}, seed...), "--policy", "advisory", "--objective", "cost")...)
		if code != 0 || !strings.Contains(out, "warned") || !strings.Contains(out, "policy advisory") {
			t.Fatalf("exit %d %s\n%s", code, errOut, out)
		}
	})

	bad := []struct {
		name string
		args []string
		want string
	}{
		{"zero amount", []string{"--amount", "0"}, "--amount"},
		{"negative amount", []string{"--amount", "-5"}, "--amount"},
		{"non-numeric amount", []string{"--amount", "ten"}, "--amount"},
		{"three decimals", []string{"--amount", "1.234"}, "--amount"},
		{"overflow", []string{"--amount", "99999999999999999999"}, "--amount"},
		{"unknown product", []string{"--from", "alipay.huabie"}, `did you mean "alipay.huabei"`},
		{"unknown objective", []string{"--objective", "fastest"}, "--objective"},
		{"unknown policy", []string{"--policy", "lax"}, "--policy"},
		{"bad time", []string{"--at", "tomorrow"}, "--at"},
		{"too many hops", []string{"--max-hops", "99"}, "--max-hops"},
		{"unknown holder", []string{"--to-holder", "nobody"}, "--to-holder"},
		{"unknown ecosystem", []string{"--ecosystem", "mars-2099"}, "--ecosystem"},
		{"unknown route id", []string{"--route", "ffffffff"}, "--route"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{}, seed...), tt.args...)
			out, errOut, code := run(args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2; stdout %q stderr %q", code, out, errOut)
			}
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], tt.want) || strings.Contains(errOut, "goroutine") {
				t.Fatalf("stderr %q, want one line containing %q", errOut, tt.want)
			}
		})
	}
	t.Run("missing amount", func(t *testing.T) {
		_, errOut, code := run("route", "--from", "alipay.balance", "--to", "wechat.change")
		if code != 2 || !strings.Contains(errOut, "--amount is required") {
			t.Fatalf("exit %d stderr %q", code, errOut)
		}
	})
}

// TestRoutePlansForNow: without --at, route plans with the channels in force
// on the caller's clock (a channel not yet or no longer in force is left out,
// with a note on stderr); with --at, the planner's own dating applies.
func TestRoutePlansForNow(t *testing.T) {
	facts, err := os.ReadFile(filepath.Join("..", "..", "ecosystems", "cn-facts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// A what-if: WeChat's withdrawal as dated in cn-facts, and withdrawn on 2020-01-01.
	const from = "    valid_from: 2016-03-01T00:00:00+08:00\n"
	if !strings.Contains(string(facts), from) {
		t.Fatal("cn-facts.yaml no longer dates wechat_withdraw from 2016-03-01")
	}
	expired := filepath.Join(t.TempDir(), "expired.yaml")
	world := strings.Replace(string(facts), from, from+"    valid_until: 2020-01-01T00:00:00+08:00\n", 1)
	if err := os.WriteFile(expired, []byte(world), 0o644); err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("CST", 8*3600)
	saved := routeClock
	t.Cleanup(func() { routeClock = saved })

	tests := []struct {
		name      string
		ecosystem string
		now       time.Time
		at        string
		used      bool   // whether wechat_withdraw is among the routes
		note      string // in stderr, "" for none
	}{
		{"in force now", "cn-facts", time.Date(2026, 11, 29, 10, 0, 0, 0, cst), "", true, ""},
		{"not yet in force", "cn-facts", time.Date(2016, 1, 1, 10, 0, 0, 0, cst), "", false, "channel wechat_withdraw is not in force on 2016-01-01 (in force from 2016-03-01)"},
		{"no longer in force", expired, time.Date(2026, 11, 29, 10, 0, 0, 0, cst), "", false, "channel wechat_withdraw is not in force on 2026-11-29 (in force from 2016-03-01 until 2020-01-01)"},
		{"--at picks the time, not the clock", expired, time.Date(2026, 11, 29, 10, 0, 0, 0, cst), "2019-06-03T10:00:00+08:00", true, ""},
		{"--at after the end", expired, time.Date(2018, 1, 1, 10, 0, 0, 0, cst), "2021-06-03T10:00:00+08:00", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			routeClock = clock.NewVirtual(tc.now)
			var out, errOut bytes.Buffer
			cmd := &cobra.Command{}
			cmd.SetOut(&out)
			cmd.SetErr(&errOut)
			f := routeFlags{from: "wechat.change", to: "cmb.debit", amount: "1000", objective: "balanced", policy: "strict",
				maxHops: route.DefaultMaxHops, seed: 1, ecosystem: tc.ecosystem, at: tc.at, asJSON: true}
			if err := runRoute(cmd, f); err != nil {
				t.Fatalf("route: %v (stderr %q)", err, errOut.String())
			}
			var res route.Result
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out.String())
			}
			used := false
			for _, r := range res.Routes {
				used = used || slices.Contains(r.Channels(), "wechat_withdraw")
			}
			if used != tc.used {
				t.Errorf("wechat_withdraw used: %v, want %v (%d routes)", used, tc.used, len(res.Routes))
			}
			if tc.note == "" && errOut.Len() > 0 || !strings.Contains(errOut.String(), tc.note) {
				t.Errorf("stderr %q, want %q", errOut.String(), tc.note)
			}
			if tc.at == "" && res.Query.At != "" {
				t.Errorf("an undated plan reports at %q: clearing windows must not apply", res.Query.At)
			}
		})
	}
}

// TestChannelsInForce: valid_from is inclusive, valid_until exclusive, an
// unset bound open; the world itself is not changed, and is returned as it
// is when every channel is in force.
func TestChannelsInForce(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2020, 1, d, 0, 0, 0, 0, time.UTC) }
	eco := &ecosystem.Ecosystem{Channels: []ecosystem.Channel{
		{ID: "always"},
		{ID: "from2", ValidFrom: day(2)},
		{ID: "until3", ValidUntil: day(3)},
		{ID: "from2until3", ValidFrom: day(2), ValidUntil: day(3)},
	}}
	tests := []struct {
		at   time.Time
		kept []string
	}{
		{day(1), []string{"always", "until3"}},
		{day(2), []string{"always", "from2", "until3", "from2until3"}},
		{day(2).Add(23 * time.Hour), []string{"always", "from2", "until3", "from2until3"}},
		{day(3), []string{"always", "from2"}},
		{day(3).Add(-time.Nanosecond), []string{"always", "from2", "until3", "from2until3"}},
	}
	for _, tc := range tests {
		got, left := channelsInForce(eco, tc.at)
		var ids []string
		for _, ch := range got.Channels {
			ids = append(ids, ch.ID)
		}
		if !slices.Equal(ids, tc.kept) || len(ids)+len(left) != len(eco.Channels) {
			t.Errorf("at %s: kept %v (left %d), want %v", tc.at, ids, len(left), tc.kept)
		}
		if len(left) == 0 && got != eco {
			t.Errorf("at %s: a copy although every channel is in force", tc.at)
		}
		if len(eco.Channels) != 4 {
			t.Fatal("channelsInForce changed the world it was given")
		}
		for _, id := range tc.kept {
			if _, ok := got.Channel(id); !ok {
				t.Errorf("at %s: %s kept but not found by lookup (index not rebuilt)", tc.at, id)
			}
		}
	}
}
