/*-------------------------------------------------------------------------
 *
 * call.h
 *		  ESI's POST, PUT and DELETE routes: the SQL functions' entry point
 *		  and what writable foreign tables can reuse (call.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CALL_H
#define ESI_CALL_H

#include "esi_catalog.h"
#include "option.h"
#include "request.h"
#include "route.h"

/* a route that is not GET, ready to send requests on */
typedef struct EsiCallRoute
{
	const EsiCatalogCall *cc;
	EsiRoute   *route;
	EsiServerOptions *opts;
} EsiCallRoute;

/* a write's reply */
typedef struct EsiWriteReply
{
	long		status;
	char	   *body;			/* NUL-terminated */
	size_t		len;
} EsiWriteReply;

extern const EsiCatalogCall *esi_call_find(const char *function_name);
extern EsiCallRoute *esi_call_route(const EsiCatalogCall *cc,
									const char *server_name);
extern void esi_call_write(EsiCallRoute *cr, EsiRequest *req,
						   EsiWriteReply *out);
extern void esi_call_accepted_push(ErrorContextCallback *cb,
								   EsiCallRoute *cr, EsiRequest *req);

#endif							/* ESI_CALL_H */
