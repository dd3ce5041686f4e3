/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		  esi_fdw's shared memory: one request at server start for every
 *		  subsystem that shares state between sessions, and their locks.
 *
 * Each subsystem (cache.c, throttle.c, stats.c) says how much it needs and
 * sets up its part once, when the postmaster creates shared memory.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_SHMEM_H
#define ESI_SHMEM_H

#include "postgres.h"

#include "storage/lwlock.h"

typedef enum EsiLockId
{
	ESI_LOCK_CACHE,				/* the cache index and its byte count */
	ESI_LOCK_LIMITS,			/* error-limit and rate-limit states */
	ESI_LOCK_STATS,				/* the route table of the statistics */
	ESI_NUM_LOCKS
} EsiLockId;

extern void esi_shmem_register(void);
extern LWLock *esi_lock(EsiLockId id);

/* each subsystem's share of the work, called from shmem.c */
extern Size esi_cache_shmem_size(void);
extern void esi_cache_shmem_init(void);
extern Size esi_limits_shmem_size(void);
extern void esi_limits_shmem_init(void);
extern Size esi_stats_shmem_size(void);
extern void esi_stats_shmem_init(void);

#endif							/* ESI_SHMEM_H */
