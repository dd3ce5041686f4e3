/* esi_fdw 0.4.0: EVE Online's ESI as foreign tables */

\echo Use "CREATE EXTENSION esi_fdw" to load this file. \quit

CREATE FUNCTION esi_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FUNCTION esi_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER esi_fdw
  HANDLER esi_fdw_handler
  VALIDATOR esi_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER esi_fdw IS 'EVE Online ESI (EVE Swagger Interface) as foreign tables';

-- The compiled catalog of ESI GET routes, one row per route: what
-- IMPORT FOREIGN SCHEMA creates, and which routes need an SSO scope.
CREATE FUNCTION catalog(
  OUT table_name text,
  OUT route text,
  OUT operation_id text,
  OUT groups text[],
  OUT scope text,
  OUT roles text[],
  OUT paging text,
  OUT shape text,
  OUT cache_seconds integer,
  OUT rate_group text,
  OUT rate_tokens integer,
  OUT compat_date text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_catalog'
LANGUAGE C STRICT STABLE;

-- 0.2.0: the cluster-wide response cache, ESI's limits and per-route
-- statistics (all kept in shared memory and, for the cache, in files under
-- the data directory: they work in read-only transactions and on a hot
-- standby).

-- What the cache holds: one row per stored reply (a page, or a 404/403
-- remembered for esi_fdw.negative_cache_ttl).
CREATE FUNCTION cache_contents(
  OUT route text,
  OUT url text,
  OUT status integer,
  OUT size bigint,
  OUT stored_at timestamptz,
  OUT expires timestamptz,
  OUT last_used timestamptz,
  OUT fresh boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_cache_entries'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW cache AS SELECT * FROM cache_contents();
COMMENT ON VIEW cache IS 'Replies in esi_fdw''s cluster-wide response cache';
-- its URLs name what was asked for: superusers and pg_read_all_stats only
REVOKE ALL ON FUNCTION cache_contents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cache_contents() TO pg_read_all_stats;
GRANT SELECT ON cache TO pg_read_all_stats;

-- Empty the cache; returns the entries removed.
CREATE FUNCTION cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_cache_clear'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION cache_clear() FROM PUBLIC;

-- Per route: requests sent, cache hits, 304s, errors by status, bytes and
-- time spent on ESI and waiting, since the server started.
CREATE FUNCTION route_statistics(
  OUT route text,
  OUT requests bigint,
  OUT cache_hits bigint,
  OUT not_modified bigint,
  OUT coalesced bigint,
  OUT errors jsonb,
  OUT bytes bigint,
  OUT esi_ms double precision,
  OUT limit_wait_ms double precision,
  OUT coalesce_wait_ms double precision)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_route_stats'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW route_stats AS SELECT * FROM route_statistics();
COMMENT ON VIEW route_stats IS 'esi_fdw''s requests to ESI per route, since the server started';
GRANT SELECT ON route_stats TO PUBLIC;

CREATE FUNCTION route_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_route_stats_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION route_stats_reset() FROM PUBLIC;

-- ESI's error limit and rate limits as the cluster last saw them.
CREATE FUNCTION limit_states(
  OUT base_url text,
  OUT kind text,
  OUT rate_group text,
  OUT token_limit text,
  OUT remaining integer,
  OUT used integer,
  OUT reset_at timestamptz,
  OUT blocked_until timestamptz,
  OUT updated_at timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_limits'
LANGUAGE C STRICT VOLATILE;

CREATE VIEW limits AS SELECT * FROM limit_states();
COMMENT ON VIEW limits IS 'ESI''s error limit and rate limits as esi_fdw last saw them';
GRANT SELECT ON limits TO PUBLIC;

-- Forget the limit states (ESI's next replies tell them again).
CREATE FUNCTION limits_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_limits_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION limits_reset() FROM PUBLIC;

-- 0.3.0: EVE SSO logins from SQL.  Tokens and secrets are stored sealed
-- (AES-256-GCM under the key in esi_fdw.key_file, outside the database);
-- the tables are granted to nobody and written through the functions
-- below (rotated refresh tokens by esi_fdw's token writer, a background
-- worker).  Row-level security shows each role its own characters.

CREATE TABLE sso_clients (
  server_name text PRIMARY KEY,
  secret bytea               -- sealed
);

CREATE TABLE sso_logins (
  state text PRIMARY KEY,
  server_name text NOT NULL,
  role oid NOT NULL,
  scopes text[] NOT NULL,
  verifier bytea NOT NULL,   -- sealed PKCE verifier
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sso_characters (
  server_name text NOT NULL,
  character_id bigint NOT NULL,
  name text NOT NULL,
  owner_hash text NOT NULL,
  scopes text[] NOT NULL,
  owner_role oid NOT NULL,
  refresh_token bytea,       -- sealed; NULL for a login without scopes
  needs_login boolean NOT NULL DEFAULT false,
  reason text,
  logged_in_at timestamptz NOT NULL,
  refreshed_at timestamptz NOT NULL,
  PRIMARY KEY (server_name, character_id)
);

CREATE TABLE sso_character_grants (
  server_name text NOT NULL,
  character_id bigint NOT NULL,
  grantee oid NOT NULL,
  PRIMARY KEY (server_name, character_id, grantee),
  FOREIGN KEY (server_name, character_id) REFERENCES sso_characters ON DELETE CASCADE
);

REVOKE ALL ON sso_clients, sso_logins, sso_characters, sso_character_grants FROM PUBLIC;
ALTER TABLE sso_characters ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_character_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_logins ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_or_granted ON sso_characters
  USING (pg_has_role(owner_role, 'MEMBER')
         OR EXISTS (SELECT FROM sso_character_grants g
                     WHERE g.server_name = sso_characters.server_name
                       AND g.character_id = sso_characters.character_id
                       AND pg_has_role(g.grantee, 'MEMBER')));
CREATE POLICY own ON sso_character_grants USING (pg_has_role(grantee, 'MEMBER'));
CREATE POLICY own ON sso_logins USING (pg_has_role(role, 'MEMBER'));
-- dumped with the database (ciphertext only)
SELECT pg_catalog.pg_extension_config_dump('sso_clients', '');
SELECT pg_catalog.pg_extension_config_dump('sso_characters', '');
SELECT pg_catalog.pg_extension_config_dump('sso_character_grants', '');

-- the characters the current role may use: its own and those granted to it
CREATE VIEW characters WITH (security_barrier) AS
  SELECT c.server_name, c.character_id, c.name, c.scopes,
         c.owner_role::regrole AS owner, c.needs_login, c.reason,
         c.logged_in_at, c.refreshed_at
    FROM sso_characters c
   WHERE pg_has_role(c.owner_role, 'MEMBER')
      OR EXISTS (SELECT FROM sso_character_grants g
                  WHERE g.server_name = c.server_name AND g.character_id = c.character_id
                    AND pg_has_role(g.grantee, 'MEMBER'))
      OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user);
GRANT SELECT ON characters TO PUBLIC;

-- Start a login: returns the URL to open in a browser.
CREATE FUNCTION login(server text, scopes text[])
RETURNS text
AS 'MODULE_PATHNAME', 'esi_login'
LANGUAGE C STRICT VOLATILE;

-- Finish it with the address the browser landed on (code and state).
CREATE FUNCTION login_callback(callback text,
  OUT character_id bigint, OUT name text, OUT scopes text[])
AS 'MODULE_PATHNAME', 'esi_login_callback'
LANGUAGE C STRICT VOLATILE;

-- Revoke the character's refresh token at SSO and forget it.
CREATE FUNCTION logout(server text, character_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_logout'
LANGUAGE C STRICT VOLATILE;

-- Let another role use (read through the foreign tables) a character.
CREATE FUNCTION grant_character(server text, character_id bigint, grantee regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_grant_character'
LANGUAGE C STRICT VOLATILE;

CREATE FUNCTION revoke_character(server text, character_id bigint, grantee regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_revoke_character'
LANGUAGE C STRICT VOLATILE;

-- A confidential application's client secret (the server's owner; NULL removes it).
CREATE FUNCTION set_client_secret(server text, secret text)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_set_client_secret'
LANGUAGE C VOLATILE;

-- Seal every token and secret again under a new key (superuser).
CREATE FUNCTION rekey()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_rekey'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION rekey() FROM PUBLIC;

-- 0.4.0: snapshots kept inside the database.  esi.track() declares a
-- target (a foreign table read with fixed parameter values, its snapshot
-- table and mode); CALL esi.refresh(target) reads ESI into a staging table,
-- then makes the new snapshot visible in one short transaction.  The
-- tables below are the owner's (a superuser's) unless granted.

CREATE SCHEMA esi_snapshots;
COMMENT ON SCHEMA esi_snapshots IS 'esi_fdw''s snapshot tables (esi.track() creates them here by default)';

CREATE TABLE targets (
  target text PRIMARY KEY,
  foreign_table regclass NOT NULL,
  params jsonb NOT NULL DEFAULT '{}',
  mode text NOT NULL CHECK (mode IN ('latest', 'history', 'incremental')),
  key text[],
  snapshot_table regclass NOT NULL,
  owner_column text,          -- assets tables in history mode: diffs per owner
  history_retention interval NOT NULL DEFAULT '30 days',
  log_retention integer NOT NULL DEFAULT 100 CHECK (log_retention > 0),
  created_at timestamptz NOT NULL DEFAULT now(),
  last_snapshot_at timestamptz,
  last_rows bigint,
  last_error text,
  CHECK (mode <> 'incremental' OR cardinality(key) > 0)
);
COMMENT ON TABLE targets IS 'What esi.refresh() keeps: one row per target declared by esi.track()';
COMMENT ON COLUMN targets.history_retention IS 'history mode: daily partitions older than this are dropped by a refresh';
COMMENT ON COLUMN targets.log_retention IS 'refreshes kept in esi.refresh_log for this target';
SELECT pg_catalog.pg_extension_config_dump('targets', '');

CREATE TABLE refresh_log (
  id bigserial PRIMARY KEY,
  target text NOT NULL,
  started timestamptz NOT NULL,
  finished timestamptz,
  rows bigint,
  rows_added bigint,
  outcome text CHECK (outcome IN ('running', 'ok', 'error')),
  error text
);
CREATE INDEX ON refresh_log (target, id);
COMMENT ON TABLE refresh_log IS 'One row per esi.refresh(): start, end, rows read and added, outcome and error (the last targets.log_retention per target)';

CREATE TABLE asset_diffs (
  target text NOT NULL,
  owner_id bigint NOT NULL,
  item_id bigint NOT NULL,
  type_id bigint,
  change text NOT NULL CHECK (change IN ('ADDED', 'REMOVED', 'QUANTITY_CHANGED', 'LOCATION_CHANGED')),
  old_quantity bigint,
  new_quantity bigint,
  old_location_id bigint,
  new_location_id bigint,
  old_location_flag text,
  new_location_flag text,
  old_snapshot_at timestamptz NOT NULL,
  new_snapshot_at timestamptz NOT NULL
);
CREATE INDEX ON asset_diffs (target, new_snapshot_at);
CREATE INDEX ON asset_diffs (owner_id, new_snapshot_at);
CREATE INDEX ON asset_diffs (type_id);
CREATE INDEX ON asset_diffs (new_location_id);
COMMENT ON TABLE asset_diffs IS 'Per item, what changed between two consecutive asset snapshots of a history target (both sides'' values in every row)';
SELECT pg_catalog.pg_extension_config_dump('asset_diffs', '');

-- Net quantity per owner, location and type between consecutive snapshots:
-- each changed item takes its old quantity from its old location and puts
-- its new one at its new location, so stacking, splitting and moves net out.
CREATE VIEW asset_changes_rollup AS
  SELECT target, owner_id, location_id, type_id, old_snapshot_at, new_snapshot_at,
         sum(delta)::bigint AS net_quantity
    FROM (SELECT DISTINCT ON (target, owner_id, item_id, new_snapshot_at)
                 target, owner_id, item_id, type_id, old_snapshot_at, new_snapshot_at,
                 old_location_id, new_location_id, old_quantity, new_quantity
            FROM asset_diffs
           ORDER BY target, owner_id, item_id, new_snapshot_at) d,
         LATERAL (VALUES (d.old_location_id, -d.old_quantity),
                         (d.new_location_id, d.new_quantity)) AS v(location_id, delta)
   WHERE v.delta IS NOT NULL
   GROUP BY target, owner_id, location_id, type_id, old_snapshot_at, new_snapshot_at
  HAVING sum(delta) <> 0;
COMMENT ON VIEW asset_changes_rollup IS 'Net asset quantity changes per owner, location and type between consecutive snapshots (non-zero only)';

-- the WHERE clause that reads a target's foreign table with its params: a
-- scalar is col = value, an array col IN (values)
CREATE FUNCTION _target_where(foreign_table regclass, params jsonb)
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
        conds := conds || 'false';
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

-- Declare a target and create its snapshot table.
CREATE FUNCTION track(target text, foreign_table regclass, params jsonb DEFAULT '{}',
                      mode text DEFAULT 'latest', key text[] DEFAULT NULL,
                      snapshot_table text DEFAULT NULL)
RETURNS regclass
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  tbl text;
  rel regclass;
  cols text[];
  owner_col text;
  k text;
BEGIN
  IF target IS NULL OR target = '' THEN
    RAISE EXCEPTION 'a target needs a name' USING ERRCODE = '22023';
  END IF;
  IF mode IS NULL OR mode NOT IN ('latest', 'history', 'incremental') THEN
    RAISE EXCEPTION 'invalid mode "%"', mode USING ERRCODE = '22023',
      HINT = 'The modes are latest, history and incremental.';
  END IF;
  IF (SELECT c.relkind FROM pg_class c WHERE c.oid = foreign_table) <> 'f' THEN
    RAISE EXCEPTION '% is not a foreign table', foreign_table USING ERRCODE = '42809';
  END IF;
  IF EXISTS (SELECT FROM esi.targets t WHERE t.target = track.target) THEN
    RAISE EXCEPTION 'target "%" already exists', target USING ERRCODE = '42710',
      HINT = 'esi.untrack() removes it.';
  END IF;
  PERFORM esi._target_where(foreign_table, coalesce(params, '{}'));
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
  tbl := coalesce(snapshot_table, format('esi_snapshots.%I', target));
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
  IF mode = 'history' AND cols @> ARRAY['item_id', 'type_id', 'quantity', 'location_id', 'location_flag'] THEN
    owner_col := CASE WHEN 'character_id' = ANY (cols) THEN 'character_id'
                      WHEN 'corporation_id' = ANY (cols) THEN 'corporation_id' END;
  END IF;
  INSERT INTO esi.targets (target, foreign_table, params, mode, key, snapshot_table, owner_column)
  VALUES (target, foreign_table, coalesce(params, '{}'), mode, key, rel, owner_col);
  RETURN rel;
END;
$$;

-- Forget a target (its log and diffs too); drop_table drops its snapshot table.
CREATE FUNCTION untrack(target text, drop_table boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  rel regclass;
BEGIN
  DELETE FROM esi.targets t WHERE t.target = untrack.target RETURNING t.snapshot_table INTO rel;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704';
  END IF;
  DELETE FROM esi.refresh_log l WHERE l.target = untrack.target;
  DELETE FROM esi.asset_diffs d WHERE d.target = untrack.target;
  IF drop_table THEN
    EXECUTE format('DROP TABLE %s', rel);
  END IF;
END;
$$;

-- history mode: the day's partition (created and attached, which does not
-- block readers of the parent) and the retention (dropping old partitions
-- does, briefly)
CREATE FUNCTION _history_partitions(parent regclass, snap_at timestamptz, retention interval)
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
    EXECUTE format('CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part, parent);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', parent, part,
                   day::text || ' 00:00:00+00', (day + 1)::text || ' 00:00:00+00');
  END IF;
  FOR child IN
    SELECT i.inhrelid::regclass AS rel, c.relname
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = parent AND c.relname ~ '_p[0-9]{8}$'
  LOOP
    cday := to_date(right(child.relname, 8), 'YYYYMMDD');
    IF (cday + 1)::timestamp AT TIME ZONE 'UTC' <= snap_at - retention THEN
      EXECUTE format('DROP TABLE %s', child.rel);
    END IF;
  END LOOP;
END;
$$;

-- asset diffs between the snapshot at new_at and the one before it
CREATE FUNCTION _asset_diffs(target text, snap regclass, owner_column text, new_at timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  old_at timestamptz;
  n bigint;
BEGIN
  EXECUTE format('SELECT max(snapshot_at) FROM %s WHERE snapshot_at < $1', snap)
    INTO old_at USING new_at;
  IF old_at IS NULL THEN
    RETURN 0;                 -- the first snapshot: nothing to compare with
  END IF;
  EXECUTE format($q$
    INSERT INTO esi.asset_diffs
    SELECT $1, coalesce(n.%1$I, o.%1$I), coalesce(n.item_id, o.item_id), coalesce(n.type_id, o.type_id),
           k.change, o.quantity, n.quantity, o.location_id, n.location_id,
           o.location_flag, n.location_flag, $2, $3
      FROM (SELECT * FROM %2$s WHERE snapshot_at = $2) o
      FULL JOIN (SELECT * FROM %2$s WHERE snapshot_at = $3) n
        ON n.%1$I = o.%1$I AND n.item_id = o.item_id,
      LATERAL (VALUES
        (CASE WHEN o.item_id IS NULL THEN 'ADDED' WHEN n.item_id IS NULL THEN 'REMOVED' END),
        (CASE WHEN o.item_id IS NOT NULL AND n.item_id IS NOT NULL
               AND o.quantity IS DISTINCT FROM n.quantity THEN 'QUANTITY_CHANGED' END),
        (CASE WHEN o.item_id IS NOT NULL AND n.item_id IS NOT NULL
               AND (o.location_id IS DISTINCT FROM n.location_id
                    OR o.location_flag IS DISTINCT FROM n.location_flag) THEN 'LOCATION_CHANGED' END)
      ) AS k(change)
     WHERE k.change IS NOT NULL$q$, owner_column, snap)
    USING target, old_at, new_at;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('esi_asset_diffs', json_build_object('target', target,
      'old_snapshot_at', old_at, 'snapshot_at', new_at, 'diffs', n)::text);
  END IF;
  RETURN n;
END;
$$;

-- Refresh one target.  A procedure, so that it commits between its steps:
-- ESI is read into a temporary table in a transaction that holds no lock
-- on the snapshot table blocking a SELECT; the new snapshot then replaces
-- (latest), joins (history) or extends (incremental) the old one in one
-- short transaction.  Not SECURITY DEFINER (transaction control forbids
-- it): it reads the foreign table with the caller's rights and tokens.
CREATE PROCEDURE refresh(target text)
LANGUAGE plpgsql
AS $$
DECLARE
  t record;
  cols text;
  log_id bigint;
  snap_at timestamptz := pg_catalog.clock_timestamp();
  nrows bigint;
  nadded bigint;
  err text;
  err_state text;
  err_detail text;
BEGIN
  IF target IS NULL THEN
    RAISE EXCEPTION 'no target given' USING ERRCODE = '22004';
  END IF;
  -- fails at once inside a transaction block, before anything is taken
  COMMIT;
  SELECT * INTO t FROM esi.targets x WHERE x.target = refresh.target;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no target "%"', target USING ERRCODE = '42704',
      HINT = 'esi.track() declares one.';
  END IF;
  -- one refresh of a target at a time (a session lock: it outlives the commits)
  IF NOT pg_catalog.pg_try_advisory_lock(pg_catalog.hashtext('esi.refresh'), pg_catalog.hashtext(target)) THEN
    RAISE EXCEPTION 'target "%" is being refreshed by another session', target
      USING ERRCODE = '55P03';
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = t.foreign_table AND a.attnum > 0 AND NOT a.attisdropped;
  INSERT INTO esi.refresh_log (target, started, outcome) VALUES (target, snap_at, 'running')
    RETURNING id INTO log_id;
  COMMIT;

  -- 1. ESI into the staging table
  BEGIN
    IF pg_catalog.to_regclass('pg_temp.esi_refresh_stage') IS NOT NULL THEN
      DROP TABLE pg_temp.esi_refresh_stage;
    END IF;
    EXECUTE pg_catalog.format('CREATE TEMP TABLE esi_refresh_stage AS SELECT %s, %L::timestamptz AS snapshot_at FROM %s WHERE %s',
                              cols, snap_at, t.foreign_table, esi._target_where(t.foreign_table, t.params));
    GET DIAGNOSTICS nrows = ROW_COUNT;
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    -- also a statement_timeout or a cancel: logged, then raised below
    GET STACKED DIAGNOSTICS err = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE, err_detail = PG_EXCEPTION_DETAIL;
  END;
  IF err IS NULL THEN
    COMMIT;
    -- 2. the new snapshot, visible at once
    BEGIN
      IF t.mode = 'latest' THEN
        EXECUTE pg_catalog.format('DELETE FROM %s', t.snapshot_table);
      ELSIF t.mode = 'history' THEN
        PERFORM esi._history_partitions(t.snapshot_table, snap_at, t.history_retention);
      END IF;
      EXECUTE pg_catalog.format('INSERT INTO %s (%s, snapshot_at) SELECT %s, snapshot_at FROM pg_temp.esi_refresh_stage%s',
                                t.snapshot_table, cols, cols,
                                CASE WHEN t.mode = 'incremental' THEN ' ON CONFLICT DO NOTHING' ELSE '' END);
      GET DIAGNOSTICS nadded = ROW_COUNT;
      IF t.owner_column IS NOT NULL THEN
        PERFORM esi._asset_diffs(target, t.snapshot_table, t.owner_column, snap_at);
      END IF;
      UPDATE esi.refresh_log SET finished = pg_catalog.clock_timestamp(), rows = nrows,
             rows_added = nadded, outcome = 'ok' WHERE id = log_id;
      UPDATE esi.targets x SET last_snapshot_at = snap_at, last_rows = nrows, last_error = NULL
       WHERE x.target = refresh.target;
      PERFORM pg_catalog.pg_notify('esi_refresh', pg_catalog.json_build_object('target', target,
        'snapshot_at', snap_at, 'rows', nrows)::text);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS err = MESSAGE_TEXT, err_state = RETURNED_SQLSTATE, err_detail = PG_EXCEPTION_DETAIL;
    END;
  END IF;
  IF pg_catalog.to_regclass('pg_temp.esi_refresh_stage') IS NOT NULL THEN
    DROP TABLE pg_temp.esi_refresh_stage;
  END IF;
  IF err IS NOT NULL THEN
    UPDATE esi.refresh_log SET finished = pg_catalog.clock_timestamp(), outcome = 'error', error = err
     WHERE id = log_id;
    UPDATE esi.targets x SET last_error = err WHERE x.target = refresh.target;
  END IF;
  -- bounded log: the last log_retention refreshes of the target
  DELETE FROM esi.refresh_log l
   WHERE l.target = refresh.target
     AND l.id <= (SELECT l2.id FROM esi.refresh_log l2 WHERE l2.target = refresh.target
                   ORDER BY l2.id DESC OFFSET t.log_retention LIMIT 1);
  COMMIT;
  PERFORM pg_catalog.pg_advisory_unlock(pg_catalog.hashtext('esi.refresh'), pg_catalog.hashtext(target));
  IF err IS NOT NULL THEN
    RAISE EXCEPTION 'refresh of target "%" failed: %', target, err
      USING ERRCODE = err_state, DETAIL = coalesce(err_detail, ''),
            HINT = 'The previous snapshot is unchanged; the error is in esi.refresh_log.';
  END IF;
END;
$$;

-- pg_cron: a target refreshed at fixed times (market history after ESI's
-- daily expiry, say).  Needs pg_cron in this database; nothing else in
-- esi_fdw does.
CREATE FUNCTION schedule(target text, cron text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  job bigint;
BEGIN
  IF NOT EXISTS (SELECT FROM esi.targets t WHERE t.target = schedule.target) THEN
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
  RETURN job;
END $$;
COMMENT ON FUNCTION schedule(text, text) IS 'Refresh an esi_fdw target with pg_cron on a cron schedule (the job is named "esi_fdw refresh <target>"); returns the job id';

CREATE FUNCTION unschedule(target text)
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
