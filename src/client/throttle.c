/*-------------------------------------------------------------------------
 *
 * throttle.c
 *		  ESI's error limit and rate limits, kept for the whole cluster.
 *
 * ESI has two limiters (see FACTS.md, "HTTP behaviour"):
 *
 * - the error limit, for routes without a rate-limit group: at most about
 *   100 non-2xx/3xx replies per fixed window, told by X-ESI-Error-Limit-
 *   Remain and -Reset; beyond it ESI answers 420 on every route until the
 *   window resets.  Requests wait for the reset when fewer than
 *   esi_fdw.error_limit_threshold errors (minus those in flight) remain,
 *   so esi_fdw never provokes a 420; after a 420 everything waits.
 * - rate limits, per X-Ratelimit-Group: a floating window of tokens told
 *   by X-Ratelimit-Limit ("150/15m"), -Remaining and -Used.  A reply costs
 *   2 tokens for a 2xx, 1 for a 3xx (a revalidation's 304), 5 for a 4xx
 *   other than 429, nothing for a 429 or a 5xx.  Requests in flight hold
 *   what they should cost (1 for a revalidation, 2 otherwise) against the
 *   bucket's remaining tokens.  When the bucket gets below
 *   esi_fdw.rate_limit_reserve percent, requests are paced to the bucket's
 *   refill rate: each waits until the tokens the one before it cost came
 *   back (window / limit per token), counted by its reply's real cost; a
 *   429 holds the group off for Retry-After.
 *
 * State is kept per base URL (Tranquility and Singularity are separate
 * servers with separate limits) in a small table in shared memory.  An
 * authenticated request spends the bucket of its character ("group:id"),
 * as ESI keys buckets by application and character.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "access/genam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_foreign_server.h"
#include "fmgr.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "option.h"
#include "throttle.h"
#include "storage/lwlock.h"

#define ESI_LIMIT_BASES 16
#define ESI_LIMIT_GROUPS 256
#define ESI_LIMIT_URL_LEN 256
#define ESI_LIMIT_GROUP_LEN 64
/* wait this long after a 420 or 429 that says nothing about when */
#define ESI_LIMIT_DEFAULT_HOLD_S 60

typedef struct EsiErrorState
{
	char		base_url[ESI_LIMIT_URL_LEN];	/* "" = free slot */
	int			remain;			/* X-ESI-Error-Limit-Remain, -1 unknown */
	TimestampTz reset_at;		/* when the window ends */
	TimestampTz blocked_until;	/* after a 420 */
	TimestampTz updated_at;
	int			inflight;		/* requests admitted, not answered */
} EsiErrorState;

typedef struct EsiRateState
{
	int			base;			/* slot of the base URL; -1 = free */
	char		group[ESI_LIMIT_GROUP_LEN];
	char		limit_text[32]; /* X-Ratelimit-Limit as sent */
	int			tokens;			/* ... parsed: tokens per window */
	int			window_s;		/* ... and the window */
	int			remaining;		/* -1 unknown */
	int			used;
	TimestampTz blocked_until;	/* after a 429 */
	TimestampTz next_paced;		/* when paced, the next request's turn */
	TimestampTz updated_at;
	int			inflight;
	int			reserved;		/* tokens the requests in flight should
								 * cost */
	int			paced_cost;		/* what the request that set next_paced
								 * cost (or should) */
} EsiRateState;

typedef struct EsiLimitsShared
{
	LWLock		lock;			/* every state below */
	EsiErrorState bases[ESI_LIMIT_BASES];
	EsiRateState groups[ESI_LIMIT_GROUPS];
} EsiLimitsShared;

static EsiLimitsShared *limits = NULL;

/*
 * Why the last request esi_limits_admit refused in this backend was paced:
 * the tokens of the request before it and how long the bucket takes to get
 * them back.  esi_limits_check_deadline, called next, explains with it.
 */
