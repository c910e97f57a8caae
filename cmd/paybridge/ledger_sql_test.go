package main

import (
	"database/sql"

	// The pure-Go SQLite driver, to edit a database as an outside tool would.
	_ "github.com/ncruces/go-sqlite3/driver"
)

func openRawSQL(path string) (*sql.DB, error) { return sql.Open("sqlite3", "file:"+path) }
