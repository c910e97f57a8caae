package payment

import (
	"context"
	"os"
	"strconv"
	"time"

	"github.com/paybridge/paybridge/clock"
	"github.com/paybridge/paybridge/compliance"
	"github.com/paybridge/paybridge/ecosystem"
	"github.com/paybridge/paybridge/ecosystems"
	"github.com/paybridge/paybridge/ledger"
)

// epoch is a Friday morning in the bundled world's time zone.
var epoch = time.Date(2023, 5, 5, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// fourHops is a 4-hop route of the bundled world: Alipay balance to a bank,
// across banks, to WeChat change, to a friend.
var fourHops = []string{"alipay_withdraw", "quickpass_icbc_to_cmb", "cmb_topup_wechat", "wechat_transfer"}

type world struct {
	eco   *ecosystem.Ecosystem
	store *ledger.MemStore
	led   *ledger.Engine
	clk   *clock.Virtual
	x     *Executor
	guard HopGuard // passed to the executor on every open
}

func bundled(t tb) *ecosystem.Ecosystem {
	t.Helper()
	eco, err := ecosystems.Resolve("cn-2023")
	if err != nil {
		t.Fatalf("bundled world: %v", err)
	}
	return eco
}

// newWorld opens an executor on an in-memory ledger with a virtual clock.
func newWorld(t tb, policy compliance.Policy) *world {
	t.Helper()
	w := &world{eco: bundled(t), store: ledger.NewMemStore(), clk: clock.NewVirtual(epoch)}
	w.open(t, policy)
	return w
}

func (w *world) open(t tb, policy compliance.Policy) {
	t.Helper()
	ctx := context.Background()
	led, err := ledger.Open(ctx, w.store, w.clk, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rules, err := compliance.NewChecker(w.eco.Rules, policy)
	if err != nil {
		t.Fatal(err)
	}
	x, err := New(ctx, Config{Ecosystem: w.eco, Rules: rules, Ledger: led, Clock: w.clk, Guard: w.guard, CacheSize: testCacheSize(t)})
	if err != nil {
		t.Fatal(err)
	}
	w.led, w.x = led, x
}

// testCacheSize is PAYMENT_CACHE (e.g. -1: no finished payment stays in
// memory, so every test reads them back from the ledger), else 0.
func testCacheSize(t tb) int {
	v := os.Getenv("PAYMENT_CACHE")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("PAYMENT_CACHE=%q: want an integer", v)
	}
	return n
}

// reopen closes the engine and opens everything again on the same store.
func (w *world) reopen(t tb) {
	t.Helper()
	if err := w.led.Close(); err != nil {
		t.Fatal(err)
	}
	w.store = w.store.Reopen()
	w.open(t, compliance.PolicyStrict)
}

func (w *world) balance(holder, product string) int64 {
	a, _ := w.led.Account(HolderAccount(holder, product))
	return a.BalanceFen
}

func (w *world) pending(holder, product string) int64 {
	a, _ := w.led.Account(HolderAccount(holder, product))
	return a.DebitsPendingFen
}

// checkBooks fails the test on any books violation.
func (w *world) checkBooks(t tb) {
	t.Helper()
	for _, v := range CheckBooks(w.led.Accounts()) {
		t.Error(v)
	}
}

// held sums what holders and fee income accounts hold: constant across
// payments (money only moves between them; clearing positions net out).
func (w *world) held() int64 {
	var s int64
	for _, a := range w.led.Accounts() {
		if a.Product != productExternal && a.Product != productMember && !isClearing(a.Product) {
			s += a.BalanceFen
		}
	}
	return s
}

func isClearing(product string) bool {
	return len(product) > len(prefixClearing) && product[:len(prefixClearing)] == prefixClearing
}

// noPending fails if any account still has money held.
func (w *world) noPending(t tb) {
	t.Helper()
	for _, a := range w.led.Accounts() {
		if a.DebitsPendingFen != 0 || a.CreditsPendingFen != 0 {
			t.Errorf("%s of %s still holds %d/%d fen pending", a.Product, a.Holder, a.DebitsPendingFen, a.CreditsPendingFen)
		}
	}
}

// tb is what the helpers need of *testing.T, *testing.B and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Error(args ...any)
	Errorf(format string, args ...any)
}
