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
 * libcurl resources are released by a reset callback on the crawl's memory
 * context, so an ERROR (or Ctrl-C) anywhere leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "crawl.h"
#include "esi_error.h"
#include "guc.h"
#include "http.h"

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
	TimestampTz not_before;		/* retry back-off */
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

	if (c->ended)
		return;
	c->ended = true;
	for (int i = 0; i < c->nslots; i++)
		if (c->slots[i])
			esi_http_free_transfer(c->slots[i]);
	esi_http_multi_free(c->multi);
	c->multi = NULL;
}

/*
 * esi_crawl_begin
 *		Set up the transfers of a scan; nothing is sent yet.
 */
EsiCrawl *
esi_crawl_begin(MemoryContext parent, EsiRoute *route, EsiServerOptions *opts,
				EsiRequestIter *requests, double row_bound, EsiCrawlStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "esi_fdw crawl",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EsiCrawl   *c = palloc0(sizeof(EsiCrawl));

	c->cxt = cxt;
	c->route = route;
	c->opts = opts;
	c->requests = requests;
	c->maxreqs = 16;
	c->reqs = palloc0(sizeof(EsiRequest *) * c->maxreqs);
	c->walks = palloc0(sizeof(EsiWalk *) * c->maxreqs);
	c->nslots = Max(1, opts->max_connections);
	c->slots = palloc0(sizeof(EsiTransfer *) * c->nslots);
	c->slot_work = palloc0(sizeof(EsiWork *) * c->nslots);
	c->row_bound = row_bound;
	c->stats = stats;

	/* register cleanup before creating anything that needs it */
	c->cb.func = crawl_cleanup;
	c->cb.arg = c;
	MemoryContextRegisterResetCallback(cxt, &c->cb);
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
	}
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
 * fill_slots
 *		Start as many transfers as the connection limit and the read-ahead
 *		window allow.
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
		char	   *display;

		/* with a LIMIT, fetch no page the rows already coming make useless */
		if (c->row_bound >= 0 &&
			c->rows_done + expected_rows_ahead(c) >= c->row_bound)
			break;

		w = next_work(c, now);
		if (w == NULL)
			break;

		for (slot = 0; slot < c->nslots; slot++)
			if (c->slot_work[slot] == NULL)
				break;
		Assert(slot < c->nslots);

		if (c->slots[slot] == NULL)
			c->slots[slot] = esi_http_new_transfer(c->cxt, c->opts);
		display = esi_paging_display(c->route, c->reqs[w->reqno], &w->key);
		esi_http_prepare(c->slots[slot], c->opts, display, w->fresh);
		pfree(display);
		c->slot_work[slot] = w;
		esi_http_start(c->multi, c->slots[slot]);
		c->inflight++;
		c->stats->requests++;
	}
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
 * take_page
 *		A 200 reply: let the walk check it, and hand the body to the scan.
 */
static void
take_page(EsiCrawl *c, EsiTransfer *t, EsiWork *w)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	EsiPage    *page;
	size_t		len;

	esi_walk_reply(c->walks[w->reqno], &w->key,
				   esi_http_header(t, ESI_HDR_X_PAGES),
				   esi_http_header(t, ESI_HDR_LAST_MODIFIED));

	page = palloc0(sizeof(EsiPage));
	page->body = esi_http_take_body(t, &len);
	page->len = len;
	page->reqno = w->reqno;
	page->req = c->reqs[w->reqno];
	page->key = w->key;
	c->ready = lappend(c->ready, page);
	MemoryContextSwitchTo(old);

	c->stats->pages++;
	c->stats->bytes += len;
	pfree(w);
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
				 errmsg("malformed Retry-After header in ESI's reply to GET %s (foreign table \"%s\")",
						esi_http_display(t), c->route->relname),
				 errdetail("Retry-After: \"%s\" is neither a number of seconds nor an HTTP date.", ra),
				 errhint("ESI's rate limit is exhausted; try again later.")));
	if (seconds > esi_guc_max_retry_after || w->rate_waits >= esi_guc_max_retries)
		esi_report_http_error(c->route, t, w->rate_waits + 1);
	w->rate_waits++;
	if (seconds >= 0)
		retry_later(c, w, Max(seconds, 1) * 1000);
	else
		retry_later(c, w, backoff_ms(w->rate_waits - 1));
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
			if (w->attempt >= esi_guc_max_retries)
				esi_report_transport_error(c->route, t, w->attempt + 1);
			retry_later(c, w, backoff_ms(w->attempt));
			w->attempt++;
			break;
		case ESI_XFER_REPLY:
			c->stats->status_counts[Min(status / 100, 5)]++;
			if (status == 200)
				take_page(c, t, w);
			else if (status == 429)
				rate_limited(c, t, w);
			else if (status >= 500 && status != 501 && status != 505)
			{
				if (w->attempt >= esi_guc_max_retries)
					esi_report_http_error(c->route, t, w->attempt + 1);
				retry_later(c, w, backoff_ms(w->attempt));
				w->attempt++;
			}
			else
				esi_report_http_error(c->route, t, w->attempt + 1);
			break;
	}
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
	MemoryContext old = MemoryContextSwitchTo(c->cxt);

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
	c->stats->wait_ms += esi_http_wait(c->multi, wait);
	while ((t = esi_http_next_done(c->multi)) != NULL)
		handle_done(c, t);
	MemoryContextSwitchTo(old);
}

/*
 * esi_crawl_next_page
 *		The next page that arrived, waiting for one if needed; NULL when
 *		every request is complete (or a LIMIT needs no more).
 */
EsiPage *
esi_crawl_next_page(EsiCrawl *c)
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
	crawl_cleanup(c);
	MemoryContextDelete(c->cxt);
}
