-- blazen PostgreSQL store, schema version 1, created in the store's own schema (the
-- connection's search_path). Runs are addressed by an integer rid; run ids appear once, in runs.
-- Payloads of 4 KiB or more live once in blobs, keyed by their sha256 and reference-counted.

CREATE TABLE blazen_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

INSERT INTO blazen_meta (key, value) VALUES ('application', 'blazen');

-- No index on a column every commit changes (updated_at, last_seq, owner), and room left in
-- each page, so the per-commit UPDATE is a HOT update that touches no index.
CREATE TABLE runs (
    rid           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id        text NOT NULL UNIQUE,
    workflow_name text NOT NULL,
    status        text NOT NULL,
    owner         text,
    error         text,
    metadata      bytea NOT NULL,
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    last_seq      bigint NOT NULL
) WITH (fillfactor = 70);

CREATE INDEX runs_by_workflow ON runs (workflow_name);
CREATE INDEX runs_by_status ON runs (status);

-- One row per commit. NULL collected/result/status/error: unchanged by this commit.
CREATE TABLE commits (
    rid         bigint NOT NULL,
    seq         bigint NOT NULL,
    step        text NOT NULL,
    created_at  timestamptz NOT NULL,
    consumed    integer NOT NULL,
    status      text,
    error       text,
    collected   bytea,
    result_kind text,
    result_data bytea,
    result_hash bytea,
    PRIMARY KEY (rid, seq)
);

-- One row per context write. kind NULL: the key was deleted. Either data or hash is set.
CREATE TABLE writes (
    rid  bigint NOT NULL,
    key  text NOT NULL,
    seq  bigint NOT NULL,
    idx  integer NOT NULL,
    kind text,
    data bytea,
    hash bytea,
    PRIMARY KEY (rid, key, seq)
);

-- One row per emitted event, idx its place in the commit; consumed_seq is set by the commit
-- that consumed it.
CREATE TABLE events (
    rid          bigint NOT NULL,
    seq          bigint NOT NULL,
    idx          integer NOT NULL,
    event_id     text NOT NULL,
    event_type   text NOT NULL,
    source_step  text,
    target_step  text,
    data         bytea NOT NULL,
    consumed_seq bigint,
    PRIMARY KEY (rid, seq, idx),
    CONSTRAINT events_unique_id UNIQUE (rid, event_id)
);

-- refs counts the writes and results (of every run) that hold the blob.
CREATE TABLE blobs (
    hash bytea PRIMARY KEY,
    size bigint NOT NULL,
    refs bigint NOT NULL,
    data bytea NOT NULL
);

ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;

