/*-------------------------------------------------------------------------
 *
 * cache.h
 *		  The response cache shared by every session of the cluster.
 *
 * One entry per request (each page of a paged result is a request): the
 * reply's decoded body and the headers esi_fdw needs again (ETag,
 * Last-Modified, X-Pages), fresh until ESI's expiry; a 304 replaces them
 * with the ones it carries and renews the entry.  A session that needs
 * an entry nobody has claims it and sends the request; others asking for it
 * meanwhile are told to wait (coalescing: esi_cache_sleep, woken by
 * esi_cache_changed) and then read what it stored.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CACHE_H
#define ESI_CACHE_H

#include "datatype/timestamp.h"

#include "http.h"
#include "option.h"

/* a stored reply */
typedef struct EsiCacheReply
{
	int			status;			/* 200, or a 404/403 remembered */
	char	   *body;			/* NUL-terminated; points into storage */
	size_t		len;
	const char *gzip;			/* to store: body as it arrived gzip'ed (the
								 * file keeps it), or NULL */
	size_t		gzip_len;
	char	   *storage;		/* palloc'd block holding all of it */
	char	   *etag;			/* NULL when absent */
	char	   *last_modified;
	char	   *x_pages;
	char	   *key;			/* the entry's key (esi_cache_key) */
	char	   *route;			/* the route template, for esi.cache */
	char	   *url;			/* path and query, for esi.cache */
	TimestampTz stored_at;		/* when ESI last sent or confirmed it */
	TimestampTz expires;
} EsiCacheReply;

/* a session waiting for another's request looks again at least this often
 * (the other may have died without telling) */
#define ESI_CACHE_RECHECK_MS 1000

typedef enum EsiCacheResult
{
	ESI_CACHE_HIT,				/* use the stored reply; send nothing */
	ESI_CACHE_FETCH,			/* send the request (claimed when *claimed);
								 * reply->etag set: revalidate a stale copy */
	ESI_CACHE_BUSY				/* another session is fetching it: ask again
								 * when esi_cache_changed() */
} EsiCacheResult;

extern char *esi_cache_key(EsiServerOptions *opts, const char *display);
extern char *esi_cache_character_key(const char *key, EsiServerOptions *opts,
									 const char *character);
extern EsiCacheResult esi_cache_lookup(const char *key, EsiCacheMode mode,
									   TimestampTz accept_since,
									   EsiCacheReply *reply, bool *claimed);
extern bool esi_cache_changed(void);
extern double esi_cache_sleep(long timeout_ms);
extern void esi_cache_wait_end(void);
extern bool esi_cache_read(const char *key, EsiCacheReply *reply);
extern bool esi_cache_store(const char *key, const char *route,
							const char *url, EsiCacheReply *reply);
extern void esi_cache_revalidated(const char *key, EsiCacheReply *r,
								  EsiTransfer *t, const char *etag);
extern void esi_cache_release(const char *key);
extern void esi_cache_forget(const char *key);
extern int	esi_cache_forget_scope(const char *base_url, const char *path);
extern TimestampTz esi_cache_expiry(EsiTransfer *t, bool *cacheable);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_cache_shmem_size(void);
extern Size esi_cache_index_size(void);
extern void esi_cache_shmem_init(void *area, bool found, int tranche);

/* rebuild the index from the files after a start (the refresh launcher) */
extern void esi_cache_load(void);

#endif							/* ESI_CACHE_H */
