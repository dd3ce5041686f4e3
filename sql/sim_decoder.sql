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

DROP FUNCTION sim.fuzz_compare;
DROP TYPE sim.fuzz_rec;
DROP FOREIGN TABLE sim.fuzz, sim.fuzz_cases;
\endif
