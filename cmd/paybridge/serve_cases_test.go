package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type e2eCase struct {
	ID     int64  `json:"id"`
	Holder string `json:"holder"`
	Family string `json:"family"`
	State  string `json:"state"`
	Alerts int    `json:"alerts"`
	Reason string `json:"reason"`
}

// runToRest advances the manual clock until payment id stops running and
// returns its state.
func (s *server) runToRest(key, id string) string {
	s.t.Helper()
	for range 200 {
		var p e2ePayment
		if code := s.call("GET", "/v1/payments/"+id, key, "", &p); code != 200 {
			s.t.Fatalf("GET %s: %d", id, code)
		}
		if p.State != "running" {
			return p.State
		}
		s.call("POST", "/v1/clock/advance", key, `{"seconds":300}`, nil)
		time.Sleep(10 * time.Millisecond)
	}
	s.t.Fatalf("payment %s never came to rest", id)
	return ""
}

// TestServeRiskCasesEndToEnd runs the real binary with --risk on: the
// seed's intermediary scheme paid through the API opens a gather-scatter
// case for the intermediary while the server runs; the case is resolved
// through the API, and after a restart it reads back resolved, the feed
// restores its snapshot and files nothing twice. Keys, ledger verify and the
// ecosystem endpoints are checked against the CLI on the same files.
func TestServeRiskCasesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := buildPaybridge(t)
	eco := whatIfEcosystem(t, dir)
	db := filepath.Join(dir, "pb.db")
	args := []string{"--db", db, "--ecosystem", eco, "--clock", "manual", "--risk", "on"}
	s := startServe(t, bin, args...)
	admin := s.key
	if admin == "" {
		t.Fatalf("no admin key:\n%s", s.log())
	}
	// The seed's intermediary scheme: four payers each send 5,000 yuan of
	// their own balance to mid, which pays 4,400 on to each of four others.
	// (A credit cycle cannot be paid here: serve plans under the strict
	// policy, which refuses its cash-back hop before risk sees it.)
	pay := func(from, to string, yuan int) {
		t.Helper()
		body := fmt.Sprintf(`{"from":"alipay.balance","to":"alipay.balance","from_holder":%q,"to_holder":%q,"channels":["alipay_transfer"],"amount_fen":%d}`, from, to, yuan*100)
		var p e2ePayment
		switch code := s.call("POST", "/v1/payments", admin, body, &p); code {
		case 201:
			if st := s.runToRest(admin, p.ID); st != "completed" && st != "held" {
				t.Fatalf("payment %s %s→%s is %s", p.ID, from, to, st)
			}
		case 422: // refused by the inline guard: its alerts are filed too
		default:
			t.Fatalf("POST /v1/payments %s: %d\n%s", body, code, s.log())
		}
		s.call("POST", "/v1/clock/advance", admin, `{"seconds":60}`, nil)
	}
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		pay(p, "mid", 5000)
	}
	for _, q := range []string{"q1", "q2", "q3", "q4"} {
		pay("mid", q, 4400)
	}
	// The case appears while the server runs.
	var mine e2eCase
	deadline := time.Now().Add(10 * time.Second)
	for mine.ID == 0 {
		var l struct {
			Cases []e2eCase `json:"cases"`
		}
		if code := s.call("GET", "/v1/risk/cases?holder=mid", admin, "", &l); code != 200 {
			t.Fatalf("GET /v1/risk/cases: %d", code)
		}
		for _, c := range l.Cases {
			if c.State == "open" {
				mine = c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no case for mid after the scheme:\n%s", s.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("case %d: %s, %d alerts", mine.ID, mine.Family, mine.Alerts)
	if mine.Family != "gather-scatter" {
		t.Errorf("mid's case is %s, want gather-scatter", mine.Family)
	}
	// The rules behind it are readable: the bundled set, with --risk on,
	// and its gather-scatter rule among them.
	var rules struct {
		Risk, Source string
		Rules        []struct {
			ID, Pattern string
			Score       int
		}
	}
	if code := s.call("GET", "/v1/risk/rules", admin, "", &rules); code != 200 || rules.Risk != "on" || rules.Source != "bundled" || len(rules.Rules) == 0 {
		t.Fatalf("GET /v1/risk/rules: %d %+v", code, rules)
	}
	gather := false
	for _, r := range rules.Rules {
		gather = gather || (r.Pattern == "gather-scatter" && r.Score > 0)
	}
	if !gather {
		t.Errorf("no gather-scatter rule among %+v", rules.Rules)
	}
	// A world file is checked over the API as ecosystem validate checks it.
	world, err := os.ReadFile("../../ecosystems/cn-facts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		OK     bool
		Counts struct{ Channels int }
	}
	if code := s.call("POST", "/v1/ecosystems/validate", admin, string(world), &v, "Content-Type", "application/yaml"); code != 200 || !v.OK || v.Counts.Channels == 0 {
		t.Errorf("POST /v1/ecosystems/validate cn-facts.yaml: %d %+v", code, v)
	}
	// A holder key for friend does not see it, mid's does but cannot resolve it.
	var hk struct{ Key string }
	s.call("POST", "/v1/keys", admin, `{"role":"holder","holder":"friend"}`, &hk)
	caseURL := fmt.Sprintf("/v1/risk/cases/%d", mine.ID)
	if code := s.call("GET", caseURL, hk.Key, "", nil); code != 404 {
		t.Fatalf("friend reads mid's case: %d", code)
	}
	s.call("POST", "/v1/keys", admin, `{"role":"holder","holder":"mid"}`, &hk)
	if code := s.call("GET", caseURL, hk.Key, "", nil); code != 200 {
		t.Fatalf("mid reads its case: %d", code)
	}
	if code := s.call("POST", caseURL+"/resolve", hk.Key, `{"state":"dismissed","reason":"mine"}`, nil); code != 403 {
		t.Fatalf("mid resolves its own case: %d", code)
	}
	var detail struct {
		Case   e2eCase           `json:"case"`
		Alerts []json.RawMessage `json:"alerts"`
	}
	reason := "mid gathers four payers' money and scatters 88% of it"
	if code := s.call("POST", caseURL+"/resolve", admin, `{"state":"confirmed","reason":"`+reason+`"}`, &detail); code != 200 || detail.Case.State != "confirmed" || len(detail.Alerts) == 0 {
		t.Fatalf("resolve: %d %+v", code, detail)
	}
	var before struct {
		Cases []e2eCase `json:"cases"`
	}
	s.call("GET", "/v1/risk/cases", admin, "", &before)

	// Keys through the API, on the auth store of the ledger file.
	var keys struct {
		Keys []struct {
			KeyID   string  `json:"key_id"`
			Role    string  `json:"role"`
			Revoked *string `json:"revoked"`
		} `json:"keys"`
	}
	if code := s.call("GET", "/v1/keys", admin, "", &keys); code != 200 || len(keys.Keys) != 3 || keys.Keys[0].Role != "admin" {
		t.Fatalf("GET /v1/keys: %d %+v", code, keys)
	}
	if code := s.call("DELETE", "/v1/keys/"+keys.Keys[0].KeyID, admin, "", nil); code != 409 {
		t.Fatalf("revoking the only admin key: %d, want 409", code)
	}
	if code := s.call("DELETE", "/v1/keys/"+keys.Keys[1].KeyID, admin, "", nil); code != 200 {
		t.Fatalf("revoking friend's key: %d", code)
	}
	if r := runPaybridge(t, bin, "keys", "list", "--db", db, "--json"); !strings.Contains(r.stdout, keys.Keys[2].KeyID) || strings.Contains(r.stdout, keys.Keys[1].KeyID) {
		t.Fatalf("keys list after the API revoked %s:\n%s", keys.Keys[1].KeyID, r.stdout)
	}
	// Ledger verify through the API agrees with the CLI on the same file.
	var rep struct {
		OK        bool `json:"ok"`
		Accounts  int  `json:"accounts"`
		Transfers int  `json:"transfers"`
		Commits   int  `json:"commits"`
	}
	if code := s.call("POST", "/v1/ledger/verify", admin, "", &rep); code != 200 || !rep.OK || rep.Transfers == 0 {
		t.Fatalf("POST /v1/ledger/verify: %d %+v", code, rep)
	}
	var cli struct {
		OK                          bool
		Accounts, Transfers, Commit int
	}
	if r := runPaybridge(t, bin, "ledger", "verify", "--db", db, "--json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &cli) != nil || cli.Accounts != rep.Accounts || cli.Transfers != rep.Transfers {
		t.Fatalf("ledger verify CLI %+v vs API %+v: exit %d %s", cli, rep, r.code, r.stderr)
	}
	// The ecosystem diff is the CLI's JSON.
	at := "2023-05-05T10:00:00+08:00"
	var apiDiff, cliDiff map[string]any
	q := "/v1/ecosystems/diff?a=cn-2023&b=cn-facts&from=alipay.huabei&to=wechat.change&to_holder=friend&amount_fen=100000&at=" + strings.ReplaceAll(at, "+", "%2B")
	if code := s.call("GET", q, hk.Key, "", &apiDiff); code != 200 {
		t.Fatalf("GET %s: %d", q, code)
	}
	r := runPaybridge(t, bin, "ecosystem", "diff", "cn-2023", "cn-facts", "--from", "alipay.huabei", "--to", "wechat.change", "--to-holder", "friend", "--amount", "1000", "--at", at, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &cliDiff); r.code != 0 || err != nil {
		t.Fatalf("ecosystem diff: exit %d %v %s", r.code, err, r.stderr)
	}
	for _, k := range []string{"a", "b", "summary", "differences", "routes"} {
		if !reflect.DeepEqual(apiDiff[k], cliDiff[k]) {
			t.Errorf("GET /v1/ecosystems/diff %q differs from ecosystem diff --json", k)
		}
	}
	s.stop()

	// Restart: the resolved case reads back, the feed restores its
	// snapshot, and no case is filed twice.
	if _, err := os.Stat(filepath.Join(dir, "pb-risk.db")); err != nil {
		t.Fatalf("no case database beside --db: %v", err)
	}
	s2 := startServe(t, bin, args...)
	if code := s2.call("GET", caseURL, admin, "", &detail); code != 200 || detail.Case.State != "confirmed" || detail.Case.Reason != reason {
		t.Fatalf("after restart: %d %+v", code, detail.Case)
	}
	time.Sleep(3 * serveRiskPoll)
	var after struct {
		Cases []e2eCase `json:"cases"`
	}
	s2.call("GET", "/v1/risk/cases", admin, "", &after)
	if !reflect.DeepEqual(before.Cases, after.Cases) {
		t.Fatalf("cases changed across the restart:\nbefore %+v\nafter  %+v", before.Cases, after.Cases)
	}
	if !strings.Contains(s2.log(), "engine restored from its snapshot") {
		t.Errorf("the restarted feed did not restore its snapshot:\n%s", s2.log())
	}
	// The CLI reads the same case database.
	if r := runPaybridge(t, bin, "risk", "case", fmt.Sprint(mine.ID), "--db", filepath.Join(dir, "pb-risk.db"), "--json"); r.code != 0 || !strings.Contains(r.stdout, `"confirmed"`) {
		t.Fatalf("risk case: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	s2.stop()
}

func TestServeCasesUsageErrors(t *testing.T) {
	bin := buildPaybridge(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--db", filepath.Join(dir, "a.db"), "--cases", filepath.Join(dir, "missing.db")},                                   // --risk off: must exist
		{"serve", "--db", filepath.Join(dir, "a.db"), "--risk", "on", "--risk-cases", "x.db", "--cases", filepath.Join(dir, "y.db")}, // two case files
		{"serve", "--db", filepath.Join(dir, "a.db"), "--risk-cases", "x.db"},                                                        // needs --risk on
	} {
		r := runPaybridge(t, bin, args...)
		if r.code != 2 || r.stderr == "" {
			t.Errorf("paybridge %s: exit %d, stderr %q", strings.Join(args, " "), r.code, r.stderr)
		}
	}
	if casesBeside("paybridge.db") != "paybridge-risk.db" || casesBeside("/tmp/x/pay") != "/tmp/x/pay-risk.db" {
		t.Errorf("casesBeside: %s %s", casesBeside("paybridge.db"), casesBeside("/tmp/x/pay"))
	}
}
