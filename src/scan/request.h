/*-------------------------------------------------------------------------
 *
 * request.h
 *		  Quals turned into ESI request parameters; the requests of a scan.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_REQUEST_H
#define ESI_REQUEST_H

#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "route.h"

/*
 * One constraint on a parameter found in the quals: a fixed set of values
 * (constants), or an expression evaluated at execution (a Param, an outer
 * column of a nested loop, an array for = ANY).
 */
typedef struct EsiParamQual
{
	int			paramidx;		/* index into route->params */
	List	   *values;			/* constants' canonical texts as String nodes
								 * (in the parameter's vocabulary), or NIL */
	int			exprno;			/* index into fdw_exprs, or -1 */
	bool		is_array;		/* exprno yields an array (= ANY) */
} EsiParamQual;

/* The requests of one scan, after the parameters are known */
typedef struct EsiRequest
{
	char	   *path;			/* /markets/10000002/orders */
	char	   *query;			/* order_type=all&type_id=34 (no paging) */
	char	  **values;			/* per route param column: what its rows read,
								 * as text (a boolean column: its true_value
								 * or false_value), or NULL */
	char	  **sent;			/* per route param column: the value sent
								 * for its parameter, or NULL */
	char	   *body;			/* JSON body (route->method), or NULL */
	int			seq;			/* functions: the request's place */
} EsiRequest;

/* The requests of one scan, generated one at a time */
typedef struct EsiRequestIter EsiRequestIter;

extern List *esi_classify_quals(PlannerInfo *root, RelOptInfo *baserel,
								EsiRoute *route, List *clauses,
								List **fdw_exprs, bool *all_exact);
extern bool esi_clause_pushable(RelOptInfo *baserel, EsiRoute *route,
								Expr *clause);
extern List *esi_missing_required(EsiRoute *route, List *quals);
extern bool esi_quals_constrain(EsiRoute *route, List *quals, int paramidx);
extern void esi_report_missing_param(EsiRoute *route, List *missing);
extern char *esi_describe_requests(EsiRoute *route, List *quals);
extern EsiRequestIter *esi_requests_begin(EsiRoute *route, List *quals,
										  List *exprs_and_states,
										  ExprContext *econtext);
extern EsiRequest *esi_requests_next(EsiRequestIter *it);
extern EsiRequest *esi_request_build(EsiRoute *route, char **values);
extern EsiRequestIter *esi_requests_from_list(EsiRoute *route, List *reqs);
extern void esi_requests_end(EsiRequestIter *it);
extern char *esi_param_example(const char *param);
extern List *esi_param_quals_to_list(List *quals);
extern List *esi_param_quals_from_list(List *in);

#endif							/* ESI_REQUEST_H */
