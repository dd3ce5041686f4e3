/*-------------------------------------------------------------------------
 *
 * privileged_sql.c
 *		  SQL that esi_fdw runs with rights its caller lacks, with
 *		  search_path pinned.
 *
 * esi_fdw's tables of logins and names are granted to nobody: a backend
 * reads and writes them as the bootstrap superuser (the logins' SQL API,
 * the token service, esi_call's names), a background worker as the
 * extension's owner (worker_db.c).  Whoever runs it, such SQL must not run
 * the database's or the session's functions or operators with those
 * rights: every statement's names are qualified, and search_path is pinned
 * to pg_catalog, pg_temp in a GUC nest level that also undoes, at the end,
 * whatever the statement's code changed (even at session level, as an
 * index build does).  In a backend the role change is also a restricted
 * operation (SECURITY_RESTRICTED_OPERATION), as in a maintenance command.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_authid.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "privileged_sql.h"

/*
 * esi_safe_path_begin
 *		In a transaction, before privileged statements: a GUC nest level
 *		with search_path pinned; pass its result to esi_safe_path_end.
 */
int
esi_safe_path_begin(void)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", ESI_SAFE_SEARCH_PATH,
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/*
 * esi_safe_path_end
 *		After the statements: undo every setting their code changed, even at
 *		session level (a trigger's set_config), as an index build does.
 */
void
esi_safe_path_end(int nest)
{
	AtEOXact_GUC(false, nest);
}

/*
 * esi_privileged_begin_as
 *		Pin search_path, become role (unless InvalidOid: stay who we are;
 *		restricted: as a restricted operation) and connect to SPI; undone by
 *		esi_privileged_end.  An error undoes it with the (sub)transaction.
 */
void
esi_privileged_begin_as(EsiPrivileged *p, Oid role, bool restricted)
{
	GetUserIdAndSecContext(&p->userid, &p->sec);
	p->nest = esi_safe_path_begin();
	if (OidIsValid(role))
		SetUserIdAndSecContext(role, p->sec | SECURITY_LOCAL_USERID_CHANGE |
							   (restricted ? SECURITY_RESTRICTED_OPERATION : 0));
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "esi_fdw: SPI_connect failed");
}

/*
 * esi_privileged_begin
 *		In a backend: SQL as the bootstrap superuser, a restricted
 *		operation, search_path pinned, SPI connected.
 */
void
esi_privileged_begin(EsiPrivileged *p)
{
	esi_privileged_begin_as(p, BOOTSTRAP_SUPERUSERID, true);
}

/*
 * esi_privileged_end
 *		SPI finished, the role, security context and settings of before.
 */
void
esi_privileged_end(EsiPrivileged *p)
{
	SPI_finish();
	SetUserIdAndSecContext(p->userid, p->sec);
	esi_safe_path_end(p->nest);
}

/*
 * esi_privileged_run
 *		One statement, between esi_privileged_begin and _end; ERROR when it
 *		fails.  SPI's result code.
 */
int
esi_privileged_run(const char *sql, int nargs, Oid *types, Datum *values,
				   const char *nulls, bool read_only)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, 0);

	if (rc < 0)
		elog(ERROR, "esi_fdw: internal query failed (%d)", rc);
	return rc;
}
