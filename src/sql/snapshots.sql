-- esi_fdw: snapshots: targets (esi.track), the refresh and its steps, background
-- refresh, pg_cron schedules, snapshot partitions, bulk load
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

-- == targets: esi.track(), untrack(), set_auto(), schedule() ==

-- the WHERE clause that reads a target's foreign table with its params: a
-- scalar is col = value, an array col IN (values); an empty array (esi.bi_setup()
-- with no character yet) reads nothing
CREATE OR REPLACE FUNCTION _target_where(foreign_table regclass, params jsonb)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text;
  v jsonb;
  typ text;
  conds text[] := '{}';
  vals text;
BEGIN
  IF jsonb_typeof(params) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'params must be a JSON object of column names and values'
      USING ERRCODE = '22023';
  END IF;
  FOR k, v IN SELECT * FROM jsonb_each(params) ORDER BY 1 LOOP
    SELECT format_type(a.atttypid, a.atttypmod) INTO typ
      FROM pg_attribute a
     WHERE a.attrelid = foreign_table AND a.attname = k AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IS NULL THEN
      RAISE EXCEPTION 'column "%" of params does not exist in %', k, foreign_table
        USING ERRCODE = '42703';
    END IF;
    IF jsonb_typeof(v) = 'array' THEN
      SELECT string_agg(format('%L::%s', e #>> '{}', typ), ', ' ORDER BY o) INTO vals
        FROM jsonb_array_elements(v) WITH ORDINALITY AS x(e, o);
      IF vals IS NULL THEN
        conds := conds || 'false'::text;
      ELSE
        conds := conds || format('%I IN (%s)', k, vals);
      END IF;
    ELSIF jsonb_typeof(v) IN ('object', 'null') THEN
      RAISE EXCEPTION 'params value of "%" must be a scalar or an array', k
        USING ERRCODE = '22023';
    ELSE
      conds := conds || format('%I = %L::%s', k, v #>> '{}', typ);
    END IF;
  END LOOP;
  IF cardinality(conds) = 0 THEN
    RETURN 'true';
  END IF;
  RETURN array_to_string(conds, ' AND ');
END;
$$;

-- Declare a target and create its snapshot table.  With each, params'
-- value of that column is a list: one target per value (named
-- target:value, grouped under target), sharing one snapshot table, each
-- refreshed on its own expiry.  auto: background workers refresh it.
-- snapshot_table is parsed (parse_ident: schema.table, each part as SQL
-- reads it) and quoted part by part, never spliced into CREATE TABLE as
-- given; a target name too long for a NOTIFY payload is refused.
CREATE OR REPLACE FUNCTION track(target text, foreign_table regclass, params jsonb DEFAULT '{}',
                      mode text DEFAULT 'latest', key text[] DEFAULT NULL,
                      snapshot_table text DEFAULT NULL, each text DEFAULT NULL,
                      auto boolean DEFAULT true)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tbl text;
  parts text[];
  rel regclass;
  cols text[];
  owner_col text;
  k text;
  v jsonb;
  members jsonb;
BEGIN
  IF target IS NULL OR target = '' THEN
    RAISE EXCEPTION 'a target needs a name' USING ERRCODE = '22023';
  END IF;
  -- its name goes out in NOTIFY payloads (esi_refresh, esi_asset_diffs),
  -- which hold at most 7999 bytes: the name, as JSON, gets 7680 of them
  IF octet_length(to_json(target)::text) > 7680 THEN
    RAISE EXCEPTION 'target name too long' USING ERRCODE = '22023',
      DETAIL = format('The name is %s bytes as JSON; NOTIFY payloads name the target, and a target''s name may be 7680 bytes as JSON.',
                      octet_length(to_json(target)::text)),
      HINT = 'Choose a shorter name.';
  END IF;
  IF mode IS NULL OR mode NOT IN ('latest', 'history', 'incremental') THEN
    RAISE EXCEPTION 'invalid mode "%"', mode USING ERRCODE = '22023',
      HINT = 'The modes are latest, history and incremental.';
  END IF;
  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = foreign_table) <> 'f' THEN
    RAISE EXCEPTION '% is not a foreign table', foreign_table USING ERRCODE = '42809';
  END IF;
  IF EXISTS (SELECT FROM esi.targets t WHERE t.target = track.target OR t.group_name = track.target) THEN
    RAISE EXCEPTION 'target "%" already exists', target USING ERRCODE = '42710',
      HINT = 'esi.untrack() removes it.';
  END IF;
  params := coalesce(params, '{}');
  PERFORM esi._target_where(foreign_table, params);
  IF each IS NOT NULL THEN
    members := params -> each;
    IF jsonb_typeof(members) IS DISTINCT FROM 'array' OR jsonb_array_length(members) = 0 THEN
      RAISE EXCEPTION 'params must give "%" a non-empty list of values', each USING ERRCODE = '22023',
        HINT = format('For example: {"%s": [10000002, 10000043]}', each);
    END IF;
    IF EXISTS (SELECT FROM jsonb_array_elements(members) e
                WHERE octet_length(to_json(track.target || ':' || (e #>> '{}'))::text) > 7680) THEN
      RAISE EXCEPTION 'target name too long' USING ERRCODE = '22023',
        DETAIL = 'A member''s target is named target:value; NOTIFY payloads name the target, and a target''s name may be 7680 bytes as JSON.',
        HINT = 'Choose a shorter name.';
    END IF;
    IF EXISTS (SELECT FROM esi.targets t, jsonb_array_elements(members) e
                WHERE t.target = track.target || ':' || (e #>> '{}')) THEN
      RAISE EXCEPTION 'a target named "%:..." already exists', target USING ERRCODE = '42710';
    END IF;
  END IF;
  SELECT array_agg(a.attname::text ORDER BY a.attnum) INTO cols
    FROM pg_attribute a WHERE a.attrelid = foreign_table AND a.attnum > 0 AND NOT a.attisdropped;
  IF 'snapshot_at' = ANY (cols) THEN
    RAISE EXCEPTION '% has a column named snapshot_at', foreign_table USING ERRCODE = '42701';
  END IF;
  IF mode = 'incremental' THEN
    IF cardinality(key) IS NULL OR cardinality(key) = 0 THEN
      RAISE EXCEPTION 'incremental mode needs key columns' USING ERRCODE = '22023';
    END IF;
  END IF;
  FOREACH k IN ARRAY coalesce(key, '{}') LOOP
    IF NOT k = ANY (cols) THEN
      RAISE EXCEPTION 'key column "%" does not exist in %', k, foreign_table USING ERRCODE = '42703';
    END IF;
  END LOOP;
  IF snapshot_table IS NULL THEN
    tbl := format('esi_snapshots.%I', target);
  ELSE
    -- a name, parsed as SQL would and quoted part by part: nothing else
    -- reaches CREATE TABLE
    BEGIN
      parts := parse_ident(snapshot_table);
    EXCEPTION WHEN invalid_parameter_value THEN
      RAISE EXCEPTION 'invalid snapshot table name "%"', snapshot_table USING ERRCODE = '42602',
        DETAIL = 'snapshot_table must be a table name with its schema, e.g. my_schema.my_table or "My Schema"."My Table".',
        HINT = 'Double-quote a part that is not a plain lower-case identifier.';
    END;
    IF cardinality(parts) <> 2 THEN
      RAISE EXCEPTION 'invalid snapshot table name "%"', snapshot_table USING ERRCODE = '42602',
        DETAIL = 'snapshot_table must be a table name with its schema, e.g. my_schema.my_table or "My Schema"."My Table".',
        HINT = 'Give the schema and the table, separated by a dot.';
    END IF;
    tbl := format('%I.%I', parts[1], parts[2]);
  END IF;
  IF mode = 'history' THEN
    EXECUTE format('CREATE TABLE %s (LIKE %s, snapshot_at timestamptz NOT NULL) PARTITION BY RANGE (snapshot_at)',
                   tbl, foreign_table);
  ELSE
    EXECUTE format('CREATE TABLE %s (LIKE %s, snapshot_at timestamptz NOT NULL)', tbl, foreign_table);
  END IF;
  rel := tbl::regclass;
  EXECUTE format('COMMENT ON TABLE %s IS %L', rel,
                 format('esi_fdw snapshot of %s (target %s, mode %s)', foreign_table, target, mode));
  IF mode = 'incremental' THEN
    EXECUTE format('CREATE UNIQUE INDEX ON %s (%s)', rel,
                   (SELECT string_agg(quote_ident(x), ', ') FROM unnest(key) x));
  ELSE
    EXECUTE format('CREATE INDEX ON %s (snapshot_at)', rel);
  END IF;
  IF each IS NOT NULL AND mode = 'latest' THEN
    -- a member replaces its own rows: DELETE ... WHERE each = value
    EXECUTE format('CREATE INDEX ON %s (%I)', rel, each);
  END IF;
  IF mode = 'latest' AND (EXISTS (SELECT FROM pg_publication)
                          OR EXISTS (SELECT FROM pg_subscription s JOIN pg_database d ON d.oid OPERATOR(pg_catalog.=) s.subdbid
                                      WHERE d.datname OPERATOR(pg_catalog.=) current_database())) THEN
    -- a database that replicates: the key a published table needs (on a
    -- subscriber, the columns of the publisher's table: esi.publish() keys it)
    PERFORM esi._snapshot_replica_identity(rel, key);
  END IF;
  IF mode = 'history' AND cols @> ARRAY['item_id', 'type_id', 'quantity', 'location_id', 'location_flag'] THEN
    owner_col := CASE WHEN 'character_id' = ANY (cols) THEN 'character_id'
                      WHEN 'corporation_id' = ANY (cols) THEN 'corporation_id' END;
  END IF;
  IF each IS NULL THEN
    INSERT INTO esi.targets (target, foreign_table, params, mode, key, snapshot_table, owner_column, auto)
    VALUES (target, foreign_table, params, mode, key, rel, owner_col, track.auto);
  ELSE
    FOR v IN SELECT e FROM jsonb_array_elements(members) WITH ORDINALITY AS x(e, o) ORDER BY o LOOP
      INSERT INTO esi.targets (target, foreign_table, params, mode, key, snapshot_table, owner_column,
                               auto, group_name)
      VALUES (target || ':' || (v #>> '{}'), foreign_table, params || jsonb_build_object(each, v),
              mode, key, rel, owner_col, track.auto, target);
    END LOOP;
  END IF;
  IF track.auto THEN
    PERFORM esi._refresh_wake();
  END IF;
  RETURN rel;
END;
$$;

-- Forget a target, or every target of a group (their log and diffs too);
-- drop_table drops the snapshot table, unless other targets still use it.
CREATE OR REPLACE FUNCTION untrack(target text, drop_table boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  gone record;
  rel regclass;
BEGIN
  FOR gone IN DELETE FROM esi.targets t
               WHERE t.target = untrack.target
                  OR (t.group_name = untrack.target
                      AND NOT EXISTS (SELECT FROM esi.targets x WHERE x.target = untrack.target))
               RETURNING t.target, t.snapshot_table, t.mode, t.foreign_table, t.params, t.group_name
  LOOP
    rel := gone.snapshot_table;
    DELETE FROM esi.refresh_log l WHERE l.target = gone.target;
    DELETE FROM esi.asset_diffs d WHERE d.target = gone.target;
    -- one member of a group: its rows leave the shared latest snapshot
    IF gone.group_name IS NOT NULL AND gone.mode = 'latest' AND NOT drop_table THEN
      EXECUTE format('DELETE FROM %s WHERE %s', gone.snapshot_table,
                     esi._target_where(gone.foreign_table, gone.params));
    END IF;
  END LOOP;
  IF rel IS NULL THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704';
  END IF;
  IF drop_table THEN
    IF EXISTS (SELECT FROM esi.targets t WHERE t.snapshot_table = rel) THEN
      RAISE EXCEPTION 'other targets still use %', rel USING ERRCODE = '2BP01',
        HINT = 'Untrack the group (its name) to drop its table.';
    END IF;
    EXECUTE format('DROP TABLE %s', rel);
  END IF;
END;
$$;

-- Turn background refresh of a target (or of every target of a group) on
-- or off; on makes it due at once, and starts it afresh (its failures and
-- their announcement cleared).
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
COMMENT ON FUNCTION set_auto(text, boolean) IS 'Turn background refresh of an esi_fdw target (or group) on or off';

-- a target (or a group of targets, by its name, as esi.refresh() takes it)
-- refreshed by pg_cron is not also refreshed by background workers
CREATE OR REPLACE FUNCTION schedule(target text, cron text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM esi.targets t
                  WHERE t.target = schedule.target OR t.group_name = schedule.target) THEN
    RAISE EXCEPTION 'no esi_fdw target "%"', schedule.target
      USING ERRCODE = '42704',
            HINT = 'Declare it first with esi.track(); SELECT target FROM esi.targets; lists them.';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
    RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
      USING ERRCODE = '55000',
            DETAIL = 'esi.schedule() makes a pg_cron job that runs CALL esi.refresh().',
            HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database, restart the server, then: CREATE EXTENSION pg_cron;';
  END IF;
  EXECUTE 'SELECT cron.schedule($1, $2, $3)' INTO job
    USING 'esi_fdw refresh ' || schedule.target, schedule.cron,
          format('CALL esi.refresh(%L)', schedule.target);
  UPDATE esi.targets t SET auto = false
   WHERE t.target = schedule.target OR t.group_name = schedule.target;
  RETURN job;
END $$;
COMMENT ON FUNCTION schedule(text, text) IS 'Refresh an esi_fdw target, or group of targets, with pg_cron on a cron schedule (the job is named "esi_fdw refresh <target>"; background refresh of the target, or of the group''s targets, is turned off); returns the job id';

-- remove a target's pg_cron job
CREATE OR REPLACE FUNCTION unschedule(target text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
    RETURN false;
  END IF;
  IF NOT EXISTS (SELECT FROM cron.job j WHERE j.jobname = 'esi_fdw refresh ' || unschedule.target) THEN
    RETURN false;
  END IF;
  RETURN cron.unschedule('esi_fdw refresh ' || unschedule.target);
END $$;
COMMENT ON FUNCTION unschedule(text) IS 'Remove the pg_cron job of an esi_fdw target; false when there is none';

-- == the refresh: CALL esi.refresh() and the background workers run the
-- same steps, each in a transaction of its own ==

-- backend-local counters of the scans (crawl.c)
CREATE OR REPLACE FUNCTION _watch_reset() RETURNS void
  AS 'MODULE_PATHNAME', 'esi_refresh_watch_reset' LANGUAGE C VOLATILE STRICT;

CREATE OR REPLACE FUNCTION _watch_requests() RETURNS bigint
  AS 'MODULE_PATHNAME', 'esi_refresh_watch_requests' LANGUAGE C VOLATILE STRICT;

CREATE OR REPLACE FUNCTION _watch_expires() RETURNS timestamptz
  AS 'MODULE_PATHNAME', 'esi_refresh_watch_expires' LANGUAGE C VOLATILE STRICT;

-- have the refresh launcher look at this database now
CREATE OR REPLACE FUNCTION _refresh_wake() RETURNS void
  AS 'MODULE_PATHNAME', 'esi_refresh_wake_sql' LANGUAGE C VOLATILE STRICT;

-- a random 1..esi_fdw.refresh_jitter seconds (none when 0)
CREATE OR REPLACE FUNCTION _jitter() RETURNS interval
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN j >= 1 THEN make_interval(secs => 1 + floor(random() * j)) ELSE interval '0' END
    FROM (SELECT extract(epoch FROM current_setting('esi_fdw.refresh_jitter')::interval)::int AS j) s
$$;

-- targets that background workers should refresh now, oldest due first;
-- a target paused for a login is due again once a character of its server
-- (its own when params names character_id) logged in since
CREATE OR REPLACE FUNCTION _due_targets()
RETURNS TABLE (target text, refresh_role oid)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.target, t.refresh_role::oid
    FROM esi.targets t
   WHERE t.auto
     AND (t.next_refresh_at IS NULL OR t.next_refresh_at <= now())
     AND (t.paused_at IS NULL OR EXISTS (
           SELECT FROM esi.sso_characters c
             JOIN pg_foreign_table f ON f.ftrelid = t.foreign_table
             JOIN pg_foreign_server s ON s.oid = f.ftserver
            WHERE c.server_name = s.srvname AND NOT c.needs_login
              AND c.logged_in_at > t.paused_at
              AND (NOT t.params ? 'character_id'
                   OR c.character_id::text IN (
                        SELECT jsonb_array_elements_text(
                                 CASE jsonb_typeof(t.params -> 'character_id')
                                   WHEN 'array' THEN t.params -> 'character_id'
                                   ELSE jsonb_build_array(t.params -> 'character_id') END)))))
   ORDER BY t.next_refresh_at NULLS FIRST, t.target
$$;

-- when a background worker should look at this database again
CREATE OR REPLACE FUNCTION _next_due() RETURNS timestamptz
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT min(coalesce(t.next_refresh_at, now())) FROM esi.targets t
   WHERE t.auto AND t.paused_at IS NULL
$$;

-- close the log rows of refreshes whose session ended without closing them
CREATE OR REPLACE FUNCTION _close_stale_runs() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tg text;
  n bigint := 0;
  k bigint;
BEGIN
  FOR tg IN SELECT DISTINCT l.target FROM esi.refresh_log l WHERE l.outcome = 'running' LOOP
    IF esi._refresh_lock(tg) THEN
      UPDATE esi.refresh_log l SET outcome = 'error', finished = coalesce(l.finished, clock_timestamp()),
             error = 'interrupted: the session that ran the refresh ended before it finished'
       WHERE l.target = tg AND l.outcome = 'running';
      GET DIAGNOSTICS k = ROW_COUNT;
      n := n + k;
      PERFORM esi._refresh_unlock(tg);
    END IF;
  END LOOP;
  RETURN n;
END;
$$;

-- A refresh's lock (one refresh of a target at a time): an advisory lock in
-- a key space no SQL function reaches (pg_locks: locktype advisory, objsubid
-- 3), which only a role that may write the target's snapshot table, or a
-- member of the extension's owner (the background workers), may take.
CREATE OR REPLACE FUNCTION _refresh_lock(target text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'esi_refresh_lock_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_lock(text) IS 'takes a target''s refresh lock for the session if it is free (roles that may write its snapshot table)';

CREATE OR REPLACE FUNCTION _refresh_unlock(target text) RETURNS boolean
  AS 'MODULE_PATHNAME', 'esi_refresh_unlock_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_unlock(text) IS 'releases the session''s refresh lock of a target';

-- history mode: the day's partition (created and attached, which does not
-- block readers of the parent; another refresh of the same group may
-- create it meanwhile) and, when retention is given, the retention
-- (dropping old partitions does block, briefly: done in a transaction of
-- its own after the write)
CREATE OR REPLACE FUNCTION _history_partitions(parent regclass, snap_at timestamptz, retention interval)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  day date := (snap_at AT TIME ZONE 'UTC')::date;
  nsp text;
  rname text;
  part text;
  child record;
  cday date;
BEGIN
  SELECT n.nspname, c.relname INTO nsp, rname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
  part := format('%I.%I', nsp, left(rname, 53) || '_p' || to_char(day, 'YYYYMMDD'));
  IF to_regclass(part) IS NULL THEN
    BEGIN
      EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
      EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', parent, part,
                     day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
    EXCEPTION WHEN duplicate_table OR unique_violation THEN
      NULL;                   -- another refresh of the group made it
    END;
  END IF;
  IF retention IS NULL THEN
    RETURN;
  END IF;
  FOR child IN
    SELECT i.inhrelid::regclass AS rel, c.relname
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND c.relname ~ '_p[0-9]{8}$'
  LOOP
    cday := to_date(right(child.relname, 8), 'YYYYMMDD');
    IF (cday + 1)::timestamp AT TIME ZONE 'UTC' <= snap_at - retention THEN
      EXECUTE format('DROP TABLE IF EXISTS %s', child.rel);
    END IF;
  END LOOP;
END;
$$;

-- A refresh writes a snapshot table that has rules on INSERT with INSERT
-- ... SELECT (the rewriter applies them); esi._bulk_insert() refuses it.
CREATE OR REPLACE FUNCTION _snapshot_insert(dest regclass, query text, skip_duplicates boolean,
                                 OUT rows bigint, OUT added bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF skip_duplicates THEN
    EXECUTE format('WITH src AS MATERIALIZED (%s), ins AS (INSERT INTO %s SELECT * FROM src ON CONFLICT DO NOTHING RETURNING 1) '
                   'SELECT (SELECT count(*) FROM src), (SELECT count(*) FROM ins)', query, dest)
      INTO rows, added;
  ELSIF EXISTS (SELECT FROM pg_class c WHERE c.oid = dest AND c.relkind = 'r' AND NOT c.relrowsecurity)
        AND NOT EXISTS (SELECT FROM pg_trigger g WHERE g.tgrelid = dest)
        AND NOT EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class = dest AND r.ev_type = '3') THEN
    -- a plain table: multi-row batches, as COPY writes (esi._bulk_insert)
    rows := esi._bulk_insert(dest, query);
    added := rows;
  ELSE
    -- partitioned (history), row-level security, triggers or rules on INSERT
    EXECUTE format('INSERT INTO %s %s', dest, query);
    GET DIAGNOSTICS rows = ROW_COUNT;
    added := rows;
  END IF;
END;
$$;

-- step 1 of a refresh: the lock, the log row, the day's partition
CREATE OR REPLACE FUNCTION _refresh_begin(target text, only_due boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t esi.targets;
  snap_at timestamptz := clock_timestamp();
  log_id bigint;
BEGIN
  SELECT * INTO t FROM esi.targets x WHERE x.target = _refresh_begin.target;
  IF NOT FOUND AND only_due THEN
    RETURN NULL;              -- untracked meanwhile
  ELSIF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704',
      HINT = 'esi.track() declares one.';
  END IF;
  -- one refresh of a target at a time (a session lock: it outlives commits)
  IF NOT esi._refresh_lock(target) THEN
    RETURN NULL;
  END IF;
  BEGIN
    IF only_due AND NOT EXISTS (SELECT FROM esi._due_targets() d WHERE d.target = _refresh_begin.target) THEN
      PERFORM esi._refresh_unlock(target);
      RETURN NULL;
    END IF;
    -- the lock is ours: a 'running' refresh of the target is a dead one
    UPDATE esi.refresh_log l SET outcome = 'error', finished = clock_timestamp(),
           error = 'interrupted: the session that ran the refresh ended before it finished'
     WHERE l.target = _refresh_begin.target AND l.outcome = 'running';
    IF t.mode = 'history' THEN
      PERFORM esi._history_partitions(t.snapshot_table, snap_at, NULL);
    END IF;
    PERFORM esi._watch_reset();
    INSERT INTO esi.refresh_log (target, started, outcome) VALUES (target, snap_at, 'running')
      RETURNING id INTO log_id;
  EXCEPTION WHEN OTHERS THEN
    PERFORM esi._refresh_unlock(target);
    RAISE;
  END;
  RETURN log_id;
END;
$$;

-- step 2 of a refresh: ESI straight into the snapshot table in one
-- transaction.  The next refresh is due no sooner than
-- esi_fdw.refresh_min_interval after this one's start: ESI serves replies
-- that arrive already expired.
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
    -- published (logical replication), its deletes need a key: the first
    -- refresh after a CREATE PUBLICATION gives it (esi.publish() at once);
    -- a table nobody publishes is spared the key's index
    IF esi._published(t.snapshot_table) THEN
      PERFORM esi._snapshot_replica_identity(t.snapshot_table, t.key);
    END IF;
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

-- Step 2 of a refresh never runs the snapshot table owner's code (its
-- triggers, defaults, policies) with rights that owner lacks: as the
-- caller (or refresh_role) when the owner has all its rights, as the owner
-- when the caller has all the owner's (a superuser's CALL esi.refresh of
-- another role's target), refused otherwise (refresh_worker.c).
CREATE OR REPLACE FUNCTION _refresh_step(log_id bigint) RETURNS void
  AS 'MODULE_PATHNAME', 'esi_refresh_step_sql' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION _refresh_step(bigint) IS 'step 2 of a refresh (esi._refresh_write) as the caller or the snapshot table''s owner, whichever has fewer rights';

-- step 2 failed: log it, back off (esi_fdw.refresh_retry_delay doubled per
-- failure, at most esi_fdw.refresh_max_retry_delay), pause on a login
-- error (28000); the first 40001 in a row (ESI's data expired while it was
-- read: the new version is there now) is retried after the jitter alone;
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

-- step 4 of a refresh: old partitions, log retention, the lock released
CREATE OR REPLACE FUNCTION _refresh_end(log_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  l esi.refresh_log;
  t esi.targets;
BEGIN
  SELECT * INTO l FROM esi.refresh_log x WHERE x.id = log_id;
  SELECT * INTO t FROM esi.targets x WHERE x.target = l.target;
  IF FOUND THEN
    IF t.mode = 'history' AND l.outcome = 'ok' THEN
      PERFORM esi._history_partitions(t.snapshot_table, l.started, t.history_retention);
    END IF;
    -- bounded log: the last log_retention refreshes of the target
    DELETE FROM esi.refresh_log x
     WHERE x.target = t.target
       AND x.id <= (SELECT x2.id FROM esi.refresh_log x2 WHERE x2.target = t.target
                     ORDER BY x2.id DESC OFFSET t.log_retention LIMIT 1);
  END IF;
  PERFORM esi._refresh_unlock(l.target);
END;
$$;

-- Refresh one target.  A procedure, so that it commits between its steps
-- (_refresh_begin, _refresh_step, _refresh_failed, _refresh_end, each in a
-- transaction of its own).  Not SECURITY DEFINER (transaction control
-- forbids it): it reads the foreign table with the caller's rights and
-- tokens.
CREATE OR REPLACE PROCEDURE refresh(target text)
LANGUAGE plpgsql
AS $$
DECLARE
  log_id bigint;
  member text;
  err text;
  err_state text;
  err_detail text;
BEGIN
  IF target IS NULL THEN
    RAISE EXCEPTION 'no target given' USING ERRCODE = '22004';
  END IF;
  -- fails at once inside a transaction block, before anything is taken
  COMMIT;
  IF NOT EXISTS (SELECT FROM esi.targets x WHERE x.target OPERATOR(pg_catalog.=) refresh.target)
     AND EXISTS (SELECT FROM esi.targets x WHERE x.group_name OPERATOR(pg_catalog.=) refresh.target) THEN
    FOR member IN SELECT x.target FROM esi.targets x WHERE x.group_name OPERATOR(pg_catalog.=) refresh.target ORDER BY 1 LOOP
      CALL esi.refresh(member);
    END LOOP;
    RETURN;
  END IF;
  log_id := esi._refresh_begin(target);
  IF log_id IS NULL THEN
    RAISE EXCEPTION 'target "%" is being refreshed by another session', target
      USING ERRCODE = '55P03';
  END IF;
  COMMIT;
  BEGIN
    PERFORM esi._refresh_step(log_id);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- also a statement_timeout or a cancel: logged, then raised below
    GET STACKED DIAGNOSTICS err = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE, err_detail = PG_EXCEPTION_DETAIL;
  END;
  IF err IS NOT NULL THEN
    PERFORM esi._refresh_failed(log_id, err, err_state);
  END IF;
  COMMIT;
  PERFORM esi._refresh_end(log_id);
  COMMIT;
  IF err IS NOT NULL THEN
    RAISE EXCEPTION 'refresh of target "%" failed: %', target, err
      USING ERRCODE = err_state, DETAIL = coalesce(err_detail, ''),
            HINT = 'The previous snapshot is unchanged; the error is in esi.refresh_log.';
  END IF;
END;
$$;

-- One row per target: is it fresh, how far behind its data's expiry, its
-- last refresh, failures in a row, paused (and why), next background
-- refresh.  Seen by the roles that may read the target's snapshot table
-- (as esi.targets) and by members of pg_read_all_stats (monitoring).
CREATE OR REPLACE VIEW target_health WITH (security_barrier) AS
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

-- == the roles and partitions of snapshot tables ==

-- Only a member of a role may make refreshes run as that role (else a role
-- that may write esi.targets could have background workers run its
-- snapshot table's trigger as a superuser).
CREATE OR REPLACE FUNCTION _targets_check_role() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NOT pg_has_role(current_user, NEW.refresh_role::oid, 'MEMBER') THEN
    RAISE EXCEPTION 'permission denied to make target "%" refresh as role "%"', NEW.target, NEW.refresh_role
      USING ERRCODE = '42501',
            DETAIL = format('Role "%s" is not a member of role "%s".', current_user, NEW.refresh_role),
            HINT = 'Set refresh_role to your own role or to a role you are a member of.';
  END IF;
  RETURN NEW;
END;
$$;

-- A partition of a snapshot table with row-level security gets it too (and
-- no policy: a direct read of the partition shows its owner everything and
-- others nothing) and the parent's SELECT grants, so that reading a
-- partition directly never fails and never shows more than the parent.
CREATE OR REPLACE FUNCTION _secure_partitions(parent regclass)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  part regclass;
  grantee text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = parent AND c.relkind = 'p' AND c.relrowsecurity) THEN
    RETURN;
  END IF;
  FOR part IN SELECT i.inhrelid::regclass FROM pg_inherits i WHERE i.inhparent = parent LOOP
    IF NOT (SELECT c.relrowsecurity FROM pg_class c WHERE c.oid = part) THEN
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
    END IF;
    FOR grantee IN
      SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END
        FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
       WHERE c.oid = parent AND a.privilege_type = 'SELECT' AND a.grantee <> c.relowner
    LOOP
      EXECUTE format('GRANT SELECT ON %s TO %s', part, grantee);
    END LOOP;
  END LOOP;
END;
$$;

-- the event trigger esi_snapshot_partitions (post_install.sql): a new or
-- attached partition of a snapshot table is secured at once
CREATE OR REPLACE FUNCTION _snapshot_partitions_trigger()
RETURNS event_trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel oid;
BEGIN
  -- ATTACH PARTITION reports the parent, CREATE TABLE ... PARTITION OF the partition
  FOR rel IN
    SELECT DISTINCT coalesce(i.inhparent, c.oid)
      FROM pg_event_trigger_ddl_commands() d
      JOIN pg_class c ON c.oid = d.objid
      LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
     WHERE d.classid = 'pg_class'::regclass
  LOOP
    IF EXISTS (SELECT FROM pg_class p WHERE p.oid = rel AND p.relkind = 'p' AND p.relrowsecurity) THEN
      IF EXISTS (SELECT FROM esi.targets t WHERE t.snapshot_table = rel) THEN
        PERFORM esi._secure_partitions(rel);
      END IF;
    END IF;
  END LOOP;
END;
$$;

-- == bulk load ==

-- A query's rows written into a table the way COPY FROM writes them
-- (multi-row batches, indexes updated batch by batch), for refreshes: e.g.
--   SELECT esi._bulk_insert('esi_snapshots.forge',
--     'SELECT *, now() FROM market_orders WHERE region_id = 10000002');
-- Columns are matched by position (the query's i-th column fills the
-- table's i-th), cast by assignment; the table's remaining columns get their
-- defaults.  The query runs with the caller's rights and INSERT on the table
-- is checked, so it bypasses nothing and stays callable by anyone.  Plain
-- tables only (a partition, not its partitioned parent), without triggers
-- on INSERT or row-level security; no ON CONFLICT: a duplicate key is an
-- error, so incremental targets keep INSERT ... ON CONFLICT DO NOTHING.
CREATE OR REPLACE FUNCTION _bulk_insert(dest regclass, query text)
RETURNS bigint
LANGUAGE C VOLATILE STRICT
AS 'MODULE_PATHNAME', 'esi_bulk_insert';
COMMENT ON FUNCTION _bulk_insert(regclass, text) IS 'Run a query and write its rows into a plain table as COPY FROM does (by position); returns the rows written';

-- == logical replication: snapshot tables that can be published ==

-- A latest-mode snapshot table is replaced by DELETE and INSERT in one
-- transaction; published for logical replication, its deletes need a
-- replica identity (else the refresh fails: "cannot delete from table ...
-- because it does not have a replica identity and publishes deletes"), and
-- a subscriber finds each deleted row by it.  The target's key (esi.track's
-- key: ESI's own, e.g. order_id) becomes the table's primary key when its
-- rows allow it (no NULL, no duplicate); otherwise (no key, or rows that
-- break it) a column snapshot_row, an identity, is the key.  Either way a
-- delete publishes only the key and a subscriber applies it by an index
-- (REPLICA IDENTITY FULL would publish whole rows and, in PostgreSQL 15,
-- make a subscriber scan the table for each deleted row).  A table that has
-- a replica identity already (a primary key, REPLICA IDENTITY USING INDEX,
-- FULL or NOTHING, set by its owner) is left as it is.  Returns what it
-- did: kept, key or snapshot_row.
CREATE OR REPLACE FUNCTION _snapshot_replica_identity(rel regclass, key text[])
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  kcols text;
  fits boolean;
BEGIN
  IF (SELECT c.relreplident <> 'd' FROM pg_class c WHERE c.oid = rel)
     OR EXISTS (SELECT FROM pg_index i WHERE i.indrelid = rel AND i.indisprimary) THEN
    RETURN 'kept';
  END IF;
  IF cardinality(key) > 0 THEN
    kcols := (SELECT string_agg(quote_ident(k), ', ' ORDER BY o) FROM unnest(key) WITH ORDINALITY x(k, o));
    EXECUTE format('SELECT NOT EXISTS (SELECT FROM %1$s WHERE NOT ROW(%2$s) IS NOT NULL)
                       AND NOT EXISTS (SELECT FROM %1$s GROUP BY %2$s HAVING count(*) > 1)',
                   rel, kcols)
      INTO fits;
    IF fits THEN
      BEGIN
        EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (%s)', rel, kcols);
        RETURN 'key';
      EXCEPTION WHEN unique_violation OR not_null_violation THEN
        NULL;                 -- rows written meanwhile break it: the surrogate
      END;
    END IF;
  END IF;
  IF EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = 'snapshot_row'
                                         AND NOT a.attisdropped) THEN
    RAISE EXCEPTION '% has a column named snapshot_row but no primary key', rel USING ERRCODE = '42701',
      DETAIL = 'A latest-mode snapshot table needs a key to be published; esi_fdw adds snapshot_row as one.',
      HINT = format('Give the table a primary key (ALTER TABLE %s ADD PRIMARY KEY (...)) or a replica identity.', rel);
  END IF;
  EXECUTE format('ALTER TABLE %s ADD COLUMN snapshot_row bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY', rel);
  EXECUTE format('COMMENT ON COLUMN %s.snapshot_row IS %L', rel,
                 'the row''s key (its replica identity, for logical replication): a new number for every row a refresh writes');
  RETURN 'snapshot_row';
END;
$$;
COMMENT ON FUNCTION _snapshot_replica_identity(regclass, text[]) IS 'gives a latest-mode snapshot table a primary key (its key, or a snapshot_row identity) so that it can be published';

-- whether a publication publishes rel's deletes (FOR TABLE, FOR ALL TABLES
-- or TABLES IN SCHEMA alike: pg_publication_tables lists them all)
CREATE OR REPLACE FUNCTION _published(rel regclass)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT EXISTS (SELECT FROM pg_publication_tables pt
                   JOIN pg_publication p ON p.pubname OPERATOR(pg_catalog.=) pt.pubname
                   JOIN pg_class c ON c.relname OPERATOR(pg_catalog.=) pt.tablename
                   JOIN pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                                      AND n.nspname OPERATOR(pg_catalog.=) pt.schemaname
                  WHERE p.pubdelete AND c.oid OPERATOR(pg_catalog.=) rel)
$$;

-- every latest-mode snapshot table (only the published ones when
-- only_published) gets its key (esi._snapshot_replica_identity())
CREATE OR REPLACE FUNCTION _key_latest_tables(only_published boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT DISTINCT ON (x.snapshot_table) x.snapshot_table, x.key
             FROM esi.targets x JOIN pg_class c ON c.oid OPERATOR(pg_catalog.=) x.snapshot_table
            WHERE x.mode OPERATOR(pg_catalog.=) 'latest'
            ORDER BY x.snapshot_table, x.target LOOP
    IF NOT only_published OR esi._published(t.snapshot_table) THEN
      PERFORM esi._snapshot_replica_identity(t.snapshot_table, t.key);
    END IF;
  END LOOP;
END;
$$;

-- the tables logical replication carries, by name: every snapshot table
-- of esi.targets (that exists), esi.asset_diffs and esi.names
CREATE OR REPLACE FUNCTION _replicated_tables()
RETURNS SETOF regclass
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT r FROM (SELECT DISTINCT x.snapshot_table AS r
                   FROM esi.targets x JOIN pg_class c ON c.oid = x.snapshot_table
                 UNION SELECT 'esi.asset_diffs'::regclass
                 UNION SELECT 'esi.names'::regclass) s
   ORDER BY r::text
$$;

-- Create the publication (default esi_fdw) or extend it: every snapshot
-- table of esi.targets (a history table as its root:
-- publish_via_partition_root, so that a day's new partition needs nothing
-- on either side), esi.asset_diffs and esi.names (the BI views' names).
-- Returns the tables it publishes.  Run it again after esi.track() of a
-- new target (then ALTER SUBSCRIPTION ... REFRESH PUBLICATION on the
-- subscriber).  Needs the rights CREATE PUBLICATION needs (a superuser, or
-- CREATE on the database and ownership of the tables).
CREATE OR REPLACE FUNCTION publish(publication name DEFAULT 'esi_fdw')
RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
BEGIN
  IF publication IS NULL THEN
    RAISE EXCEPTION 'no publication name given' USING ERRCODE = '22004';
  END IF;
  -- tables of targets tracked before 0.8.0 that the update could not reach
  PERFORM esi._key_latest_tables(false);
  IF NOT EXISTS (SELECT FROM pg_publication p WHERE p.pubname = publication) THEN
    EXECUTE format('CREATE PUBLICATION %I WITH (publish_via_partition_root = true)', publication);
  ELSIF NOT (SELECT p.pubviaroot FROM pg_publication p WHERE p.pubname = publication) THEN
    EXECUTE format('ALTER PUBLICATION %I SET (publish_via_partition_root = true)', publication);
  END IF;
  FOR rel IN SELECT r FROM esi._replicated_tables() r LOOP
    -- pg_publication_tables: also a table that FOR ALL TABLES or TABLES IN
    -- SCHEMA publishes (by its root)
    IF NOT EXISTS (SELECT FROM pg_publication_tables pt
                    WHERE pt.pubname = publication
                      AND format('%I.%I', pt.schemaname, pt.tablename)::regclass = rel) THEN
      EXECUTE format('ALTER PUBLICATION %I ADD TABLE %s', publication, rel);
    END IF;
    RETURN NEXT rel;
  END LOOP;
END;
$$;
COMMENT ON FUNCTION publish(name) IS 'Create or extend a publication (default esi_fdw) of every snapshot table, esi.asset_diffs and esi.names for logical replication (publish_via_partition_root); returns the tables';

-- On a logical subscriber, after its snapshot tables were made by the same
-- esi.track() (or esi.bi_setup()) calls as on the publisher: background
-- refresh is turned off for each target (this node never reads ESI), and
-- each latest table its key as esi.publish() gives it on the publisher,
-- each history table gets a DEFAULT partition <table>_default, which holds
-- the rows of every day (the publisher's refreshes make the daily
-- partitions there, not here).  Refuses a database whose tables already
-- hold rows (the subscription copies them: its first copy would fail on
-- them, and the publisher is no place for this).  Returns the tables the
-- subscription fills.
CREATE OR REPLACE FUNCTION prepare_subscriber()
RETURNS SETOF regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
  nonempty boolean;
  nsp text;
  rname text;
BEGIN
  FOR rel IN SELECT r FROM esi._replicated_tables() r LOOP
    EXECUTE format('SELECT EXISTS (SELECT FROM %s)', rel) INTO nonempty;
    IF nonempty THEN
      RAISE EXCEPTION '% is not empty', rel USING ERRCODE = '55000',
        DETAIL = 'A subscriber''s snapshot tables, esi.asset_diffs and esi.names are filled by the subscription; its first copy fails on rows that are already there.',
        HINT = 'Run esi.prepare_subscriber() on the subscriber, never on the node that refreshes; on a subscriber, empty the table first (TRUNCATE).';
    END IF;
  END LOOP;
  UPDATE esi.targets x SET auto = false WHERE x.auto;
  -- the key esi.publish() gives the publisher's tables, so that their
  -- columns (snapshot_row) and replica identity match
  PERFORM esi._key_latest_tables(false);
  FOR rel IN SELECT r FROM esi._replicated_tables() r LOOP
    IF (SELECT c.relkind = 'p' FROM pg_class c WHERE c.oid = rel)
       AND NOT EXISTS (SELECT FROM pg_partitioned_table p WHERE p.partrelid = rel AND p.partdefid <> 0) THEN
      SELECT n.nspname, c.relname INTO nsp, rname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = rel;
      EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s DEFAULT', nsp, left(rname, 55) || '_default', rel);
    END IF;
    RETURN NEXT rel;
  END LOOP;
END;
$$;
COMMENT ON FUNCTION prepare_subscriber() IS 'On a logical subscriber of esi.publish(): background refresh off for every target, a DEFAULT partition for each history table; returns the tables the subscription fills';
