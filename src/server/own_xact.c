/*-------------------------------------------------------------------------
 *
 * own_xact.c
 *		  SQL of a background worker, in a transaction of its own.
 *
 * A worker (the token writer, a refresh worker) runs its statements each
 * in a transaction it starts and commits itself: a transaction, the
 * privileged SQL set-up of privileged_sql.c (search_path pinned, maybe
 * another role, SPI connected) and a snapshot, then all of it undone in
 * the reverse order and committed.  An error aborts the transaction, which
 * undoes the rest.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/snapmgr.h"

#include "own_xact.h"

/*
 * esi_own_xact_begin
 *		Start a transaction and run SQL in it as role (InvalidOid: as the
 *		worker's user) with search_path pinned; end it with
 *		esi_own_xact_commit.
 */
void
esi_own_xact_begin(EsiPrivileged *p, Oid role)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	esi_privileged_begin_as(p, role, false);
	PushActiveSnapshot(GetTransactionSnapshot());
}

/*
 * esi_own_xact_commit
 *		Undo esi_own_xact_begin's set-up and commit.  What SPI returned is
 *		gone after it: copy it out before.
 */
void
esi_own_xact_commit(EsiPrivileged *p)
{
	PopActiveSnapshot();
	esi_privileged_end(p);
	CommitTransactionCommand();
}
