-- blazen SQLite store, schema version 2: run leases with fencing epochs, the queue and cancel
-- requests (issue 11), and per-commit retry history (issue 12).
-- runs.epoch grows at every claim; runs.lease_until (seconds since the epoch) is when the
-- owner's lease ends (NULL: no owner); commits.epoch is the epoch of the claim that wrote it.

ALTER TABLE runs ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until REAL;
ALTER TABLE runs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
UPDATE runs SET epoch = 1 WHERE owner IS NOT NULL;

ALTER TABLE commits ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE commits ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE commits ADD COLUMN attempt_error TEXT;
