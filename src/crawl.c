/*-------------------------------------------------------------------------
 *
 * crawl.c
 *		  The transfers of one scan: paging, concurrency, retries and limits.
 *
 * A scan's requests (one per combination of parameter values) start with
 * their first page.  The first page of an X-Pages route tells how many
 * pages follow; those are fetched concurrently over up to max_connections
 * keep-alive connections and handed to the scan in the order they arrive.
 * At most 2 x max_connections pages are in flight or waiting to be decoded,
 * so memory stays flat however many pages a route has.
 *
 * All pages of one result must carry the same Last-Modified (ESI refreshed
 * the data otherwise): a scan never mixes two versions.  5xx replies and
 * broken connections are retried with back-off; 429 waits for Retry-After;
 * 420 and other 4xx end the scan with ESI's own message.
 *
 * libcurl resources are released by a reset callback on the crawl's memory
 * context, so an ERROR (or Ctrl-C) anywhere leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "crawl.h"
#include "esi_error.h"
#include "guc.h"

/* a page to fetch */
typedef struct EsiWork
{
	int			reqno;
	int			page;			/* 0 when the route is not paged by number */
	char	   *cursor;			/* before= token, or from_id= value */
	int			attempt;		/* retries so far */
	TimestampTz not_before;		/* retry back-off */
} EsiWork;

/* per request state */
typedef struct EsiReqState
{
	int			pages;			/* X-Pages of page 1; 0 until known */
	char		last_modified[ESI_HDR_LEN];
	bool		rest_queued;	/* pages 2..n queued */
} EsiReqState;

struct EsiCrawl
{
	MemoryContext cxt;
	EsiRoute   *route;
	EsiServerOptions *opts;
	void	   *multi;
	EsiRequest **reqs;
	int			nreqs;
	int			next_req;		/* next request to start */
	EsiReqState *rs;
	List	   *pending;		/* EsiWork, FIFO */
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
 *		Release every libcurl handle; runs at esi_crawl_end and when the
 *		crawl's context goes away on error.
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
			esi_http_free_transfer(c->multi, c->slots[i]);
	esi_http_multi_free(c->multi);
	c->multi = NULL;
}

/*
 * esi_crawl_begin
 *		Set up the transfers of a scan; nothing is sent yet.
 */
EsiCrawl *
esi_crawl_begin(MemoryContext parent, EsiRoute *route, EsiServerOptions *opts,
				List *requests, double row_bound, EsiCrawlStats *stats)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "esi_fdw crawl",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EsiCrawl   *c = palloc0(sizeof(EsiCrawl));
	ListCell   *lc;
	int			i = 0;

	c->cxt = cxt;
	c->route = route;
	c->opts = opts;
	c->nreqs = list_length(requests);
	c->reqs = palloc0(sizeof(EsiRequest *) * (c->nreqs + 1));
	foreach(lc, requests)
		c->reqs[i++] = lfirst(lc);
	c->rs = palloc0(sizeof(EsiReqState) * (c->nreqs + 1));
	c->nslots = Max(1, opts->max_connections);
	c->slots = palloc0(sizeof(EsiTransfer *) * c->nslots);
	c->slot_work = palloc0(sizeof(EsiWork *) * c->nslots);
	c->row_bound = row_bound;
	c->stats = stats;

	/* register cleanup before creating anything that needs it */
	c->cb.func = crawl_cleanup;
	c->cb.arg = c;
	MemoryContextRegisterResetCallback(cxt, &c->cb);
	c->multi = esi_http_multi_new();

	MemoryContextSwitchTo(old);
	return c;
}

/*
 * display_of
 *		path?query with the paging parameter, as sent and as shown.
 */
static char *
display_of(EsiCrawl *c, EsiWork *w)
{
	EsiRequest *r = c->reqs[w->reqno];
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, r->path);
	appendStringInfoChar(&buf, '?');
	if (r->query[0])
		appendStringInfoString(&buf, r->query);
	if (w->page > 0)
		appendStringInfo(&buf, "%spage=%d", r->query[0] ? "&" : "", w->page);
	else if (w->cursor)
		appendStringInfo(&buf, "%s%s=%s", r->query[0] ? "&" : "",
						 c->route->paging == ESI_PAGING_FROM_ID ? "from_id" : "before",
						 w->cursor);
	if (buf.data[buf.len - 1] == '?')
		buf.data[--buf.len] = '\0';
	return buf.data;
}

/*
 * new_work
 *		A page to fetch, queued at the tail (or the head, for retries).
 */
