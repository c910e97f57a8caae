package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// holdersJSON is holders list --json.
type holdersJSON struct {
	Ecosystem string      `json:"ecosystem"`
	Holders   []holderOut `json:"holders"`
}

func (h holdersJSON) find(id string) (holderOut, bool) {
	for _, o := range h.Holders {
		if o.ID == id {
			return o, true
		}
	}
	return holderOut{}, false
}

func (o holderOut) balance(product string) (int64, bool) {
	for _, a := range o.Accounts {
		if a.Product == product {
			return a.BalanceFen, true
		}
	}
	return 0, false
}

// TestHoldersCLI drives paybridge holders add, open and list as a user
// would, then pays from the added holder with paybridge pay.
func TestHoldersCLI(t *testing.T) {
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "pb.db")
	if r := runPaybridge(t, bin, "holders", "list", "--db", db); r.code != 2 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("list on a missing file: exit %d %s", r.code, r.stderr)
	}
	r := runPaybridge(t, bin, "holders", "add", "--db", db, "--id", "alice", "--name", "Alice", "--kind", "person", "--kyc-level", "2",
		"--open", "alipay.balance=800,alipay.huabei", "--json")
	if r.code != 0 {
		t.Fatalf("add: exit %d %s", r.code, r.stderr)
	}
	var added holderOut
	if err := json.Unmarshal([]byte(r.stdout), &added); err != nil || added.ID != "alice" || added.Source != "added" || len(added.Accounts) != 2 {
		t.Fatalf("add --json: %v %s", err, r.stdout)
	}
	if fen, _ := added.balance("alipay.balance"); fen != 80000 {
		t.Errorf("alipay.balance opened with %d fen", fen)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"add", "--id", "alice", "--name", "A", "--kind", "person"}, "--id: holder exists"},
		{[]string{"add", "--id", "me", "--name", "A", "--kind", "person"}, "--id: holder exists"},
		{[]string{"add", "--id", "a.b", "--name", "A", "--kind", "person"}, "--id:"},
		{[]string{"add", "--id", "bob", "--name", "B", "--kind", "robot"}, "--kind:"},
		{[]string{"add", "--id", "bob", "--kind", "person"}, "--name:"},
		{[]string{"add", "--id", "bob", "--name", "B", "--kind", "person", "--kyc-level", "7"}, "--kyc-level:"},
		{[]string{"add", "--id", "bob", "--name", "B", "--kind", "person", "--open", "alipay.merchant"}, "--open: alipay.merchant is for taobao_shop only"},
		{[]string{"add", "--id", "bob", "--name", "B", "--kind", "person", "--open", "alipay.balance=-1"}, "--open alipay.balance=-1"},
		{[]string{"add", "--id", "bob", "--name", "B", "--kind", "person", "--open", "alipay.huabei=5"}, "--open: alipay.huabei is a credit product"},
		{[]string{"open", "--id", "alice", "--open", "alipay.balance"}, "--open: account is open already"},
		{[]string{"open", "--id", "nobody", "--open", "alipay.balance"}, "--id: no such holder"},
		{[]string{"open", "--id", "alice"}, "--open: required"},
	} {
		r := runPaybridge(t, bin, append(append([]string{"holders"}, c.args[0], "--db", db), c.args[1:]...)...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("holders %s: exit %d, stderr %q, want 2 and %q", strings.Join(c.args, " "), r.code, r.stderr, c.want)
		}
	}
	if r := runPaybridge(t, bin, "holders", "open", "--db", db, "--id", "alice", "--open", "wechat.change=12.5"); r.code != 0 || !strings.Contains(r.stdout, "wechat.change") {
		t.Fatalf("open: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	// Pay from alice with the CLI: the added holder is in every command's world.
	if r := runPaybridge(t, bin, "pay", "--db", db, "--from", "alipay.balance", "--from-holder", "alice", "--to", "alipay.balance", "--to-holder", "friend", "--amount", "300"); r.code != 0 {
		t.Fatalf("pay from alice: exit %d %s", r.code, r.stderr)
	}
	r = runPaybridge(t, bin, "holders", "list", "--db", db, "--json")
	var list holdersJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); r.code != 0 || err != nil {
		t.Fatalf("list --json: exit %d %v %s", r.code, err, r.stderr)
	}
	a, ok := list.find("alice")
	if !ok || a.Source != "added" || len(a.Accounts) != 3 {
		t.Fatalf("alice in the list: %+v", a)
	}
	if fen, _ := a.balance("alipay.balance"); fen != 50000 {
		t.Errorf("alice has %d fen after paying 300 yuan of 800", fen)
	}
	if me, ok := list.find("me"); !ok || me.Source != "ecosystem" {
		t.Errorf("me: %+v", me)
	}
	if _, ok := list.find("bob"); ok {
		t.Error("a refused holder is listed")
	}
	r = runPaybridge(t, bin, "holders", "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "added") {
		t.Errorf("list: %s", r.stdout)
	}
	verifyClean(t, bin, db)
}

