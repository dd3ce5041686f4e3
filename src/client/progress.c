/*-------------------------------------------------------------------------
 *
 * progress.c
 *		  The progress of long work: one slot per process in shared memory,
 *		  written only by its owner, read by esi.progress.
 *
 * The slot of a process is found by its backend id (1..MaxBackends, which
 * counts background workers too).  Its owner writes it without a lock:
 * the change counter is odd while a write is under way; a reader copies
 * the slot and keeps the copy only when the counter was even and the same
 * before and after (PgBackendStatus's st_changecount protocol).  Writes are
 * plain copies that cannot fail, so the counter never stays odd.
 *
 * A process may run more than one crawl at a time (a join of two foreign
 * tables): each has its EsiProgressScan, in its own memory; the slot shows
 * the one that moved last, and when that one ends, the latest of the others.
 * The list of them lives in this process only.  A scan leaves it when it
 * ends (crawl.c calls esi_progress_scan_end from its cleanup, which also
 * runs on error), when the (sub)transaction it began in aborts, and with
 * the process.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "postmaster/bgworker.h"
#if PG_VERSION_NUM < 170000
#include "storage/backendid.h"
#endif
#include "storage/ipc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "progress.h"

typedef struct EsiProgressSlot
{
	int			changecount;	/* odd while its owner writes */
	int			pid;			/* 0: free */
	char		datname[ESI_PROGRESS_NAME_LEN];
	char		backend_type[BGW_MAXLEN];
	/* the refresh, when target is not "" */
	char		target[ESI_PROGRESS_TARGET_LEN];
	Oid			target_roleid;
	char		target_rolname[ESI_PROGRESS_NAME_LEN];
	TimestampTz target_since;
	/* the scan, when scanning */
	bool		scanning;
	EsiProgressScanData scan;
} EsiProgressSlot;

static EsiProgressSlot *slots = NULL;

/* this process's slot, its scans, the one it shows, its refresh's level */
static EsiProgressSlot *my_slot = NULL;
static List *my_scans = NIL;
static EsiProgressScan *shown = NULL;
static int	target_nest = 0;	/* 0: no refresh */

PG_FUNCTION_INFO_V1(esi_progress);

/*
 * Write to my_slot: the change counter is odd in between (barriers keep
 * the stores in order for readers on other CPUs).
 */
#define BEGIN_WRITE() \
	do { my_slot->changecount++; pg_write_barrier(); } while (0)
#define END_WRITE() \
	do { pg_write_barrier(); my_slot->changecount++; } while (0)

/*
 * esi_progress_shmem_size
 *		One slot per process that has a backend id.
 */
Size
esi_progress_shmem_size(void)
{
	return mul_size(sizeof(EsiProgressSlot), MaxBackends);
}

/*
 * esi_progress_shmem_init
 *		Remember the slots (shmem.c's part init; zeroed: all free).
 */
void
esi_progress_shmem_init(void *area, bool found, int tranche)
{
	slots = area;
}

/*
 * show_scan
 *		Copy s into the slot (NULL: no scan).
 */
static void
show_scan(EsiProgressScan *s)
{
	BEGIN_WRITE();
	my_slot->scanning = s != NULL;
	if (s)
		memcpy(&my_slot->scan, &s->d, sizeof(EsiProgressScanData));
	END_WRITE();
	shown = s;
}

/*
 * clear_target
 *		The refresh is over (or aborted): no target in the slot.
 */
static void
clear_target(void)
{
	target_nest = 0;
	if (my_slot == NULL || my_slot->target[0] == '\0')
		return;
	BEGIN_WRITE();
	my_slot->target[0] = '\0';
	END_WRITE();
}

/*
 * drop_scans
 *		Forget the scans that began at nesting level nest or deeper (their
 *		memory may be gone: only the pointers are compared), and show what
 *		remains.
 */
