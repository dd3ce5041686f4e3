/*-------------------------------------------------------------------------
 *
 * stats.h
 *		  Per-route counters shared by the whole cluster (esi.route_stats).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_STATS_H
#define ESI_STATS_H

#include "port/atomics.h"

#define ESI_STATS_ROUTE_LEN 160
#define ESI_STATS_GROUP_LEN 64
#define ESI_STATS_FIRST_STATUS 400	/* errors counted per status 400..599 */
#define ESI_STATS_NSTATUS 200

typedef struct EsiRouteStats
{
	char		route[ESI_STATS_ROUTE_LEN]; /* the route template; "" = free */
	char		rate_group[ESI_STATS_GROUP_LEN];	/* learned from replies */
	pg_atomic_uint64 requests;	/* HTTP requests sent */
	pg_atomic_uint64 cache_hits;	/* pages served by the cache */
	pg_atomic_uint64 not_modified;	/* 304 replies */
	pg_atomic_uint64 coalesced; /* hits that waited for another session */
	pg_atomic_uint64 transport_errors;	/* no reply at all */
	pg_atomic_uint64 bytes;		/* body bytes received */
	pg_atomic_uint64 esi_us;	/* time requests were in flight */
	pg_atomic_uint64 limit_wait_us; /* time spent waiting for a limit */
	pg_atomic_uint64 coalesce_wait_us;	/* time spent waiting for another
										 * session's request */
	pg_atomic_uint64 errors[ESI_STATS_NSTATUS];
} EsiRouteStats;

/* add to a counter of a route's statistics (rs may be NULL: table full) */
#define ESI_STAT_ADD(rs, field, v) \
	do { if (rs) pg_atomic_fetch_add_u64(&(rs)->field, (uint64) (v)); } while (0)

extern EsiRouteStats *esi_stats_route(const char *route);
extern void esi_stats_status(EsiRouteStats *rs, long status);
extern void esi_stats_learn_group(EsiRouteStats *rs, const char *group);
extern bool esi_stats_group(EsiRouteStats *rs, char *group);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_stats_shmem_size(void);
extern void esi_stats_shmem_init(void *area, bool found, int tranche);

#endif							/* ESI_STATS_H */
