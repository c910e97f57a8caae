package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/paybridge/paybridge/ledger"
)

// A schema change to the read tables empties them and resets the
// watermark; the next read rebuilds them from the journal. Checked by
// migrating a populated database down to version 1 and up again.
func TestMigrationRebuildsReadTables(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.db")
	s, err := Open(path, Options{IdleIndex: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cs := benchCommits(3, 50)
	for _, c := range cs {
		if err := s.Commit(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.History(ctx, cs[0].Transfers[0].DebitAccount, 0, ledger.MaxHistoryPage)
	if err != nil || len(before.Transfers) == 0 {
		t.Fatalf("history before: %+v, %v", before, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := sql.Open("sqlite3", dsn(path, "mode=rw"))
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations")
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("down to 1: %v", err)
	}
	var indexed int64
	if err := db.QueryRow(`SELECT value FROM meta WHERE name = 'indexed_seq'`).Scan(&indexed); err != nil || indexed != 0 {
		t.Fatalf("after down: indexed_seq %d, %v", indexed, err)
	}
	db.Close()

	s, err = Open(path, Options{MustExist: true, IdleIndex: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	after, err := s.History(ctx, cs[0].Transfers[0].DebitAccount, 0, ledger.MaxHistoryPage)
	if err != nil || len(after.Transfers) != len(before.Transfers) {
		t.Fatalf("history after the round trip: %d transfers, %v; want %d", len(after.Transfers), err, len(before.Transfers))
	}
	last := cs[2].Transfers[49]
	if got, err := s.Transfer(ctx, last.ID); err != nil || got.Timestamp != last.Timestamp {
		t.Fatalf("transfer %d after the round trip: %+v, %v", last.ID, got, err)
	}
}
