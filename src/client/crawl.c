/*-------------------------------------------------------------------------
 *
 * crawl.c
 *		  The transfers of one scan: concurrency, retries and limits.
 *
 * A scan's requests (one per combination of parameter values) each walk
 * through their pages (paging.c says which page comes next).  Pages that
 * can be fetched together are fetched concurrently over up to
 * max_connections keep-alive connections and handed to the scan in the
 * order they arrive.  At most 2 x max_connections pages are in flight or
 * waiting to be decoded, so memory stays flat however many pages a route
 * has.
 *
 * 5xx replies and broken connections are retried with back-off; 429 waits
 * for Retry-After (seconds or an HTTP date); both at most esi_fdw.max_retries
 * times per page.  420 and other 4xx end the scan with ESI's own message.
 *
 * Before a page is sent, the cluster-wide cache (cache.c) may answer it,
 * or say that another session is fetching it (the page then waits and asks
 * again: coalescing); and ESI's limits (throttle.c) may say to wait.  Such
 * a page is parked, like a retry, until its time comes; a wait that would
 * outlast statement_timeout fails at once.  420 waits for the error-limit
 * window like 429 waits for Retry-After.
 *
 * A route that acts for a character gets its Authorization from the
 * crawl's bearer source (crawl.h): the crawl asks it which character a
 * request is for, for the bearer, and to drop a bearer ESI refused (401, or
 * a 403 saying SSO could not vouch for the token: the page is then sent once
 * more, anew).  What that may cost (SQL, SSO) is the source's business.
 *
 * Writes are crawls too (ESI_CRAWL_SEND_ONCE): one request, the same
 * limits, token renewal and statistics, but sent at most once; see
 * handle_once_done.
 *
 * libcurl resources, cache claims and limit tickets are released by a
 * reset callback on the crawl's memory context, so an ERROR (or Ctrl-C)
 * anywhere leaks nothing and leaves no other session waiting.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "crawl.h"
#include "esi_error.h"
#include "guc.h"
#include "http.h"
#include "progress.h"
#include "scan_report.h"
#include "stats.h"
#include "throttle.h"

/* longest single wait; a cancel ends it at once through the latch */
#define ESI_MAX_WAIT_MS 1000
/* a page to fetch */
typedef struct EsiWork
{
	int			reqno;
	EsiPageKey	key;
	int			attempt;		/* retries after 5xx or broken connections */
	int			rate_waits;		/* waits after 429 */
	bool		fresh;			/* send on a new connection */
	TimestampTz not_before;		/* retry back-off, or a parked page's turn */
	/* the cache */
	char	   *cache_key;		/* NULL until looked up (or not cached) */
	bool		looked_up;		/* the cache said: send it */
	bool		claimed;		/* this crawl fetches it for every session */
	bool		revalidate;		/* the kept copy is of another version */
	char	   *etag;			/* revalidate the kept copy */
	TimestampTz wait_since;		/* waiting for another session's fetch */
	/* the limits */
	bool		reauthorized;	/* sent again with a new token after ESI
								 * refused the token (401, or a 403 naming
								 * SSO) */
	const char *bearer;			/* the Authorization it was sent with (the
								 * bearer source's), or NULL */
	bool		admitted;		/* counted in flight (ticket) */
	EsiLimitTicket ticket;
	TimestampTz limit_since;	/* waiting for a limit since */
	EsiLimitReason limit_why;	/* which limit */
	EsiLimitReason retry_limit; /* waits after a 420 or 429 (esi.progress) */
	TimestampTz sent_at;
} EsiWork;

struct EsiCrawl
{
	MemoryContext cxt;
	EsiRoute   *route;
	EsiServerOptions *opts;
	EsiMulti   *multi;
	EsiRequestIter *requests;	/* built one at a time, as slots free up */
	EsiRequest **reqs;			/* the requests started so far */
	int			nreqs;
	int			maxreqs;		/* allocated length of reqs and walks */
	EsiWalk   **walks;			/* per request started */
	List	   *walking;		/* reqnos whose walk may have more pages */
	List	   *retries;		/* EsiWork waiting to be sent again */
	int			nslots;
	EsiTransfer **slots;
	EsiWork   **slot_work;		/* what each busy slot is fetching */
	int			inflight;
	List	   *ready;			/* EsiPage, FIFO */
	double		row_bound;		/* LIMIT, or -1 */
	int64		rows_done;		/* rows of pages already decoded */
	int64		pages_done;
	bool		decoding;		/* the scan holds a page it has not finished */
	EsiCrawlStats *stats;
	EsiCacheMode cache_mode;	/* the strictest of setting, server, table */
	TimestampTz began;			/* the statement's start: with cache_mode
								 * REFRESH, replies stored since serve */
	bool	   *page1_cached;	/* per request started: page 1 came from
								 * the cache */
	List	   *claims;			/* cache keys this crawl claimed */
	List	   *undecoded;		/* keys stored whose page is not decoded yet */
	bool		clean_end;		/* esi_crawl_end, not an error */
	EsiRouteStats *rstats;		/* the route's shared counters, or NULL */
	char		group[ESI_STATS_GROUP_LEN];	/* rate-limit group, "" unknown */
	EsiBearerSource *auth;		/* who authorizes requests; NULL: public */
	bool		nested;			/* ESI_CRAWL_NESTED: not in scan_report.h
								 * nor in esi.progress */
	EsiProgressScan *progress;	/* esi.progress's entry, or NULL */
	bool		progress_moved; /* its pages known changed */
	EsiCrawlStats base;			/* *stats when the crawl began */
	int		   *xpages;			/* per request started: its X-Pages (0:
								 * none yet) */
	/* ESI_CRAWL_SEND_ONCE */
	bool		once;
	char	   *once_display;	/* its path?query */
	char	   *once_what;		/* "POST /path?query", for messages */
	bool		once_out;		/* sent: cached replies it may change are
								 * not dropped yet */
	enum
	{
		ONCE_CONTEXT_NONE,		/* no CONTEXT line */
		ONCE_CONTEXT_NOT_SENT,	/* "the write did not happen" */
		ONCE_CONTEXT_SENT		/* "may have happened at ESI" */
	}			once_context;
	bool		ended;
	MemoryContextCallback cb;
};


