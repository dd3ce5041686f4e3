-- esi_fdw: the foreign data wrapper's functions and the route catalog
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

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
