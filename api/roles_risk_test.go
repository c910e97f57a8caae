package api

import (
	"strings"
	"testing"
)

// TestRolesRiskAndAdminEndpoints proves, for the risk case, key, ledger
// verify and ecosystem endpoints, that each role is refused outside its
// scope and allowed inside it. The harness's cases: 1 me, 2 friend, 3
// noodle_shop; mybank holds accounts of me and friend only, movemoney of
// no holder.
func TestRolesRiskAndAdminEndpoints(t *testing.T) {
	h := newHarness(t)
	victim := h.key(Principal{Role: RoleAuditor})
	victimID := strings.Split(victim, "_")[1]
	keys := map[string]string{
		"admin":              h.admin,
		"auditor":            h.key(Principal{Role: RoleAuditor}),
		"holder me":          h.key(Principal{Role: RoleHolder, Holder: "me"}),
		"holder friend":      h.key(Principal{Role: RoleHolder, Holder: "friend"}),
		"operator mybank":    h.key(Principal{Role: RoleOperator, Institution: "mybank"}),
		"operator movemoney": h.key(Principal{Role: RoleOperator, Institution: "movemoney"}),
	}
	review := `{"state":"reviewing","reason":"a look"}`
	cases := []struct {
		who, method, path, body string
		code                    int
	}{
		// Risk cases.
		{"auditor", "GET", "/v1/risk/cases/3", "", 200},
		{"auditor", "POST", "/v1/risk/cases/3/resolve", review, 403},
		{"holder me", "GET", "/v1/risk/cases/1", "", 200},
		{"holder me", "GET", "/v1/risk/cases/2", "", 404},
		{"holder me", "GET", "/v1/risk/cases?holder=friend", "", 403},
		{"holder me", "POST", "/v1/risk/cases/1/resolve", review, 403},
		{"holder friend", "GET", "/v1/risk/cases/1", "", 404},
		{"holder friend", "POST", "/v1/risk/cases/1/resolve", review, 403},
		{"operator mybank", "GET", "/v1/risk/cases/2", "", 200},
		{"operator mybank", "GET", "/v1/risk/cases/3", "", 404},
		{"operator mybank", "POST", "/v1/risk/cases/3/resolve", review, 404},
		{"operator mybank", "POST", "/v1/risk/cases/2/resolve", review, 200},
		{"operator movemoney", "GET", "/v1/risk/cases/1", "", 404},
		{"operator movemoney", "POST", "/v1/risk/cases/1/resolve", review, 404},
		{"admin", "POST", "/v1/risk/cases/3/resolve", review, 200},
		// Keys: admin only.
		{"auditor", "GET", "/v1/keys", "", 403},
		{"operator mybank", "GET", "/v1/keys", "", 403},
		{"holder me", "GET", "/v1/keys", "", 403},
		{"auditor", "DELETE", "/v1/keys/" + victimID, "", 403},
		{"operator mybank", "DELETE", "/v1/keys/" + victimID, "", 403},
		{"holder me", "DELETE", "/v1/keys/" + victimID, "", 403},
		{"admin", "GET", "/v1/keys", "", 200},
		{"admin", "DELETE", "/v1/keys/" + victimID, "", 200},
		// Ledger verify: admin and auditor.
		{"auditor", "POST", "/v1/ledger/verify", "", 200},
		{"operator mybank", "POST", "/v1/ledger/verify", "", 403},
		{"holder me", "POST", "/v1/ledger/verify", "", 403},
		{"admin", "POST", "/v1/ledger/verify", "", 200},
		// Worlds: every role.
		{"holder me", "GET", "/v1/ecosystems", "", 200},
		{"operator movemoney", "GET", "/v1/ecosystems/diff?a=cn-2023&b=cn-facts", "", 200},
		{"auditor", "GET", "/v1/ecosystems/diff?a=cn-facts&b=cn-2023", "", 200},
	}
	for _, c := range cases {
		code, b := h.do(c.method, c.path, keys[c.who], c.body)
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
	if code, _ := h.do("GET", "/v1/clock", victim, ""); code != 401 {
		t.Errorf("the key revoked by admin still works: %d", code)
	}
	// Lists are filtered to the scope.
	for who, want := range map[string]string{
		"admin": "3,2,1", "auditor": "3,2,1", "holder me": "1", "holder friend": "2",
		"operator mybank": "2,1", "operator movemoney": "",
	} {
		if got := caseIDs(h.cases(keys[who], "").Cases); got != want {
			t.Errorf("%s lists cases %q, want %q", who, got, want)
		}
	}
	if got := caseIDs(h.cases(keys["operator mybank"], "?state=reviewing").Cases); got != "2" {
		t.Errorf("operator mybank reviewing: %q", got)
	}
}