static int	refused_paced_cost = 0;
static int64 refused_paced_ms = 0;

PG_FUNCTION_INFO_V1(esi_limits);

/*
 * esi_limits_shmem_size
 *		The size of the limits' area (set up by shmem.c).
 */
Size
esi_limits_shmem_size(void)
{
	return sizeof(EsiLimitsShared);
}

/*
 * esi_limits_shmem_init
 *		Set up the limits' area (shmem.c's part init).
 */
void
esi_limits_shmem_init(void *area, bool found, int tranche)
{
	limits = area;
	if (!found)
	{
		LWLockInitialize(&limits->lock, tranche);
		for (int i = 0; i < ESI_LIMIT_GROUPS; i++)
			limits->groups[i].base = -1;
	}
}

/*
 * base_slot
 *		The slot of a base URL (lock held exclusively); a new one replaces
 *		the least recently updated when all are taken.
 */
static int
base_slot(const char *base_url)
{
	int			oldest = 0;

	for (int i = 0; i < ESI_LIMIT_BASES; i++)
	{
		EsiErrorState *e = &limits->bases[i];

		if (strcmp(e->base_url, base_url) == 0)
			return i;
		if (e->base_url[0] == '\0' ||
			(limits->bases[oldest].base_url[0] != '\0' && e->updated_at < limits->bases[oldest].updated_at))
			oldest = i;
	}
	/* groups of the replaced base go with it */
	for (int g = 0; g < ESI_LIMIT_GROUPS; g++)
		if (limits->groups[g].base == oldest)
			limits->groups[g].base = -1;
	memset(&limits->bases[oldest], 0, sizeof(EsiErrorState));
	strlcpy(limits->bases[oldest].base_url, base_url, ESI_LIMIT_URL_LEN);
	limits->bases[oldest].remain = -1;
	limits->bases[oldest].updated_at = GetCurrentTimestamp();
	return oldest;
}

/*
 * group_slot
 *		The slot of a base URL's rate-limit group (lock held exclusively).
 */
static int
group_slot(int base, const char *group)
{
	int			oldest = -1;

	for (int i = 0; i < ESI_LIMIT_GROUPS; i++)
	{
		EsiRateState *r = &limits->groups[i];

		if (r->base == base && strcmp(r->group, group) == 0)
			return i;
		if (oldest < 0 || r->base < 0 ||
			(limits->groups[oldest].base >= 0 && r->updated_at < limits->groups[oldest].updated_at))
			oldest = i;
	}
	memset(&limits->groups[oldest], 0, sizeof(EsiRateState));
	limits->groups[oldest].base = base;
	strlcpy(limits->groups[oldest].group, group, ESI_LIMIT_GROUP_LEN);
	limits->groups[oldest].remaining = -1;
	limits->groups[oldest].updated_at = GetCurrentTimestamp();
	return oldest;
}

/*
 * esi_limits_token_cost
 *		What a reply of this status costs in its rate-limit bucket (ESI's
 *		rate-limiting documentation): 2 for a 2xx, 1 for a 3xx, 5 for a
 *		4xx, nothing for a 5xx or for the limiters' own refusals (429, and
 *		the error limit's 420, which no bucket counts).
 */
static int
esi_limits_token_cost(long status)
{
	if (status == 429 || status == 420)
		return 0;
	if (status >= 200 && status < 300)
		return ESI_COST_2XX;
	if (status >= 300 && status < 400)
		return ESI_COST_3XX;
	if (status >= 400 && status < 500)
		return ESI_COST_4XX;
	return 0;
}

/*
 * pace_us
 *		How long a bucket takes to get cost tokens back: its window over its
 *		limit, per token.
 */
static int64
pace_us(EsiRateState *r, int cost)
{
	return (int64) r->window_s * USECS_PER_SEC * cost / r->tokens;
}

/*
 * bucket_key
 *		The bucket of a group, for one character or none.
 */
