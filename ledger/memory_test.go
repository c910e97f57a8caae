package ledger

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
)

// MaxBytesPerAccount is the memory budget per account the engine is held to
// (1,000,000 accounts in ≤ 1 GiB, issue 3).
const maxBytesPerAccount = 1 << 30 / 1_000_000

// TestMemoryPerAccount opens an engine with N accounts (200,000 by default;
// LEDGER_MEM_ACCOUNTS=1000000 for the full figure) and measures the live
// heap per account: writer state, committed view and indexes.
func TestMemoryPerAccount(t *testing.T) {
	n := 200_000
	if s := os.Getenv("LEDGER_MEM_ACCOUNTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("LEDGER_MEM_ACCOUNTS=%q: want a positive integer", s)
		}
		n = v
	}
	before := liveHeap()
	eng, err := Open(context.Background(), nopStore{}, newFakeClock(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	for start := 0; start < n; start += MaxBatchAccounts {
		as := make([]Account, 0, MaxBatchAccounts)
		for i := start; i < min(n, start+MaxBatchAccounts); i++ {
			as = append(as, Account{ID: AccountID(i + 1), Holder: "holder-" + strconv.Itoa(i),
				Institution: "alipay", Product: "alipay.balance", Currency: "CNY"})
		}
		mustOK(t, eng, &Batch{Accounts: as})
	}
	perAccount := float64(liveHeap()-before) / float64(n)
	t.Logf("%d accounts: %.0f bytes of heap per account (holder names included)", n, perAccount)
	if perAccount > maxBytesPerAccount {
		t.Errorf("%.0f bytes per account, budget %d", perAccount, maxBytesPerAccount)
	}
	runtime.KeepAlive(eng)
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
