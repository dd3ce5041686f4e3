/*-------------------------------------------------------------------------
 *
 * paging.c
 *		  What the next request of a walk through a paged result is.
 *
 * One EsiWalk per request of a scan decides, for every paging style, which
 * page to ask for next and when the result is complete:
 *
 *	pages	page 1 first; its X-Pages header gives the count, and pages 2..n
 *			may then be fetched together.  They are handed out one at a time
 *			(a counter, not a list), so a huge count costs nothing before it
 *			is refused.  Every page must be of page 1's version: ESI
 *			refreshed the result otherwise, and a scan never mixes two
 *			versions.  ESI's pages of one version need not agree to the
 *			second (esi-issues #1149, #487, #194): a Last-Modified up to
 *			ESI_PAGE_SKEW_S from page 1's is the same version, a later page
 *			without X-Pages is taken as it is; a Last-Modified further off
 *			(a new version moves it by ESI's cache period, 5 minutes and
 *			more for paged routes) or another X-Pages is a new version.
 *	cursor	one page at a time: the "before" token of a page's reply asks
 *			for the next, until a page has no records (ESI's documented end)
 *			or gives back the token it was asked with.  Each request asks
 *			for ESI_CURSOR_LIMIT records (ESI's maximum; its default is 10)
 *			unless the request's query already says how many.
 *	from_id one page at a time: the smallest id on a page asks for the next.
 *			ESI's reply starts with the record it was asked from, which is
 *			no row of the result; the walk ends when only that record comes
 *			back.
 *
 * A walk of the last two kinds that comes back to a token it already
 * followed would return the same records forever: that is an error, as is
 * a walk or an X-Pages count longer than esi_fdw.max_pages.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"

#include "guc.h"
#include "http.h"
#include "paging.h"

/*
 * Pages of one version of a result may carry Last-Modified this many
 * seconds apart.  A new version moves it by the route's cache period
 * (300 s or more for every paged route of ESI's OpenAPI description).
 */
#define ESI_PAGE_SKEW_S 5

/* records a cursor request asks for: the maximum ESI's routes take */
#define ESI_CURSOR_LIMIT 100

/* tokens already followed, by hash (a bucket holds every token of a hash) */
typedef struct SeenEntry
{
	uint32		hash;
	List	   *tokens;
} SeenEntry;

struct EsiWalk
{
	EsiRoute   *route;
	EsiRequest *req;
	int			issued;			/* requests handed out so far */
	bool		waiting;		/* the next request depends on a page not
								 * seen yet */
	bool		finished;		/* cursor and from_id walks: no more pages */
	int			pages;			/* X-Pages of page 1 (0 until known) */
	char	   *last_modified;	/* Last-Modified of page 1 */
	char	   *next_token;		/* cursor and from_id walks */
	HTAB	   *seen;			/* tokens followed so far */
};

/*
 * esi_walk_begin
 *		A walk through the result of one request, in CurrentMemoryContext.
 */
EsiWalk *
esi_walk_begin(EsiRoute *route, EsiRequest *req)
{
	EsiWalk    *w = palloc0(sizeof(EsiWalk));

	w->route = route;
	w->req = req;
	return w;
}

/*
 * esi_walk_next
 *		The next page to ask for, if one can be asked for now.
 */
bool
esi_walk_next(EsiWalk *w, EsiPageKey *key)
{
	memset(key, 0, sizeof(EsiPageKey));
	if (w->waiting || esi_walk_finished(w))
		return false;

	switch (w->route->paging)
	{
		case ESI_PAGING_NONE:
			break;
		case ESI_PAGING_PAGES:
			key->page = w->issued + 1;
			/* page 1 tells how many follow */
			w->waiting = (w->issued == 0);
			break;
		case ESI_PAGING_CURSOR:
		case ESI_PAGING_FROM_ID:
			if (w->issued > 0)
			{
				key->token = w->next_token;
				if (w->route->paging == ESI_PAGING_FROM_ID)
					key->from_id = strtoi64(key->token, NULL, 10);
			}
			w->next_token = NULL;
			/* one page at a time: the next depends on this one's records */
			w->waiting = true;
			break;
	}
	w->issued++;
	return true;
}

/*
 * esi_walk_finished
 *		Whether every page of the result has been handed out.
 */
bool
esi_walk_finished(EsiWalk *w)
{
	switch (w->route->paging)
	{
		case ESI_PAGING_NONE:
			return w->issued > 0;
		case ESI_PAGING_PAGES:
			return w->issued > 0 && !w->waiting && w->issued >= w->pages;
		case ESI_PAGING_CURSOR:
		case ESI_PAGING_FROM_ID:
			return w->finished;
	}
	return true;
}

/*
 * walk_display
 *		The request of a page, for messages.
 */
static char *
walk_display(EsiWalk *w, const EsiPageKey *key)
{
	return esi_paging_display(w->route, w->req, key);
}

/*
 * too_many_pages
 *		A result longer than esi_fdw.max_pages.
 */
