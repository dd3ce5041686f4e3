--
-- sim_lang: names and descriptions in ESI's eight languages (the server's
-- language option is sent as Accept-Language): multi-byte UTF-8 names and
-- descriptions full of JSON escapes (\n, \", \\, \u00e9, \ud83d\ude80)
-- decode to the right text.  In a database whose encoding cannot hold a
-- character (the suite also runs in LATIN1: expected/sim_lang_1.out), the
-- query fails with SQLSTATE 22P05 naming the column, never garbage.
--
SET client_encoding = 'UTF8';
SELECT getdatabaseencoding() IN ('UTF8', 'LATIN1') AS known_encoding;
SELECT * FROM sim.reset;
\getenv esi_url ESI_SIM_URL
CREATE SERVER esi_lang FOREIGN DATA WRAPPER esi_fdw
  OPTIONS (base_url :'esi_url', language 'en');
CREATE SCHEMA lang;
IMPORT FOREIGN SCHEMA universe LIMIT TO (universe_type_details, universe_region_details)
  FROM SERVER esi_lang INTO lang;
CREATE FOREIGN TABLE lang.requests (accept_language text)
  SERVER esi OPTIONS (route '/_sim/requests');

-- what each language gives, or the error
CREATE FUNCTION lang.read(q text, OUT language text, OUT result text, OUT state text,
                          OUT message text, OUT context text)
RETURNS SETOF record LANGUAGE plpgsql AS $$
DECLARE
  l text;
BEGIN
  FOREACH l IN ARRAY ARRAY['en', 'de', 'fr', 'ja', 'ru', 'zh', 'ko', 'es'] LOOP
    EXECUTE format('ALTER SERVER esi_lang OPTIONS (SET language %L)', l);
    language := l;
    BEGIN
      EXECUTE q INTO result;
      state := '00000';
      message := NULL;
      context := NULL;
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                              context = PG_EXCEPTION_CONTEXT;
      result := NULL;
      -- the line of the context that names the route, field and column
      context := substring(context FROM 'ESI route [^\n]*');
    END;
    RETURN NEXT;
  END LOOP;
END $$;

-- Pyerite's name, as the EVE client shows it
SELECT language, result AS name, state, message, context
  FROM lang.read('SELECT name FROM lang.universe_type_details WHERE type_id = 35');
-- The Forge
SELECT language, result AS name, state, message
  FROM lang.read('SELECT name FROM lang.universe_region_details WHERE region_id = 10000002');
-- a generated item's name: characters, not bytes (multi-byte names were
-- decoded, not copied as bytes)
SELECT language, result AS name_chars_utf8_bytes, state
  FROM lang.read('SELECT name || '' '' || char_length(name) || '' ''
                         || octet_length(convert_to(name, ''UTF8''))
                    FROM lang.universe_type_details WHERE type_id = 1');
-- the request carried the language
SELECT DISTINCT accept_language FROM lang.requests ORDER BY 1;

-- a description with every escape: a line break, quotes, a backslash, é and
-- a character outside the BMP sent as a surrogate pair
-- (the real items' English is plain ASCII: false)
SELECT language, result AS escapes_decoded, state, message, context
  FROM lang.read($q$
    SELECT (position(E'\n' IN description) > 0) AND (position('"' IN description) > 0)
           AND (position('\' IN description) > 0) AND (position('é' IN description) > 0)
           AND ascii(right(description, 1)) = 128640
      FROM lang.universe_type_details WHERE type_id = 34$q$);
-- English text of a generated item too (the real items' English is plain)
ALTER SERVER esi_lang OPTIONS (SET language 'en');
SELECT substring(description FROM E'\n(.*)$') AS last_line,
       description LIKE E'%caf\u00e9 at "Jita 4-4" \\\\ Caldari Navy.%' AS middle
  FROM lang.universe_type_details WHERE type_id = 1;

SET client_min_messages = warning;
DROP SCHEMA lang CASCADE;
DROP SERVER esi_lang;
RESET client_min_messages;
