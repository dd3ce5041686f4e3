/* esi_fdw 0.1.0: EVE Online's ESI as foreign tables */

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
