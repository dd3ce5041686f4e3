--
-- crypto: tokens at rest (AES-256-GCM under keys in esi_fdw.key_file) and
-- verification of EVE SSO access tokens (RS256 JWTs), through test-only C
-- functions that the extension script does not create.  The JWKS and the
-- tokens come from test/fixtures/jwt.tsv (test/gen_jwt_fixtures.py: a fixed
-- test key; valid tokens expire in 2100, the expired one in 2000).  Key ids
-- are random: they are compared, never shown.
--
CREATE FUNCTION esi_test_seal(text, text) RETURNS bytea
  AS 'esi_fdw', 'esi_test_seal' LANGUAGE C STRICT;
CREATE FUNCTION esi_test_unseal(bytea, text) RETURNS text
  AS 'esi_fdw', 'esi_test_unseal' LANGUAGE C STRICT;
CREATE FUNCTION esi_test_add_key() RETURNS void
  AS 'esi_fdw', 'esi_test_add_key' LANGUAGE C;
CREATE FUNCTION esi_test_drop_keys_except(bigint[]) RETURNS void
  AS 'esi_fdw', 'esi_test_drop_keys_except' LANGUAGE C STRICT;
CREATE FUNCTION esi_test_key_id(bytea) RETURNS bigint
  AS 'esi_fdw', 'esi_test_key_id' LANGUAGE C STRICT;
CREATE FUNCTION esi_test_current_key_id() RETURNS bigint
  AS 'esi_fdw', 'esi_test_current_key_id' LANGUAGE C;
CREATE FUNCTION esi_test_key_file() RETURNS text
  AS 'esi_fdw', 'esi_test_key_file' LANGUAGE C;
CREATE FUNCTION esi_test_jwt_verify(token text, jwks text, client_id text,
                                    at timestamptz DEFAULT now()) RETURNS jsonb
  AS 'esi_fdw', 'esi_test_jwt_verify' LANGUAGE C STRICT;
CREATE FUNCTION esi_test_refusal(status int, body text, scope text, roles text) RETURNS jsonb
  AS 'esi_fdw', 'esi_test_refusal' LANGUAGE C;

