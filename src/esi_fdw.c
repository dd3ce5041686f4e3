/*-------------------------------------------------------------------------
 *
 * esi_fdw.c
 *		  Module load, settings, and the foreign data wrapper's callbacks.
 *
 * Planning decides which quals become ESI parameters (request.c) and which
 * columns the scan must decode; execution builds the requests from the
 * parameter values, lets crawl.c fetch the pages and decode.c turn each
 * record into the slot's datums.
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
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "catalog.h"
#include "crawl.h"
#include "decode.h"
#include "esi_fdw.h"
#include "guc.h"
#include "option.h"
#include "request.h"
#include "route.h"

PG_MODULE_MAGIC;

/* cost model: a request is a network round trip, rows are cheap */
#define ESI_REQUEST_COST	1000.0
#define ESI_ROW_COST		0.01
#define ESI_MISSING_COST	1.0e10	/* a path that cannot build its request */

/* planner state of one foreign table */
typedef struct EsiRelInfo
{
	EsiRoute   *route;
} EsiRelInfo;

/* indexes into a ForeignScan's fdw_private */
enum
{
	PRIV_QUALS,
	PRIV_ATTRS,
	PRIV_BOUND,
	PRIV_SHOWN_EXPRS			/* fdw_exprs before nestloop params replaced them */
};

/* execution state of one scan */
typedef struct EsiScanState
{
	EsiRoute   *route;
	EsiServerOptions *opts;
	List	   *quals;			/* EsiParamQual */
	List	   *exprs;			/* fdw_exprs */
	List	   *expr_states;
	List	   *shown_exprs;	/* the same, as written, for EXPLAIN */
	double		row_bound;
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
	int			id_attidx;		/* from_id walks: the id column, or -1 */
	EsiCrawlStats stats;
} EsiScanState;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(esi_fdw_handler);

/*
 * _PG_init
 *		Define the settings.
 */
void
_PG_init(void)
{
	esi_guc_define();
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
 *		lacks a required parameter costs so much that any path supplying it
 *		(a parameterized one, for a join) wins.
 */
static void
add_path_for(PlannerInfo *root, RelOptInfo *baserel, EsiRoute *route,
			 List *clauses, Relids required_outer, double rows)
{
	List	   *exprs = NIL;
	bool		exact;
	List	   *quals = esi_classify_quals(root, baserel, route, clauses, &exprs, &exact);
	double		nreq = count_requests(route, quals);
	Cost		startup = ESI_REQUEST_COST;
	Cost		total = startup + nreq * ESI_REQUEST_COST + rows * ESI_ROW_COST;

	if (esi_missing_required(route, quals) != NIL)
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

static void
esiGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	EsiRelInfo *info = baserel->fdw_private;
	EsiRoute   *route = info->route;
	List	   *candidates = NIL;
	List	   *outer_sets = NIL;
	ListCell   *lc;

	/* the plain scan: only the table's own conditions */
	add_path_for(root, baserel, route, baserel->baserestrictinfo,
				 baserel->lateral_relids, baserel->rows);

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
		List	   *exprs = NIL;
		bool		exact;
		List	   *quals = esi_classify_quals(root, baserel, route, clauses, &exprs, &exact);
		double		rows = Max(1, rows_per_request(route) * count_requests(route, quals));

		add_path_for(root, baserel, route, clauses, outer, Min(rows, ppi->ppi_rows > 0 ? ppi->ppi_rows * 10 : rows));
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
	List	   *missing;
	List	   *squals;
	Bitmapset  *attrs = NULL;
	List	   *retrieved = NIL;
	double		bound;
	ListCell   *lc;
	int			x;

	quals = esi_classify_quals(root, baserel, route, scan_clauses, &fdw_exprs, &exact);
	missing = esi_missing_required(route, quals);
	if (missing != NIL)
		esi_report_missing_param(route, missing);

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
									   copyObject(fdw_exprs)),
							NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------------
 * Execution
 * ---------------------------------------------------------------------
 */

static void
esiBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Oid			relid = RelationGetRelid(node->ss.ss_currentRelation);
	EsiScanState *st = palloc0(sizeof(EsiScanState));
	List	   *retrieved;
	ListCell   *lc;

	node->fdw_state = st;
	st->route = esi_get_route(relid);
	st->opts = esi_get_server_options(GetForeignServer(GetForeignTable(relid)->serverid));
	st->quals = esi_param_quals_from_list(list_nth(fsplan->fdw_private, PRIV_QUALS));
	st->exprs = fsplan->fdw_exprs;
	st->shown_exprs = list_nth(fsplan->fdw_private, PRIV_SHOWN_EXPRS);
	st->row_bound = intVal(list_nth(fsplan->fdw_private, PRIV_BOUND));
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
}

