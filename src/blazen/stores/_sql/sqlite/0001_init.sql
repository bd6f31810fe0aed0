-- blazen SQLite store, schema version 1.
-- Runs are addressed by an integer rid inside the file; run ids appear once, in runs.
-- Payloads of 4 KiB or more live once in blobs, keyed by their sha256 digest.
-- A small commit touches few b-tree pages: commits, writes and events are clustered by
-- (rid, ...) and runs has no index on a column that every commit changes.

CREATE TABLE blazen_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

INSERT INTO blazen_meta (key, value) VALUES ('application', 'blazen');

CREATE TABLE runs (
    rid           INTEGER PRIMARY KEY,
    run_id        TEXT NOT NULL UNIQUE,
    workflow_name TEXT NOT NULL,
    status        TEXT NOT NULL,
    owner         TEXT,
    error         TEXT,
    metadata      BLOB NOT NULL,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    last_seq      INTEGER NOT NULL
);

CREATE INDEX runs_by_workflow ON runs (workflow_name);
CREATE INDEX runs_by_status ON runs (status);

-- One row per commit. NULL collected/result/status/error: unchanged by this commit.
CREATE TABLE commits (
    rid         INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    step        TEXT NOT NULL,
    created_at  REAL NOT NULL,
    consumed    INTEGER NOT NULL,
    status      TEXT,
    error       TEXT,
    collected   BLOB,
    result_kind TEXT,
    result_data BLOB,
    result_hash BLOB,
    PRIMARY KEY (rid, seq)
) WITHOUT ROWID;

CREATE INDEX commits_by_blob ON commits (result_hash) WHERE result_hash IS NOT NULL;

-- One row per context write. kind NULL: the key was deleted. Either data or hash is set.
CREATE TABLE writes (
    rid  INTEGER NOT NULL,
    key  TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    idx  INTEGER NOT NULL,
    kind TEXT,
    data BLOB,
    hash BLOB,
    PRIMARY KEY (rid, key, seq)
) WITHOUT ROWID;

CREATE INDEX writes_by_blob ON writes (hash) WHERE hash IS NOT NULL;

-- One row per emitted event, idx its place in the commit; consumed_seq is set by the commit
-- that consumed it.
CREATE TABLE events (
    rid          INTEGER NOT NULL,
    seq          INTEGER NOT NULL,
    idx          INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    source_step  TEXT,
    target_step  TEXT,
    data         BLOB NOT NULL,
    consumed_seq INTEGER,
    PRIMARY KEY (rid, seq, idx)
) WITHOUT ROWID;

CREATE UNIQUE INDEX events_by_id ON events (rid, event_id);

CREATE TABLE blobs (
    hash BLOB PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
