// Package sqlite is the ledger's embedded store: one SQLite file (pure Go,
// github.com/ncruces/go-sqlite3), WAL with synchronous=FULL so that every
// acknowledged commit is fsync'd, one writer connection and a separate read
// pool. It implements ledger.Store.
//
// Each group commit is one row of an append-only, hash-chained journal table
// (the whole ledger.CommitRecord in a compact binary encoding): that row is
// the durable truth, and writing it costs one B-tree append per commit rather
// than several random index inserts per transfer. The read tables (accounts,
// transfers, postings by account, the id and key indexes) are materialised
// from the journal in large sorted chunks: before any read that needs them and
// whenever the writer idles. Records and counters are written in the commit
// transaction itself. Load replays the journal and checks its hash chain.
// docs/ledger-store.md has the schema, the durability argument and figures.
package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ncruces/go-sqlite3"
	"github.com/pressly/goose/v3"

	"github.com/paybridge/paybridge/ledger"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Limits and defaults.
const (
	// DefaultIdleIndex is how long the writer must be idle before the read
	// tables are brought up to date in the background.
	DefaultIdleIndex = 250 * time.Millisecond
	// idleChunkItems bounds one background materialisation transaction
	// (accounts + transfers + state changes), so a commit arriving after a
	// lull waits behind at most one short chunk.
	idleChunkItems = 2_000
	// readChunkItems bounds one materialisation transaction made for a read;
	// commits interleave between chunks (larger chunks materialise faster per
	// item but make a commit wait longer).
	readChunkItems = 50_000
	// checkpointEvery is how often the checkpointer copies the WAL into the
	// database file, off the commit path.
	checkpointEvery = 100 * time.Millisecond
	// writerCacheKiB is the writer connection's page cache (SQLite's default is 2 MiB).
	writerCacheKiB = 64 << 10
	// busyTimeout is how long a connection waits for a lock held by another.
	busyTimeout = 10 * time.Second
	// maxReadConns is the size of the read pool.
	maxReadConns = 4
)

// Options tune Open. The zero value is the production setting.
type Options struct {
	// MustExist refuses to create a missing database: Open fails with an
	// error wrapping fs.ErrNotExist instead.
	MustExist bool
	// IdleIndex: after the writer has been idle this long, materialise the
	// read tables in the background. 0 means DefaultIdleIndex; negative
	// disables background indexing (reads still catch up before answering).
	IdleIndex time.Duration
}

// Store is a ledger.Store in one SQLite file. It is safe for concurrent use;
// Commit calls are serialised.
type Store struct {
	path string
	rd   *sql.DB // read pool (query_only)

	wmu          sync.Mutex // guards everything below (the writer connection and its state)
	w            *sqlite3.Conn
	begin, end   *sqlite3.Stmt // BEGIN IMMEDIATE and COMMIT, prepared once
	insCommit    *sqlite3.Stmt
	insRecord    *sqlite3.Stmt
	upCounter    *sqlite3.Stmt
	lastSeq      uint64
	lastHash     [32]byte
	indexedSeq   uint64
	lastCommitAt time.Time
	buf          []byte
	ix           *indexer
	failWith     error // injected by FailCommits
	closed       atomic.Bool

	stop chan struct{}
	done chan struct{} // closed when both background goroutines have returned
	ck   *sqlite3.Conn // the checkpointer's connection
}

var _ ledger.Store = (*Store)(nil)

// Open opens (creating it unless opts.MustExist) the store at path and
// migrates its schema to the current version.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite store: empty database path")
	}
	flags := sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE
	if opts.MustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open ledger database %s: %w", path, err)
		}
		flags = sqlite3.OPEN_READWRITE
	}
	w, err := openWriter(path, flags)
	if err != nil {
		return nil, err
	}
	s := &Store{path: path, w: w}
	if opts.MustExist {
		if err := checkLedgerFile(w, path); err != nil {
			s.closeAll()
			return nil, err
		}
	}
	if err := s.init(); err != nil {
		s.closeAll()
		return nil, err
	}
	idle := opts.IdleIndex
	if idle == 0 {
		idle = DefaultIdleIndex
	}
	s.ck, err = openWriter(path, sqlite3.OPEN_READWRITE)
	if err != nil {
		s.closeAll()
		return nil, err
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.idleIndexLoop(idle) }()
	go func() { defer wg.Done(); s.checkpointLoop() }()
	go func() { wg.Wait(); close(s.done) }()
	return s, nil
}

