/*-------------------------------------------------------------------------
 *
 * token_worker.c
 *		  The background worker that owns every write of EVE SSO tokens.
 *
 * A backend puts the write (which row, which values; the refresh token
 * already sealed) in a dynamic shared memory segment, starts a worker on
 * its database and waits for it to exit.  The worker connects, pins
 * search_path and becomes the extension's owner (worker_db.c), runs one
 * statement on esi.sso_characters in its own transaction (every name and
 * operator in it qualified), commits and reports.  The caller's transaction, read-only or
 * rolled back later, does not matter.  A hot standby cannot write: the
 * caller finds out before it asks SSO for anything (tokens.c).
 *
 * Rotated refresh tokens take another way, which needs no free worker
 * slot at the moment SSO rotates them: tokens.c keeps them in shared
 * memory, and esi_token_flush() starts a worker (when a slot is free) that
 * stores every one its database keeps, then tells tokens.c which it
 * stored.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "own_xact.h"
#include "token_worker.h"
#include "tokens.h"
#include "worker_db.h"

/* called after a login's tokens are committed (background refresh sets it) */
void		(*esi_token_saved_hook) (void) = NULL;

#define ESI_TW_TEXT 256

/* the write, in dynamic shared memory */
typedef struct EsiTokenJob
{
	Oid			dboid;
	int			what;
	char		server[NAMEDATALEN];
	int64		character_id;
	char		name[ESI_TW_TEXT];
	char		owner_hash[ESI_TW_TEXT];
	char		scopes[4096];
	Oid			role;
	char		reason[ESI_TW_TEXT];
	bool		done;			/* set by the worker after its commit */
	char		error[ESI_TW_TEXT]; /* the worker's error message */
	int			token_len;		/* -1: no token */
	char		token[FLEXIBLE_ARRAY_MEMBER];
} EsiTokenJob;

/*
 * fill_worker
 *		A token writer running function on arg, reporting to notify_pid.
 */
static void
fill_worker(BackgroundWorker *w, const char *function, Datum arg, pid_t notify_pid)
{
	memset(w, 0, sizeof(*w));
	w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w->bgw_start_time = BgWorkerStart_RecoveryFinished;
	w->bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(w->bgw_library_name, "esi_fdw", BGW_MAXLEN);
	strlcpy(w->bgw_function_name, function, BGW_MAXLEN);
	strlcpy(w->bgw_name, "esi_fdw token writer", BGW_MAXLEN);
	strlcpy(w->bgw_type, "esi_fdw token writer", BGW_MAXLEN);
	w->bgw_main_arg = arg;
	w->bgw_notify_pid = notify_pid;
}

/*
 * esi_token_write
 *		Have a worker commit one write, and wait for it.
 */
void
esi_token_write(EsiTokenWrite what, const EsiTokenRow *row)
{
	int			tlen = row->refresh_token ? VARSIZE_ANY_EXHDR(row->refresh_token) : -1;
	dsm_segment *seg = dsm_create(offsetof(EsiTokenJob, token) + Max(tlen, 0), 0);
	EsiTokenJob *job = dsm_segment_address(seg);
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	pid_t		pid;
	BgwHandleStatus st;

	memset(job, 0, offsetof(EsiTokenJob, token));
	job->dboid = MyDatabaseId;
	job->what = what;
	strlcpy(job->server, row->server, NAMEDATALEN);
	job->character_id = row->character_id;
	if (row->name)
		strlcpy(job->name, row->name, ESI_TW_TEXT);
	if (row->owner_hash)
		strlcpy(job->owner_hash, row->owner_hash, ESI_TW_TEXT);
	if (row->scopes)
	{
		if (strlen(row->scopes) >= sizeof(job->scopes))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("too many EVE SSO scopes for one login")));
		strlcpy(job->scopes, row->scopes, sizeof(job->scopes));
	}
	job->role = row->role;
	if (row->reason)
		strlcpy(job->reason, row->reason, ESI_TW_TEXT);
	job->token_len = tlen;
	if (tlen > 0)
		memcpy(job->token, VARDATA_ANY(row->refresh_token), tlen);

	fill_worker(&w, "esi_token_worker_main", UInt32GetDatum(dsm_segment_handle(seg)), MyProcPid);

	if (!RegisterDynamicBackgroundWorker(&w, &handle))
	{
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start esi_fdw's token writer"),
				 errdetail("EVE SSO tokens are written by a background worker, and no worker slot is free."),
				 errhint("Raise max_worker_processes, or try again.")));
	}
	st = WaitForBackgroundWorkerStartup(handle, &pid);
	if (st == BGWH_STARTED)
		st = WaitForBackgroundWorkerShutdown(handle);
	if (!job->done)
	{
		char		err[ESI_TW_TEXT];

		strlcpy(err, job->error[0] ? job->error : "the worker stopped", ESI_TW_TEXT);
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("esi_fdw's token writer could not store the EVE SSO login of character %lld",
						(long long) row->character_id),
				 errdetail("%s", err),
				 errhint("Check the server log; tokens are stored on the primary.")));
	}
	dsm_detach(seg);
}

