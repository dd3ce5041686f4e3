/*-------------------------------------------------------------------------
 *
 * crawl.h
 *		  The transfers of one scan: concurrency, retries and limits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CRAWL_H
#define ESI_CRAWL_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "option.h"
#include "paging.h"
#include "request.h"
#include "route.h"

typedef struct EsiCrawlStats
{
	int64		requests;
	int64		pages;
	int64		bytes;
	int64		retries;
	int64		status_counts[6];	/* [0] transport errors, [n] nxx */
	int64		rows;
	double		wait_ms;
	bool		cache_used;		/* the scan used the cache */
	int64		cache_hits;		/* pages served by the cache */
	int64		not_modified;	/* 304 replies */
	double		limit_wait_ms;	/* waiting for ESI's error or rate limit */
	double		coalesce_wait_ms;	/* waiting for another session's request */
} EsiCrawlStats;

typedef struct EsiCrawl EsiCrawl;

/*
 * A page ready for decoding.  The scan fills facts while it decodes and
 * hands the page back with esi_crawl_page_done.
 */
typedef struct EsiPage
{
	const char *body;			/* the reply body, NUL-terminated */
	size_t		len;
	EsiRequest *req;			/* the request: values of parameter columns */
	EsiPageKey	key;			/* which page of the request's walk */
	EsiPageFacts facts;			/* what the scan found on it */
	long		status;			/* 200; 404 when route->pass_not_found */
	int			reqno;			/* private to crawl.c */
	char	   *storage;		/* private: the block a cached body is in */
	char	   *stored_key;		/* private: the cache key it was stored under */
} EsiPage;

extern EsiCrawl *esi_crawl_begin(MemoryContext parent, EsiRoute *route,
								 EsiServerOptions *opts,
								 EsiRequestIter *requests,
								 double row_bound, EsiCrawlStats *stats);
extern EsiPage *esi_crawl_next_page(EsiCrawl *c);
extern void esi_crawl_pump(EsiCrawl *c);
extern void esi_crawl_page_done(EsiCrawl *c, EsiPage *page);
extern void esi_crawl_end(EsiCrawl *c);

#endif							/* ESI_CRAWL_H */
