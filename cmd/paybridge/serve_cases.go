package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/paybridge/paybridge/api"
	"github.com/paybridge/paybridge/auth"
	"github.com/paybridge/paybridge/payment"
	"github.com/paybridge/paybridge/risk"
	"github.com/paybridge/paybridge/riskfeed"
)

// serveRiskPoll is how often serve --risk on's feed reads the payment
// outbox for hops posted since its last read.
const serveRiskPoll = 200 * time.Millisecond

// casesBeside is the default case database of the ledger file db: db
// without its extension, plus "-risk.db" (paybridge.db → paybridge-risk.db,
// the default of the risk commands).
func casesBeside(db string) string {
	return strings.TrimSuffix(db, filepath.Ext(db)) + "-risk.db"
}

// serveCases is serve's risk case database (GET /v1/risk/cases) and, with
// --risk on, the risk feed that files the alerts of every posted hop into
// it while the server runs: riskfeed.Feed over the payment outbox, with its
// cursor and engine snapshot kept in the case database under the same name
// `risk watch --db` uses, so a restart (or a later risk watch) goes on
// from where it stopped and replays only the outbox after the snapshot.
type serveCases struct {
	path  string
	store *risk.SQLiteStore
	feed  *riskfeed.Feed
	log   *slog.Logger
	mu    sync.Mutex // one Poll at a time
	stop  context.CancelFunc
	done  chan struct{}
	once  sync.Once
}

// openServeCases picks and opens the case database of f: --cases, else
// --risk-cases (with --risk on, the same file), else the file beside --db.
// With --risk on it is created if missing; with --risk off it is opened
// only if it exists (the API then reads and resolves its cases, and no
// feed runs), and a missing default means none (nil). With --risk on it
// clears f.risk.cases: the guard shares this store (see attach).
func openServeCases(f *serveFlags, casesSet bool, logger *slog.Logger) (*serveCases, error) {
	on := f.risk.mode == "on"
	path := f.cases
	switch {
	case on && f.risk.cases != "" && casesSet && f.risk.cases != f.cases:
		return nil, usageErrorf("--risk-cases %s and --cases %s: serve keeps one case database; give --cases only", f.risk.cases, f.cases)
	case on && f.risk.cases != "" && !casesSet:
		path = f.risk.cases
	case !casesSet:
		path = casesBeside(f.world.db)
	}
	if strings.TrimSpace(path) == "" {
		return nil, usageErrorf("--cases: give a file name")
	}
	if !on {
		if _, err := os.Stat(path); err != nil {
			if casesSet {
				return nil, usageErrorf("--cases %s: no such file (serve --risk on or paybridge risk watch creates it)", path)
			}
			return nil, nil
		}
	}
	st, err := risk.OpenSQLite(path)
	if err != nil {
		return nil, usageErrorf("--cases %s: %v", path, err)
	}
	if on {
		f.risk.cases = ""
	}
	return &serveCases{path: path, store: st, log: logger}, nil
}

// caseStore is the API's view of the database (nil when there is none).
func (sc *serveCases) caseStore() api.CaseStore {
	if sc == nil {
		return nil
	}
	return sc.store
}

// attach makes the inline guard file the hops it stops into sc (the feed
// files the posted ones).
func (sc *serveCases) attach(g *liveGuard) {
	if sc != nil && g != nil {
		g.cases, g.fed = sc.store, true
	}
}