/*
 * esi_token_worker_main
 *		Run one write and commit it.
 */
void
esi_token_worker_main(Datum arg)
{
	dsm_segment *seg;
	EsiTokenJob *job;
	Oid			types[8];
	Datum		values[8];
	char		nulls[8];
	const char *volatile sql = NULL;
	volatile int n = 0;
	EsiPrivileged x;

	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("esi_fdw token writer: the job is gone")));
	job = dsm_segment_address(seg);
	if (!esi_worker_connect(job->dboid, NULL))
	{
		strlcpy(job->error, "esi_fdw is not installed in this database", ESI_TW_TEXT);
		dsm_detach(seg);
		proc_exit(1);
	}

	PG_TRY();
	{
		bytea	   *tok = NULL;

		esi_own_xact_begin(&x, InvalidOid);
		pgstat_report_activity(STATE_RUNNING, "esi_fdw: storing an EVE SSO login");

		if (job->token_len >= 0)
		{
			tok = palloc(VARHDRSZ + job->token_len);
			SET_VARSIZE(tok, VARHDRSZ + job->token_len);
			memcpy(VARDATA(tok), job->token, job->token_len);
		}
		memset(nulls, ' ', sizeof(nulls));
		types[0] = TEXTOID;
		values[0] = CStringGetTextDatum(job->server);
		types[1] = INT8OID;
		values[1] = Int64GetDatum(job->character_id);
		switch ((EsiTokenWrite) job->what)
		{
			case ESI_TOKEN_SAVE:
				sql = "INSERT INTO esi.sso_characters AS c (server_name, character_id, name, owner_hash, scopes, owner_role, refresh_token, needs_login, reason, logged_in_at, refreshed_at) "
					"VALUES ($1, $2, $3, $4, $5::pg_catalog.text[], $6, $7, false, NULL, pg_catalog.now(), pg_catalog.now()) "
					"ON CONFLICT (server_name, character_id) DO UPDATE SET name = $3, owner_hash = $4, scopes = $5::pg_catalog.text[], owner_role = $6, refresh_token = $7, needs_login = false, reason = NULL, logged_in_at = pg_catalog.now(), refreshed_at = pg_catalog.now()";
				types[2] = TEXTOID;
				values[2] = CStringGetTextDatum(job->name);
				types[3] = TEXTOID;
				values[3] = CStringGetTextDatum(job->owner_hash);
				types[4] = TEXTOID;
				values[4] = CStringGetTextDatum(job->scopes);
				types[5] = OIDOID;
				values[5] = ObjectIdGetDatum(job->role);
				types[6] = BYTEAOID;
				values[6] = PointerGetDatum(tok);
				nulls[6] = tok ? ' ' : 'n';
				n = 7;
				break;
			case ESI_TOKEN_ROTATE:
				sql = "UPDATE esi.sso_characters SET refresh_token = $3, refreshed_at = pg_catalog.now() "
					"WHERE server_name OPERATOR(pg_catalog.=) $1 AND character_id OPERATOR(pg_catalog.=) $2";
				types[2] = BYTEAOID;
				values[2] = PointerGetDatum(tok);
				nulls[2] = tok ? ' ' : 'n';
				n = 3;
				break;
			case ESI_TOKEN_NEEDS_LOGIN:
				sql = "UPDATE esi.sso_characters SET needs_login = true, reason = $3 "
					"WHERE server_name OPERATOR(pg_catalog.=) $1 AND character_id OPERATOR(pg_catalog.=) $2";
				types[2] = TEXTOID;
				values[2] = CStringGetTextDatum(job->reason);
				n = 3;
				break;
			case ESI_TOKEN_FORGET:
				sql = "DELETE FROM esi.sso_characters "
					"WHERE server_name OPERATOR(pg_catalog.=) $1 AND character_id OPERATOR(pg_catalog.=) $2";
				n = 2;
				break;
		}
		(void) esi_privileged_run(sql, n, types, values, nulls, false);
		esi_own_xact_commit(&x);
		pgstat_report_activity(STATE_IDLE, NULL);
		/* a login resumes targets paused for it */
		if (job->what == ESI_TOKEN_SAVE && esi_token_saved_hook)
			esi_token_saved_hook();
		job->done = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		strlcpy(job->error, edata->message ? edata->message : "error", ESI_TW_TEXT);
		PG_RE_THROW();
	}
	PG_END_TRY();
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * esi_token_flush
 *		Start a token writer that stores the rotated refresh tokens this
 *		database keeps in shared memory (tokens.c); with wait, wait for it
 *		to exit.  False when no worker slot is free: they stay kept.
 */