static const char *
bucket_key(const char *group, const char *who)
{
	if (group == NULL || who == NULL)
		return group;
	return psprintf("%s:%s", group, who);
}

/*
 * esi_limits_admit
 *		May a request to base_url (of rate-limit group, or NULL) be sent
 *		now?  Yes: it is counted in flight (ticket, with the tokens it
 *		should cost: ticket->cost, set by the caller) until esi_limits_reply
 *		or esi_limits_abandon.  No: *retry_at says when to ask again and
 *		*why why.
 */
bool
esi_limits_admit(const char *base_url, const char *group, const char *who,
				 EsiLimitTicket *ticket, TimestampTz *retry_at,
				 EsiLimitReason *why)
{
	TimestampTz now = GetCurrentTimestamp();
	EsiErrorState *e;
	EsiRateState *r = NULL;
	int			b,
				g = -1;
	int			cost = ticket->cost > 0 ? ticket->cost : ESI_COST_2XX;

	ticket->base = ticket->group = -1;
	ticket->cost = cost;
	ticket->paced = false;
	*why = ESI_LIMIT_NONE;
	if (limits == NULL)
		return true;
	group = bucket_key(group, who);
	if (group && strlen(group) >= ESI_LIMIT_GROUP_LEN)
		group = NULL;

	LWLockAcquire(&limits->lock, LW_EXCLUSIVE);
	b = base_slot(base_url);
	e = &limits->bases[b];
	if (group)
	{
		g = group_slot(b, group);
		r = &limits->groups[g];
	}

	if (now < e->blocked_until)
	{
		/* ESI answers 420 on every route until the window resets */
		*why = ESI_LIMIT_ERROR_BLOCKED;
		*retry_at = e->blocked_until;
	}
	else if (r == NULL && e->remain >= 0 && now < e->reset_at &&
			 e->remain - e->inflight <= esi_guc_error_limit_threshold)
	{
		*why = ESI_LIMIT_ERROR_WINDOW;
		*retry_at = e->reset_at;
	}
	else if (r && now < r->blocked_until)
	{
		*why = ESI_LIMIT_RATE_BLOCKED;
		*retry_at = r->blocked_until;
	}
	else if (r && r->remaining >= 0 && r->tokens > 0 &&
			 now < r->updated_at + (int64) r->window_s * USECS_PER_SEC)
	{
		int			reserve = Max(2, (int) ((int64) r->tokens * esi_guc_rate_limit_reserve / 100));

		/* what the requests in flight should cost is spent already */
		if (r->remaining - r->reserved <= reserve)
		{
			if (now < r->next_paced)
			{
				*why = ESI_LIMIT_RATE_PACED;
				*retry_at = r->next_paced;
				refused_paced_cost = r->paced_cost;
				refused_paced_ms = pace_us(r, r->paced_cost) / 1000;
			}
			else
			{
				/* the next turn once this one's tokens are back */
				r->next_paced = now + pace_us(r, cost);
				r->paced_cost = cost;
				ticket->paced = true;
				ticket->paced_until = r->next_paced;
			}
		}
	}

	if (*why == ESI_LIMIT_NONE)
	{
		e->inflight++;
		ticket->base = b;
		if (r)
		{
			r->inflight++;
			r->reserved += cost;
			ticket->group = g;
		}
	}
	LWLockRelease(&limits->lock);
	return *why == ESI_LIMIT_NONE;
}

/*
 * esi_limits_check_deadline
 *		A request must wait until retry_at: fail now, rather than wait for
 *		nothing, when that is past the end statement_timeout sets for this
 *		statement, or longer than esi_fdw.max_retry_after (what a scan
 *		waits out by itself after a 429).
 */
