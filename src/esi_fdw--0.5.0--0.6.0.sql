-- esi_fdw 0.5.0 -> 0.6.0: talking to the real ESI (issue 15).
\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.6.0'" to load this file. \quit

-- == transport ==

-- == cache ==

-- == esi behaviour ==

-- == sso ==
