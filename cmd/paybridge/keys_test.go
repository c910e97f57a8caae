package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/auth"
)

// TestKeysBinary drives paybridge keys as a user would: create keys of each
// role (checked against the world), list, revoke, and check that the file
// holds no key in plaintext and is still a ledger that pay and ledger
// verify accept.
func TestKeysBinary(t *testing.T) {
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "pb.db")

	r := runPaybridge(t, bin, "keys", "list", "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "no such file") {
		t.Fatalf("keys list on a missing file: exit %d, %q; want 2 and 'no such file'", r.code, r.stderr)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("keys list created the database")
	}

	r = runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "admin")
	if r.code != 0 {
		t.Fatalf("keys create: exit %d: %s", r.code, r.stderr)
	}
	adminKey := strings.TrimSpace(r.stdout)
	adminID, _, ok := auth.ParseKey(adminKey)
	if !ok || !strings.Contains(r.stderr, adminID) || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("keys create printed %q / %q: want the key on stdout, its id on stderr", r.stdout, r.stderr)
	}

	created := map[string]keyView{}
	for _, args := range [][]string{
		{"--role", "operator", "--institution", "alipay"},
		{"--role", "holder", "--holder", "me"},
		{"--role", "auditor"},
	} {
		r := runPaybridge(t, bin, append([]string{"keys", "create", "--db", db, "--json"}, args...)...)
		if r.code != 0 {
			t.Fatalf("keys create %v: exit %d: %s", args, r.code, r.stderr)
		}
		var v keyView
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("keys create --json: %v\n%s", err, r.stdout)
		}
		if id, _, ok := auth.ParseKey(v.Key); !ok || id != v.KeyID || v.Role != args[1] {
			t.Fatalf("keys create %v --json = %+v", args, v)
		}
		created[v.Role] = v
	}
	if created["operator"].Institution != "alipay" || created["holder"].Holder != "me" {
		t.Errorf("scopes not printed: %+v", created)
	}

	for _, tc := range []struct {
		args []string
		want string // in stderr
	}{
		{[]string{"--role", "root"}, "--role"},
		{[]string{}, "--role: required"},
		{[]string{"--role", "operator"}, "--institution"},
		{[]string{"--role", "operator", "--institution", "nosuchbank"}, `--institution: "nosuchbank" is not an institution of cn-2023`},
		{[]string{"--role", "holder", "--holder", "nobody"}, `--holder: "nobody" is not a holder`},
		{[]string{"--role", "holder", "--institution", "alipay"}, "--holder"},
		{[]string{"--role", "admin", "--holder", "me"}, "--holder"},
		{[]string{"--role", "auditor", "--ecosystem", "no-such-world"}, "--ecosystem"},
	} {
		r := runPaybridge(t, bin, append([]string{"keys", "create", "--db", db}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("keys create %v: exit %d, stdout %q, stderr %q; want exit 2 naming %q", tc.args, r.code, r.stdout, r.stderr, tc.want)
		}
	}

	r = runPaybridge(t, bin, "keys", "list", "--db", db, "--json")
	var list []keyView
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || r.code != 0 {
		t.Fatalf("keys list --json: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if len(list) != 4 {
		t.Fatalf("keys list has %d keys; want 4: %+v", len(list), list)
	}
	for _, v := range list {
		if v.Key != "" {
			t.Errorf("keys list shows a key: %+v", v)
		}
	}

	r = runPaybridge(t, bin, "keys", "revoke", created["auditor"].KeyID, "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked "+created["auditor"].KeyID) {
		t.Fatalf("keys revoke: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = runPaybridge(t, bin, "keys", "revoke", created["auditor"].KeyID, "--db", db)
	if r.code != 2 || !strings.Contains(r.stderr, "no active key") {
		t.Errorf("second revoke: exit %d, %q; want 2 and 'no active key'", r.code, r.stderr)
	}
	r = runPaybridge(t, bin, "keys", "list", "--db", db)
	if r.code != 0 || strings.Contains(r.stdout, created["auditor"].KeyID) || !strings.Contains(r.stdout, created["operator"].KeyID) {
		t.Errorf("keys list after revoke:\n%s", r.stdout)
	}

	// What the server sees, through the adapter serve uses.
	ks, err := openAuthKeys(db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if p, err := ks.Authenticate(ctx, adminKey); err != nil || p != (api.Principal{KeyID: adminID, Role: api.RoleAdmin}) {
		t.Errorf("admin key through the adapter: %+v, %v", p, err)
	}
	if p, err := ks.Authenticate(ctx, created["operator"].Key); err != nil || p.Role != api.RoleOperator || p.Institution != "alipay" {
		t.Errorf("operator key through the adapter: %+v, %v", p, err)
	}
	if _, err := ks.Authenticate(ctx, created["auditor"].Key); err == nil {
		t.Error("a revoked key authenticates through the adapter")
	}
	if n, err := ks.Count(ctx); err != nil || n != 3 {
		t.Errorf("Count = %d, %v; want 3", n, err)
	}
	k, p, err := ks.CreateKey(ctx, api.Principal{Role: api.RoleHolder, Holder: "friend"})
	if err != nil || p.Holder != "friend" || p.Role != api.RoleHolder {
		t.Fatalf("CreateKey through the adapter: %+v, %v", p, err)
	}
	if got, err := ks.Authenticate(ctx, k); err != nil || got != p {
		t.Errorf("key made by CreateKey: %+v, %v; want %+v", got, err, p)
	}
	ks.Close()

	// No key in plaintext in any of the database's files.
	files, _ := filepath.Glob(db + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, key := range []string{adminKey, created["operator"].Key, created["holder"].Key, k} {
			_, secret, _ := auth.ParseKey(key)
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds a key's secret in plaintext", filepath.Base(f))
			}
		}
	}

	// The file is still a ledger: pay seeds it and ledger verify accepts it,
	// and the keys survive.
	r = runPaybridge(t, bin, "pay", "--db", db, "--from", "alipay.balance", "--to", "wechat.change", "--amount", "100")
	if r.code != 0 {
		t.Fatalf("pay on a database with keys: exit %d: %s", r.code, r.stderr)
	}
	r = runPaybridge(t, bin, "ledger", "verify", "--db", db)
	if r.code != 0 {
		t.Fatalf("ledger verify on a database with keys: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
	r = runPaybridge(t, bin, "keys", "list", "--db", db, "--json")
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 4 {
		t.Errorf("keys after pay: %v %s", err, r.stdout)
	}
}