/*
 * crawl_cleanup
 *		Release every libcurl handle and the wait set; runs at esi_crawl_end
 *		and when the crawl's context goes away on error.
 */
static void
crawl_cleanup(void *arg)
{
	EsiCrawl   *c = (EsiCrawl *) arg;

	ListCell   *lc;

	if (c->ended)
		return;
	c->ended = true;
	esi_progress_scan_end(c->progress);
	c->progress = NULL;
	if (c->auth)
		c->auth->release(c->auth);
	/* first let other sessions go on: claims, then requests in flight */
	foreach(lc, c->claims)
		esi_cache_release((const char *) lfirst(lc));
	c->claims = NIL;
	esi_cache_wait_end();
	/* the scan failed: what it stored but did not read may be why */
	if (!c->clean_end)
		foreach(lc, c->undecoded)
			esi_cache_forget((const char *) lfirst(lc));
	c->undecoded = NIL;
	for (int i = 0; i < c->nslots; i++)
		if (c->slot_work[i] && c->slot_work[i]->admitted)
			esi_limits_abandon(&c->slot_work[i]->ticket);
	foreach(lc, c->retries)
	{
		EsiWork    *w = lfirst(lc);

		if (w->admitted)
			esi_limits_abandon(&w->ticket);
	}
	for (int i = 0; i < c->nslots; i++)
		if (c->slots[i])
			esi_http_free_transfer(c->slots[i]);
	esi_http_multi_free(c->multi);
	c->multi = NULL;
}

/*
 * esi_crawl_begin
 *		Set up the transfers of a scan (or a lookup, or a write: flags);
 *		nothing is sent yet.  bearers authorizes the requests of a route
 *		that acts for a character (NULL for a public one).
 */
EsiCrawl *
esi_crawl_begin(MemoryContext parent, EsiRoute *route, EsiServerOptions *opts,
				EsiRequestIter *requests, double row_bound,
				EsiBearerSource *bearers, int flags, EsiCrawlStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "esi_fdw crawl",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EsiCrawl   *c = palloc0(sizeof(EsiCrawl));

	c->cxt = cxt;
	c->route = route;
	c->opts = opts;
	route->opts = opts;			/* for esi_error.c's messages */
	c->requests = requests;
	c->maxreqs = 16;
	c->reqs = palloc0(sizeof(EsiRequest *) * c->maxreqs);
	c->walks = palloc0(sizeof(EsiWalk *) * c->maxreqs);
	c->page1_cached = palloc0(sizeof(bool) * c->maxreqs);
	c->xpages = palloc0(sizeof(int) * c->maxreqs);
	c->nslots = Max(1, opts->max_connections);
	c->slots = palloc0(sizeof(EsiTransfer *) * c->nslots);
	c->slot_work = palloc0(sizeof(EsiWork *) * c->nslots);
	c->row_bound = row_bound;
	c->stats = stats;
	c->cache_mode = Max(Max((EsiCacheMode) esi_guc_cache_mode, opts->cache), route->cache);
	c->began = GetCurrentStatementStartTimestamp();
	c->rstats = esi_stats_route(route->route);
	c->auth = bearers;
	c->once = (flags & ESI_CRAWL_SEND_ONCE) != 0;
	c->nested = (flags & ESI_CRAWL_NESTED) != 0;
	if (c->once)
	{
		c->cache_mode = ESI_CACHE_OFF;
		c->once_context = ONCE_CONTEXT_NOT_SENT;
	}
	if (c->cache_mode != ESI_CACHE_OFF)
		stats->cache_used = true;
	if (route->rate_group && strlen(route->rate_group) < ESI_STATS_GROUP_LEN)
		strlcpy(c->group, route->rate_group, ESI_STATS_GROUP_LEN);
	else
		(void) esi_stats_group(c->rstats, c->group);

	/* register cleanup before creating anything that needs it */
	c->cb.func = crawl_cleanup;
	c->cb.arg = c;
	MemoryContextRegisterResetCallback(cxt, &c->cb);
	c->base = *stats;
	if (!c->nested)
		c->progress = esi_progress_scan_begin(route->relname, route->route);
	c->multi = esi_http_multi_new(cxt);

	MemoryContextSwitchTo(old);
	return c;
}

/*
 * expected_rows_ahead
 *		Rows that pages in flight or waiting will probably bring, from the
 *		rows per page seen so far (unknown = enough to stop for a LIMIT).
 */
static double
expected_rows_ahead(EsiCrawl *c)
{
	double		per_page;
	int			pages = c->inflight + list_length(c->ready) + (c->decoding ? 1 : 0);

	if (c->pages_done == 0)
		return pages > 0 ? INFINITY : 0;
	per_page = (double) c->rows_done / c->pages_done;
	return per_page * pages;
}

/*
 * start_request
 *		Build the scan's next request and begin its walk; false when every
 *		request has been started.  Requests are built only as slots need
 *		them, so a long IN list costs memory for what is in flight.
 */