static void
queue_work(EsiCrawl *c, int reqno, int page, const char *cursor, bool front)
{
	MemoryContext old = MemoryContextSwitchTo(c->cxt);
	EsiWork    *w = palloc0(sizeof(EsiWork));

	w->reqno = reqno;
	w->page = page;
	w->cursor = cursor ? pstrdup(cursor) : NULL;
	if (front)
		c->pending = lcons(w, c->pending);
	else
		c->pending = lappend(c->pending, w);
	MemoryContextSwitchTo(old);
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
 * fill_slots
 *		Start as many transfers as the connection limit and the read-ahead
 *		window allow.
 */
static void
fill_slots(EsiCrawl *c)
{
	TimestampTz now = GetCurrentTimestamp();

	while (c->inflight < c->nslots &&
		   c->inflight + list_length(c->ready) < 2 * c->nslots)
	{
		EsiWork    *w = NULL;
		ListCell   *lc;
		int			slot;
		MemoryContext old;

		/* with a LIMIT, fetch no page the rows already coming make useless */
		if (c->row_bound >= 0 &&
			c->rows_done + expected_rows_ahead(c) >= c->row_bound)
			break;

		foreach(lc, c->pending)
		{
			EsiWork    *cand = lfirst(lc);

			if (cand->not_before <= now)
			{
				w = cand;
				c->pending = foreach_delete_current(c->pending, lc);
				break;
			}
		}
		if (w == NULL)
		{
			if (c->next_req >= c->nreqs)
				break;
			queue_work(c, c->next_req,
					   c->route->paging == ESI_PAGING_PAGES ? 1 : 0, NULL, false);
			c->next_req++;
			continue;
		}

		for (slot = 0; slot < c->nslots; slot++)
			if (c->slot_work[slot] == NULL)
				break;
		Assert(slot < c->nslots);

		old = MemoryContextSwitchTo(c->cxt);
		if (c->slots[slot] == NULL)
			c->slots[slot] = esi_http_new_transfer(c->cxt, c->opts);
		esi_http_prepare(c->slots[slot], c->opts, display_of(c, w));
		MemoryContextSwitchTo(old);
		c->slots[slot]->reqno = w->reqno;
		c->slots[slot]->page = w->page;
		c->slots[slot]->attempt = w->attempt;
		c->slots[slot]->cursor = w->cursor;
		c->slot_work[slot] = w;
		esi_http_start(c->multi, c->slots[slot]);
		c->inflight++;
		c->stats->requests++;
	}
}

/*
 * retry_later
 *		Queue a failed page again after a delay; false when out of tries.
 */
static bool
retry_later(EsiCrawl *c, EsiWork *w, int delay_ms, bool counts)
{
	if (counts)
	{
		if (w->attempt >= esi_guc_max_retries)
			return false;
		w->attempt++;
	}
	w->not_before = GetCurrentTimestamp() + (int64) delay_ms * 1000;
	c->pending = lcons(w, c->pending);
	c->stats->retries++;
	return true;
}

/*
 * version_changed
 *		ESI refreshed a paged result while we were reading it.
 */
static void
version_changed(EsiCrawl *c, EsiTransfer *t, const char *what,
				const char *first, const char *now)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("ESI data changed while foreign table \"%s\" was being read",
					c->route->relname),
			 errdetail("Page %d of %s has %s \"%s\" but page 1 had \"%s\"; esi_fdw does not mix two versions of a result.",
					   t->page, c->reqs[t->reqno]->path, what, now, first),
			 errhint("Run the query again: ESI refreshed this route and the next read gets one version.")));
}

/*
 * take_page
 *		A 200 reply: check it belongs to the same version as its first page,
 *		queue the rest of the pages, and hand the body to the scan.
 */
static void
take_page(EsiCrawl *c, int slot)
{
	EsiTransfer *t = c->slots[slot];
	EsiReqState *rs = &c->rs[t->reqno];
	EsiPage    *page;
	EsiTransfer *snap;
	MemoryContext old;

	if (c->route->paging == ESI_PAGING_PAGES)
	{
		int			pages = t->x_pages > 0 ? t->x_pages : 1;

		if (t->page == 1)
		{
			rs->pages = pages;
			strlcpy(rs->last_modified, t->last_modified, ESI_HDR_LEN);
		}
		else
		{
			if (strcmp(rs->last_modified, t->last_modified) != 0)
				version_changed(c, t, "Last-Modified", rs->last_modified, t->last_modified);
			if (rs->pages != pages)
				version_changed(c, t, "X-Pages", psprintf("%d", rs->pages), psprintf("%d", pages));
		}
		if (t->page == 1 && !rs->rest_queued)
		{
			rs->rest_queued = true;
			for (int p = 2; p <= rs->pages; p++)
				queue_work(c, t->reqno, p, NULL, false);
		}
	}

	/* the page takes the body; the slot gets a fresh buffer next time */
	old = MemoryContextSwitchTo(c->cxt);
	snap = palloc(sizeof(EsiTransfer));
	memcpy(snap, t, sizeof(EsiTransfer));
	snap->easy = NULL;
	snap->headers = NULL;
	snap->active = false;
	snap->url = NULL;
	snap->display = pstrdup(t->display);	/* the slot frees its own */
	if (snap->buf == NULL)
	{
		snap->buf = palloc(1);
		snap->buf[0] = '\0';
	}
	t->buf = NULL;
	t->cap = 0;
	t->len = 0;
	page = palloc0(sizeof(EsiPage));
	page->t = snap;
	page->reqno = t->reqno;
	page->req = c->reqs[t->reqno];
	c->ready = lappend(c->ready, page);
	MemoryContextSwitchTo(old);

	c->stats->pages++;
	c->stats->bytes += snap->len;
}