// start runs the feed over w's payment outbox: one poll now (restoring the
// snapshot, catching up on the payments made while the server was down),
// then every serveRiskPoll until close.
func (sc *serveCases) start(ctx context.Context, w *world, rulesPath string) error {
	rs, err := riskLoadRules(rulesPath)
	if err != nil {
		return err
	}
	abs, err := filepath.Abs(w.store.Path())
	if err != nil {
		return usageErrorf("--db %s: %v", w.store.Path(), err)
	}
	name := "payments:" + abs // as risk watch names it
	sc.feed = &riskfeed.Feed{
		Engine:        risk.NewEngine(rs),
		Conv:          riskfeed.NewConverter(w.eco),
		Outbox:        payment.NewOutbox(w.led),
		Cursor:        riskfeed.StoreCursor{Store: sc.store, Name: name},
		Cases:         sc.store,
		Snapshots:     riskfeed.StoreSnapshots{Store: sc.store, Name: name},
		SnapshotEvery: followSnapshotEvery,
		Logf:          func(format string, args ...any) { sc.log.Warn("risk feed: " + fmt.Sprintf(format, args...)) },
	}
	switch err := sc.poll(ctx); {
	case errors.Is(err, riskfeed.ErrCursorAhead):
		return usageErrorf("--cases %s: %v for --db %s (was that ledger recreated? use a new --cases file for it)", sc.path, err, w.store.Path())
	case errors.Is(err, riskfeed.ErrUnknownChannel):
		return usageErrorf("--ecosystem: %v in --db %s", err, w.store.Path())
	case err != nil:
		return fmt.Errorf("risk feed: %w", err)
	}
	if st := sc.feed.SnapshotStatus(); st.Loaded {
		sc.log.Info("risk feed: engine restored from its snapshot", "outbox_seq", st.Seq, "cases", sc.path)
	}
	runCtx, stop := context.WithCancel(context.Background())
	sc.stop, sc.done = stop, make(chan struct{})
	go func() {
		defer close(sc.done)
		t := time.NewTicker(serveRiskPoll)
		defer t.Stop()
		for {
			select {
			case <-runCtx.Done():
				return
			case <-t.C:
			}
			if err := sc.poll(runCtx); err != nil && runCtx.Err() == nil {
				sc.log.Warn("risk feed: poll failed; retrying", "err", err)
			}
		}
	}()
	return nil
}

// poll runs one feed poll and logs the cases it filed into.
func (sc *serveCases) poll(ctx context.Context) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	res, err := sc.feed.Poll(ctx)
	for _, r := range res {
		if len(r.Cases) > 0 {
			sc.log.Info("risk: alerts filed", "outbox_seq", r.Seq, "hop", r.Event.ID, "verdict", string(r.Decision.Verdict), "score", r.Decision.Score, "cases", fmt.Sprint(r.Cases))
		}
	}
	return err
}

// close stops the feed after a last poll (the server has stopped running
// payments by then) and a snapshot, and closes the database. Only the
// first call does anything; call it before the ledger closes.
func (sc *serveCases) close() {
	if sc != nil {
		sc.once.Do(sc.shut)
	}
}

func (sc *serveCases) shut() {
	if sc.feed != nil && sc.stop != nil {
		sc.stop()
		<-sc.done
		ctx := context.Background()
		if err := sc.poll(ctx); err != nil {
			sc.log.Warn("risk feed: last poll", "err", err)
		}
		if err := sc.feed.SaveSnapshot(ctx); err != nil {
			sc.log.Warn("risk feed: saving the snapshot", "err", err)
		}
	}
	sc.store.Close()
}

// ledgerVerifier runs ledger verify's checks over the file the server has
// open, through its own store's read connections.
func ledgerVerifier(w *world) api.LedgerVerifier {
	return func(ctx context.Context) (api.LedgerReport, error) {
		commits, rep, err := verifyStore(ctx, w.store)
		return api.LedgerReport{Commits: commits, Report: rep}, err
	}
}

// ListKeys implements api.KeyAdmin over the auth store.
func (a authKeys) ListKeys(ctx context.Context) ([]api.KeyInfo, error) {
	rs, err := a.Store.Records(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]api.KeyInfo, len(rs))
	for i, r := range rs {
		out[i] = api.KeyInfo{KeyID: r.KeyID, Role: string(r.Role), Institution: r.Institution, Holder: r.Holder, Created: r.Created, Revoked: r.Revoked}
	}
	return out, nil
}

// RevokeKey implements api.KeyAdmin: auth's revoke that keeps the last admin.
func (a authKeys) RevokeKey(ctx context.Context, id string) error {
	err := a.Store.RevokeGuarded(ctx, id)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return fmt.Errorf("%w: %v", api.ErrKeyNotFound, err)
	case errors.Is(err, auth.ErrLastAdmin):
		return fmt.Errorf("%w: %v", api.ErrLastAdmin, err)
	}
	return err
}

var _ api.KeyAdmin = authKeys{}