// verifyClean runs ledger verify and payments books on db.
func verifyClean(t *testing.T, bin, db string) {
	t.Helper()
	if r := runPaybridge(t, bin, "ledger", "verify", "--db", db); r.code != 0 || !strings.Contains(r.stdout, "ok:") {
		t.Errorf("ledger verify: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := runPaybridge(t, bin, "payments", "books", "--db", db); r.code != 0 {
		t.Errorf("payments books: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// TestServeHoldersEndToEnd runs the real server: create two holders over
// the API (one with an opening balance, one opening its account after),
// plan and pay from one to the other, restart, read the holders,
// accounts, balances and history back, pay again, and verify the ledger.
func TestServeHoldersEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "pb.db")
	s := startServe(t, bin, "--db", db, "--clock", "manual")
	admin := s.key
	var created struct {
		ID       string `json:"id"`
		Accounts []struct {
			Product    string `json:"product"`
			BalanceFen int64  `json:"balance_fen"`
		} `json:"accounts"`
	}
	if code := s.call("POST", "/v1/holders", admin, `{"id":"alice","name":"Alice","kind":"person","kyc_level":2,"accounts":[{"product":"alipay.balance","opening_balance_fen":80000},{"product":"wechat.change"}]}`, &created); code != 201 ||
		created.ID != "alice" || len(created.Accounts) != 2 || created.Accounts[0].BalanceFen != 80000 {
		t.Fatalf("POST /v1/holders: %d %+v", code, created)
	}
	if code := s.call("POST", "/v1/holders", admin, `{"id":"bob","name":"Bob","kind":"person","kyc_level":1}`, nil); code != 201 {
		t.Fatalf("POST /v1/holders bob: %d", code)
	}
	if code := s.call("POST", "/v1/holders/bob/accounts", admin, `{"product":"alipay.balance"}`, nil); code != 201 {
		t.Fatalf("open bob's account: %d", code)
	}
	// A holder key for alice from another process while the server runs:
	// keys create reads the added holders from the file.
	kr := runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "holder", "--holder", "alice", "--json")
	var aliceKey struct{ Key string }
	if err := json.Unmarshal([]byte(kr.stdout), &aliceKey); kr.code != 0 || err != nil {
		t.Fatalf("keys create --holder alice: exit %d %v %s", kr.code, err, kr.stderr)
	}
	if code := s.call("GET", "/v1/accounts/alice/alipay.balance", aliceKey.Key, "", nil); code != 200 {
		t.Errorf("alice's key reads her account: %d", code)
	}
	if code := s.call("GET", "/v1/accounts/friend/alipay.balance", aliceKey.Key, "", nil); code != 403 {
		t.Errorf("alice's key reads friend's account: %d", code)
	}
	if kr := runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "holder", "--holder", "carol"); kr.code != 2 {
		t.Errorf("keys create for a holder nobody added: exit %d", kr.code)
	}
	var dup map[string]any
	if code := s.call("POST", "/v1/holders", admin, `{"id":"alice","name":"Alice","kind":"person"}`, &dup); code != 409 {
		t.Fatalf("duplicate: %d %v", code, dup)
	}
	var plan struct {
		PlanID string `json:"plan_id"`
	}
	if code := s.call("POST", "/v1/plans", admin, `{"from":"alipay.balance","from_holder":"alice","to":"alipay.balance","to_holder":"bob","amount_fen":30000}`, &plan); code != 200 || plan.PlanID == "" {
		t.Fatalf("plan alice to bob: %d", code)
	}
	var p e2ePayment
	if code := s.call("POST", "/v1/payments", admin, fmt.Sprintf(`{"plan_id":%q}`, plan.PlanID), &p); code != 201 {
		t.Fatalf("pay: %d %+v", code, p)
	}
	if got := s.waitCompleted(admin, p.ID); got.DeliveredFen != 30000 {
		t.Fatalf("delivered %d", got.DeliveredFen)
	}
	s.stop()

	s2 := startServe(t, bin, "--db", db, "--clock", "manual")
	var holder struct{ ID, Name, Kind string }
	if code := s2.call("GET", "/v1/holders/alice", admin, "", &holder); code != 200 || holder.Name != "Alice" || holder.Kind != "person" {
		t.Fatalf("alice after restart: %d %+v", code, holder)
	}
	var accs struct {
		Accounts []struct {
			Product    string `json:"product"`
			BalanceFen int64  `json:"balance_fen"`
			OwnFen     int64  `json:"own_fen"`
		} `json:"accounts"`
	}
	if code := s2.call("GET", "/v1/accounts?holder=alice", admin, "", &accs); code != 200 || len(accs.Accounts) != 2 {
		t.Fatalf("alice's accounts after restart: %d %+v", code, accs)
	}
	balance := func(holder, product string) int64 {
		var a struct {
			BalanceFen int64 `json:"balance_fen"`
		}
		if code := s2.call("GET", "/v1/accounts/"+holder+"/"+product, admin, "", &a); code != 200 {
			t.Fatalf("GET %s/%s: %d", holder, product, code)
		}
		return a.BalanceFen
	}
	if a, b := balance("alice", "alipay.balance"), balance("bob", "alipay.balance"); a != 50000 || b != 30000 {
		t.Fatalf("after restart alice has %d, bob %d; want 50000 and 30000", a, b)
	}
	var hist struct {
		Transfers []struct {
			Code int `json:"code"`
		} `json:"transfers"`
	}
	if code := s2.call("GET", "/v1/accounts/alice/alipay.balance/history", admin, "", &hist); code != 200 || len(hist.Transfers) < 2 || hist.Transfers[0].Code != 1 {
		t.Fatalf("alice's history: %d %+v", code, hist)
	}
	// The restarted server plans and pays for the holders it read back.
	var p2 e2ePayment
	if code := s2.call("POST", "/v1/payments", admin, `{"from":"alipay.balance","from_holder":"bob","to":"alipay.balance","to_holder":"alice","amount_fen":1000}`, &p2); code != 201 {
		t.Fatalf("bob pays alice after restart: %d", code)
	}
	s2.waitCompleted(admin, p2.ID)
	if a := balance("alice", "alipay.balance"); a != 51000 {
		t.Errorf("alice has %d, want 51000", a)
	}
	var books struct{ OK bool }
	if code := s2.call("GET", "/v1/books", admin, "", &books); code != 200 || !books.OK {
		t.Errorf("books: %d %+v", code, books)
	}
	s2.stop()
	r := runPaybridge(t, bin, "holders", "list", "--db", db, "--json")
	var list holdersJSON
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("holders list: %v %s", err, r.stderr)
	}
	if a, ok := list.find("alice"); !ok || a.Source != "added" {
		t.Errorf("holders list after serve: %+v", list.Holders)
	}
	verifyClean(t, bin, db)
}
