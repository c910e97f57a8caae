package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
)

// whatIfEcosystem writes cn-2023 with the seed's move-money service added
// (four payers p1..p4, an intermediary mid, four payees q1..q4) and a
// merchant cash-back channel the cycle scheme abuses, and returns its path.
func whatIfEcosystem(t *testing.T, dir string) string {
	t.Helper()
	eco, err := ecosystems.Load("cn-2023")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2", "p3", "p4", "mid", "q1", "q2", "q3", "q4"} {
		eco.Holders = append(eco.Holders, ecosystem.Holder{ID: id, Name: "what-if " + id, Kind: ecosystem.HolderPerson, KYCLevel: 3})
	}
	ch, ok := eco.Channel("alipay_transfer")
	if !ok {
		t.Fatal("cn-2023 has no alipay_transfer")
	}
	back := *ch
	back.ID, back.Name, back.From = "taobao_cashback", "A shop's cash back to a person's Alipay balance", "alipay.merchant"
	eco.Channels = append(eco.Channels, back)
	eco.Reindex()
	if err := eco.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := ecosystem.Marshal(eco)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "what-if.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestRiskWatchEndToEnd runs real 'paybridge pay' commands that form the
// seed's intermediary scheme and a credit cycle in one ledger, then 'risk
// watch' finds both, 'risk cases' lists them, and a second watch files
// nothing new.
func TestRiskWatchEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	eco := whatIfEcosystem(t, dir)
	db, cases := filepath.Join(dir, "pay.db"), filepath.Join(dir, "risk.db")
	pay := payer(t, bin, eco, db)
	watch := func(args ...string) binaryRun {
		t.Helper()
		r := runPaybridge(t, bin, append([]string{"risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases}, args...)...)
		if r.code != 0 {
			t.Fatalf("risk watch %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
		return r
	}
	min := time.Minute
	// A control payment, then a first watch: nothing found.
	pay("alipay.balance", "alipay.balance", "me", "friend", "alipay_transfer", 200, 1*min)
	if r := watch("--json"); r.stdout != "" {
		t.Fatalf("control payment raised findings:\n%s", r.stdout)
	}
	// Intermediary: four holders' Huabei money reaches mid, which pays 88% on to four others.
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		pay("alipay.huabei", "alipay.balance", p, p, "huabei_topup_balance", 5000, time.Duration(10+2*i)*min)
		pay("alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(11+2*i)*min)
	}
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		pay("alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*min)
	}
	// Cycle: Huabei spent at the shop comes back to the payer minus 5%.
	pay("alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 1000, 60*min)
	pay("alipay.merchant", "alipay.balance", "taobao_shop", "me", "taobao_cashback", 950, 70*min)

	r := watch("--json")
	holders := map[string][]string{}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	for _, line := range lines {
		var res struct {
			Seq      uint64 `json:"seq"`
			Decision struct {
				Verdict string `json:"verdict"`
				Matches []struct {
					Rule    string         `json:"rule"`
					Values  map[string]any `json:"values"`
					Pattern *struct {
						Family  string   `json:"family"`
						Holders []string `json:"holders"`
					} `json:"pattern"`
				} `json:"matches"`
			} `json:"decision"`
			Cases []int64 `json:"cases"`
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("watch --json line %q: %v", line, err)
		}
		if res.Decision.Verdict == "allow" && len(res.Decision.Matches) == 0 {
			t.Errorf("watch printed an allow decision: %s", line)
		}
		if len(res.Cases) == 0 {
			t.Errorf("finding at seq %d filed into no case", res.Seq)
		}
		for _, m := range res.Decision.Matches {
			if len(m.Values) == 0 {
				t.Errorf("rule %s matched without feature values", m.Rule)
			}
			if m.Pattern != nil {
				holders[m.Pattern.Family] = append(holders[m.Pattern.Family], m.Pattern.Holders...)
			}
		}
	}
	for fam, want := range map[string][]string{"gather-scatter": {"mid", "p1", "q1"}, "cycle": {"me", "taobao_shop"}} {
		for _, h := range want {
			if !slices.Contains(holders[fam], h) {
				t.Errorf("%s holders %v lack %s\n%s", fam, holders[fam], h, r.stdout)
			}
		}
	}
	if !strings.Contains(r.stderr, "alerts filed") {
		t.Errorf("watch summary missing on stderr: %q", r.stderr)
	}

	out := runPaybridge(t, bin, "risk", "cases", "--db", cases, "--json")
	var listed []struct {
		ID     int64  `json:"id"`
		Holder string `json:"holder"`
		Family string `json:"family"`
		Alerts int    `json:"alerts"`
	}
	if out.code != 0 || json.Unmarshal([]byte(out.stdout), &listed) != nil {
		t.Fatalf("risk cases: exit %d %q %q", out.code, out.stdout, out.stderr)
	}
	found := map[string]bool{}
	alerts := 0
	for _, c := range listed {
		found[c.Family+"/"+c.Holder] = true
		alerts += c.Alerts
	}
	// Each case is the holder's the pattern names: the intermediary, and
	// for the cycle the holder whose credit line it cashed out (not the
	// shop that paid the closing cash back).
	for _, k := range []string{"gather-scatter/mid", "cycle/me", "credit-cash-out/me"} {
		if !found[k] {
			t.Errorf("risk cases lacks %s: %+v", k, listed)
		}
	}

	// Re-running files nothing new: same cases, same alert count, no findings printed.
	again := watch("--json")
	if again.stdout != "" {
		t.Errorf("second watch printed findings:\n%s", again.stdout)
	}
	out = runPaybridge(t, bin, "risk", "cases", "--db", cases, "--json")
	var relisted []struct {
		Alerts int `json:"alerts"`
	}
	if err := json.Unmarshal([]byte(out.stdout), &relisted); err != nil {
		t.Fatal(err)
	}
	realerts := 0
	for _, c := range relisted {
		realerts += c.Alerts
	}
	if len(relisted) != len(listed) || realerts != alerts {
		t.Errorf("second watch changed the cases: %d cases %d alerts, then %d cases %d alerts", len(listed), alerts, len(relisted), realerts)
	}

	// Without the what-if world the cash-back channel is unknown: exit 2 naming --ecosystem.
	if r := runPaybridge(t, bin, "risk", "watch", "--db", db, "--cases", filepath.Join(dir, "other.db")); r.code != 2 || !strings.Contains(r.stderr, "--ecosystem") || !strings.Contains(r.stderr, "taobao_cashback") {
		t.Errorf("watch in the wrong world: exit %d, %q", r.code, r.stderr)
	}

	// The human form names the rule, the pattern and its members.
	human := runPaybridge(t, bin, "risk", "watch", "--db", db, "--ecosystem", eco, "--cases", filepath.Join(dir, "fresh.db"))
	t.Logf("risk watch (human):\n%s%s", human.stdout, human.stderr)
	for _, s := range []string{"rule gather-scatter", "pattern gather-scatter: holders", "values:", "addressed to mid (intermediary)", "addressed to me (credit-holder)", "filed into case"} {
		if !strings.Contains(human.stdout, s) {
			t.Errorf("human output lacks %q:\n%s", s, human.stdout)
		}
	}
}

// payer returns a function running one 'paybridge pay' into db at a time
// after 10:00 on the virtual epoch. A hop that fails by the channel's
// success probability is refunded and retried with the next seed, as a
// user would (the refunded attempt posts no hop, so the engine never sees it).
func payer(t *testing.T, bin, eco, db string) func(from, to, fromHolder, toHolder, channel string, yuan int, at time.Duration) {
	start := time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	return func(from, to, fromHolder, toHolder, channel string, yuan int, at time.Duration) {
		t.Helper()
		var r binaryRun
		for seed := 1; seed <= 10; seed++ {
			r = runPaybridge(t, bin, "pay", "--db", db, "--ecosystem", eco, "--policy", "advisory",
				"--from", from, "--to", to, "--from-holder", fromHolder, "--to-holder", toHolder,
				"--channels", channel, "--amount", fmt.Sprint(yuan), "--seed", fmt.Sprint(seed),
				"--at", start.Add(at).Format(time.RFC3339), "--json")
			if r.code == 0 || !strings.Contains(r.stdout, `"state":"refunded"`) {
				break
			}
		}
		if r.code != 0 {
			t.Fatalf("pay %s %s→%s: exit %d\n%s%s", channel, fromHolder, toHolder, r.code, r.stdout, r.stderr)
		}
	}
}

// TestRiskWatchFollow runs watch --follow while payments arrive from other
// processes, sees the intermediary scheme, and stops cleanly on SIGINT.
func TestRiskWatchFollow(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	eco := whatIfEcosystem(t, dir)
	db, cases := filepath.Join(dir, "pay.db"), filepath.Join(dir, "risk.db")
	pay := payer(t, bin, eco, db)
	pay("alipay.balance", "alipay.balance", "me", "friend", "alipay_transfer", 200, time.Minute) // creates the ledger
	cmd := exec.Command(bin, "risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases, "--follow", "--interval", "50ms", "--json")
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for i, p := range []string{"p1", "p2", "p3", "p4"} {
		pay("alipay.balance", "alipay.balance", p, "mid", "alipay_transfer", 5000, time.Duration(10+i)*time.Minute)
	}
	for i, q := range []string{"q1", "q2", "q3", "q4"} {
		pay("alipay.balance", "alipay.balance", "mid", q, "alipay_transfer", 4400, time.Duration(30+i)*time.Minute)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), `"family":"gather-scatter"`) {
		if time.Now().After(deadline) {
			t.Fatalf("watch --follow found no gather-scatter in 30 s\nstdout %s\nstderr %s", stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("watch --follow after SIGINT: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "alerts filed") {
		t.Errorf("no summary after SIGINT: %q", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRiskWatchApply: a mule chain made with real 'paybridge pay' runs
// (credit-funded money reaches mid, who withdraws the same amount minutes
// later) and a credit cycle (me's Huabei money spent at a shop comes back
// as cash back); 'risk watch --apply' freezes mid and cuts me's Huabei
// line (the holder whose credit the cycle cashed out, not the shop that
// paid the closing hop): mid's next payment is rejected as frozen, me's
// Huabei draw beyond the cut limit is rejected, and a second --apply run
// changes nothing.
func TestRiskWatchApply(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	eco := whatIfEcosystem(t, dir)
	db, cases := filepath.Join(dir, "pay.db"), filepath.Join(dir, "risk.db")
	pay := payer(t, bin, eco, db)
	pay("alipay.huabei", "alipay.balance", "p1", "p1", "huabei_topup_balance", 3000, 0)
	pay("alipay.balance", "alipay.balance", "p1", "mid", "alipay_transfer", 3000, 5*time.Minute)
	pay("alipay.balance", "icbc.debit", "mid", "mid", "alipay_withdraw", 3000, 20*time.Minute)
	// Before the cut, me could draw 19,000 more yuan of its 20,000 Huabei line.
	pay("alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 1000, 30*time.Minute)
	pay("alipay.merchant", "alipay.balance", "taobao_shop", "me", "taobao_cashback", 950, 40*time.Minute)

	if r := runPaybridge(t, bin, "risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases, "--apply", "--follow"); r.code != 2 || !strings.Contains(r.stderr, "--apply") {
		t.Errorf("--apply --follow: exit %d %q, want 2", r.code, r.stderr)
	}
	r := runPaybridge(t, bin, "risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases, "--apply", "--json")
	if r.code != 0 {
		t.Fatalf("watch --apply: exit %d %s", r.code, r.stderr)
	}
	type finding struct {
		Decision struct {
			Subject string `json:"subject"`
			Matches []struct {
				Rule   string `json:"rule"`
				Target struct {
					Holder string `json:"holder"`
					Role   string `json:"role"`
					Reason string `json:"reason"`
				} `json:"target"`
			} `json:"matches"`
		} `json:"decision"`
		Applied    []string `json:"applied"`
		NotApplied []string `json:"not_applied"`
	}
	var frozen, cut bool
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var res finding
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("watch --apply --json line %q: %v", line, err)
		}
		if len(res.NotApplied) > 0 {
			t.Errorf("actions not applied: %v", res.NotApplied)
		}
		for _, m := range res.Decision.Matches {
			switch {
			case strings.HasPrefix(m.Rule, "mule-"):
				frozen = frozen || res.Decision.Subject == "mid" && m.Target.Holder == "mid" && m.Target.Role == "mule" && slices.Contains(res.Applied, "freeze")
			case m.Rule == "cycle":
				cut = res.Decision.Subject == "taobao_shop" && m.Target.Holder == "me" && m.Target.Role == "credit-holder" && strings.Contains(m.Target.Reason, "me") &&
					slices.Contains(res.Applied, "cut_credit_limit:80 on me")
			}
		}
	}
	if !frozen || !cut {
		t.Fatalf("mid frozen as the mule: %v; me's credit line cut for the shop's cash back: %v\n%s", frozen, cut, r.stdout)
	}
	start := time.Date(2023, 5, 5, 11, 0, 0, 0, time.FixedZone("CST", 8*3600))
	p := runPaybridge(t, bin, "pay", "--db", db, "--ecosystem", eco, "--policy", "advisory", "--from", "alipay.balance", "--to", "alipay.balance",
		"--from-holder", "mid", "--to-holder", "q1", "--channels", "alipay_transfer", "--amount", "100", "--at", start.Format(time.RFC3339))
	if p.code != 1 || !strings.Contains(p.stderr, "rejected") || !strings.Contains(p.stderr, "frozen") {
		t.Errorf("payment from frozen mid: exit %d, %q; want rejected as frozen", p.code, p.stderr)
	}
	// me's line is now 4,000 yuan with 1,000 drawn: 3,500 more is refused, 2,000 still goes.
	p = runPaybridge(t, bin, "pay", "--db", db, "--ecosystem", eco, "--policy", "advisory", "--from", "alipay.huabei", "--to", "alipay.merchant",
		"--from-holder", "me", "--to-holder", "taobao_shop", "--channels", "huabei_pay_taobao", "--amount", "3500", "--at", start.Add(5*time.Minute).Format(time.RFC3339))
	if p.code != 1 || !strings.Contains(p.stderr, "rejected") {
		t.Errorf("3,500 yuan on me's cut Huabei line: exit %d, %q; want rejected", p.code, p.stderr)
	}
	pay("alipay.huabei", "alipay.merchant", "me", "taobao_shop", "huabei_pay_taobao", 2000, 66*time.Minute)
	// Money can still reach mid.
	pay("alipay.balance", "alipay.balance", "q1", "mid", "alipay_transfer", 50, 70*time.Minute)
	again := runPaybridge(t, bin, "risk", "watch", "--db", db, "--ecosystem", eco, "--cases", cases, "--apply", "--json")
	if again.code != 0 || strings.Contains(again.stdout, `"applied"`) {
		t.Errorf("second --apply: exit %d, %q; want nothing applied again", again.code, again.stdout)
	}
}

// TestRiskWatchRecreatedLedger: a case database whose cursor was saved for
// a ledger since replaced at the same path is refused, naming --cases,
// rather than silently reporting nothing.
func TestRiskWatchRecreatedLedger(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	db, cases := filepath.Join(dir, "pay.db"), filepath.Join(dir, "risk.db")
	pay := func(yuan string) {
		t.Helper()
		if r := runPaybridge(t, bin, "pay", "--db", db, "--from", "alipay.balance", "--to", "alipay.balance", "--to-holder", "friend",
			"--channels", "alipay_transfer", "--amount", yuan); r.code != 0 {
			t.Fatalf("pay: exit %d %s", r.code, r.stderr)
		}
	}
	pay("200")
	pay("300")
	if r := runPaybridge(t, bin, "risk", "watch", "--db", db, "--cases", cases); r.code != 0 {
		t.Fatalf("watch: exit %d %s", r.code, r.stderr)
	}
	matches, _ := filepath.Glob(db + "*")
	for _, m := range matches {
		if err := os.Remove(m); err != nil {
			t.Fatal(err)
		}
	}
	pay("200")
	r := runPaybridge(t, bin, "risk", "watch", "--db", db, "--cases", cases)
	if r.code != 2 || !strings.Contains(r.stderr, "--cases") || !strings.Contains(r.stderr, "beyond the end of the outbox") {
		t.Errorf("watch over a recreated ledger: exit %d, %q; want exit 2 naming --cases", r.code, r.stderr)
	}
}

// TestRiskWatchUsage checks watch's errors name the flag and exit 2.
func TestRiskWatchUsage(t *testing.T) {
	dir := t.TempDir()
	bin := buildPaybridge(t)
	ledgerDB, notDB := filepath.Join(dir, "pay.db"), filepath.Join(dir, "not.db")
	if r := runPaybridge(t, bin, "pay", "--db", ledgerDB, "--from", "alipay.balance", "--to", "alipay.balance", "--to-holder", "friend",
		"--channels", "alipay_transfer", "--amount", "200"); r.code != 0 {
		t.Fatalf("pay: exit %d %s", r.code, r.stderr)
	}
	if err := os.WriteFile(notDB, []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--db", ledgerDB, "--ecosystem", "cn-facts"}, "--ecosystem"},
		{[]string{"--db", notDB}, "--db " + notDB},
		{[]string{"--db", ledgerDB, "--cases", filepath.Join(dir, "no", "such", "dir", "c.db")}, "--cases"},
		{[]string{"--db", filepath.Join(dir, "missing.db")}, "--db"},
		{[]string{"--db", ""}, "--db"},
		{[]string{"--interval", "1ns"}, "--interval"},
		{[]string{"--rules", filepath.Join(dir, "missing.yaml")}, "--rules"},
	} {
		r := runPaybridge(t, bin, append([]string{"risk", "watch", "--cases", filepath.Join(dir, "c.db")}, tc.args...)...)
		if tc.flag == "--db "+notDB {
			if b, _ := os.ReadFile(notDB); string(b) != "hello\n" {
				t.Errorf("watch changed a file that is not a ledger: %q", b)
			}
		}
		if r.code != 2 || !strings.Contains(r.stderr, tc.flag) {
			t.Errorf("watch %v: exit %d, stderr %q; want exit 2 naming %s", tc.args, r.code, r.stderr, tc.flag)
		}
	}
}
