package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	// Registers the "sqlite3" database/sql driver (pure Go, no cgo).
	_ "github.com/ncruces/go-sqlite3/driver"
)

// Naive is the baseline the benchmark compares against: the way a Go service
// usually writes a ledger to SQLite, one durable transaction per transfer
// (BEGIN IMMEDIATE; read both balances; check the floor; update both; insert
// the transfer; COMMIT with fsync). It uses the same durability settings as
// Store (WAL, synchronous=FULL) so the ratio measures batching, not a weaker
// fsync policy. It is not a ledger.Store and is used only by benchmarks.
type Naive struct {
	db *sql.DB
}

// ErrNaiveFloor is returned by Naive.Transfer when the debit would take the
// debit account below its floor.
var ErrNaiveFloor = errors.New("debit account would go below its floor")

const naiveSchema = `
CREATE TABLE IF NOT EXISTS accounts(
	id INTEGER PRIMARY KEY,
	balance INTEGER NOT NULL,
	floor INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS transfers(
	seq INTEGER PRIMARY KEY,
	id INTEGER NOT NULL UNIQUE,
	idempotency_key TEXT NOT NULL UNIQUE,
	debit INTEGER NOT NULL,
	credit INTEGER NOT NULL,
	amount INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS transfers_debit ON transfers(debit, seq);
CREATE INDEX IF NOT EXISTS transfers_credit ON transfers(credit, seq);`

// OpenNaive creates (or opens) the baseline database at path.
func OpenNaive(path string) (*Naive, error) {
	db, err := sql.Open("sqlite3", dsn(path, "_pragma=busy_timeout(60000)&_pragma=journal_mode(wal)&_pragma=synchronous(full)&_txlock=immediate"))
	if err != nil {
		return nil, fmt.Errorf("open baseline %s: %w", path, err)
	}
	// One connection: SQLite has one writer; a pool would only add lock waits.
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(naiveSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("create baseline schema in %s: %w", path, err)
	}
	return &Naive{db: db}, nil
}

// CreateAccounts inserts accounts 1..n with the given opening balance and
// floor in one transaction (set-up, not measured).
func (n *Naive) CreateAccounts(ctx context.Context, count int, balanceFen, floorFen int64) error {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO accounts(id, balance, floor) VALUES(?,?,?)`)
	if err != nil {
		return err
	}
	for id := 1; id <= count; id++ {
		if _, err := st.ExecContext(ctx, id, balanceFen, floorFen); err != nil {
			return fmt.Errorf("create baseline account %d: %w", id, err)
		}
	}
	return tx.Commit()
}

// Transfer moves amountFen from debit to credit in its own durable
// transaction. It returns ErrNaiveFloor (and changes nothing) when the debit
// account would go below its floor.
func (n *Naive) Transfer(ctx context.Context, id uint64, key string, debit, credit uint64, amountFen int64) (err error) {
	tx, err := n.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	var balance, floor int64
	if err := tx.QueryRowContext(ctx, `SELECT balance, floor FROM accounts WHERE id = ?`, debit).Scan(&balance, &floor); err != nil {
		return fmt.Errorf("read debit account %d: %w", debit, err)
	}
	if balance-amountFen < floor {
		return ErrNaiveFloor
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance - ? WHERE id = ?`, amountFen, debit); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET balance = balance + ? WHERE id = ?`, amountFen, credit); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO transfers(id, idempotency_key, debit, credit, amount) VALUES(?,?,?,?,?)`,
		int64(id), key, debit, credit, amountFen); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the baseline database.
func (n *Naive) Close() error { return n.db.Close() }