static void
too_many_pages(EsiWalk *w, const EsiPageKey *key, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("GET %s has more pages than esi_fdw.max_pages (%d) allows (foreign table \"%s\")",
					walk_display(w, key), esi_guc_max_pages, w->route->relname),
			 errdetail("%s", detail),
			 errhint("Add conditions that narrow the result, or raise the limit: SET esi_fdw.max_pages = %d;",
					 esi_guc_max_pages < INT_MAX / 10 ? esi_guc_max_pages * 10 : INT_MAX)));
}

/*
 * version_changed
 *		ESI refreshed a paged result while we were reading it.
 */
static void
version_changed(EsiWalk *w, const EsiPageKey *key, const char *what,
				const char *first, const char *now)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("ESI data changed while foreign table \"%s\" was being read",
					w->route->relname),
			 strcmp(what, "Last-Modified") == 0 ?
			 errdetail("Page %d of %s has Last-Modified \"%s\" but page 1 had \"%s\"; esi_fdw takes pages up to %d seconds apart for one version and does not mix two versions of a result.",
					   key->page, w->req->path, now, first, ESI_PAGE_SKEW_S) :
			 errdetail("Page %d of %s has %s \"%s\" but page 1 had \"%s\"; esi_fdw does not mix two versions of a result.",
					   key->page, w->req->path, what, now, first),
			 errhint("Run the query again: ESI refreshed this route and the next read gets one version.")));
}

/*
 * same_version
 *		Whether a page's Last-Modified is that of page 1's version: the
 *		same text, or dates at most ESI_PAGE_SKEW_S apart.  Text that is no
 *		HTTP date must be the same text.
 */
static bool
same_version(const char *first, const char *now)
{
	pg_time_t	a,
				b;

	if (strcmp(first, now) == 0)
		return true;
	if (!esi_http_parse_date(first, &a) || !esi_http_parse_date(now, &b))
		return false;
	return (a > b ? a - b : b - a) <= ESI_PAGE_SKEW_S;
}

/*
 * parse_pages
 *		An X-Pages header as a page count (an empty result has one, empty,
 *		page); false when it is malformed.
 */
static bool
parse_pages(const char *x_pages, int64 *pages)
{
	if (!esi_http_parse_count(x_pages, pages) || *pages > INT_MAX)
		return false;
	*pages = Max(*pages, 1);
	return true;
}

/*
 * esi_walk_reply
 *		A page's reply arrived (HTTP 200): X-Pages walks learn their page
 *		count from page 1 and check every later page against it.
 */
void
esi_walk_reply(EsiWalk *w, const EsiPageKey *key, const char *x_pages,
			   const char *last_modified)
{
	int64		pages = 1;

	if (w->route->paging != ESI_PAGING_PAGES)
		return;

	if (x_pages && !parse_pages(x_pages, &pages))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("malformed X-Pages header in ESI's reply to GET %s (foreign table \"%s\")",
						walk_display(w, key), w->route->relname),
				 errdetail("X-Pages: \"%s\" is not a page count.", x_pages),
				 errhint("ESI sends a whole number of pages; check the server's base_url option.")));
	if (last_modified == NULL)
		last_modified = "";

	if (key->page == 1)
	{
		if (pages > esi_guc_max_pages)
			too_many_pages(w, key,
						   psprintf("ESI's reply says X-Pages: %lld.", (long long) pages));
		w->pages = (int) pages;
		w->last_modified = pstrdup(last_modified);
		w->waiting = false;
		return;
	}
	if (!same_version(w->last_modified, last_modified))
		version_changed(w, key, "Last-Modified", w->last_modified, last_modified);
	/* a later page without X-Pages says nothing against page 1's count */
	if (x_pages && pages != w->pages)
		version_changed(w, key, "X-Pages", psprintf("%d", w->pages),
						psprintf("%lld", (long long) pages));
}

/*
 * esi_walk_matches
 *		Whether a page's reply belongs to the version of the result the walk
 *		is reading (a page the cache kept may be of an older one), by the
 *		rules of esi_walk_reply.  Only X-Pages walks have versions, told by
 *		page 1.
 */
bool
esi_walk_matches(EsiWalk *w, const EsiPageKey *key, const char *x_pages,
				 const char *last_modified)
{
	int64		pages;

	if (w->route->paging != ESI_PAGING_PAGES || key->page == 1 || w->last_modified == NULL)
		return true;
	if (x_pages && (!parse_pages(x_pages, &pages) || pages != w->pages))
		return false;
	return same_version(w->last_modified, last_modified ? last_modified : "");
}

/*
 * seen_before
 *		Whether a walk already followed token; remembers it if not.
 */
