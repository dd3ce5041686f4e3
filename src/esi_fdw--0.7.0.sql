-- esi_fdw 0.7.0: EVE Online's ESI as foreign tables
-- Built by src/sql/build.sh from src/sql/pre_install.sql, the sources
-- src/sql/{fdw,cache,sso,snapshots,asset_diffs,names,bi,calls}.sql and src/sql/post_install.sql:
-- edit those, never this file.

\echo Use "CREATE EXTENSION esi_fdw" to load this file. \quit

-- ==== src/sql/pre_install.sql ====
-- esi_fdw: the objects that cannot be replaced (schemas, tables, columns,
-- indexes, constraints, row-level security, privileges on tables), in
-- their current shape.  Run first by the install script only
-- (esi_fdw--<current>.sql, made by src/sql/build.sh); a database created
-- at an older version gets the same through the update steps in
-- src/sql/updates/.  A change here needs the same change as an update step
-- (test/t/046_upgrade.sh compares the two).  The functions and views
-- follow, from the subsystem files; policies, triggers and the FDW itself,
-- which need them, are in post_install.sql.

-- == sso: EVE SSO logins from SQL ==
-- Tokens and secrets are stored sealed (AES-256-GCM under the key in
-- esi_fdw.key_file, outside the database); the tables are written through
-- the functions of sso.sql (rotated refresh tokens by esi_fdw's token
-- writer, a background worker).  Row-level security shows each role its
-- own rows.

CREATE TABLE sso_clients (
  server_name text PRIMARY KEY,
  secret bytea               -- sealed
);
CREATE TABLE sso_logins (
  state text PRIMARY KEY,
  server_name text NOT NULL,
  role regrole NOT NULL,
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
  owner_role regrole NOT NULL,
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
  grantee regrole NOT NULL,
  PRIMARY KEY (server_name, character_id, grantee),
  FOREIGN KEY (server_name, character_id) REFERENCES sso_characters ON DELETE CASCADE
);
REVOKE ALL ON sso_clients, sso_logins, sso_characters, sso_character_grants FROM PUBLIC;
-- readable by every role (BI tools browse them); the policies show a role
-- its own rows, and the tables hold ciphertext
GRANT SELECT ON sso_clients, sso_logins, sso_characters, sso_character_grants TO PUBLIC;
ALTER TABLE sso_characters ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_character_grants ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_logins ENABLE ROW LEVEL SECURITY;
ALTER TABLE sso_clients ENABLE ROW LEVEL SECURITY;
-- dumped with the database (ciphertext only)
SELECT pg_catalog.pg_extension_config_dump('sso_clients', '');
SELECT pg_catalog.pg_extension_config_dump('sso_characters', '');
SELECT pg_catalog.pg_extension_config_dump('sso_character_grants', '');

-- == snapshots ==
-- esi.track() declares a target (a foreign table read with fixed parameter
-- values, its snapshot table and mode); CALL esi.refresh(target) and the
-- background workers keep its snapshot.  The tables are the owner's (a
-- superuser's); row-level security shows a target, its log and its diffs
-- to the roles that may read its snapshot table.

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
  auto boolean NOT NULL DEFAULT true,
  next_refresh_at timestamptz,
  failures integer NOT NULL DEFAULT 0,
  paused_at timestamptz,
  group_name text,
  refresh_role regrole NOT NULL DEFAULT current_user::regrole,
  data_expires_at timestamptz,
  failure_announced_at timestamptz,
  CHECK (mode <> 'incremental' OR cardinality(key) > 0)
);
CREATE INDEX ON targets (group_name);
COMMENT ON TABLE targets IS 'What esi.refresh() keeps: one row per target declared by esi.track()';
COMMENT ON COLUMN targets.history_retention IS 'history mode: daily partitions older than this are dropped by a refresh';
COMMENT ON COLUMN targets.log_retention IS 'refreshes kept in esi.refresh_log for this target';
COMMENT ON COLUMN targets.auto IS 'whether background workers refresh the target (esi.set_auto())';
COMMENT ON COLUMN targets.next_refresh_at IS 'when background workers refresh it next: the expiry of the ESI data it read plus a jitter, or a back-off after failures; NULL: as soon as possible';
COMMENT ON COLUMN targets.failures IS 'refreshes that failed in a row';
COMMENT ON COLUMN targets.paused_at IS 'set when a refresh failed because a character needs a new login; background refresh resumes when one logs in';
COMMENT ON COLUMN targets.group_name IS 'the esi.track(..., each => ...) call that made the target: one target per value, one shared snapshot table';
COMMENT ON COLUMN targets.data_expires_at IS 'the earliest expiry of the ESI replies the last successful refresh read (NULL: none said, or no successful refresh yet)';
COMMENT ON COLUMN targets.failure_announced_at IS 'when the failures in a row reached esi_fdw.refresh_alert_failures and were announced (NOTIFY esi_refresh_failing, a WARNING); cleared by a successful refresh';
COMMENT ON COLUMN targets.refresh_role IS 'the role background workers read ESI as (its characters and tokens): the role that called esi.track(); only its members may set it';
SELECT pg_catalog.pg_extension_config_dump('targets', '');

CREATE TABLE refresh_log (
  id bigserial PRIMARY KEY,
  target text NOT NULL,
  started timestamptz NOT NULL,
  finished timestamptz,
  rows bigint,
  rows_added bigint,
  outcome text CHECK (outcome IN ('running', 'ok', 'error')),
  error text,
  requests bigint,
  expires timestamptz
);
CREATE INDEX ON refresh_log (target, id);
COMMENT ON TABLE refresh_log IS 'One row per esi.refresh(): start, end, rows read and added, outcome and error (the last targets.log_retention per target)';
COMMENT ON COLUMN refresh_log.requests IS 'HTTP requests the refresh sent to ESI (pages the cache served are not requests)';
COMMENT ON COLUMN refresh_log.expires IS 'the earliest expiry of the ESI replies the refresh read';

-- == asset diffs ==
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

GRANT SELECT ON targets, refresh_log, asset_diffs TO PUBLIC;
ALTER TABLE targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE refresh_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE asset_diffs ENABLE ROW LEVEL SECURITY;

