// Package auth holds paybridge's API keys and the roles they grant.
//
// A key is "pbk_" + a 16-hex-digit key id + "_" + a 43-character base64url
// secret (256 bits from crypto/rand). It is shown once, when it is created;
// the database keeps only the key id, the role and scope, and SHA-256 of the
// secret (bound to the key id). A plain fast hash is the right choice here,
// not bcrypt/scrypt/argon2: those exist to slow down guessing of
// low-entropy human passwords, whereas a 256-bit random secret cannot be
// guessed from its hash at any speed (2^256 work), so slowing the hash would
// only slow every request, and Authenticate runs on every request. Hashes
// are compared in constant time.
//
// Authenticate caches verified keys in memory. A revocation through this
// Store takes effect at once; a revocation made by another process on the
// same file (paybridge keys revoke while the server runs) takes effect
// within RevalidateEvery, when the cached entry is checked against the
// database again.
//
// Roles: admin (everything), operator (scoped to one institution), holder
// (its own accounts and payments), auditor (reads everything, writes
// nothing). The Principal methods answer the scope questions; the server
// decides which question each endpoint asks.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" database/sql driver
)

// Role is what a key may do.
type Role string

// The roles.
const (
	RoleAdmin    Role = "admin"
	RoleOperator Role = "operator"
	RoleHolder   Role = "holder"
	RoleAuditor  Role = "auditor"
)

// Roles lists every role, for help texts and validation.
var Roles = []Role{RoleAdmin, RoleOperator, RoleHolder, RoleAuditor}

// ParseRole parses a role name (case-insensitive, surrounding space ignored).
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, v := range Roles {
		if r == v {
			return r, nil
		}
	}
	return "", fmt.Errorf("role %q: must be one of admin, operator, holder, auditor", s)
}

// Principal is who a key speaks for.
type Principal struct {
	KeyID string `json:"key_id"`
	Role  Role   `json:"role"`
	// Institution scopes an operator (an ecosystem institution id).
	Institution string `json:"institution,omitempty"`
	// Holder scopes a holder key (an ecosystem holder id).
	Holder string `json:"holder,omitempty"`
	// Created is when the key was made (set by Create, read by List).
	Created time.Time `json:"created"`
	// Revoked says the key no longer authenticates (List shows revoked keys).
	Revoked bool `json:"revoked,omitempty"`
}

// CanRead says whether the principal may read (every valid role may).
func (p Principal) CanRead() bool {
	switch p.Role {
	case RoleAdmin, RoleOperator, RoleHolder, RoleAuditor:
		return true
	}
	return false
}

// CanWrite says whether the principal may change anything (the auditor may not).
func (p Principal) CanWrite() bool {
	switch p.Role {
	case RoleAdmin, RoleOperator, RoleHolder:
		return true
	}
	return false
}

// SeesHolder says whether the principal may see holder's accounts and
// payments by virtue of the holder: admin and auditor see every holder, a
// holder key only its own. An operator sees nothing by holder; what it sees
// is decided by SeesInstitution on the institutions an account or payment
// touches.
func (p Principal) SeesHolder(holder string) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleHolder:
		return holder != "" && holder == p.Holder
	}
	return false
}

// SeesInstitution says whether the principal may see the accounts and
// payments of institution inst: admin and auditor see every institution, an
// operator only its own, a holder key none by institution (it sees by
// SeesHolder).
func (p Principal) SeesInstitution(inst string) bool {
	switch p.Role {
	case RoleAdmin, RoleAuditor:
		return true
	case RoleOperator:
		return inst != "" && inst == p.Institution
	}
	return false
}

// ErrUnauthenticated is returned by Authenticate for a key that is
// malformed, unknown, wrong or revoked; which of these is not told.
var ErrUnauthenticated = errors.New("unauthenticated: missing, malformed, unknown or revoked API key")

// ErrNotFound is returned by Revoke for an unknown key id.
var ErrNotFound = errors.New("no such API key")

// Key format.
const (
	keyPrefix = "pbk_"
	idBytes   = 8
	idLen     = 2 * idBytes // hex
	secretLen = 43          // base64url, no padding, of 32 bytes
	// KeyLen is the length of every key.
	KeyLen = len(keyPrefix) + idLen + 1 + secretLen
	// MaxScopeLen bounds an institution or holder id.
	MaxScopeLen = 128
	// RevalidateEvery is how long a cached verified key is trusted before
	// its revocation status is read from the database again.
	RevalidateEvery = time.Second
)

