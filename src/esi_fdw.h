/*-------------------------------------------------------------------------
 *
 * esi_fdw.h
 *		  Constants shared by the files of esi_fdw, and a map of its modules.
 *
 * Data flows one way: options -> route -> requests -> transfers -> pages ->
 * tuples.  Each module's header is its whole face:
 *
 *	valid.h		the rules for values that reach ESI's wire, shared by
 *				settings and options (valid.c)
 *	guc.h		settings: every esi_fdw.* GUC, the refresh's too (guc.c)
 *	option.h	validation of options; a server's settings, the GUCs as
 *				defaults (option.c; option -> guc -> valid, one way)
 *	route.h		a foreign table's options turned into an EsiRoute (route.c)
 *	request.h	quals turned into ESI parameters; the requests of a scan
 *				(request.c)
 *	http.h		libcurl: transfers, headers, bodies (http.c)
 *	crawl.h		the requests to ESI: a scan's pages, a lookup's batches, a
 *				write (one request, sent at most once); cache, concurrency,
 *				retries, limits, token renewal, statistics (crawl.c).  It
 *				asks an EsiBearerSource (declared there) who authorizes a
 *				request
 *	scan_report.h	what this backend's scans sent and read (requests,
 *				earliest expiry): filled by the crawl, read by the
 *				refresh (scan_report.c)
 *	bearer.h	the bearer source of a route that acts for a character:
 *				tokens.h's characters and access tokens (bearer.c)
 *	paging.h	the next page of a paged result, for every paging style
 *				(paging.c)
 *	decode.h	JSON pages straight into tuple datums (decode.c)
 *	esi_error.h ESI's HTTP errors turned into ereport()s (esi_error.c)
 *	catalog.h	IMPORT FOREIGN SCHEMA and esi.catalog() (catalog.c) over the
 *				generated catalog (esi_catalog.h, esi_catalog_data.c)
 *	call.h		ESI's POST, PUT and DELETE routes as SQL functions; a write
 *				as a crawl of one request (call.c, over crawl.h)
 *	modify.h	writable foreign tables: contacts and fittings through
 *				ESI's writes (modify.c, over call.h)
 *
 * Shared by every session of the cluster (shared memory set up by shmem.c):
 *
 *	cache.h		the response cache: index in shared memory, bodies in
 *				files; coalescing of concurrent requests (cache.c)
 *	throttle.h	ESI's error limit and rate limits (throttle.c)
 *	stats.h		per-route counters behind esi.route_stats (stats.c)
 *	shmem.h		the one shared-memory set-up at server start: each part
 *				above (and tokens, the refresh workers' slots) gives a
 *				size and an init; shmem.c creates the areas and their
 *				lock tranches (shmem.c)
 *
 * EVE SSO:
 *
 *	crypto.h	tokens at rest: AES-256-GCM under the key file (crypto.c)
 *	jwt.h		verification of SSO access tokens against a JWKS (jwt.c)
 *				(sso_test.c: SQL entry points into both, for the tests)
 *	sso.h		SSO's protocol: metadata, authorize URL with PKCE, the token
 *				and revocation endpoints (sso.c)
 *	logins.c	logins, grants, client secrets and re-keying from SQL
 *				(SQL functions only, over tokens.h)
 *	tokens.h	the token service: access tokens for scans and calls,
 *				refreshed once for all sessions; rotated refresh tokens
 *				kept in shared memory until stored (tokens.c)
 *	token_worker.h	the background worker that commits every token write
 *				(token_worker.c)
 *
 * Privileged SQL (used by logins, tokens, calls and the workers):
 *
 *	privileged_sql.h	SQL run with rights the caller lacks (the
 *				bootstrap superuser in a backend), search_path pinned
 *				and every setting its code changed undone
 *				(privileged_sql.c)
 *	own_xact.h	a background worker's SQL in a transaction of its own
 *				(own_xact.c)
 *	worker_db.h	how a background worker enters a database: as the
 *				extension's owner, where the extension exists (worker_db.c)
 *
 * Snapshots (the SQL of esi.track and esi.refresh is in the update scripts):
 *
 *	refresh_worker.h	background refresh: a launcher and a pool of workers
 *				that refresh targets when their ESI data expires, each
 *				worker slot owned by one pid; the refresh's SQL entry
 *				points, _watch_* over scan_report.h (refresh_worker.c)
 *
 *	bulk_load.h	a query's rows written into a table the way COPY FROM
 *				writes them: esi._bulk_insert() (bulk_load.c)
 *
 * esi_fdw.c holds module load and the FDW callbacks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_FDW_H
#define ESI_FDW_H

#define ESI_FDW_VERSION "0.7.0"
#define ESI_DEFAULT_BASE_URL "https://esi.evetech.net"

#endif							/* ESI_FDW_H */
