/*-------------------------------------------------------------------------
 *
 * crawl.h
 *		  The transfers of one scan: paging, concurrency, retries and limits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CRAWL_H
#define ESI_CRAWL_H

#include "postgres.h"

#include "http.h"
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
} EsiCrawlStats;

typedef struct EsiCrawl EsiCrawl;

/* A page ready for decoding */
typedef struct EsiPage
{
	EsiTransfer *t;
	EsiRequest *req;
	int			reqno;
} EsiPage;

extern EsiCrawl *esi_crawl_begin(MemoryContext parent, EsiRoute *route,
								 EsiServerOptions *opts, List *requests,
								 double row_bound, EsiCrawlStats *stats);
extern EsiPage *esi_crawl_next_page(EsiCrawl *c);
extern void esi_crawl_pump(EsiCrawl *c);
extern void esi_crawl_page_done(EsiCrawl *c, EsiPage *page, int64 rows,
								const char *next_cursor);
extern void esi_crawl_end(EsiCrawl *c);

#endif							/* ESI_CRAWL_H */
