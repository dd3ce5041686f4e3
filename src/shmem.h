/*-------------------------------------------------------------------------
 *
 * shmem.h
 *		  esi_fdw's shared memory: one request at server start for every
 *		  subsystem that shares state between sessions.
 *
 * Each subsystem (cache.c, throttle.c, stats.c) says how much it needs and
 * sets up its part, with its own lock, when the postmaster creates shared
 * memory; this file only calls them, so they depend on nothing here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_SHMEM_H
#define ESI_SHMEM_H

extern void esi_shmem_register(void);

#endif							/* ESI_SHMEM_H */