-- == names ==
-- Every id ESI named, so that views join ids to names without asking ESI
-- again (filled by esi.names_of()).
CREATE TABLE names (
  id bigint PRIMARY KEY,
  name text NOT NULL,
  category text NOT NULL,
  fetched_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE names IS 'Names of EVE ids as ESI gave them (POST /universe/names, /universe/ids); filled by the name lookups';
GRANT SELECT ON names TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('names', '');

-- == BI tools ==
-- Every table and view of esi_fdw can be read by every role: a BI tool that
-- browses a database (its metadata, then SELECT ... LIMIT 0 on each table
-- and view) meets no permission error.  What is private stays private by
-- row-level security: a role sees its own rows, or none.
GRANT USAGE ON SCHEMA esi TO PUBLIC;
-- the snapshot tables stay their owner's unless granted (esi.bi_setup grants its own)
GRANT USAGE ON SCHEMA esi_snapshots TO PUBLIC;

-- ==== src/sql/fdw.sql ====
-- esi_fdw: the foreign data wrapper's functions and the route catalog
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

CREATE OR REPLACE FUNCTION esi_fdw_handler()
RETURNS fdw_handler
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

CREATE OR REPLACE FUNCTION esi_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME'
LANGUAGE C STRICT;

-- The compiled catalog of ESI routes, one row per route: what IMPORT FOREIGN
-- SCHEMA creates, which routes need an SSO scope, and the functions of the
-- routes that are not GET (table_name is then the function's name).
CREATE OR REPLACE FUNCTION catalog(
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
  OUT compat_date text,
  OUT method text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'esi_catalog'
LANGUAGE C STRICT STABLE;

-- ==== src/sql/cache.sql ====
-- esi_fdw: the cluster-wide response cache, ESI's limits and per-route statistics
-- (shared memory and, for the cache, files under the data directory: they
-- work in read-only transactions and on a hot standby)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

-- What the cache holds: one row per stored reply (a page, or a 404/403
-- remembered for esi_fdw.negative_cache_ttl).
CREATE OR REPLACE FUNCTION cache_contents(
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
-- its URLs name what was asked for: superusers and pg_read_all_stats only
REVOKE ALL ON FUNCTION cache_contents() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION cache_contents() TO pg_read_all_stats;
-- the cache's rows are shown to members of pg_read_all_stats only
-- (cache_contents() returns none to anyone else)
GRANT EXECUTE ON FUNCTION cache_contents() TO PUBLIC;

CREATE OR REPLACE VIEW cache AS SELECT * FROM cache_contents();
COMMENT ON VIEW cache IS 'Replies in esi_fdw''s cluster-wide response cache';
GRANT SELECT ON cache TO pg_read_all_stats;
GRANT SELECT ON cache TO PUBLIC;

-- Empty the cache; returns the entries removed.
CREATE OR REPLACE FUNCTION cache_clear()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_cache_clear'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION cache_clear() FROM PUBLIC;

-- Per route: requests sent, cache hits, 304s, errors by status, bytes and
-- time spent on ESI and waiting, since the server started.
CREATE OR REPLACE FUNCTION route_statistics(
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

CREATE OR REPLACE VIEW route_stats AS SELECT * FROM route_statistics();
COMMENT ON VIEW route_stats IS 'esi_fdw''s requests to ESI per route, since the server started';
GRANT SELECT ON route_stats TO PUBLIC;

CREATE OR REPLACE FUNCTION route_stats_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_route_stats_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION route_stats_reset() FROM PUBLIC;

-- ESI's error limit and rate limits as the cluster last saw them.
CREATE OR REPLACE FUNCTION limit_states(
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

CREATE OR REPLACE VIEW limits AS SELECT * FROM limit_states();
COMMENT ON VIEW limits IS 'ESI''s error limit and rate limits as esi_fdw last saw them';
GRANT SELECT ON limits TO PUBLIC;

-- Forget the limit states (ESI's next replies tell them again).
CREATE OR REPLACE FUNCTION limits_reset()
RETURNS void
AS 'MODULE_PATHNAME', 'esi_limits_reset'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION limits_reset() FROM PUBLIC;

-- ==== src/sql/sso.sql ====
-- esi_fdw: EVE SSO logins from SQL, characters and grants (the token tables are
-- in pre_install.sql)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

-- the characters the current role may use: its own and those granted to it
-- (a superuser: all)
CREATE OR REPLACE VIEW characters WITH (security_barrier) AS
  SELECT c.server_name, c.character_id, c.name, c.scopes,
         c.owner_role AS owner, c.needs_login, c.reason,
         c.logged_in_at, c.refreshed_at
    FROM esi.sso_characters c
   WHERE pg_catalog.pg_has_role(c.owner_role, 'MEMBER')
      OR EXISTS (SELECT FROM esi.sso_character_grants g
                  WHERE g.server_name OPERATOR(pg_catalog.=) c.server_name
                    AND g.character_id OPERATOR(pg_catalog.=) c.character_id
                    AND pg_catalog.pg_has_role(g.grantee, 'MEMBER'))
      OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) current_user);
GRANT SELECT ON characters TO PUBLIC;

-- An owner lists the grants of its characters (the table's row-level
-- security shows a grantee its own grants only): the grants of characters
-- the reading role owns or was granted, read with the view owner's rights.
CREATE OR REPLACE VIEW character_grants WITH (security_barrier = true) AS
  SELECT g.server_name, g.character_id, c.name AS character_name,
         c.owner_role::regrole AS owner, g.grantee::regrole AS grantee
    FROM esi.sso_character_grants g
    JOIN esi.sso_characters c ON c.server_name = g.server_name AND c.character_id = g.character_id
   WHERE pg_catalog.pg_has_role(c.owner_role, 'MEMBER') OR pg_catalog.pg_has_role(g.grantee, 'MEMBER');
COMMENT ON VIEW character_grants IS 'The grants (esi.grant_character) of the characters the role owns, and those made to it';
GRANT SELECT ON character_grants TO PUBLIC;

-- Start a login: returns the URL to open in a browser.
CREATE OR REPLACE FUNCTION login(server text, scopes text[])
RETURNS text
AS 'MODULE_PATHNAME', 'esi_login'
LANGUAGE C STRICT VOLATILE;

-- Finish it with the address the browser landed on (code and state).
CREATE OR REPLACE FUNCTION login_callback(callback text,
  OUT character_id bigint, OUT name text, OUT scopes text[])
AS 'MODULE_PATHNAME', 'esi_login_callback'
LANGUAGE C STRICT VOLATILE;

-- Revoke the character's refresh token at SSO and forget it.
CREATE OR REPLACE FUNCTION logout(server text, character_id bigint)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_logout'
LANGUAGE C STRICT VOLATILE;

-- Let another role use (read through the foreign tables) a character.
CREATE OR REPLACE FUNCTION grant_character(server text, character_id bigint, grantee regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_grant_character'
LANGUAGE C STRICT VOLATILE;

CREATE OR REPLACE FUNCTION revoke_character(server text, character_id bigint, grantee regrole)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_revoke_character'
LANGUAGE C STRICT VOLATILE;

-- A confidential application's client secret (the server's owner; NULL removes it).
CREATE OR REPLACE FUNCTION set_client_secret(server text, secret text)
RETURNS void
AS 'MODULE_PATHNAME', 'esi_set_client_secret'
LANGUAGE C VOLATILE;

-- Seal every token and secret again under a new key (superuser).
CREATE OR REPLACE FUNCTION rekey()
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_rekey'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION rekey() FROM PUBLIC;

-- A change of a character's owner drops its grants (the previous owner's
-- grantees would read the new owner's data).
CREATE OR REPLACE FUNCTION _character_owner_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM esi.sso_character_grants g
   WHERE g.server_name OPERATOR(pg_catalog.=) NEW.server_name
     AND g.character_id OPERATOR(pg_catalog.=) NEW.character_id;
  RETURN NULL;
END;
$$;

-- ==== src/sql/snapshots.sql ====
-- esi_fdw: snapshots: targets (esi.track), the refresh and its steps, background
-- refresh, pg_cron schedules, snapshot partitions, bulk load
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

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

-- a target refreshed by pg_cron is not also refreshed by background workers
CREATE OR REPLACE FUNCTION schedule(target text, cron text)
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
  UPDATE esi.targets t SET auto = false WHERE t.target = schedule.target;
  RETURN job;
END $$;
COMMENT ON FUNCTION schedule(text, text) IS 'Refresh an esi_fdw target with pg_cron on a cron schedule (the job is named "esi_fdw refresh <target>"; background refresh of the target is turned off); returns the job id';

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

-- ==== src/sql/asset_diffs.sql ====
-- esi_fdw: asset diffs: what changed between two snapshots of a history target
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

-- asset diffs between the snapshot at new_at and the one before it: the
-- full join keeps only the items that differ before each is turned into its
-- one to three change rows; a one-off statement is not worth JIT compiling.
-- cond: the rows of one target in a group's shared table.
CREATE OR REPLACE FUNCTION _asset_diffs(target text, snap regclass, owner_column text, new_at timestamptz,
                             cond text DEFAULT 'true')
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
DECLARE
  old_at timestamptz;
  n bigint;
BEGIN
  EXECUTE format('SELECT max(snapshot_at) FROM %s WHERE snapshot_at < $1 AND (%s)', snap, cond)
    INTO old_at USING new_at;
  IF old_at IS NULL THEN
    RETURN 0;                 -- the first snapshot: nothing to compare with
  END IF;
  -- OFFSET 0: the items that differ, computed before the LATERAL
  EXECUTE format($q$
    INSERT INTO esi.asset_diffs
    SELECT $1, coalesce(d.n_owner, d.o_owner), coalesce(d.n_item, d.o_item), coalesce(d.n_type, d.o_type),
           k.change, d.o_quantity, d.n_quantity, d.o_location_id, d.n_location_id,
           d.o_location_flag, d.n_location_flag, $2, $3
      FROM (SELECT o.%1$I AS o_owner, n.%1$I AS n_owner, o.item_id AS o_item, n.item_id AS n_item,
                   o.type_id AS o_type, n.type_id AS n_type, o.quantity AS o_quantity, n.quantity AS n_quantity,
                   o.location_id AS o_location_id, n.location_id AS n_location_id,
                   o.location_flag AS o_location_flag, n.location_flag AS n_location_flag
              FROM (SELECT * FROM %2$s WHERE snapshot_at = $2 AND (%3$s)) o
              FULL JOIN (SELECT * FROM %2$s WHERE snapshot_at = $3 AND (%3$s)) n
                ON n.%1$I = o.%1$I AND n.item_id = o.item_id
             WHERE o.item_id IS NULL OR n.item_id IS NULL
                OR o.quantity IS DISTINCT FROM n.quantity
                OR o.location_id IS DISTINCT FROM n.location_id
                OR o.location_flag IS DISTINCT FROM n.location_flag
            OFFSET 0) d,
      LATERAL (VALUES
        (CASE WHEN d.o_item IS NULL THEN 'ADDED' WHEN d.n_item IS NULL THEN 'REMOVED' END),
        (CASE WHEN d.o_item IS NOT NULL AND d.n_item IS NOT NULL
               AND d.o_quantity IS DISTINCT FROM d.n_quantity THEN 'QUANTITY_CHANGED' END),
        (CASE WHEN d.o_item IS NOT NULL AND d.n_item IS NOT NULL
               AND (d.o_location_id IS DISTINCT FROM d.n_location_id
                    OR d.o_location_flag IS DISTINCT FROM d.n_location_flag) THEN 'LOCATION_CHANGED' END)
      ) AS k(change)
     WHERE k.change IS NOT NULL$q$, owner_column, snap, cond)
    USING target, old_at, new_at;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('esi_asset_diffs', json_build_object('target', target,
      'old_snapshot_at', old_at, 'snapshot_at', new_at, 'diffs', n)::text);
  END IF;
  RETURN n;
END;
$$;

-- Net quantity per owner, location and type between consecutive snapshots:
-- each changed item takes its old quantity from its old location and puts
-- its new one at its new location, so stacking, splitting and moves net out.
-- Read with the reader's rights (security_invoker), so that asset_diffs'
-- policies apply.
CREATE OR REPLACE VIEW asset_changes_rollup WITH (security_invoker = true) AS
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
GRANT SELECT ON asset_changes_rollup TO PUBLIC;

-- ==== src/sql/names.sql ====
-- esi_fdw: names of EVE ids (esi.names)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

-- The names of ids: from esi.names first, asking the server (POST
-- /universe/names, batched) only for the ids it does not hold; in the order
-- of the input, each id once; ids ESI does not know are left out.
-- esi.names keeps only what ESI itself answered (esi_call: a server on ESI's
-- URL, esi_fdw.base_url or exactly an allowed URL, or a superuser's) and only
-- for the ids asked; the ids esi.names lacks come from the server's reply,
-- to the caller only.
CREATE OR REPLACE FUNCTION names_of(ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(id bigint, name text, category text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  s name := (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
              WHERE e.extname = 'esi_fdw');
  missing bigint[];
  fetched jsonb := '[]';
BEGIN
  EXECUTE format('SELECT array_agg(DISTINCT u) FROM unnest($1) u
                   WHERE u IS NOT NULL AND NOT EXISTS (SELECT 1 FROM %I.names n WHERE n.id = u)', s)
    INTO missing USING ids;
  IF missing IS NOT NULL THEN
    -- remembers what it finds in esi.names when the server is ESI's
    EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', f.id, ''name'', f.name,
                                                                  ''category'', f.category)), ''[]'')
                      FROM %I.post_universe_names($1, $2) f', s)
      INTO fetched USING missing, server;
  END IF;
  RETURN QUERY EXECUTE format(
    'SELECT i.u, coalesce(n.name, f.name), coalesce(n.category, f.category)
       FROM (SELECT u, min(o) AS o FROM unnest($1) WITH ORDINALITY AS x(u, o) GROUP BY u) AS i
       LEFT JOIN %I.names n ON n.id = i.u
       LEFT JOIN (SELECT DISTINCT ON (r.id) r.id, r.name, r.category
                    FROM jsonb_to_recordset($2) AS r(id bigint, name text, category text)
                   ORDER BY r.id) f ON f.id = i.u
      WHERE n.id IS NOT NULL OR f.id IS NOT NULL
      ORDER BY i.o', s) USING ids, fetched;
END
$$;
COMMENT ON FUNCTION names_of(bigint[], text) IS 'Names of ids: from esi.names, asking the server (POST /universe/names) only for the ids it does not hold; esi.names keeps only ESI''s answers';

-- ==== src/sql/bi.sql ====
-- esi_fdw: views for BI tools (esi.bi_setup)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in README.md.

-- Views for BI tools over snapshots: esi.bi_setup() imports the foreign
-- tables it needs into <schema>_src, declares its targets with esi.track()
-- (refresh them with CALL esi.refresh()), and creates the views in
-- <schema>.  Calling it again updates the characters and the views.
CREATE OR REPLACE FUNCTION bi_setup(server name DEFAULT 'esi', bi_schema name DEFAULT 'esi_bi',
                         history_types bigint[] DEFAULT '{34,35,36,37,38,39,40,11399}',
                         characters bigint[] DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  src name := bi_schema || '_src';
  s text := quote_ident(bi_schema);
  regions bigint[];
  pre text := bi_schema || '_';
  tbl jsonb := '{}';
  t record;
  chars bigint[];
  rel regclass;
  levels text;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_foreign_server fs JOIN pg_foreign_data_wrapper w ON w.oid = fs.srvfdw
                  WHERE fs.srvname = server AND w.fdwname = 'esi_fdw') THEN
    RAISE EXCEPTION 'no esi_fdw server "%"', server USING ERRCODE = '42704',
      HINT = 'CREATE SERVER esi FOREIGN DATA WRAPPER esi_fdw; makes one.';
  END IF;
  EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', bi_schema);
  EXECUTE format('CREATE SCHEMA IF NOT EXISTS %I', src);
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', bi_schema,
                 format('esi_fdw views for BI tools over snapshots (esi.bi_setup, server %s)', server));
  EXECUTE format('COMMENT ON SCHEMA %I IS %L', src,
                 format('foreign tables that the targets of esi.bi_setup read (schema %s)', bi_schema));

  -- the foreign tables the targets read
  FOR t IN SELECT * FROM (VALUES ('markets', 'market_orders'), ('markets', 'market_prices'),
                                 ('markets', 'market_history'), ('characters', 'character_assets'),
                                 ('characters', 'character_wallet'), ('characters', 'character_wallet_journal'),
                                 ('characters', 'character_industry_jobs')) v(grp, name) LOOP
    IF to_regclass(format('%I.%I', src, t.name)) IS NULL THEN
      EXECUTE format('IMPORT FOREIGN SCHEMA %I LIMIT TO (%I) FROM SERVER %I INTO %I', t.grp, t.name, server, src);
    END IF;
  END LOOP;

  -- the trade hubs: the arbitrage view's stations and the order targets' regions
  EXECUTE format('CREATE TABLE IF NOT EXISTS %s.trade_hubs (location_id bigint PRIMARY KEY, region_id bigint NOT NULL, name text NOT NULL)', s);
  EXECUTE format('COMMENT ON TABLE %s.trade_hubs IS %L', s,
                 'Stations compared by hub_arbitrage; their regions'' orders are tracked (edit, then run esi.bi_setup() again)');
  EXECUTE format($q$INSERT INTO %s.trade_hubs VALUES (60003760, 10000002, 'Jita'), (60008494, 10000043, 'Amarr'),
                   (60011866, 10000032, 'Dodixie'), (60004588, 10000030, 'Rens'), (60005686, 10000042, 'Hek')
                   ON CONFLICT DO NOTHING$q$, s);
  EXECUTE format('SELECT array_agg(DISTINCT region_id ORDER BY region_id) FROM %s.trade_hubs', s) INTO regions;

  -- the targets: declared once, their parameters brought up to date
  FOR t IN SELECT * FROM (VALUES
      ('orders', 'market_orders', jsonb_build_object('region_id', coalesce(regions, '{}')), 'latest', NULL::text[], NULL::text),
      ('prices', 'market_prices', '{}'::jsonb, 'latest', NULL, NULL),
      ('history', 'market_history', jsonb_build_object('region_id', coalesce(regions, '{}'), 'type_id', coalesce(history_types, '{}')),
       'incremental', ARRAY['region_id', 'type_id', 'date'], NULL),
      ('assets', 'character_assets', NULL, 'history', NULL, 'esi-assets.read_assets.v1'),
      ('wallet', 'character_wallet', NULL, 'latest', NULL, 'esi-wallet.read_character_wallet.v1'),
      ('journal', 'character_wallet_journal', NULL, 'incremental', ARRAY['character_id', 'id'], 'esi-wallet.read_character_wallet.v1'),
      ('jobs', 'character_industry_jobs', NULL, 'latest', NULL, 'esi-industry.read_character_jobs.v1')
    ) v(name, ftable, params, mode, key, scope) LOOP
    IF t.scope IS NOT NULL THEN
      -- the characters whose login has the route's scope (or those given)
      chars := coalesce(characters,
                        (SELECT array_agg(c.character_id ORDER BY c.character_id) FROM esi.characters c
                          WHERE c.server_name = server AND t.scope = ANY (c.scopes)),
                        '{}');
      t.params := jsonb_build_object('character_id', chars);
    END IF;
    SELECT x.snapshot_table INTO rel FROM esi.targets x WHERE x.target = pre || t.name;
    IF rel IS NULL THEN
      rel := esi.track(pre || t.name, format('%I.%I', src, t.ftable)::regclass, t.params, t.mode, t.key);
    ELSE
      UPDATE esi.targets x SET params = t.params WHERE x.target = pre || t.name;
    END IF;
    tbl := tbl || jsonb_build_object(t.name, rel::text);
    EXECUTE format('GRANT SELECT ON %s TO PUBLIC', rel);
    IF t.scope IS NOT NULL THEN
      -- each role sees the characters it may use (esi.characters)
      EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', rel);
      IF NOT EXISTS (SELECT FROM pg_policy p WHERE p.polrelid = rel AND p.polname = 'characters') THEN
        EXECUTE format('CREATE POLICY characters ON %s USING (character_id IN (SELECT c.character_id FROM esi.characters c WHERE c.server_name = %L))',
                       rel, server);
      END IF;
      PERFORM esi._secure_partitions(rel);
    END IF;
    RETURN NEXT pre || t.name;
  END LOOP;

  -- the indexes the views use
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (location_id, type_id, is_buy_order, price)', pre || 'orders_location', tbl->>'orders');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id)', pre || 'orders_type', tbl->>'orders');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id)', pre || 'prices_type', tbl->>'prices');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (type_id, date)', pre || 'history_type', tbl->>'history');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, snapshot_at)', pre || 'assets_character', tbl->>'assets');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id)', pre || 'wallet_character', tbl->>'wallet');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, date)', pre || 'journal_character', tbl->>'journal');
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s (character_id, status)', pre || 'jobs_character', tbl->>'jobs');

  -- orders by price level: the best price of each side, the volume and
  -- orders there, and the whole side's volume and orders (%s: a filter)
  levels := format($q$
    SELECT region_id, location_id, type_id,
           max(price) FILTER (WHERE is_buy_order) AS best_bid,
           (array_agg(volume ORDER BY price DESC) FILTER (WHERE is_buy_order))[1] AS bid_volume,
           sum(volume) FILTER (WHERE is_buy_order)::bigint AS bid_depth,
           sum(orders) FILTER (WHERE is_buy_order)::bigint AS bid_orders,
           min(price) FILTER (WHERE NOT is_buy_order) AS best_ask,
           (array_agg(volume ORDER BY price) FILTER (WHERE NOT is_buy_order))[1] AS ask_volume,
           sum(volume) FILTER (WHERE NOT is_buy_order)::bigint AS ask_depth,
           sum(orders) FILTER (WHERE NOT is_buy_order)::bigint AS ask_orders,
           max(snapshot_at) AS snapshot_at
      FROM (SELECT region_id, location_id, type_id, is_buy_order, price,
                   sum(volume_remain)::bigint AS volume, count(*) AS orders, max(snapshot_at) AS snapshot_at
              FROM %s o %%s
             GROUP BY region_id, location_id, type_id, is_buy_order, price) l
     GROUP BY region_id, location_id, type_id$q$, tbl->>'orders');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.market_best_prices WITH (security_invoker = true) AS
    SELECT b.region_id, rn.name AS region_name, b.location_id, ln.name AS location_name,
           b.type_id, tn.name AS type_name,
           b.best_bid, b.bid_volume, b.bid_depth, b.bid_orders,
           b.best_ask, b.ask_volume, b.ask_depth, b.ask_orders, b.snapshot_at
      FROM (%s) b
      LEFT JOIN esi.names rn ON rn.id = b.region_id
      LEFT JOIN esi.names ln ON ln.id = b.location_id
      LEFT JOIN esi.names tn ON tn.id = b.type_id$q$, s, format(levels, ''));
  EXECUTE format('COMMENT ON VIEW %s.market_best_prices IS %L', s,
    'Per region, station and type: the best bid (highest buy order) and ask (lowest sell order), the volume at that price, and each side''s depth (all its volume) and orders; from the orders snapshot');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.market_spread WITH (security_invoker = true) AS
    SELECT region_id, region_name, location_id, location_name, type_id, type_name, best_bid, best_ask,
           best_ask - best_bid AS spread,
           100 * (best_ask - best_bid) / ((best_ask + best_bid) / 2) AS spread_pct,
           bid_volume, ask_volume, snapshot_at
      FROM %s.market_best_prices
     WHERE best_bid IS NOT NULL AND best_ask IS NOT NULL$q$, s, s);
  EXECUTE format('COMMENT ON VIEW %s.market_spread IS %L', s,
    'Per region, station and type with both sides: best ask minus best bid, and that spread in percent of their midpoint');

  EXECUTE format($q$CREATE OR REPLACE VIEW %1$s.hub_arbitrage WITH (security_invoker = true) AS
    WITH fees AS (
      SELECT coalesce(nullif(current_setting('esi_fdw.broker_fee', true), '')::float8, 0.03) AS broker_fee,
             coalesce(nullif(current_setting('esi_fdw.sales_tax', true), '')::float8, 0.075) AS sales_tax),
    hub AS (
      SELECT h.name AS hub, b.* FROM (%2$s) b JOIN %1$s.trade_hubs h ON h.location_id = b.location_id)
    SELECT f.hub AS buy_hub, f.location_id AS buy_location_id, t.hub AS sell_hub, t.location_id AS sell_location_id,
           f.type_id, tn.name AS type_name,
           f.best_ask AS buy_price, f.ask_volume AS buy_volume,
           t.best_bid AS sell_bid, t.bid_volume AS sell_bid_volume,
           t.best_bid * (1 - x.sales_tax) - f.best_ask AS instant_profit,
           CASE WHEN t.best_bid IS NOT NULL THEN least(f.ask_volume, t.bid_volume) END AS instant_volume,
           t.best_ask AS sell_ask,
           t.best_ask * (1 - x.sales_tax - x.broker_fee) - f.best_ask AS order_profit,
           x.broker_fee, x.sales_tax, least(f.snapshot_at, t.snapshot_at) AS snapshot_at
      FROM hub f JOIN hub t ON t.type_id = f.type_id AND t.location_id <> f.location_id
      CROSS JOIN fees x
      LEFT JOIN esi.names tn ON tn.id = f.type_id
     WHERE f.best_ask IS NOT NULL
       AND (t.best_bid * (1 - x.sales_tax) > f.best_ask
            OR t.best_ask * (1 - x.sales_tax - x.broker_fee) > f.best_ask)$q$,
    s, format(levels, format('WHERE o.location_id IN (SELECT location_id FROM %s.trade_hubs)', s)));
  EXECUTE format('COMMENT ON VIEW %s.hub_arbitrage IS %L', s,
    'Buy at one trade hub''s best ask, sell at another''s: instant_profit sells into its best bid (less esi_fdw.sales_tax), order_profit lists at its best ask (less sales tax and esi_fdw.broker_fee); per unit, before hauling; only rows where one is positive');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.price_history WITH (security_invoker = true) AS
    SELECT h.region_id, rn.name AS region_name, h.type_id, tn.name AS type_name, h.date,
           h.average, h.highest, h.lowest, h.volume, h.order_count, h.average * h.volume AS isk_volume
      FROM %s h
      LEFT JOIN esi.names rn ON rn.id = h.region_id
      LEFT JOIN esi.names tn ON tn.id = h.type_id$q$, s, tbl->>'history');
  EXECUTE format('COMMENT ON VIEW %s.price_history IS %L', s,
    'Daily market history per region and type (ESI''s /markets/{region_id}/history, kept beyond its window); isk_volume = average * volume');

  EXECUTE format($q$CREATE OR REPLACE VIEW %1$s.character_net_worth WITH (security_invoker = true) AS
    SELECT c.character_id, cn.name AS character_name,
           coalesce(a.assets_value, 0) AS assets_value, w.balance AS wallet_balance,
           coalesce(a.assets_value, 0) + coalesce(w.balance, 0) AS net_worth,
           coalesce(a.items, 0) AS items, coalesce(a.unpriced_items, 0) AS unpriced_items,
           a.snapshot_at AS assets_snapshot_at, w.snapshot_at AS wallet_snapshot_at
      FROM (SELECT character_id FROM %2$s WHERE snapshot_at = (SELECT max(snapshot_at) FROM %2$s)
            UNION SELECT character_id FROM %3$s) c
      LEFT JOIN (
        SELECT s.character_id,
               sum(s.quantity * coalesce(p.average_price, p.adjusted_price)) FILTER (WHERE NOT coalesce(s.is_blueprint_copy, false)) AS assets_value,
               count(*) AS items,
               count(*) FILTER (WHERE coalesce(s.is_blueprint_copy, false) OR coalesce(p.average_price, p.adjusted_price) IS NULL) AS unpriced_items,
               max(s.snapshot_at) AS snapshot_at
          FROM %2$s s LEFT JOIN %4$s p ON p.type_id = s.type_id
         WHERE s.snapshot_at = (SELECT max(snapshot_at) FROM %2$s)
         GROUP BY s.character_id) a ON a.character_id = c.character_id
      LEFT JOIN %3$s w ON w.character_id = c.character_id
      LEFT JOIN esi.names cn ON cn.id = c.character_id$q$, s, tbl->>'assets', tbl->>'wallet', tbl->>'prices');
  EXECUTE format('COMMENT ON VIEW %s.character_net_worth IS %L', s,
    'Per character: the latest asset snapshot valued at ESI''s average price (adjusted price when none; blueprint copies and unpriced types count 0, see unpriced_items) plus the wallet balance');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.wallet_daily WITH (security_invoker = true) AS
    SELECT d.character_id, cn.name AS character_name, d.day, d.ref_type, d.income, d.spending, d.net, d.entries
      FROM (SELECT character_id, (date AT TIME ZONE 'UTC')::date AS day, ref_type,
                   coalesce(sum(amount) FILTER (WHERE amount > 0), 0) AS income,
                   coalesce(-sum(amount) FILTER (WHERE amount < 0), 0) AS spending,
                   coalesce(sum(amount), 0) AS net, count(*) AS entries
              FROM %s GROUP BY 1, 2, 3) d
      LEFT JOIN esi.names cn ON cn.id = d.character_id$q$, s, tbl->>'journal');
  EXECUTE format('COMMENT ON VIEW %s.wallet_daily IS %L', s,
    'Wallet journal per character, day (UTC) and ref_type: income (sum of credits), spending (sum of debits, positive), net and entries');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.industry_jobs_active WITH (security_invoker = true) AS
    SELECT j.character_id, cn.name AS character_name, j.job_id, j.activity_id,
           CASE j.activity_id WHEN 1 THEN 'manufacturing' WHEN 3 THEN 'time efficiency research'
                WHEN 4 THEN 'material efficiency research' WHEN 5 THEN 'copying'
                WHEN 7 THEN 'reverse engineering' WHEN 8 THEN 'invention'
                WHEN 9 THEN 'reactions' WHEN 11 THEN 'reactions' END AS activity,
           j.blueprint_type_id, bn.name AS blueprint_name, j.product_type_id, pn.name AS product_name,
           j.runs, j.facility_id, j.start_date, j.end_date,
           greatest(j.end_date - now(), interval '0') AS time_left,
           j.end_date <= now() AS finished,
           j.snapshot_at
      FROM %s j
      LEFT JOIN esi.names cn ON cn.id = j.character_id
      LEFT JOIN esi.names bn ON bn.id = j.blueprint_type_id
      LEFT JOIN esi.names pn ON pn.id = j.product_type_id
     WHERE j.status = 'active'$q$, s, tbl->>'jobs');
  EXECUTE format('COMMENT ON VIEW %s.industry_jobs_active IS %L', s,
    'Industry jobs whose status was active at the last snapshot, with the time left until end_date (0 when past: finished)');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.asset_changes WITH (security_invoker = true) AS
    SELECT d.owner_id AS character_id, cn.name AS character_name, d.item_id, d.type_id, tn.name AS type_name,
           d.change, d.old_quantity, d.new_quantity,
           d.old_location_id, oln.name AS old_location_name, d.old_location_flag,
           d.new_location_id, nln.name AS new_location_name, d.new_location_flag,
           d.old_snapshot_at, d.new_snapshot_at
      FROM esi.asset_diffs d
      LEFT JOIN esi.names cn ON cn.id = d.owner_id
      LEFT JOIN esi.names tn ON tn.id = d.type_id
      LEFT JOIN esi.names oln ON oln.id = d.old_location_id
      LEFT JOIN esi.names nln ON nln.id = d.new_location_id
     WHERE d.target = %L$q$, s, pre || 'assets');
  EXECUTE format('COMMENT ON VIEW %s.asset_changes IS %L', s,
    'Per item, what changed between consecutive asset snapshots of the characters (esi.asset_diffs), with names');

  EXECUTE format($q$CREATE OR REPLACE VIEW %s.asset_changes_net WITH (security_invoker = true) AS
    SELECT r.owner_id AS character_id, cn.name AS character_name, r.location_id, ln.name AS location_name,
           r.type_id, tn.name AS type_name, r.net_quantity, r.old_snapshot_at, r.new_snapshot_at
      FROM esi.asset_changes_rollup r
      LEFT JOIN esi.names cn ON cn.id = r.owner_id
      LEFT JOIN esi.names ln ON ln.id = r.location_id
      LEFT JOIN esi.names tn ON tn.id = r.type_id
     WHERE r.target = %L$q$, s, pre || 'assets');
  EXECUTE format('COMMENT ON VIEW %s.asset_changes_net IS %L', s,
    'Net asset quantity changes per character, location and type between consecutive snapshots (esi.asset_changes_rollup), with names');

  -- readable by every role; the views read with the reader's rights
  EXECUTE format('GRANT USAGE ON SCHEMA %I, %I TO PUBLIC', bi_schema, src);
  EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I, %I TO PUBLIC', bi_schema, src);
