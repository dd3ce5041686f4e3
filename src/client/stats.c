/*-------------------------------------------------------------------------
 *
 * stats.c
 *		  Per-route counters shared by the whole cluster.
 *
 * One slot per route template, found (or taken) once per scan under a
 * lock; the counters themselves are atomics, so scans never wait on each
 * other to count.  The rate-limit group a route's replies name is kept
 * here too, so that a hand-made table without a rate_group option is
 * throttled with its group once ESI has told it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "storage/lwlock.h"
#include "stats.h"

#define ESI_STATS_ROUTES 512

typedef struct EsiStatsShared
{
	LWLock		lock;			/* taking a slot, the learned groups */
	int			nroutes;
	EsiRouteStats routes[ESI_STATS_ROUTES];
} EsiStatsShared;

static EsiStatsShared *stats = NULL;

PG_FUNCTION_INFO_V1(esi_route_stats);
PG_FUNCTION_INFO_V1(esi_route_stats_reset);

/*
 * esi_stats_shmem_size
 *		The size of the statistics' area (set up by shmem.c).
 */
Size
esi_stats_shmem_size(void)
{
	return sizeof(EsiStatsShared);
}

/*
 * esi_stats_shmem_init
 *		Set up the statistics' area (shmem.c's part init).
 */
void
esi_stats_shmem_init(void *area, bool found, int tranche)
{
	stats = area;
	if (!found)
	{
		LWLockInitialize(&stats->lock, tranche);
		for (int i = 0; i < ESI_STATS_ROUTES; i++)
		{
			EsiRouteStats *rs = &stats->routes[i];
			pg_atomic_uint64 *c = &rs->requests;

			/* every counter, from requests to the last error */
			for (; c <= &rs->errors[ESI_STATS_NSTATUS - 1]; c++)
				pg_atomic_init_u64(c, 0);
		}
	}
}

/*
 * esi_stats_route
 *		The statistics slot of a route, taken on first use; NULL when all
 *		slots are taken (counting is then skipped, never an error).
 */
EsiRouteStats *
esi_stats_route(const char *route)
{
	EsiRouteStats *rs = NULL;
	int			n;

	if (stats == NULL)
		return NULL;
	LWLockAcquire(&stats->lock, LW_SHARED);
	n = stats->nroutes;
	for (int i = 0; i < n; i++)
		if (strncmp(stats->routes[i].route, route, ESI_STATS_ROUTE_LEN - 1) == 0)
		{
			rs = &stats->routes[i];
			break;
		}
	LWLockRelease(&stats->lock);
	if (rs)
		return rs;

	LWLockAcquire(&stats->lock, LW_EXCLUSIVE);
	for (int i = 0; i < stats->nroutes; i++)
		if (strncmp(stats->routes[i].route, route, ESI_STATS_ROUTE_LEN - 1) == 0)
		{
			rs = &stats->routes[i];
			break;
		}
	if (rs == NULL && stats->nroutes < ESI_STATS_ROUTES)
	{
		rs = &stats->routes[stats->nroutes++];
		strlcpy(rs->route, route, ESI_STATS_ROUTE_LEN);
	}
	LWLockRelease(&stats->lock);
	return rs;
}

/*
 * esi_stats_status
 *		Count a reply's status: 304 as not modified, 4xx/5xx per status.
 */
void
esi_stats_status(EsiRouteStats *rs, long status)
{
	if (rs == NULL)
		return;
	if (status == 304)
		pg_atomic_fetch_add_u64(&rs->not_modified, 1);
	else if (status >= ESI_STATS_FIRST_STATUS &&
			 status < ESI_STATS_FIRST_STATUS + ESI_STATS_NSTATUS)
		pg_atomic_fetch_add_u64(&rs->errors[status - ESI_STATS_FIRST_STATUS], 1);
}

/*
 * esi_stats_learn_group
 *		Remember the X-Ratelimit-Group ESI named for a route.
 */
