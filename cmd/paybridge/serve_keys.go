package main

import (
	"context"

	"github.com/paybridge/paybridge/api"
)

// openKeys opens the API key store of the ledger file db.
//
// Until the auth package (keys hashed in the ledger's SQLite file) is
// wired here, keys live in memory: a fresh admin key is printed at every
// start.
func openKeys(db string) (keyStore, error) {
	return memoryKeys{api.NewMemoryKeys()}, nil
}

type memoryKeys struct{ *api.MemoryKeys }

func (m memoryKeys) Count(context.Context) (int, error) { return m.MemoryKeys.Count(), nil }
func (m memoryKeys) Close() error                       { return nil }
