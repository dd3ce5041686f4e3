-- esi_fdw: EVE SSO logins from SQL, characters and grants (the token tables are
-- in pre_install.sql)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

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
