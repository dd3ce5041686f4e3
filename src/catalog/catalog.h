/*-------------------------------------------------------------------------
 *
 * catalog.h
 *		  IMPORT FOREIGN SCHEMA and esi.catalog() over the generated catalog.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CATALOG_IMPORT_H
#define ESI_CATALOG_IMPORT_H

#include "nodes/parsenodes.h"

extern List *esi_import_foreign_schema(ImportForeignSchemaStmt *stmt,
									   Oid serverOid);

#endif							/* ESI_CATALOG_IMPORT_H */
