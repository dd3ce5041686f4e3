--
-- sim_decoder: the JSON decoder against jsonb, on the same bytes
--
-- The simulator makes 400 random pages from a fixed seed (test/sim/fuzz.py):
-- valid ones (strings with every escape and raw UTF-8, numbers in all JSON
-- forms, nested values, nulls, missing and repeated keys, values that do
-- not fit their column), malformed ones (truncated, trailing garbage, bad
-- escapes, lone surrogates, invalid UTF-8, ...) and too deeply nested ones.
-- Each page is read through a foreign table and, from the same bytes, by
-- jsonb_populate_recordset: both must give the same rows, or both refuse
-- it (with the same SQLSTATE for values that do not fit); the wrapper
-- refuses every malformed page with HV00A and never crashes.
--
-- jsonb's reference copy comes through convert_from(..., 'UTF8'), which in
-- a database of another encoding refuses characters the decoder skips, so
-- the comparison runs in a UTF-8 database only (expected/sim_decoder_1.out)
SELECT getdatabaseencoding() = 'UTF8' AS utf8 \gset
\if :utf8
SET timezone = 'UTC';
SELECT * FROM sim.reset;

CREATE FOREIGN TABLE sim.fuzz_cases (n integer, kind text, body_b64 text)
  SERVER esi OPTIONS (route '/_sim/fuzz', query 'seed=7&count=400');
CREATE FOREIGN TABLE sim.fuzz (
  n integer OPTIONS (param 'path'),
  s text, t text, f double precision, i bigint, k integer, b boolean, ts timestamptz, j jsonb
) SERVER esi OPTIONS (route '/_sim/fuzz/{n}', query 'seed=7');
CREATE TYPE sim.fuzz_rec AS
  (s text, t text, f double precision, i bigint, k integer, b boolean, ts timestamptz, j jsonb);

-- one case: each side's rows, or its SQLSTATE
CREATE FUNCTION sim.fuzz_compare(c_n integer, b64 text,
  OUT fdw_state text, OUT ref_state text, OUT same_rows boolean, OUT nrows integer)
LANGUAGE plpgsql AS $$
DECLARE
  fdw_rows sim.fuzz_rec[];
  ref_rows sim.fuzz_rec[];
BEGIN
  BEGIN
    SELECT coalesce(array_agg(ROW(s, t, f, i, k, b, ts, j)::sim.fuzz_rec), '{}')
      INTO fdw_rows FROM sim.fuzz WHERE n = c_n;
    fdw_state := 'ok';
  EXCEPTION WHEN OTHERS THEN
    fdw_state := SQLSTATE;
  END;
  BEGIN
    SELECT coalesce(array_agg(r), '{}') INTO ref_rows
      FROM jsonb_populate_recordset(NULL::sim.fuzz_rec,
                                    convert_from(decode(b64, 'base64'), 'UTF8')::jsonb) r;
    ref_state := 'ok';
  EXCEPTION WHEN OTHERS THEN
    ref_state := SQLSTATE;
  END;
  same_rows := fdw_state = 'ok' AND ref_state = 'ok' AND fdw_rows = ref_rows;
  nrows := cardinality(fdw_rows);
END $$;

CREATE TEMP TABLE fuzz_results AS
  SELECT c.n, c.kind, r.*
    FROM sim.fuzz_cases c, LATERAL sim.fuzz_compare(c.n, c.body_b64) r;

-- every case was run, and the mix is what the seed makes
SELECT kind, count(*) AS cases, sum(nrows) AS rows_compared,
       count(*) FILTER (WHERE fdw_state = 'ok') AS accepted,
       count(*) FILTER (WHERE fdw_state <> 'ok') AS refused
  FROM fuzz_results GROUP BY kind ORDER BY kind;

-- valid JSON: the same rows as jsonb, or the same error for a value that
-- does not fit its column (what follows lists disagreements: none)
SELECT n, fdw_state, ref_state FROM fuzz_results
 WHERE kind = 'valid'
   AND NOT (same_rows OR (fdw_state <> 'ok' AND fdw_state = ref_state))
 ORDER BY n;
SELECT fdw_state, count(*) FROM fuzz_results WHERE kind = 'valid' GROUP BY 1 ORDER BY 1;

-- malformed JSON: jsonb refuses it, and so does the wrapper (none listed)
SELECT n, fdw_state, ref_state FROM fuzz_results
 WHERE kind = 'malformed' AND (ref_state = 'ok' OR fdw_state = 'ok')
 ORDER BY n;
-- with HV00A, unless a value before the syntax error could not be converted
-- (the decoder converts as it reads: '{"f":"a" "b"}' fails on "a" first)
SELECT fdw_state, count(*) FROM fuzz_results WHERE kind = 'malformed' GROUP BY 1 ORDER BY 1;

-- deeper than the wrapper's 64 levels: refused as malformed JSON
SELECT n, fdw_state FROM fuzz_results WHERE kind = 'deep' AND fdw_state <> 'HV00A' ORDER BY n;