static void
drop_scans(int nest)
{
	ListCell   *lc;
	bool		lost = false;

	if (my_slot == NULL)
		return;
	foreach(lc, my_scans)
	{
		EsiProgressScan *s = lfirst(lc);

		if (s->nest >= nest)
		{
			if (s == shown)
				lost = true;
			my_scans = foreach_delete_current(my_scans, lc);
		}
	}
	if (lost || (my_scans == NIL && my_slot && my_slot->scanning))
		show_scan(my_scans != NIL ? llast(my_scans) : NULL);
}

/*
 * progress_xact
 *		Transaction callback: an abort ends every scan and the refresh.
 */
static void
progress_xact(XactEvent event, void *arg)
{
	if (event != XACT_EVENT_ABORT && event != XACT_EVENT_PARALLEL_ABORT)
		return;
	drop_scans(0);
	clear_target();
}

/*
 * progress_subxact
 *		Subtransaction callback: an abort ends the scans and the refresh
 *		begun in it; a commit hands them to its parent.
 */
static void
progress_subxact(SubXactEvent event, SubTransactionId mySubid,
				 SubTransactionId parentSubid, void *arg)
{
	int			nest = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		drop_scans(nest);
		if (target_nest >= nest)
			clear_target();
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, my_scans)
		{
			EsiProgressScan *s = lfirst(lc);

			if (s->nest >= nest)
				s->nest = nest - 1;
		}
		if (target_nest >= nest)
			target_nest = nest - 1;
	}
}

/*
 * progress_exit
 *		on_shmem_exit callback: the slot is free again.
 */
static void
progress_exit(int code, Datum arg)
{
	if (my_slot == NULL)
		return;
	BEGIN_WRITE();
	my_slot->pid = 0;
	my_slot->scanning = false;
	my_slot->target[0] = '\0';
	END_WRITE();
	my_slot = NULL;
	my_scans = NIL;
	shown = NULL;
}

/*
 * claim_slot
 *		This process's slot, set up on first use (its pid, database and
 *		kind, and the callbacks that clear it); false when it has none (no
 *		shared memory, or a process without a backend id).
 */
static bool
claim_slot(void)
{
	int			id;
	char	   *datname;

	if (my_slot != NULL)
		return true;
#if PG_VERSION_NUM >= 170000
	id = MyProcNumber + 1;
#else
	id = MyBackendId;
#endif
	if (slots == NULL || id < 1 || id > MaxBackends)
		return false;
	/* names first: a failed look-up leaves the slot untouched */
	datname = OidIsValid(MyDatabaseId) ? get_database_name(MyDatabaseId) : NULL;

	my_slot = &slots[id - 1];
	BEGIN_WRITE();
	my_slot->pid = MyProcPid;
	strlcpy(my_slot->datname, datname ? datname : "", ESI_PROGRESS_NAME_LEN);
	strlcpy(my_slot->backend_type,
			MyBgworkerEntry ? MyBgworkerEntry->bgw_type : GetBackendTypeDesc(MyBackendType),
			BGW_MAXLEN);
	my_slot->target[0] = '\0';
	my_slot->scanning = false;
	END_WRITE();
	if (datname)
		pfree(datname);

	on_shmem_exit(progress_exit, (Datum) 0);
	RegisterXactCallback(progress_xact, NULL);
	RegisterSubXactCallback(progress_subxact, NULL);
	return true;
}

/*
 * esi_progress_scan_begin
 *		A crawl begins: its entry (in the current memory context, which must
 *		outlive the scan and whose reset must end it), shown at once.  NULL
 *		when this process has no slot.
 */
EsiProgressScan *
esi_progress_scan_begin(const char *table_name, const char *route)
{
	EsiProgressScan *s;
	MemoryContext old;
	char	   *rolname;

	if (!claim_slot())
		return NULL;
	s = palloc0(sizeof(EsiProgressScan));
	s->d.roleid = GetUserId();
	rolname = GetUserNameFromId(s->d.roleid, true);
	strlcpy(s->d.rolname, rolname ? rolname : "", ESI_PROGRESS_NAME_LEN);
	strlcpy(s->d.table_name, table_name ? table_name : "", ESI_PROGRESS_NAME_LEN);
	strlcpy(s->d.route, route ? route : "", ESI_PROGRESS_ROUTE_LEN);
	s->d.began = GetCurrentTimestamp();
	s->nest = GetCurrentTransactionNestLevel();

	old = MemoryContextSwitchTo(TopMemoryContext);
	my_scans = lappend(my_scans, s);
	MemoryContextSwitchTo(old);
	show_scan(s);
	return s;
}

