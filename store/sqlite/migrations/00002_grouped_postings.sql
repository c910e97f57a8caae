-- Version 2: account history as one row per (account, materialisation
-- chunk) holding the leg timestamps as delta varints, instead of one row per
-- leg: about twenty times fewer rows to write. The read tables are derived
-- data, so they are emptied and rebuilt from the journal (policy 4 in
-- docs/ledger-store.md).

-- +goose Up
DROP TABLE postings;
CREATE TABLE postings (
	account   INTEGER NOT NULL,
	last_ts   INTEGER NOT NULL, -- the largest timestamp in ts: the seek key
	first_ts  INTEGER NOT NULL,
	n         INTEGER NOT NULL, -- number of timestamps
	ts        BLOB    NOT NULL, -- uvarint deltas from first_ts (the first is 0)
	PRIMARY KEY (account, last_ts)
) WITHOUT ROWID;
DELETE FROM transfers;
DELETE FROM accounts;
UPDATE meta SET value = 0 WHERE name = 'indexed_seq';

-- +goose Down
DROP TABLE postings;
CREATE TABLE postings (
	account   INTEGER NOT NULL,
	timestamp INTEGER NOT NULL,
	PRIMARY KEY (account, timestamp)
) WITHOUT ROWID;
DELETE FROM transfers;
DELETE FROM accounts;
UPDATE meta SET value = 0 WHERE name = 'indexed_seq';
