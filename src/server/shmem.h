/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		  esi_fdw's shared memory: one request at server start for every
 *		  subsystem that shares state between sessions, set up in one place.
 *
 * Each subsystem (cache.c, throttle.c, stats.c, tokens.c, refresh_worker.c,
 * progress.c) contributes a part: the size of its area and a function that
 * sets up its content; esi_fdw.c lists them.  shmem.c requests the space,
 * creates each area (zeroed), gives
 * it a lock tranche named for it, and calls the part's init; the
 * subsystems depend on nothing here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_SHMEM_H
#define ESI_SHMEM_H

/*
 * A part's init: area is its zeroed struct on the first call (found false,
 * in the postmaster), the same struct afterwards (found true: a backend of
 * an EXEC_BACKEND build attaching); tranche is the LWLock tranche for its
 * locks, already registered in this process.
 */
typedef void (*EsiShmemInit) (void *area, bool found, int tranche);

/* a subsystem's part of esi_fdw's shared memory */
typedef struct EsiShmemPart
{
	const char *name;			/* its area */
	const char *tranche;		/* its locks' tranche, or NULL: none */
	Size		(*size) (void); /* bytes of its area */
	Size		(*more) (void); /* what init allocates itself, or NULL */
	EsiShmemInit init;
} EsiShmemPart;

#define ESI_SHMEM_MAX_PARTS 16

/* from _PG_init: install the hooks that set up the parts (esi_fdw.c's table) */
extern void esi_shmem_register(const EsiShmemPart *parts, int nparts);

#endif							/* ESI_SHMEM_H */
