-- Version 1: the append-only commit journal (the durable truth) and the read
-- tables materialised from it. See docs/ledger-store.md.

-- +goose Up
-- One row per group commit: the whole ledger.CommitRecord in a compact binary
-- encoding (store/sqlite/codec.go), chained by hash = SHA-256(prev_hash || body).
CREATE TABLE commits (
	seq       INTEGER PRIMARY KEY,
	timestamp INTEGER NOT NULL,
	hash      BLOB    NOT NULL,
	body      BLOB    NOT NULL
);

-- Opaque records (outbox events, payment states) and counters are written in
-- the commit transaction itself: consumers poll them.
CREATE TABLE records (
	seq        INTEGER PRIMARY KEY,
	commit_seq INTEGER NOT NULL,
	kind       TEXT    NOT NULL,
	key        TEXT    NOT NULL,
	data       BLOB    NOT NULL
);
CREATE INDEX records_kind ON records(kind, seq);

CREATE TABLE counters (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

-- Read tables, materialised from commits up to meta 'indexed_seq' in large
-- sorted chunks (before any read that needs them, and when the writer idles).
CREATE TABLE accounts (
	id                  INTEGER PRIMARY KEY,
	holder              TEXT    NOT NULL,
	institution         TEXT    NOT NULL,
	product             TEXT    NOT NULL,
	currency            TEXT    NOT NULL,
	floor_fen           INTEGER NOT NULL,
	flags               INTEGER NOT NULL,
	balance_fen         INTEGER NOT NULL,
	debits_pending_fen  INTEGER NOT NULL,
	credits_pending_fen INTEGER NOT NULL,
	credit_share_fen    INTEGER NOT NULL,
	timestamp           INTEGER NOT NULL
);

CREATE TABLE transfers (
	timestamp        INTEGER PRIMARY KEY,
	id               INTEGER NOT NULL,
	key              TEXT,
	debit_account    INTEGER NOT NULL,
	credit_account   INTEGER NOT NULL,
	amount_fen       INTEGER NOT NULL,
	currency         TEXT    NOT NULL,
	code             INTEGER NOT NULL,
	flags            INTEGER NOT NULL,
	pending_id       INTEGER NOT NULL,
	timeout_seconds  INTEGER NOT NULL,
	metadata         BLOB,
	state            INTEGER NOT NULL,
	credit_share_fen INTEGER NOT NULL
);
CREATE UNIQUE INDEX transfers_id ON transfers(id);
CREATE UNIQUE INDEX transfers_key ON transfers(key);

-- One row per (account, transfer) leg: account history by cursor.
CREATE TABLE postings (
	account   INTEGER NOT NULL,
	timestamp INTEGER NOT NULL,
	PRIMARY KEY (account, timestamp)
) WITHOUT ROWID;

CREATE TABLE meta (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta(name, value) VALUES ('indexed_seq', 0);

-- +goose Down
DROP TABLE meta;
DROP TABLE postings;
DROP TABLE transfers;
DROP TABLE accounts;
DROP TABLE counters;
DROP TABLE records;
DROP TABLE commits;
