package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"

	"github.com/spf13/cobra"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/audit"
	"github.com/paybridge/paybridge/store/sqlite"
)

var ledgerCmd = &cobra.Command{
	Use:   "ledger",
	Short: "Check a ledger database",
	Long: `paybridge keeps its double-entry ledger in one SQLite file (WAL, fsync on
every commit). The ledger commands inspect such a file.`,
}

func init() {
	ledgerCmd.AddCommand(newLedgerVerifyCmd(), newLedgerLoadCmd())
	root.AddCommand(ledgerCmd)
}

// verifyOutput is what ledger verify prints with --json.
type verifyOutput struct {
	DB      string `json:"db"`
	Commits int    `json:"commits"`
	audit.Report
}

func newLedgerVerifyCmd() *cobra.Command {
	var db string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "verify --db FILE",
		Short: "Check the ledger invariants over a whole database",
		Long: `verify replays the database's journal of commits (checking that its sequence
numbers are contiguous and its SHA-256 hash chain intact) and checks, over
every account and every transfer:

  sum_zero         per currency, balances sum to zero and pending debits equal pending credits
  floor            no balance minus pending debits is below its floor
  pending_sum      each account's pending amounts equal its open pending transfers
  balance_history  each balance equals the money its posted transfers moved
  id_unique        transfer ids are unique      key_unique  idempotency keys are unique
  provenance       0 ≤ credit-derived share ≤ max(balance, 0); per transfer ≤ amount
  transfer_account transfers name existing accounts in their currency
  journal          the journal decodes and its hash chain holds

It never creates a missing file. Exit status: 0 all hold, 1 a violation was
found, 2 the file is missing or not a ledger database.`,
		Example: `  paybridge bench ledger --transfers 100000 --db /tmp/l.db
  paybridge ledger verify --db /tmp/l.db
  paybridge ledger verify --db /tmp/l.db --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLedgerVerify(cmd.Context(), cmd.OutOrStdout(), db, asJSON)
		},
	}
	cmd.Flags().StringVar(&db, "db", "", "ledger database file to check (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"ok":…,"accounts":N,"transfers":N,"violations":[…]} as JSON`)
	return cmd
}

// openLedgerDB opens an existing ledger database for the --db flag, mapping
// a missing or unusable file to a usage error naming the flag.
func openLedgerDB(db string) (*sqlite.Store, error) {
	if db == "" {
		return nil, usageErrorf("--db: required: the ledger database file")
	}
	s, err := sqlite.Open(db, sqlite.Options{MustExist: true, IdleIndex: -1})
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, usageErrorf("--db %s: no such file", db)
	case err != nil:
		return nil, usageErrorf("--db %s: cannot open as a ledger database: %v", db, err)
	}
	return s, nil
}

func runLedgerVerify(ctx context.Context, w io.Writer, db string, asJSON bool) error {
	if ctx == nil {
		ctx = context.Background()
	}
	s, err := openLedgerDB(db)
	if err != nil {
		return err
	}
	defer s.Close()
	out := verifyOutput{DB: db}
	if out.Commits, out.Report, err = verifyStore(ctx, s); err != nil {
		return usageErrorf("--db %s: cannot read: %v", db, err)
	}
	if asJSON {
		enc := json.NewEncoder(w)
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printVerify(w, &out)
	}
	if !out.OK {
		return &failure{fmt.Sprintf("ledger verify: %d invariant violations in %s", out.Total, db)}
	}
	return nil
}

// verifyStore replays s's journal and audits the state it folds into: the
// checks of ledger verify (and of POST /v1/ledger/verify, over the file
// the server has open). A broken journal is a "journal" violation; an
// error is a failure to read.
func verifyStore(ctx context.Context, s *sqlite.Store) (commits int, rep audit.Report, err error) {
	st, err := s.Replay(ctx)
	switch {
	case errors.Is(err, sqlite.ErrCorrupt):
		return 0, audit.Report{Violations: []audit.Violation{{Check: "journal", Detail: err.Error()}}, Total: 1}, nil
	case err != nil:
		return 0, audit.Report{}, err
	}
	accounts := make([]ledger.Account, 0, len(st.Accounts))
	for _, id := range st.AccountIDs() {
		accounts = append(accounts, st.Accounts[id])
	}
	return st.Commits, audit.Check(accounts, st.Transfers), nil
}

func printVerify(w io.Writer, out *verifyOutput) {
	fmt.Fprintf(w, "ledger %s: %d commits, %d accounts, %d transfers\n", out.DB, out.Commits, out.Accounts, out.Transfers)
	if out.OK {
		fmt.Fprintln(w, "ok: sum zero, floors, pending sums, balance history, id and key uniqueness, provenance bounds, hash chain")
		return
	}
	fmt.Fprintf(w, "%d violations:\n", out.Total)
	for _, v := range out.Violations {
		fmt.Fprintf(w, "  %-16s %s\n", v.Check, v.Detail)
	}
	if out.Total > len(out.Violations) {
		fmt.Fprintf(w, "  … and %d more\n", out.Total-len(out.Violations))
	}
}

// ---- ledger load: the crash test's client (hidden) ----

type loadFlags struct {
	db, log                  string
	seed                     uint64
	run                      int
	accounts, clients, batch int
	max                      int
}