func openWriter(path string, flags sqlite3.OpenFlag) (*sqlite3.Conn, error) {
	w, err := sqlite3.OpenFlags(path, flags)
	if err != nil {
		return nil, fmt.Errorf("open ledger database %s: %w", path, err)
	}
	if err := w.BusyTimeout(busyTimeout); err != nil {
		w.Close()
		return nil, fmt.Errorf("open ledger database %s: %w", path, err)
	}
	// WAL: readers never block the writer. synchronous=FULL: the WAL is
	// fsync'd at every commit (with NORMAL it is fsync'd only at checkpoints,
	// so an acknowledged commit could vanish in a power cut or OS crash).
	pragmas := fmt.Sprintf(`PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-%d;`, writerCacheKiB)
	if err := w.Exec(pragmas); err != nil {
		w.Close()
		return nil, fmt.Errorf("open ledger database %s: not a usable SQLite file: %w", path, err)
	}
	// Checkpoints run on their own connection (checkpointLoop), not inside
	// whichever commit happens to cross the WAL size threshold.
	if err := w.WALAutoCheckpoint(0); err != nil {
		w.Close()
		return nil, fmt.Errorf("open ledger database %s: %w", path, err)
	}
	return w, nil
}

// ErrNotLedger is returned by Open with MustExist for a file that is not a
// ledger database (no schema version table), so that opening it changes nothing.
var ErrNotLedger = errors.New("not a paybridge ledger database")

