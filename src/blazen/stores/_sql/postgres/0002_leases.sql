-- blazen PostgreSQL store, schema version 2: run leases with fencing epochs, the queue and
-- cancel requests (issue 11), and per-commit retry history (issue 12).
-- runs.epoch grows at every claim; runs.lease_until (seconds since 1970, the server's clock)
-- is when the owner's lease ends (NULL: no owner). commits.epoch is the epoch of the claim
-- that wrote the commit: blazen_write sets it (transaction-local) before blazen_commit runs.

ALTER TABLE runs ADD COLUMN epoch bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN lease_until double precision;
ALTER TABLE runs ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
UPDATE runs SET epoch = 1 WHERE owner IS NOT NULL;

ALTER TABLE commits ADD COLUMN epoch bigint NOT NULL
    DEFAULT coalesce(nullif(current_setting('blazen.epoch', true), '')::bigint, 0);
ALTER TABLE commits ADD COLUMN attempt integer NOT NULL DEFAULT 1;
ALTER TABLE commits ADD COLUMN attempt_error text;

-- The notification channel of this schema (LISTENed to by idle workers and waiters).
CREATE FUNCTION blazen_channel() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT left('bz_' || current_schema(), 63)
$$;

-- Every write of a batch: blazen_commit, fenced by the epoch and followed by the lease rules.
-- p_mode 'create': a new run (claimed with epoch 1 and a lease of p_lease seconds when it
-- has an owner); 'commit': the owner's batch (refused with BZ002 when p_epoch is stale);
-- 'post': events appended whoever owns the run (BZ006 when it is finished), a waiting run
-- without a live lease becomes queued. A batch setting a final status ends the lease.
-- a_attempt/a_error (one entry per commit, or NULL when every commit is a first attempt
-- without error) give each commit's attempt and failed-attempt error.
CREATE FUNCTION blazen_write(
    p_mode text, p_epoch bigint, p_lease double precision, a_attempt integer[], a_error text[],
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
    v_epoch bigint := CASE WHEN p_owner IS NULL THEN 0 ELSE 1 END;
    v_owner text := p_owner;
    v_status text;
    v_until double precision;
    v_rid bigint;
    v_last bigint;
    v_now double precision := extract(epoch FROM clock_timestamp());
BEGIN
    IF NOT p_create THEN
        SELECT rid, epoch, owner, status, lease_until
        INTO v_rid, v_epoch, v_owner, v_status, v_until
        FROM runs WHERE run_id = p_run_id FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'BZ001',
                MESSAGE = format('unknown run id %L', p_run_id);
        END IF;
        IF p_mode = 'post' THEN
            IF v_status IN ('completed', 'failed', 'cancelled') THEN
                RAISE EXCEPTION USING ERRCODE = 'BZ006',
                    MESSAGE = format('run %L is already %s', p_run_id, v_status);
            END IF;
        ELSE
            IF v_owner IS DISTINCT FROM p_owner OR (p_epoch IS NOT NULL AND v_epoch <> p_epoch) THEN
                RAISE EXCEPTION USING ERRCODE = 'BZ002',
                    MESSAGE = format('run %L is owned by %L (epoch %s), not %L (epoch %s)',
                                     p_run_id, v_owner, v_epoch, p_owner, p_epoch);
            END IF;
        END IF;
    END IF;
    PERFORM set_config('blazen.epoch', v_epoch::text, true);
    v_last := blazen_commit(
        p_create, p_run_id, v_owner, p_workflow, p_status, p_error, p_metadata,
        c_step, c_consumed, c_status, c_error, c_collected, c_rkind, c_rdata, c_rhash,
        w_commit, w_idx, w_key, w_kind, w_data, w_hash,
        e_commit, e_idx, e_id, e_type, e_source, e_target, e_data,
        x_commit, x_id, b_hash, b_refs, b_data);
    IF p_create THEN
        UPDATE runs SET epoch = v_epoch,
                        lease_until = CASE WHEN p_owner IS NULL THEN NULL ELSE v_now + p_lease END
        WHERE run_id = p_run_id
        RETURNING rid INTO v_rid;
        IF p_status = 'queued' THEN
            PERFORM pg_notify(blazen_channel(), 'queued:' || p_run_id);
        END IF;
    ELSIF p_mode = 'post' THEN
        UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL
        WHERE rid = v_rid AND status = 'waiting'
          AND (owner IS NULL OR lease_until IS NULL OR lease_until <= v_now);
        PERFORM pg_notify(blazen_channel(), 'posted:' || p_run_id);
    ELSIF p_status IN ('completed', 'failed', 'cancelled') THEN
        UPDATE runs SET owner = NULL, lease_until = NULL WHERE rid = v_rid;
        PERFORM pg_notify(blazen_channel(), 'done:' || p_run_id);
    END IF;
    IF a_attempt IS NOT NULL THEN
        UPDATE commits c SET attempt = u.attempt, attempt_error = u.error
        FROM unnest(a_attempt, a_error) WITH ORDINALITY AS u(attempt, error, n)
        WHERE c.rid = v_rid AND c.seq = v_last - cardinality(c_step) + u.n
          AND (u.attempt <> 1 OR u.error IS NOT NULL);
    END IF;
    RETURN v_last;
END
$$;
