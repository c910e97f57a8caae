package risk

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	_ "github.com/ncruces/go-sqlite3/driver" // registers the "sqlite3" database/sql driver
)

// DefaultCaseDB is the case database file the CLI uses without --db.
const DefaultCaseDB = "paybridge-risk.db"

// MaxReasonLen caps a resolution reason.
const MaxReasonLen = 2000

const caseSchema = `
CREATE TABLE IF NOT EXISTS risk_cases (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  holder TEXT NOT NULL,
  family TEXT NOT NULL,
  state TEXT NOT NULL,
  opened TEXT NOT NULL,
  updated TEXT NOT NULL,
  alerts INTEGER NOT NULL DEFAULT 0,
  max_score INTEGER NOT NULL DEFAULT 0,
  reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS risk_cases_holder ON risk_cases(holder, family, state);
CREATE TABLE IF NOT EXISTS risk_alerts (
  case_id INTEGER NOT NULL REFERENCES risk_cases(id),
  event_id TEXT NOT NULL,
  time TEXT NOT NULL,
  holder TEXT NOT NULL,
  family TEXT NOT NULL,
  rule TEXT NOT NULL,
  score INTEGER NOT NULL,
  detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS risk_alerts_case ON risk_alerts(case_id);
CREATE INDEX IF NOT EXISTS risk_alerts_event ON risk_alerts(event_id, rule, holder);
CREATE TABLE IF NOT EXISTS risk_cursors (
  name TEXT PRIMARY KEY,
  seq INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS risk_snapshots (
  name TEXT PRIMARY KEY,
  data BLOB NOT NULL
);
`

// SQLiteStore is a CaseStore in a SQLite file.
type SQLiteStore struct{ db *sql.DB }

// OpenSQLite opens (creating if needed) the case database at path.
func OpenSQLite(path string) (*SQLiteStore, error) {
	// A file: URI with the path escaped, so names with '%', '?' or '#' work.
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "_pragma=busy_timeout(5000)"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, fmt.Errorf("opening case database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(caseSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening case database %s: %w", path, err)
	}
	return &SQLiteStore{db: db}, nil
}

// Close closes the database.
func (s *SQLiteStore) Close() error { return s.db.Close() }

const timeFmt = time.RFC3339Nano

// AddAlert implements CaseStore. Filing an alert whose (event, rule,
// holder) is already stored files nothing and returns the case it is in, so
// a feed that delivers an event twice (at-least-once) opens no second alert.
func (s *SQLiteStore) AddAlert(ctx context.Context, a Alert) (int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("adding alert: %w", err)
	}
	defer tx.Rollback()
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT case_id FROM risk_alerts WHERE event_id=? AND rule=? AND holder=? LIMIT 1`, a.EventID, a.RuleID, a.Holder).Scan(&id)
	switch {
	case err == nil:
		return id, nil
	case !errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("adding alert: %w", err)
	}
	at := a.Time.UTC().Format(timeFmt)
	err = tx.QueryRowContext(ctx, `SELECT id FROM risk_cases WHERE holder=? AND family=? AND state IN ('open','reviewing') ORDER BY id DESC LIMIT 1`, a.Holder, a.Family).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		res, err := tx.ExecContext(ctx, `INSERT INTO risk_cases(holder,family,state,opened,updated) VALUES(?,?,?,?,?)`, a.Holder, a.Family, CaseOpen, at, at)
		if err != nil {
			return 0, fmt.Errorf("opening case: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return 0, fmt.Errorf("opening case: %w", err)
		}
	case err != nil:
		return 0, fmt.Errorf("finding case: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO risk_alerts(case_id,event_id,time,holder,family,rule,score,detail) VALUES(?,?,?,?,?,?,?,?)`,
		id, a.EventID, at, a.Holder, a.Family, a.RuleID, a.Score, string(a.Detail)); err != nil {
		return 0, fmt.Errorf("adding alert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE risk_cases SET alerts=alerts+1, max_score=MAX(max_score,?), updated=? WHERE id=?`, a.Score, at, id); err != nil {
		return 0, fmt.Errorf("updating case: %w", err)
	}
	return id, tx.Commit()
}

