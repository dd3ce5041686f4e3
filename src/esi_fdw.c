/*-------------------------------------------------------------------------
 *
 * esi_fdw.c
 *		  Module load, settings, and the foreign data wrapper's callbacks.
 *
 * Planning decides which quals become ESI parameters (request.c) and which
 * columns the scan must decode; execution builds the requests from the
 * parameter values, lets crawl.c fetch the pages and decode.c turn each
 * record into the slot's datums.  A rescan (the inner side of a nested
 * loop) with the same parameter values replays the rows it kept instead of
 * asking ESI again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "bearer.h"
#include "cache.h"
#include "catalog.h"
#include "crawl.h"
#include "decode.h"
#include "esi_fdw.h"
#include "guc.h"
#include "modify.h"
#include "option.h"
#include "progress.h"
#include "refresh_worker.h"
#include "request.h"
#include "route.h"
#include "shmem.h"
#include "stats.h"
#include "throttle.h"
#include "tokens.h"

PG_MODULE_MAGIC;

/* cost model: a request is a network round trip, rows are cheap */
#define ESI_REQUEST_COST	1000.0
#define ESI_ROW_COST		0.01
#define ESI_MISSING_COST	1.0e10	/* a path that cannot build its request */

/* planner state of one foreign table */
typedef struct EsiRelInfo
{
	EsiRoute   *route;
	List	   *join_params;	/* params a join could supply that rows
								 * cannot carry otherwise (indexes) */
} EsiRelInfo;

/* indexes into a ForeignScan's fdw_private */
enum
{
	PRIV_QUALS,
	PRIV_ATTRS,
	PRIV_BOUND,
	PRIV_MISSING				/* (attnum, from_join) of a parameter with no
								 * value, checked when the scan runs; or NIL */
};

/* execution state of one scan */
typedef struct EsiScanState
{
	EsiRoute   *route;
	EsiServerOptions *opts;
	List	   *quals;			/* EsiParamQual */
	List	   *exprs;			/* fdw_exprs */
	List	   *expr_states;
	double		row_bound;
	AttrNumber	missing_att;	/* a parameter with no value (LIMIT 0 plans) */
	bool		missing_join;	/* ... one only a join could have supplied */
	EsiDecodeColumn *cols;
	int			ncols;
	int		   *param_atts;		/* param-only columns the query reads */
	int			nparam_atts;
	EsiDecoder	decoder;
	EsiCrawl   *crawl;
	EsiPage    *page;
	MemoryContext page_cxt;		/* values of param-only columns of a page */
	MemoryContext tuple_cxt;	/* datums of one row */
	Datum	   *page_values;	/* per param_atts */
	bool	   *page_nulls;
	int		   *guard_params;	/* boolean reply fields that are also sent as
								 * a parameter (is_buy_order): index into
								 * route->params */
	int			nguards;
	char	   *guard_want;		/* per guard, for the current page: 't' the
								 * field must be true, 'f' false, 0 either */
	int			id_attidx;		/* from_id walks: the id column, or -1 */
	EsiCrawlStats stats;

	/* per (re)scan: the requests, and what a rescan can reuse */
	bool		started;		/* requests built since the last rescan */
	bool		crawl_done;		/* the crawl returned its last page */
	MemoryContext req_cxt;		/* the current crawl's requests and values */
	MemoryContext spare_cxt;	/* the next scan's, reset each time */
	Datum	   *values;			/* values of exprs the current crawl used */
	bool	   *nulls;
	int16	   *typlens;		/* per expr */
	bool	   *typbyvals;
	bool		keep_rows;		/* rescans may come: keep rows to replay */
	MemoryContext rows_cxt;		/* the kept rows, at most work_mem */
	MinimalTuple *rows;			/* the current crawl's rows so far */
	int64		nrows;
	int64		maxrows;
	bool		rows_valid;		/* rows[] holds every row returned so far */
	int64		replay_pos;		/* next kept row to return, or -1 */
} EsiScanState;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(esi_fdw_handler);

/*
 * Every subsystem's part of shared memory (server/shmem.c sets them up):
 * the cache index, ESI's limits, the route statistics, the token slots,
 * the refresh's worker slots and the progress slots.
 */
static const EsiShmemPart shmem_parts[] = {
	{"esi_fdw cache", "esi_fdw_cache", esi_cache_shmem_size, esi_cache_index_size, esi_cache_shmem_init},
	{"esi_fdw limits", "esi_fdw_limits", esi_limits_shmem_size, NULL, esi_limits_shmem_init},
	{"esi_fdw route statistics", "esi_fdw_stats", esi_stats_shmem_size, NULL, esi_stats_shmem_init},
	{"esi_fdw tokens", "esi_fdw_tokens", esi_tokens_shmem_size, NULL, esi_tokens_shmem_init},
	{"esi_fdw refresh", NULL, esi_refresh_shmem_size, NULL, esi_refresh_shmem_init},
	{"esi_fdw progress", NULL, esi_progress_shmem_size, NULL, esi_progress_shmem_init},
};

/*
 * _PG_init
 *		Module load: define the settings (guc.c, every one of them).
 *		esi_fdw keeps cluster-wide state (the cache, ESI's limits,
 *		workers), which needs shared memory reserved at server start: it
 *		refuses to load any other way than from shared_preload_libraries.
 */
void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("esi_fdw must be loaded via shared_preload_libraries"),
				 errdetail("esi_fdw shares ESI's cache and limits between all sessions of the cluster, which needs shared memory set up when the server starts."),
				 errhint("Add esi_fdw to shared_preload_libraries in postgresql.conf, for example: ALTER SYSTEM SET shared_preload_libraries = 'esi_fdw'; then restart the server.")));
	esi_guc_define();
	esi_shmem_register(shmem_parts, lengthof(shmem_parts));
	esi_refresh_register();
}

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/*
 * rows_per_request
 *		A guess at the rows one request brings, from the route's shape.
 */
static double
rows_per_request(EsiRoute *route)
{
	if (route->shape == ESI_SHAPE_OBJECT || route->shape == ESI_SHAPE_VALUE)
		return 1;
	if (route->paging == ESI_PAGING_PAGES)
		return 10000;
	return 1000;
}

/*
 * count_requests
 *		How many requests a set of quals makes (run-time values count one).
 */