static bool
seen_before(EsiWalk *w, const char *token)
{
	uint32		h = hash_bytes((const unsigned char *) token, strlen(token));
	SeenEntry  *e;
	bool		found;
	ListCell   *lc;

	if (w->seen == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(SeenEntry);
		ctl.hcxt = CurrentMemoryContext;
		w->seen = hash_create("esi_fdw walk tokens", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	e = hash_search(w->seen, &h, HASH_ENTER, &found);
	if (!found)
		e->tokens = NIL;
	foreach(lc, e->tokens)
		if (strcmp(lfirst(lc), token) == 0)
			return true;
	e->tokens = lappend(e->tokens, pstrdup(token));
	return false;
}

/*
 * esi_walk_page_done
 *		The scan decoded a page: cursor and from_id walks find their next
 *		page in it, or end.  Runs in the crawl's context (tokens are kept).
 */
void
esi_walk_page_done(EsiWalk *w, const EsiPageKey *key, const EsiPageFacts *facts)
{
	char	   *next = NULL;

	if (w->route->paging != ESI_PAGING_CURSOR &&
		w->route->paging != ESI_PAGING_FROM_ID)
		return;

	w->waiting = false;
	if (w->route->paging == ESI_PAGING_CURSOR)
	{
		/* ESI's walk ends on an empty page */
		if (facts->records > 0 && facts->cursor_before && facts->cursor_before[0] &&
			(key->token == NULL || strcmp(key->token, facts->cursor_before) != 0))
			next = pstrdup(facts->cursor_before);
	}
	else
	{
		/* ... this one when only the record asked from comes back */
		if (facts->rows > 0 && facts->have_min_id)
			next = psprintf(INT64_FORMAT, facts->min_id);
		else if (facts->rows > 0)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("ESI's reply to GET %s has no \"%s\" to page on (foreign table \"%s\")",
							walk_display(w, key), w->route->id_field,
							w->route->relname),
					 errdetail("A from_id walk sends the smallest \"%s\" of a page to get the next one; no record of page %d has it, so the rest of the result cannot be asked for.",
							   w->route->id_field, w->issued),
					 errhint("Name the records' id field in the table's options: ALTER FOREIGN TABLE %s OPTIONS (SET id_field 'name'), or ADD if it is not set.",
							 w->route->relname)));
	}
	if (next == NULL)
	{
		w->finished = true;
		return;
	}

	/* every token followed so far was remembered here */
	if (seen_before(w, next))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("ESI's paging of GET %s goes round in a circle (foreign table \"%s\")",
						walk_display(w, key), w->route->relname),
				 errdetail("The reply to page %d of the walk asks for a %s that an earlier page already asked for; following it would return the same records again.",
						   w->issued,
						   w->route->paging == ESI_PAGING_CURSOR ? "\"before\" token" : "from_id"),
				 errhint("This is a fault of the server; check the server's base_url option, or try again later.")));
	if (w->issued >= esi_guc_max_pages)
		too_many_pages(w, key,
					   psprintf("The walk has gone through %d pages and the last one asks for another.",
								w->issued));
	w->next_token = next;
}

/*
 * esi_paging_keep_record
 *		For a from_id walk: whether a record with this id is a row of the
 *		result (the page's first record is the one it was asked from, a row
 *		of the previous page); tracks the smallest id of the rows.
 */
bool
esi_paging_keep_record(const EsiPageKey *key, EsiPageFacts *facts, int64 id)
{
	if (key->token && id == key->from_id)
		return false;
	if (!facts->have_min_id || id < facts->min_id)
		facts->min_id = id;
	facts->have_min_id = true;
	return true;
}

/*
 * append_encoded
 *		Percent-encode a token from a reply for a query string: only RFC
 *		3986's unreserved characters stay as they are, so the token cannot
 *		add a parameter ("x&type_id=35") or end the query.
 */
static void
append_encoded(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 15]);
		}
	}
}

/*
 * has_param
 *		Whether a query string (a=b&c=d) has parameter name.
 */
static bool
has_param(const char *query, const char *name)
{
	size_t		n = strlen(name);
	const char *p = query;

	while (p && *p)
	{
		if (strncmp(p, name, n) == 0 && (p[n] == '=' || p[n] == '&' || p[n] == '\0'))
			return true;
		p = strchr(p, '&');
		if (p)
			p++;
	}
	return false;
}

/*
 * esi_paging_display
 *		path?query of one page of a request, with its paging parameters:
 *		what is sent (after the base URL) and shown in messages.  A cursor
 *		request asks for ESI_CURSOR_LIMIT records, unless its query names a
 *		limit of its own (a column or the table's query option).
 */
char *
esi_paging_display(EsiRoute *route, EsiRequest *req, const EsiPageKey *key)
{
	StringInfoData buf;
	bool		first;

	initStringInfo(&buf);
	appendStringInfoString(&buf, req->path);
	appendStringInfoChar(&buf, '?');
	appendStringInfoString(&buf, req->query);
	first = (req->query[0] == '\0');
	if (route->paging == ESI_PAGING_CURSOR && !has_param(req->query, "limit"))
	{
		appendStringInfo(&buf, "%slimit=%d", first ? "" : "&", ESI_CURSOR_LIMIT);
		first = false;
	}
	if (key->page > 0)
		appendStringInfo(&buf, "%spage=%d", first ? "" : "&", key->page);
	else if (key->token)
	{
		appendStringInfo(&buf, "%s%s=", first ? "" : "&",
						 route->paging == ESI_PAGING_FROM_ID ? "from_id" : "before");
		append_encoded(&buf, key->token);
	}
	if (buf.data[buf.len - 1] == '?')
		buf.data[--buf.len] = '\0';
	return buf.data;
}
