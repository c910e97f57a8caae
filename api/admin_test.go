package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/ecodiff"
	"github.com/paybridge/paybridge/ecosystems"
)

type keyList struct {
	Keys []struct {
		KeyID       string  `json:"key_id"`
		Role        string  `json:"role"`
		Institution string  `json:"institution"`
		Holder      string  `json:"holder"`
		Created     string  `json:"created"`
		Revoked     *string `json:"revoked"`
	} `json:"keys"`
	Next string `json:"next_cursor"`
}

func (h *harness) keyList(query string) keyList {
	h.t.Helper()
	code, b := h.do("GET", "/v1/keys"+query, h.admin, "")
	if code != 200 {
		h.t.Fatalf("GET /v1/keys%s: %d %s", query, code, b)
	}
	if strings.Contains(string(b), "pbk_") {
		h.t.Fatalf("GET /v1/keys shows a key: %s", b)
	}
	var l keyList
	if err := json.Unmarshal(b, &l); err != nil {
		h.t.Fatal(err)
	}
	return l
}

func TestKeysListAndRevoke(t *testing.T) {
	h := newHarness(t)
	opKey := h.key(Principal{Role: RoleOperator, Institution: "alipay"})
	opID := strings.Split(opKey, "_")[1]
	l := h.keyList("")
	if len(l.Keys) != 2 || l.Keys[0].Role != RoleAdmin || l.Keys[1].KeyID != opID || l.Keys[1].Institution != "alipay" || l.Keys[1].Revoked != nil || l.Keys[1].Created == "" {
		t.Fatalf("keys: %+v", l)
	}
	if p := h.keyList("?limit=1"); len(p.Keys) != 1 || p.Next != l.Keys[0].KeyID {
		t.Fatalf("page 1: %+v", p)
	}
	if p := h.keyList("?limit=1&cursor=" + l.Keys[0].KeyID); len(p.Keys) != 1 || p.Keys[0].KeyID != opID || p.Next != "" {
		t.Fatalf("page 2: %+v", p)
	}
	// The operator key works, is revoked, and stops working.
	if code, _ := h.do("GET", "/v1/clock", opKey, ""); code != 200 {
		t.Fatalf("operator key before revoke: %d", code)
	}
	code, b := h.do("DELETE", "/v1/keys/"+opID, h.admin, "")
	if code != 200 || !strings.Contains(string(b), `"revoked":"`) {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _ := h.do("GET", "/v1/clock", opKey, ""); code != 401 {
		t.Fatalf("operator key after revoke: %d", code)
	}
	if code, b := h.do("DELETE", "/v1/keys/"+opID, h.admin, ""); code != 404 || errorOf(t, b).Code != CodeNotFound {
		t.Fatalf("revoke twice: %d %s", code, b)
	}
	if p := h.keyList("?active=false"); len(p.Keys) != 1 || p.Keys[0].KeyID != opID || p.Keys[0].Revoked == nil {
		t.Fatalf("revoked keys: %+v", p)
	}
	if p := h.keyList("?active=true"); len(p.Keys) != 1 || p.Keys[0].Role != RoleAdmin {
		t.Fatalf("active keys: %+v", p)
	}
	// The last admin key stays.
	adminID := strings.Split(h.admin, "_")[1]
	code, b = h.do("DELETE", "/v1/keys/"+adminID, h.admin, "")
	if code != 409 || errorOf(t, b).Code != CodeConflict || !strings.Contains(string(b), "last active admin key") {
		t.Fatalf("revoke the last admin: %d %s", code, b)
	}
	// With a second admin, the first may go (even itself).
	admin2 := h.key(Principal{Role: RoleAdmin})
	if code, b := h.do("DELETE", "/v1/keys/"+adminID, h.admin, ""); code != 200 {
		t.Fatalf("revoke an admin with another left: %d %s", code, b)
	}
	if code, _ := h.do("GET", "/v1/keys", h.admin, ""); code != 401 {
		t.Fatalf("revoked admin key still works: %d", code)
	}
	if code, b := h.do("DELETE", "/v1/keys/"+strings.Split(admin2, "_")[1], admin2, ""); code != 409 {
		t.Fatalf("revoke the new last admin: %d %s", code, b)
	}
	for _, tc := range []struct{ q, field string }{{"?active=yes", "active"}, {"?cursor=nope", "cursor"}, {"?limit=x", "limit"}} {
		code, b := h.do("GET", "/v1/keys"+tc.q, admin2, "")
		if code != 400 || errorOf(t, b).Field != tc.field {
			t.Errorf("GET /v1/keys%s: %d %s", tc.q, code, b)
		}
	}
	if code, _ := h.do("GET", "/v1/keys/"+opID, admin2, ""); code != 405 {
		t.Errorf("GET on a DELETE route: %d, want 405", code)
	}
}

func TestLedgerVerify(t *testing.T) {
	h := newHarness(t)
	p := h.pay(`{"from":"alipay.balance","to":"wechat.change","amount_fen":1000}`)
	h.waitState(p.ID, "completed")
	code, b := h.do("POST", "/v1/ledger/verify", h.admin, "")
	var rep LedgerReport
	if err := json.Unmarshal(b, &rep); code != 200 || err != nil {
		t.Fatalf("%d %s", code, b)
	}
	if !rep.OK || rep.Accounts == 0 || rep.Transfers == 0 || rep.Commits == 0 || rep.Violations == nil || len(rep.Violations) != 0 {
		t.Fatalf("report %s", b)
	}
	if code, b := h.do("POST", "/v1/ledger/verify", h.admin, `{"deep":true}`); code != 400 || errorOf(t, b).Field != "deep" {
		t.Fatalf("unknown field: %d %s", code, b)
	}
	// One verification at a time.
	h.srv.admin.verifying.Lock()
	code, b = h.do("POST", "/v1/ledger/verify", h.admin, "")
	h.srv.admin.verifying.Unlock()
	if code != 503 || errorOf(t, b).Code != CodeOverloaded {
		t.Fatalf("concurrent verify: %d %s", code, b)
	}
}

func TestEcosystemsListAndDiff(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("GET", "/v1/ecosystems", h.admin, "")
	var l struct {
		Ecosystems []ecosystems.Info `json:"ecosystems"`
		Default    string            `json:"default"`
		Serving    string            `json:"serving"`
	}
	if err := json.Unmarshal(b, &l); code != 200 || err != nil || len(l.Ecosystems) != len(ecosystems.Names()) || l.Default != ecosystems.Default || l.Serving != "cn-2023" {
		t.Fatalf("%d %s", code, b)
	}
	var d ecodiff.Report
	code, b = h.do("GET", "/v1/ecosystems/diff?a=cn-2023&b=cn-facts", h.admin, "")
	if err := json.Unmarshal(b, &d); code != 200 || err != nil || d.A.ID != "cn-2023" || d.B.ID != "cn-facts" || len(d.Differences) == 0 || d.Routes != nil {
		t.Fatalf("diff: %d %.300s", code, b)
	}
	if a, r, c := d.Summary.Added, d.Summary.Removed, d.Summary.Changed; a+r+c != len(d.Differences) {
		t.Fatalf("summary %+v for %d differences", d.Summary, len(d.Differences))
	}
	code, b = h.do("GET", "/v1/ecosystems/diff?a=cn-2023&b=cn-2023", h.admin, "")
	if err := json.Unmarshal(b, &d); code != 200 || err != nil || len(d.Differences) != 0 {
		t.Fatalf("self diff: %d %.300s", code, b)
	}
	q := "/v1/ecosystems/diff?a=cn-2023&b=cn-facts&from=alipay.huabei&to=wechat.change&to_holder=friend&amount_fen=100000&at=2023-05-05T10:00:00%2B08:00"
	code, b = h.do("GET", q, h.admin, "")
	if err := json.Unmarshal(b, &d); code != 200 || err != nil || d.Routes == nil || d.Routes.A.Result == nil || len(d.Routes.A.Routes) == 0 {
		t.Fatalf("diff with a query: %d %.500s", code, b)
	}
	for _, tc := range []struct{ q, field string }{
		{"", "a"},
		{"?a=cn-2023", "b"},
		{"?a=mars&b=cn-2023", "a"},
		{"?a=cn-2023&b=../etc/passwd", "b"},
		{"?a=cn-2023&b=cn-facts&from=alipay.balance", "to"},
		{"?a=cn-2023&b=cn-facts&from=alipay.balance&to=wechat.change", "amount_fen"},
		{"?a=cn-2023&b=cn-facts&from=alipay.balance&to=wechat.change&amount_fen=1.5", "amount_fen"},
		{"?a=cn-2023&b=cn-facts&from=alipay.balance&to=wechat.change&amount_fen=0", "amount_fen"},
		{"?a=cn-2023&b=cn-facts&from=alipay.balance&to=wechat.change&amount_fen=100&at=noon", "at"},
		{"?a=cn-2023&b=cn-facts&to_holder=friend", "to_holder"},
		{"?a=cn-2023&b=cn-facts&from=nowhere.x&to=wechat.change&amount_fen=100", "from"},
	} {
		code, b := h.do("GET", "/v1/ecosystems/diff"+tc.q, h.admin, "")
		if code != 400 || errorOf(t, b).Field != tc.field {
			t.Errorf("diff%s: %d %s, want 400 field %s", tc.q, code, b, tc.field)
		}
	}
}