void
esi_limits_check_deadline(const char *base_url, const char *group,
						  TimestampTz retry_at, EsiLimitReason why,
						  const char *subject)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz deadline = 0;
	bool		too_long;
	long		secs;
	int			usecs;
	int			wait_s;
	char	   *bound;

	if (StatementTimeout > 0)
		deadline = GetCurrentStatementStartTimestamp() + (int64) StatementTimeout * 1000;
	/* a scan waits out no more than it would after a 429 by itself */
	too_long = retry_at - now > (int64) esi_guc_max_retry_after * USECS_PER_SEC;
	if (!too_long && (deadline == 0 || retry_at <= deadline))
		return;
	TimestampDifference(now, retry_at, &secs, &usecs);
	wait_s = (int) secs + (usecs > 0 ? 1 : 0);
	bound = too_long ?
		psprintf("longer than esi_fdw.max_retry_after (%d s)", esi_guc_max_retry_after) :
		psprintf("after statement_timeout (%d ms) ends this statement", StatementTimeout);

	if (why == ESI_LIMIT_ERROR_WINDOW || why == ESI_LIMIT_ERROR_BLOCKED)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("ESI's error limit holds off requests for %s for %d more seconds",
						subject, wait_s),
				 why == ESI_LIMIT_ERROR_BLOCKED ?
				 errdetail("ESI answered 420 (error limit exhausted); every session waits for the window to reset, which is %s.", bound) :
				 errdetail("Few errors remain in ESI's error-limit window (esi_fdw.error_limit_threshold); every session waits for the window to reset, which is %s.", bound),
				 errhint("Run the query again in %d seconds.", wait_s)));
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("ESI's rate limit of group \"%s\" holds off requests for %s for %d more seconds",
					group ? group : "?", subject, wait_s),
			 why == ESI_LIMIT_RATE_BLOCKED ?
			 errdetail("ESI answered 429 for this group; every session waits for its Retry-After, which is %s.", bound) :
			 errdetail("The group's token bucket is nearly empty (esi_fdw.rate_limit_reserve), so requests are paced to its refill rate: the request before cost %d token%s, which the bucket gets back in %s s; the next turn is %s.",
					   refused_paced_cost, refused_paced_cost == 1 ? "" : "s",
					   refused_paced_ms % 1000 == 0 ?
					   psprintf("%lld", (long long) (refused_paced_ms / 1000)) :
					   psprintf("%.1f", refused_paced_ms / 1000.0),
					   bound),
			 errhint("Run the query again in %d seconds.", wait_s)));
}

/*
 * parse_limit
 *		X-Ratelimit-Limit: "<tokens>/<n><unit>", unit s, m or h.
 */
static bool
parse_limit(const char *v, int *tokens, int *window_s)
{
	long		t,
				n;
	char	   *end;

	if (v == NULL || !isdigit((unsigned char) *v))
		return false;
	t = strtol(v, &end, 10);
	if (*end != '/' || t <= 0 || t > INT_MAX || !isdigit((unsigned char) end[1]))
		return false;
	n = strtol(end + 1, &end, 10);
	if (n <= 0 || n > 86400)
		return false;
	if (strcmp(end, "s") == 0)
		*window_s = (int) n;
	else if (strcmp(end, "m") == 0)
		*window_s = (int) n * 60;
	else if (strcmp(end, "h") == 0 && n <= 24)
		*window_s = (int) n * 3600;
	else
		return false;
	*tokens = (int) t;
	return true;
}

static int
parse_small(const char *v, int64 max)
{
	int64		n;

	if (!esi_http_parse_count(v, &n) || n > max)
		return -1;
	return (int) n;
}

/*
 * ticket_leaves
 *		A request admitted with ticket is no longer in flight (lock held
 *		exclusively): it leaves the counts and gives back the tokens it held.
 *		Returns its group's state when its turn was paced, else NULL.
 */