-- the session is fine after hundreds of errors
SELECT count(*) FROM sim.fuzz WHERE n = 5;

-- the groups layout (an object whose members hold record arrays, as POST
-- /universe/ids answers, decode.c's esi_decoder_init_groups, called through
-- the test function esi_test_decode): each case's page as members "x" and
-- "y" around a null and an empty member, '{"x":P,"n":null,"e":[],"y" :P}',
-- gives a valid page's rows twice, x's then y's, or the error the page
-- itself got, and refuses every broken or too deep page (pages that are
-- not text, with invalid UTF-8 or NUL, cannot be wrapped in SQL and are
-- left out)
CREATE FUNCTION esi_test_decode(text, text, text) RETURNS SETOF record
  AS 'esi_fdw', 'esi_test_decode' LANGUAGE C;
CREATE FUNCTION sim.fuzz_groups(b64 text, OUT state text, OUT same_rows boolean)
LANGUAGE plpgsql AS $$
DECLARE
  page text;
  rows sim.fuzz_rec[];
  grps text;
  ref_rows sim.fuzz_rec[];
BEGIN
  BEGIN
    page := convert_from(decode(b64, 'base64'), 'UTF8');
  EXCEPTION WHEN OTHERS THEN
    state := 'not text';
    RETURN;
  END;
  BEGIN
    SELECT coalesce(array_agg(ROW(s, t, f, i, k, b, ts, j)::sim.fuzz_rec), '{}'),
           coalesce(string_agg(_group, ''), '')
      INTO rows, grps
      FROM esi_test_decode('{"x":' || page || ',"n":null,"e":[],"y" :' || page || '}',
                           'groups', NULL)
        AS r(_group text, s text, t text, f double precision, i bigint, k integer,
             b boolean, ts timestamptz, j jsonb);
    state := 'ok';
  EXCEPTION WHEN OTHERS THEN
    state := SQLSTATE;
    RETURN;
  END;
  SELECT coalesce(array_agg(r), '{}') INTO ref_rows
    FROM jsonb_populate_recordset(NULL::sim.fuzz_rec, page::jsonb) r;
  same_rows := rows = ref_rows || ref_rows
               AND grps = repeat('x', cardinality(ref_rows)) || repeat('y', cardinality(ref_rows));
END $$;
CREATE TEMP TABLE fuzz_groups AS
  SELECT c.n, c.kind, f.fdw_state, g.*
    FROM sim.fuzz_cases c JOIN fuzz_results f USING (n), LATERAL sim.fuzz_groups(c.body_b64) g;
SELECT kind, state, count(*), count(*) FILTER (WHERE same_rows) AS same_rows
  FROM fuzz_groups GROUP BY 1, 2 ORDER BY 1, 2;
-- a valid page: what the page itself gave (none listed); a broken or too
-- deep page: refused (none listed).  (A broken page does not always get
-- its own SQLSTATE back: the wrapper's text after a cut page can close a
-- string or make a member of another type.)
SELECT n, kind, fdw_state, state, same_rows FROM fuzz_groups
 WHERE CASE kind WHEN 'valid' THEN state <> fdw_state OR (state = 'ok' AND NOT same_rows)
                 ELSE state = 'ok' END
 ORDER BY n;
-- only_key: the other members are skipped, validated; groups of values
SELECT * FROM esi_test_decode('{"a":[{"s":"no"}],"x":[{"s":"yes","i":1}],"b":{"c":[1]}}', 'groups', 'x')
  AS r(_group text, s text, i bigint);
SELECT * FROM esi_test_decode('{"a":[1,2],"x":[3,4],"b":5}', 'groups_values', 'x')
  AS r(_group text, i bigint);
SELECT * FROM esi_test_decode('{"a":[1,2],"x":[3,4],"b":[1,}', 'groups_values', 'x')
  AS r(_group text, i bigint);
-- a member's name is unescaped
SELECT * FROM esi_test_decode('{"sys\u0074ems":[{"i":1}],"\u00e9t\u00e9":[{"i":2}]}', 'groups', NULL)
  AS r(_group text, i bigint);
-- 64 levels of nesting are accepted, the object of groups counting, and
-- more are refused, as in other JSON
SELECT count(*) FROM esi_test_decode('{"x":[{"j":' || repeat('[', 61) || repeat(']', 61) || '}]}', 'groups', NULL)
  AS r(j jsonb);
SELECT count(*) FROM esi_test_decode('{"x":[{"j":' || repeat('[', 62) || repeat(']', 62) || '}]}', 'groups', NULL)
  AS r(j jsonb);
DROP FUNCTION sim.fuzz_groups;
DROP FUNCTION esi_test_decode;

DROP FUNCTION sim.fuzz_compare;
DROP TYPE sim.fuzz_rec;
DROP FOREIGN TABLE sim.fuzz, sim.fuzz_cases;
\endif