-- create_run (p_create) or commit: a whole batch in one statement, so one round trip and one
-- transaction. Errors: BZ001 unknown run, BZ002 conflict (owner, existing id), BZ003 a blob
-- the client did not send is missing (it sends it and retries), BZ004 an event not pending.
CREATE FUNCTION blazen_commit(
    p_create boolean, p_run_id text, p_owner text, p_workflow text, p_status text,
    p_error text, p_metadata bytea,
    c_step text[], c_consumed integer[], c_status text[], c_error text[],
    c_collected bytea[], c_rkind text[], c_rdata bytea[], c_rhash bytea[],
    w_commit integer[], w_idx integer[], w_key text[], w_kind text[], w_data bytea[],
    w_hash bytea[],
    e_commit integer[], e_idx integer[], e_id text[], e_type text[], e_source text[],
    e_target text[], e_data bytea[],
    x_commit integer[], x_id text[],
    b_hash bytea[], b_refs integer[], b_data bytea[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := clock_timestamp();
    v_rid bigint;
    v_owner text;
    v_last bigint;
    v_updated timestamptz;
    v_first bigint := 0;
    v_count bigint;
    v_seq bigint;
    v_id text;
BEGIN
    IF p_create THEN
        INSERT INTO runs (run_id, workflow_name, status, owner, metadata, created_at,
                          updated_at, last_seq)
        VALUES (p_run_id, p_workflow, p_status, p_owner, p_metadata, v_now, v_now, 0)
        ON CONFLICT (run_id) DO NOTHING
        RETURNING rid INTO v_rid;
        IF v_rid IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'BZ002',
                MESSAGE = format('run %L already exists', p_run_id);
        END IF;
    ELSE
        -- The row lock serializes commits of one run and fences the owner against claim.
        SELECT rid, owner, last_seq, updated_at INTO v_rid, v_owner, v_last, v_updated
        FROM runs WHERE run_id = p_run_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'BZ001',
                MESSAGE = format('unknown run id %L', p_run_id);
        END IF;
        IF v_owner IS DISTINCT FROM p_owner THEN
            RAISE EXCEPTION USING ERRCODE = 'BZ002',
                MESSAGE = format('run %L is owned by %L, not %L', p_run_id, v_owner, p_owner);
        END IF;
        IF cardinality(c_step) = 0 THEN
            RETURN v_last;
        END IF;
        v_first := v_last + 1;
        v_now := greatest(v_now, v_updated + interval '1 microsecond');
    END IF;

    -- Blobs in the client's (sorted) order, each row locked, so delete_run cannot free one
    -- this batch is about to reference and two batches never deadlock on them.
    FOR i IN 1 .. coalesce(cardinality(b_hash), 0) LOOP
        UPDATE blobs SET refs = refs + b_refs[i] WHERE hash = b_hash[i];
        IF NOT FOUND THEN
            IF b_data[i] IS NULL THEN
                RAISE EXCEPTION USING ERRCODE = 'BZ003',
                    MESSAGE = 'missing blob ' || encode(b_hash[i], 'hex');
            END IF;
            INSERT INTO blobs (hash, size, refs, data)
            VALUES (b_hash[i], length(b_data[i]), b_refs[i], b_data[i])
            ON CONFLICT (hash) DO UPDATE SET refs = blobs.refs + EXCLUDED.refs;
        END IF;
    END LOOP;

    INSERT INTO commits (rid, seq, step, created_at, consumed, status, error, collected,
                         result_kind, result_data, result_hash)
    SELECT v_rid, v_first + u.n - 1, u.step, v_now, u.consumed, u.status, u.error,
           u.collected, u.rkind, u.rdata, u.rhash
    FROM unnest(c_step, c_consumed, c_status, c_error, c_collected, c_rkind, c_rdata, c_rhash)
         WITH ORDINALITY AS u(step, consumed, status, error, collected, rkind, rdata, rhash, n);

    INSERT INTO writes (rid, key, seq, idx, kind, data, hash)
    SELECT v_rid, u.key, v_first + u.c, u.idx, u.kind, u.data, u.hash
    FROM unnest(w_commit, w_idx, w_key, w_kind, w_data, w_hash) AS u(c, idx, key, kind, data, hash);

    INSERT INTO events (rid, seq, idx, event_id, event_type, source_step, target_step, data)
    SELECT v_rid, v_first + u.c, u.idx, u.id, u.type, u.source, u.target, u.data
    FROM unnest(e_commit, e_idx, e_id, e_type, e_source, e_target, e_data)
         AS u(c, idx, id, type, source, target, data);

    IF cardinality(x_id) > 0 THEN
        UPDATE events e SET consumed_seq = v_first + u.c
        FROM unnest(x_commit, x_id) AS u(c, id)
        WHERE e.rid = v_rid AND e.event_id = u.id AND e.consumed_seq IS NULL
          AND e.seq < v_first + u.c;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count <> cardinality(x_id) THEN
            SELECT q.s, q.id INTO v_seq, v_id FROM (
                SELECT v_first + u.c AS s, u.id, u.n, e.consumed_seq,
                       row_number() OVER (PARTITION BY u.id ORDER BY u.n) AS k
                FROM unnest(x_commit, x_id) WITH ORDINALITY AS u(c, id, n)
                LEFT JOIN events e ON e.rid = v_rid AND e.event_id = u.id
            ) q
            WHERE q.k > 1 OR q.consumed_seq IS DISTINCT FROM q.s
            ORDER BY q.n LIMIT 1;
            RAISE EXCEPTION USING ERRCODE = 'BZ004',
                MESSAGE = format('run %L: commit %s consumes event %L, which is not pending',
                                 p_run_id, v_seq, v_id);
        END IF;
    END IF;

    IF p_create THEN
        RETURN 0;
    END IF;
    v_last := v_first + cardinality(c_step) - 1;
    UPDATE runs SET last_seq = v_last, updated_at = v_now, status = coalesce(p_status, status),
                    error = coalesce(p_error, error)
    WHERE rid = v_rid;
    RETURN v_last;
END
$$;

-- Delete a run, its history, and the blobs whose last reference it held (false: no such run).
CREATE FUNCTION blazen_delete_run(p_run_id text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    v_rid bigint;
    v_hash bytea;
    v_n bigint;
    v_left bigint;
BEGIN
    SELECT rid INTO v_rid FROM runs WHERE run_id = p_run_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    FOR v_hash, v_n IN
        SELECT h.hash, count(*) FROM (
            SELECT w.hash FROM writes w WHERE w.rid = v_rid AND w.hash IS NOT NULL
            UNION ALL
            SELECT c.result_hash FROM commits c WHERE c.rid = v_rid AND c.result_hash IS NOT NULL
        ) h GROUP BY h.hash ORDER BY h.hash
    LOOP
        UPDATE blobs SET refs = refs - v_n WHERE hash = v_hash RETURNING refs INTO v_left;
        IF v_left <= 0 THEN
            DELETE FROM blobs WHERE hash = v_hash;
        END IF;
    END LOOP;
    DELETE FROM writes WHERE rid = v_rid;
    DELETE FROM events WHERE rid = v_rid;
    DELETE FROM commits WHERE rid = v_rid;
    DELETE FROM runs WHERE rid = v_rid;
    RETURN true;
END
$$;
