package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestRolesRefusedOutsideScope proves each role is refused outside its
// scope, and allowed inside it, endpoint by endpoint.
func TestRolesRefusedOutsideScope(t *testing.T) {
	h := newHarness(t)
	// p000001: me's Alipay balance to me's WeChat change (alipay, wechat).
	mine := h.pay(`{"from":"alipay.balance","to":"wechat.change","amount_fen":1000}`)
	// p000002: friend's CMB debit card to friend's ICBC card (cmb, unionpay, icbc…).
	friends := h.pay(`{"from":"cmb.debit","from_holder":"friend","to":"icbc.debit","amount_fen":1000}`)
	for _, in := range touches(h.srv.cfg.Ecosystem, h.x.List()[1].Spec) {
		if in == "alipay" {
			t.Fatalf("test premise: %s must not touch alipay", friends.ID)
		}
	}
	keys := map[string]string{
		"admin":           h.admin,
		"auditor":         h.key(Principal{Role: RoleAuditor}),
		"holder me":       h.key(Principal{Role: RoleHolder, Holder: "me"}),
		"holder friend":   h.key(Principal{Role: RoleHolder, Holder: "friend"}),
		"operator alipay": h.key(Principal{Role: RoleOperator, Institution: "alipay"}),
		"operator ecny":   h.key(Principal{Role: RoleOperator, Institution: "ecny"}),
	}
	pay := `{"from":"alipay.balance","to":"wechat.change","amount_fen":100}`
	payFriend := `{"from":"alipay.balance","from_holder":"friend","to":"wechat.change","amount_fen":100}`
	cases := []struct {
		who, method, path, body string
		code                    int
	}{
		// auditor: reads everything, changes nothing.
		{"auditor", "GET", "/v1/payments/" + mine.ID, "", 200},
		{"auditor", "GET", "/v1/payments/" + friends.ID, "", 200},
		{"auditor", "GET", "/v1/accounts/friend/cmb.debit", "", 200},
		{"auditor", "POST", "/v1/payments", pay, 403},
		{"auditor", "POST", "/v1/payments/" + mine.ID + "/refund", "", 403},
		{"auditor", "POST", "/v1/payments/" + mine.ID + "/resume", "", 403},
		{"auditor", "POST", "/v1/keys", `{"role":"auditor"}`, 403},
		{"auditor", "POST", "/v1/clock/advance", `{"seconds":1}`, 403},
		{"auditor", "POST", "/v1/plans", pay, 200},
		// holder: own accounts and payments only.
		{"holder me", "GET", "/v1/payments/" + mine.ID, "", 200},
		{"holder me", "GET", "/v1/payments/" + friends.ID, "", 404},
		{"holder me", "GET", "/v1/payments/" + friends.ID + "/events", "", 404},
		{"holder me", "POST", "/v1/payments/" + friends.ID + "/refund", "", 404},
		{"holder me", "GET", "/v1/accounts/me/alipay.balance", "", 200},
		{"holder me", "GET", "/v1/accounts/friend/cmb.debit", "", 403},
		{"holder me", "GET", "/v1/accounts/friend/cmb.debit/history", "", 403},
		{"holder me", "GET", "/v1/accounts?holder=friend", "", 403},
		{"holder me", "GET", "/v1/holders/friend", "", 403},
		{"holder me", "GET", "/v1/holders/me", "", 200},
		{"holder me", "POST", "/v1/payments", payFriend, 403},
		{"holder me", "POST", "/v1/plans", payFriend, 403},
		{"holder me", "POST", "/v1/payments", pay, 201},
		{"holder me", "POST", "/v1/keys", `{"role":"admin"}`, 403},
		{"holder me", "POST", "/v1/clock/advance", `{"seconds":1}`, 403},
		{"holder friend", "GET", "/v1/payments/" + mine.ID, "", 404},
		{"holder friend", "GET", "/v1/accounts/me/alipay.balance", "", 403},
		{"holder friend", "POST", "/v1/payments", `{"from":"alipay.balance","from_holder":"me","to":"wechat.change","to_holder":"friend","amount_fen":100}`, 403},
		{"holder friend", "POST", "/v1/payments", pay, 201}, // from_holder defaults to the key's holder
		// operator: its institution's accounts and the payments touching it.
		{"operator alipay", "GET", "/v1/payments/" + mine.ID, "", 200},
		{"operator alipay", "GET", "/v1/payments/" + friends.ID, "", 404},
		{"operator alipay", "GET", "/v1/accounts/friend/alipay.balance", "", 200},
		{"operator alipay", "GET", "/v1/accounts/friend/cmb.debit", "", 403},
		{"operator alipay", "POST", "/v1/payments", `{"from":"cmb.debit","to":"icbc.debit","amount_fen":100}`, 403},
		{"operator alipay", "POST", "/v1/payments", pay, 201},
		{"operator alipay", "POST", "/v1/keys", `{"role":"operator","institution":"alipay"}`, 403},
		{"operator alipay", "POST", "/v1/clock/advance", `{"seconds":1}`, 403},
		{"operator ecny", "GET", "/v1/payments/" + mine.ID, "", 404},
		{"operator ecny", "GET", "/v1/accounts/me/alipay.balance", "", 403},
		{"operator ecny", "POST", "/v1/payments", pay, 403},
		{"auditor", "GET", "/v1/books", "", 200},
		{"holder me", "GET", "/v1/books", "", 403},
		{"operator alipay", "GET", "/v1/books", "", 403},
		// admin: everything.
		{"admin", "POST", "/v1/keys", `{"role":"operator","institution":"ecny"}`, 201},
		{"admin", "POST", "/v1/clock/advance", `{"seconds":1}`, 200},
	}
	for _, c := range cases {
		code, b := h.do(c.method, c.path, keys[c.who], c.body, "Content-Type", "application/json")
		if code != c.code {
			t.Errorf("%s: %s %s: %d, want %d: %s", c.who, c.method, c.path, code, c.code, b)
			continue
		}
		if code >= 400 {
			if e := errorOf(t, b); (code == 403) != (e.Code == CodeForbidden) {
				t.Errorf("%s: %s %s: code %s", c.who, c.method, c.path, e.Code)
			}
		}
	}
	// Lists are filtered to the scope.
	visible := func(who, path, field string) []string {
		code, b := h.do("GET", path, keys[who], "")
		if code != 200 {
			t.Fatalf("%s %s: %d %s", who, path, code, b)
		}
		var m map[string][]map[string]any
		json.Unmarshal(b, &m)
		var out []string
		for _, r := range m[field] {
			out = append(out, r["id"].(string))
		}
		return out
	}
	for who, want := range map[string]bool{"holder me": false, "holder friend": true, "operator alipay": false, "auditor": true, "operator ecny": false} {
		got := false
		for _, id := range visible(who, "/v1/payments", "payments") {
			if id == friends.ID {
				got = true
			}
			if id == mine.ID && who == "holder friend" {
				t.Errorf("holder friend lists %s", id)
			}
		}
		if got != want {
			t.Errorf("%s lists %s: %v, want %v", who, friends.ID, got, want)
		}
	}
	code, b := h.do("GET", "/v1/accounts", keys["holder me"], "")
	var accs struct{ Accounts []accountView }
	json.Unmarshal(b, &accs)
	if code != 200 || len(accs.Accounts) == 0 {
		t.Fatalf("holder me accounts: %d %s", code, b)
	}
	for _, a := range accs.Accounts {
		if a.Holder != "me" {
			t.Fatalf("holder me sees %s's account", a.Holder)
		}
	}
	code, b = h.do("GET", "/v1/accounts", keys["operator alipay"], "")
	json.Unmarshal(b, &accs)
	for _, a := range accs.Accounts {
		if a.Institution != "alipay" {
			t.Fatalf("operator alipay sees a %s account", a.Institution)
		}
	}
	if code != http.StatusOK || len(accs.Accounts) == 0 {
		t.Fatalf("operator accounts: %d", code)
	}
}
