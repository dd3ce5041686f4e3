/*-------------------------------------------------------------------------
 *
 * worker_db.c
 *		  How esi_fdw's background workers enter a database safely.
 *
 * A background worker (the token writer, a refresh worker) runs SQL with
 * rights a database's owner does not have, in that owner's database.  The
 * database's settings (ALTER DATABASE ... SET search_path = evil, ...) are
 * applied when the worker connects, and an unqualified now(), = or float8
 * would then run the owner's functions with the worker's rights.  So:
 *
 *	- the worker pins search_path to pg_catalog, pg_temp before anything
 *	  else, and each of its statements runs inside a GUC nest level that
 *	  pins it again and undoes whatever the statement's code changed
 *	  (privileged_sql.c; own_xact.c for a statement in a transaction of
 *	  its own);
 *	- it looks for esi_fdw in the pg_extension catalog with a catalog scan
 *	  (no SQL, so no operator or function of the database runs) and does
 *	  nothing where the extension is missing;
 *	- it then runs as the extension's owner, the role that owns the tables
 *	  and functions it uses, not as the bootstrap superuser: whoever could
 *	  change those functions gains nothing by having a worker run them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/catcache.h"
#include "utils/syscache.h"

#include "worker_db.h"

/*
 * esi_extension_owner
 *		esi_fdw's owner and schema in this database, read with a catalog
 *		scan (in a transaction); false when it is not installed.
 */
bool
esi_extension_owner(Oid *owner, Oid *nsp)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("esi_fdw"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension ext = (Form_pg_extension) GETSTRUCT(tup);

		*owner = ext->extowner;
		*nsp = ext->extnamespace;
		found = true;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * esi_worker_connect
 *		Connect this background worker to database dboid and find esi_fdw
 *		there (and, if need_proc, its function of that name: a recent
 *		enough version).  True when it is there: the worker then runs as
 *		the extension's owner with a safe search_path.  False: the worker
 *		must run no SQL and exit.
 */
bool
esi_worker_connect(Oid dboid, const char *need_proc)
{
	Oid			owner = InvalidOid;
	Oid			nsp = InvalidOid;
	bool		found;

	/*
	 * As the bootstrap superuser: the connection applies the database's
	 * settings but runs no SQL.  The search_path is pinned at once.
	 */
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	SetConfigOption("search_path", ESI_SAFE_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);

	StartTransactionCommand();
	found = esi_extension_owner(&owner, &nsp);

	if (found && need_proc)
	{
		CatCList   *procs = SearchSysCacheList1(PROCNAMEARGSNSP, CStringGetDatum(need_proc));

		found = false;
		for (int i = 0; i < procs->n_members && !found; i++)
			found = ((Form_pg_proc) GETSTRUCT(&procs->members[i]->tuple))->pronamespace == nsp;
		ReleaseSysCacheList(procs);
	}
	CommitTransactionCommand();

	if (found)
		SetUserIdAndSecContext(owner, SECURITY_LOCAL_USERID_CHANGE);
	return found;
}
