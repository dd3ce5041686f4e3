/*-------------------------------------------------------------------------
 *
 * bearer.h
 *		  The Authorization of a crawl's requests, from the token service:
 *		  the EsiBearerSource of crawl.h over tokens.h (bearer.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_BEARER_H
#define ESI_BEARER_H

#include "crawl.h"
#include "option.h"
#include "route.h"

extern EsiBearerSource *esi_token_bearers(MemoryContext cxt, EsiRoute *route,
										  EsiServerOptions *opts);

#endif							/* ESI_BEARER_H */
