/*-------------------------------------------------------------------------
 *
 * own_xact.h
 *		  SQL of a background worker, in a transaction of its own.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_OWN_XACT_H
#define ESI_OWN_XACT_H

#include "privileged_sql.h"

extern void esi_own_xact_begin(EsiPrivileged *p, Oid role);
extern void esi_own_xact_commit(EsiPrivileged *p);

#endif							/* ESI_OWN_XACT_H */