static double
count_requests(EsiRoute *route, List *quals)
{
	double		n = 1;

	for (int i = 0; i < route->nparams; i++)
	{
		ListCell   *lc;
		double		k = -1;

		foreach(lc, quals)
		{
			EsiParamQual *q = lfirst(lc);

			if (q->paramidx != i)
				continue;
			if (q->exprno >= 0)
				k = (k < 0 || k > 1) ? (q->is_array ? 10 : 1) : k;
			else
				k = (k < 0) ? list_length(q->values) : Min(k, list_length(q->values));
		}
		if (k >= 0)
			n *= k;
	}
	return n;
}

/*
 * param_covered
 *		Whether some qual gives parameter i a value (through any of the
 *		columns that feed the same ESI parameter).
 */
static bool
param_covered(EsiRoute *route, List *quals, int i)
{
	ListCell   *lc;

	foreach(lc, quals)
	{
		EsiParamQual *q = lfirst(lc);

		if (strcmp(route->params[q->paramidx].param, route->params[i].param) == 0)
			return true;
	}
	return false;
}

/*
 * lacking_param
 *		The first parameter a path with these quals cannot send although it
 *		must: a required one that no qual or default supplies, or one that a
 *		join could supply but this path does not.  The latter are columns
 *		that are not in ESI's reply: a row carries the value that was sent,
 *		so a scan that sends none has NULL (or the default) there and the
 *		join condition would drop every row, where the same values given
 *		as an IN list return data.  *from_join tells which case it is.
 *		NULL when the path can build its requests.
 */
static EsiParamCol *
lacking_param(EsiRelInfo *info, List *quals, bool *from_join)
{
	EsiRoute   *route = info->route;
	List	   *missing = esi_missing_required(route, quals);
	ListCell   *lc;

	*from_join = false;
	if (missing != NIL)
		return linitial(missing);
	foreach(lc, info->join_params)
	{
		if (!param_covered(route, quals, lfirst_int(lc)))
		{
			*from_join = true;
			return &route->params[lfirst_int(lc)];
		}
	}
	return NULL;
}

/*
 * esiGetForeignRelSize
 *		FDW callback: read the table's route and estimate its rows from the
 *		requests its own conditions make (rows per request by shape).  The
 *		route is kept in baserel->fdw_private for the later callbacks.
 */
static void
esiGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	EsiRelInfo *info = palloc0(sizeof(EsiRelInfo));
	List	   *exprs = NIL;
	bool		exact;
	List	   *quals;

	info->route = esi_get_route(foreigntableid);
	baserel->fdw_private = info;

	quals = esi_classify_quals(root, baserel, info->route,
							   baserel->baserestrictinfo, &exprs, &exact);
	baserel->rows = Max(1, rows_per_request(info->route) *
						count_requests(info->route, quals));
}

/*
 * add_path_for
 *		A ForeignPath whose cost reflects the requests it makes; one that
 *		lacks a parameter it needs costs so much that any path supplying it
 *		(a parameterized one, for a join) wins.
 */
static void
add_path_for(PlannerInfo *root, RelOptInfo *baserel, EsiRelInfo *info,
			 List *clauses, Relids required_outer, double rows)
{
	EsiRoute   *route = info->route;
	List	   *exprs = NIL;
	bool		exact;
	bool		from_join;
	List	   *quals = esi_classify_quals(root, baserel, route, clauses, &exprs, &exact);
	double		nreq = count_requests(route, quals);
	Cost		startup = ESI_REQUEST_COST;
	Cost		total = startup + nreq * ESI_REQUEST_COST + rows * ESI_ROW_COST;

	if (lacking_param(info, quals, &from_join) != NULL)
		total = startup = ESI_MISSING_COST;

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, rows, startup, total,
									 NIL, required_outer, NULL, NIL));
}

/*
 * ec_matches_att
 *		generate_implied_equalities_for_column callback: the EC member is
 *		the given column of this relation.
 */
static bool
ec_matches_att(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
			   EquivalenceMember *em, void *arg)
{
	Expr	   *e = em->em_expr;

	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e && IsA(e, Var) && ((Var *) e)->varno == rel->relid &&
		((Var *) e)->varlevelsup == 0 &&
		((Var *) e)->varattno == *(AttrNumber *) arg;
}

/*
 * esiGetForeignPaths
 *		FDW callback: the plain scan, plus one parameterized path per set of
 *		outer relations whose join clauses can feed parameters (a nested
 *		loop then sends one request per outer row instead of a full scan).
 *		Paths that cannot build their requests are priced out rather than
 *		left out, so the planner still finds a plan and GetForeignPlan can
 *		say what is missing.
 */
static void
esiGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	EsiRelInfo *info = baserel->fdw_private;
	EsiRoute   *route = info->route;
	List	   *candidates = NIL;
	List	   *outer_sets = NIL;
	List	   *exprs = NIL;
	bool		exact;
	ListCell   *lc;

	/* join clauses that could feed a parameter: one request per outer row */
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *ri = lfirst(lc);

		if (join_clause_is_movable_to(ri, baserel) &&
			esi_clause_pushable(baserel, route, ri->clause))
			candidates = lappend(candidates, ri);
	}
	for (int i = 0; i < route->nparams; i++)
	{
		AttrNumber	att = route->params[i].attnum;
		List	   *ecs;

		ecs = generate_implied_equalities_for_column(root, baserel,
													 ec_matches_att, &att,
													 baserel->lateral_referencers);
		foreach(lc, ecs)
		{
			RestrictInfo *ri = lfirst(lc);

			if (esi_clause_pushable(baserel, route, ri->clause))
				candidates = lappend(candidates, ri);
		}
	}

	/* parameters a join can supply that the rows cannot carry otherwise */
	foreach(lc, esi_classify_quals(root, baserel, route, candidates, &exprs, &exact))
	{
		EsiParamQual *q = lfirst(lc);

		if (!route->params[q->paramidx].is_field)
			info->join_params = list_append_unique_int(info->join_params, q->paramidx);
	}

	/* the plain scan: only the table's own conditions */
	add_path_for(root, baserel, info, baserel->baserestrictinfo,
				 baserel->lateral_relids, baserel->rows);

	foreach(lc, candidates)
	{
		RestrictInfo *ri = lfirst(lc);
		Relids		outer = bms_union(bms_difference(ri->clause_relids, baserel->relids),
									  baserel->lateral_relids);
		ListCell   *lc2;
		bool		seen = false;

		if (bms_is_empty(outer))
			continue;
		foreach(lc2, outer_sets)
			if (bms_equal(lfirst(lc2), outer))
				seen = true;
		if (!seen)
			outer_sets = lappend(outer_sets, outer);
	}

	/* also every set of outer rels together, so two-column joins push both */
	if (list_length(outer_sets) > 1)
	{
		Relids		all = NULL;

		foreach(lc, outer_sets)
			all = bms_union(all, lfirst(lc));
		outer_sets = lappend(outer_sets, all);
	}

	foreach(lc, outer_sets)
	{
		Relids		outer = lfirst(lc);
		ParamPathInfo *ppi = get_baserel_parampathinfo(root, baserel, outer);
		List	   *clauses = list_concat_copy(baserel->baserestrictinfo, ppi->ppi_clauses);
		List	   *quals;
		double		rows;

		exprs = NIL;
		quals = esi_classify_quals(root, baserel, route, clauses, &exprs, &exact);
		rows = Max(1, rows_per_request(route) * count_requests(route, quals));
		add_path_for(root, baserel, info, clauses, outer, Min(rows, ppi->ppi_rows > 0 ? ppi->ppi_rows * 10 : rows));
	}
}

