/*-------------------------------------------------------------------------
 *
 * refresh_worker.c
 *		  Background refresh of snapshots: a launcher and a pool of workers.
 *
 * The launcher connects to no database: it reads pg_database (a shared
 * catalog) and keeps, per database, when to look at it next.  Looking is a
 * dynamic worker connected to that database: if esi_fdw (0.5.0 or later)
 * is installed and esi_fdw.auto_refresh is on there, it refreshes every
 * due target (esi._due_targets()) one after another, then reports the
 * earliest next_refresh_at and exits; the launcher sleeps until then.
 * While a worker sees more due targets than workers on its database, the
 * launcher adds workers, up to esi_fdw.refresh_workers in all.  Two workers
 * never refresh one target: esi._refresh_begin() takes the target's
 * lock (esi._refresh_lock, below), as CALL esi.refresh does.
 *
 * A worker refreshes a target with the procedure's own steps, each in a
 * transaction of its own: _refresh_begin (lock, log row), _refresh_step
 * (ESI straight into the snapshot table, as the target's refresh_role),
 * _refresh_failed on an error, _refresh_end (retention, unlock).  The
 * worker runs as the extension's owner, every statement with search_path
 * pinned to pg_catalog, pg_temp.
 *
 * esi.track() and friends wake the launcher for their database; otherwise
 * a database is looked at again at its next due time, and at least every
 * ESI_REFRESH_RECHECK_S (a target changed by hand, a restored dump).
 *
 * Every statement of a worker runs under esi_fdw.refresh_statement_timeout
 * (background workers get no statement_timeout of their own): a refresh
 * that takes longer fails like any other, and its snapshot stays.
 *
 * A worker's slot in shared memory belongs to one process at a time (see
 * RefreshSlot): a launcher that is restarted while workers of the one
 * before it still run leaves their slots to them until they exit.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/timeout.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "guc.h"
#include "progress.h"
#include "refresh_worker.h"
#include "scan_report.h"
#include "token_worker.h"
#include "own_xact.h"
#include "worker_db.h"

#define ESI_REFRESH_RECHECK_S	300 /* look at every database this often */
#define ESI_REFRESH_RETRY_S		10	/* after a worker that failed to report */
#define ESI_REFRESH_LIST_S		60	/* read pg_database this often */
#define ESI_REFRESH_MAX_WAKE	16
#define ESI_REFRESH_BATCH		100 /* due targets a worker reads at once */

/*
 * Who a worker slot belongs to.  FREE: nobody.  RESERVED: the launcher that
 * took it for a worker it registered, until that worker starts.  RUNNING:
 * the worker whose pid the slot holds, which claimed it at its start (only
 * if it was still RESERVED for the generation the worker was started for).
 * EXITED: that worker's report is complete (set as it exits).  Only a
 * launcher makes a slot FREE again: its own worker's once the worker
 * stopped (its handle says so), and a worker of an earlier launcher's once
 * the worker is EXITED or its process is gone.  A launcher that starts
 * takes back the slots still RESERVED (their worker, if it ever starts,
 * finds the generation changed and exits without touching the slot).
 */
typedef enum RefreshSlotState
{
	SLOT_FREE,
	SLOT_RESERVED,
	SLOT_RUNNING,
	SLOT_EXITED
} RefreshSlotState;

/* a worker's place in shared memory: what it was started for, its report */
typedef struct RefreshSlot
{
	RefreshSlotState state;
	uint32		generation;		/* bumped each time a launcher takes it */
	pid_t		pid;			/* the worker's, from RUNNING on; else 0 */
	Oid			dboid;			/* the database the worker is for */
	bool		done;			/* the worker finished its round */
	bool		has_targets;	/* esi_fdw with background refresh is there */
	TimestampTz next_due;		/* its earliest next_refresh_at */
	int			pending;		/* due targets it has not started yet */
} RefreshSlot;

/*
 * Shared by the launcher, its workers and every backend (esi_refresh_wake).
 * Every field, the slots' included, is read and written only with mutex
 * held; nothing is done under it but copying.
 */
typedef struct RefreshShared
{
	slock_t		mutex;
	Latch	   *launcher_latch; /* the running launcher's, or NULL */
	bool		wake_all;
	int			nwake;
	Oid			wake[ESI_REFRESH_MAX_WAKE];
	RefreshSlot slots[ESI_REFRESH_MAX_WORKERS];
} RefreshShared;

static RefreshShared *shared = NULL;