static bool
start_request(EsiCrawl *c)
{
	MemoryContext old;
	EsiRequest *req;

	if (c->requests == NULL)
		return false;
	req = esi_requests_next(c->requests);
	if (req == NULL)
	{
		c->requests = NULL;
		return false;
	}
	old = MemoryContextSwitchTo(c->cxt);
	if (c->nreqs >= c->maxreqs)
	{
		c->maxreqs *= 2;
		c->reqs = repalloc(c->reqs, sizeof(EsiRequest *) * c->maxreqs);
		c->walks = repalloc(c->walks, sizeof(EsiWalk *) * c->maxreqs);
		c->page1_cached = repalloc(c->page1_cached, sizeof(bool) * c->maxreqs);
		c->xpages = repalloc(c->xpages, sizeof(int) * c->maxreqs);
	}
	c->page1_cached[c->nreqs] = false;
	c->xpages[c->nreqs] = 0;
	c->reqs[c->nreqs] = req;
	c->walks[c->nreqs] = esi_walk_begin(c->route, req);
	c->walking = lappend_int(c->walking, c->nreqs);
	c->nreqs++;
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * next_work
 *		The next page to fetch: a retry that is due, else the next page of a
 *		walk under way, else the first page of the next request.  NULL when
 *		nothing can be sent now.
 */
static EsiWork *
next_work(EsiCrawl *c, TimestampTz now)
{
	ListCell   *lc;
	EsiPageKey	key;
	EsiWork    *w;

	foreach(lc, c->retries)
	{
		w = lfirst(lc);
		if (w->not_before <= now)
		{
			c->retries = foreach_delete_current(c->retries, lc);
			return w;
		}
	}

	for (;;)
	{
		foreach(lc, c->walking)
		{
			int			reqno = lfirst_int(lc);

			if (esi_walk_next(c->walks[reqno], &key))
			{
				w = palloc0(sizeof(EsiWork));
				w->reqno = reqno;
				w->key = key;
				/* a write: libcurl resends on a kept-alive one found dead */
				w->fresh = c->once;
				return w;
			}
			if (esi_walk_finished(c->walks[reqno]))
				c->walking = foreach_delete_current(c->walking, lc);
		}
		if (!start_request(c))
			return NULL;
	}
}

/*
 * park
 *		Set a page aside until at (a limit's wait, or another session's
 *		fetch); it is picked up again like a retry, but is not one.
 */
static void
park(EsiCrawl *c, EsiWork *w, TimestampTz at)
{
	w->not_before = at;
	c->retries = lappend(c->retries, w);
}

/*
 * progress_update
 *		Show the crawl's counters in esi.progress (when they changed).
 */
static void
progress_update(EsiCrawl *c)
{
	EsiProgressScanData *d;
	int64		pages,
				bytes,
				requests,
				hits,
				retries;

	if (c->progress == NULL)
		return;
	d = &c->progress->d;
	pages = c->stats->pages - c->base.pages;
	bytes = c->stats->bytes - c->base.bytes;
	requests = c->stats->requests - c->base.requests;
	hits = c->stats->cache_hits - c->base.cache_hits;
	retries = c->stats->retries - c->base.retries;
	if (d->pages_done == pages && d->bytes == bytes && d->requests == requests &&
		d->cache_hits == hits && d->retries == retries && d->rows == c->rows_done &&
		!c->progress_moved)
		return;
	d->pages_done = pages;
	d->bytes = bytes;
	d->requests = requests;
	d->cache_hits = hits;
	d->retries = retries;
	d->rows = c->rows_done;
	c->progress_moved = false;
	esi_progress_scan_update(c->progress);
}

/*
 * progress_pages
 *		A reply of request w->reqno came: the pages known are its X-Pages
 *		(once per request; again when a new version has another count), or
 *		for a request without X-Pages each page that arrives.
 */
static void
progress_pages(EsiCrawl *c, EsiWork *w, const char *x_pages)
{
	int			n = x_pages ? atoi(x_pages) : 0;

	if (c->progress == NULL)
		return;
	if (n > 0)
	{
		c->progress->d.pages_total += n - c->xpages[w->reqno];
		c->xpages[w->reqno] = n;
	}
	else if (c->xpages[w->reqno] == 0)
		c->progress->d.pages_total++;
	c->progress_moved = true;
}

/*
 * progress_wait
 *		Before the crawl waits: show on what.  Replies of requests in flight
 *		(since the oldest went out), else the page parked that is due
 *		first: a limit, another session's fetch, or a retry's back-off.
 */
static void
progress_wait(EsiCrawl *c)
{
	const char *kind = NULL;
	char		event[ESI_PROGRESS_EVENT_LEN] = "";
	TimestampTz since = 0;
	EsiWork    *first = NULL;
	ListCell   *lc;

	if (c->progress == NULL)
		return;
	if (c->inflight > 0)
	{
		kind = ESI_WAIT_ESI;
		for (int i = 0; i < c->nslots; i++)
			if (c->slot_work[i] && (since == 0 || c->slot_work[i]->sent_at < since))
				since = c->slot_work[i]->sent_at;
		esi_progress_wait(c->progress, kind, NULL, since);
		return;
	}
	foreach(lc, c->retries)
	{
		EsiWork    *w = lfirst(lc);

		if (first == NULL || w->not_before < first->not_before)
			first = w;
	}
	if (first && (first->limit_since != 0 || first->retry_limit != ESI_LIMIT_NONE))
	{
		EsiLimitReason why = first->limit_since != 0 ? first->limit_why : first->retry_limit;
		const char *group = c->group[0] ? c->group : "?";

		kind = ESI_WAIT_LIMIT;
		since = first->limit_since;
		if (why == ESI_LIMIT_ERROR_WINDOW)
			strlcpy(event, "error limit", sizeof(event));
		else if (why == ESI_LIMIT_ERROR_BLOCKED)
			strlcpy(event, "error limit (420)", sizeof(event));
		else if (why == ESI_LIMIT_RATE_BLOCKED)
			snprintf(event, sizeof(event), "rate limit %s (429)", group);
		else
			snprintf(event, sizeof(event), "rate limit %s", group);
	}
	else if (first && first->wait_since != 0)
	{
		kind = ESI_WAIT_COALESCING;
		since = first->wait_since;
	}
	else if (first)
		kind = ESI_WAIT_RETRY;
	esi_progress_wait(c->progress, kind, event, since);
}

/*
 * add_ready
 *		Queue a page for the scan.
 */
static void
add_ready(EsiCrawl *c, EsiWork *w, char *body, size_t len, char *storage)
{
	EsiPage    *page = palloc0(sizeof(EsiPage));

	page->body = body;
	page->len = len;
	page->storage = storage;
	page->reqno = w->reqno;
	page->req = c->reqs[w->reqno];
	page->key = w->key;
	page->status = 200;
	c->ready = lappend(c->ready, page);
	c->stats->pages++;
}

/*
 * forget_claim
 *		The cache entry of w is stored or released: no longer ours.
 */
static void
forget_claim(EsiCrawl *c, EsiWork *w)
{
	if (w->claimed)
	{
		c->claims = list_delete_ptr(c->claims, w->cache_key);
		w->claimed = false;
	}
}

/*
 * serve_cached
 *		A stored reply answers w: a page for the scan, or (a remembered 404
 *		or 403) the error the reply raised when it came.  false when the
 *		copy is of another version of a paged result than the walk reads.
 */
static bool
serve_cached(EsiCrawl *c, EsiWork *w, EsiCacheReply *r)
{
	EsiWalk    *walk = c->walks[w->reqno];

	if (r->status == 404 && c->route->pass_not_found)
	{
		add_ready(c, w, r->body, r->len, r->storage);
		((EsiPage *) llast(c->ready))->status = 404;
		return true;
	}
	if (r->status != 200)
	{
		/* ESI is not asked: the error is served from the cache */
		c->stats->cache_hits++;
		ESI_STAT_ADD(c->rstats, cache_hits, 1);
		esi_report_http_reply(c->route, r->status, r->url ? r->url : "?",
							  r->body, r->len, NULL, NULL, 1);
	}
	if (!esi_walk_matches(walk, &w->key, r->x_pages, r->last_modified))
		return false;
	esi_walk_reply(walk, &w->key, r->x_pages, r->last_modified);
	progress_pages(c, w, r->x_pages);
	if (w->key.page == 1)
		c->page1_cached[w->reqno] = true;
	add_ready(c, w, r->body, r->len, r->storage);
	return true;
}

/*
 * request_character
 *		The character an authenticated request is made for (its bearer
 *		source names it), or NULL for a public route.
 */
static const char *
request_character(EsiCrawl *c, int reqno)
{
	if (c->auth == NULL)
		return NULL;
	return c->auth->subject(c->auth, c->reqs[reqno]);
}

/*
 * cache_step
 *		Ask the cache about w.  true: w is dealt with (served, or parked to
 *		wait for another session); false: send it.
 */
static bool
cache_step(EsiCrawl *c, EsiWork *w, TimestampTz now)
{
	EsiCacheReply r;
	bool		claimed;
	EsiCacheResult res;

	if (w->cache_key == NULL)
	{
		char	   *display = esi_paging_display(c->route, c->reqs[w->reqno], &w->key);

		w->cache_key = esi_cache_key(c->opts, display);
		pfree(display);
		/* a POST's reply depends on its body too */
		if (c->reqs[w->reqno]->body)
			w->cache_key = psprintf("%s\n%s %s", w->cache_key, c->route->method,
									c->reqs[w->reqno]->body);
		/* a character's data is its own: the cache keeps it apart (per
		 * server of each database), and only roles that may use the
		 * character read it */
		if (c->auth)
		{
			const char *who = request_character(c, w->reqno);

			c->auth->check(c->auth, who);
			w->cache_key = esi_cache_character_key(w->cache_key, c->opts, who);
		}
	}
	/*
	 * 'refresh' serves nothing ESI sent before the statement began; what
	 * another session got since (a 200 or a 304) it shares.  A kept page
	 * of another version is asked for anew (or waited for).
	 */
	res = esi_cache_lookup(w->cache_key,
						   w->revalidate ? ESI_CACHE_REFRESH : c->cache_mode,
						   !w->revalidate && c->cache_mode == ESI_CACHE_REFRESH ?
						   c->began : w->wait_since, &r, &claimed);
	if (w->wait_since != 0 && res != ESI_CACHE_BUSY)
	{
		double		ms = (double) (now - w->wait_since) / 1000.0;

		c->stats->coalesce_wait_ms += ms;
		ESI_STAT_ADD(c->rstats, coalesce_wait_us, now - w->wait_since);
		if (res == ESI_CACHE_HIT)
			ESI_STAT_ADD(c->rstats, coalesced, 1);
		w->wait_since = 0;
	}
	switch (res)
	{
		case ESI_CACHE_HIT:
			if (serve_cached(c, w, &r))
			{
				if (r.status == 200)
					if (!c->nested)
						esi_scan_report_expiry(r.expires);
				c->stats->cache_hits++;
				ESI_STAT_ADD(c->rstats, cache_hits, 1);
				pfree(w->cache_key);
				pfree(w);
				return true;
			}
			/* a copy of another version: ask ESI, with its ETag */
			pfree(r.storage);
			w->revalidate = true;
			return cache_step(c, w, now);
		case ESI_CACHE_BUSY:
			if (w->wait_since == 0)
				w->wait_since = now;
			else if (now - w->wait_since > (int64) esi_guc_request_timeout_ms * 1000)
			{
				/*
				 * The session fetching it is alive but not getting on (a
				 * cursor nobody reads from, say): ask ESI ourselves.
				 */
				c->stats->coalesce_wait_ms += (double) (now - w->wait_since) / 1000.0;
				ESI_STAT_ADD(c->rstats, coalesce_wait_us, now - w->wait_since);
				w->wait_since = 0;
				w->looked_up = true;
				return false;
			}
			/* woken by the cache when the other session is done */
			park(c, w, now + ESI_CACHE_RECHECK_MS * 1000);
			return true;
		case ESI_CACHE_FETCH:
			w->looked_up = true;
			w->claimed = claimed;
			if (claimed)
				c->claims = lappend(c->claims, w->cache_key);
			if (r.etag)
				w->etag = pstrdup(r.etag);
			if (r.storage)
				pfree(r.storage);
			return false;
	}
	return false;
}

/*
 * admit
 *		Ask ESI's limits whether w may be sent now; if not, park it until
 *		its turn (or fail when that is past statement_timeout).
 */
static bool
admit(EsiCrawl *c, EsiWork *w, TimestampTz now)
{
	TimestampTz retry_at;
	EsiLimitReason why;

	/* a revalidation should cost a 304's tokens, anything else a 200's */
	w->ticket.cost = w->etag ? ESI_COST_3XX : ESI_COST_2XX;
	if (esi_limits_admit(c->opts->base_url, c->group[0] ? c->group : NULL,
						 request_character(c, w->reqno),
						 &w->ticket, &retry_at, &why))
	{
		w->admitted = true;
		if (w->limit_since != 0)
		{
			c->stats->limit_wait_ms += (double) (now - w->limit_since) / 1000.0;
			ESI_STAT_ADD(c->rstats, limit_wait_us, now - w->limit_since);
			w->limit_since = 0;
		}
		return true;
	}
	esi_limits_check_deadline(c->opts->base_url, c->group[0] ? c->group : NULL,
							  retry_at, why, esi_route_subject(c->route));
	if (w->limit_since == 0)
		w->limit_since = now;
	w->limit_why = why;
	park(c, w, retry_at);
	return false;
}

/*
 * prepare_transfer
 *		Make slot's transfer ready to send w: its URL, bearer and body.
 *		w is admitted but not yet a transfer, so an error here (no token, an
 *		option libcurl refuses) gives the limits its ticket back; else it
 *		would stay counted in flight for the life of the cluster.
 */
static void
prepare_transfer(EsiCrawl *c, int slot, EsiWork *w)
{
	PG_TRY();
	{
		char	   *display;

		if (c->slots[slot] == NULL)
			c->slots[slot] = esi_http_new_transfer(c->cxt, c->opts);
		display = esi_paging_display(c->route, c->reqs[w->reqno], &w->key);
		w->bearer = NULL;
		if (c->auth)
		{
			const char *who = request_character(c, w->reqno);

			/* may renew the access token at EVE SSO */
			esi_progress_wait(c->progress, ESI_WAIT_TOKEN, NULL, 0);
			w->bearer = c->auth->bearer(c->auth, who);
			esi_progress_wait(c->progress, NULL, NULL, 0);
		}
		esi_http_prepare(c->slots[slot], c->opts, display, w->fresh, w->etag,
						 w->bearer);
		if (c->route->method)
			esi_http_set_body(c->slots[slot], c->route->method,
							  c->reqs[w->reqno]->body);
		pfree(display);
	}
	PG_CATCH();
	{
		if (w->admitted)
			esi_limits_abandon(&w->ticket);
		w->admitted = false;
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * fill_slots
 *		Start as many transfers as the connection limit and the read-ahead
 *		window allow; pages the cache answers go straight to the scan.
 */
static void
fill_slots(EsiCrawl *c)
{
	TimestampTz now = GetCurrentTimestamp();
	MemoryContext old = MemoryContextSwitchTo(c->cxt);

	while (c->inflight < c->nslots &&
		   c->inflight + list_length(c->ready) < 2 * c->nslots)
	{
		EsiWork    *w;
		int			slot;

		/* with a LIMIT, fetch no page the rows already coming make useless */
		if (c->row_bound >= 0 &&
			c->rows_done + expected_rows_ahead(c) >= c->row_bound)
			break;

		w = next_work(c, now);
		if (w == NULL)
			break;
		if (c->once && c->once_what == NULL)
		{
			c->once_display = esi_paging_display(c->route, c->reqs[w->reqno], &w->key);
			c->once_what = psprintf("%s %s", c->route->method, c->once_display);
		}

		if (!w->looked_up && c->cache_mode != ESI_CACHE_OFF &&
			cache_step(c, w, now))
			continue;
		if (!w->admitted && !admit(c, w, now))
			continue;

		for (slot = 0; slot < c->nslots; slot++)
			if (c->slot_work[slot] == NULL)
				break;
		Assert(slot < c->nslots);

		prepare_transfer(c, slot, w);
		c->slot_work[slot] = w;
		w->sent_at = now;
		w->retry_limit = ESI_LIMIT_NONE;
		esi_http_start(c->multi, c->slots[slot]);
		if (c->once)
		{
			/* from here on the write may reach ESI */
			c->once_out = true;
			c->once_context = ONCE_CONTEXT_SENT;
		}
		c->inflight++;
		c->stats->requests++;
		if (!c->nested)
			esi_scan_report_request();
		ESI_STAT_ADD(c->rstats, requests, 1);
	}
	progress_update(c);
	MemoryContextSwitchTo(old);
}

/*
 * retry_later
 *		Send a page again after a delay.
 */
static void
retry_later(EsiCrawl *c, EsiWork *w, int64 delay_ms)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);

	w->not_before = GetCurrentTimestamp() + delay_ms * 1000;
	c->retries = lappend(c->retries, w);
	c->stats->retries++;
	MemoryContextSwitchTo(old);
}

/*
 * backoff_ms
 *		The delay before a page's next retry: esi_fdw.retry_delay, doubled
 *		for each retry before.
 */
static int64
backoff_ms(int retries)
{
	return (int64) esi_guc_retry_delay_ms << Min(retries, 6);
}

/*
 * page1_key
 *		The cache key of page 1 of request reqno.
 */
static char *
page1_key(EsiCrawl *c, int reqno)
{
	EsiPageKey	key = {0};
	char	   *display;
	char	   *k;

	key.page = 1;
	display = esi_paging_display(c->route, c->reqs[reqno], &key);
	k = esi_cache_key(c->opts, display);
	pfree(display);
	if (c->reqs[reqno]->body)
		k = psprintf("%s\n%s %s", k, c->route->method, c->reqs[reqno]->body);
	if (c->auth)
		k = esi_cache_character_key(k, c->opts, request_character(c, reqno));
	return k;
}

/*
 * usable_etag
 *		An ETag worth sending back: printable, not cut short by http.c (a
 *		hostile one must not make every revalidation fail).
 */
static const char *
usable_etag(const char *etag)
{
	size_t		len;

	if (etag == NULL)
		return NULL;
	len = strlen(etag);
	if (len == 0 || (len >= 3 && strcmp(etag + len - 3, "...") == 0))
		return NULL;
	for (const unsigned char *p = (const unsigned char *) etag; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return NULL;
	return etag;
}

/*
 * take_page
 *		A 200 reply: store it in the cache at once (sessions waiting for it
 *		go on), let the walk check it, and hand the body to the scan.  If
 *		the scan fails before it decoded the page, the stored copy is
 *		dropped again (crawl_cleanup): a reply the scan cannot read is not
 *		kept.
 */
static void
take_page(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	EsiWalk    *walk = c->walks[w->reqno];
	const char *x_pages = esi_http_header(t, ESI_HDR_X_PAGES);
	const char *lm = esi_http_header(t, ESI_HDR_LAST_MODIFIED);
	size_t		len;
	char	   *body;
	char	   *pending_key = NULL;

	/*
	 * A page 1 the cache kept may be older than what ESI serves now: forget
	 * it, so that the next read (after the error below) gets one version.
	 */
	if (c->page1_cached[w->reqno] && !esi_walk_matches(walk, &w->key, x_pages, lm))
		esi_cache_forget(page1_key(c, w->reqno));

	/* with the cache off too: a refresh schedules itself by it */
	{
		bool		unused;

		if (!c->nested)
			esi_scan_report_expiry(esi_cache_expiry(t, &unused));
	}

	if (w->claimed)
	{
		bool		cacheable;
		EsiCacheReply r = {0};

		r.expires = esi_cache_expiry(t, &cacheable);
		if (cacheable)
		{
			char	   *display = esi_paging_display(c->route, c->reqs[w->reqno], &w->key);

			r.status = 200;
			r.body = (char *) esi_http_body(t, &r.len);
			r.gzip = esi_http_gzip_body(t, &r.gzip_len);
			r.etag = (char *) usable_etag(esi_http_header(t, ESI_HDR_ETAG));
			r.last_modified = (char *) lm;
			r.x_pages = (char *) x_pages;
			r.stored_at = GetCurrentTimestamp();
			esi_cache_store(w->cache_key, c->route->route, display, &r);
			pfree(display);
			pending_key = w->cache_key;
		}
		else
			esi_cache_release(w->cache_key);
		forget_claim(c, w);
	}

	esi_walk_reply(walk, &w->key, x_pages, lm);
	progress_pages(c, w, x_pages);
	body = esi_http_take_body(t, &len);
	add_ready(c, w, body, len, NULL);
	c->stats->bytes += len;
	if (pending_key)
	{
		((EsiPage *) llast(c->ready))->stored_key = pending_key;
		c->undecoded = lappend(c->undecoded, pending_key);
	}
	MemoryContextSwitchTo(old);
	pfree(w);
}

/*
 * hand_over_not_found
 *		A 404 handed to the caller as a page with status 404.
 */
static void
hand_over_not_found(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	size_t		len;
	char	   *body;

	esi_walk_reply(c->walks[w->reqno], &w->key, NULL, NULL);
	progress_pages(c, w, NULL);
	body = esi_http_take_body(t, &len);
	add_ready(c, w, body, len, NULL);
	((EsiPage *) llast(c->ready))->status = 404;
	MemoryContextSwitchTo(old);
	pfree(w);
}

/*
 * not_modified
 *		A 304 to a revalidation: the kept copy is good, with the headers the
 *		304 carries (a new Last-Modified, X-Pages or expiry replaces the
 *		stored one, here and in the cache), so the page counts as of the
 *		version the 304 names.
 */
static void
not_modified(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	EsiCacheReply r;

	c->stats->not_modified++;
	if (!esi_cache_read(w->cache_key, &r) || r.status != 200)
	{
		/* the copy is gone meanwhile: ask again, for the whole reply */
		w->etag = NULL;
		retry_later(c, w, 0);
		MemoryContextSwitchTo(old);
		return;
	}
	esi_cache_revalidated(w->cache_key, &r, t,
						  usable_etag(esi_http_header(t, ESI_HDR_ETAG)));
	if (!c->nested)
		esi_scan_report_expiry(r.expires);
	forget_claim(c, w);
	if (!serve_cached(c, w, &r))
	{
		/* same ETag, another version: cannot be; read it whole */
		pfree(r.storage);
		esi_cache_forget(w->cache_key);
		w->etag = NULL;
		retry_later(c, w, 0);
		MemoryContextSwitchTo(old);
		return;
	}
	MemoryContextSwitchTo(old);
	pfree(w);
}

/*
 * remember_error
 *		A 404 or 403 is kept for esi_fdw.negative_cache_ttl, so that asking
 *		again raises the same error without costing ESI's error limit; not a
 *		403 about the token (SSO's trouble passes, a new token is fetched).
 */
static void
remember_error(EsiCrawl *c, EsiTransfer *t, EsiWork *w, long status)
{
	EsiCacheReply r = {0};

	if (!w->claimed)
		return;
	if ((status == 404 || (status == 403 && !esi_reply_refuses_token(t, status))) &&
		esi_guc_negative_cache_ttl > 0)
	{
		r.status = (int) status;
		r.body = (char *) esi_http_body(t, &r.len);
		r.stored_at = GetCurrentTimestamp();
		r.expires = r.stored_at + (int64) esi_guc_negative_cache_ttl * USECS_PER_SEC;
		esi_cache_store(w->cache_key, c->route->route, esi_http_display(t), &r);
	}
	else
		esi_cache_release(w->cache_key);
	forget_claim(c, w);
}

/*
 * error_limited
 *		A 420: every session now waits for the error-limit window to reset
 *		(throttle.c holds them off); this page waits for it too, like after
 *		a 429, within the same bounds.
 */
static void
error_limited(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	int64		seconds;

	if (!esi_http_parse_count(esi_http_header(t, ESI_HDR_ERROR_LIMIT_RESET), &seconds))
		seconds = 60;
	if (seconds > esi_guc_max_retry_after || w->rate_waits >= esi_guc_max_retries)
		esi_report_http_error(c->route, t, w->rate_waits + 1);
	w->rate_waits++;
	w->retry_limit = ESI_LIMIT_ERROR_BLOCKED;
	retry_later(c, w, Max(seconds, 1) * 1000);
}

/*
 * rate_limited
 *		A 429: wait as long as Retry-After says (or back off when ESI says
 *		nothing), unless that is longer than esi_fdw.max_retry_after or the
 *		page was refused esi_fdw.max_retries times already.
 */
static void
rate_limited(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	const char *ra = esi_http_header(t, ESI_HDR_RETRY_AFTER);
	int64		seconds = -1;

	if (ra && !esi_http_parse_retry_after(ra, &seconds))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("malformed Retry-After header in ESI's reply to %s %s (%s)",
						esi_route_method(c->route), esi_http_display(t),
						esi_route_subject(c->route)),
				 errdetail("Retry-After: \"%s\" is neither a number of seconds nor an HTTP date.", ra),
				 errhint("ESI's rate limit is exhausted; try again later.")));
	if (seconds > esi_guc_max_retry_after || w->rate_waits >= esi_guc_max_retries)
		esi_report_http_error(c->route, t, w->rate_waits + 1);
	w->rate_waits++;
	w->retry_limit = ESI_LIMIT_RATE_BLOCKED;
	if (seconds >= 0)
		retry_later(c, w, Max(seconds, 1) * 1000);
	else
		retry_later(c, w, backoff_ms(w->rate_waits - 1));
}

