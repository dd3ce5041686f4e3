--
-- security: who may decide where requests go, and text that could smuggle
-- headers or requests onto the wire
--
\getenv esi_url ESI_SIM_URL
-- an error as data, the simulator's URL (its port changes) masked
CREATE FUNCTION sim.error_masked(q text,
  OUT state text, OUT message text, OUT detail text, OUT hint text)
LANGUAGE sql AS $$
  SELECT e.state, replace(e.message, current_setting('regress.sim_url'), '<sim>'),
         replace(e.detail, current_setting('regress.sim_url'), '<sim>'), e.hint
    FROM sim.error_of(q) e
$$;
SELECT set_config('regress.sim_url', :'esi_url', false) IS NOT NULL AS ok;

CREATE ROLE regress_esi_user;
GRANT USAGE ON FOREIGN DATA WRAPPER esi_fdw TO regress_esi_user;
GRANT USAGE ON SCHEMA sim TO regress_esi_user;
GRANT SELECT ON sim.requests, sim.reset TO regress_esi_user;
CREATE SCHEMA regress_esi_user_tables AUTHORIZATION regress_esi_user;

-- only the real ESI is allowed by default
SHOW esi_fdw.allowed_base_urls;

SET ROLE regress_esi_user;
-- a role that is not a superuser cannot point a server anywhere else ...
SELECT * FROM sim.error_masked(format(
  'CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url %L)', :'esi_url'));
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://169.254.169.254/latest');
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'https://esi.evetech.net.example.com');
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'https://esi.evetech.net:8443');
-- ... may use the allowed one (and paths below it, whatever the case of the host) ...
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'https://esi.evetech.net/');
CREATE SERVER mine2 FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'https://ESI.evetech.net/latest');
-- ... or none (esi_fdw.base_url, which only a superuser sets) ...
CREATE SERVER mine3 FOREIGN DATA WRAPPER esi_fdw OPTIONS (user_agent 'me');
-- ... and cannot change it later
ALTER SERVER mine OPTIONS (SET base_url 'http://127.0.0.1:1');
ALTER SERVER mine3 OPTIONS (ADD base_url 'http://127.0.0.1:1');
-- nor the settings that decide it
SET esi_fdw.allowed_base_urls = '*';
SET esi_fdw.base_url = 'http://127.0.0.1:1';
SET esi_fdw.verify_tls = off;
DROP SERVER mine, mine2, mine3;
RESET ROLE;

-- a server a superuser pointed at the simulator is usable by roles it lets in
CREATE SERVER vetted FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url :'esi_url');
GRANT USAGE ON FOREIGN SERVER vetted TO regress_esi_user;
SET ROLE regress_esi_user;
CREATE FOREIGN TABLE regress_esi_user_tables.prices (type_id bigint, average_price double precision)
  SERVER vetted OPTIONS (route '/markets/prices');
SELECT type_id, average_price
  FROM regress_esi_user_tables.prices WHERE type_id = 34;
RESET ROLE;

-- given to a role that is not a superuser, the server's URL is checked again
-- when it is used (the owner could have set it) ...
ALTER SERVER vetted OWNER TO regress_esi_user;
SET ROLE regress_esi_user;
SELECT * FROM sim.error_masked('SELECT * FROM regress_esi_user_tables.prices WHERE type_id = 34');
-- ... and when the owner changes its options
SELECT * FROM sim.error_masked('ALTER SERVER vetted OPTIONS (ADD user_agent ''me'')');
RESET ROLE;
SELECT * FROM sim.error_masked('SELECT * FROM regress_esi_user_tables.prices WHERE type_id = 34');

