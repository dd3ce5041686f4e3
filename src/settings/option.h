/*-------------------------------------------------------------------------
 *
 * option.h
 *		  esi_fdw's options: one table of definitions, parsed in one place.
 *
 * The validator and the code that uses options (a server's settings, a
 * foreign table's route) read them through the same parser, so what the
 * validator accepts is exactly what is used.  The checks on text that
 * reaches the wire are valid.h's, which the settings' check hooks (guc.c)
 * use too; options fall back to the settings: option.c depends on guc.h,
 * never the reverse.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_OPTION_H
#define ESI_OPTION_H

#include "foreign/foreign.h"
#include "nodes/pg_list.h"

#include "guc.h"				/* EsiCacheMode, EsiHttpVersion; the defaults */

/* How a route's reply is laid out (the table option shape; decode.c reads it) */
typedef enum EsiShape
{
	ESI_SHAPE_ARRAY,			/* [ {..}, {..} ] (or an envelope, see below) */
	ESI_SHAPE_OBJECT,			/* { .. }: one record */
	ESI_SHAPE_VALUES,			/* [ 1, 2, 3 ]: one record per element */
	ESI_SHAPE_VALUE				/* 42.5: one record holding the scalar */
} EsiShape;


/* Settings of one foreign server (GUC defaults applied) */
typedef struct EsiServerOptions
{
	char	   *base_url;		/* no trailing slash */
	char	   *compat_date;	/* X-Compatibility-Date */
	bool		compat_date_option; /* ... from the server's option, not
									 * esi_fdw.compatibility_date */
	char	   *user_agent;
	char	   *language;		/* Accept-Language, or NULL */
	char	   *tenant;			/* X-Tenant, or NULL */
	bool		compression;	/* ask for gzip */
	int			max_connections;
	EsiHttpVersion http_version;
	EsiCacheMode cache;			/* the server's cache option */
	/* EVE SSO */
	char	   *sso_url;		/* SSO's base URL (metadata below it) */
	char	   *sso_client_id;	/* the application's client id, or NULL */
	char	   *sso_redirect_uri;	/* its registered callback URL, or NULL */
	char	   *server_name;	/* the foreign server these belong to */
	Oid			server_oid;		/* ... and its OID (in this database) */
} EsiServerOptions;

#define ESI_DEFAULT_SSO_URL "https://login.eveonline.com"

typedef enum EsiPaging
{
	ESI_PAGING_NONE,
	ESI_PAGING_PAGES,			/* page=N with X-Pages */
	ESI_PAGING_CURSOR,			/* before/after tokens in the body */
	ESI_PAGING_FROM_ID			/* from_id=<last id> */
} EsiPaging;

/*
 * One piece of a route template: literal path text, or a {name} filled with
 * a parameter's value.  The template is parsed once, by the option parser;
 * esi_get_route binds each {name} to the column that feeds it.
 */
typedef struct EsiRouteSegment
{
	char	   *text;			/* literal text, or the name between braces */
	bool		is_param;
	int			paramidx;		/* a {name}'s index into EsiRoute.params */
} EsiRouteSegment;

/* A foreign table's options */
typedef struct EsiTableOptions
{
	char	   *route;			/* the template as written */
	int			nsegments;
	EsiRouteSegment *segments;	/* paramidx not yet bound */
	EsiPaging	paging;
	EsiShape	shape;
	char	   *records_key;
	char	   *query;			/* fixed "a=b&c=d", or NULL */
	char	   *id_field;
	char	   *scope;
	/* facts from the catalog, accepted and kept for later use */
	char	   *roles;
	int			cache_seconds;
	char	   *rate_group;
	char	   *compat_date;
	EsiCacheMode cache;			/* the table's cache option */
} EsiTableOptions;

/* A foreign table column's options */
typedef struct EsiColumnOptions
{
	char		param_in;		/* 'p' path, 'q' query, 't' token, '\0'
								 * not a parameter */
	char	   *param_name;
	bool		required;
	char	   *default_value;
	char	   *true_value;
	char	   *false_value;
	char	   *field;
} EsiColumnOptions;

extern EsiServerOptions *esi_get_server_options(ForeignServer *server);
extern void esi_parse_table_options(List *options, EsiTableOptions *out);
extern void esi_parse_column_options(List *options, EsiColumnOptions *out);

extern bool esi_base_url_listed(const char *url);

#endif							/* ESI_OPTION_H */
