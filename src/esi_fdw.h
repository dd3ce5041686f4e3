/*-------------------------------------------------------------------------
 *
 * esi_fdw.h
 *		  A map of esi_fdw's modules (the header holds nothing else).
 *
 * A folder per subsystem under src/, a file per concern; each module's
 * header is its whole face (headers are included by name: the Makefile puts
 * every folder on the include path).  Data flows one way: options -> route
 * -> requests -> transfers -> pages -> tuples.
 *
 * esi_fdw.c	module load and the FDW callbacks
 *
 * settings/	what the user sets
 *	guc.h		every esi_fdw.* setting (guc.c)
 *	option.h	validation of options; a server's settings, the settings as
 *				defaults (option.c; option -> guc -> valid, one way)
 *	valid.h		the rules for values that reach ESI's wire, shared by
 *				settings and options (valid.c)
 *
 * http/		the transport under ESI's client and EVE SSO alike
 *	http.h		libcurl: transfers, headers, bodies, gzip (http.c)
 *
 * scan/		a foreign table's scan, before and after the client
 *	route.h		a foreign table's options turned into an EsiRoute; how
 *				messages name it (route.c)
 *	request.h	quals turned into ESI parameters; the requests of a scan
 *				(request.c)
 *	paging.h	the next page of a paged result, for every paging style
 *				(paging.c)
 *	decode.h	JSON pages straight into tuple datums (decode.c)
 *
 * client/		the one way to ESI (reads, lookups and writes alike)
 *	crawl.h		the requests to ESI: a scan's pages, a lookup's batches, a
 *				write (one request, sent at most once); cache, concurrency,
 *				retries, limits, token renewal, statistics (crawl.c).  It
 *				asks an EsiBearerSource (declared there) who authorizes a
 *				request
 *	bearer.h	the bearer source of a route that acts for a character:
 *				sso/tokens.h's characters and access tokens; for a
 *				corporation's route it chooses the character, asking ESI
 *				through nested one-request crawls (bearer.c)
 *	esi_error.h ESI's HTTP errors turned into ereport()s (esi_error.c)
 *	scan_report.h	what this backend's scans sent and read (requests,
 *				earliest expiry): filled by the crawl, read by the
 *				refresh (scan_report.c)
 *	cache.h		shared by the cluster: the response cache, index in shared
 *				memory, bodies in files; coalescing (cache.c)
 *	throttle.h	shared: ESI's error limit and rate limits (throttle.c)
 *	stats.h		shared: per-route counters behind esi.route_stats (stats.c)
 *
 * calls/		ESI's writes
 *	call.h		ESI's POST, PUT and DELETE routes as SQL functions; a write
 *				as a crawl of one request (call.c, over crawl.h)
 *	modify.h	writable foreign tables: contacts and fittings through
 *				ESI's writes (modify.c, over call.h)
 *
 * sso/			EVE SSO and the tokens
 *	sso.h		SSO's protocol: metadata, authorize URL with PKCE, the token
 *				and revocation endpoints (sso.c)
 *	logins.c	logins, grants, client secrets and re-keying from SQL
 *				(SQL functions only, over tokens.h)
 *	tokens.h	the token service: access tokens for scans and calls,
 *				refreshed once for all sessions; rotated refresh tokens
 *				kept in shared memory until stored (tokens.c)
 *	token_worker.h	the background worker that commits every token write
 *				(token_worker.c)
 *	crypto.h	tokens at rest: AES-256-GCM under the key file (crypto.c)
 *	jwt.h		verification of SSO access tokens against a JWKS (jwt.c)
 *				(sso_test.c: SQL entry points into both, for the tests)
 *
 * refresh/		snapshots (their SQL: src/sql/snapshots.sql)
 *	refresh_worker.h	background refresh: a launcher and a pool of workers
 *				that refresh targets when their ESI data expires, each
 *				worker slot owned by one pid; the refresh's SQL entry
 *				points, _watch_* over scan_report.h (refresh_worker.c)
 *	bulk_load.h	a query's rows written into a table the way COPY FROM
 *				writes them: esi._bulk_insert() (bulk_load.c)
 *
 * catalog/		the routes
 *	catalog.h	IMPORT FOREIGN SCHEMA and esi.catalog() (catalog.c) over the
 *				generated catalog (esi_catalog.h, esi_catalog_data.c,
 *				written by gen_catalog.py)
 *
 * server/		esi_fdw's life inside the server
 *	shmem.h		the one shared-memory set-up at server start: cache,
 *				limits, stats, tokens, the refresh workers' and the
 *				progress slots each give a size and an init, listed in
 *				esi_fdw.c; shmem.c creates the areas and their lock
 *				tranches, knowing no subsystem (shmem.c)
 *	privileged_sql.h	SQL run with rights the caller lacks (the
 *				bootstrap superuser in a backend), search_path pinned
 *				and every setting its code changed undone
 *				(privileged_sql.c)
 *	own_xact.h	a background worker's SQL in a transaction of its own
 *				(own_xact.c)
 *	worker_db.h	how a background worker enters a database: as the
 *				extension's owner, where the extension exists (worker_db.c)
 *
 * sql/			the extension's SQL, per subsystem, and the build of its
 *				versioned scripts (doc/development.md, "The SQL scripts")
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_FDW_H
#define ESI_FDW_H


#endif							/* ESI_FDW_H */