void
esi_stats_learn_group(EsiRouteStats *rs, const char *group)
{
	if (rs == NULL || group == NULL || strlen(group) >= ESI_STATS_GROUP_LEN)
		return;
	if (strcmp(rs->rate_group, group) == 0)
		return;					/* unlocked peek: the common case */
	LWLockAcquire(&stats->lock, LW_EXCLUSIVE);
	strlcpy(rs->rate_group, group, ESI_STATS_GROUP_LEN);
	LWLockRelease(&stats->lock);
}

/*
 * esi_stats_group
 *		The rate-limit group learned for a route (into group, which has room
 *		for ESI_STATS_GROUP_LEN bytes); false when none is known.
 */
bool
esi_stats_group(EsiRouteStats *rs, char *group)
{
	if (rs == NULL)
		return false;
	LWLockAcquire(&stats->lock, LW_SHARED);
	strlcpy(group, rs->rate_group, ESI_STATS_GROUP_LEN);
	LWLockRelease(&stats->lock);
	return group[0] != '\0';
}

static double
us_to_ms(pg_atomic_uint64 *c)
{
	return (double) pg_atomic_read_u64(c) / 1000.0;
}

/*
 * esi_route_stats
 *		SQL: one row per route used since the server started (or the last
 *		reset), for the view esi.route_stats.
 */
Datum
esi_route_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	if (stats == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(&stats->lock, LW_SHARED);
	n = stats->nroutes;
	LWLockRelease(&stats->lock);

	for (int i = 0; i < n; i++)
	{
		EsiRouteStats *rs = &stats->routes[i];
		Datum		values[10];
		bool		nulls[10] = {0};
		StringInfoData errs;
		bool		first = true;

		initStringInfo(&errs);
		appendStringInfoChar(&errs, '{');
		if (pg_atomic_read_u64(&rs->transport_errors) > 0)
		{
			appendStringInfo(&errs, "\"no reply\": " UINT64_FORMAT,
							 pg_atomic_read_u64(&rs->transport_errors));
			first = false;
		}
		for (int s = 0; s < ESI_STATS_NSTATUS; s++)
		{
			uint64		v = pg_atomic_read_u64(&rs->errors[s]);

			if (v == 0)
				continue;
			appendStringInfo(&errs, "%s\"%d\": " UINT64_FORMAT, first ? "" : ", ",
							 ESI_STATS_FIRST_STATUS + s, v);
			first = false;
		}
		appendStringInfoChar(&errs, '}');

		values[0] = CStringGetTextDatum(rs->route);
		values[1] = Int64GetDatum((int64) pg_atomic_read_u64(&rs->requests));
		values[2] = Int64GetDatum((int64) pg_atomic_read_u64(&rs->cache_hits));
		values[3] = Int64GetDatum((int64) pg_atomic_read_u64(&rs->not_modified));
		values[4] = Int64GetDatum((int64) pg_atomic_read_u64(&rs->coalesced));
		values[5] = DirectFunctionCall1(jsonb_in, CStringGetDatum(errs.data));
		values[6] = Int64GetDatum((int64) pg_atomic_read_u64(&rs->bytes));
		values[7] = Float8GetDatum(us_to_ms(&rs->esi_us));
		values[8] = Float8GetDatum(us_to_ms(&rs->limit_wait_us));
		values[9] = Float8GetDatum(us_to_ms(&rs->coalesce_wait_us));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	PG_RETURN_VOID();
}

/*
 * esi_route_stats_reset
 *		SQL: set every counter back to zero (routes stay listed).
 */
Datum
esi_route_stats_reset(PG_FUNCTION_ARGS)
{
	int			n;

	if (stats == NULL)
		PG_RETURN_VOID();
	LWLockAcquire(&stats->lock, LW_SHARED);
	n = stats->nroutes;
	LWLockRelease(&stats->lock);
	for (int i = 0; i < n; i++)
	{
		EsiRouteStats *rs = &stats->routes[i];

		for (pg_atomic_uint64 *c = &rs->requests; c <= &rs->errors[ESI_STATS_NSTATUS - 1]; c++)
			pg_atomic_write_u64(c, 0);
	}
	PG_RETURN_VOID();
}