END;
$$;
COMMENT ON FUNCTION bi_setup(name, name, bigint[], bigint[]) IS 'Views for BI tools over snapshots: imports the foreign tables into <schema>_src, declares the targets (returned: refresh them with CALL esi.refresh()) and creates the views in <schema>';
REVOKE ALL ON FUNCTION bi_setup(name, name, bigint[], bigint[]) FROM PUBLIC;

-- ==== src/sql/calls.sql ====
-- Generated by src/catalog/gen_catalog.py from ESI's description 2026-08-04;
-- do not edit by hand.  One function per route that is not GET, all
-- implemented by esi_call (src/calls/call.c), which finds its route from the
-- function's name.  Writes: EXECUTE revoked from PUBLIC.

CREATE OR REPLACE FUNCTION post_character_affiliation(ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(alliance_id bigint, character_id bigint, corporation_id bigint, faction_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_affiliation(bigint[], text) IS 'POST /characters/affiliation (reads; public)';

CREATE OR REPLACE FUNCTION post_character_assets_locations(character_id bigint, ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(item_id bigint, "position" jsonb)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_assets_locations(bigint, bigint[], text) IS 'POST /characters/{character_id}/assets/locations (reads; scope esi-assets.read_assets.v1)';

CREATE OR REPLACE FUNCTION post_character_assets_names(character_id bigint, ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(item_id bigint, name text)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_assets_names(bigint, bigint[], text) IS 'POST /characters/{character_id}/assets/names (reads; scope esi-assets.read_assets.v1)';

CREATE OR REPLACE FUNCTION put_character_calendar(character_id bigint, event_id bigint, response text, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_character_calendar(bigint, bigint, text, text) IS 'PUT /characters/{character_id}/calendar/{event_id} (writes; scope esi-calendar.respond_calendar_events.v1)';
REVOKE EXECUTE ON FUNCTION put_character_calendar(bigint, bigint, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_character_contacts(character_id bigint, standing double precision, ids bigint[], label_ids bigint[] DEFAULT NULL, watched boolean DEFAULT NULL, server text DEFAULT 'esi')
RETURNS TABLE(contact_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_contacts(bigint, double precision, bigint[], bigint[], boolean, text) IS 'POST /characters/{character_id}/contacts (writes; scope esi-characters.write_contacts.v1)';
REVOKE EXECUTE ON FUNCTION post_character_contacts(bigint, double precision, bigint[], bigint[], boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION put_character_contacts(character_id bigint, standing double precision, ids bigint[], label_ids bigint[] DEFAULT NULL, watched boolean DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_character_contacts(bigint, double precision, bigint[], bigint[], boolean, text) IS 'PUT /characters/{character_id}/contacts (writes; scope esi-characters.write_contacts.v1)';
REVOKE EXECUTE ON FUNCTION put_character_contacts(bigint, double precision, bigint[], bigint[], boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_character_contacts(character_id bigint, contact_ids bigint[], server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_character_contacts(bigint, bigint[], text) IS 'DELETE /characters/{character_id}/contacts (writes; scope esi-characters.write_contacts.v1)';
REVOKE EXECUTE ON FUNCTION delete_character_contacts(bigint, bigint[], text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_character_cspa(character_id bigint, ids bigint[], server text DEFAULT 'esi')
RETURNS double precision
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_cspa(bigint, bigint[], text) IS 'POST /characters/{character_id}/cspa (reads; scope esi-characters.read_contacts.v1)';

CREATE OR REPLACE FUNCTION post_character_fittings(character_id bigint, description text, items jsonb, name text, ship_type_id bigint, server text DEFAULT 'esi')
RETURNS TABLE(fitting_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_fittings(bigint, text, jsonb, text, bigint, text) IS 'POST /characters/{character_id}/fittings (writes; scope esi-fittings.write_fittings.v1)';
REVOKE EXECUTE ON FUNCTION post_character_fittings(bigint, text, jsonb, text, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_character_fitting(character_id bigint, fitting_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_character_fitting(bigint, bigint, text) IS 'DELETE /characters/{character_id}/fittings/{fitting_id} (writes; scope esi-fittings.write_fittings.v1)';
REVOKE EXECUTE ON FUNCTION delete_character_fitting(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_character_mail(character_id bigint, body text, recipients jsonb, subject text, approved_cost bigint DEFAULT NULL, server text DEFAULT 'esi')
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_mail(bigint, text, jsonb, text, bigint, text) IS 'POST /characters/{character_id}/mail (writes; scope esi-mail.send_mail.v1)';
REVOKE EXECUTE ON FUNCTION post_character_mail(bigint, text, jsonb, text, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_character_mail_labels(character_id bigint, name text, color text DEFAULT NULL, server text DEFAULT 'esi')
RETURNS bigint
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_character_mail_labels(bigint, text, text, text) IS 'POST /characters/{character_id}/mail/labels (writes; scope esi-mail.organize_mail.v1)';
REVOKE EXECUTE ON FUNCTION post_character_mail_labels(bigint, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_character_mail_label(character_id bigint, label_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_character_mail_label(bigint, bigint, text) IS 'DELETE /characters/{character_id}/mail/labels/{label_id} (writes; scope esi-mail.organize_mail.v1)';
REVOKE EXECUTE ON FUNCTION delete_character_mail_label(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION put_character_mail(character_id bigint, mail_id bigint, labels bigint[] DEFAULT NULL, read boolean DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_character_mail(bigint, bigint, bigint[], boolean, text) IS 'PUT /characters/{character_id}/mail/{mail_id} (writes; scope esi-mail.organize_mail.v1)';
REVOKE EXECUTE ON FUNCTION put_character_mail(bigint, bigint, bigint[], boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_character_mail(character_id bigint, mail_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_character_mail(bigint, bigint, text) IS 'DELETE /characters/{character_id}/mail/{mail_id} (writes; scope esi-mail.organize_mail.v1)';
REVOKE EXECUTE ON FUNCTION delete_character_mail(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_corporation_assets_locations(corporation_id bigint, ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(item_id bigint, "position" jsonb)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_corporation_assets_locations(bigint, bigint[], text) IS 'POST /corporations/{corporation_id}/assets/locations (reads; scope esi-assets.read_corporation_assets.v1, roles Director)';

CREATE OR REPLACE FUNCTION post_corporation_assets_names(corporation_id bigint, ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(item_id bigint, name text)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_corporation_assets_names(bigint, bigint[], text) IS 'POST /corporations/{corporation_id}/assets/names (reads; scope esi-assets.read_corporation_assets.v1, roles Director)';

CREATE OR REPLACE FUNCTION put_fleet(as_character_id bigint, fleet_id bigint, is_free_move boolean DEFAULT NULL, motd text DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_fleet(bigint, bigint, boolean, text, text) IS 'PUT /fleets/{fleet_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION put_fleet(bigint, bigint, boolean, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_fleet_members(as_character_id bigint, fleet_id bigint, character_id bigint, role text, squad_id bigint DEFAULT NULL, wing_id bigint DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_fleet_members(bigint, bigint, bigint, text, bigint, bigint, text) IS 'POST /fleets/{fleet_id}/members (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION post_fleet_members(bigint, bigint, bigint, text, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION put_fleet_member(as_character_id bigint, fleet_id bigint, member_id bigint, role text, squad_id bigint DEFAULT NULL, wing_id bigint DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_fleet_member(bigint, bigint, bigint, text, bigint, bigint, text) IS 'PUT /fleets/{fleet_id}/members/{member_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION put_fleet_member(bigint, bigint, bigint, text, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_fleet_member(as_character_id bigint, fleet_id bigint, member_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_fleet_member(bigint, bigint, bigint, text) IS 'DELETE /fleets/{fleet_id}/members/{member_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION delete_fleet_member(bigint, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION put_fleet_squad(as_character_id bigint, fleet_id bigint, squad_id bigint, name text, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_fleet_squad(bigint, bigint, bigint, text, text) IS 'PUT /fleets/{fleet_id}/squads/{squad_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION put_fleet_squad(bigint, bigint, bigint, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_fleet_squad(as_character_id bigint, fleet_id bigint, squad_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_fleet_squad(bigint, bigint, bigint, text) IS 'DELETE /fleets/{fleet_id}/squads/{squad_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION delete_fleet_squad(bigint, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_fleet_wings(as_character_id bigint, fleet_id bigint, server text DEFAULT 'esi')
RETURNS TABLE(wing_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_fleet_wings(bigint, bigint, text) IS 'POST /fleets/{fleet_id}/wings (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION post_fleet_wings(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION put_fleet_wing(as_character_id bigint, fleet_id bigint, wing_id bigint, name text, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION put_fleet_wing(bigint, bigint, bigint, text, text) IS 'PUT /fleets/{fleet_id}/wings/{wing_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION put_fleet_wing(bigint, bigint, bigint, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION delete_fleet_wing(as_character_id bigint, fleet_id bigint, wing_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION delete_fleet_wing(bigint, bigint, bigint, text) IS 'DELETE /fleets/{fleet_id}/wings/{wing_id} (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION delete_fleet_wing(bigint, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_fleet_wing_squads(as_character_id bigint, fleet_id bigint, wing_id bigint, server text DEFAULT 'esi')
RETURNS TABLE(squad_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_fleet_wing_squads(bigint, bigint, bigint, text) IS 'POST /fleets/{fleet_id}/wings/{wing_id}/squads (writes; scope esi-fleets.write_fleet.v1)';
REVOKE EXECUTE ON FUNCTION post_fleet_wing_squads(bigint, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_route(origin_system_id bigint, destination_system_id bigint, avoid_systems bigint[] DEFAULT NULL, connections jsonb DEFAULT NULL, preference text DEFAULT NULL, security_penalty bigint DEFAULT NULL, server text DEFAULT 'esi')
RETURNS TABLE(route_id bigint)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_route(bigint, bigint, bigint[], jsonb, text, bigint, text) IS 'POST /route/{origin_system_id}/{destination_system_id} (reads; public)';

CREATE OR REPLACE FUNCTION post_ui_autopilot_waypoint(as_character_id bigint, add_to_beginning boolean, clear_other_waypoints boolean, destination_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_ui_autopilot_waypoint(bigint, boolean, boolean, bigint, text) IS 'POST /ui/autopilot/waypoint (writes; scope esi-ui.write_waypoint.v1)';
REVOKE EXECUTE ON FUNCTION post_ui_autopilot_waypoint(bigint, boolean, boolean, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_ui_openwindow_contract(as_character_id bigint, contract_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_ui_openwindow_contract(bigint, bigint, text) IS 'POST /ui/openwindow/contract (writes; scope esi-ui.open_window.v1)';
REVOKE EXECUTE ON FUNCTION post_ui_openwindow_contract(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_ui_openwindow_information(as_character_id bigint, target_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_ui_openwindow_information(bigint, bigint, text) IS 'POST /ui/openwindow/information (writes; scope esi-ui.open_window.v1)';
REVOKE EXECUTE ON FUNCTION post_ui_openwindow_information(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_ui_openwindow_marketdetails(as_character_id bigint, type_id bigint, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_ui_openwindow_marketdetails(bigint, bigint, text) IS 'POST /ui/openwindow/marketdetails (writes; scope esi-ui.open_window.v1)';
REVOKE EXECUTE ON FUNCTION post_ui_openwindow_marketdetails(bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_ui_openwindow_newmail(as_character_id bigint, body text, recipients bigint[], subject text, to_corp_or_alliance_id bigint DEFAULT NULL, to_mailing_list_id bigint DEFAULT NULL, server text DEFAULT 'esi')
RETURNS void
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_ui_openwindow_newmail(bigint, text, bigint[], text, bigint, bigint, text) IS 'POST /ui/openwindow/newmail (writes; scope esi-ui.open_window.v1)';
REVOKE EXECUTE ON FUNCTION post_ui_openwindow_newmail(bigint, text, bigint[], text, bigint, bigint, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION post_universe_ids(names text[], server text DEFAULT 'esi')
RETURNS TABLE(category text, id bigint, name text)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_universe_ids(text[], text) IS 'POST /universe/ids (reads; public)';

CREATE OR REPLACE FUNCTION post_universe_names(ids bigint[], server text DEFAULT 'esi')
RETURNS TABLE(category text, id bigint, name text)
AS 'MODULE_PATHNAME', 'esi_call'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION post_universe_names(bigint[], text) IS 'POST /universe/names (reads; public)';

-- ==== src/sql/post_install.sql ====
-- esi_fdw: the objects that need the functions and views of the subsystem
-- files (the foreign data wrapper, policies, triggers), in their current
-- shape.  Run last by the install script only; see pre_install.sql.

CREATE FOREIGN DATA WRAPPER esi_fdw
  HANDLER esi_fdw_handler
  VALIDATOR esi_fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER esi_fdw IS 'EVE Online ESI (EVE Swagger Interface) as foreign tables';

-- == sso ==
CREATE POLICY own_or_granted ON sso_characters
  USING (pg_catalog.pg_has_role(owner_role, 'MEMBER')
         OR EXISTS (SELECT FROM esi.sso_character_grants g
                     WHERE g.server_name OPERATOR(pg_catalog.=) sso_characters.server_name
                       AND g.character_id OPERATOR(pg_catalog.=) sso_characters.character_id
                       AND pg_catalog.pg_has_role(g.grantee, 'MEMBER')));
CREATE POLICY own ON sso_character_grants USING (pg_catalog.pg_has_role(grantee, 'MEMBER'));
CREATE POLICY own ON sso_logins USING (pg_catalog.pg_has_role(role, 'MEMBER'));
CREATE POLICY server_owner ON sso_clients
  USING (EXISTS (SELECT FROM pg_catalog.pg_foreign_server s
                  WHERE s.srvname = sso_clients.server_name
                    AND pg_catalog.pg_has_role(s.srvowner, 'MEMBER')));
CREATE TRIGGER owner_changed AFTER UPDATE OF owner_role ON sso_characters
  FOR EACH ROW WHEN (OLD.owner_role IS DISTINCT FROM NEW.owner_role)
  EXECUTE FUNCTION _character_owner_changed();

-- == snapshots ==
-- a target, its log and its diffs are seen by the roles that may read its
-- snapshot table; an asset diff also by the role that may use the character
CREATE POLICY readers ON targets
  USING (pg_catalog.has_table_privilege(snapshot_table::oid, 'SELECT'));
CREATE POLICY readers ON refresh_log
  USING (EXISTS (SELECT FROM esi.targets t WHERE t.target = refresh_log.target));
CREATE POLICY readers ON asset_diffs FOR SELECT
  USING (owner_id IN (SELECT c.character_id FROM esi.characters c)
         OR EXISTS (SELECT FROM esi.targets t JOIN pg_catalog.pg_class r ON r.oid = t.snapshot_table
                     WHERE t.target = asset_diffs.target
                       AND pg_catalog.pg_has_role(r.relowner, 'MEMBER')));
CREATE POLICY writers ON asset_diffs
  USING (EXISTS (SELECT FROM esi.targets t
                  WHERE t.target = asset_diffs.target
                    AND pg_catalog.has_table_privilege(t.snapshot_table::oid, 'INSERT')));
CREATE TRIGGER refresh_role_member BEFORE INSERT OR UPDATE OF refresh_role ON targets
  FOR EACH ROW EXECUTE FUNCTION _targets_check_role();
-- a partition of a snapshot table gets its parent's row-level security
-- and SELECT grants (esi._secure_partitions)
CREATE EVENT TRIGGER esi_snapshot_partitions ON ddl_command_end
  WHEN TAG IN ('CREATE TABLE', 'ALTER TABLE')
  EXECUTE FUNCTION _snapshot_partitions_trigger();
