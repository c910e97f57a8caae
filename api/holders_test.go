package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/route"
)

// TestCreateHolder: create a holder with accounts, read it back, open
// more accounts; every refusal names its field or is a 409/404.
func TestCreateHolder(t *testing.T) {
	h := newHarness(t)
	code, b := h.do("POST", "/v1/holders", h.admin,
		`{"id":"alice","name":"Alice","kind":"person","kyc_level":2,"accounts":[{"product":"alipay.balance","opening_balance_fen":50000},{"product":"alipay.huabei"}]}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	var hv holderView
	if err := json.Unmarshal(b, &hv); err != nil {
		t.Fatal(err)
	}
	if hv.ID != "alice" || hv.Kind != "person" || hv.KYCLevel != 2 || len(hv.Accounts) != 2 ||
		hv.Accounts[0].BalanceFen != 50000 || hv.Accounts[0].OwnFen != 50000 || hv.Accounts[1].FloorFen >= 0 {
		t.Fatalf("created: %s", b)
	}
	for path, want := range map[string]string{
		"/v1/holders/alice":                         `"name":"Alice"`,
		"/v1/holders":                               `"id":"alice"`,
		"/v1/accounts/alice/alipay.balance":         `"balance_fen":50000`,
		"/v1/accounts?holder=alice":                 `"product":"alipay.huabei"`,
		"/v1/accounts/alice/alipay.balance/history": `"code":1`,
		"/v1/ecosystem":                             `"id":"alice"`,
	} {
		if code, b := h.do("GET", path, h.admin, ""); code != 200 || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %s", path, code, b)
		}
	}
	code, b = h.do("POST", "/v1/holders/alice/accounts", h.admin, `{"product":"wechat.change","opening_balance_fen":1234}`)
	if code != 201 || !strings.Contains(string(b), `"balance_fen":1234`) {
		t.Fatalf("open wechat.change: %d %s", code, b)
	}
	cases := []struct {
		path, body string
		code       int
		field      string
	}{
		{"/v1/holders", `{"id":"alice","name":"Alice again","kind":"person"}`, 409, ""},
		{"/v1/holders", `{"id":"me","name":"Me","kind":"person"}`, 409, ""},
		{"/v1/holders", `{"id":"a b","name":"X","kind":"person"}`, 400, "id"},
		{"/v1/holders", `{"name":"X","kind":"person"}`, 400, "id"},
		{"/v1/holders", `{"id":"alipay","name":"X","kind":"person"}`, 400, "id"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"robot"}`, 400, "kind"},
		{"/v1/holders", `{"id":"x","kind":"person"}`, 400, "name"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","kyc_level":9}`, 400, "kyc_level"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","default":true}`, 400, "default"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","kyc_level":"2"}`, 400, "kyc_level"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","accounts":[{"product":"alipay.merchant"}]}`, 400, "accounts[0].product"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","accounts":[{"product":"nope.balance"}]}`, 400, "accounts[0].product"},
		{"/v1/holders", `{"id":"x","name":"X","kind":"person","accounts":[{"product":"alipay.huabei","opening_balance_fen":1}]}`, 400, "accounts[0].opening_balance_fen"},
		{"/v1/holders/alice/accounts", `{"product":"wechat.change"}`, 409, ""},
		{"/v1/holders/me/accounts", `{"product":"alipay.balance"}`, 409, ""},
		{"/v1/holders/nobody/accounts", `{"product":"alipay.balance"}`, 404, ""},
		{"/v1/holders/alice/accounts", `{"product":"alipay.merchant"}`, 400, "product"},
		{"/v1/holders/alice/accounts", `{}`, 400, "product"},
		{"/v1/holders/alice/accounts", `{"product":"icbc.debit","opening_balance_fen":-5}`, 400, "opening_balance_fen"},
		{"/v1/holders/alice/accounts", `{"product":"icbc.debit","opening_balance_fen":1e20}`, 400, "opening_balance_fen"},
		{"/v1/holders/alice/accounts", `{"product":"icbc.debit","extra":1}`, 400, "extra"},
	}
	for _, c := range cases {
		code, b := h.do("POST", c.path, h.admin, c.body)
		if code != c.code {
			t.Errorf("POST %s %s: %d, want %d: %s", c.path, c.body, code, c.code, b)
			continue
		}
		if e := errorOf(t, b); c.field != "" && e.Field != c.field {
			t.Errorf("POST %s %s: field %q, want %q: %s", c.path, c.body, e.Field, c.field, b)
		}
	}
	if _, ok := h.x.Ecosystem().Holder("x"); ok {
		t.Error("a refused holder exists")
	}
	if code, b := h.do("GET", "/v1/books", h.admin, ""); code != 200 || !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("books: %d %s", code, b)
	}
}

// TestNewHolderPlansAndPays: a holder created over the API plans, pays
// another holder and is paid, and gets its own key.
func TestNewHolderPlansAndPays(t *testing.T) {
	h := newHarness(t)
	// A plan to alice before she exists is refused; it must not be remembered.
	toAlice := `{"from":"alipay.balance","to":"alipay.balance","to_holder":"alice","amount_fen":2000}`
	if code, b := h.do("POST", "/v1/plans", h.admin, toAlice); code != 400 || errorOf(t, b).Field != "to_holder" {
		t.Fatalf("plan to a holder that does not exist: %d %s", code, b)
	}
	if code, b := h.do("POST", "/v1/holders", h.admin, `{"id":"alice","name":"Alice","kind":"person","kyc_level":2,"accounts":[{"product":"alipay.balance","opening_balance_fen":80000},{"product":"wechat.change"}]}`); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	if code, b := h.do("POST", "/v1/plans", h.admin, toAlice); code != 200 {
		t.Fatalf("plan to alice: %d %s", code, b)
	}
	code, b := h.do("POST", "/v1/keys", h.admin, `{"role":"holder","holder":"alice"}`)
	if code != 201 {
		t.Fatalf("alice's key: %d %s", code, b)
	}
	var k struct{ Key string }
	json.Unmarshal(b, &k)
	code, b = h.do("POST", "/v1/plans", k.Key, `{"from":"alipay.balance","to":"alipay.balance","to_holder":"friend","amount_fen":30000,"objective":"cost"}`)
	if code != 200 {
		t.Fatalf("alice plans: %d %s", code, b)
	}
	var pl struct {
		PlanID string `json:"plan_id"`
		Result struct {
			Query struct {
				FromHolder string `json:"from_holder"`
			}
			Routes []struct{ Verdict string }
		}
	}
	json.Unmarshal(b, &pl)
	if pl.Result.Query.FromHolder != "alice" || len(pl.Result.Routes) == 0 || pl.Result.Routes[0].Verdict != "allowed" {
		t.Fatalf("alice's plan: %s", b)
	}
	// Her accounts are the ones opened: no plan into another.
	if code, b := h.do("POST", "/v1/plans", k.Key, `{"from":"alipay.balance","to":"icbc.debit","amount_fen":100}`); code != 400 || errorOf(t, b).Field != "to_holder" {
		t.Errorf("plan into alice's unopened icbc.debit: %d %s", code, b)
	}
	friendBefore := h.balance("friend", "alipay.balance")
	code, b = h.do("POST", "/v1/payments", k.Key, fmt.Sprintf(`{"plan_id":%q}`, pl.PlanID))
	if code != 201 {
		t.Fatalf("alice pays: %d %s", code, b)
	}
	var pv paymentView
	json.Unmarshal(b, &pv)
	h.waitState(pv.ID, "completed")
	if got := h.balance("alice", "alipay.balance"); got != 50000 {
		t.Errorf("alice has %d, want 50000", got)
	}
	if got := h.balance("friend", "alipay.balance"); got != friendBefore+30000 {
		t.Errorf("friend has %d, want %d", got, friendBefore+30000)
	}
	// me pays alice.
	p := h.pay(`{"from":"alipay.balance","to":"alipay.balance","to_holder":"alice","amount_fen":2000}`)
	h.waitState(p.ID, "completed")
	if got := h.balance("alice", "alipay.balance"); got != 52000 {
		t.Errorf("alice has %d after being paid, want 52000", got)
	}
	// Alice's key sees her own, not friend's.
	if code, _ := h.do("GET", "/v1/accounts/alice/alipay.balance", k.Key, ""); code != 200 {
		t.Errorf("alice reads her account: %d", code)
	}
	if code, _ := h.do("GET", "/v1/accounts/friend/alipay.balance", k.Key, ""); code != 403 {
		t.Errorf("alice reads friend's account: %d", code)
	}
	if code, b := h.do("GET", "/v1/books", h.admin, ""); code != 200 || !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("books: %d %s", code, b)
	}
}

// balance reads an account's balance over the API.
func (h *harness) balance(holder, product string) int64 {
	h.t.Helper()
	code, b := h.do("GET", "/v1/accounts/"+holder+"/"+product, h.admin, "")
	if code != 200 {
		h.t.Fatalf("GET account %s/%s: %d %s", holder, product, code, b)
	}
	var a accountView
	json.Unmarshal(b, &a)
	return a.BalanceFen
}

// TestHolderCreationRoles: who may create holders and open accounts.
func TestHolderCreationRoles(t *testing.T) {
	h := newHarness(t)
	if code, b := h.do("POST", "/v1/holders", h.admin, `{"id":"bob","name":"Bob","kind":"person","kyc_level":3}`); code != 201 {
		t.Fatalf("admin creates bob: %d %s", code, b)
	}
	keys := map[string]string{
		"admin":           h.admin,
		"auditor":         h.key(Principal{Role: RoleAuditor}),
		"holder me":       h.key(Principal{Role: RoleHolder, Holder: "me"}),
		"operator alipay": h.key(Principal{Role: RoleOperator, Institution: "alipay"}),
		"operator ecny":   h.key(Principal{Role: RoleOperator, Institution: "ecny"}),
	}
	cases := []struct {
		who, path, body string
		code            int
	}{
		{"auditor", "/v1/holders", `{"id":"c1","name":"C","kind":"person"}`, 403},
		{"auditor", "/v1/holders/bob/accounts", `{"product":"alipay.balance"}`, 403},
		{"holder me", "/v1/holders", `{"id":"c2","name":"C","kind":"person"}`, 403},
		{"holder me", "/v1/holders/me/accounts", `{"product":"ecny.wallet"}`, 403},
		{"operator alipay", "/v1/holders", `{"id":"c3","name":"C","kind":"person"}`, 403},
		{"operator alipay", "/v1/holders", `{"id":"c4","name":"C","kind":"person","accounts":[{"product":"alipay.balance"},{"product":"icbc.debit"}]}`, 403},
		{"operator alipay", "/v1/holders", `{"id":"c5","name":"C","kind":"person","accounts":[{"product":"alipay.balance","opening_balance_fen":100},{"product":"alipay.huabei"}]}`, 201},
		{"operator alipay", "/v1/holders/bob/accounts", `{"product":"wechat.change"}`, 403},
		{"operator alipay", "/v1/holders/bob/accounts", `{"product":"alipay.balance","opening_balance_fen":500}`, 201},
		{"operator ecny", "/v1/holders/bob/accounts", `{"product":"alipay.huabei"}`, 403},
		{"operator ecny", "/v1/holders/bob/accounts", `{"product":"ecny.wallet","opening_balance_fen":500}`, 201},
		{"admin", "/v1/holders/bob/accounts", `{"product":"icbc.debit"}`, 201},
	}
	for _, c := range cases {
		code, b := h.do("POST", c.path, keys[c.who], c.body)
		if code != c.code {
			t.Errorf("%s: POST %s %s: %d, want %d: %s", c.who, c.path, c.body, code, c.code, b)
			continue
		}
		if code == 403 && errorOf(t, b).Code != CodeForbidden {
			t.Errorf("%s: POST %s: %s", c.who, c.path, b)
		}
	}
	for _, id := range []string{"c1", "c2", "c3", "c4"} {
		if _, ok := h.x.Ecosystem().Holder(id); ok {
			t.Errorf("refused holder %s exists", id)
		}
	}
	if got := h.balance("bob", "ecny.wallet"); got != 500 {
		t.Errorf("bob's e-CNY %d", got)
	}
}

// TestAddHoldersWhilePlanningAndPaying runs plans and payments (go test
// -race) while holders are created over the API: every request succeeds,
// and at the end each new holder's plan from the server equals a fresh
// planner's over the final world.
func TestAddHoldersWhilePlanningAndPaying(t *testing.T) {
	h := newHarness(t)
	const holders = 12
	var (
		mu      sync.Mutex
		created []string
		wg      sync.WaitGroup
	)
	errs := make(chan string, 1000)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range holders {
			id := fmt.Sprintf("n%02d", i)
			code, b := h.do("POST", "/v1/holders", h.admin, fmt.Sprintf(`{"id":%q,"name":"N","kind":"person","kyc_level":2,"accounts":[{"product":"alipay.balance","opening_balance_fen":10000}]}`, id))
			if code != 201 {
				errs <- fmt.Sprintf("create %s: %d %s", id, code, b)
				continue
			}
			mu.Lock()
			created = append(created, id)
			mu.Unlock()
		}
	}()
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range holders {
				mu.Lock()
				to := "friend"
				if len(created) > 0 {
					to = created[(i+w)%len(created)]
				}
				mu.Unlock()
				body := fmt.Sprintf(`{"from":"alipay.balance","to":"alipay.balance","to_holder":%q,"amount_fen":%d}`, to, 100+i)
				if code, b := h.do("POST", "/v1/plans", h.admin, body); code != 200 {
					errs <- fmt.Sprintf("plan to %s: %d %s", to, code, b)
				}
				if code, b := h.do("POST", "/v1/payments", h.admin, body); code != 201 {
					errs <- fmt.Sprintf("pay %s: %d %s", to, code, b)
				}
				if to != "friend" { // and back, from the new holder
					back := fmt.Sprintf(`{"from":"alipay.balance","from_holder":%q,"to":"alipay.balance","to_holder":"friend","amount_fen":50}`, to)
					if code, b := h.do("POST", "/v1/payments", h.admin, back); code != 201 {
						errs <- fmt.Sprintf("pay from %s: %d %s", to, code, b)
					}
				}
				h.do("GET", "/v1/holders", h.admin, "")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := len(h.x.AddedHolders()); got != holders {
		t.Fatalf("%d holders added, want %d", got, holders)
	}
	rules, err := compliance.NewChecker(h.x.Ecosystem().Rules, compliance.PolicyStrict)
	if err != nil {
		t.Fatal(err)
	}
	fresh := route.NewPlanner(h.x.Ecosystem())
	at := h.clk.Now().Truncate(time.Second)
	for _, id := range created {
		q := route.Query{From: "alipay.balance", To: "wechat.change", FromHolder: id, ToHolder: "friend", AmountFen: 700,
			Objective: route.ObjectiveBalanced, Policy: compliance.PolicyStrict, MaxHops: route.DefaultMaxHops, Seed: 1, At: at}
		_, want, err := fresh.PlanJSON(q, rules)
		if err != nil {
			t.Fatal(err)
		}
		code, b := h.do("POST", "/v1/plans", h.admin, fmt.Sprintf(`{"from":"alipay.balance","to":"wechat.change","from_holder":%q,"to_holder":"friend","amount_fen":700,"at":%q}`, id, at.Format(time.RFC3339)))
		var got struct{ Result json.RawMessage }
		json.Unmarshal(b, &got)
		if code != 200 || !bytes.Equal(got.Result, want) {
			t.Errorf("%s's plan: %d\nserver %s\nfresh  %s", id, code, got.Result, want)
		}
	}
	if code, b := h.do("GET", "/v1/books", h.admin, ""); code != 200 || !strings.Contains(string(b), `"ok":true`) {
		t.Errorf("books: %d %s", code, b)
	}
}

// FuzzCreateHolder sends random bodies to the holder endpoints: never a
// 5xx; a 201 leaves a holder or account that exists, and the books balance.
func FuzzCreateHolder(f *testing.F) {
	h := newHarness(f)
	f.Add(true, "", `{"id":"alice","name":"Alice","kind":"person","kyc_level":2,"accounts":[{"product":"alipay.balance","opening_balance_fen":100000}]}`)
	f.Add(true, "", `{"id":"m1","name":"M","kind":"merchant","accounts":[{"product":"wechat.merchant"},{"product":"icbc.debit","opening_balance_fen":9223372036854775807}]}`)
	f.Add(true, "", `{"id":"","name":"","kind":"","kyc_level":-1,"accounts":null}`)
	f.Add(false, "me", `{"product":"ecny.wallet","opening_balance_fen":100000}`)
	f.Add(false, "friend", `{"product":"alipay.huabei","opening_balance_fen":-1}`)
	f.Add(false, "%2e%2e", `{"product":"x"}`)
	f.Fuzz(func(t *testing.T, newHolder bool, id, body string) {
		path := "/v1/holders"
		if !newHolder {
			path = "/v1/holders/" + id + "/accounts"
		}
		send := func(method, path, body string) (int, string) {
			req := httptest.NewRequest(method, "http://x/", strings.NewReader(body))
			req.URL.Path, req.RequestURI = path, path
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+h.admin)
			rec := httptest.NewRecorder()
			h.srv.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}
		code, b := send("POST", path, body)
		if code >= 500 {
			t.Fatalf("POST %q %s: %d %s", path, body, code, b)
		}
		if code == 201 {
			if code, b := send("GET", "/v1/books", ""); code != 200 || !strings.Contains(b, `"ok":true`) {
				t.Fatalf("books after POST %q %s: %s", path, body, b)
			}
		}
	})
}