/* the launcher's view of a database */
typedef struct RefreshDb
{
	Oid			oid;
	TimestampTz next_check;
	int			running;
	bool		rewake;			/* woken while its workers ran: look again
								 * once they exited, whatever they reported */
	bool		seen;
} RefreshDb;

static RefreshDb *dbs = NULL;
static int	ndbs = 0;
static int	maxdbs = 0;
/* the launcher's own workers (by slot), and those of an earlier launcher */
static BackgroundWorkerHandle *handles[ESI_REFRESH_MAX_WORKERS];
static bool adopted[ESI_REFRESH_MAX_WORKERS];

static void esi_refresh_wake(void);

PG_FUNCTION_INFO_V1(esi_refresh_watch_reset);
PG_FUNCTION_INFO_V1(esi_refresh_watch_requests);
PG_FUNCTION_INFO_V1(esi_refresh_watch_expires);
PG_FUNCTION_INFO_V1(esi_refresh_wake_sql);
PG_FUNCTION_INFO_V1(esi_refresh_lock_sql);
PG_FUNCTION_INFO_V1(esi_refresh_unlock_sql);
PG_FUNCTION_INFO_V1(esi_refresh_step_sql);

/*
 * A refresh's lock: a session-level advisory lock (it outlives the commits
 * between the steps and is released when its session ends, even by a
 * crash) in a key space no SQL function reaches: pg_advisory_lock() uses
 * objsubid 1 (one bigint key) and 2 (two integers); this is 3, the key a
 * 64-bit hash of the target's name.  pg_locks shows it as locktype
 * 'advisory', objsubid 3.
 */
#define ESI_REFRESH_LOCK_SPACE	3

/* ---------------------------------------------------------------------
 * Shared memory, registration (the settings are guc.c's)
 * ---------------------------------------------------------------------
 */

/*
 * esi_refresh_register
 *		Register the launcher (from _PG_init).
 */
void
esi_refresh_register(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* never on a hot standby: it starts when recovery ends (promotion) */
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 5;
	strlcpy(w.bgw_library_name, "esi_fdw", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "esi_refresh_launcher_main", BGW_MAXLEN);
	strlcpy(w.bgw_name, "esi_fdw refresh launcher", BGW_MAXLEN);
	strlcpy(w.bgw_type, "esi_fdw refresh launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&w);

	/* a login wakes the launcher: paused targets may resume */
	esi_token_saved_hook = esi_refresh_wake;
}

/*
 * esi_refresh_shmem_size
 *		Shared memory of the launcher and its workers.
 */
Size
esi_refresh_shmem_size(void)
{
	return sizeof(RefreshShared);
}

/*
 * esi_refresh_shmem_init
 *		Set up (or attach to) it (shmem.c's part init): every slot FREE.
 */
void
esi_refresh_shmem_init(void *area, bool found, int tranche)
{
	shared = area;
	if (!found)
		SpinLockInit(&shared->mutex);
}

/*
 * esi_refresh_wake
 *		Have the launcher look at the current database now.
 */
static void
esi_refresh_wake(void)
{
	Latch	   *latch;

	if (shared == NULL)
		return;
	SpinLockAcquire(&shared->mutex);
	if (shared->nwake < ESI_REFRESH_MAX_WAKE)
		shared->wake[shared->nwake++] = MyDatabaseId;
	else
		shared->wake_all = true;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* ---------------------------------------------------------------------
 * SQL entry points
 * ---------------------------------------------------------------------
 */

/*
 * esi._watch_reset() - start counting requests and expiries of this
 * backend's scans afresh (a refresh begins)
 */
Datum
esi_refresh_watch_reset(PG_FUNCTION_ARGS)
{
	esi_scan_report_reset();
	PG_RETURN_VOID();
}

/*
 * esi._watch_requests() - HTTP requests this backend's scans sent since
 * the last reset
 */
Datum
esi_refresh_watch_requests(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(esi_scan_report().requests);
}

/*
 * esi._watch_expires() - the earliest expiry of the replies this backend's
 * scans read since the last reset; NULL when they read none
 */
Datum
esi_refresh_watch_expires(PG_FUNCTION_ARGS)
{
	EsiScanReport report = esi_scan_report();

	if (report.expires == DT_NOEND)
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(report.expires);
}

/*
 * esi._refresh_wake() - have the launcher look at this database now
 */
Datum
esi_refresh_wake_sql(PG_FUNCTION_ARGS)
{
	esi_refresh_wake();
	PG_RETURN_VOID();
}

/*
 * refresh_locktag
 *		The lock of a target.
 */
static void
refresh_locktag(LOCKTAG *tag, text *target)
{
	uint64		h = DatumGetUInt64(hash_any_extended((unsigned char *) VARDATA_ANY(target),
													 VARSIZE_ANY_EXHDR(target), 0));

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 ESI_REFRESH_LOCK_SPACE);
}

/*
 * esi._refresh_lock(target) - take the target's refresh lock for this
 * session if it is free: true when taken.  Only a role that may write the
 * target's snapshot table (INSERT), or a member of the extension's owner
 * (the background workers; superusers), may take it; anyone else gets an
 * error, so no role can keep others from refreshing a target it may not
 * refresh itself.
 */
Datum
esi_refresh_lock_sql(PG_FUNCTION_ARGS)
{
	text	   *target = PG_GETARG_TEXT_PP(0);
	Oid			owner = InvalidOid;
	Oid			nsp = InvalidOid;
	bool		allowed;
	LOCKTAG		tag;

	allowed = esi_extension_owner(&owner, &nsp) && has_privs_of_role(GetUserId(), owner);
	if (!allowed)
	{
		Oid			types[1] = {TEXTOID};
		Datum		values[1] = {PointerGetDatum(target)};
		int			nest = esi_safe_path_begin();

		/* as the caller: row-level security shows it the targets it may read */
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "esi_fdw: SPI_connect failed");
		if (SPI_execute_with_args("SELECT t.snapshot_table::pg_catalog.oid FROM esi.targets t "
								  "WHERE t.target OPERATOR(pg_catalog.=) $1",
								  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "esi_fdw: could not read esi.targets");
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

			allowed = !isnull &&
				pg_class_aclcheck(DatumGetObjectId(d), GetUserId(), ACL_INSERT) == ACLCHECK_OK;
		}
		SPI_finish();
		esi_safe_path_end(nest);
	}
	if (!allowed)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to refresh target \"%s\"", text_to_cstring(target)),
				 errdetail("A target is refreshed by roles that may write its snapshot table, and by esi_fdw's background workers."),
				 errhint("Ask the owner of the snapshot table for INSERT on it, or let the background workers refresh it (esi.set_auto).")));
	refresh_locktag(&tag, target);
	PG_RETURN_BOOL(LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL);
}

