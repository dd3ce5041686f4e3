/*-------------------------------------------------------------------------
 *
 * option.h
 *		  Option validation (the wrapper's validator) and a server's settings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_OPTION_H
#define ESI_OPTION_H

#include "postgres.h"

#include "nodes/parsenodes.h"
#include "foreign/foreign.h"

/* Settings of one foreign server (GUC defaults applied) */
typedef struct EsiServerOptions
{
	char	   *base_url;		/* no trailing slash */
	char	   *compat_date;	/* X-Compatibility-Date */
	char	   *user_agent;
	char	   *language;		/* Accept-Language, or NULL */
	char	   *tenant;			/* X-Tenant, or NULL */
	bool		compression;	/* ask for gzip */
	int			max_connections;
} EsiServerOptions;

extern EsiServerOptions *esi_get_server_options(ForeignServer *server);
extern bool esi_option_bool(DefElem *def);

#endif							/* ESI_OPTION_H */