static EsiRateState *
ticket_leaves(EsiLimitTicket *ticket)
{
	EsiRateState *paced = NULL;

	if (ticket->base >= 0 && limits->bases[ticket->base].inflight > 0)
		limits->bases[ticket->base].inflight--;
	if (ticket->group >= 0)
	{
		EsiRateState *r = &limits->groups[ticket->group];

		if (r->inflight > 0)
			r->inflight--;
		r->reserved = Max(0, r->reserved - ticket->cost);
		/* its turn set the group's next one, and no later turn did since */
		if (ticket->paced && r->tokens > 0 && r->next_paced == ticket->paced_until)
			paced = r;
	}
	ticket->base = ticket->group = -1;
	ticket->paced = false;
	return paced;
}

/*
 * esi_limits_reply
 *		A request admitted with ticket got a reply (t is NULL when it got
 *		none): it leaves the flight count, and the reply's limit headers
 *		update the shared state.  Malformed values are ignored here (the
 *		scan's own checks report them).
 */
void
esi_limits_reply(EsiLimitTicket *ticket, const char *base_url,
				 const char *route_group, const char *who, EsiTransfer *t)
{
	TimestampTz now = GetCurrentTimestamp();
	const char *group_hdr;
	long		status;
	int			remain,
				reset;
	int64		retry_s;
	int			b;
	int			cost;
	EsiRateState *paced;

	if (limits == NULL)
		return;
	LWLockAcquire(&limits->lock, LW_EXCLUSIVE);
	paced = ticket_leaves(ticket);
	if (t == NULL || esi_http_result(t) != ESI_XFER_REPLY)
	{
		/* no reply, no cost: the next turn need not wait for it */
		if (paced)
		{
			paced->next_paced -= pace_us(paced, ticket->cost);
			paced->paced_cost = 0;
		}
		LWLockRelease(&limits->lock);
		return;
	}
	status = esi_http_status(t);
	cost = esi_limits_token_cost(status);
	if (paced && cost != ticket->cost)
	{
		/* the next turn waits for what this one really cost */
		paced->next_paced += pace_us(paced, cost - ticket->cost);
		paced->paced_cost = cost;
	}
	b = base_slot(base_url);

	/* the error limit */
	remain = parse_small(esi_http_header(t, ESI_HDR_ERROR_LIMIT_REMAIN), 100000);
	reset = parse_small(esi_http_header(t, ESI_HDR_ERROR_LIMIT_RESET), 3600);
	if (remain >= 0)
	{
		EsiErrorState *e = &limits->bases[b];

		e->remain = remain;
		e->reset_at = now + (int64) Max(reset, 1) * USECS_PER_SEC;
		e->updated_at = now;
	}
	if (status == 420)
	{
		EsiErrorState *e = &limits->bases[b];

		e->remain = 0;
		e->blocked_until = now + (int64) (reset >= 0 ? Max(reset, 1) : ESI_LIMIT_DEFAULT_HOLD_S) * USECS_PER_SEC;
		e->reset_at = e->blocked_until;
		e->updated_at = now;
	}

	/* the rate limit of the reply's group (or, for a bare 429, the route's) */
	group_hdr = esi_http_header(t, ESI_HDR_RATELIMIT_GROUP);
	if (group_hdr == NULL && status == 429)
		group_hdr = route_group;
	group_hdr = bucket_key(group_hdr, who);
	if (group_hdr && group_hdr[0] && strlen(group_hdr) < ESI_LIMIT_GROUP_LEN)
	{
		EsiRateState *r = &limits->groups[group_slot(b, group_hdr)];
		const char *lim = esi_http_header(t, ESI_HDR_RATELIMIT_LIMIT);
		int			tokens,
					window_s,
					v;

		if (lim && parse_limit(lim, &tokens, &window_s))
		{
			strlcpy(r->limit_text, lim, sizeof(r->limit_text));
			r->tokens = tokens;
			r->window_s = window_s;
		}
		if ((v = parse_small(esi_http_header(t, ESI_HDR_RATELIMIT_REMAINING), INT_MAX)) >= 0)
			r->remaining = v;
		else if (r->remaining >= 0)
			r->remaining = Max(0, r->remaining - cost); /* what it cost, then */
		if ((v = parse_small(esi_http_header(t, ESI_HDR_RATELIMIT_USED), INT_MAX)) >= 0)
			r->used = v;
		r->updated_at = now;
		if (status == 429)
		{
			if (!esi_http_parse_retry_after(esi_http_header(t, ESI_HDR_RETRY_AFTER), &retry_s) ||
				retry_s > 86400)
				retry_s = ESI_LIMIT_DEFAULT_HOLD_S;
			r->blocked_until = now + Max(retry_s, 1) * USECS_PER_SEC;
			r->remaining = 0;
		}
	}
	LWLockRelease(&limits->lock);
}