/*
 * row_bound_for
 *		The LIMIT (plus OFFSET) that caps the rows this scan must produce, or
 *		-1: only for a query on this table alone, with no sort, grouping or
 *		local qual between the scan and the LIMIT.
 */
static double
row_bound_for(PlannerInfo *root, RelOptInfo *baserel, bool exact,
			  bool parameterized)
{
	if (!exact || parameterized || root->limit_tuples <= 0)
		return -1;
	if (bms_membership(root->all_baserels) != BMS_SINGLETON)
		return -1;
	if (root->parse->sortClause != NIL || root->parse->hasTargetSRFs ||
		root->parse->hasAggs || root->parse->groupClause != NIL ||
		root->parse->distinctClause != NIL || root->parse->hasWindowFuncs)
		return -1;
	return root->limit_tuples;
}

/*
 * may_return_no_rows
 *		Whether this query level, or one it is nested in, has a LIMIT that
 *		is 0 or only known at run time (LIMIT $1 of a generic plan).  A
 *		Limit node whose count is 0 never runs the plan below it, so BI
 *		tools' "LIMIT 0" probes must not fail for want of a parameter: such
 *		a scan checks its parameters when (if ever) it runs.
 */
static bool
may_return_no_rows(PlannerInfo *root)
{
	for (; root != NULL; root = root->parent_root)
	{
		Node	   *count = root->parse->limitCount;

		if (count == NULL)
			continue;
		if (!IsA(count, Const))
			return true;
		if (!((Const *) count)->constisnull &&
			DatumGetInt64(((Const *) count)->constvalue) <= 0)
			return true;
	}
	return false;
}

/*
 * report_lacking_param
 *		The error for a scan that cannot send a parameter it needs.
 */
static void
report_lacking_param(EsiRoute *route, EsiParamCol *p, bool from_join)
{
	if (!from_join)
		esi_report_missing_param(route, list_make1(p));
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" needs a value for column \"%s\" from the join",
						route->relname, p->colname),
				 errdetail("Column \"%s\" is the %s parameter \"%s\" of ESI route %s and is not in ESI's reply, so a join on it must send each outer row's value; the chosen plan reads the table without one.",
						   p->colname, p->in == 'p' ? "path" : p->in == 't' ? "token" : "query", p->param,
						   route->route),
				 errhint("Give the values in a condition such as: WHERE %s IN (...), or let the planner use a nested loop (enable_nestloop).",
						 p->colname)));
}

/*
 * esiGetForeignPlan
 *		FDW callback: the ForeignScan for the chosen path.  The pushed quals
 *		go to fdw_private (serialized, see request.c) with their run-time
 *		expressions in fdw_exprs, so that setrefs and nestloop parameters
 *		adjust them; every qual is also kept as a local filter.  A path
 *		lacking a parameter fails here, with the condition to add, unless
 *		a LIMIT 0 may mean the scan never runs.
 */