/*
 * esi._refresh_unlock(target) - release this session's lock of the target;
 * false (and a WARNING) when it does not hold it
 */
Datum
esi_refresh_unlock_sql(PG_FUNCTION_ARGS)
{
	LOCKTAG		tag;

	refresh_locktag(&tag, PG_GETARG_TEXT_PP(0));
	PG_RETURN_BOOL(LockRelease(&tag, ExclusiveLock, true));
}

/* ---------------------------------------------------------------------
 * The launcher
 * ---------------------------------------------------------------------
 */

/*
 * find_db
 *		The launcher's entry of a database, or NULL.
 */
static RefreshDb *
find_db(Oid oid)
{
	for (int i = 0; i < ndbs; i++)
		if (dbs[i].oid == oid)
			return &dbs[i];
	return NULL;
}

/*
 * list_databases
 *		Read pg_database: new databases are looked at after first_delay,
 *		dropped ones are forgotten.  Templates and databases that do not
 *		allow connections are skipped (a worker in template1 would make
 *		CREATE DATABASE fail).
 */
static void
list_databases(TimestampTz now, int64 first_delay_us)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			j;

	for (int i = 0; i < ndbs; i++)
		dbs[i].seen = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database d = (Form_pg_database) GETSTRUCT(tup);
		RefreshDb  *db;

		if (d->datistemplate || !d->datallowconn)
			continue;
		db = find_db(d->oid);
		if (db == NULL)
		{
			if (ndbs == maxdbs)
			{
				maxdbs = Max(16, maxdbs * 2);
				dbs = dbs ? repalloc(dbs, maxdbs * sizeof(RefreshDb))
					: MemoryContextAlloc(TopMemoryContext, maxdbs * sizeof(RefreshDb));
			}
			db = &dbs[ndbs++];
			db->oid = d->oid;
			db->next_check = now + first_delay_us;
			db->running = 0;
			db->rewake = false;
		}
		db->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	for (int i = j = 0; i < ndbs; i++)
		if (dbs[i].seen || dbs[i].running > 0)
			dbs[j++] = dbs[i];
	ndbs = j;
}

