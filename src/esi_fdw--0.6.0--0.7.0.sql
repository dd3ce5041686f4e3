-- esi_fdw 0.6.0 -> 0.7.0
\echo Use "ALTER EXTENSION esi_fdw UPDATE TO '0.7.0'" to load this file. \quit

-- == tokens: rotated refresh tokens kept until stored ==

-- == structure ==
