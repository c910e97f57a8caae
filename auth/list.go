package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ErrLastAdmin is returned by RevokeGuarded for the last active admin key:
// without it nobody could create or revoke keys through the API.
var ErrLastAdmin = errors.New("auth: the last active admin key cannot be revoked")

// Record is a key as an administrator sees it: its principal and when it
// was created and revoked (zero: active). The key and its hash are never
// part of it.
type Record struct {
	Principal
	Created time.Time `json:"created"`
	Revoked time.Time `json:"revoked"`
}

// Active reports whether the key is not revoked.
func (r Record) Active() bool { return r.Revoked.IsZero() }

// Records returns every key, active and revoked, oldest first.
func (s *Store) Records(ctx context.Context) ([]Record, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key_id, role, institution, holder, created_at, revoked_at FROM api_keys ORDER BY created_at, key_id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		var r Record
		var role, created string
		var revoked sql.NullString
		if err := rows.Scan(&r.KeyID, &role, &r.Institution, &r.Holder, &created, &revoked); err != nil {
			return nil, fmt.Errorf("auth: list keys: %w", err)
		}
		r.Role = Role(role)
		r.Created, _ = time.Parse(time.RFC3339Nano, created)
		if revoked.Valid {
			r.Revoked, _ = time.Parse(time.RFC3339Nano, revoked.String)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("auth: list keys: %w", err)
	}
	return out, nil
}

// RevokeGuarded is Revoke, except that it refuses (ErrLastAdmin) to revoke
// the last active admin key. The check and the revocation are one
// transaction, so two concurrent calls cannot together revoke the last two
// admin keys. Errors: ErrNotFound, ErrLastAdmin, the database's.
func (s *Store) RevokeGuarded(ctx context.Context, keyID string) error {
	if !ValidKeyID(keyID) {
		return fmt.Errorf("%w: %q is not a key id (16 lower-case hex digits)", ErrNotFound, keyID)
	}
	tx, err := s.db.BeginTx(ctx, nil) // _txlock=immediate: takes the write lock now
	if err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	defer tx.Rollback()
	var role string
	err = tx.QueryRowContext(ctx, `SELECT role FROM api_keys WHERE key_id = ? AND revoked_at IS NULL`, keyID).Scan(&role)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("%w: %s", ErrNotFound, keyID)
	case err != nil:
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	if Role(role) == RoleAdmin {
		var admins int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE role = ? AND revoked_at IS NULL`, string(RoleAdmin)).Scan(&admins); err != nil {
			return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
		}
		if admins <= 1 {
			return fmt.Errorf("%w (%s)", ErrLastAdmin, keyID)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE key_id = ?`, s.now().UTC().Format(time.RFC3339Nano), keyID); err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("auth: revoke key %s: %w", keyID, err)
	}
	s.mu.Lock()
	s.gen++
	delete(s.cache, keyID)
	s.mu.Unlock()
	return nil
}