static ForeignScan *
esiGetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	EsiRelInfo *info = baserel->fdw_private;
	EsiRoute   *route = info->route;
	List	   *fdw_exprs = NIL;
	bool		exact;
	List	   *quals;
	EsiParamCol *lacking;
	bool		from_join;
	List	   *missing = NIL;
	List	   *squals;
	Bitmapset  *attrs = NULL;
	List	   *retrieved = NIL;
	double		bound;
	ListCell   *lc;
	int			x;

	quals = esi_classify_quals(root, baserel, route, scan_clauses, &fdw_exprs, &exact);
	lacking = lacking_param(info, quals, &from_join);
	if (lacking != NULL)
	{
		/*
		 * A subquery's scan is checked when it runs: the planner also plans
		 * alternatives it may not use (the hashed form of an EXISTS
		 * sublink, whose correlation becomes hash keys).
		 */
		if (!may_return_no_rows(root) && root->parent_root == NULL)
			report_lacking_param(route, lacking, from_join);
		missing = list_make2_int(lacking->attnum, from_join ? 1 : 0);
	}

	/* columns the query reads: output and every qual (all are rechecked) */
	pull_varattnos((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
	foreach(lc, scan_clauses)
		pull_varattnos((Node *) lfirst_node(RestrictInfo, lc)->clause,
					   baserel->relid, &attrs);
	if (bms_is_member(0 - FirstLowInvalidHeapAttributeNumber, attrs))
	{
		for (int i = 1; i <= route->natts; i++)
			retrieved = lappend_int(retrieved, i);
	}
	else
	{
		x = -1;
		while ((x = bms_next_member(attrs, x)) >= 0)
		{
			AttrNumber	att = x + FirstLowInvalidHeapAttributeNumber;

			if (att > 0)
				retrieved = lappend_int(retrieved, att);
		}
	}

	bound = row_bound_for(root, baserel, exact,
						  best_path->path.param_info != NULL);

	squals = esi_param_quals_to_list(quals);
	return make_foreignscan(tlist,
							extract_actual_clauses(scan_clauses, false),
							baserel->relid,
							fdw_exprs,
							list_make4(squals, retrieved,
									   makeInteger(bound < 0 ? -1 :
												   (int) Min(bound, INT_MAX)),
									   missing),
							NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

/*
 * esiBeginForeignScan
 *		FDW callback: set up the scan's state from the plan (nothing is sent
 *		until the first row is asked for, so EXPLAIN and LIMIT 0 cost no
 *		request): which JSON fields to decode into which columns, which
 *		columns carry the request's values, and the per-page, per-row and
 *		per-rescan memory contexts.
 */
static void
esiBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);
	EsiScanState *st = palloc0(sizeof(EsiScanState));
	List	   *missing;
	List	   *retrieved;
	ListCell   *lc;

	node->fdw_state = st;
	st->route = esi_get_route(relid);
	st->opts = esi_get_server_options(GetForeignServer(GetForeignTable(relid)->serverid));
	st->quals = esi_param_quals_from_list(list_nth(fsplan->fdw_private, PRIV_QUALS));
	st->exprs = fsplan->fdw_exprs;
	st->row_bound = intVal(list_nth(fsplan->fdw_private, PRIV_BOUND));
	missing = list_nth(fsplan->fdw_private, PRIV_MISSING);
	if (missing != NIL)
	{
		st->missing_att = linitial_int(missing);
		st->missing_join = lsecond_int(missing) != 0;
	}
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->expr_states = ExecInitExprList(fsplan->fdw_exprs, (PlanState *) node);

	/* what to decode from the JSON, and which columns come from the request */
	retrieved = list_nth(fsplan->fdw_private, PRIV_ATTRS);
	st->id_attidx = -1;
	if (st->route->paging == ESI_PAGING_FROM_ID)
	{
		/* the walk needs each record's id even if the query does not */
		for (int i = 0; i < st->route->natts; i++)
			if (st->route->fields[i] &&
				strcmp(st->route->fields[i], st->route->id_field) == 0)
			{
				st->id_attidx = i;
				retrieved = list_append_unique_int(list_copy(retrieved), i + 1);
				break;
			}
	}
	/*
	 * A boolean reply field that is also sent as a parameter through
	 * true_value/false_value (is_buy_order as order_type=buy/sell) is checked
	 * on every row against what was sent: ESI may ignore the parameter (it
	 * does for order_type without type_id), and then the buy and the sell
	 * request would both return every order.
	 */
	st->guard_params = palloc0(sizeof(int) * (st->route->nparams + 1));
	st->guard_want = palloc0(st->route->nparams + 1);
	for (int i = 0; i < st->route->nparams; i++)
	{
		EsiParamCol *p = &st->route->params[i];

		if (p->true_value && p->false_value && p->typoid == BOOLOID &&
			st->route->fields[p->attnum - 1])
		{
			st->guard_params[st->nguards++] = i;
			retrieved = list_append_unique_int(list_copy(retrieved), p->attnum);
		}
	}
	st->cols = palloc0(sizeof(EsiDecodeColumn) * (list_length(retrieved) + 1));
	st->param_atts = palloc0(sizeof(int) * (list_length(retrieved) + 1));
	foreach(lc, retrieved)
	{
		AttrNumber	att = lfirst_int(lc);
		char	   *field = st->route->fields[att - 1];

		if (field)
		{
			EsiDecodeColumn *col = &st->cols[st->ncols++];

			col->field = field;
			col->fieldlen = strlen(field);
			col->attidx = att - 1;
			col->colname = NameStr(TupleDescAttr(node->ss.ss_currentRelation->rd_att, att - 1)->attname);
			esi_decode_column_set_type(col, st->route->atttypes[att - 1],
									   st->route->atttypmods[att - 1],
									   estate->es_query_cxt);
		}
		else if (esi_route_param_for_att(st->route, att))
			st->param_atts[st->nparam_atts++] = att;
	}
	/* a list of scalars has one value column whatever its name */
	if ((st->route->shape == ESI_SHAPE_VALUES || st->route->shape == ESI_SHAPE_VALUE) &&
		st->ncols > 1)
		st->ncols = 1;
	esi_decoder_init(&st->decoder, st->route->shape, st->route->records_key,
					 st->cols, st->ncols, st->route->route);

	st->page_values = palloc0(sizeof(Datum) * (st->nparam_atts + 1));
	st->page_nulls = palloc0(sizeof(bool) * (st->nparam_atts + 1));
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw page",
										 ALLOCSET_SMALL_SIZES);
	st->tuple_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw tuple",
										  ALLOCSET_DEFAULT_SIZES);

	/*
	 * Requests and parameter values live in contexts reset per rescan, so a
	 * nested loop's inner scan does not grow with every outer row.  When a
	 * rescan may come (the inner side of a join, a correlated subquery) the
	 * rows are kept, up to work_mem, so that a rescan with the same
	 * parameter values replays them instead of fetching again.  (One set of
	 * values is enough for consecutive outer rows that repeat a value; the
	 * planner's Memoize node caches several.)
	 */
	st->req_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw requests",
										ALLOCSET_SMALL_SIZES);
	st->spare_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw requests",
										  ALLOCSET_SMALL_SIZES);
	st->typlens = palloc0(sizeof(int16) * (list_length(st->exprs) + 1));
	st->typbyvals = palloc0(sizeof(bool) * (list_length(st->exprs) + 1));
	foreach(lc, st->exprs)
		get_typlenbyval(exprType(lfirst(lc)), &st->typlens[foreach_current_index(lc)],
						&st->typbyvals[foreach_current_index(lc)]);
	st->keep_rows = (eflags & EXEC_FLAG_REWIND) != 0 ||
		!bms_is_empty(fsplan->scan.plan.extParam);
	if (st->keep_rows)
		st->rows_cxt = AllocSetContextCreate(estate->es_query_cxt, "esi_fdw rows",
											 ALLOCSET_DEFAULT_SIZES);
	st->replay_pos = -1;
}

/*
 * check_scope
 *		Routes that need an SSO token are read with the token of the
 *		character in their character_id parameter (tokens.c), of a
 *		character of the corporation in corporation_id, or of the one in
 *		a token column (as_character_id: a fleet's, an alliance's routes);
 *		a table with none of them cannot be read.
 */
