/*-------------------------------------------------------------------------
 *
 * shmem.c
 *		  esi_fdw's shared memory: requested at server start, set up once,
 *		  here, for every subsystem.
 *
 * esi_fdw loads only through shared_preload_libraries (see _PG_init), so
 * these hooks always run in the postmaster before any backend starts, and
 * every backend finds the same cache index, limit states, statistics,
 * token slots, worker slots and progress slots.
 *
 * A subsystem's part is one row of parts[]: the name of its area (as
 * pg_shmem_allocations shows it), the name of its locks' tranche (as
 * pg_stat_activity's wait_event shows it), the size of its area, what more
 * its init allocates itself (a shared hash table), and its init.  The
 * tranche ids live in this file's own area, so that every process
 * registers the same ones.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"

#include "cache.h"
#include "progress.h"
#include "refresh_worker.h"
#include "shmem.h"
#include "stats.h"
#include "throttle.h"
#include "tokens.h"

typedef struct EsiShmemPart
{
	const char *name;			/* its area */
	const char *tranche;		/* its locks' tranche, or NULL: none */
	Size		(*size) (void); /* bytes of its area */
	Size		(*more) (void); /* what init allocates itself, or NULL */
	EsiShmemInit init;
} EsiShmemPart;

static const EsiShmemPart parts[] = {
	{"esi_fdw cache", "esi_fdw_cache", esi_cache_shmem_size, esi_cache_index_size, esi_cache_shmem_init},
	{"esi_fdw limits", "esi_fdw_limits", esi_limits_shmem_size, NULL, esi_limits_shmem_init},
	{"esi_fdw route statistics", "esi_fdw_stats", esi_stats_shmem_size, NULL, esi_stats_shmem_init},
	{"esi_fdw tokens", "esi_fdw_tokens", esi_tokens_shmem_size, NULL, esi_tokens_shmem_init},
	{"esi_fdw refresh", NULL, esi_refresh_shmem_size, NULL, esi_refresh_shmem_init},
	{"esi_fdw progress", NULL, esi_progress_shmem_size, NULL, esi_progress_shmem_init},
};

#define ESI_SHMEM_NPARTS lengthof(parts)

/* the tranche id of each part (0: none), set when the area is created */
typedef struct EsiShmemTranches
{
	int			tranche[ESI_SHMEM_NPARTS];
} EsiShmemTranches;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * esi_shmem_request
 *		Reserve every part's shared memory.
 */
static void
esi_shmem_request(void)
{
	Size		size = MAXALIGN(sizeof(EsiShmemTranches));

	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	for (int i = 0; i < ESI_SHMEM_NPARTS; i++)
	{
		size = add_size(size, MAXALIGN(parts[i].size()));
		if (parts[i].more)
			size = add_size(size, parts[i].more());
	}
	RequestAddinShmemSpace(size);
}

/*
 * esi_shmem_startup
 *		Create (or, in a backend, attach to) every part's area, its tranche,
 *		and let the part set up its content.
 */
static void
esi_shmem_startup(void)
{
	EsiShmemTranches *tranches;
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	tranches = ShmemInitStruct("esi_fdw tranches", sizeof(EsiShmemTranches), &found);
	if (!found)
		memset(tranches, 0, sizeof(EsiShmemTranches));
	for (int i = 0; i < ESI_SHMEM_NPARTS; i++)
	{
		const EsiShmemPart *part = &parts[i];
		Size		size = part->size();
		void	   *area = ShmemInitStruct(part->name, size, &found);

		if (!found)
		{
			memset(area, 0, size);
			if (part->tranche)
				tranches->tranche[i] = LWLockNewTrancheId();
		}
		if (part->tranche)
			LWLockRegisterTranche(tranches->tranche[i], part->tranche);
		part->init(area, found, tranches->tranche[i]);
	}
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
