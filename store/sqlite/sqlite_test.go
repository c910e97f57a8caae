package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/paybridge/paybridge/ledger"
	"github.com/paybridge/paybridge/store/storetest"
)

func openTemp(t *testing.T) ledger.Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "ledger.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func reopen(t *testing.T, closed ledger.Store) ledger.Store {
	t.Helper()
	s, err := Open(closed.(*Store).Path(), Options{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, openTemp, reopen)
}
