/*-------------------------------------------------------------------------
 *
 * modify.h
 *		  Writable foreign tables: a character's contacts and fittings
 *		  (INSERT, UPDATE, DELETE sent as ESI's POST, PUT, DELETE).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_MODIFY_H
#define ESI_MODIFY_H

#include "foreign/fdwapi.h"

/* set the modify callbacks of the wrapper's FdwRoutine */
extern void esi_modify_routines(FdwRoutine *routine);

#endif							/* ESI_MODIFY_H */
