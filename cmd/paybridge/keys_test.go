package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paybridge/paybridge/auth"
)

// TestKeysBinary drives keys create, list and revoke through the real
// binary and checks the created keys against the auth store.
func TestKeysBinary(t *testing.T) {
	bin := buildPaybridge(t)
	db := filepath.Join(t.TempDir(), "k.db")

	r := runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "admin")
	admin := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(admin, "pbk_") || !strings.Contains(r.stderr, "shown only this once") {
		t.Fatalf("create admin: %+v", r)
	}
	r = runPaybridge(t, bin, "keys", "create", "--db", db, "--role", "holder", "--holder", "me", "--json")
	var got struct {
		Key, KeyID, Role, Holder string
	}
	var raw map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &raw) != nil {
		t.Fatalf("create holder --json: %+v", r)
	}
	got.Key, _ = raw["key"].(string)
	got.KeyID, _ = raw["key_id"].(string)
	got.Role, _ = raw["role"].(string)
	got.Holder, _ = raw["holder"].(string)
	if got.Role != "holder" || got.Holder != "me" || !strings.HasPrefix(got.Key, "pbk_"+got.KeyID+"_") {
		t.Fatalf("create holder --json printed %s", r.stdout)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--role", "root"}, "--role"},
		{[]string{"--role", "operator"}, "--institution"},
		{[]string{"--role", "holder"}, "--holder"},
		{[]string{"--role", "admin", "--holder", "me"}, "--holder"},
		{[]string{"--role", "operator", "--institution", "no-such-bank", "--ecosystem", "cn-2023"}, "--institution no-such-bank"},
		{[]string{"--role", "holder", "--holder", "nobody-here", "--ecosystem", "cn-2023"}, "--holder nobody-here"},
		{[]string{}, "role"},
	} {
		r := runPaybridge(t, bin, append([]string{"keys", "create", "--db", db}, tc.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) || r.stdout != "" {
			t.Errorf("keys create %v: code %d stderr %q stdout %q, want exit 2 naming %s", tc.args, r.code, r.stderr, r.stdout, tc.want)
		}
	}

	r = runPaybridge(t, bin, "keys", "list", "--db", db, "--json")
	var list []auth.Principal
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &list) != nil || len(list) != 2 {
		t.Fatalf("keys list --json: %+v", r)
	}
	r = runPaybridge(t, bin, "keys", "revoke", "--db", db, got.KeyID)
	if r.code != 0 || !strings.Contains(r.stdout, got.KeyID) {
		t.Fatalf("revoke: %+v", r)
	}
	if r := runPaybridge(t, bin, "keys", "revoke", "--db", db, "0000000000000000"); r.code != 2 {
		t.Errorf("revoke unknown: %+v", r)
	}
	r = runPaybridge(t, bin, "keys", "list", "--db", db)
	if r.code != 0 || !strings.Contains(r.stdout, "revoked") || !strings.Contains(r.stdout, "holder me") {
		t.Fatalf("keys list: %+v", r)
	}
	if strings.Contains(r.stdout, admin) {
		t.Fatal("keys list shows a key")
	}

	s, err := auth.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p, err := s.Authenticate(context.Background(), admin); err != nil || p.Role != auth.RoleAdmin {
		t.Errorf("admin key from the binary: %+v %v", p, err)
	}
	if _, err := s.Authenticate(context.Background(), got.Key); err == nil {
		t.Error("revoked holder key still authenticates")
	}
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), admin[len(admin)-20:]) {
		t.Error("database file holds the admin key's secret")
	}
}