/*
 * token_refused
 *		Whether ESI refused the token w was sent with (revoked, expired
 *		early, or SSO could not vouch for it: a 401, or a 403 saying so),
 *		for the first time: then a fresh token may pass.
 */
static bool
token_refused(EsiCrawl *c, EsiTransfer *t, EsiWork *w, long status)
{
	return (status == 401 || status == 403) && c->auth != NULL &&
		!w->reauthorized && esi_reply_refuses_token(t, status);
}

/*
 * reauthorize
 *		Send w once more, anew, after the bearer source dropped the token
 *		ESI refused (ESI acted on nothing).
 */
static void
reauthorize(EsiCrawl *c, EsiWork *w)
{
	w->reauthorized = true;
	c->auth->refused(c->auth, request_character(c, w->reqno), w->bearer);
	retry_later(c, w, 0);
}

/*
 * forget_stale_replies
 *		A write went out: cached replies it may have changed are dropped,
 *		so that reading the matching GET table next asks ESI again (which
 *		may still serve its own copy until that copy's Expires).  Those of
 *		the path's owner ("/characters/90000001", "/fleets/7") and of the
 *		character who acted.
 */
static void
forget_stale_replies(EsiCrawl *c)
{
	const char *who = c->auth ? request_character(c, 0) : NULL;

	c->once_out = false;
	(void) esi_cache_forget_scope(c->opts->base_url, c->once_display);
	if (who != NULL)
	{
		char	   *own = psprintf("/characters/%s/", who);

		/* a route of the character itself: the same scope, scanned once */
		if (strncmp(c->once_display, own, strlen(own)) != 0)
			(void) esi_cache_forget_scope(c->opts->base_url, own);
		pfree(own);
	}
}

