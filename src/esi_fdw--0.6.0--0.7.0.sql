-- esi_fdw 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.7.0'" to load this file. \quit

-- == tokens: rotated refresh tokens kept until stored ==

-- == structure ==

-- == operations: health and monitoring ==

-- Health at a glance (issue 18): per target, the expiry of the ESI data
-- its last successful refresh read (so how far behind it is), and whether
-- its failures in a row were announced.  A target whose failures in a row
-- reach esi_fdw.refresh_alert_failures is announced once, by NOTIFY
-- esi_refresh_failing and a WARNING in the server log, and not again until
-- a refresh of it has succeeded.  CALL esi.refresh and the background
-- workers both go through _refresh_write and _refresh_failed, so both
-- count.
ALTER TABLE targets
  ADD COLUMN data_expires_at timestamptz,
  ADD COLUMN failure_announced_at timestamptz;
COMMENT ON COLUMN targets.data_expires_at IS 'the earliest expiry of the ESI replies the last successful refresh read (NULL: none said, or no successful refresh yet)';
COMMENT ON COLUMN targets.failure_announced_at IS 'when the failures in a row reached esi_fdw.refresh_alert_failures and were announced (NOTIFY esi_refresh_failing, a WARNING); cleared by a successful refresh';
UPDATE targets t SET data_expires_at =
  (SELECT l.expires FROM refresh_log l
    WHERE l.target OPERATOR(pg_catalog.=) t.target AND l.outcome OPERATOR(pg_catalog.=) 'ok'
    ORDER BY l.id DESC LIMIT 1);

-- step 2, as in 0.6.0, and it notes the data's expiry and clears the
-- announcement of failures
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
         failures = 0, paused_at = NULL, data_expires_at = exp_at, failure_announced_at = NULL,
         next_refresh_at = greatest(coalesce(exp_at, now() + interval '5 minutes'),
                                    l.started + current_setting('esi_fdw.refresh_min_interval')::interval,
                                    clock_timestamp() + interval '1 second') + esi._jitter()
   WHERE x.target = t.target;
  PERFORM pg_notify('esi_refresh', json_build_object('target', t.target,
    'snapshot_at', l.started, 'rows', nrows)::text);
END;
$$;