static void
check_scope(EsiRoute *route)
{
	if (route->scope && esi_route_character_param(route) < 0 &&
		esi_route_corporation_param(route) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("foreign table \"%s\" needs an EVE SSO token this esi_fdw release cannot choose",
						route->relname),
				 errdetail("ESI route %s is authenticated but has neither a character_id nor a corporation_id parameter, and the table no column that chooses the character.",
						   route->route),
				 errhint("Add one: ALTER FOREIGN TABLE %s ADD COLUMN as_character_id bigint OPTIONS (param 'token'), or import the table again.",
						 route->relname)));
}

/*
 * check_acting_character
 *		A route read as a character it is not about (a fleet's, a structure
 *		market's) with no condition on as_character_id: the role's only
 *		character with the scope, else an error.  Reading as each of them
 *		would mostly give ESI's 403s and 404s (a fleet has one boss).
 */
static void
check_acting_character(EsiRoute *route, EsiServerOptions *opts)
{
	EsiParamCol *p = &route->params[esi_route_character_param(route)];
	StringInfoData ids;
	ListCell   *lc;

	if (list_length(route->characters) == 1)
		return;
	if (route->characters == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("foreign table \"%s\" needs the EVE SSO token of a character, and the role has none with scope %s",
						route->relname, route->scope),
				 errdetail("ESI route %s is read with the token of the character in column \"%s\".",
						   route->route, p->colname),
				 errhint("Log a character in with that scope (esi.login), then add a condition such as: WHERE %s = %s",
						 p->colname, esi_param_example("character_id"))));
	initStringInfo(&ids);
	foreach(lc, route->characters)
	{
		char	   *id = lfirst(lc);
		char	   *name = esi_token_character_name(opts, strtoi64(id, NULL, 10));

		appendStringInfo(&ids, "%s%s", ids.len ? ", " : "", id);
		if (name)
			appendStringInfo(&ids, " (%s)", name);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
			 errmsg("foreign table \"%s\" needs a value for column \"%s\": whose EVE SSO token to send",
					route->relname, p->colname),
			 errdetail("ESI route %s is not about a character; the role may read it as any of %d characters with scope %s: %s.",
					   route->route, list_length(route->characters),
					   route->scope, ids.data),
			 errhint("Add WHERE %s = <id>, with one of: %s.",
					 p->colname, ids.data)));
}

/*
 * eval_params
 *		The values of the scan's run-time expressions (fdw_exprs), in the
 *		current memory context.  The requests are a function of these and
 *		of the plan's constants only.
 */
static void
eval_params(ForeignScanState *node, EsiScanState *st, Datum **values, bool **nulls)
{
	int			n = list_length(st->expr_states);
	ListCell   *lc;

	*values = palloc0(sizeof(Datum) * (n + 1));
	*nulls = palloc0(sizeof(bool) * (n + 1));
	foreach(lc, st->expr_states)
	{
		int			i = foreach_current_index(lc);
		Datum		d = ExecEvalExpr(lfirst(lc), node->ss.ps.ps_ExprContext, &(*nulls)[i]);

		(*values)[i] = (*nulls)[i] ? (Datum) 0 :
			datumCopy(d, st->typbyvals[i], st->typlens[i]);
	}
}

/*
 * same_params
 *		Whether the run-time values equal those of the current crawl (same
 *		bytes: then the same requests go out).
 */
static bool
same_params(EsiScanState *st, Datum *values, bool *nulls)
{
	for (int i = 0; i < list_length(st->expr_states); i++)
	{
		if (nulls[i] != st->nulls[i])
			return false;
		if (!nulls[i] &&
			!datumIsEqual(values[i], st->values[i], st->typbyvals[i], st->typlens[i]))
			return false;
	}
	return true;
}

/*
 * start_scan
 *		Evaluate the parameter values; if they are those of the previous
 *		scan, replay the rows it kept (and go on with its crawl if it
 *		stopped early), else build the requests and start a new crawl.
 */
static void
start_scan(ForeignScanState *node, EsiScanState *st)
{
	EsiRequestIter *reqs;
	Datum	   *values;
	bool	   *nulls;
	MemoryContext old;

	if (st->missing_att != 0)
		report_lacking_param(st->route,
							 esi_route_param_for_att(st->route, st->missing_att),
							 st->missing_join);
	check_scope(st->route);

	MemoryContextReset(st->spare_cxt);
	old = MemoryContextSwitchTo(st->spare_cxt);
	eval_params(node, st, &values, &nulls);
	MemoryContextSwitchTo(old);
	st->started = true;

	if (st->rows_valid && same_params(st, values, nulls))
	{
		st->replay_pos = 0;
		return;
	}

	/* a new crawl; a from_id walk starts afresh */
	if (st->crawl)
		esi_crawl_end(st->crawl);
	st->crawl = NULL;
	st->page = NULL;
	st->replay_pos = -1;
	if (st->keep_rows)
	{
		MemoryContextReset(st->rows_cxt);
		st->rows = NULL;
		st->nrows = st->maxrows = 0;
		st->rows_valid = true;
	}

	/* an authenticated route without a character_id: the role's characters */
	if (st->route->scope && !st->route->characters_known &&
		esi_route_character_param(st->route) >= 0 &&
		!esi_quals_constrain(st->route, st->quals, esi_route_character_param(st->route)))
	{
		old = MemoryContextSwitchTo(node->ss.ps.state->es_query_cxt);
		st->route->characters = esi_token_characters(st->opts, st->route->scope);
		st->route->characters_known = true;
		MemoryContextSwitchTo(old);
		if (st->route->params[esi_route_character_param(st->route)].in == 't')
			check_acting_character(st->route, st->opts);
	}

	/* the new values become current; the old ones are freed next time */
	old = MemoryContextSwitchTo(st->spare_cxt);
	reqs = esi_requests_begin(st->route, st->quals,
							  list_make2(st->exprs, st->expr_states),
							  node->ss.ps.ps_ExprContext);
	MemoryContextSwitchTo(old);
	old = st->req_cxt;
	st->req_cxt = st->spare_cxt;
	st->spare_cxt = old;
	st->values = values;
	st->nulls = nulls;
	st->crawl_done = false;
	st->crawl = esi_crawl_begin(st->req_cxt, st->route, st->opts, reqs,
								st->row_bound,
								esi_token_bearers(st->req_cxt, st->route, st->opts),
								0, &st->stats);
}

