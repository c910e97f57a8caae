package main

import (
	"bufio"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/sqlite"
)

// envInt reads a positive integer from the environment, or def.
func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// TestLedgerCrashRecovery runs `paybridge ledger load` (the real binary: the
// engine on the SQLite store, clients logging "S id" before Submit and
// "A id code" after it returns) and SIGKILLs it at seeded random moments,
// PAYBRIDGE_CRASH_KILLS times (default 20; seed PAYBRIDGE_CRASH_SEED,
// default 1). After every kill it checks, with `ledger verify` and the
// client log, that every acknowledged transfer is in the database, that no
// refused one is, and that every transfer present was at least submitted
// (a submitted, unacknowledged transfer may or may not be present: its
// group may have been made durable before the ack reached the log).
func TestLedgerCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("kills the real binary 20 times (~40 s); skipped with -short")
	}
	kills := envInt(t, "PAYBRIDGE_CRASH_KILLS", 20)
	seed := uint64(envInt(t, "PAYBRIDGE_CRASH_SEED", 1))
	dir := t.TempDir()
	bin := buildPaybridge(t)
	db, logPath := filepath.Join(dir, "crash.db"), filepath.Join(dir, "client.log")
	r := rand.New(rand.NewPCG(seed, 99))
	totalInFlight := 0
	for run := 1; run <= kills; run++ {
		delay := time.Duration(20+r.IntN(280)) * time.Millisecond
		killAfter(t, bin, run, seed, db, logPath, delay)
		if v := runPaybridge(t, bin, "ledger", "verify", "--db", db); v.code != 0 {
			t.Fatalf("run %d (killed after %v): ledger verify exit %d:\n%s%s", run, delay, v.code, v.stdout, v.stderr)
		}
		acked, inFlight := checkCrashLog(t, db, logPath)
		totalInFlight += inFlight
		if run == kills {
			t.Logf("%d kills (seed %d): %d transfers acknowledged in all, %d submitted-unacknowledged ones found durable",
				kills, seed, acked, totalInFlight)
		}
	}
}

// killAfter starts the load, waits until it is ready and has run for
// delay, and SIGKILLs it.
func killAfter(t *testing.T, bin string, run int, seed uint64, db, logPath string, delay time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, "ledger", "load", "--db", db, "--log", logPath, "--run", strconv.Itoa(run),
		"--seed", strconv.FormatUint(seed, 10), "--accounts", "64", "--clients", "6", "--batch", "16")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() {
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Wait()
			t.Fatalf("run %d: load did not start: %s", run, stderr.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("run %d: load not ready after 30 s: %s", run, stderr.String())
	}
	time.Sleep(delay)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("run %d: kill: %v (load ended early? %s)", run, err, stderr.String())
	}
	cmd.Wait()
	if strings.Contains(stderr.String(), "paybridge:") {
		t.Fatalf("run %d: load failed before the kill: %s", run, stderr.String())
	}
}

// checkCrashLog compares the client log with the transfers in the database
// and returns how many were acknowledged and how many present ones were
// submitted but not acknowledged.
func checkCrashLog(t *testing.T, db, logPath string) (acked, inFlightPresent int) {
	t.Helper()
	submitted, ackCode := readCrashLog(t, logPath)
	s, err := sqlite.Open(db, sqlite.Options{MustExist: true, IdleIndex: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Replay(context.Background())
	if err != nil {
		t.Fatalf("replay after kill: %v", err)
	}
	present := make(map[ledger.TransferID]bool, len(st.Transfers))
	for _, tr := range st.Transfers {
		if tr.ID >= fundIDBase {
			continue // set-up funding, not the clients' load
		}
		present[tr.ID] = true
		if !submitted[tr.ID] {
			t.Fatalf("transfer %d is in the database but was never submitted", tr.ID)
		}
		if _, ok := ackCode[tr.ID]; !ok {
			inFlightPresent++
		}
	}
	for id, code := range ackCode {
		switch {
		case code == ledger.ResultOK.String() && !present[id]:
			t.Fatalf("transfer %d was acknowledged ok but is not in the database", id)
		case code != ledger.ResultOK.String() && present[id]:
			t.Fatalf("transfer %d was refused (%s) but is in the database", id, code)
		}
	}
	checkReadTables(t, s, st)
	return len(ackCode), inFlightPresent
}

// checkReadTables materialises whatever the killed process had not (its
// materialisation may have been cut short) and reads the newest transfers
// back by id and through their debit account's history.
func checkReadTables(t *testing.T, s *sqlite.Store, st *sqlite.State) {
	t.Helper()
	ctx := context.Background()
	if err := s.Index(); err != nil {
		t.Fatalf("materialise after kill: %v", err)
	}
	for _, want := range st.Transfers[max(0, len(st.Transfers)-50):] {
		got, err := s.Transfer(ctx, want.ID)
		if err != nil || got.Timestamp != want.Timestamp || got.State != want.State {
			t.Fatalf("read table has transfer %d as %+v, %v; journal has %+v", want.ID, got, err, want)
		}
		page, err := s.History(ctx, want.DebitAccount, want.Timestamp-1, 1)
		if err != nil || len(page.Transfers) != 1 || page.Transfers[0].ID != want.ID {
			t.Fatalf("history of account %d at transfer %d: %+v, %v", want.DebitAccount, want.ID, page, err)
		}
	}
}

// readCrashLog parses "S id" and "A id code" lines; a torn last line (no
// newline) is ignored, which can only make an id look less acknowledged.
func readCrashLog(t *testing.T, path string) (submitted map[ledger.TransferID]bool, ackCode map[ledger.TransferID]string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.LastIndexByte(string(data), '\n'); i+1 < len(data) {
		data = data[:i+1]
	}
	submitted, ackCode = map[ledger.TransferID]bool{}, map[ledger.TransferID]string{}
	for n, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		id, err := strconv.ParseUint(f[min(1, len(f)-1)], 10, 64)
		switch {
		case err != nil || len(f) < 2:
			t.Fatalf("client log line %d: %q", n+1, line)
		case f[0] == "S" && len(f) == 2:
			submitted[ledger.TransferID(id)] = true
		case f[0] == "A" && len(f) == 3:
			if !submitted[ledger.TransferID(id)] {
				t.Fatalf("client log line %d: ack of %d before its submission", n+1, id)
			}
			ackCode[ledger.TransferID(id)] = f[2]
		default:
			t.Fatalf("client log line %d: %q", n+1, line)
		}
	}
	if len(submitted) == 0 {
		t.Fatalf("client log %s is empty", path)
	}
	return submitted, ackCode
}