/*
 * adopt_slots
 *		At the launcher's start: the slots an earlier launcher left.  A
 *		worker still running keeps its slot (adopted: reaped when it exits);
 *		a slot whose worker has not started yet is taken back (the worker
 *		exits at its start); a finished worker's slot is freed.
 */
static void
adopt_slots(void)
{
	pid_t		pids[ESI_REFRESH_MAX_WORKERS];
	Oid			dboids[ESI_REFRESH_MAX_WORKERS];

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
	{
		RefreshSlot *slot = &shared->slots[i];

		handles[i] = NULL;
		adopted[i] = (slot->state == SLOT_RUNNING);
		pids[i] = slot->pid;
		dboids[i] = slot->dboid;
		if (slot->state == SLOT_RESERVED || slot->state == SLOT_EXITED)
		{
			slot->state = SLOT_FREE;
			slot->pid = 0;
		}
	}
	shared->nwake = 0;
	shared->wake_all = false;
	shared->launcher_latch = MyLatch;
	SpinLockRelease(&shared->mutex);

	for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
		if (adopted[i])
			ereport(LOG,
					(errmsg("esi_fdw refresh launcher: slot %d stays with worker pid %d of an earlier launcher until it exits",
							i, (int) pids[i]),
					 errdetail("The worker refreshes targets of the database with OID %u.", dboids[i])));
}

/*
 * count_adopted
 *		Count the adopted workers as running on their databases (once the
 *		databases are listed).
 */
static void
count_adopted(void)
{
	for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
	{
		RefreshDb  *db;
		Oid			dboid;

		if (!adopted[i])
			continue;
		SpinLockAcquire(&shared->mutex);
		dboid = shared->slots[i].dboid;
		SpinLockRelease(&shared->mutex);
		if ((db = find_db(dboid)) != NULL)
			db->running++;
	}
}

/*
 * worker_gone
 *		Whether the worker of slot i, one of this launcher's or an adopted
 *		one, has exited (its slot may then be reused).
 */
static bool
worker_gone(int i)
{
	pid_t		pid;
	RefreshSlotState state;

	if (handles[i] != NULL)
		return GetBackgroundWorkerPid(handles[i], &pid) == BGWH_STOPPED;
	if (!adopted[i])
		return false;
	SpinLockAcquire(&shared->mutex);
	state = shared->slots[i].state;
	pid = shared->slots[i].pid;
	SpinLockRelease(&shared->mutex);
	/* EXITED as it exits; a process killed outright restarts the server */
	return state != SLOT_RUNNING || pid == 0 || (kill(pid, 0) != 0 && errno == ESRCH);
}

/*
 * reap_workers
 *		Take the reports of the workers that exited and free their slots.
 */
static void
reap_workers(TimestampTz now)
{
	for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
	{
		RefreshSlot *slot = &shared->slots[i];
		RefreshSlot report;
		RefreshDb  *db;

		if (!worker_gone(i))
			continue;
		SpinLockAcquire(&shared->mutex);
		report = *slot;
		slot->state = SLOT_FREE;
		slot->pid = 0;
		SpinLockRelease(&shared->mutex);

		db = find_db(report.dboid);
		if (db && db->running > 0)
		{
			db->running--;
			if (!report.done)
				db->next_check = now + (int64) ESI_REFRESH_RETRY_S * USECS_PER_SEC;
			else
			{
				TimestampTz recheck = now + (int64) ESI_REFRESH_RECHECK_S * USECS_PER_SEC;

				db->next_check = report.has_targets ? Min(report.next_due, recheck) : recheck;
			}
			if (db->rewake && db->running == 0)
			{
				db->next_check = now;
				db->rewake = false;
			}
		}
		if (adopted[i])
			ereport(LOG,
					(errmsg("esi_fdw refresh launcher: worker pid %d of an earlier launcher exited; slot %d is free",
							(int) report.pid, i)));
		if (handles[i] != NULL)
			pfree(handles[i]);
		handles[i] = NULL;
		adopted[i] = false;
	}
}

/*
 * start_worker
 *		A worker for database db; false when no slot or process is free.
 */