/*
 * handle_done
 *		Decide what a finished transfer means: a page, a retry, or an error.
 */
static void
handle_done(EsiCrawl *c, EsiTransfer *t, int curl_code)
{
	int			slot;
	EsiWork    *w;
	long		status;

	for (slot = 0; slot < c->nslots; slot++)
		if (c->slots[slot] == t)
			break;
	if (slot >= c->nslots)
		elog(ERROR, "esi_fdw: finished transfer not owned by this scan");

	esi_http_complete(c->multi, t, curl_code);
	w = c->slot_work[slot];
	c->slot_work[slot] = NULL;
	c->inflight--;
	status = t->status;

	if (curl_code != 0 || status == 0)
	{
		c->stats->status_counts[0]++;
		if (t->oom)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory while reading %s from ESI", t->display)));
		if (!retry_later(c, w, esi_guc_retry_delay_ms << Min(w->attempt, 6), true))
			esi_report_transport_error(c->route, t);
		return;
	}

	c->stats->status_counts[Min(status / 100, 5)]++;
	if (status == 200)
		take_page(c, slot);
	else if (status == 429 && t->retry_after >= 0 &&
			 t->retry_after <= esi_guc_max_retry_after)
	{
		/* the bucket refills: waiting is what ESI asks for */
		if (!retry_later(c, w, Max(t->retry_after, 1) * 1000, false))
			esi_report_http_error(c->route, t);
	}
	else if (status >= 500 && status != 501 && status != 505)
	{
		if (!retry_later(c, w, esi_guc_retry_delay_ms << Min(w->attempt, 6), true))
			esi_report_http_error(c->route, t);
	}
	else
		esi_report_http_error(c->route, t);
}

/*
 * esi_crawl_next_page
 *		The next page that arrived, waiting for one if needed; NULL when
 *		every request is complete.
 */
EsiPage *
esi_crawl_next_page(EsiCrawl *c)
{
	for (;;)
	{
		EsiTransfer *t;
		int			code;
		int			timeout = 100;	/* ms; bounds the delay before Ctrl-C acts */
		instr_time	start,
					dur;

		CHECK_FOR_INTERRUPTS();
		fill_slots(c);
		if (c->ready != NIL)
		{
			EsiPage    *p = linitial(c->ready);

			c->ready = list_delete_first(c->ready);
			c->decoding = true;
			return p;
		}
		if (c->inflight == 0)
		{
			TimestampTz now,
						next = 0;
			ListCell   *lc;

			if (c->pending == NIL && c->next_req >= c->nreqs)
				return NULL;
			if (c->row_bound >= 0 && c->rows_done >= c->row_bound)
				return NULL;
			/* only delayed retries are left: sleep until the first is due */
			foreach(lc, c->pending)
			{
				EsiWork    *w = lfirst(lc);

				if (next == 0 || w->not_before < next)
					next = w->not_before;
			}
			now = GetCurrentTimestamp();
			if (next > now)
			{
				long		ms = (long) ((next - now) / 1000) + 1;

				INSTR_TIME_SET_CURRENT(start);
				(void) WaitLatch(MyLatch,
								 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 Min(ms, 100), PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				INSTR_TIME_SET_CURRENT(dur);
				INSTR_TIME_SUBTRACT(dur, start);
				c->stats->wait_ms += INSTR_TIME_GET_MILLISEC(dur);
			}
			continue;
		}

		INSTR_TIME_SET_CURRENT(start);
		esi_http_perform(c->multi, timeout);
		INSTR_TIME_SET_CURRENT(dur);
		INSTR_TIME_SUBTRACT(dur, start);
		c->stats->wait_ms += INSTR_TIME_GET_MILLISEC(dur);

		while ((t = esi_http_next_done(c->multi, &code)) != NULL)
			handle_done(c, t, code);
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
	EsiTransfer *t;
	int			code;

	if (c->inflight == 0)
		return;
	esi_http_perform(c->multi, 0);
	while ((t = esi_http_next_done(c->multi, &code)) != NULL)
		handle_done(c, t, code);
	fill_slots(c);
}

/*
 * esi_crawl_page_done
 *		The scan decoded a page: free it, and follow a cursor if the route
 *		has one.
 */
void
esi_crawl_page_done(EsiCrawl *c, EsiPage *page, int64 rows,
					const char *next_cursor)
{
	c->rows_done += rows;
	c->pages_done++;
	c->decoding = false;
	c->stats->rows += rows;
	/* cursor and from_id walks go on while pages bring records */
	if ((c->route->paging == ESI_PAGING_CURSOR ||
		 c->route->paging == ESI_PAGING_FROM_ID) && rows > 0 && next_cursor &&
		next_cursor[0] && (page->t->cursor == NULL ||
						   strcmp(page->t->cursor, next_cursor) != 0))
		queue_work(c, page->reqno, 0, next_cursor, true);
	if (page->t->buf)
		pfree(page->t->buf);
	pfree(page->t->display);
	pfree(page->t);
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