/*
 * handle_once_done
 *		What a finished write means: any 2xx is its page; a refused token is
 *		sent once more with a fresh one; every other outcome is an error,
 *		saying whether the write may have happened.  Nothing else is sent
 *		again.
 */
static void
handle_once_done(EsiCrawl *c, EsiTransfer *t, EsiWork *w, long status)
{
	if (c->once_out)
		forget_stale_replies(c);
	c->once_context = ONCE_CONTEXT_NONE;
	if (esi_http_result(t) != ESI_XFER_REPLY)
	{
		if (esi_http_result(t) == ESI_XFER_FAILED ||
			esi_http_result(t) == ESI_XFER_UNSOLICITED)
			c->stats->status_counts[0]++;
		esi_report_write_unanswered(c->once_what, t);
	}
	c->stats->status_counts[Min(status / 100, 5)]++;
	if (status >= 200 && status <= 299)
	{
		take_page(c, t, w);
		((EsiPage *) llast(c->ready))->status = status;
	}
	else if (token_refused(c, t, w, status))
	{
		c->once_context = ONCE_CONTEXT_NOT_SENT;
		reauthorize(c, w);
	}
	else if (status >= 500 && status != 501 && status != 503 && status != 505)
	{
		c->once_context = ONCE_CONTEXT_SENT;
		esi_report_write_gateway(c->once_what, t);
	}
	else
	{
		/* ESI answered with an error: it did not act */
		c->once_context = ONCE_CONTEXT_NOT_SENT;
		esi_report_http_error(c->route, t, 1);
	}
}