func checkLedgerFile(w *sqlite3.Conn, path string) error {
	st, _, err := w.Prepare(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('goose_db_version', 'commits')`)
	if err != nil {
		return fmt.Errorf("open ledger database %s: %w", path, err)
	}
	defer st.Close()
	if !st.Step() {
		return fmt.Errorf("open ledger database %s: %w", path, st.Err())
	}
	if st.ColumnInt(0) != 2 {
		return fmt.Errorf("open ledger database %s: %w", path, ErrNotLedger)
	}
	return nil
}

// dsn is the database/sql data source name for path with the given query.
func dsn(path, query string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: query}
	return u.String()
}

func (s *Store) init() error {
	if err := migrate(s.path); err != nil {
		return err
	}
	rd, err := sql.Open("sqlite3", dsn(s.path, "mode=rw&_txlock=deferred&_pragma=busy_timeout(10000)&_pragma=query_only(1)"))
	if err != nil {
		return fmt.Errorf("open ledger database %s for reading: %w", s.path, err)
	}
	rd.SetMaxOpenConns(maxReadConns)
	rd.SetMaxIdleConns(maxReadConns)
	s.rd = rd
	if err := s.prepare(); err != nil {
		return err
	}
	return s.loadHead()
}

// migrate brings the schema to the newest embedded version with goose.
func migrate(path string) error {
	db, err := sql.Open("sqlite3", dsn(path, "mode=rw&_pragma=busy_timeout(10000)&_pragma=synchronous(full)"))
	if err != nil {
		return fmt.Errorf("migrate ledger database %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub)
	if err != nil {
		return fmt.Errorf("migrate ledger database %s: %w", path, err)
	}
	if _, err := p.Up(context.Background()); err != nil {
		return fmt.Errorf("migrate ledger database %s: %w", path, err)
	}
	return nil
}

func (s *Store) prepare() error {
	var err error
	prep := func(q string) *sqlite3.Stmt {
		if err != nil {
			return nil
		}
		var st *sqlite3.Stmt
		st, _, err = s.w.Prepare(q)
		return st
	}
	s.begin = prep(`BEGIN IMMEDIATE`)
	s.end = prep(`COMMIT`)
	s.insCommit = prep(`INSERT INTO commits(seq, timestamp, hash, body) VALUES(?,?,?,?)`)
	s.insRecord = prep(`INSERT INTO records(seq, commit_seq, kind, key, data) VALUES(?,?,?,?,?)`)
	s.upCounter = prep(`INSERT INTO counters(key, value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`)
	if err != nil {
		return fmt.Errorf("prepare ledger database %s: %w", s.path, err)
	}
	s.ix, err = newIndexer(s.w)
	if err != nil {
		return fmt.Errorf("prepare ledger database %s: %w", s.path, err)
	}
	return nil
}

// loadHead reads the last commit's seq and hash and the materialisation watermark.
func (s *Store) loadHead() error {
	st, _, err := s.w.Prepare(`SELECT seq, hash FROM commits ORDER BY seq DESC LIMIT 1`)
	if err != nil {
		return fmt.Errorf("read ledger database %s: %w", s.path, err)
	}
	if st.Step() {
		s.lastSeq = uint64(st.ColumnInt64(0))
		copy(s.lastHash[:], st.ColumnRawBlob(1))
	}
	if err := errors.Join(st.Err(), st.Close()); err != nil {
		return fmt.Errorf("read ledger database %s: %w", s.path, err)
	}
	st, _, err = s.w.Prepare(`SELECT value FROM meta WHERE name = 'indexed_seq'`)
	if err != nil {
		return fmt.Errorf("read ledger database %s: %w", s.path, err)
	}
	if st.Step() {
		s.indexedSeq = uint64(st.ColumnInt64(0))
	}
	if err := errors.Join(st.Err(), st.Close()); err != nil {
		return fmt.Errorf("read ledger database %s: %w", s.path, err)
	}
	return nil
}

// chainHash is the journal's hash chain: SHA-256(prev || body).
func chainHash(prev [32]byte, body []byte) [32]byte {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(body)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Commit makes c durable in one fsync'd SQLite transaction: the journal row,
// the counters and the records. See ledger.Store.
func (s *Store) Commit(ctx context.Context, c *ledger.CommitRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.w == nil {
		return ledger.ErrStoreClosed
	}
	if c.Seq != s.lastSeq+1 {
		return fmt.Errorf("sqlite store: commit %d after %d: %w", c.Seq, s.lastSeq, ledger.ErrCommitOrder)
	}
	s.buf = encodeCommit(s.buf[:0], c)
	hash := chainHash(s.lastHash, s.buf)
	if err := s.begin.Exec(); err != nil {
		return fmt.Errorf("sqlite store: commit %d: begin: %w", c.Seq, err)
	}
	err := s.writeCommit(c, hash)
	if err == nil && s.failWith != nil {
		err = s.failWith
	}
	if err != nil {
		return errors.Join(fmt.Errorf("sqlite store: commit %d: %w", c.Seq, err), s.rollback())
	}
	if err := s.end.Exec(); err != nil {
		return errors.Join(fmt.Errorf("sqlite store: commit %d: %w", c.Seq, err), s.rollback())
	}
	s.lastSeq, s.lastHash, s.lastCommitAt = c.Seq, hash, time.Now()
	return nil
}

func (s *Store) rollback() error {
	if s.w.GetAutocommit() {
		return nil
	}
	return s.w.Exec(`ROLLBACK`)
}

func (s *Store) writeCommit(c *ledger.CommitRecord, hash [32]byte) error {
	st := s.insCommit
	st.BindInt64(1, int64(c.Seq))
	st.BindInt64(2, c.Timestamp)
	st.BindBlob(3, hash[:])
	st.BindBlob(4, s.buf)
	if err := st.Exec(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, ctr := range c.Counters {
		s.upCounter.BindText(1, ctr.Key)
		s.upCounter.BindInt64(2, ctr.Value)
		if err := s.upCounter.Exec(); err != nil {
			return fmt.Errorf("counter %q: %w", ctr.Key, err)
		}
	}
	for _, r := range c.Records {
		st := s.insRecord
		st.BindInt64(1, int64(r.Seq))
		st.BindInt64(2, int64(r.CommitSeq))
		st.BindText(3, r.Kind)
		st.BindText(4, r.Key)
		st.BindBlob(5, nonNil(r.Data))
		if err := st.Exec(); err != nil {
			return fmt.Errorf("record %d: %w", r.Seq, err)
		}
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// FailCommits makes every following Commit fail with err after writing its
// rows and before COMMIT, so the rollback path runs (nil restores normal
// behaviour). For fault-injection tests (storetest.Failer).
func (s *Store) FailCommits(err error) {
	s.wmu.Lock()
	s.failWith = err
	s.wmu.Unlock()
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Close stops background indexing and closes every connection. Commits
// already returned stay durable; the read tables are brought up to date
// lazily by the next Open's first read.
func (s *Store) Close() error {
	s.wmu.Lock()
	if s.w == nil {
		s.wmu.Unlock()
		return nil
	}
	s.closed.Store(true)
	close(s.stop)
	s.wmu.Unlock()
	<-s.done
	s.wmu.Lock()
	defer s.wmu.Unlock()
	// Leave a self-contained file behind when nobody else is reading it:
	// copy the WAL in and truncate it. Without waiting: if another process
	// holds a read, the WAL simply stays (it is part of the database).
	if err := s.w.BusyTimeout(0); err == nil {
		s.w.WALCheckpoint("main", sqlite3.CHECKPOINT_TRUNCATE)
	}
	return s.closeAll()
}

// checkpointLoop copies committed WAL frames into the database file every
// checkpointEvery with a PASSIVE checkpoint, which never blocks the writer
// or readers; SQLite then reuses the WAL from its start. Its connection has
// synchronous=FULL, so the WAL is fsync'd before and the database after.
func (s *Store) checkpointLoop() {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			// A busy or failed checkpoint is retried on the next tick; the
			// WAL only grows meanwhile, durability is unaffected.
			s.ck.WALCheckpoint("main", sqlite3.CHECKPOINT_PASSIVE)
		}
	}
}

func (s *Store) closeAll() error {
	var errs []error
	if s.ck != nil {
		errs = append(errs, s.ck.Close())
		s.ck = nil
	}
	for _, st := range []*sqlite3.Stmt{s.begin, s.end, s.insCommit, s.insRecord, s.upCounter} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.ix != nil {
		errs = append(errs, s.ix.close())
	}
	if s.rd != nil {
		errs = append(errs, s.rd.Close())
	}
	if s.w != nil {
		errs = append(errs, s.w.Close())
	}
	s.w = nil
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close ledger database %s: %w", s.path, err)
	}
	return nil
}
