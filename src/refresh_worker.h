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
 *-------------------------------------------------------------------------
 */
#ifndef ESI_REFRESH_WORKER_H
#define ESI_REFRESH_WORKER_H

#define ESI_REFRESH_MAX_WORKERS 64

extern int	esi_guc_refresh_workers;
extern bool esi_guc_auto_refresh;

/* from _PG_init: the settings and the launcher */
extern void esi_refresh_register(void);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_refresh_shmem_size(void);
extern void esi_refresh_shmem_init(void);

/* entry points (named in their BackgroundWorker) */
extern PGDLLEXPORT void esi_refresh_launcher_main(Datum arg);
extern PGDLLEXPORT void esi_refresh_worker_main(Datum arg);

#endif							/* ESI_REFRESH_WORKER_H */