/*
 * esi_progress_scan_update
 *		s moved on (its counters changed): show it.
 */
void
esi_progress_scan_update(EsiProgressScan *s)
{
	if (s == NULL || my_slot == NULL)
		return;
	/* dropped by a subtransaction's abort but alive: show it again */
	if (!list_member_ptr(my_scans, s))
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

		my_scans = lappend(my_scans, s);
		MemoryContextSwitchTo(old);
	}
	show_scan(s);
}

/*
 * esi_progress_wait
 *		What s waits on now: kind (ESI_WAIT_*, or NULL: nothing), event
 *		(more about it, or NULL), since when (0: since now, or since the
 *		same wait began).
 */
void
esi_progress_wait(EsiProgressScan *s, const char *kind, const char *event,
				  TimestampTz since)
{
	bool		same;

	if (s == NULL)
		return;
	if (kind == NULL)
	{
		if (s->d.wait_kind[0] == '\0')
			return;
		s->d.wait_kind[0] = '\0';
		s->d.wait_event[0] = '\0';
		s->d.wait_since = 0;
		esi_progress_scan_update(s);
		return;
	}
	same = strcmp(s->d.wait_kind, kind) == 0 &&
		strcmp(s->d.wait_event, event ? event : "") == 0;
	if (same && (since == 0 || since == s->d.wait_since) && s == shown)
		return;
	if (since == 0)
		since = same ? s->d.wait_since : GetCurrentTimestamp();
	strlcpy(s->d.wait_kind, kind, ESI_PROGRESS_KIND_LEN);
	strlcpy(s->d.wait_event, event ? event : "", ESI_PROGRESS_EVENT_LEN);
	s->d.wait_since = since;
	esi_progress_scan_update(s);
}

/*
 * esi_progress_scan_end
 *		The crawl ends (or its memory goes): forget s.  Never fails.
 */
void
esi_progress_scan_end(EsiProgressScan *s)
{
	if (s == NULL || my_slot == NULL)
		return;
	my_scans = list_delete_ptr(my_scans, s);
	if (s == shown)
		show_scan(my_scans != NIL ? llast(my_scans) : NULL);
}

/*
 * esi_progress_target_begin
 *		A refresh of target begins its step that reads ESI: name it.
 */
void
esi_progress_target_begin(const char *target)
{
	Oid			roleid = GetUserId();
	char	   *rolname;

	if (target == NULL || !claim_slot())
		return;
	rolname = GetUserNameFromId(roleid, true);
	BEGIN_WRITE();
	strlcpy(my_slot->target, target, ESI_PROGRESS_TARGET_LEN);
	my_slot->target_roleid = roleid;
	strlcpy(my_slot->target_rolname, rolname ? rolname : "", ESI_PROGRESS_NAME_LEN);
	my_slot->target_since = GetCurrentTimestamp();
	END_WRITE();
	target_nest = GetCurrentTransactionNestLevel();
}

/*
 * esi_progress_target_end
 *		The refresh's step is done.
 */
void
esi_progress_target_end(void)
{
	clear_target();
}

/*
 * read_slot
 *		A consistent copy of slot i (retrying while its owner writes).
 */
static void
read_slot(int i, EsiProgressSlot *copy)
{
	volatile EsiProgressSlot *slot = &slots[i];

	for (;;)
	{
		int			before = slot->changecount;
		int			after;

		pg_read_barrier();
		memcpy(copy, (const void *) slot, sizeof(EsiProgressSlot));
		pg_read_barrier();
		after = slot->changecount;
		if (before == after && (before & 1) == 0)
			break;
		CHECK_FOR_INTERRUPTS();
	}
}