// Cases implements CaseStore.
func (s *SQLiteStore) Cases(ctx context.Context, state CaseState) ([]Case, error) {
	q := `SELECT id,holder,family,state,opened,updated,alerts,max_score,reason FROM risk_cases`
	var args []any
	if state != "" {
		q += ` WHERE state=?`
		args = append(args, state)
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("listing cases: %w", err)
	}
	defer rows.Close()
	var out []Case
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scanCase(r scanner) (Case, error) {
	var c Case
	var opened, updated string
	if err := r.Scan(&c.ID, &c.Holder, &c.Family, &c.State, &opened, &updated, &c.Alerts, &c.MaxScore, &c.Reason); err != nil {
		return Case{}, err
	}
	c.Opened, _ = time.Parse(timeFmt, opened)
	c.Updated, _ = time.Parse(timeFmt, updated)
	return c, nil
}

// Case implements CaseStore.
func (s *SQLiteStore) Case(ctx context.Context, id int64) (Case, []Alert, error) {
	c, err := scanCase(s.db.QueryRowContext(ctx, `SELECT id,holder,family,state,opened,updated,alerts,max_score,reason FROM risk_cases WHERE id=?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, nil, fmt.Errorf("case %d: %w", id, ErrCaseNotFound)
	}
	if err != nil {
		return Case{}, nil, fmt.Errorf("case %d: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT event_id,time,holder,family,rule,score,detail FROM risk_alerts WHERE case_id=? ORDER BY rowid`, id)
	if err != nil {
		return Case{}, nil, fmt.Errorf("case %d alerts: %w", id, err)
	}
	defer rows.Close()
	var alerts []Alert
	for rows.Next() {
		var a Alert
		var at, detail string
		if err := rows.Scan(&a.EventID, &at, &a.Holder, &a.Family, &a.RuleID, &a.Score, &detail); err != nil {
			return Case{}, nil, fmt.Errorf("case %d alerts: %w", id, err)
		}
		a.Time, _ = time.Parse(timeFmt, at)
		a.Detail = []byte(detail)
		alerts = append(alerts, a)
	}
	return c, alerts, rows.Err()
}

// Resolve implements CaseStore.
func (s *SQLiteStore) Resolve(ctx context.Context, id int64, state CaseState, reason string, at time.Time) error {
	reason = strings.TrimSpace(reason)
	if reason == "" || len(reason) > MaxReasonLen {
		return fmt.Errorf("case %d: %w (1..%d bytes)", id, ErrReasonRequired, MaxReasonLen)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("case %d: %w", id, err)
	}
	defer tx.Rollback()
	var cur CaseState
	if err := tx.QueryRowContext(ctx, `SELECT state FROM risk_cases WHERE id=?`, id).Scan(&cur); errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("case %d: %w", id, ErrCaseNotFound)
	} else if err != nil {
		return fmt.Errorf("case %d: %w", id, err)
	}
	if !CanMove(cur, state) {
		return fmt.Errorf("case %d is %s, cannot become %s: %w", id, cur, state, ErrBadTransition)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE risk_cases SET state=?, reason=?, updated=? WHERE id=?`, state, reason, at.UTC().Format(timeFmt), id); err != nil {
		return fmt.Errorf("case %d: %w", id, err)
	}
	return tx.Commit()
}

// MaxCursorNameLen caps a cursor name.
const MaxCursorNameLen = 4096

// Cursor returns the position stored under name (0 when none is stored).
// Feeds that read another store (a payments outbox) keep how far they have
// handled it here, beside the alerts they filed.
func (s *SQLiteStore) Cursor(ctx context.Context, name string) (uint64, error) {
	var seq int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM risk_cursors WHERE name=?`, name).Scan(&seq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("cursor %q: %w", name, err)
	}
	return uint64(seq), nil
}

// SetCursor durably moves the cursor name forward to seq; an older seq
// leaves it where it is. Errors: name empty or longer than
// MaxCursorNameLen, seq beyond int64, the database's.
func (s *SQLiteStore) SetCursor(ctx context.Context, name string, seq uint64) error {
	if name == "" || len(name) > MaxCursorNameLen {
		return fmt.Errorf("cursor name: must be 1..%d bytes, got %d", MaxCursorNameLen, len(name))
	}
	if seq > math.MaxInt64 {
		return fmt.Errorf("cursor %q: seq %d out of range", name, seq)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO risk_cursors(name,seq) VALUES(?,?) ON CONFLICT(name) DO UPDATE SET seq=MAX(seq,excluded.seq)`, name, int64(seq))
	if err != nil {
		return fmt.Errorf("cursor %q: %w", name, err)
	}
	return nil
}

// MaxSnapshotLen caps a stored snapshot: SQLite's default largest value
// (SQLITE_MAX_LENGTH). The engine's state with every cap reached is
// estimated below it (docs/risk.md).
const MaxSnapshotLen = 1_000_000_000

// Snapshot returns the snapshot stored under name, or nil when none is.
// Feeds keep their engine's state here beside their cursor, so that a
// restart replays only the events after it.
func (s *SQLiteStore) Snapshot(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT data FROM risk_snapshots WHERE name=?`, name).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("snapshot %q: %w", name, err)
	}
	return data, nil
}

// SetSnapshot replaces the snapshot stored under name. Errors: name empty
// or longer than MaxCursorNameLen, data empty or over MaxSnapshotLen, the
// database's.
func (s *SQLiteStore) SetSnapshot(ctx context.Context, name string, data []byte) error {
	if name == "" || len(name) > MaxCursorNameLen {
		return fmt.Errorf("snapshot name: must be 1..%d bytes, got %d", MaxCursorNameLen, len(name))
	}
	if len(data) == 0 || len(data) > MaxSnapshotLen {
		return fmt.Errorf("snapshot %q: %d bytes, must be 1..%d", name, len(data), MaxSnapshotLen)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO risk_snapshots(name,data) VALUES(?,?) ON CONFLICT(name) DO UPDATE SET data=excluded.data`, name, data)
	if err != nil {
		return fmt.Errorf("snapshot %q: %w", name, err)
	}
	return nil
}
