/*-------------------------------------------------------------------------
 *
 * privileged_sql.h
 *		  SQL that esi_fdw runs with rights its caller lacks, with
 *		  search_path pinned.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_PRIVILEGED_SQL_H
#define ESI_PRIVILEGED_SQL_H

/* the search_path of every statement esi_fdw runs with privileges */
#define ESI_SAFE_SEARCH_PATH "pg_catalog, pg_temp"

/* what esi_privileged_end() restores */
typedef struct EsiPrivileged
{
	Oid			userid;
	int			sec;
	int			nest;
} EsiPrivileged;

extern int	esi_safe_path_begin(void);
extern void esi_safe_path_end(int nest);
extern void esi_privileged_begin(EsiPrivileged *p);
extern void esi_privileged_begin_as(EsiPrivileged *p, Oid role, bool restricted);
extern void esi_privileged_end(EsiPrivileged *p);
extern int	esi_privileged_run(const char *sql, int nargs, Oid *types, Datum *values,
							   const char *nulls, bool read_only);

#endif							/* ESI_PRIVILEGED_SQL_H */
