package storetest_test

import (
	"testing"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/storetest"
)

// The in-memory store passes the same suite as the durable ones.
func TestMemStore(t *testing.T) {
	storetest.Run(t,
		func(*testing.T) ledger.Store { return ledger.NewMemStore() },
		func(_ *testing.T, closed ledger.Store) ledger.Store { return closed.(*ledger.MemStore).Reopen() })
}
