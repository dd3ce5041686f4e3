-- esi_fdw 0.5.0 -> 0.6.0: talking to the real ESI (issue 15).
\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.6.0'" to load this file. \quit

-- == transport ==

-- == cache ==

-- == esi behaviour ==

-- A refresh's next one is due no sooner than esi_fdw.refresh_min_interval
-- after its start: ESI has served replies that arrive already expired,
-- which made the target due again at once, again and again.
CREATE OR REPLACE FUNCTION _refresh_write(log_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l esi.refresh_log;
  t esi.targets;
  cols text;
  cond text;
  nrows bigint;
  nadded bigint;
  exp_at timestamptz;
BEGIN
  SELECT * INTO l FROM esi.refresh_log x WHERE x.id = log_id;
  SELECT * INTO t FROM esi.targets x WHERE x.target = l.target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', l.target USING ERRCODE = '42704';
  END IF;
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_attribute a
   WHERE a.attrelid = t.foreign_table AND a.attnum > 0 AND NOT a.attisdropped;
  cond := esi._target_where(t.foreign_table, t.params);
  IF t.mode = 'latest' THEN
    -- row locks only: a SELECT sees the old rows until the commit
    EXECUTE format('DELETE FROM %s WHERE %s', t.snapshot_table, cond);
  END IF;
  SELECT i.rows, i.added INTO nrows, nadded
    FROM esi._snapshot_insert(t.snapshot_table,
           format('SELECT %s, %L::timestamptz FROM %s WHERE %s', cols, l.started, t.foreign_table, cond),
           t.mode = 'incremental') i;
  IF t.owner_column IS NOT NULL THEN
    PERFORM esi._asset_diffs(t.target, t.snapshot_table, t.owner_column, l.started, cond);
  END IF;
  exp_at := esi._watch_expires();
  UPDATE esi.refresh_log x SET finished = clock_timestamp(), rows = nrows, rows_added = nadded,
         outcome = 'ok', requests = esi._watch_requests(), expires = exp_at
   WHERE x.id = log_id;
  -- next: when the data read expires (5 minutes when no reply said), but
  -- not before esi_fdw.refresh_min_interval from this refresh's start (a
  -- reply may arrive already expired) nor within a second from now, plus
  -- the jitter
  UPDATE esi.targets x SET last_snapshot_at = l.started, last_rows = nrows, last_error = NULL,
         failures = 0, paused_at = NULL,
         next_refresh_at = greatest(coalesce(exp_at, now() + interval '5 minutes'),
                                    l.started + current_setting('esi_fdw.refresh_min_interval')::interval,
                                    clock_timestamp() + interval '1 second') + esi._jitter()
   WHERE x.target = t.target;
  PERFORM pg_notify('esi_refresh', json_build_object('target', t.target,
    'snapshot_at', l.started, 'rows', nrows)::text);
END;
$$;

-- == sso ==

-- == security: argument checks ==

-- == security: privileged SQL ==

-- == security: per-database keys ==

-- Sealed values (refresh tokens, client secrets, login verifiers) are bound
-- to their database now, not only to their row: one sealed in another
-- database of the cluster does not unseal here.  Those sealed before are
-- sealed again, bound to this database, while updating (no key is added;
-- values whose key is missing are left, with a WARNING, for esi.rekey(),
-- which binds them too).  The access tokens in shared memory and the
-- response cache's entries of a character are kept per database and
-- server OID (in C, nothing to change here).
CREATE FUNCTION _bind_sealed() RETURNS bigint
LANGUAGE C STRICT
AS 'MODULE_PATHNAME', 'esi_bind_sealed';
REVOKE ALL ON FUNCTION _bind_sealed() FROM PUBLIC;
SELECT _bind_sealed();
DROP FUNCTION _bind_sealed();

-- == security: writes sent once ==
