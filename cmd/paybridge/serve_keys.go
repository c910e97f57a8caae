package main

// openKeys opens the API key store of the ledger file db: keys hashed in a
// table of the ledger's own SQLite file (package auth), so a key created
// with `paybridge keys create --db FILE` works for `serve --db FILE` and
// survives restarts.
func openKeys(db string) (keyStore, error) {
	return openAuthKeys(db)
}