/*
 * check_scope
 *		Routes that need an SSO token cannot be read yet.
 */
static void
check_scope(EsiRoute *route)
{
	if (route->scope)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("foreign table \"%s\" needs an EVE SSO token with scope %s",
						route->relname, route->scope),
				 errdetail("ESI route %s is authenticated; this esi_fdw release cannot log in to EVE SSO yet.",
						   route->route),
				 errhint("Query a public route instead; esi.catalog() lists which tables need no scope (WHERE scope IS NULL).")));
}

/*
 * start_crawl
 *		Evaluate the parameter values and start fetching.
 */
static void
start_crawl(ForeignScanState *node, EsiScanState *st)
{
	List	   *reqs;
	MemoryContext old;

	check_scope(st->route);
	old = MemoryContextSwitchTo(node->ss.ps.state->es_query_cxt);
	reqs = esi_build_requests(st->route, st->quals,
							  list_make2(st->exprs, st->expr_states),
							  node->ss.ps.ps_ExprContext);
	st->crawl = esi_crawl_begin(node->ss.ps.state->es_query_cxt, st->route,
								st->opts, reqs, st->row_bound, &st->stats);
	MemoryContextSwitchTo(old);
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

static TupleTableSlot *
esiIterateForeignScan(ForeignScanState *node)
{
	EsiScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext old;

	ExecClearTuple(slot);
	if (st->crawl == NULL)
		start_crawl(node, st);

	for (;;)
	{
		bool		got;

		if (st->page == NULL)
		{
			st->page = esi_crawl_next_page(st->crawl);
			if (st->page == NULL)
				return slot;
			set_page_params(st, st->page);
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
			return ExecStoreVirtualTuple(slot);
		}

		/* what the page's walk needs to know to find the next page */
		st->page->facts.records = st->decoder.nrecords;
		st->page->facts.cursor_before = st->decoder.cursor_before;
		esi_crawl_page_done(st->crawl, st->page);
		st->page = NULL;
	}
}

static void
esiReScanForeignScan(ForeignScanState *node)
{
	EsiScanState *st = node->fdw_state;

	/* parameter values may have changed: start over on the next row */
	if (st->crawl)
		esi_crawl_end(st->crawl);
	st->crawl = NULL;
	st->page = NULL;
}

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

static void
esiExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	EsiScanState *st = node->fdw_state;
	EsiRoute   *route = st->route;
	static const char *const paging_names[] = {"none", "pages", "cursor", "from_id"};

	ExplainPropertyText("ESI Route", psprintf("GET %s", route->route), es);
	ExplainPropertyText("ESI Paging", paging_names[route->paging], es);
	ExplainPropertyText("ESI Requests",
						esi_describe_requests(route, st->quals), es);
	if (es->verbose && st->exprs != NIL)
	{
		StringInfoData buf;
		List	   *ctx;
		ListCell   *lc;
		int			i = 0;

		ctx = set_deparse_context_plan(es->deparse_cxt, node->ss.ps.plan, NIL);
		initStringInfo(&buf);
		foreach(lc, st->shown_exprs)
		{
			appendStringInfo(&buf, "%s$%d = %s", i ? ", " : "", i + 1,
							 deparse_expression(lfirst(lc), ctx, true, false));
			i++;
		}
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
		if (es->timing)
			ExplainPropertyFloat("ESI Wait Time", "ms", s->wait_ms, 3, es);
	}
}

/* ---------------------------------------------------------------------
 * IMPORT FOREIGN SCHEMA
 * ---------------------------------------------------------------------
 */

static List *
esiImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	return esi_import_foreign_schema(stmt, serverOid);
}

/*
 * esi_fdw_handler
 *		The wrapper's callbacks.
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
	PG_RETURN_POINTER(r);
}