/*
 * handle_done
 *		Decide what a finished transfer means: a page, a retry, or an error.
 */
static void
handle_done(EsiCrawl *c, EsiTransfer *t)
{
	int			slot;
	EsiWork    *w;
	long		status;

	for (slot = 0; slot < c->nslots; slot++)
		if (c->slots[slot] == t)
			break;
	if (slot >= c->nslots)
		elog(ERROR, "esi_fdw: finished transfer not owned by this scan");

	w = c->slot_work[slot];
	c->slot_work[slot] = NULL;
	c->inflight--;
	status = esi_http_status(t);

	/* every session learns the limits from the reply */
	esi_limits_reply(&w->ticket, c->opts->base_url, c->group[0] ? c->group : NULL,
					 request_character(c, w->reqno), t);
	w->admitted = false;
	if (esi_http_result(t) == ESI_XFER_REPLY)
	{
		const char *g = esi_http_header(t, ESI_HDR_RATELIMIT_GROUP);

		if (g && c->group[0] == '\0' && strlen(g) < ESI_STATS_GROUP_LEN)
		{
			strlcpy(c->group, g, ESI_STATS_GROUP_LEN);
			esi_stats_learn_group(c->rstats, g);
		}
		esi_stats_status(c->rstats, status);
	}
	else
		ESI_STAT_ADD(c->rstats, transport_errors, 1);
	ESI_STAT_ADD(c->rstats, esi_us, GetCurrentTimestamp() - w->sent_at);
	{
		size_t		blen;

		(void) esi_http_body(t, &blen);
		ESI_STAT_ADD(c->rstats, bytes, blen);
	}

	if (c->once)
	{
		handle_once_done(c, t, w, status);
		return;
	}

	switch (esi_http_result(t))
	{
		case ESI_XFER_TOO_LARGE:
			esi_report_too_large(c->route, t);
			break;
		case ESI_XFER_NO_MEMORY:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while reading %s from ESI", esi_http_display(t))));
			break;
		case ESI_XFER_UNSOLICITED:
			/* a kept-alive connection gone bad (now closed): again, anew */
			if (!w->fresh)
			{
				w->fresh = true;
				retry_later(c, w, 0);
				break;
			}
			/* a new connection with bytes before the request: a failure */
			/* FALLTHROUGH */
		case ESI_XFER_FAILED:
			c->stats->status_counts[0]++;
			if (w->attempt >= esi_guc_max_retries || esi_http_failure_final(t))
				esi_report_transport_error(c->route, t, w->attempt + 1);
			retry_later(c, w, backoff_ms(w->attempt));
			w->attempt++;
			break;
		case ESI_XFER_REPLY:
			c->stats->status_counts[Min(status / 100, 5)]++;
			/* a lookup may answer 201 with its result (POST .../cspa) */
			if (status == 200 || (status == 201 && c->route->method != NULL))
				take_page(c, t, w);
			else if (status == 304 && w->etag)
				not_modified(c, t, w);
			else if (status == 429)
				rate_limited(c, t, w);
			else if (status == 420)
				error_limited(c, t, w);
			else if (token_refused(c, t, w, status))
				reauthorize(c, w);
			else if (status >= 500 && status != 501 && status != 505)
			{
				if (w->attempt >= esi_guc_max_retries)
					esi_report_http_error(c->route, t, w->attempt + 1);
				retry_later(c, w, backoff_ms(w->attempt));
				w->attempt++;
			}
			else if (status == 404 && c->route->pass_not_found)
			{
				/* the caller decides (a batch with an unknown id) */
				remember_error(c, t, w, status);
				hand_over_not_found(c, t, w);
			}
			else
			{
				remember_error(c, t, w, status);
				esi_report_http_error(c->route, t, w->attempt + 1);
			}
			break;
	}
}

