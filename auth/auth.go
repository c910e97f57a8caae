// Package auth keeps paybridge's API keys durably, in a table of the
// ledger's own SQLite file, and checks them on every request.
//
// A key is "pbk_" + a 16-hex-digit key id + "_" + a 64-hex-digit secret,
// both from crypto/rand. The key id is public (it names the key in lists,
// logs and revocation); the secret is shown once, when the key is created,
// and never stored: the table keeps only the SHA-256 of the whole key.
//
// Why SHA-256 and not a password hash (bcrypt, scrypt, Argon2): a slow hash
// exists to make guessing a low-entropy secret expensive for someone who
// stole the hashes. The secret here is 256 random bits, so no amount of
// guessing finds it whatever the hash costs, and a preimage of SHA-256 is
// as hard. A slow hash would add nothing but tens of milliseconds to every
// request, since every request is authenticated. Hashes are compared with
// crypto/subtle in constant time.
//
// Verified keys are cached in memory for Options.CacheTTL (default 2 s), so
// a request costs one map lookup and one SHA-256 of about 90 bytes, not a
// database read. Revoke in this process removes the key from the cache at
// once (a lookup that raced with it cannot put it back: the cache has a
// generation counter). A revocation by another process (paybridge keys
// revoke while the server runs) is seen when the cached entry expires: at
// most CacheTTL later, the next request re-reads the key's row and finds it
// revoked.
//
// The table (api_keys) is created if missing. The ledger store ignores
// tables it does not know, so the file stays a ledger that paybridge ledger
// verify accepts.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" database/sql driver
)

// Role is what a key may do.
type Role string

// The roles.
const (
	RoleAdmin    Role = "admin"    // everything
	RoleOperator Role = "operator" // one institution: its accounts and the payments that touch it
	RoleHolder   Role = "holder"   // one holder: own accounts and payments
	RoleAuditor  Role = "auditor"  // read-only everything
)

// Roles lists every role, in the order help texts show them.
var Roles = []Role{RoleAdmin, RoleOperator, RoleHolder, RoleAuditor}

// ParseRole parses a role name (exact, lower case).
func ParseRole(s string) (Role, error) {
	for _, r := range Roles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q is not one of admin, operator, holder, auditor", s)
}

// Principal is a key's identity: its id, role and scope.
type Principal struct {
	KeyID       string `json:"key_id"`
	Role        Role   `json:"role"`
	Institution string `json:"institution,omitempty"`
	Holder      string `json:"holder,omitempty"`
}

// Validate checks that the scope fits the role: an operator names an
// institution and no holder, a holder key names a holder and no
// institution, admin and auditor keys name neither. It does not check that
// the institution or holder exists (the caller knows the ecosystem).
func (p Principal) Validate() error {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		if p.Institution != "" {
			return &FieldError{"institution", fmt.Sprintf("role %s is not scoped to an institution: leave it empty", p.Role)}
		}
		if p.Holder != "" {
			return &FieldError{"holder", fmt.Sprintf("role %s is not scoped to a holder: leave it empty", p.Role)}
		}
	case RoleOperator:
		if p.Institution == "" {
			return &FieldError{"institution", "role operator needs the institution it is scoped to"}
		}
		if p.Holder != "" {
			return &FieldError{"holder", "an operator is scoped to an institution, not a holder"}
		}
	case RoleHolder:
		if p.Holder == "" {
			return &FieldError{"holder", "role holder needs the holder it is scoped to"}
		}
		if p.Institution != "" {
			return &FieldError{"institution", "a holder key is scoped to a holder, not an institution"}
		}
	default:
		_, err := ParseRole(string(p.Role))
		return &FieldError{"role", err.Error()}
	}
	return nil
}