/*
 * keep_row
 *		Keep a copy of a row for replay by a rescan with the same parameter
 *		values, while the kept rows fit in work_mem; past that, give up
 *		keeping this crawl's rows (a rescan then fetches again).
 */
static TupleTableSlot *
keep_row(EsiScanState *st, TupleTableSlot *slot)
{
	MemoryContext old;

	if (!st->keep_rows || !st->rows_valid)
		return slot;
	if (MemoryContextMemAllocated(st->rows_cxt, false) > (Size) work_mem * 1024)
	{
		MemoryContextReset(st->rows_cxt);
		st->rows = NULL;
		st->nrows = st->maxrows = 0;
		st->rows_valid = false;
		return slot;
	}
	old = MemoryContextSwitchTo(st->rows_cxt);
	if (st->nrows >= st->maxrows)
	{
		st->maxrows = Max(64, st->maxrows * 2);
		st->rows = st->rows ? repalloc(st->rows, sizeof(MinimalTuple) * st->maxrows) :
			palloc(sizeof(MinimalTuple) * st->maxrows);
	}
	st->rows[st->nrows++] = heap_form_minimal_tuple(slot->tts_tupleDescriptor,
													slot->tts_values,
													slot->tts_isnull);
	MemoryContextSwitchTo(old);
	return slot;
}

/*
 * set_page_params
 *		Values of the param-only columns for the rows of a page: what the
 *		request sent.
 */
static void
set_page_params(EsiScanState *st, EsiPage *page)
{
	MemoryContext old;

	MemoryContextReset(st->page_cxt);
	old = MemoryContextSwitchTo(st->page_cxt);
	for (int i = 0; i < st->nparam_atts; i++)
	{
		AttrNumber	att = st->param_atts[i];
		EsiParamCol *p = esi_route_param_for_att(st->route, att);
		const char *v = page->req->values[p - st->route->params];

		st->page_nulls[i] = (v == NULL);
		if (v == NULL)
			continue;
		if (p->true_value && p->typoid == BOOLOID)
			st->page_values[i] = BoolGetDatum(strcmp(v, p->true_value) == 0);
		else
		{
			Oid			infn,
						ioparam;

			getTypeInputInfo(p->typoid, &infn, &ioparam);
			st->page_values[i] = OidInputFunctionCall(infn, (char *) v, ioparam,
													  st->route->atttypmods[att - 1]);
		}
	}
	MemoryContextSwitchTo(old);
}

/*
 * record_id
 *		A from_id walk's id column as int64, whatever integer type it has.
 */
static int64
record_id(EsiScanState *st, Datum d)
{
	switch (st->route->atttypes[st->id_attidx])
	{
		case INT2OID:
			return DatumGetInt16(d);
		case INT4OID:
			return DatumGetInt32(d);
		case INT8OID:
			return DatumGetInt64(d);
	}
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
			 errmsg("the id column of foreign table \"%s\" must be an integer",
					st->route->relname),
			 errhint("Declare it bigint.")));
	return 0;
}

/*
 * set_page_guards
 *		What each guarded boolean field must be on the rows of a page, from
 *		the value its request sent (see guard_params).
 */
static void
set_page_guards(EsiScanState *st, EsiPage *page)
{
	for (int g = 0; g < st->nguards; g++)
	{
		EsiParamCol *p = &st->route->params[st->guard_params[g]];
		const char *sent = page->req->sent[st->guard_params[g]];

		st->guard_want[g] = 0;
		if (sent && strcmp(sent, p->true_value) == 0)
			st->guard_want[g] = 't';
		else if (sent && strcmp(sent, p->false_value) == 0)
			st->guard_want[g] = 'f';
	}
}

/*
 * row_matches_sent
 *		Whether a row's guarded boolean fields are what its request asked
 *		for.  ESI omits false optional fields, so an absent one is false.
 */
static bool
row_matches_sent(EsiScanState *st, TupleTableSlot *slot)
{
	for (int g = 0; g < st->nguards; g++)
	{
		int			att = st->route->params[st->guard_params[g]].attnum - 1;
		bool		v = !slot->tts_isnull[att] && DatumGetBool(slot->tts_values[att]);

		if ((st->guard_want[g] == 't' && !v) || (st->guard_want[g] == 'f' && v))
			return false;
	}
	return true;
}

/*
 * esiIterateForeignScan
 *		FDW callback: the next row.  The first call after a (re)scan
 *		evaluates the parameters; rows then come from the rows kept from an
 *		earlier scan with the same values, then from the pages of the
 *		crawl, decoded one record per call straight into the slot.
 */
static TupleTableSlot *
esiIterateForeignScan(ForeignScanState *node)
{
	EsiScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	ExecClearTuple(slot);
	if (!st->started)
		start_scan(node, st);
	if (st->replay_pos >= 0)
	{
		if (st->replay_pos < st->nrows)
		{
			ExecForceStoreMinimalTuple(st->rows[st->replay_pos++], slot, false);
			return slot;
		}
		st->replay_pos = -1;
	}
	if (st->crawl_done)
		return slot;

	for (;;)
	{
		bool		got;

		if (st->page == NULL)
		{
			st->page = esi_crawl_next_page(st->crawl);
			if (st->page == NULL)
			{
				/* done: free the transfers now, the rows may be replayed */
				esi_crawl_end(st->crawl);
				st->crawl = NULL;
				st->crawl_done = true;
				return slot;
			}
			set_page_params(st, st->page);
			set_page_guards(st, st->page);
			/* the page's cursor strings must outlive the per-row context */
			old = MemoryContextSwitchTo(st->page_cxt);
			esi_decoder_begin_page(&st->decoder, st->page->body, st->page->len);
			MemoryContextSwitchTo(old);
		}

		MemoryContextReset(st->tuple_cxt);
		old = MemoryContextSwitchTo(st->tuple_cxt);
		memset(slot->tts_isnull, true, sizeof(bool) * slot->tts_tupleDescriptor->natts);
		got = esi_decoder_next(&st->decoder, slot->tts_values, slot->tts_isnull);
		MemoryContextSwitchTo(old);

		/* a from_id page starts with the record it was asked from */
		if (got && st->id_attidx >= 0 && !slot->tts_isnull[st->id_attidx] &&
			!esi_paging_keep_record(&st->page->key, &st->page->facts,
									record_id(st, slot->tts_values[st->id_attidx])))
			continue;

		if (got && st->nguards > 0 && !row_matches_sent(st, slot))
			continue;

		if (got)
		{
			st->page->facts.rows++;
			/* keep the connections busy while a long page is decoded */
			if ((st->decoder.nrecords & 255) == 0)
				esi_crawl_pump(st->crawl);
			for (int i = 0; i < st->nparam_atts; i++)
			{
				slot->tts_values[st->param_atts[i] - 1] = st->page_values[i];
				slot->tts_isnull[st->param_atts[i] - 1] = st->page_nulls[i];
			}
			return keep_row(st, ExecStoreVirtualTuple(slot));
		}

		/* what the page's walk needs to know to find the next page */
		st->page->facts.records = st->decoder.nrecords;
		st->page->facts.cursor_before = st->decoder.cursor_before;
		esi_crawl_page_done(st->crawl, st->page);
		st->page = NULL;
	}
}

