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
  new_snapshot_at timestamptz NOT NULL,
  -- a row's key, so that the table can be published (logical replication:
  -- untrack deletes a target's diffs) and a subscriber finds a row by it;
  -- random, not from a sequence: nothing to dump but the rows, no grant
  id uuid NOT NULL DEFAULT gen_random_uuid() PRIMARY KEY
);
CREATE INDEX ON asset_diffs (target, new_snapshot_at);
CREATE INDEX ON asset_diffs (owner_id, new_snapshot_at);
CREATE INDEX ON asset_diffs (type_id);
CREATE INDEX ON asset_diffs (new_location_id);
COMMENT ON TABLE asset_diffs IS 'Per item, what changed between two consecutive asset snapshots of a history target (both sides'' values in every row)';
COMMENT ON COLUMN asset_diffs.id IS 'the row''s key (its replica identity: the table can be published for logical replication)';
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
