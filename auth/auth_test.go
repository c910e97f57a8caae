package auth

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Role
		ok   bool
	}{
		{"admin", RoleAdmin, true}, {"Operator", RoleOperator, true}, {" holder ", RoleHolder, true},
		{"auditor", RoleAuditor, true}, {"", "", false}, {"root", "", false}, {"admins", "", false},
	} {
		got, err := ParseRole(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// TestScopes checks every role against every scope question.
func TestScopes(t *testing.T) {
	admin := Principal{Role: RoleAdmin}
	op := Principal{Role: RoleOperator, Institution: "alipay"}
	hold := Principal{Role: RoleHolder, Holder: "alice"}
	aud := Principal{Role: RoleAuditor}
	none := Principal{Role: "root"}
	for _, tc := range []struct {
		name                      string
		p                         Principal
		read, write               bool
		alice, bob, empty         bool // SeesHolder
		alipay, wechat, emptyInst bool // SeesInstitution
	}{
		{"admin", admin, true, true, true, true, true, true, true, true},
		{"operator", op, true, true, false, false, false, true, false, false},
		{"holder", hold, true, true, true, false, false, false, false, false},
		{"auditor", aud, true, false, true, true, true, true, true, true},
		{"unknown role", none, false, false, false, false, false, false, false, false},
		{"zero", Principal{}, false, false, false, false, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, got, want bool) {
				if got != want {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("CanRead", tc.p.CanRead(), tc.read)
			check("CanWrite", tc.p.CanWrite(), tc.write)
			check("SeesHolder(alice)", tc.p.SeesHolder("alice"), tc.alice)
			check("SeesHolder(bob)", tc.p.SeesHolder("bob"), tc.bob)
			check("SeesHolder(\"\")", tc.p.SeesHolder(""), tc.empty)
			check("SeesInstitution(alipay)", tc.p.SeesInstitution("alipay"), tc.alipay)
			check("SeesInstitution(wechat)", tc.p.SeesInstitution("wechat"), tc.wechat)
			check("SeesInstitution(\"\")", tc.p.SeesInstitution(""), tc.emptyInst)
		})
	}
}

func TestCreateValidates(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	for _, tc := range []struct {
		p     Principal
		field string // "" = accepted
	}{
		{Principal{Role: RoleAdmin}, ""},
		{Principal{Role: RoleAuditor}, ""},
		{Principal{Role: RoleOperator, Institution: "alipay"}, ""},
		{Principal{Role: RoleHolder, Holder: "alice"}, ""},
		{Principal{Role: RoleOperator}, "institution"},
		{Principal{Role: RoleOperator, Institution: "alipay", Holder: "alice"}, "holder"},
		{Principal{Role: RoleHolder}, "holder"},
		{Principal{Role: RoleHolder, Holder: "alice", Institution: "alipay"}, "institution"},
		{Principal{Role: RoleAdmin, Holder: "alice"}, "holder"},
		{Principal{Role: RoleAuditor, Institution: "alipay"}, "institution"},
		{Principal{Role: "root"}, "role"},
		{Principal{Role: "Admin"}, "role"},
		{Principal{Role: RoleHolder, Holder: "al ice"}, "holder"},
		{Principal{Role: RoleHolder, Holder: strings.Repeat("a", MaxScopeLen+1)}, "holder"},
		{Principal{Role: RoleOperator, Institution: "a\x00b"}, "institution"},
	} {
		key, p, err := s.Create(ctx, tc.p)
		if tc.field == "" {
			if err != nil {
				t.Errorf("Create(%+v): %v", tc.p, err)
				continue
			}
			if p.Role != tc.p.Role || p.Institution != tc.p.Institution || p.Holder != tc.p.Holder || p.KeyID == "" || p.Created.IsZero() {
				t.Errorf("Create(%+v) = %+v", tc.p, p)
			}
			if !strings.HasPrefix(key, "pbk_"+p.KeyID+"_") || len(key) != KeyLen {
				t.Errorf("key %q does not embed key id %s", key, p.KeyID)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tc.field) {
			t.Errorf("Create(%+v) error %v, want one naming %q", tc.p, err, tc.field)
		}
	}
}

func TestAuthenticateAndRevoke(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	key, p, err := s.Create(ctx, Principal{Role: RoleOperator, Institution: "alipay"})
	if err != nil {
		t.Fatal(err)
	}
	key2, _, err := s.Create(ctx, Principal{Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second time from the cache
		got, err := s.Authenticate(ctx, key)
		if err != nil || got.KeyID != p.KeyID || got.Role != RoleOperator || got.Institution != "alipay" {
			t.Fatalf("Authenticate: %+v, %v", got, err)
		}
	}
	// A wrong secret for a known (cached) id, a malformed key, an unknown id.
	wrong := key[:len(key)-2] + "AA"
	if wrong == key {
		wrong = key[:len(key)-2] + "AQ"
	}
	for _, bad := range []string{wrong, "", "Bearer " + key, key + "x", strings.ToUpper(key), "pbk_0000000000000000_" + key[len(key)-secretLen:]} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v, want ErrUnauthenticated", bad, err)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Fatalf("Count = %d, %v; want 2", n, err)
	}
	if err := s.Revoke(ctx, p.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked key authenticated: %v", err)
	}
	if err := s.Revoke(ctx, p.KeyID); err != nil {
		t.Fatalf("second revoke: %v", err)
	}
	if err := s.Revoke(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown = %v", err)
	}
	if err := s.Revoke(ctx, "nonsense"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke malformed = %v", err)
	}
	if n, _ := s.Count(ctx); n != 1 {
		t.Fatalf("Count after revoke = %d, want 1", n)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	revoked := 0
	for _, q := range list {
		if q.Revoked {
			revoked++
			if q.KeyID != p.KeyID {
				t.Errorf("wrong key marked revoked: %+v", q)
			}
		}
	}
	if revoked != 1 {
		t.Errorf("List marks %d revoked, want 1", revoked)
	}

	// Keys survive reopening; a revocation by another Store on the same
	// file is seen once the cache entry is older than RevalidateEvery.
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.SetClock(func() time.Time { return now })
	if _, err := s.Authenticate(ctx, key2); err != nil {
		t.Fatal(err)
	}
	other, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	p2, err := other.Authenticate(ctx, key2)
	if err != nil {
		t.Fatalf("key not readable by a second store: %v", err)
	}
	if err := other.Revoke(ctx, p2.KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key2); err != nil {
		t.Fatalf("within RevalidateEvery the cache answers: %v", err)
	}
	now = now.Add(RevalidateEvery)
	if _, err := s.Authenticate(ctx, key2); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revocation by another store not seen after RevalidateEvery: %v", err)
	}
}

// TestNoPlaintextKey: the database file (and its WAL) holds neither the key
// nor its secret, in any encoding the key is written in.
func TestNoPlaintextKey(t *testing.T) {
	s, path := openTest(t)
	ctx := context.Background()
	var keys []string
	for _, p := range []Principal{{Role: RoleAdmin}, {Role: RoleHolder, Holder: "alice"}} {
		k, _, err := s.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s.Close()
	var all []byte
	for _, f := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte("api_keys")) {
		t.Fatal("database does not contain the key table at all; the test reads the wrong file")
	}
	for _, k := range keys {
		id, secret, err := ParseKey(k)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(all, []byte(id)) {
			t.Errorf("key id %s not stored", id)
		}
		for _, needle := range [][]byte{[]byte(k), []byte(k[len(k)-secretLen:]), secret} {
			if bytes.Contains(all, needle) {
				t.Errorf("database holds the plaintext key or secret %q", needle)
			}
		}
	}
}

func TestConcurrentAuthenticate(t *testing.T) {
	s, _ := openTest(t)
	ctx := context.Background()
	key, _, err := s.Create(ctx, Principal{Role: RoleHolder, Holder: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if p, err := s.Authenticate(ctx, key); err != nil || p.Holder != "alice" {
					t.Errorf("Authenticate: %+v %v", p, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// FuzzParseKey: no input panics; whatever parses re-encodes to itself.
func FuzzParseKey(f *testing.F) {
	f.Add("pbk_0123456789abcdef_" + strings.Repeat("A", secretLen))
	f.Add("pbk_")
	f.Add("")
	f.Add("pbk_0123456789ABCDEF_" + strings.Repeat("_", secretLen))
	f.Fuzz(func(t *testing.T, key string) {
		id, secret, err := ParseKey(key)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("error %v is not ErrUnauthenticated", err)
			}
			return
		}
		if len(secret) != 32 || !validKeyID(id) {
			t.Fatalf("parsed %q into id %q, %d-byte secret", key, id, len(secret))
		}
		if again := keyPrefix + id + "_" + encodeSecret(secret); again != key {
			t.Fatalf("%q parsed and re-encoded as %q", key, again)
		}
	})
}

func BenchmarkAuthenticateCached(b *testing.B) {
	path := filepath.Join(b.TempDir(), "k.db")
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key, _, err := s.Create(context.Background(), Principal{Role: RoleAdmin})
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(context.Background(), key); err != nil {
				b.Fatal(err)
			}
		}
	})
}