// FieldError is a principal refused by Create, naming the field at fault.
type FieldError struct {
	Field, Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

// Errors.
var (
	// ErrUnauthenticated: the key is malformed, unknown or revoked.
	ErrUnauthenticated = errors.New("auth: unauthenticated")
	// ErrNotFound: Revoke of a key id that is not an active key.
	ErrNotFound = errors.New("auth: no active key with that id")
)

// Key format.
const (
	keyPrefix = "pbk_"
	idBytes   = 8
	secBytes  = 32
	// KeyLen is the length of every key.
	KeyLen = len(keyPrefix) + 2*idBytes + 1 + 2*secBytes
)

// ParseKey splits a key into its id and secret (both lower-case hex). It
// accepts exactly the keys Create makes.
func ParseKey(key string) (id, secret string, ok bool) {
	if len(key) != KeyLen || !strings.HasPrefix(key, keyPrefix) {
		return "", "", false
	}
	id = key[len(keyPrefix) : len(keyPrefix)+2*idBytes]
	if key[len(keyPrefix)+2*idBytes] != '_' {
		return "", "", false
	}
	secret = key[len(keyPrefix)+2*idBytes+1:]
	if !lowerHex(id) || !lowerHex(secret) {
		return "", "", false
	}
	return id, secret, true
}

// ValidKeyID reports whether id has the form of a key id.
func ValidKeyID(id string) bool { return len(id) == 2*idBytes && lowerHex(id) }

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func hashKey(key string) [32]byte {
	if len(key) == KeyLen { // every key Authenticate hashes: no allocation per request
		var b [KeyLen]byte
		copy(b[:], key)
		return sha256.Sum256(b[:])
	}
	return sha256.Sum256([]byte(key))
}

// newKey returns a fresh key and its id.
func newKey() (key, id string, err error) {
	var b [idBytes + secBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("auth: random key: %w", err)
	}
	id = hex.EncodeToString(b[:idBytes])
	return keyPrefix + id + "_" + hex.EncodeToString(b[idBytes:]), id, nil
}

// Options tune OpenWith. The zero value is the production setting.
type Options struct {
	// CacheTTL is how long a verified key is trusted without re-reading
	// its row: the longest a revocation by another process takes to be
	// seen. 0 means DefaultCacheTTL; negative disables the cache.
	CacheTTL time.Duration
	// Now is the clock of the cache and of created_at (nil: time.Now).
	Now func() time.Time
}

// DefaultCacheTTL is Options.CacheTTL's default.
const DefaultCacheTTL = 2 * time.Second

// Store is the key table of one SQLite file. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	ttl time.Duration
	now func() time.Time

	mu    sync.RWMutex
	cache map[string]cached // key id → verified hash and principal
	gen   uint64            // bumped by every Revoke: a lookup begun before it must not fill the cache
}

type cached struct {
	hash    [32]byte
	p       Principal
	expires time.Time
}

const schema = `CREATE TABLE IF NOT EXISTS api_keys (
  key_id TEXT PRIMARY KEY,
  hash BLOB NOT NULL,
  role TEXT NOT NULL,
  institution TEXT NOT NULL DEFAULT '',
  holder TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  revoked_at TEXT
) WITHOUT ROWID`