func newLedgerLoadCmd() *cobra.Command {
	var f loadFlags
	cmd := &cobra.Command{
		Use:    "load --db FILE --log FILE --run N",
		Short:  "Submit transfers forever, logging each id before submitting and after it is acknowledged (for crash tests)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLedgerLoad(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	cmd.Flags().StringVar(&f.db, "db", "", "ledger database (created if missing)")
	cmd.Flags().StringVar(&f.log, "log", "", "client log: lines 'S id' before Submit and 'A id code' after it returns")
	cmd.Flags().Uint64Var(&f.seed, "seed", 1, "random seed")
	cmd.Flags().IntVar(&f.run, "run", 1, "run number (1…1000), part of every transfer id so restarts never reuse one")
	cmd.Flags().IntVar(&f.accounts, "accounts", 100, "number of accounts")
	cmd.Flags().IntVar(&f.clients, "clients", 8, "concurrent clients")
	cmd.Flags().IntVar(&f.batch, "batch", 20, "transfers per Submit")
	cmd.Flags().IntVar(&f.max, "max-transfers", 0, "stop after this many transfers per client (0: run until killed)")
	return cmd
}

// crashLog appends lines to the client log, one write(2) per call, so a
// SIGKILL never leaves a line the kernel has not got.
type crashLog struct {
	mu sync.Mutex
	f  *os.File
}

func (l *crashLog) write(tag byte, ids []ledger.TransferID, codes []ledger.Result) error {
	var b []byte
	for i, id := range ids {
		b = append(b, tag, ' ')
		b = strconv.AppendUint(b, uint64(id), 10)
		if codes != nil {
			b = append(b, ' ')
			b = append(b, codes[i].Code.String()...)
		}
		b = append(b, '\n')
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err := l.f.Write(b)
	return err
}

func runLedgerLoad(ctx context.Context, w io.Writer, f loadFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	switch {
	case f.db == "" || f.log == "":
		return usageErrorf("--db and --log: both required")
	case f.run < 1 || f.run > 1000:
		return usageErrorf("--run %d: must be 1…1000", f.run)
	case f.accounts < 2 || f.clients < 1 || f.batch < 1 || f.batch > ledger.MaxBatchTransfers:
		return usageErrorf("--accounts ≥ 2, --clients ≥ 1, --batch 1…%d", ledger.MaxBatchTransfers)
	}
	lf, err := os.OpenFile(f.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return usageErrorf("--log %s: %v", f.log, err)
	}
	defer lf.Close()
	s, err := sqlite.Open(f.db, sqlite.Options{})
	if err != nil {
		return usageErrorf("--db %s: %v", f.db, err)
	}
	defer s.Close()
	e, err := ledger.Open(ctx, s, ledger.SystemClock{}, ledger.Options{})
	if err != nil {
		return fmt.Errorf("open ledger: %w", err)
	}
	defer e.Close()
	if err := setupAccounts(ctx, e, f.accounts); err != nil {
		return err
	}
	fmt.Fprintln(w, "ready")
	log := &crashLog{f: lf}
	var wg sync.WaitGroup
	errs := make(chan error, f.clients)
	for c := 0; c < f.clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- loadClient(ctx, e, log, f, c)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// loadClient submits batches mixing single-phase transfers, pending
// transfers with short timeouts, and posts and voids of its own earlier
// pending transfers (some of which will have expired).
func loadClient(ctx context.Context, e *ledger.Engine, log *crashLog, f loadFlags, client int) error {
	r := rand.New(rand.NewPCG(f.seed, uint64(f.run)<<16|uint64(client)))
	gen := newTransferGen(r, f.accounts, false)
	base := uint64(f.run)<<40 | uint64(client+1)<<32
	var open []ledger.TransferID
	ids := make([]ledger.TransferID, 0, f.batch)
	for n := 0; f.max == 0 || n < f.max; n += f.batch {
		batch := make([]ledger.Transfer, 0, f.batch)
		ids = ids[:0]
		for i := 0; i < f.batch; i++ {
			base++
			t := gen.next(ledger.TransferID(base))
			switch k := r.IntN(10); {
			case k == 0:
				t.Flags, t.TimeoutSeconds = ledger.TransferPending, 1+r.Int64N(3)
				open = append(open, t.ID)
			case k == 1 && len(open) > 0:
				j := r.IntN(len(open))
				t = ledger.Transfer{ID: t.ID, PendingID: open[j], Flags: ledger.TransferVoidPending}
				if r.IntN(2) == 0 {
					t.Flags, t.AmountFen = ledger.TransferPostPending, 1
				}
				open = append(open[:j], open[j+1:]...)
			}
			batch = append(batch, t)
			ids = append(ids, t.ID)
		}
		if err := log.write('S', ids, nil); err != nil {
			return err
		}
		res, err := e.Transfers(ctx, batch...)
		if err != nil {
			return fmt.Errorf("client %d: submit: %w", client, err)
		}
		if err := log.write('A', ids, res); err != nil {
			return err
		}
		if r.IntN(8) == 0 {
			if err := readBack(ctx, e, batch, res); err != nil {
				return fmt.Errorf("client %d: %w", client, err)
			}
		}
	}
	return nil
}

// readBack reads acknowledged transfers of batch back through the engine's
// store reads (which materialise the read tables first), so a kill can land
// in the middle of a materialisation too.
func readBack(ctx context.Context, e *ledger.Engine, batch []ledger.Transfer, res []ledger.Result) error {
	for i, t := range batch {
		if res[i].Code != ledger.ResultOK {
			continue
		}
		got, err := e.Transfer(ctx, t.ID)
		if err != nil {
			return fmt.Errorf("read back acknowledged transfer %d: %w", t.ID, err)
		}
		page, err := e.History(ctx, got.DebitAccount, got.Timestamp-1, 1)
		if err != nil || len(page.Transfers) != 1 || page.Transfers[0].ID != t.ID {
			return fmt.Errorf("history of account %d does not start with transfer %d at its timestamp: %v", got.DebitAccount, t.ID, err)
		}
		return nil
	}
	return nil
}
