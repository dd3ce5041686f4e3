/*-------------------------------------------------------------------------
 *
 * progress.h
 *		  The progress of long work (esi.progress): each running scan and
 *		  refresh, in a backend or a background worker, as one row.
 *
 * Like PostgreSQL's pg_stat_progress_* views: every process has a slot
 * in shared memory that only it writes, without a lock; readers copy a
 * slot and retry when it changed meanwhile (a change counter, as
 * PgBackendStatus's st_changecount).  Names are copied into the slot as
 * text, so that a reader never looks up another database's catalogs.
 *
 * A crawl (crawl.c) publishes its scan: the table or function, the route,
 * pages done of pages known, rows, bytes, requests, retries, and what it
 * waits on now.  A refresh step (refresh_worker.c) names its target.  What
 * is published goes away at the end of the scan or refresh, at the abort
 * of the (sub)transaction that began it, and when the process exits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_PROGRESS_H
#define ESI_PROGRESS_H

#include "datatype/timestamp.h"

#define ESI_PROGRESS_NAME_LEN	128 /* table, function, role, database */
#define ESI_PROGRESS_ROUTE_LEN	160
#define ESI_PROGRESS_TARGET_LEN 256
#define ESI_PROGRESS_KIND_LEN	16
#define ESI_PROGRESS_EVENT_LEN	96

/* what a scan waits on (wait_kind in esi.progress) */
#define ESI_WAIT_ESI		"esi"	/* replies of requests in flight */
#define ESI_WAIT_LIMIT		"limit" /* ESI's error limit or a rate limit */
#define ESI_WAIT_COALESCING "coalescing"	/* another session's fetch of
											 * the same cached reply */
#define ESI_WAIT_TOKEN		"token" /* an access token (maybe a refresh at
									 * EVE SSO) */
#define ESI_WAIT_RETRY		"retry" /* the back-off before a retry */

/*
 * A scan as it is published: the crawl fills the counters (its own, from
 * its begin) and calls esi_progress_scan_update.
 */
typedef struct EsiProgressScanData
{
	Oid			roleid;			/* the role the scan runs as */
	char		rolname[ESI_PROGRESS_NAME_LEN];
	char		table_name[ESI_PROGRESS_NAME_LEN];	/* or a function's name */
	char		route[ESI_PROGRESS_ROUTE_LEN];	/* the route template */
	TimestampTz began;
	int64		pages_done;		/* pages received (ESI or the cache) */
	int64		pages_total;	/* pages known: X-Pages per request, and
								 * the pages of requests without one */
	int64		rows;			/* rows decoded */
	int64		bytes;			/* body bytes received from ESI */
	int64		requests;		/* requests sent to ESI */
	int64		cache_hits;		/* pages the cache answered */
	int64		retries;
	char		wait_kind[ESI_PROGRESS_KIND_LEN];	/* "" = not waiting */
	char		wait_event[ESI_PROGRESS_EVENT_LEN]; /* more about it, or "" */
	TimestampTz wait_since;
} EsiProgressScanData;

typedef struct EsiProgressScan
{
	EsiProgressScanData d;
	int			nest;			/* transaction nesting level it began in */
} EsiProgressScan;

/* a scan (a crawl) */
extern EsiProgressScan *esi_progress_scan_begin(const char *table_name,
												const char *route);
extern void esi_progress_scan_update(EsiProgressScan *s);
extern void esi_progress_wait(EsiProgressScan *s, const char *kind,
							  const char *event, TimestampTz since);
extern void esi_progress_scan_end(EsiProgressScan *s);

/* a refresh (its step that reads ESI and writes the snapshot) */
extern void esi_progress_target_begin(const char *target);
extern void esi_progress_target_end(void);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_progress_shmem_size(void);
extern void esi_progress_shmem_init(void *area, bool found, int tranche);

#endif							/* ESI_PROGRESS_H */