/*
 * esi_limits_error_remain
 *		The errors ESI's error-limit window of base_url has left, as its last
 *		reply said (0 while a 420 holds), or -1 when nothing is known or the
 *		window has ended since.
 */
int
esi_limits_error_remain(const char *base_url)
{
	TimestampTz now = GetCurrentTimestamp();
	int			remain = -1;

	if (limits == NULL)
		return -1;
	LWLockAcquire(&limits->lock, LW_SHARED);
	for (int i = 0; i < ESI_LIMIT_BASES; i++)
	{
		EsiErrorState *e = &limits->bases[i];

		if (strcmp(e->base_url, base_url) != 0)
			continue;
		if (e->blocked_until > now)
			remain = 0;
		else if (e->remain >= 0 && e->reset_at > now)
			remain = e->remain;
		break;
	}
	LWLockRelease(&limits->lock);
	return remain;
}

/*
 * esi_limits_abandon
 *		A request admitted with ticket was not sent or its scan ended.
 */
void
esi_limits_abandon(EsiLimitTicket *ticket)
{
	if (limits == NULL || (ticket->base < 0 && ticket->group < 0))
		return;
	LWLockAcquire(&limits->lock, LW_EXCLUSIVE);
	(void) ticket_leaves(ticket);
	LWLockRelease(&limits->lock);
}

static Datum
ts_or_null(TimestampTz ts, bool *isnull)
{
	*isnull = (ts == 0);
	return TimestampTzGetDatum(ts);
}

/*
 * usable_base_urls
 *		The base URLs (as the limit states spell them: no trailing slash,
 *		cut to ESI_LIMIT_URL_LEN) of the esi_fdw servers the current role
 *		has USAGE on; *all is set instead for a superuser, who may use them
 *		all.  The limit states of other base URLs are not the role's to see:
 *		they tell which hosts other roles' servers reach and how busy they
 *		are.
 */
static List *
usable_base_urls(bool *all)
{
	ForeignDataWrapper *fdw;
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *urls = NIL;

	*all = superuser();
	fdw = *all ? NULL : GetForeignDataWrapperByName("esi_fdw", true);
	if (fdw == NULL)
		return NIL;
	rel = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);
		EsiServerOptions *opts;
		char	   *url;
		size_t		n;

		if (srv->srvfdw != fdw->fdwid ||
			pg_foreign_server_aclcheck(srv->oid, GetUserId(), ACL_USAGE) != ACLCHECK_OK)
			continue;
		opts = esi_get_server_options(GetForeignServer(srv->oid));
		url = pnstrdup(opts->base_url ? opts->base_url : "", ESI_LIMIT_URL_LEN - 1);
		n = strlen(url);
		while (n > 0 && url[n - 1] == '/')
			url[--n] = '\0';
		urls = lappend(urls, url);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return urls;
}

/*
 * url_listed
 *		True when url is one of urls.
 */
static bool
url_listed(List *urls, const char *url)
{
	ListCell   *lc;

	foreach(lc, urls)
		if (strcmp((const char *) lfirst(lc), url) == 0)
			return true;
	return false;
}