// ParseKey splits a key into its id and secret, checking the format.
func ParseKey(key string) (id string, secret []byte, err error) {
	if len(key) != KeyLen || !strings.HasPrefix(key, keyPrefix) || key[len(keyPrefix)+idLen] != '_' {
		return "", nil, ErrUnauthenticated
	}
	id = key[len(keyPrefix) : len(keyPrefix)+idLen]
	if !validKeyID(id) {
		return "", nil, ErrUnauthenticated
	}
	secret, err = base64.RawURLEncoding.Strict().DecodeString(key[len(keyPrefix)+idLen+1:])
	if err != nil || len(secret) != 32 {
		return "", nil, ErrUnauthenticated
	}
	return id, secret, nil
}

// encodeSecret is the secret's text in a key.
func encodeSecret(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// validKeyID: 16 lowercase hex digits.
func validKeyID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// hashSecret is what the database stores: SHA-256 over a label, the key id
// and the secret, so a hash cannot be moved to another key id.
func hashSecret(id string, secret []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte("paybridge api key v1\x00"))
	h.Write([]byte(id))
	h.Write([]byte{0})
	h.Write(secret)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

const schema = `
CREATE TABLE IF NOT EXISTS api_keys (
  key_id TEXT PRIMARY KEY,
  hash BLOB NOT NULL,
  role TEXT NOT NULL,
  institution TEXT NOT NULL DEFAULT '',
  holder TEXT NOT NULL DEFAULT '',
  created TEXT NOT NULL,
  revoked TEXT
) WITHOUT ROWID;
`

// cached is a verified key in memory.
type cached struct {
	hash    [32]byte
	p       Principal
	checked time.Time // when the database last said it was not revoked
}

// Store keeps API keys in a table of the ledger's SQLite file. It is safe
// for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time

	mu    sync.RWMutex
	cache map[string]*cached
	gen   uint64 // bumped by Revoke; a load that straddles a revocation is not cached
}

// Open opens the key table in the SQLite file at path, creating the file
// and the table if missing. The ledger's store may have the same file open.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("auth: empty database path")
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: path,
		RawQuery: "mode=rwc&_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)&_pragma=synchronous(full)"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, fmt.Errorf("auth: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(2)
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("auth: open %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now, cache: map[string]*cached{}}, nil
}

// SetClock sets the clock that stamps Created and times cache revalidation
// (time.Now by default). Call it before using the store.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Close closes the database handle.
func (s *Store) Close() error { return s.db.Close() }

// validScope checks an institution or holder id.
func validScope(field, v string) error {
	if len(v) > MaxScopeLen {
		return fmt.Errorf("%s: longer than %d bytes", field, MaxScopeLen)
	}
	for _, r := range v {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("%s %q: contains a space, control or invalid character", field, v)
		}
	}
	return nil
}

// Validate checks a principal's role and scope: an operator needs an
// institution (and no holder), a holder key needs a holder (and no
// institution), admin and auditor take neither.
func (p Principal) Validate() error {
	if _, err := ParseRole(string(p.Role)); err != nil || Role(strings.ToLower(string(p.Role))) != p.Role {
		return fmt.Errorf("role %q: must be one of admin, operator, holder, auditor", p.Role)
	}
	if err := validScope("institution", p.Institution); err != nil {
		return err
	}
	if err := validScope("holder", p.Holder); err != nil {
		return err
	}
	switch p.Role {
	case RoleOperator:
		if p.Institution == "" {
			return errors.New("institution: an operator key needs the institution it operates")
		}
		if p.Holder != "" {
			return errors.New("holder: an operator key is scoped by institution, not holder")
		}
	case RoleHolder:
		if p.Holder == "" {
			return errors.New("holder: a holder key needs the holder it speaks for")
		}
		if p.Institution != "" {
			return errors.New("institution: a holder key is scoped by holder, not institution")
		}
	default:
		if p.Institution != "" {
			return fmt.Errorf("institution: an %s key is not scoped to an institution", p.Role)
		}
		if p.Holder != "" {
			return fmt.Errorf("holder: an %s key is not scoped to a holder", p.Role)
		}
	}
	return nil
}