/*
 * coalescing_due
 *		When another session stored or gave up what a parked page waits
 *		for (esi_cache_changed), make every page parked for another
 *		session's request due now.  Whether any page waits for another
 *		session's request.
 */
static bool
coalescing_due(EsiCrawl *c)
{
	ListCell   *lc;
	bool		changed = esi_cache_changed();
	bool		any = false;

	foreach(lc, c->retries)
	{
		EsiWork    *w = lfirst(lc);

		if (w->wait_since != 0)
		{
			any = true;
			if (changed)
				w->not_before = 0;
		}
	}
	return any;
}

/*
 * wait_for_activity
 *		Wait for a transfer, the latch, or the first retry that is due, and
 *		act on whatever finished.  The scan calls in per-tuple memory, reset
 *		row after row: the crawl's lists and pages are made in its own.
 */
static void
wait_for_activity(EsiCrawl *c, long max_ms)
{
	EsiTransfer *t;
	long		wait = max_ms;
	ListCell   *lc;
	bool		coalescing;
	MemoryContext old = MemoryContextSwitchTo(c->cxt);

	coalescing = coalescing_due(c);
	if (wait > 0)
		progress_wait(c);
	if (wait > 0 && c->retries != NIL)
	{
		TimestampTz now = GetCurrentTimestamp();

		foreach(lc, c->retries)
		{
			EsiWork    *w = lfirst(lc);
			long		ms = w->not_before <= now ? 0 :
				(long) ((w->not_before - now + 999) / 1000);

			wait = Min(wait, ms);
		}
	}
	/* only other sessions' requests to wait for: on the cache's CV */
	if (coalescing && c->inflight == 0 && wait > 0)
		c->stats->wait_ms += esi_cache_sleep(wait);
	else
		c->stats->wait_ms += esi_http_wait(c->multi, wait);
	coalescing_due(c);
	while ((t = esi_http_next_done(c->multi)) != NULL)
		handle_done(c, t);
	progress_update(c);
	MemoryContextSwitchTo(old);
}

