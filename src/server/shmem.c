/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		  esi_fdw's shared memory: requested at server start, set up once.
 *
 * esi_fdw loads only through shared_preload_libraries (see _PG_init), so
 * these hooks always run in the postmaster before any backend starts, and
 * every backend finds the same cache index, limit states and statistics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "cache.h"
#include "refresh_worker.h"
#include "shmem.h"
#include "stats.h"
#include "throttle.h"
#include "tokens.h"

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * esi_shmem_request
 *		Reserve every subsystem's shared memory.
 */
static void
esi_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(add_size(add_size(add_size(esi_cache_shmem_size(),
													  esi_limits_shmem_size()),
											 add_size(esi_stats_shmem_size(),
													  esi_tokens_shmem_size())),
									esi_refresh_shmem_size()));
}

/*
 * esi_shmem_startup
 *		Set up (or, in a backend, attach to) every subsystem's part.
 */
static void
esi_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	esi_cache_shmem_init();
	esi_limits_shmem_init();
	esi_stats_shmem_init();
	esi_tokens_shmem_init();
	esi_refresh_shmem_init();
	LWLockRelease(AddinShmemInitLock);
}

/*
 * esi_shmem_register
 *		Install the hooks (from _PG_init, while preloading).
 */
void
esi_shmem_register(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = esi_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = esi_shmem_startup;
}
