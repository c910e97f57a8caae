-- Version 3: records by (kind, key), so a payment's events (key = payment
-- id) and what is stored under an idempotency key are read without
-- scanning the outbox: the payment executor keeps only recent finished
-- payments in memory and reads older ones back from here.

-- +goose Up
CREATE INDEX records_key ON records(key);

-- +goose Down
DROP INDEX records_key;