/*
 * esiReScanForeignScan
 *		FDW callback: parameter values may have changed.  Whether the next
 *		scan fetches again is decided when its first row is asked for
 *		(start_scan): the same values replay the rows already read, other
 *		values start a new crawl.
 */
static void
esiReScanForeignScan(ForeignScanState *node)
{
	EsiScanState *st = node->fdw_state;

	st->started = false;
	st->replay_pos = -1;
}

/*
 * esiEndForeignScan
 *		FDW callback: stop the crawl and release its libcurl handles; the
 *		memory goes with the query's context.
 */
static void
esiEndForeignScan(ForeignScanState *node)
{
	EsiScanState *st = node->fdw_state;

	if (st && st->crawl)
	{
		esi_crawl_end(st->crawl);
		st->crawl = NULL;
	}
}

/* ---------------------------------------------------------------------
 * EXPLAIN
 * ---------------------------------------------------------------------
 */

/*
 * plan_children
 *		The plans directly below a plan node, as EXPLAIN walks them.
 */
static List *
plan_children(Plan *plan)
{
	List	   *children = NIL;

	if (plan->lefttree)
		children = lappend(children, plan->lefttree);
	if (plan->righttree)
		children = lappend(children, plan->righttree);
	switch (nodeTag(plan))
	{
		case T_Append:
			children = list_concat(children, ((Append *) plan)->appendplans);
			break;
		case T_MergeAppend:
			children = list_concat(children, ((MergeAppend *) plan)->mergeplans);
			break;
		case T_BitmapAnd:
			children = list_concat(children, ((BitmapAnd *) plan)->bitmapplans);
			break;
		case T_BitmapOr:
			children = list_concat(children, ((BitmapOr *) plan)->bitmapplans);
			break;
		case T_SubqueryScan:
			children = lappend(children, ((SubqueryScan *) plan)->subplan);
			break;
		case T_CustomScan:
			children = list_concat(children, ((CustomScan *) plan)->custom_plans);
			break;
		default:
			break;
	}
	return children;
}

/*
 * plan_path
 *		Whether target is plan or below it; if so, the plans from target's
 *		parent up to plan are appended to *ancestors, innermost first.
 */
static bool
plan_path(Plan *plan, Plan *target, List **ancestors)
{
	ListCell   *lc;

	if (plan == NULL)
		return false;
	if (plan == target)
		return true;
	foreach(lc, plan_children(plan))
	{
		if (plan_path(lfirst(lc), target, ancestors))
		{
			*ancestors = lappend(*ancestors, plan);
			return true;
		}
	}
	return false;
}

/* find_subplan_walker's state */
typedef struct SubPlanSearch
{
	int			plan_id;
	SubPlan    *found;
	Plan	   *holder;
} SubPlanSearch;

/*
 * find_subplan_walker
 *		expression_tree_walker callback: a SubPlan node running plan_id.
 */
static bool
find_subplan_walker(Node *node, SubPlanSearch *s)
{
	if (node == NULL)
		return false;
	if (IsA(node, SubPlan) && ((SubPlan *) node)->plan_id == s->plan_id)
	{
		s->found = (SubPlan *) node;
		return true;
	}
	return expression_tree_walker(node, find_subplan_walker, s);
}

/*
 * find_subplan_in
 *		Search a plan tree for the node whose expressions (or initPlans) run
 *		subplan s->plan_id; fills s->found and s->holder.
 */
static bool
find_subplan_in(Plan *plan, SubPlanSearch *s)
{
	List	   *exprs;
	ListCell   *lc;

	if (plan == NULL)
		return false;
	exprs = list_make3(plan->targetlist, plan->qual, plan->initPlan);
	switch (nodeTag(plan))
	{
		case T_NestLoop:
		case T_MergeJoin:
		case T_HashJoin:
			exprs = lappend(exprs, ((Join *) plan)->joinqual);
			break;
		case T_Result:
			exprs = lappend(exprs, ((Result *) plan)->resconstantqual);
			break;
		case T_ForeignScan:
			exprs = lappend(exprs, ((ForeignScan *) plan)->fdw_exprs);
			break;
		case T_FunctionScan:
			exprs = lappend(exprs, ((FunctionScan *) plan)->functions);
			break;
		case T_ValuesScan:
			exprs = lappend(exprs, ((ValuesScan *) plan)->values_lists);
			break;
		case T_IndexScan:
			exprs = lappend(exprs, ((IndexScan *) plan)->indexqualorig);
			break;
		case T_Limit:
			exprs = lappend(exprs, ((Limit *) plan)->limitCount);
			exprs = lappend(exprs, ((Limit *) plan)->limitOffset);
			break;
		default:
			break;
	}
	if (find_subplan_walker((Node *) exprs, s))
	{
		s->holder = plan;
		return true;
	}
	foreach(lc, plan_children(plan))
		if (find_subplan_in(lfirst(lc), s))
			return true;
	return false;
}

/*
 * explain_ancestors
 *		The ancestors of a plan node as EXPLAIN passes them to ruleutils:
 *		the plans above it, innermost first, and for a node inside a subplan
 *		the SubPlan node, the plan running it, and that plan's ancestors.
 *		ruleutils needs them to print a nested loop's parameter or a
 *		correlated subquery's as the outer column it comes from; the FDW
 *		callback is not given them, so they are found again in the plan.
 */
