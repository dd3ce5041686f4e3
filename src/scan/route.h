/*-------------------------------------------------------------------------
 *
 * route.h
 *		  A foreign table's options turned into an EsiRoute.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_ROUTE_H
#define ESI_ROUTE_H

#include "decode.h"
#include "option.h"				/* EsiPaging, EsiRouteSegment */

/*
 * A request parameter as the columns of a table define it.  Several columns
 * may feed one parameter (order_type and is_buy_order); each is an EsiParamCol.
 */
typedef struct EsiParamCol
{
	AttrNumber	attnum;
	char	   *colname;
	char	   *param;			/* parameter name sent to ESI */
	char		in;				/* 'p' path or 'q' query; 't': the character
								 * whose token is sent, not sent itself
								 * (as_character_id; param "character_id") */
	bool		required;
	char	   *default_value;	/* or NULL */
	char	   *true_value;		/* boolean mapping, or NULL */
	char	   *false_value;
	bool		is_field;		/* the row's value comes from the JSON */
	Oid			typoid;
} EsiParamCol;

typedef struct EsiRoute
{
	char	   *relname;
	char	   *route;			/* template: /markets/{region_id}/orders */
	char	   *method;			/* NULL for GET; POST, PUT, DELETE (call.c) */
	bool		is_function;	/* relname names a function (call.c), not a
								 * foreign table (modify.c's writes) */
	bool		pass_not_found; /* a 404 is a page (status 404) for the
								 * caller, not an error: batched lookups */
	int			nsegments;		/* the template, parsed: literals and */
	EsiRouteSegment *segments;	/* {name}s bound to params[paramidx] */
	EsiShape	shape;
	EsiPaging	paging;
	char	   *records_key;
	char	   *scope;			/* SSO scope or NULL */
	char	   *fixed_query;	/* extra "a=b&c=d", or NULL */
	char	   *id_field;		/* from_id walks: the record id's JSON key */
	char	   *rate_group;		/* X-Ratelimit-Group from the catalog, or NULL */
	char	   *roles;			/* corporation roles the route needs (any of
								 * them, comma-separated), or NULL */
	EsiCacheMode cache;			/* the table's cache option */
	EsiServerOptions *opts;		/* the server it is read through, for
								 * messages (set by esi_crawl_begin and
								 * esi_call_route), or NULL */
	bool		characters_known;	/* characters is set (a scan runs) */
	List	   *characters;		/* authenticated routes without a
								 * character_id condition: the role's
								 * characters (char *), one request set each */
	int			natts;
	char	  **fields;			/* per attno-1: JSON key, or NULL */
	Oid		   *atttypes;		/* per attno-1 */
	int32	   *atttypmods;
	int			nparams;
	EsiParamCol *params;
} EsiRoute;

extern EsiRoute *esi_get_route(Oid relid);
extern EsiParamCol *esi_route_param_for_att(EsiRoute *route, AttrNumber attnum);
extern int	esi_route_character_param(EsiRoute *route);
extern int	esi_route_corporation_param(EsiRoute *route);
extern const char *esi_route_method(EsiRoute *route);
extern char *esi_route_subject(EsiRoute *route);

#endif							/* ESI_ROUTE_H */
