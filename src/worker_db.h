/*-------------------------------------------------------------------------
 *
 * worker_db.h
 *		  How esi_fdw's background workers enter a database safely.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_WORKER_DB_H
#define ESI_WORKER_DB_H

/* the search_path of every statement esi_fdw runs with privileges */
#define ESI_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

extern bool esi_extension_owner(Oid *owner, Oid *nsp);
extern bool esi_worker_connect(Oid dboid, const char *need_proc);
extern int	esi_safe_path_begin(void);
extern void esi_safe_path_end(int nest);

#endif							/* ESI_WORKER_DB_H */
