// Package store is the home of the ledger's persistence adapters. Each
// subpackage implements ledger.Store for one database: sqlite (the embedded
// default, a single file), and later postgres and mysql. Package storetest is
// the conformance suite every implementation must pass.
//
// The domain package ledger owns the Store interface and its types; the
// adapters depend on ledger, never the other way round.
package store