-- an error as data, key ids and the key file's path masked
CREATE FUNCTION crypto_error(q text,
  OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  state := 'no error';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  message := regexp_replace(message, '\m[0-9a-f]{8}\M', '<id>', 'g');
  detail := regexp_replace(regexp_replace(detail, '"/[^"]*"', '<key file>', 'g'),
                           'holds \d+ keys', 'holds N keys');
END $$;

-- the default key file: esi_fdw.key beside the data directory, not in it
SHOW esi_fdw.key_file;
SELECT esi_test_key_file() = regexp_replace(current_setting('data_directory'), '/[^/]*$', '')
         || '/esi_fdw.key' AS beside_pgdata,
       starts_with(esi_test_key_file(), current_setting('data_directory') || '/') AS inside_pgdata;

-- round trip; the value holds no plaintext and names the current key
CREATE TEMP TABLE sealed AS
  SELECT esi_test_seal('refresh-token-0123456789', 'refresh_token:2112625428') AS v;
SELECT esi_test_unseal(v, 'refresh_token:2112625428') FROM sealed;
SELECT length(v) - length('refresh-token-0123456789') AS overhead,
       get_byte(v, 0) AS magic, get_byte(v, 1) AS version,
       position('refresh-token'::bytea IN v) AS plaintext_at,
       esi_test_key_id(v) = esi_test_current_key_id() AS current_key
  FROM sealed;
-- a random nonce: the same value sealed twice differs
SELECT esi_test_seal('same', 'aad') <> esi_test_seal('same', 'aad') AS differs;
SELECT esi_test_unseal(esi_test_seal('', 'aad'), 'aad') = '' AS empty_ok,
       esi_test_unseal(esi_test_seal(repeat('x', 100000), ''), '') = repeat('x', 100000) AS long_ok;

-- the associated data binds the value to its row
SELECT * FROM crypto_error($$SELECT esi_test_unseal(v, 'refresh_token:1') FROM sealed$$);
SELECT * FROM crypto_error($$SELECT esi_test_unseal(v, '') FROM sealed$$);

-- any altered byte is caught: header, key id, nonce, ciphertext, tag
SELECT what, e.state, e.message, e.detail
  FROM (VALUES ('magic', 0), ('version', 1), ('key id', 3), ('nonce', 10),
               ('ciphertext', 18), ('tag', 57)) AS t(what, pos),
       LATERAL crypto_error(format(
         'SELECT esi_test_unseal(set_byte(v, %s, get_byte(v, %s) # 1), %L) FROM sealed',
         pos, pos, 'refresh_token:2112625428')) AS e;
-- a value marked as sealed before 0.6.0 (format 1: bound to its row only)
-- is refused: values are bound to their database too, and format 1 values
-- are read only to bind them (the update to 0.6.0, esi.rekey())
SELECT * FROM crypto_error($$SELECT esi_test_unseal(set_byte(v, 1, 1), 'refresh_token:2112625428') FROM sealed$$);
SELECT * FROM crypto_error($$SELECT esi_test_unseal(substring(v FROM 1 FOR 20), 'x') FROM sealed$$);
SELECT * FROM crypto_error($$SELECT esi_test_key_id('\x00'::bytea)$$);

-- re-keying: a new current key; values sealed before stay readable
SELECT esi_test_current_key_id() AS old_key \gset
SELECT esi_test_add_key();
SELECT esi_test_current_key_id() <> :old_key AS new_current;
CREATE TEMP TABLE sealed2 AS SELECT esi_test_seal('second value', 'aad2') AS v;
SELECT esi_test_key_id(v) = esi_test_current_key_id() AS sealed_with_new FROM sealed2;
SELECT esi_test_key_id(v) = :old_key AS sealed_with_old,
       esi_test_unseal(v, 'refresh_token:2112625428') FROM sealed;
-- dropping every key but the current one: the old value cannot be read
SELECT esi_test_drop_keys_except('{}');
SELECT * FROM crypto_error($$SELECT esi_test_unseal(v, 'refresh_token:2112625428') FROM sealed$$);
SELECT esi_test_unseal(v, 'aad2') FROM sealed2;
-- keeping a key by id: add a third key, keep the second
SELECT esi_test_current_key_id() AS second_key \gset
SELECT esi_test_add_key();
CREATE TEMP TABLE sealed3 AS SELECT esi_test_seal('third value', 'aad3') AS v;
SELECT esi_test_drop_keys_except(ARRAY[:second_key, 12345]);
SELECT (SELECT esi_test_unseal(v, 'aad2') FROM sealed2) AS second,
       (SELECT esi_test_unseal(v, 'aad3') FROM sealed3) AS third,
       (SELECT esi_test_key_id(v) FROM sealed3) = esi_test_current_key_id() AS third_current;

-- the key file setting is the superuser's, set in the configuration only
SET esi_fdw.key_file = '/tmp/elsewhere.key';
CREATE ROLE regress_crypto_user;
SET ROLE regress_crypto_user;
SHOW esi_fdw.key_file;
SELECT * FROM crypto_error($$SELECT esi_test_seal('x', 'y')$$);
RESET ROLE;
DROP ROLE regress_crypto_user;

-- JWT verification
CREATE TEMP TABLE jwt (name text PRIMARY KEY, value text NOT NULL);
\copy jwt FROM 'test/fixtures/jwt.tsv'
CREATE TEMP VIEW jwt_case AS
  SELECT t.name, t.value AS token,
         (SELECT value FROM jwt WHERE name = 'jwks') AS jwks,
         (SELECT value FROM jwt WHERE name = 'client_id') AS client_id
    FROM jwt t WHERE t.name NOT IN ('jwks', 'client_id');
CREATE TEMP VIEW jwt_result AS
  SELECT name, token, esi_test_jwt_verify(token, jwks, client_id) AS r FROM jwt_case;
-- the tokens that pass (iss in both forms, scp as an array, a string or absent)
SELECT name, jsonb_pretty(r) AS claims FROM jwt_result WHERE NOT r ? 'error' ORDER BY name;
-- the others, with the check that failed
SELECT name, r->>'error' AS error, r->>'why' AS why, r->>'kid' AS kid
  FROM jwt_result WHERE r ? 'error' ORDER BY error, name;
-- a reason never holds (a part of) the token
SELECT count(*) AS reasons_with_token
  FROM jwt_result, regexp_split_to_table(token, '\.') AS part
 WHERE length(part) >= 8 AND position(part IN r::text) > 0;
-- another client's id
SELECT esi_test_jwt_verify(token, jwks, 'another-client')
  FROM jwt_case WHERE name = 'valid';
-- exp (2100-01-01 00:00:00 UTC) with esi_fdw.sso_clock_skew = 60s
SHOW esi_fdw.sso_clock_skew;
SELECT label, esi_test_jwt_verify(token, jwks, client_id, at::timestamptz) ->> 'error' AS error
  FROM jwt_case,
       (VALUES ('a minute before', '2099-12-31 23:59:00+00'),
               ('at exp', '2100-01-01 00:00:00+00'),
               ('59 s after', '2100-01-01 00:00:59+00'),
               ('60 s after', '2100-01-01 00:01:00+00'),
               ('a year after', '2101-01-01 00:00:00+00')) AS a(label, at)
 WHERE name = 'valid';
-- a broken JWKS reads as an unknown key (the caller refetches it)
SELECT j, esi_test_jwt_verify(token, j, client_id)
  FROM jwt_case,
       (VALUES ('not json'), ('{}'), ('{"keys": 5}'), ('{"keys": []}'), ('{"keys": [1, "x"]}'),
               ('{"keys": [{"kid": "JWT-Signature-Key", "kty": "RSA", "n": "AQAB", "e": "AQAB"}]}'),
               ('{"keys": [{"kid": "JWT-Signature-Key", "kty": "RSA", "alg": "RS512"}]}')) AS k(j)
 WHERE name = 'valid';
-- an ES256 token and EC keys it cannot use
SELECT j, esi_test_jwt_verify(token, j, client_id)
  FROM jwt_case,
       (VALUES ('{"keys": [{"kid": "JWT-Signature-Key-ES256", "kty": "EC", "crv": "P-256", "x": "AQAB", "y": "AQAB"}]}'),
               ('{"keys": [{"kid": "JWT-Signature-Key-ES256", "kty": "EC", "x": "AQAB", "y": "AQAB"}]}'),
               ('{"keys": [{"kid": "JWT-Signature-Key-ES256", "kty": "EC", "crv": "P-256", "alg": "ES384"}]}'),
               ('{"keys": [{"kid": "JWT-Signature-Key-ES256", "kty": "OKP", "crv": "Ed25519", "x": "AQAB"}]}')) AS k(j)
 WHERE name = 'es256_valid';
-- one kid for an RSA and an EC key: each algorithm takes the key of its type
SELECT c.name, esi_test_jwt_verify(c.token, replace(c.jwks, '"JWT-Signature-Key-ES256"', '"JWT-Signature-Key"'),
                                   c.client_id) ->> 'error' AS error
  FROM jwt_case c WHERE c.name IN ('valid', 'es256_rsa_key') ORDER BY c.name;
SELECT esi_test_jwt_verify('', '{}', 'x'), esi_test_jwt_verify('a.b.c.d', '{}', 'x');

-- ESI's refusals of a request with a token: the token's (a fresh token is
-- tried once, nothing is remembered), or the character's (remembered, and
-- the HINT says which); the bodies are ESI's, from its public record
SELECT status, body, r->>'kind' AS kind, r->>'sso_status' AS sso_status
  FROM (VALUES (401, '{"error":"authentication failure"}'),
               (403, '{"error":"unexpected end of JSON input","sso_status":401}'),
               (403, '{"error":"SSO responded with a 400: Invalid token"}'),
               (403, '{"error":"SSO responded with a 503: <!DOCTYPE HTML>"}'),
               (403, '{"error":"token expiry is too far in the future","sso_status":200}'),
               (403, '{"error":"token is expired","sso_status":401}'),
               (403, '{"error":"token is expired"}'),
               (403, '{"error":"invalid token"}'),
               (403, '{"error":"token not valid for scope"}'),
               (403, '{"error":"Character does not have required role(s)"}'),
               (403, '{"error":"Character is not in the corporation"}'),
               (403, '{"error":"token not valid for character"}'),
               (403, '{"error":"Forbidden"}'),
               (403, '<html>403 Forbidden</html>'),
               (403, ''),
               (403, '{"error":"Ssoless message about a tokenizer"}')) AS v(status, body),
       LATERAL esi_test_refusal(status, body, 'esi-assets.read_corporation_assets.v1', 'Director') AS r;
-- the HINT of each kind: the token's trouble never sends the player to log
-- in again; a missing scope does; a missing role names the roles
SELECT status, body, r->>'hint' AS hint
  FROM (VALUES (1, 401, '{"error":"authentication failure"}'),
               (2, 403, '{"error":"unexpected end of JSON input","sso_status":401}'),
               (3, 403, '{"error":"SSO responded with a 400: Invalid token"}'),
               (4, 403, '{"error":"token not valid for scope"}'),
               (5, 403, '{"error":"Character does not have required role(s)"}'),
               (6, 403, '{"error":"Character is not in the corporation"}')) AS v(i, status, body),
       LATERAL esi_test_refusal(status, body, 'esi-assets.read_corporation_assets.v1', 'Director') AS r
 ORDER BY i;
SELECT esi_test_refusal(403, '{"error":"Character does not have required role(s)"}', 'esi-x.v1', NULL)->>'hint' AS no_roles,
       esi_test_refusal(403, '{"error":"unexpected end of JSON input","sso_status":401}', NULL, NULL)->>'hint' AS public_route;
