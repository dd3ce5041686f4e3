/* esi_fdw 0.2.0 -> 0.3.0 */

\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.3.0'" to load this file. \quit

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
