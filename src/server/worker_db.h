/*-------------------------------------------------------------------------
 *
 * worker_db.h
 *		  How esi_fdw's background workers enter a database safely.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_WORKER_DB_H
#define ESI_WORKER_DB_H

/* esi_safe_path_begin/_end, ESI_SAFE_SEARCH_PATH */
#include "privileged_sql.h"

extern bool esi_extension_owner(Oid *owner, Oid *nsp);
extern bool esi_worker_connect(Oid dboid, const char *need_proc);

#endif							/* ESI_WORKER_DB_H */