/*
 * text_or_null
 *		A slot's string as a text Datum; NULL when it is empty.
 */
static Datum
text_or_null(const char *s, bool *isnull)
{
	*isnull = s[0] == '\0';
	return *isnull ? (Datum) 0 : CStringGetTextDatum(s);
}

/*
 * esi_progress
 *		SQL: one row per running scan or refresh (view esi.progress), of the
 *		roles the caller has the privileges of; every row for members of
 *		pg_read_all_stats.
 */
Datum
esi_progress(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			me = GetUserId();
	bool		all;
	EsiProgressSlot *copy;

	InitMaterializedSRF(fcinfo, 0);
	if (slots == NULL)
		PG_RETURN_VOID();
	all = has_privs_of_role(me, ROLE_PG_READ_ALL_STATS);
	copy = palloc(sizeof(EsiProgressSlot));

	for (int i = 0; i < MaxBackends; i++)
	{
		Datum		values[19];
		bool		nulls[19] = {0};
		bool		refresh;
		Oid			roleid;
		const char *rolname;
		EsiProgressScanData *sc = &copy->scan;

		read_slot(i, copy);
		/* the strings are the owner's: make sure they end */
		copy->datname[ESI_PROGRESS_NAME_LEN - 1] = '\0';
		copy->backend_type[BGW_MAXLEN - 1] = '\0';
		copy->target[ESI_PROGRESS_TARGET_LEN - 1] = '\0';
		copy->target_rolname[ESI_PROGRESS_NAME_LEN - 1] = '\0';
		sc->rolname[ESI_PROGRESS_NAME_LEN - 1] = '\0';
		sc->table_name[ESI_PROGRESS_NAME_LEN - 1] = '\0';
		sc->route[ESI_PROGRESS_ROUTE_LEN - 1] = '\0';
		sc->wait_kind[ESI_PROGRESS_KIND_LEN - 1] = '\0';
		sc->wait_event[ESI_PROGRESS_EVENT_LEN - 1] = '\0';

		refresh = copy->target[0] != '\0';
		if (copy->pid == 0 || (!copy->scanning && !refresh))
			continue;
		roleid = copy->scanning ? sc->roleid : copy->target_roleid;
		rolname = copy->scanning ? sc->rolname : copy->target_rolname;
		if (!all && !has_privs_of_role(me, roleid))
			continue;

		values[0] = Int32GetDatum(copy->pid);
		values[1] = text_or_null(copy->datname, &nulls[1]);
		values[2] = text_or_null(rolname, &nulls[2]);
		values[3] = text_or_null(copy->backend_type, &nulls[3]);
		values[4] = text_or_null(copy->target, &nulls[4]);
		if (copy->scanning)
		{
			values[5] = text_or_null(sc->table_name, &nulls[5]);
			values[6] = text_or_null(sc->route, &nulls[6]);
			values[7] = Int64GetDatum(sc->pages_done);
			values[8] = Int64GetDatum(sc->pages_total);
			nulls[8] = sc->pages_total == 0;
			values[9] = Int64GetDatum(sc->rows);
			values[10] = Int64GetDatum(sc->bytes);
			values[11] = Int64GetDatum(sc->requests);
			values[12] = Int64GetDatum(sc->cache_hits);
			values[13] = Int64GetDatum(sc->retries);
			values[14] = text_or_null(sc->wait_kind, &nulls[14]);
			values[15] = text_or_null(sc->wait_event, &nulls[15]);
			values[16] = TimestampTzGetDatum(sc->wait_since);
			nulls[16] = sc->wait_kind[0] == '\0';
			values[17] = TimestampTzGetDatum(sc->began);
		}
		else
			for (int c = 5; c <= 17; c++)
				nulls[c] = true;
		values[18] = TimestampTzGetDatum(copy->target_since);
		nulls[18] = !refresh;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(copy);
	PG_RETURN_VOID();
}