-- step 2 failed: as in 0.5.0 (log it, back off, pause on a login error),
-- and when the failures in a row reach esi_fdw.refresh_alert_failures and
-- were not announced since the last success: NOTIFY esi_refresh_failing
-- (payload: target, failures, sqlstate, paused, next_refresh_at) and a
-- WARNING with the error, which the server log records
CREATE OR REPLACE FUNCTION _refresh_failed(log_id bigint, err text, err_state text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tg text;
  delay float8 := extract(epoch FROM current_setting('esi_fdw.refresh_retry_delay')::interval);
  cap float8 := extract(epoch FROM current_setting('esi_fdw.refresh_max_retry_delay')::interval);
  alert int := current_setting('esi_fdw.refresh_alert_failures')::int;
  t esi.targets;
BEGIN
  UPDATE esi.refresh_log x SET finished = clock_timestamp(), outcome = 'error', error = err,
         requests = esi._watch_requests(), expires = esi._watch_expires()
   WHERE x.id = log_id RETURNING x.target INTO tg;
  UPDATE esi.targets x SET last_error = err, failures = x.failures + 1,
         paused_at = CASE WHEN err_state = '28000' THEN now() ELSE x.paused_at END,
         next_refresh_at = now() + CASE WHEN err_state = '40001' AND x.failures = 0 THEN interval '0'
                                        ELSE make_interval(secs => least(cap, delay * 2 ^ least(x.failures, 30))) END
                           + esi._jitter()
   WHERE x.target = tg;
  -- announced once: the row is taken only by the failure that announces
  UPDATE esi.targets x SET failure_announced_at = now()
   WHERE x.target = tg AND x.failures >= alert AND x.failure_announced_at IS NULL
  RETURNING x.* INTO t;
  IF FOUND THEN
    -- no error text: every role of the database may listen, and the
    -- target's name (at most 7680 bytes as JSON) keeps it under 8000 bytes
    PERFORM pg_notify('esi_refresh_failing', json_build_object('target', t.target,
      'failures', t.failures, 'sqlstate', err_state,
      'paused', t.paused_at IS NOT NULL, 'next_refresh_at', t.next_refresh_at)::text);
    RAISE WARNING 'esi_fdw: target "%" failed % times in a row', t.target, t.failures
      USING DETAIL = format('The last error (SQLSTATE %s): %s', err_state, left(err, 1000)),
            HINT = format('SELECT * FROM esi.target_health WHERE target = %L; the target is announced again only after a refresh of it succeeded.', t.target);
  END IF;
END;
$$;

-- as in 0.5.0; turning a target on starts it afresh, so the announcement
-- of its failures is cleared with them
CREATE OR REPLACE FUNCTION set_auto(target text, auto boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE esi.targets t SET auto = set_auto.auto,
         next_refresh_at = CASE WHEN set_auto.auto THEN NULL ELSE t.next_refresh_at END,
         paused_at = CASE WHEN set_auto.auto THEN NULL ELSE t.paused_at END,
         failures = CASE WHEN set_auto.auto THEN 0 ELSE t.failures END,
         failure_announced_at = CASE WHEN set_auto.auto THEN NULL ELSE t.failure_announced_at END
   WHERE t.target = set_auto.target OR t.group_name = set_auto.target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704';
  END IF;
  IF set_auto.auto THEN
    PERFORM esi._refresh_wake();
  END IF;
END;
$$;

-- One row per target: is it fresh, how far behind its data's expiry, its
-- last refresh, failures in a row, paused (and why), next background
-- refresh.  Seen by the roles that may read the target's snapshot table
-- (as esi.targets) and by members of pg_read_all_stats (monitoring).
CREATE VIEW target_health WITH (security_barrier) AS
  SELECT t.target, t.group_name, t.foreign_table, t.snapshot_table, t.mode,
         t.last_snapshot_at, t.last_rows,
         t.data_expires_at AS expires_at,
         CASE WHEN t.data_expires_at IS NULL THEN NULL
              WHEN t.data_expires_at OPERATOR(pg_catalog.<) pg_catalog.now()
                THEN pg_catalog.now() OPERATOR(pg_catalog.-) t.data_expires_at
              ELSE interval '0' END AS behind,
         coalesce(t.data_expires_at OPERATOR(pg_catalog.>=) pg_catalog.now(), false) AS fresh,
         l.outcome AS last_outcome, l.started AS last_started, l.finished AS last_finished,
         t.last_error,
         t.failures AS failures_in_row,
         t.failure_announced_at IS NOT NULL AS failing,
         t.failure_announced_at,
         t.paused_at IS NOT NULL AS paused,
         t.paused_at,
         CASE WHEN t.paused_at IS NOT NULL THEN
           pg_catalog.format('waiting for an EVE SSO login of %s of server %s (a refresh failed with SQLSTATE 28000 at %s)',
             CASE WHEN t.params ? 'character_id'
                  THEN 'character ' OPERATOR(pg_catalog.||) (
                         SELECT pg_catalog.string_agg(c, ', ')
                           FROM pg_catalog.jsonb_array_elements_text(
                                  CASE pg_catalog.jsonb_typeof(t.params -> 'character_id')
                                    WHEN 'array' THEN t.params -> 'character_id'
                                    ELSE pg_catalog.jsonb_build_array(t.params -> 'character_id') END) c)
                  ELSE 'a character' END,
             s.srvname, t.paused_at)
         END AS pause_reason,
         t.auto,
         CASE WHEN t.auto AND t.paused_at IS NULL
              THEN coalesce(t.next_refresh_at, pg_catalog.now()) END AS next_refresh_at
    FROM esi.targets t
    LEFT JOIN pg_catalog.pg_foreign_table f ON f.ftrelid OPERATOR(pg_catalog.=) t.foreign_table
    LEFT JOIN pg_catalog.pg_foreign_server s ON s.oid OPERATOR(pg_catalog.=) f.ftserver
    LEFT JOIN LATERAL (SELECT x.outcome, x.started, x.finished FROM esi.refresh_log x
                        WHERE x.target OPERATOR(pg_catalog.=) t.target
                        ORDER BY x.id DESC LIMIT 1) l ON true
   WHERE pg_catalog.has_table_privilege(t.snapshot_table::oid, 'SELECT')
      OR pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER');
COMMENT ON VIEW target_health IS 'Per target: expiry of its data and how far behind it, last outcome and error, failures in a row, paused and why, next background refresh';
GRANT SELECT ON target_health TO PUBLIC;