static List *
explain_ancestors(PlannedStmt *pstmt, Plan *target)
{
	List	   *ancestors = NIL;
	int			tree = -1;		/* 0: the main plan, n: subplan n */
	ListCell   *lc;

	if (pstmt == NULL)
		return NIL;
	if (plan_path(pstmt->planTree, target, &ancestors))
		tree = 0;
	foreach(lc, pstmt->subplans)
	{
		if (tree < 0 && plan_path(lfirst(lc), target, &ancestors))
			tree = foreach_current_index(lc) + 1;
	}

	/* climb from a subplan to the node that runs it, at most once each */
	for (int guard = list_length(pstmt->subplans); tree > 0 && guard > 0; guard--)
	{
		SubPlanSearch s = {tree, NULL, NULL};
		int			holder_tree = -1;
		Plan	   *root = NULL;

		if (find_subplan_in(pstmt->planTree, &s))
		{
			holder_tree = 0;
			root = pstmt->planTree;
		}
		foreach(lc, pstmt->subplans)
		{
			if (holder_tree < 0 && find_subplan_in(lfirst(lc), &s))
			{
				holder_tree = foreach_current_index(lc) + 1;
				root = lfirst(lc);
			}
		}
		if (holder_tree < 0)
			break;
		ancestors = lappend(ancestors, s.found);
		ancestors = lappend(ancestors, s.holder);
		(void) plan_path(root, s.holder, &ancestors);
		tree = holder_tree;
	}
	return ancestors;
}

/*
 * esiExplainForeignScan
 *		FDW callback: the route, its paging and the requests the scan will
 *		make, computed from the plan without contacting ESI (run-time values
 *		as $n; VERBOSE lists what each $n is, deparsed from fdw_exprs, which
 *		setrefs keeps valid inside subqueries and CTEs).  EXPLAIN ANALYZE
 *		adds what the transfers did.
 */
static void
esiExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	EsiScanState *st = node->fdw_state;
	EsiRoute   *route = st->route;
	static const char *const paging_names[] = {"none", "pages", "cursor", "from_id"};

	ExplainPropertyText("ESI Route", psprintf("GET %s", route->route), es);
	ExplainPropertyText("ESI Paging", paging_names[route->paging], es);
	if (st->missing_att != 0)
		ExplainPropertyText("ESI Requests",
							psprintf("none: no value for column \"%s\" (an error if the scan runs)",
									 esi_route_param_for_att(route, st->missing_att)->colname),
							es);
	else
		ExplainPropertyText("ESI Requests",
							esi_describe_requests(route, st->quals), es);
	if (es->verbose && st->exprs != NIL)
	{
		Plan	   *plan = node->ss.ps.plan;
		StringInfoData buf;
		List	   *ctx;
		ListCell   *lc;

		ctx = set_deparse_context_plan(es->deparse_cxt, plan,
									   explain_ancestors(es->pstmt, plan));
		initStringInfo(&buf);
		foreach(lc, st->exprs)
			appendStringInfo(&buf, "%s$%d = %s", buf.len ? ", " : "",
							 foreach_current_index(lc) + 1,
							 deparse_expression(lfirst(lc), ctx, true, false));
		ExplainPropertyText("ESI Parameters", buf.data, es);
	}
	if (es->verbose && st->row_bound >= 0)
		ExplainPropertyFloat("ESI Row Bound", NULL, st->row_bound, 0, es);

	if (es->analyze)
	{
		EsiCrawlStats *s = &st->stats;
		StringInfoData buf;
		static const char *const classes[] = {"errors", "1xx", "2xx", "3xx", "4xx", "5xx"};

		ExplainPropertyInteger("ESI HTTP Requests", NULL, s->requests, es);
		ExplainPropertyInteger("ESI Pages", NULL, s->pages, es);
		ExplainPropertyInteger("ESI Bytes", NULL, s->bytes, es);
		initStringInfo(&buf);
		for (int i = 1; i <= 6; i++)
		{
			int			k = i % 6;	/* errors last */

			if (s->status_counts[k])
				appendStringInfo(&buf, "%s%s=%lld", buf.len ? " " : "", classes[k],
								 (long long) s->status_counts[k]);
		}
		ExplainPropertyText("ESI HTTP Status", buf.len ? buf.data : "none", es);
		ExplainPropertyInteger("ESI Retries", NULL, s->retries, es);
		if (s->cache_used)
		{
			ExplainPropertyInteger("ESI Cache Hits", NULL, s->cache_hits, es);
			ExplainPropertyInteger("ESI Not Modified", NULL, s->not_modified, es);
		}
		if (es->timing)
		{
			ExplainPropertyFloat("ESI Wait Time", "ms", s->wait_ms, 3, es);
			ExplainPropertyFloat("ESI Limit Wait", "ms", s->limit_wait_ms, 3, es);
			ExplainPropertyFloat("ESI Coalesced Wait", "ms", s->coalesce_wait_ms, 3, es);
		}
	}
}

/* ---------------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA
 * ---------------------------------------------------------------------
 */

/*
 * esiImportForeignSchema
 *		FDW callback: CREATE FOREIGN TABLE statements for a group of routes
 *		of the generated catalog (catalog.c).
 */
static List *
esiImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return esi_import_foreign_schema(stmt, serverOid);
}

/*
 * esi_fdw_handler
 *		The wrapper's callbacks: scans of ESI routes, IMPORT FOREIGN SCHEMA,
 *		and the writes of the writable tables (modify.c).
 */
Datum
esi_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *r = makeNode(FdwRoutine);

	r->GetForeignRelSize = esiGetForeignRelSize;
	r->GetForeignPaths = esiGetForeignPaths;
	r->GetForeignPlan = esiGetForeignPlan;
	r->BeginForeignScan = esiBeginForeignScan;
	r->IterateForeignScan = esiIterateForeignScan;
	r->ReScanForeignScan = esiReScanForeignScan;
	r->EndForeignScan = esiEndForeignScan;
	r->ExplainForeignScan = esiExplainForeignScan;
	r->ImportForeignSchema = esiImportForeignSchema;
	esi_modify_routines(r);
	PG_RETURN_POINTER(r);
}