bool
esi_token_flush(bool wait)
{
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	pid_t		pid;

	fill_worker(&w, "esi_token_flush_main", ObjectIdGetDatum(MyDatabaseId),
				wait ? MyProcPid : 0);
	if (!RegisterDynamicBackgroundWorker(&w, &handle))
		return false;
	if (wait && WaitForBackgroundWorkerStartup(handle, &pid) == BGWH_STARTED)
		(void) WaitForBackgroundWorkerShutdown(handle);
	return true;
}

/*
 * esi_token_flush_all
 *		For esi_fdw's refresh launcher, at each of its wake-ups: start a
 *		token writer (without waiting) for each database that keeps rotated
 *		refresh tokens in shared memory, so that they are stored even when
 *		no query of that database comes.  Quiet when no slot is free.
 */
void
esi_token_flush_all(void)
{
	Oid			dbs[64];
	int			n = esi_token_pending_databases(dbs, lengthof(dbs));

	for (int i = 0; i < n; i++)
	{
		BackgroundWorker w;
		BackgroundWorkerHandle *handle;

		fill_worker(&w, "esi_token_flush_main", ObjectIdGetDatum(dbs[i]), 0);
		if (!RegisterDynamicBackgroundWorker(&w, &handle))
			break;
		pfree(handle);
	}
}

/*
 * store_one
 *		Store a character's kept refresh token, in a transaction of its own.
 *		The row is locked first and the token read from shared memory then:
 *		a writer running at the same time, which read an older token, has
 *		committed before, so the newest token is the one stored last.
 */
static void
store_one(Oid dboid, EsiPendingToken *p)
{
	Oid			types[3] = {TEXTOID, INT8OID, BYTEAOID};
	Datum		values[3];
	bool		found;
	EsiPrivileged x;

	values[0] = CStringGetTextDatum(p->server_name);
	values[1] = Int64GetDatum(p->character_id);
	esi_own_xact_begin(&x, InvalidOid);
	pgstat_report_activity(STATE_RUNNING, "esi_fdw: storing a rotated EVE SSO refresh token");
	(void) esi_privileged_run("SELECT FROM esi.sso_characters "
							  "WHERE server_name OPERATOR(pg_catalog.=) $1 AND character_id OPERATOR(pg_catalog.=) $2 "
							  "FOR UPDATE", 2, types, values, NULL, false);
	found = esi_token_pending_get(dboid, p);
	if (found)
	{
		values[2] = PointerGetDatum(p->token);
		(void) esi_privileged_run("UPDATE esi.sso_characters SET refresh_token = $3, refreshed_at = pg_catalog.now() "
								  "WHERE server_name OPERATOR(pg_catalog.=) $1 AND character_id OPERATOR(pg_catalog.=) $2",
								  3, types, values, NULL, false);
	}
	esi_own_xact_commit(&x);
	pgstat_report_activity(STATE_IDLE, NULL);
	/* a character logged out since has no row: nothing to keep either */
	if (found)
		esi_token_pending_stored(dboid, p);
}

/*
 * esi_token_flush_main
 *		Store every rotated refresh token database arg keeps in shared
 *		memory, then exit.  An error leaves the rest kept for the next
 *		writer.
 */
void
esi_token_flush_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	EsiPendingToken p;
	int			cursor = 0;

	BackgroundWorkerUnblockSignals();
	if (!esi_worker_connect(dboid, NULL))
	{
		/* dropped since: nothing can store them, nobody will use them */
		esi_token_pending_drop_database(dboid);
		proc_exit(0);
	}
	while (esi_token_pending_next(dboid, &cursor, &p))
		store_one(dboid, &p);
	proc_exit(0);
}