-- a superuser may allow more base URLs for everyone
SELECT set_config('esi_fdw.allowed_base_urls', 'https://esi.evetech.net, ' || :'esi_url' || '/', false) IS NOT NULL AS ok;
SET ROLE regress_esi_user;
SELECT type_id, average_price
  FROM regress_esi_user_tables.prices WHERE type_id = 34;
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url :'esi_url');
DROP SERVER mine;
RESET ROLE;
-- the list holds base URLs
SET esi_fdw.allowed_base_urls = 'https://esi.evetech.net, ftp://example.com';
SET esi_fdw.allowed_base_urls = 'https://user@esi.evetech.net';
SET esi_fdw.allowed_base_urls = '*';
SET ROLE regress_esi_user;
CREATE SERVER anywhere FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1:1');
DROP SERVER anywhere;
RESET ROLE;
RESET esi_fdw.allowed_base_urls;
-- ... or let a role choose
GRANT SET ON PARAMETER esi_fdw.allowed_base_urls TO regress_esi_user;
SET ROLE regress_esi_user;
SET esi_fdw.allowed_base_urls = 'http://127.0.0.1:1';
CREATE SERVER mine FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1:1/esi');
DROP SERVER mine;
RESET esi_fdw.allowed_base_urls;
RESET ROLE;
REVOKE SET ON PARAMETER esi_fdw.allowed_base_urls FROM regress_esi_user;

DROP SCHEMA regress_esi_user_tables CASCADE;
DROP SERVER vetted;
REVOKE ALL ON SCHEMA sim FROM regress_esi_user;
REVOKE ALL ON sim.requests, sim.reset FROM regress_esi_user;
REVOKE ALL ON FOREIGN DATA WRAPPER esi_fdw FROM regress_esi_user;
DROP ROLE regress_esi_user;

-- base URLs: http(s)://host[:port][/path], nothing that hides another host
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://user@127.0.0.1');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1/?x=');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1#x');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1:99999');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http:///x');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://127.0.0.1/a/../b');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url E'http://127.0.0.1/\r\nHost: x');
CREATE SERVER ok FOREIGN DATA WRAPPER esi_fdw OPTIONS (base_url 'http://[::1]:8080/esi/');
DROP SERVER ok;
SET esi_fdw.base_url = 'ftp://esi.evetech.net';
SET esi_fdw.base_url = 'http://127.0.0.1/?x=';
SET esi_fdw.base_url = E'http://127.0.0.1\r\n';

-- control characters in anything sent as a header: server options ...
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (user_agent E'me\r\nHost: evil.example.com');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (language E'en\r\n\r\nGET /smuggled HTTP/1.1');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (tenant E'tranquility\n');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (user_agent E'tab\there');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (user_agent E'del\x7f');
-- ... and the settings any user may set
SET esi_fdw.user_agent = E'me\r\nHost: evil.example.com';
SET esi_fdw.compatibility_date = E'2026-08-04\r\nX-Evil: 1';
SET esi_fdw.compatibility_date = '2026-02-30';
SET esi_fdw.compatibility_date = '2026-8-4';
SET esi_fdw.compatibility_date = 'today';
SHOW esi_fdw.compatibility_date;
SET esi_fdw.compatibility_date = '2024-02-29';
SET esi_fdw.user_agent = 'MyApp/1.0 (me@example.com; Jita IV)';
-- what reaches the wire is what was set
ALTER SERVER esi OPTIONS (DROP user_agent);
SELECT * FROM sim.reset;
SELECT count(*) AS rows FROM eve.market_prices;
SELECT path, user_agent, compat_date FROM sim.requests WHERE path = '/markets/prices';
ALTER SERVER esi OPTIONS (ADD user_agent 'esi_fdw regression tests (dev@example.com)');
RESET esi_fdw.compatibility_date;
RESET esi_fdw.user_agent;

-- one range for connections: the server option and the setting
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (max_connections '65');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (max_connections '1024');
CREATE SERVER bad FOREIGN DATA WRAPPER esi_fdw OPTIONS (max_connections '99999999999999999999');
SET esi_fdw.max_connections = 65;
CREATE SERVER ok FOREIGN DATA WRAPPER esi_fdw OPTIONS (max_connections '64');
DROP SERVER ok;
SET esi_fdw.max_connections = 64;
RESET esi_fdw.max_connections;
