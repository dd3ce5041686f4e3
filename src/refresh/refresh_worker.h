/*-------------------------------------------------------------------------
 *
 * refresh_worker.h
 *		  Background refresh of snapshots: a launcher and a pool of workers.
 *
 * The launcher (a static background worker, restarted after a crash) lists
 * the databases of the cluster and starts, at most esi_fdw.refresh_workers
 * at a time, dynamic workers that connect to one database, refresh the
 * targets of esi.targets that are due (through the same SQL steps as
 * CALL esi.refresh) and report when the next one is due.  Nothing runs on
 * a hot standby: the snapshots replicate to it.
 *
 * A worker's slot in shared memory is owned by one process at a time (its
 * pid is in the slot); a restarted launcher leaves the slots of workers
 * still running to them until they exit.  Every statement of a worker runs
 * under esi_fdw.refresh_statement_timeout.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_REFRESH_WORKER_H
#define ESI_REFRESH_WORKER_H

/* from _PG_init: the launcher (its settings are guc.c's) */
extern void esi_refresh_register(void);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_refresh_shmem_size(void);
extern void esi_refresh_shmem_init(void *area, bool found, int tranche);

/* entry points (named in their BackgroundWorker) */
extern PGDLLEXPORT void esi_refresh_launcher_main(Datum arg);
extern PGDLLEXPORT void esi_refresh_worker_main(Datum arg);

#endif							/* ESI_REFRESH_WORKER_H */