static bool
start_worker(RefreshDb *db, TimestampTz now)
{
	BackgroundWorker w;
	uint32		generation = 0;
	int			i;

	SpinLockAcquire(&shared->mutex);
	for (i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
	{
		RefreshSlot *slot = &shared->slots[i];

		if (slot->state != SLOT_FREE || handles[i] != NULL || adopted[i])
			continue;
		slot->state = SLOT_RESERVED;
		generation = ++slot->generation;
		slot->pid = 0;
		slot->dboid = db->oid;
		slot->done = false;
		slot->has_targets = false;
		slot->next_due = DT_NOEND;
		slot->pending = 0;
		break;
	}
	SpinLockRelease(&shared->mutex);
	if (i == ESI_REFRESH_MAX_WORKERS)
		return false;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w.bgw_library_name, "esi_fdw", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "esi_refresh_worker_main", BGW_MAXLEN);
	strlcpy(w.bgw_name, "esi_fdw refresh worker", BGW_MAXLEN);
	strlcpy(w.bgw_type, "esi_fdw refresh worker", BGW_MAXLEN);
	w.bgw_main_arg = Int32GetDatum(i);
	memcpy(w.bgw_extra, &generation, sizeof(generation));
	w.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&w, &handles[i]))
	{
		handles[i] = NULL;
		SpinLockAcquire(&shared->mutex);
		shared->slots[i].state = SLOT_FREE;
		SpinLockRelease(&shared->mutex);
		db->next_check = now + (int64) ESI_REFRESH_RETRY_S * USECS_PER_SEC;
		ereport(LOG,
				(errmsg("esi_fdw refresh launcher: no background worker slot is free"),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	db->running++;
	return true;
}

/*
 * start_due_workers
 *		Workers for the databases due now, and helpers where a worker sees
 *		more due targets than there are workers, within the pool (which
 *		adopted workers count in).
 */
static void
start_due_workers(TimestampTz now)
{
	RefreshSlot slots[ESI_REFRESH_MAX_WORKERS];
	int			nrunning = 0;

	SpinLockAcquire(&shared->mutex);
	memcpy(slots, shared->slots, sizeof(slots));
	SpinLockRelease(&shared->mutex);

	for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
		if (slots[i].state != SLOT_FREE)
			nrunning++;
	for (int i = 0; i < ndbs && nrunning < esi_guc_refresh_workers; i++)
	{
		if (dbs[i].running > 0 || dbs[i].next_check > now)
			continue;
		if (!start_worker(&dbs[i], now))
			return;
		nrunning++;
	}
	for (int i = 0; i < ndbs && nrunning < esi_guc_refresh_workers; i++)
	{
		int			pending = 0;

		if (dbs[i].running == 0)
			continue;
		for (int k = 0; k < ESI_REFRESH_MAX_WORKERS; k++)
			if (slots[k].state == SLOT_RUNNING && slots[k].dboid == dbs[i].oid)
				pending = Max(pending, slots[k].pending);
		if (pending >= dbs[i].running)
		{
			if (!start_worker(&dbs[i], now))
				return;
			nrunning++;
		}
	}
}

/*
 * launcher_exit
 *		before_shmem_exit callback of the launcher, however it exits: no
 *		one sets its latch any more.
 */
static void
launcher_exit(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	if (shared->launcher_latch == MyLatch)
		shared->launcher_latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/*
 * esi_refresh_launcher_main
 *		List the databases, start workers when they are due, sleep.
 */
void
esi_refresh_launcher_main(Datum arg)
{
	TimestampTz next_list = 0;
	bool		first = true;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("esi_fdw refresh launcher");
	/* the response cache's index, so that no query has to load it */
	esi_cache_load();

	/* workers of an earlier launcher keep their slots until they exit */
	before_shmem_exit(launcher_exit, (Datum) 0);
	adopt_slots();

	while (!ShutdownRequestPending)
	{
		TimestampTz now;
		TimestampTz wake_at;
		Oid			wake[ESI_REFRESH_MAX_WAKE];
		int			nwake;
		bool		wake_all;
		long		timeout_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		SpinLockAcquire(&shared->mutex);
		nwake = shared->nwake;
		memcpy(wake, shared->wake, sizeof(wake));
		wake_all = shared->wake_all;
		shared->nwake = 0;
		shared->wake_all = false;
		SpinLockRelease(&shared->mutex);

		now = GetCurrentTimestamp();
		reap_workers(now);
		/* at start every database is looked at: refreshes missed while down */
		if (first || wake_all || nwake > 0 || now >= next_list)
		{
			list_databases(now, first ? 0 : (int64) ESI_REFRESH_RECHECK_S * USECS_PER_SEC);
			next_list = now + (int64) ESI_REFRESH_LIST_S * USECS_PER_SEC;
			if (first)
				count_adopted();
			first = false;
		}
		for (int i = 0; i < ndbs; i++)
		{
			bool		woken = wake_all;

			for (int k = 0; k < nwake && !woken; k++)
				woken = (wake[k] == dbs[i].oid);
			if (woken)
			{
				dbs[i].next_check = now;
				/* a running worker may have read its targets already */
				if (dbs[i].running > 0)
					dbs[i].rewake = true;
			}
		}
		if (esi_guc_refresh_workers > 0 && !RecoveryInProgress())
			start_due_workers(now);
		/* rotated refresh tokens no worker slot was free for (tokens.c) */
		if (!RecoveryInProgress())
			esi_token_flush_all();

		wake_at = next_list;
		if (esi_guc_refresh_workers > 0)
			for (int i = 0; i < ndbs; i++)
				if (dbs[i].running == 0)
					wake_at = Min(wake_at, dbs[i].next_check);
		/* an adopted worker's exit sets the latch, but do look now and then */
		for (int i = 0; i < ESI_REFRESH_MAX_WORKERS; i++)
			if (adopted[i])
				wake_at = Min(wake_at, now + (int64) ESI_REFRESH_RETRY_S * USECS_PER_SEC);
		timeout_ms = (long) Max((wake_at - now) / 1000, 10);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}

	proc_exit(0);
}

/*
 * esi._refresh_step(log_id) - step 2 of a refresh (esi._refresh_write),
 * run so that the snapshot table's owner's code (its triggers, defaults,
 * policies, index expressions) never runs with more rights than that owner
 * has.  As the calling role (the caller of CALL esi.refresh, or the
 * target's refresh_role in a background worker) when the owner has every
 * right the caller has; as the owner, in a security-restricted operation,
 * when the caller has every right of the owner (a superuser, a member of
 * the owner: the caller could act as the owner anyway); refused otherwise.
 */
Datum
esi_refresh_step_sql(PG_FUNCTION_ARGS)
{
	int64		log_id = PG_GETARG_INT64(0);
	Oid			caller = GetUserId();
	Oid			owner = InvalidOid;
	Oid			run_as = caller;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(log_id)};
	char	   *target = NULL;
	Oid			save_user;
	int			save_sec;
	int			nest;

	nest = esi_safe_path_begin();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "esi_fdw: SPI_connect failed");
	/* as the caller: row-level security shows it the targets it may read */
	if (SPI_execute_with_args("SELECT c.relowner, t.target FROM esi.refresh_log l "
							  "JOIN esi.targets t ON t.target OPERATOR(pg_catalog.=) l.target "
							  "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.snapshot_table::pg_catalog.oid "
							  "WHERE l.id OPERATOR(pg_catalog.=) $1",
							  1, types, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "esi_fdw: could not read esi.targets");
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			owner = DatumGetObjectId(d);
		target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	if (OidIsValid(owner) && !has_privs_of_role(owner, caller))
	{
		if (has_privs_of_role(caller, owner))
			run_as = owner;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("refresh of target \"%s\" as role \"%s\" refused",
							target ? target : "?", GetUserNameFromId(caller, false)),
					 errdetail("The refresh would run the code of the snapshot table's owner \"%s\" (its triggers, defaults, policies) with the rights of role \"%s\", which that owner does not have.",
							   GetUserNameFromId(owner, false), GetUserNameFromId(caller, false)),
					 errhint("Refresh it as the snapshot table's owner or a role that is a member of it; for background refresh set esi.targets.refresh_role to such a role.")));
	}
	/* esi.progress shows the target until the step ends (or aborts) */
	esi_progress_target_begin(target);
	GetUserIdAndSecContext(&save_user, &save_sec);
	if (run_as != caller)
		SetUserIdAndSecContext(run_as, save_sec | SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	if (SPI_execute_with_args("SELECT esi._refresh_write($1)", 1, types, values, NULL,
							  false, 0) != SPI_OK_SELECT)
		elog(ERROR, "esi_fdw: esi._refresh_write failed");
	SetUserIdAndSecContext(save_user, save_sec);
	esi_progress_target_end();
	SPI_finish();
	esi_safe_path_end(nest);
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------
 * A worker
 * ---------------------------------------------------------------------
 */

static MemoryContext worker_cxt = NULL;
static int	my_slot = -1;

/*
 * statement_begin
 *		In a worker, before a statement: its transaction as role
 *		(InvalidOid: the extension's owner) with search_path pinned
 *		(own_xact.c), and its timeout, esi_fdw.refresh_statement_timeout
 *		(a background worker has no statement_timeout of its own).
 */
static void
statement_begin(EsiPrivileged *x, Oid role)
{
	esi_own_xact_begin(x, role);
	if (esi_guc_refresh_statement_timeout_ms > 0)
		enable_timeout_after(STATEMENT_TIMEOUT, esi_guc_refresh_statement_timeout_ms);
}

/*
 * statement_end
 *		After the statement: its timeout off, its transaction committed.
 *		(On an error the worker's catch block calls statement_abort.)
 */
static void
statement_end(EsiPrivileged *x)
{
	disable_timeout(STATEMENT_TIMEOUT, false);
	esi_own_xact_commit(x);
	pgstat_report_stat(false);
}

/*
 * statement_abort
 *		After a statement failed: its timeout off, its transaction rolled
 *		back (its settings with it).
 */
static void
statement_abort(void)
{
	disable_timeout(STATEMENT_TIMEOUT, false);
	AbortCurrentTransaction();
}

/*
 * slot_report
 *		Write the worker's report into its slot (under the lock, as every
 *		slot field); returns the launcher's latch to set, or NULL.
 */
static Latch *
slot_report(int pending, bool done, bool has_targets, TimestampTz next_due)
{
	RefreshSlot *slot = &shared->slots[my_slot];
	Latch	   *latch;

	SpinLockAcquire(&shared->mutex);
	slot->pending = pending;
	if (done)
	{
		slot->done = true;
		slot->has_targets = has_targets;
		slot->next_due = next_due;
	}
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	return latch;
}

/*
 * worker_exit
 *		before_shmem_exit callback of a worker that claimed its slot: the
 *		report is complete; the launcher (this worker's or a later one)
 *		may free the slot.
 */
static void
worker_exit(int code, Datum arg)
{
	RefreshSlot *slot = &shared->slots[my_slot];
	Latch	   *latch;

	SpinLockAcquire(&shared->mutex);
	if (slot->state == SLOT_RUNNING && slot->pid == MyProcPid)
		slot->state = SLOT_EXITED;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * run_sql
 *		Run one statement in a transaction of its own (as role, unless
 *		InvalidOid: then as the extension's owner) with search_path pinned,
 *		under the statement timeout; settings its code changed are undone.  The first column of its
 *		first row as text, copied to worker_cxt, or NULL.
 */
static char *
run_sql(const char *sql, Oid role, int nargs, Oid *types, Datum *values,
		const char *nulls)
{
	char	   *result = NULL;
	int			rc;
	EsiPrivileged x;

	statement_begin(&x, role);
	rc = SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "esi_fdw refresh worker: SPI_execute_with_args failed (%d)", rc);
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (v)
			result = MemoryContextStrdup(worker_cxt, v);
	}
	statement_end(&x);
	return result;
}

/*
 * refresh_one
 *		Refresh target as role, through the steps of CALL esi.refresh;
 *		false when another session has it or it is no longer due.
 */
static bool
refresh_one(const char *target, Oid role)
{
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	char	   *log_id;
	char	   *activity;
	MemoryContext oldcxt = CurrentMemoryContext;
	ErrorData  *volatile edata = NULL;

	values[0] = CStringGetTextDatum(target);
	log_id = run_sql("SELECT esi._refresh_begin($1, true)", InvalidOid, 1, types, values, NULL);
	if (log_id == NULL)
		return false;

	activity = psprintf("esi_fdw refresh %s", target);
	pgstat_report_appname(activity);
	pgstat_report_activity(STATE_RUNNING, activity);

	values[0] = CStringGetTextDatum(log_id);
	PG_TRY();
	{
		(void) run_sql("SELECT esi._refresh_step($1::bigint)", role, 1, types, values, NULL);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(worker_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		statement_abort();
		MemoryContextSwitchTo(oldcxt);
	}
	PG_END_TRY();

	if (edata)
	{
		ereport(LOG,
				(errmsg("esi_fdw: background refresh of target \"%s\" failed: %s",
						target, edata->message ? edata->message : "?")));
		values[1] = CStringGetTextDatum(edata->message ? edata->message : "error");
		values[2] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
		(void) run_sql("SELECT esi._refresh_failed($1::bigint, $2, $3)", InvalidOid, 3, types, values, NULL);
		FreeErrorData(edata);
	}
	(void) run_sql("SELECT esi._refresh_end($1::bigint)", InvalidOid, 1, types, values, NULL);

	pgstat_report_appname("esi_fdw refresh worker");
	pgstat_report_activity(STATE_IDLE, NULL);
	pfree(activity);
	return true;
}

/*
 * esi_refresh_worker_main
 *		Refresh the due targets of one database, then report when the next
 *		is due.
 */
void
esi_refresh_worker_main(Datum arg)
{
	RefreshSlot *slot;
	uint32		generation;
	Oid			dboid;
	bool		mine;
	char	   *v;
	TimestampTz next_due = DT_NOEND;

	/* die(): a SIGTERM ends a transfer at its next interrupt check */
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the slot is this worker's only while it is reserved for it */
	my_slot = DatumGetInt32(arg);
	slot = &shared->slots[my_slot];
	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
	SpinLockAcquire(&shared->mutex);
	mine = (slot->state == SLOT_RESERVED && slot->generation == generation);
	if (mine)
	{
		slot->state = SLOT_RUNNING;
		slot->pid = MyProcPid;
	}
	dboid = slot->dboid;
	SpinLockRelease(&shared->mutex);
	if (!mine)
	{
		ereport(LOG,
				(errmsg("esi_fdw refresh worker: slot %d was taken back by a restarted launcher", my_slot),
				 errdetail("The worker exits without refreshing; the launcher starts workers anew.")));
		proc_exit(0);
	}
	before_shmem_exit(worker_exit, (Datum) 0);

	/* no SQL runs where esi_fdw 0.5.0 or later is not installed */
	if (!esi_worker_connect(dboid, "_due_targets"))
	{
		elog(DEBUG1, "esi_fdw refresh worker: no esi_fdw 0.5.0 or later in database %u", dboid);
		(void) slot_report(0, true, false, DT_NOEND);
		proc_exit(0);
	}
	pgstat_report_appname("esi_fdw refresh worker");
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "esi_fdw refresh worker",
									   ALLOCSET_DEFAULT_SIZES);

	if (RecoveryInProgress() || !esi_guc_auto_refresh)
	{
		(void) slot_report(0, true, false, DT_NOEND);
		proc_exit(0);
	}
	/* refreshes whose session died: closed when their lock is free */
	(void) run_sql("SELECT esi._close_stale_runs()", InvalidOid, 0, NULL, NULL, NULL);

	for (;;)
	{
		List	   *targets = NIL;
		List	   *roles = NIL;
		bool		claimed = false;
		int			n;
		EsiPrivileged x;
		int			k = 0;
		ListCell   *lc1,
				   *lc2;

		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(worker_cxt);

		/* the due targets, oldest due first */
		statement_begin(&x, InvalidOid);
		if (SPI_execute("SELECT target, refresh_role FROM esi._due_targets() LIMIT "
						CppAsString2(ESI_REFRESH_BATCH), true, 0) != SPI_OK_SELECT)
			elog(ERROR, "esi_fdw refresh worker: could not read the due targets");
		for (uint64 r = 0; r < SPI_processed; r++)
		{
			bool		isnull;
			Datum		role = SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 2, &isnull);
			MemoryContext old = MemoryContextSwitchTo(worker_cxt);

			targets = lappend(targets, SPI_getvalue(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1));
			roles = lappend_oid(roles, isnull ? InvalidOid : DatumGetObjectId(role));
			MemoryContextSwitchTo(old);
		}
		statement_end(&x);

		n = list_length(targets);
		if (n == 0)
			break;
		forboth(lc1, targets, lc2, roles)
		{
			Latch	   *latch = slot_report(n - ++k, false, false, DT_NOEND);

			if (n - k > 0 && latch)
				SetLatch(latch);
			if (refresh_one(lfirst(lc1), lfirst_oid(lc2)))
				claimed = true;
			CHECK_FOR_INTERRUPTS();
		}
		(void) slot_report(0, false, false, DT_NOEND);
		/* every due target is another worker's: leave them to it */
		if (!claimed)
			break;
	}

	v = run_sql("SELECT extract(epoch FROM esi._next_due())::pg_catalog.float8", InvalidOid, 0, NULL, NULL, NULL);
	if (v != NULL)
	{
		double		secs = strtod(v, NULL);

		next_due = (TimestampTz) ((secs - ((POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)) * USECS_PER_SEC);
	}
	(void) slot_report(0, true, true, next_due);
	proc_exit(0);
}