/*
 * esi_limits
 *		SQL: the limit states, for the view esi.limits: those of the base
 *		URLs of the servers the current role may use.
 */
Datum
esi_limits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	EsiLimitsShared *copy;
	List	   *urls;
	bool		all;

	InitMaterializedSRF(fcinfo, 0);
	if (limits == NULL)
		PG_RETURN_VOID();
	urls = usable_base_urls(&all);
	copy = palloc(sizeof(EsiLimitsShared));
	LWLockAcquire(&limits->lock, LW_SHARED);
	memcpy(copy, limits, sizeof(EsiLimitsShared));
	LWLockRelease(&limits->lock);

	for (int i = 0; i < ESI_LIMIT_BASES; i++)
	{
		EsiErrorState *e = &copy->bases[i];
		Datum		values[9];
		bool		nulls[9] = {0};

		if (e->base_url[0] == '\0' || (e->remain < 0 && e->blocked_until == 0))
			continue;
		if (!all && !url_listed(urls, e->base_url))
			continue;
		values[0] = CStringGetTextDatum(e->base_url);
		values[1] = CStringGetTextDatum("error_limit");
		nulls[2] = nulls[3] = true;
		values[4] = Int32GetDatum(e->remain);
		nulls[4] = e->remain < 0;
		nulls[5] = true;
		values[6] = ts_or_null(e->reset_at, &nulls[6]);
		values[7] = ts_or_null(e->blocked_until, &nulls[7]);
		values[8] = ts_or_null(e->updated_at, &nulls[8]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (int i = 0; i < ESI_LIMIT_GROUPS; i++)
	{
		EsiRateState *r = &copy->groups[i];
		Datum		values[9];
		bool		nulls[9] = {0};

		if (r->base < 0 || (r->remaining < 0 && r->blocked_until == 0))
			continue;
		if (!all && !url_listed(urls, copy->bases[r->base].base_url))
			continue;
		values[0] = CStringGetTextDatum(copy->bases[r->base].base_url);
		values[1] = CStringGetTextDatum("rate_limit");
		values[2] = CStringGetTextDatum(r->group);
		values[3] = CStringGetTextDatum(r->limit_text);
		nulls[3] = r->limit_text[0] == '\0';
		values[4] = Int32GetDatum(r->remaining);
		nulls[4] = r->remaining < 0;
		values[5] = Int32GetDatum(r->used);
		nulls[6] = true;
		values[7] = ts_or_null(r->blocked_until, &nulls[7]);
		values[8] = ts_or_null(r->updated_at, &nulls[8]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * esi_limits_reset
 *		SQL: forget every limit state (after a misconfigured base URL, or in
 *		tests against a simulator that was reset); ESI's next replies tell
 *		the state again.
 */
PG_FUNCTION_INFO_V1(esi_limits_reset);

Datum
esi_limits_reset(PG_FUNCTION_ARGS)
{
	if (limits == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(&limits->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ESI_LIMIT_BASES; i++)
	{
		int			inflight = limits->bases[i].inflight;
		char		url[ESI_LIMIT_URL_LEN];

		/* keep the slots and what is in flight, forget what ESI said */
		strlcpy(url, limits->bases[i].base_url, ESI_LIMIT_URL_LEN);
		memset(&limits->bases[i], 0, sizeof(EsiErrorState));
		strlcpy(limits->bases[i].base_url, url, ESI_LIMIT_URL_LEN);
		limits->bases[i].remain = -1;
		limits->bases[i].inflight = inflight;
	}
	for (int i = 0; i < ESI_LIMIT_GROUPS; i++)
	{
		EsiRateState *r = &limits->groups[i];

		/* keep what is in flight (and the tokens it holds) */
		r->remaining = -1;
		r->used = 0;
		r->blocked_until = 0;
		r->next_paced = 0;
		r->paced_cost = 0;
	}
	LWLockRelease(&limits->lock);
	PG_RETURN_VOID();
}
