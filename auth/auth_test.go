package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paybridge/paybridge/store/sqlite"
)

func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keys.db")
	s, err := OpenWith(path, opts)
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
		{"admin", RoleAdmin, true},
		{"operator", RoleOperator, true},
		{"holder", RoleHolder, true},
		{"auditor", RoleAuditor, true},
		{"Admin", "", false},
		{"", "", false},
		{"root", "", false},
		{" admin", "", false},
	} {
		got, err := ParseRole(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestCreateValidates(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		p     Principal
		field string // "" means accepted
	}{
		{Principal{Role: RoleAdmin}, ""},
		{Principal{Role: RoleAuditor}, ""},
		{Principal{Role: RoleOperator, Institution: "alipay"}, ""},
		{Principal{Role: RoleHolder, Holder: "alice"}, ""},
		{Principal{Role: RoleAdmin, Institution: "alipay"}, "institution"},
		{Principal{Role: RoleAuditor, Holder: "alice"}, "holder"},
		{Principal{Role: RoleOperator}, "institution"},
		{Principal{Role: RoleOperator, Institution: "alipay", Holder: "alice"}, "holder"},
		{Principal{Role: RoleHolder}, "holder"},
		{Principal{Role: RoleHolder, Holder: "alice", Institution: "alipay"}, "institution"},
		{Principal{Role: "root"}, "role"},
		{Principal{}, "role"},
	} {
		key, out, err := s.Create(ctx, tc.p)
		if tc.field == "" {
			if err != nil {
				t.Errorf("Create(%+v): %v", tc.p, err)
				continue
			}
			if _, _, ok := ParseKey(key); !ok || out.KeyID == "" || !strings.Contains(key, out.KeyID) {
				t.Errorf("Create(%+v) = key %q, principal %+v: malformed", tc.p, key, out)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("Create(%+v) error = %v; want a FieldError on %s", tc.p, err, tc.field)
		}
	}
}

func TestLifecycle(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	if n, err := s.Count(ctx); err != nil || n != 0 {
		t.Fatalf("Count of a new store = %d, %v; want 0", n, err)
	}
	want := []Principal{
		{Role: RoleAdmin},
		{Role: RoleOperator, Institution: "alipay"},
		{Role: RoleHolder, Holder: "p0001"},
		{Role: RoleAuditor},
	}
	keys := make([]string, len(want))
	for i, p := range want {
		k, out, err := s.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		keys[i], want[i].KeyID = k, out.KeyID
		if out != want[i] {
			t.Errorf("Create returned %+v; want %+v", out, want[i])
		}
	}
	for i, k := range keys {
		for round := 0; round < 2; round++ { // the second round is served by the cache
			got, err := s.Authenticate(ctx, k)
			if err != nil || got != want[i] {
				t.Errorf("Authenticate(key %d, round %d) = %+v, %v; want %+v", i, round, got, err, want[i])
			}
		}
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != len(want) {
		t.Fatalf("List = %v, %v; want %d keys", list, err, len(want))
	}
	seen := map[Principal]bool{}
	for _, p := range list {
		seen[p] = true
	}
	for _, p := range want {
		if !seen[p] {
			t.Errorf("List lacks %+v", p)
		}
	}

	if err := s.Revoke(ctx, want[1].KeyID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, keys[1]); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("Authenticate of a revoked key: %v; want ErrUnauthenticated", err)
	}
	if err := s.Revoke(ctx, want[1].KeyID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Revoke: %v; want ErrNotFound", err)
	}
	if err := s.Revoke(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke of an unknown id: %v; want ErrNotFound", err)
	}
	if err := s.Revoke(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Revoke of a malformed id: %v; want ErrNotFound", err)
	}
	if n, _ := s.Count(ctx); n != 3 {
		t.Errorf("Count after one revocation = %d; want 3", n)
	}
	if list, _ := s.List(ctx); len(list) != 3 {
		t.Errorf("List after one revocation has %d keys; want 3", len(list))
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	key, p, err := s.Create(ctx, Principal{Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, key); err != nil { // warm the cache
		t.Fatal(err)
	}
	flip := []byte(key)
	last := len(flip) - 1
	if flip[last] == '0' {
		flip[last] = '1'
	} else {
		flip[last] = '0'
	}
	other, _, _ := newKey()
	for name, k := range map[string]string{
		"empty":              "",
		"wrong secret":       string(flip),
		"unknown id":         other,
		"upper case":         strings.ToUpper(key),
		"truncated":          key[:len(key)-1],
		"trailing space":     key + " ",
		"other prefix":       "pbx_" + key[4:],
		"id only":            "pbk_" + p.KeyID,
		"secret of the same": "pbk_" + p.KeyID + "_" + strings.Repeat("0", 64),
	} {
		if got, err := s.Authenticate(ctx, k); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: Authenticate = %+v, %v; want ErrUnauthenticated", name, got, err)
		}
	}
	// The right key still works after the wrong ones.
	if _, err := s.Authenticate(ctx, key); err != nil {
		t.Errorf("right key after wrong ones: %v", err)
	}
}

// TestDurable: keys survive closing and reopening the file.
func TestDurable(t *testing.T) {
	s, path := openTemp(t, Options{})
	ctx := context.Background()
	key, p, err := s.Create(ctx, Principal{Role: RoleHolder, Holder: "p0001"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got, err := s2.Authenticate(ctx, key); err != nil || got != p {
		t.Fatalf("after reopening: %+v, %v; want %+v", got, err, p)
	}
}

// TestOtherProcessRevocation: a revocation by another store on the same
// file (another process) is seen once the cached entry expires, not before
// it is re-read and not later.
func TestOtherProcessRevocation(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clk := func() time.Time { return time.Unix(0, now.Load()) }
	server, path := openTemp(t, Options{CacheTTL: 2 * time.Second, Now: clk})
	cli, err := OpenWith(path, Options{Now: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	key, p, err := cli.Create(ctx, Principal{Role: RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := cli.Revoke(ctx, p.KeyID); err != nil {
		t.Fatal(err)
	}
	now.Add(int64(time.Second))
	if _, err := server.Authenticate(ctx, key); err != nil {
		t.Errorf("within the cache TTL the server still trusts its cached key, got %v", err)
	}
	now.Add(int64(1500 * time.Millisecond))
	if _, err := server.Authenticate(ctx, key); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after the cache TTL a key revoked by another process must be refused, got %v", err)
	}
}

// TestNoPlaintext: neither the key nor its secret is anywhere in the
// database files (main file and WAL).
func TestNoPlaintext(t *testing.T) {
	s, path := openTemp(t, Options{})
	ctx := context.Background()
	var keys []string
	for i := 0; i < 20; i++ {
		k, _, err := s.Create(ctx, Principal{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	s.Close()
	files, _ := filepath.Glob(path + "*")
	if len(files) == 0 {
		t.Fatal("no database file")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			_, secret, _ := ParseKey(k)
			if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(k)) {
				t.Fatalf("%s holds a plaintext key or secret", f)
			}
			// Nor the secret's raw bytes.
			raw := make([]byte, len(secret)/2)
			for i := range raw {
				raw[i] = unhex(secret[2*i])<<4 | unhex(secret[2*i+1])
			}
			if bytes.Contains(b, raw) {
				t.Fatalf("%s holds a secret's raw bytes", f)
			}
		}
	}
	// The key ids are there (they are public); this proves we read the
	// right files.
	var any bool
	for _, f := range files {
		b, _ := os.ReadFile(f)
		id, _, _ := ParseKey(keys[0])
		any = any || bytes.Contains(b, []byte(id))
	}
	if !any {
		t.Fatal("the key id is in no file: the test read the wrong files")
	}
}

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// TestConcurrentAuthenticateRevoke (run with -race): while keys are being
// authenticated from many goroutines, revoked keys are refused from the
// moment Revoke returns, and the others keep working.
func TestConcurrentAuthenticateRevoke(t *testing.T) {
	s, _ := openTemp(t, Options{CacheTTL: time.Hour})
	ctx := context.Background()
	const n = 16
	keys := make([]string, n)
	ids := make([]string, n)
	for i := range keys {
		k, p, err := s.Create(ctx, Principal{Role: RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		keys[i], ids[i] = k, p.KeyID
	}
	var revoked [n]atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fails atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := g; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				j := i % n
				wasRevoked := revoked[j].Load() // read before: if set, the key must be refused
				_, err := s.Authenticate(ctx, keys[j])
				switch {
				case wasRevoked && err == nil:
					t.Errorf("key %d accepted after its Revoke returned", j)
					fails.Add(1)
				case !wasRevoked && err != nil && !errors.Is(err, ErrUnauthenticated):
					t.Errorf("key %d: %v", j, err)
					fails.Add(1)
				}
				if fails.Load() > 5 {
					return
				}
			}
		}(g)
	}
	for j := 0; j < n; j += 2 { // revoke every other key
		time.Sleep(2 * time.Millisecond)
		if err := s.Revoke(ctx, ids[j]); err != nil {
			t.Fatal(err)
		}
		revoked[j].Store(true)
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	for j := range keys {
		_, err := s.Authenticate(ctx, keys[j])
		if (j%2 == 0) != (err != nil) {
			t.Errorf("key %d at the end: %v (revoked: %v)", j, err, j%2 == 0)
		}
	}
}

// TestLedgerFileStaysALedger: the key table lives beside the ledger's
// tables; the ledger store opens, replays and accepts the file (what
// paybridge ledger verify does), before and after keys are written.
func TestLedgerFileStaysALedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.db")
	ls, err := sqlite.Open(path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Keys written while the ledger store holds the file open.
	ks, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := ks.Create(ctx, Principal{Role: RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if err := ls.Close(); err != nil {
		t.Fatal(err)
	}
	ls, err = sqlite.Open(path, sqlite.Options{MustExist: true})
	if err != nil {
		t.Fatalf("the ledger store refuses the file with a key table: %v", err)
	}
	defer ls.Close()
	if _, err := ls.Replay(ctx); err != nil {
		t.Fatalf("replay: %v", err)
	}
	if _, err := ks.Authenticate(ctx, key); err != nil {
		t.Fatal(err)
	}
	ks.Close()
}

func BenchmarkAuthenticateCached(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "k.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	key, _, _ := s.Create(context.Background(), Principal{Role: RoleAdmin})
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Authenticate(context.Background(), key); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestHashKeyNoAlloc: hashing a key of the standard length is SHA-256 of
// it and allocates nothing (it runs on every request).
func TestHashKeyNoAlloc(t *testing.T) {
	key, _, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	if hashKey(key) != sha256.Sum256([]byte(key)) || hashKey("short") != sha256.Sum256([]byte("short")) {
		t.Fatal("hashKey is not SHA-256 of the key")
	}
	if n := testing.AllocsPerRun(100, func() { hashKey(key) }); n != 0 {
		t.Errorf("hashKey allocates %v times per key", n)
	}
}
