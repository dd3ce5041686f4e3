/* esi_fdw 0.3.0: EVE Online's ESI as foreign tables */

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
