package api

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/store/audit"
)

// testCaseStore is a case database holding three open cases:
// 1 me credit_cycle (two alerts), 2 friend fan_in, 3 noodle_shop fan_in.
func testCaseStore(t testing.TB) *risk.SQLiteStore {
	t.Helper()
	st, err := risk.OpenSQLite(filepath.Join(t.TempDir(), "cases.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for i, a := range []risk.Alert{
		{EventID: "p000009/2", Holder: "me", Family: "credit_cycle", RuleID: "credit_cycle", Score: 80},
		{EventID: "p000010/1", Holder: "friend", Family: "fan_in", RuleID: "fan_in", Score: 50},
		{EventID: "p000011/1", Holder: "noodle_shop", Family: "fan_in", RuleID: "fan_in", Score: 40},
		{EventID: "p000009/3", Holder: "me", Family: "credit_cycle", RuleID: "credit_cash_out", Score: 90},
	} {
		a.Time = epoch.Add(time.Duration(i) * time.Minute)
		a.Detail = json.RawMessage(`{"rule":"` + a.RuleID + `"}`)
		if _, err := st.AddAlert(context.Background(), a); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// memVerifier runs ledger verify's audit over an in-memory store.
func memVerifier(mem *ledger.MemStore) LedgerVerifier {
	return func(ctx context.Context) (LedgerReport, error) {
		var v collect
		meta, err := mem.Load(ctx, &v)
		if err != nil {
			return LedgerReport{}, err
		}
		return LedgerReport{Commits: int(meta.LastCommitSeq), Report: audit.Check(v.accounts, v.transfers)}, nil
	}
}

type collect struct {
	accounts  []ledger.Account
	transfers []ledger.Transfer
}

func (c *collect) VisitAccount(a ledger.Account) error {
	c.accounts = append(c.accounts, a)
	return nil
}
func (c *collect) VisitTransfer(t ledger.Transfer) error {
	c.transfers = append(c.transfers, t)
	return nil
}
func (c *collect) VisitCounter(ledger.Counter) error { return nil }

type caseList struct {
	Cases []risk.Case `json:"cases"`
	Next  string      `json:"next_cursor"`
}

func (h *harness) cases(key, query string) caseList {
	h.t.Helper()
	code, b := h.do("GET", "/v1/risk/cases"+query, key, "")
	if code != 200 {
		h.t.Fatalf("GET /v1/risk/cases%s: %d %s", query, code, b)
	}
	var l caseList
	if err := json.Unmarshal(b, &l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

func caseIDs(cs []risk.Case) string {
	var ids []string
	for _, c := range cs {
		ids = append(ids, fmt.Sprint(c.ID))
	}
	return strings.Join(ids, ",")
}

func TestRiskCasesListFiltersAndPages(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ query, want, next string }{
		{"", "3,2,1", ""},
		{"?state=open", "3,2,1", ""},
		{"?state=confirmed", "", ""},
		{"?holder=me", "1", ""},
		{"?holder=nobody", "", ""},
		{"?limit=2", "3,2", "2"},
		{"?limit=2&cursor=2", "1", ""},
		{"?holder=friend&limit=1", "2", ""},
	} {
		l := h.cases(h.admin, tc.query)
		if got := caseIDs(l.Cases); got != tc.want || l.Next != tc.next {
			t.Errorf("%q: cases %s next %q, want %s next %q", tc.query, got, l.Next, tc.want, tc.next)
		}
	}
	l := h.cases(h.admin, "?holder=me")
	if c := l.Cases[0]; c.Family != "credit_cycle" || c.Alerts != 2 || c.MaxScore != 90 || c.State != risk.CaseOpen {
		t.Errorf("case 1: %+v", c)
	}
}

func TestRiskCaseResolve(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("GET", "/v1/risk/cases/1", h.admin, "")
	var d struct {
		Case   risk.Case    `json:"case"`
		Alerts []risk.Alert `json:"alerts"`
	}
	if err := json.Unmarshal(b, &d); code != 200 || err != nil || d.Case.ID != 1 || len(d.Alerts) != 2 || d.Alerts[1].RuleID != "credit_cash_out" {
		t.Fatalf("GET case 1: %d %s", code, b)
	}
	steps := []struct {
		body  string
		code  int
		state risk.CaseState
	}{
		{`{"state":"reviewing"}`, 200, risk.CaseReviewing},
		{`{"state":"reviewing","reason":"again"}`, 409, ""},
		{`{"state":"confirmed","reason":"credit line cashed out through a cycle"}`, 200, risk.CaseConfirmed},
		{`{"state":"dismissed","reason":"changed my mind"}`, 409, ""},
	}
	for _, s := range steps {
		code, b := h.do("POST", "/v1/risk/cases/1/resolve", h.admin, s.body)
		if code != s.code {
			t.Fatalf("%s: %d %s", s.body, code, b)
		}
		if code == 200 {
			json.Unmarshal(b, &d)
			if d.Case.State != s.state || d.Case.Reason == "" || !d.Case.Updated.Equal(h.clk.Now()) {
				t.Fatalf("%s: %+v (clock %s)", s.body, d.Case, h.clk.Now())
			}
		} else if e := errorOf(t, b); e.Code != CodeConflict {
			t.Fatalf("%s: %s", s.body, b)
		}
	}
	if l := h.cases(h.admin, "?state=confirmed"); caseIDs(l.Cases) != "1" || l.Cases[0].Reason != "credit line cashed out through a cycle" {
		t.Fatalf("confirmed: %+v", l)
	}
}

func TestRiskCaseErrors(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", risk.MaxReasonLen+1)
	for _, tc := range []struct {
		method, path, body string
		code               int
		field              string
	}{
		{"GET", "/v1/risk/cases?state=lost", "", 400, "state"},
		{"GET", "/v1/risk/cases?limit=0", "", 400, "limit"},
		{"GET", "/v1/risk/cases?cursor=x", "", 400, "cursor"},
		{"GET", "/v1/risk/cases?cursor=-2", "", 400, "cursor"},
		{"GET", "/v1/risk/cases?holder=" + strings.Repeat("h", 201), "", 400, "holder"},
		{"GET", "/v1/risk/cases/abc", "", 400, "id"},
		{"GET", "/v1/risk/cases/0", "", 400, "id"},
		{"GET", "/v1/risk/cases/99", "", 404, ""},
		{"POST", "/v1/risk/cases/99/resolve", `{"state":"reviewing"}`, 404, ""},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"closed","reason":"x"}`, 400, "state"},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"open","reason":"x"}`, 400, "state"},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"confirmed"}`, 400, "reason"},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"dismissed","reason":"   "}`, 400, "reason"},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"dismissed","reason":"` + long + `"}`, 400, "reason"},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":"dismissed","reason":"x","by":"me"}`, 400, "by"},
		{"POST", "/v1/risk/cases/1/resolve", ``, 400, ""},
		{"POST", "/v1/risk/cases/1/resolve", `{"state":1}`, 400, "state"},
	} {
		code, b := h.do(tc.method, tc.path, h.admin, tc.body)
		if code != tc.code {
			t.Errorf("%s %s %s: %d, want %d: %s", tc.method, tc.path, tc.body, code, tc.code, b)
			continue
		}
		if e := errorOf(t, b); e.Field != tc.field {
			t.Errorf("%s %s: field %q, want %q (%s)", tc.method, tc.path, e.Field, tc.field, b)
		}
	}
	// Nothing changed.
	if l := h.cases(h.admin, "?state=open"); caseIDs(l.Cases) != "3,2,1" {
		t.Fatalf("open cases after refused requests: %s", caseIDs(l.Cases))
	}
	// A server without a case database answers 503.
	h.srv.cfg.Cases = nil
	if code, b := h.do("GET", "/v1/risk/cases", h.admin, ""); code != 503 {
		t.Fatalf("no case store: %d %s", code, b)
	}
}
