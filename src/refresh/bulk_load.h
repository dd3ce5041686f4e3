/*-------------------------------------------------------------------------
 *
 * bulk_load.h
 *		  A query's rows written into a table the way COPY FROM writes them.
 *
 * esi._bulk_insert(dest, query) runs a query (a scan of a foreign table,
 * say) with the caller's rights and writes its rows into dest in multi-row
 * batches with one bulk-insert state, updating the indexes batch by batch,
 * rather than row by row as INSERT ... SELECT does.  The refresh of a
 * snapshot uses it to write what ESI returned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_BULK_LOAD_H
#define ESI_BULK_LOAD_H

#include "fmgr.h"

/*
 * Runs query (one statement returning rows) as the current user and writes
 * its rows into the plain table relid, matched by position; returns the
 * rows written.  Checks INSERT on relid.  Must run inside a transaction with
 * an active snapshot (a function called from SQL, or a worker that set
 * them up).
 */
extern uint64 esi_bulk_insert_query(Oid relid, const char *query);

/* SQL: esi._bulk_insert(dest regclass, query text) RETURNS bigint */
extern Datum esi_bulk_insert(PG_FUNCTION_ARGS);

#endif							/* ESI_BULK_LOAD_H */