// Open opens the key table of the SQLite file at path (creating the file
// and the table if missing) with the default Options.
func Open(path string) (*Store, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("auth: empty database path")
	}
	// A file: URI with the path escaped, so names with '%', '?' or '#'
	// work. WAL like the ledger store (readers never block its writer);
	// synchronous=FULL so that a created or revoked key survives a crash;
	// busy_timeout because the ledger's writer may hold the write lock.
	u := url.URL{Scheme: "file", OmitHost: true, Path: path,
		RawQuery: "_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(full)&_txlock=immediate"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, fmt.Errorf("auth: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: open %s: %w", path, err)
	}
	s := &Store{db: db, ttl: opts.CacheTTL, now: opts.Now, cache: map[string]cached{}}
	if s.ttl == 0 {
		s.ttl = DefaultCacheTTL
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

// Close closes the database connections.
func (s *Store) Close() error { return s.db.Close() }

// Create makes a key for p (its KeyID is ignored) and returns the key,
// which is shown once and never stored, and the principal as stored. A
// principal whose scope does not fit its role is refused with a
// *FieldError.
func (s *Store) Create(ctx context.Context, p Principal) (string, Principal, error) {
	if err := p.Validate(); err != nil {
		return "", Principal{}, err
	}
	key, id, err := newKey()
	if err != nil {
		return "", Principal{}, err
	}
	p.KeyID = id
	h := hashKey(key)
	if _, err := s.db.ExecContext(ctx, `INSERT INTO api_keys(key_id, hash, role, institution, holder, created_at) VALUES(?,?,?,?,?,?)`,
		id, h[:], string(p.Role), p.Institution, p.Holder, s.now().UTC().Format(time.RFC3339Nano)); err != nil {
		return "", Principal{}, fmt.Errorf("auth: create key: %w", err)
	}
	return key, p, nil
}

// Authenticate returns the principal of an active key, or an error
// wrapping ErrUnauthenticated for a malformed, unknown or revoked key (or
// another error if the database cannot be read).
func (s *Store) Authenticate(ctx context.Context, key string) (Principal, error) {
	id, _, ok := ParseKey(key)
	if !ok {
		return Principal{}, ErrUnauthenticated
	}
	h := hashKey(key)
	now := s.now()
	s.mu.RLock()
	c, hit := s.cache[id]
	gen := s.gen
	s.mu.RUnlock()
	if hit && now.Before(c.expires) {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) != 1 {
			return Principal{}, ErrUnauthenticated
		}
		return c.p, nil
	}
	var stored []byte
	var role string
	var revoked sql.NullString
	p := Principal{KeyID: id}
	err := s.db.QueryRowContext(ctx, `SELECT hash, role, institution, holder, revoked_at FROM api_keys WHERE key_id = ?`, id).
		Scan(&stored, &role, &p.Institution, &p.Holder, &revoked)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		s.forget(id, gen)
		return Principal{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, fmt.Errorf("auth: read key %s: %w", id, err)
	}
	if revoked.Valid || subtle.ConstantTimeCompare(h[:], stored) != 1 {
		s.forget(id, gen)
		return Principal{}, ErrUnauthenticated
	}
	p.Role = Role(role)
	if s.ttl > 0 {
		s.mu.Lock()
		if s.gen == gen {
			s.cache[id] = cached{hash: h, p: p, expires: now.Add(s.ttl)}
		}
		s.mu.Unlock()
	}
	return p, nil
}

// forget drops a stale cache entry for id (a key revoked elsewhere).
func (s *Store) forget(id string, gen uint64) {
	s.mu.Lock()
	if s.gen == gen {
		delete(s.cache, id)
	}
	s.mu.Unlock()
}

// List returns the active keys' principals, oldest first.
func (s *Store) List(ctx context.Context) ([]Principal, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key_id, role, institution, holder FROM api_keys WHERE revoked_at IS NULL ORDER BY created_at, key_id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	defer rows.Close()
	out := []Principal{}
	for rows.Next() {
		var p Principal
		var role string
		if err := rows.Scan(&p.KeyID, &role, &p.Institution, &p.Holder); err != nil {
			return nil, fmt.Errorf("auth: list keys: %w", err)
		}
		p.Role = Role(role)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return out, nil
}

// Revoke revokes the active key keyID: from now on this store refuses it
// (another process's store within its CacheTTL). The row stays, marked
// revoked, so the key id is never reused. It returns an error wrapping
// ErrNotFound when no active key has that id.
func (s *Store) Revoke(ctx context.Context, keyID string) error {
	if !ValidKeyID(keyID) {
		return fmt.Errorf("%w: %q is not a key id (16 lower-case hex digits)", ErrNotFound, keyID)
	}
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL`,
		s.now().UTC().Format(time.RFC3339Nano), keyID)
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	// Drop the cached entry even if the row was already revoked (by
	// another process), and stop lookups in flight from re-adding it.
	s.mu.Lock()
	s.gen++
	delete(s.cache, keyID)
	s.mu.Unlock()
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, keyID)
	}
	return nil
}

// Count returns how many active keys there are.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE revoked_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("auth: count keys: %w", err)
	}
	return n, nil
}