/*
 * once_context
 *		The CONTEXT line of an error of a write: whether it may have
 *		reached ESI.
 */
static void
once_context(void *arg)
{
	EsiCrawl   *c = (EsiCrawl *) arg;

	if (c->once_what == NULL)
		return;
	if (c->once_context == ONCE_CONTEXT_NOT_SENT)
		errcontext("%s (not sent: the write did not happen)", c->once_what);
	else if (c->once_context == ONCE_CONTEXT_SENT)
		errcontext("%s (sent: the write may have happened at ESI)", c->once_what);
}

/*
 * next_page
 *		The next page that arrived, waiting for one if needed; NULL when
 *		every request is complete (or a LIMIT needs no more).
 */
static EsiPage *
next_page(EsiCrawl *c)
{
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		fill_slots(c);
		if (c->ready != NIL)
		{
			EsiPage    *p = linitial(c->ready);

			c->ready = list_delete_first(c->ready);
			c->decoding = true;
			/* the scan decodes it: waiting on nothing */
			esi_progress_wait(c->progress, NULL, NULL, 0);
			return p;
		}
		/* nothing to send, receive or retry: every walk is complete */
		if (c->inflight == 0 && c->retries == NIL)
			return NULL;
		if (c->inflight == 0 && c->row_bound >= 0 && c->rows_done >= c->row_bound)
			return NULL;
		wait_for_activity(c, ESI_MAX_WAIT_MS);
	}
}

/*
 * esi_crawl_next_page
 *		The next page that arrived, waiting for one if needed; NULL when
 *		every request is complete (or a LIMIT needs no more).  A write's
 *		errors say whether it may have happened; if one is cancelled while
 *		out, the cached replies it may have changed are dropped all the same.
 */
EsiPage *
esi_crawl_next_page(EsiCrawl *c)
{
	ErrorContextCallback errcb;
	EsiPage    *volatile page = NULL;

	if (!c->once)
		return next_page(c);

	errcb.callback = once_context;
	errcb.arg = c;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	PG_TRY();
	{
		page = next_page(c);
	}
	PG_CATCH();
	{
		if (c->once_out)
			forget_stale_replies(c);
		PG_RE_THROW();
	}
	PG_END_TRY();
	error_context_stack = errcb.previous;
	return page;
}

/*
 * esi_crawl_pump
 *		Move transfers along without waiting, so that slots freed while the
 *		scan decodes a page get their next request at once (with a latency
 *		bound ESI, idle connections cost more than this call).
 */
void
esi_crawl_pump(EsiCrawl *c)
{
	if (c->inflight == 0)
		return;
	wait_for_activity(c, 0);
	fill_slots(c);
}

/*
 * esi_crawl_page_done
 *		The scan decoded a page: its walk learns what was on it, and the
 *		page is freed.
 */
void
esi_crawl_page_done(EsiCrawl *c, EsiPage *page)
{
	MemoryContext old;

	c->rows_done += page->facts.rows;
	c->pages_done++;
	c->decoding = false;
	c->stats->rows += page->facts.rows;

	old = MemoryContextSwitchTo(c->cxt);
	esi_walk_page_done(c->walks[page->reqno], &page->key, &page->facts);
	MemoryContextSwitchTo(old);

	progress_update(c);
	if (page->stored_key)
		c->undecoded = list_delete_ptr(c->undecoded, page->stored_key);
	if (page->storage)
		pfree(page->storage);
	else
		pfree((char *) page->body);
	pfree(page);
}

/*
 * esi_crawl_end
 *		Stop every transfer and release everything.
 */
void
esi_crawl_end(EsiCrawl *c)
{
	c->clean_end = true;
	crawl_cleanup(c);
	MemoryContextDelete(c->cxt);
}
