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
 * A subsystem's part is one row of the table _PG_init passes in (esi_fdw.c,
 * which knows every subsystem, so this file knows none): the name of its
 * area (as pg_shmem_allocations shows it), the name of its locks' tranche
 * (as pg_stat_activity's wait_event shows it), the size of its area, what
 * more its init allocates itself (a shared hash table), and its init.  The
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

#include "shmem.h"

/* the parts, from esi_shmem_register() */
static const EsiShmemPart *parts = NULL;
static int	nparts = 0;

/* the tranche id of each part (0: none), set when the area is created */
typedef struct EsiShmemTranches
{
	int			tranche[ESI_SHMEM_MAX_PARTS];
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
	for (int i = 0; i < nparts; i++)
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
	for (int i = 0; i < nparts; i++)
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
 *		Install the hooks (from _PG_init, while preloading) that set up the
 *		n parts of table p (static storage: kept, not copied).
 */
void
esi_shmem_register(const EsiShmemPart *p, int n)
{
	if (n > ESI_SHMEM_MAX_PARTS)
		elog(ERROR, "esi_fdw: %d shared memory parts, at most %d", n, ESI_SHMEM_MAX_PARTS);
	parts = p;
	nparts = n;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = esi_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = esi_shmem_startup;
}
