/*-------------------------------------------------------------------------
 *
 * crawl.h
 *		  The requests of scans, lookups and writes go through a crawl: the
 *		  pages of a scan, the requests of a lookup, and a write (a crawl of
 *		  one request, sent at most once).  One pipeline: cache, ESI's
 *		  limits, send, a refused token renewed once, retries, errors,
 *		  statistics.  The GETs that choose a corporation's character (its
 *		  corporation and roles) are crawls too, nested in a bearer
 *		  source's subject call (bearer.c, ESI_CRAWL_NESTED).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CRAWL_H
#define ESI_CRAWL_H

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
 * Who provides the Authorization of a crawl's requests: the crawl only asks.
 * A crawl of a public route has none (NULL).  bearer.h makes one from the
 * token service (tokens.c); the crawl calls it from the backend, between
 * steps of its transfers (no call is made while libcurl is running one, but
 * other transfers of the crawl may be in flight and are not serviced while
 * a call runs).  Any callback may raise an ERROR; the crawl then cleans up
 * as on any error.
 *
 * subject	The character a request acts for: its character_id as text, or
 *			for a corporation's route the character chosen to act for the
 *			corporation.  Called before the request's cache lookup and its
 *			turn under ESI's limits (both are per character).  May run SQL
 *			as the extension's privileged user (SPI: logins and grants) and,
 *			to choose a corporation's character, run nested crawls of one
 *			request each (its corporation and roles, ESI_CRAWL_NESTED, with
 *			a source that never chooses a corporation's character) and a
 *			token refresh at EVE SSO.
 *			The string lives as long as the source.
 * check	The role may read the character's data: called before a cached
 *			reply of the character is served.  May run privileged SPI.
 * bearer	"Bearer <access token>" for the character, kept by the source for
 *			the crawl's other requests until refused.  May run privileged
 *			SPI, make a blocking HTTP request to EVE SSO (a refresh, under
 *			esi_fdw.request_timeout) and wait for the background worker that
 *			commits token writes (starting it when needed).
 * refused	ESI refused that bearer (a 401, or a 403 saying SSO could not
 *			vouch for it): forget it, here and for every session, unless
 *			the source holds a newer one for the character already; the
 *			next bearer call then gets a fresh token.  May take the token
 *			service's shared lock; makes no request.
 * release	The crawl ends (or fails): wipe the tokens held.  Must not fail.
 */
typedef struct EsiBearerSource EsiBearerSource;
struct EsiBearerSource
{
	const char *(*subject) (EsiBearerSource *src, EsiRequest *req);
	void		(*check) (EsiBearerSource *src, const char *who);
	const char *(*bearer) (EsiBearerSource *src, const char *who);
	void		(*refused) (EsiBearerSource *src, const char *who,
							const char *bearer);
	void		(*release) (EsiBearerSource *src);
};

/*
 * How a crawl sends its requests (flags of esi_crawl_begin).
 *
 * ESI_CRAWL_SEND_ONCE: writes.  Each request goes out at most once, on a
 * new connection, and is never retried once any byte may have reached ESI
 * (http.c's re-sends of a stream HTTP/2 says was not processed stay): a
 * lost reply, or a gateway's 5xx (all but 501, 503 and 505), raises
 * SQLSTATE 08007 "may have happened"; any other error reply, 429 and 420
 * included, is raised as ESI's error ("did not happen").  Only a refused
 * token is sent once more, with a fresh one (ESI acted on nothing).  Errors
 * carry a CONTEXT line saying whether the write may have reached ESI, every
 * 2xx is a page (EsiPage.status), and cached replies of the path's owner and
 * of the acting character are dropped once the request went out.
 */
#define ESI_CRAWL_SEND_ONCE		0x01

/*
 * ESI_CRAWL_NESTED: a crawl a bearer source runs inside another crawl's
 * subject call (bearer.c: the corporation and roles of a character, to
 * choose who acts for a corporation).  Crawl state is per crawl, so the
 * outer crawl's transfers wait, untouched, while it runs (they are not
 * serviced meanwhile, as during any source call); its requests count in
 * esi.route_stats under their own route and wait on ESI's limits like any
 * other, but not in scan_report.h (a refresh's requests and next run are
 * those of its own routes) nor in the outer scan's EsiCrawlStats (EXPLAIN
 * ANALYZE).  One thing is shared: this backend's wait for another
 * session's fetch (cache.c); the nested crawl's end ends it, and the outer
 * crawl then looks again after a plain sleep.
 */
#define ESI_CRAWL_NESTED		0x02

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
	long		status;			/* 200; 404 when route->pass_not_found; any
								 * 2xx with ESI_CRAWL_SEND_ONCE */
	int			reqno;			/* private to crawl.c */
	char	   *storage;		/* private: the block a cached body is in */
	char	   *stored_key;		/* private: the cache key it was stored under */
} EsiPage;

extern EsiCrawl *esi_crawl_begin(MemoryContext parent, EsiRoute *route,
								 EsiServerOptions *opts,
								 EsiRequestIter *requests,
								 double row_bound, EsiBearerSource *bearers,
								 int flags, EsiCrawlStats *stats);
extern EsiPage *esi_crawl_next_page(EsiCrawl *c);
extern void esi_crawl_pump(EsiCrawl *c);
extern void esi_crawl_page_done(EsiCrawl *c, EsiPage *page);
extern void esi_crawl_end(EsiCrawl *c);

#endif							/* ESI_CRAWL_H */