// Create makes a key for p's role and scope (p.KeyID, Created and Revoked
// are ignored: the store assigns them) and returns the key, which is not
// stored and cannot be shown again, with the stored principal. Errors:
// validation (naming the field), the database's.
func (s *Store) Create(ctx context.Context, p Principal) (string, Principal, error) {
	if err := p.Validate(); err != nil {
		return "", Principal{}, err
	}
	var raw [idBytes + 32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Principal{}, fmt.Errorf("auth: random: %w", err)
	}
	id := hex.EncodeToString(raw[:idBytes])
	secret := raw[idBytes:]
	key := keyPrefix + id + "_" + encodeSecret(secret)
	h := hashSecret(id, secret)
	p.KeyID, p.Revoked = id, false
	p.Created = s.now().UTC().Truncate(time.Millisecond)
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_keys(key_id,hash,role,institution,holder,created) VALUES(?,?,?,?,?,?)`,
		id, h[:], string(p.Role), p.Institution, p.Holder, p.Created.Format(time.RFC3339Nano))
	if err != nil {
		return "", Principal{}, fmt.Errorf("auth: create key: %w", err)
	}
	return key, p, nil
}

// Authenticate returns the principal of a key. Errors: ErrUnauthenticated
// (malformed, unknown, wrong secret or revoked), the database's.
func (s *Store) Authenticate(ctx context.Context, key string) (Principal, error) {
	id, secret, err := ParseKey(key)
	if err != nil {
		return Principal{}, ErrUnauthenticated
	}
	h := hashSecret(id, secret)
	now := s.now()
	s.mu.RLock()
	c := s.cache[id]
	s.mu.RUnlock()
	if c != nil && now.Sub(c.checked) < RevalidateEvery && now.Sub(c.checked) >= 0 {
		if subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
			return c.p, nil
		}
		return Principal{}, ErrUnauthenticated
	}
	s.mu.RLock()
	gen := s.gen
	s.mu.RUnlock()
	p, stored, revoked, err := s.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.drop(id)
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if revoked {
		s.drop(id)
		return Principal{}, ErrUnauthenticated
	}
	if subtle.ConstantTimeCompare(h[:], stored[:]) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	s.mu.Lock()
	if s.gen == gen {
		s.cache[id] = &cached{hash: stored, p: p, checked: now}
	}
	s.mu.Unlock()
	return p, nil
}

// drop removes a cached entry the database no longer backs.
func (s *Store) drop(id string) {
	s.mu.Lock()
	delete(s.cache, id)
	s.mu.Unlock()
}

// forget removes a cached entry and stops any Authenticate in flight from
// caching what it read before a revocation.
func (s *Store) forget(id string) {
	s.mu.Lock()
	s.gen++
	delete(s.cache, id)
	s.mu.Unlock()
}

// load reads one key row.
func (s *Store) load(ctx context.Context, id string) (Principal, [32]byte, bool, error) {
	var (
		p       Principal
		hash    []byte
		role    string
		created string
		revoked sql.NullString
		out     [32]byte
	)
	err := s.db.QueryRowContext(ctx, `SELECT key_id,hash,role,institution,holder,created,revoked FROM api_keys WHERE key_id=?`, id).
		Scan(&p.KeyID, &hash, &role, &p.Institution, &p.Holder, &created, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return p, out, false, ErrNotFound
	}
	if err != nil {
		return p, out, false, fmt.Errorf("auth: read key: %w", err)
	}
	if len(hash) != len(out) {
		return p, out, false, fmt.Errorf("auth: key %s: stored hash has %d bytes", id, len(hash))
	}
	copy(out[:], hash)
	p.Role = Role(role)
	p.Created, _ = time.Parse(time.RFC3339Nano, created)
	p.Revoked = revoked.Valid
	return p, out, revoked.Valid, nil
}

// List returns every key's principal (revoked ones marked), oldest first.
// No key or hash is returned.
func (s *Store) List(ctx context.Context) ([]Principal, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key_id,role,institution,holder,created,revoked FROM api_keys ORDER BY created, key_id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	defer rows.Close()
	out := []Principal{}
	for rows.Next() {
		var p Principal
		var role, created string
		var revoked sql.NullString
		if err := rows.Scan(&p.KeyID, &role, &p.Institution, &p.Holder, &created, &revoked); err != nil {
			return nil, fmt.Errorf("auth: list keys: %w", err)
		}
		p.Role = Role(role)
		p.Created, _ = time.Parse(time.RFC3339Nano, created)
		p.Revoked = revoked.Valid
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return out, nil
}

// Revoke stops a key from authenticating, at once in this process. Revoking
// a revoked key is not an error. Errors: ErrNotFound, the database's.
func (s *Store) Revoke(ctx context.Context, keyID string) error {
	if !validKeyID(keyID) {
		return fmt.Errorf("key id %q: %w (a key id is 16 hex digits, as keys list shows)", keyID, ErrNotFound)
	}
	s.forget(keyID)
	res, err := s.db.ExecContext(ctx, `UPDATE api_keys SET revoked=COALESCE(revoked, ?) WHERE key_id=?`, s.now().UTC().Format(time.RFC3339Nano), keyID)
	if err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("auth: revoke key: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("key id %s: %w", keyID, ErrNotFound)
	}
	s.forget(keyID) // again, in case an Authenticate raced the update
	return nil
}

// Count returns the number of keys that are not revoked (the server prints
// a first admin key when it is 0).
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE revoked IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("auth: count keys: %w", err)
	}
	return n, nil
}
