-- esi_fdw: names of EVE ids (esi.names)
--
-- The current definitions (CREATE OR REPLACE), run by the install script and
-- by every update script that src/sql/build.sh makes: edit them here, never
-- in a built esi_fdw--*.sql.  Tables, columns, policies and other objects
-- that cannot be replaced are in src/sql/pre_install.sql (and an update step
-- in src/sql/updates/); see "The SQL scripts" in doc/development.md.

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
