/*-------------------------------------------------------------------------
 *
 * request.c
 *		  Quals turned into ESI request parameters, and the requests of a scan.
 *
 * A qual is pushed only when it translates exactly into a parameter value:
 * "col = value", "col = ANY (array)" / "col IN (...)", and for boolean
 * parameter columns "col", "NOT col" — where value is a constant, a
 * parameter or an outer column of a nested loop.  Pushed quals are still
 * checked locally, so a route that ignores a parameter cannot return wrong
 * rows.  Several values for one parameter fan out into one request each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "request.h"

static EsiParamQual *match_or(RelOptInfo *baserel, EsiRoute *route,
							  BoolExpr *or, List **fdw_exprs, bool *exact);
static bool same_param(EsiRoute *route, int a, int b);

/*
 * is_equality_op
 *		A built-in "=" operator: these compare exactly what ESI compares.
 */
static bool
is_equality_op(Oid opno)
{
	HeapTuple	tup;
	bool		result;

	if (opno >= FirstNormalObjectId)
		return false;
	tup = SearchSysCache1(OPEROID, ObjectIdGetDatum(opno));
	if (!HeapTupleIsValid(tup))
		return false;
	result = strcmp(NameStr(((Form_pg_operator) GETSTRUCT(tup))->oprname), "=") == 0;
	ReleaseSysCache(tup);
	return result;
}

/*
 * param_var
 *		If node is a column of baserel that feeds a parameter, its index in
 *		route->params; else -1.  Binary-compatible casts are looked through.
 */
static int
param_var(RelOptInfo *baserel, EsiRoute *route, Node *node)
{
	Var		   *var;

	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	if (node == NULL || !IsA(node, Var))
		return -1;
	var = (Var *) node;
	if (var->varno != baserel->relid || var->varlevelsup != 0)
		return -1;
	for (int i = 0; i < route->nparams; i++)
		if (route->params[i].attnum == var->varattno)
			return i;
	return -1;
}

/*
 * value_source_ok
 *		The other side of a pushed comparison: anything that does not read
 *		this relation and gives the same value for the whole scan (or for
 *		each rescan of a parameterized path).
 */
static bool
value_source_ok(RelOptInfo *baserel, Node *node)
{
	Relids		varnos;
	bool		ok;

	if (contain_volatile_functions(node) || contain_subplans(node))
		return false;
	varnos = pull_varnos(NULL, node);
	ok = !bms_is_member(baserel->relid, varnos);
	bms_free(varnos);
	return ok;
}

/*
 * param_value_text
 *		The text ESI gets for a value of the given type.
 */
static char *
param_value_text(EsiParamCol *p, Datum value, Oid type)
{
	Oid			outfn;
	bool		isvarlena;

	if (type == BOOLOID)
	{
		bool		b = DatumGetBool(value);

		if (p->true_value)
			return pstrdup(b ? p->true_value : p->false_value);
		return pstrdup(b ? "true" : "false");
	}
	getTypeOutputInfo(type, &outfn, &isvarlena);
	return OidOutputFunctionCall(outfn, value);
}

/*
 * const_values
 *		The values of a constant (an array for = ANY) as String nodes.
 */
static List *
const_values(EsiParamCol *p, Const *c, bool is_array)
{
	List	   *result = NIL;

	if (c->constisnull)
		return NIL;
	if (!is_array)
		return list_make1(makeString(param_value_text(p, c->constvalue, c->consttype)));
	else
	{
		ArrayType  *arr = DatumGetArrayTypeP(c->constvalue);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		elmlen;
		bool		elmbyval;
		char		elmalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
		deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				result = lappend(result,
								 makeString(param_value_text(p, elems[i], elemtype)));
	}
	return result;
}

/*
 * match_clause
 *		Translate one clause into an EsiParamQual, or return NULL when it
 *		cannot be pushed.  *exact is cleared when ESI may return rows the
 *		clause rejects (a boolean mapped onto an enum ESI applies loosely).
 */
static EsiParamQual *
match_clause(RelOptInfo *baserel, EsiRoute *route, Expr *clause,
			 List **fdw_exprs, bool *exact)
{
	EsiParamQual *q = NULL;
	int			pidx = -1;
	Node	   *other = NULL;
	bool		is_array = false;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;

		if (list_length(op->args) != 2 || !is_equality_op(op->opno))
			return NULL;
		pidx = param_var(baserel, route, linitial(op->args));
		other = lsecond(op->args);
		if (pidx < 0)
		{
			pidx = param_var(baserel, route, lsecond(op->args));
			other = linitial(op->args);
		}
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;

		if (!sa->useOr || list_length(sa->args) != 2 || !is_equality_op(sa->opno))
			return NULL;
		pidx = param_var(baserel, route, linitial(sa->args));
		other = lsecond(sa->args);
		is_array = true;
	}
	else if (IsA(clause, BoolExpr) && ((BoolExpr *) clause)->boolop == OR_EXPR)
		return match_or(baserel, route, (BoolExpr *) clause, fdw_exprs, exact);
	else if (IsA(clause, Var) || (IsA(clause, BoolExpr) &&
								  ((BoolExpr *) clause)->boolop == NOT_EXPR))
	{
		/* "is_buy_order" and "NOT is_buy_order" */
		bool		negate = !IsA(clause, Var);
		Node	   *arg = negate ? linitial(((BoolExpr *) clause)->args) : (Node *) clause;

		pidx = param_var(baserel, route, arg);
		if (pidx < 0 || exprType(arg) != BOOLOID)
			return NULL;
		other = (Node *) makeBoolConst(!negate, false);
	}
	else
		return NULL;

	if (pidx < 0 || other == NULL || !value_source_ok(baserel, other))
		return NULL;

	q = palloc0(sizeof(EsiParamQual));
	q->paramidx = pidx;
	q->exprno = -1;
	q->is_array = is_array;
	if (IsA(other, Const))
		q->values = const_values(&route->params[pidx], (Const *) other, is_array);
	else
	{
		*fdw_exprs = lappend(*fdw_exprs, other);
		q->exprno = list_length(*fdw_exprs) - 1;
	}
	if (route->params[pidx].true_value)
		*exact = false;
	return q;
}

/*
 * match_or
 *		"a = 1 OR a = 2 OR a IN (3, 4)" on one parameter, with constants only:
 *		the union of the arms' values.
 */
static EsiParamQual *
match_or(RelOptInfo *baserel, EsiRoute *route, BoolExpr *or,
		 List **fdw_exprs, bool *exact)
{
	EsiParamQual *result = NULL;
	ListCell   *lc;

	foreach(lc, or->args)
	{
		List	   *exprs = NIL;
		EsiParamQual *q = match_clause(baserel, route, lfirst(lc), &exprs, exact);

		if (q == NULL || q->exprno >= 0 ||
			(result && !same_param(route, result->paramidx, q->paramidx)))
			return NULL;
		if (result == NULL)
			result = q;
		else
			result->values = list_concat(result->values, q->values);
	}
	return result;
}

/*
 * esi_clause_pushable
 *		Whether a clause would be pushed (used to pick join clauses for
 *		parameterized paths).
 */
bool
esi_clause_pushable(RelOptInfo *baserel, EsiRoute *route, Expr *clause)
{
	List	   *exprs = NIL;
	bool		exact = true;

	return match_clause(baserel, route, clause, &exprs, &exact) != NULL;
}

/*
 * esi_classify_quals
 *		The pushable clauses among a list of RestrictInfos, as EsiParamQuals.
 *		Expressions to evaluate at run time are appended to *fdw_exprs.
 *		*all_exact says whether every clause was pushed exactly, so that
 *		every row ESI returns passes them all (LIMIT may then stop paging).
 */
List *
esi_classify_quals(PlannerInfo *root, RelOptInfo *baserel, EsiRoute *route,
				   List *clauses, List **fdw_exprs, bool *all_exact)
{
	List	   *result = NIL;
	ListCell   *lc;

	*all_exact = true;
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst_node(RestrictInfo, lc);
		EsiParamQual *q;

		q = match_clause(baserel, route, ri->clause, fdw_exprs, all_exact);
		if (q)
			result = lappend(result, q);
		else
			*all_exact = false;
	}
	return result;
}

/*
 * same_param
 *		Two parameter columns feed the same ESI parameter.
 */
static bool
same_param(EsiRoute *route, int a, int b)
{
	return strcmp(route->params[a].param, route->params[b].param) == 0;
}

/*
 * esi_missing_required
 *		Required parameters that neither a qual nor a default supplies.
 */
List *
esi_missing_required(EsiRoute *route, List *quals)
{
	List	   *missing = NIL;

	for (int i = 0; i < route->nparams; i++)
	{
		EsiParamCol *p = &route->params[i];
		bool		have = p->default_value != NULL;
		ListCell   *lc;

		if (!p->required)
			continue;
		foreach(lc, quals)
			if (same_param(route, ((EsiParamQual *) lfirst(lc))->paramidx, i))
				have = true;
		for (int j = 0; j < route->nparams && !have; j++)
			if (j != i && same_param(route, i, j) && route->params[j].default_value)
				have = true;
		if (!have)
			missing = lappend(missing, p);
	}
	return missing;
}

/*
 * esi_param_example
 *		A plausible value for a parameter, for HINTs.
 */
char *
esi_param_example(const char *param)
{
	static const struct
	{
		const char *name;
		const char *value;
	}			examples[] = {
		{"region_id", "10000002"},
		{"type_id", "34"},
		{"system_id", "30000142"},
		{"solar_system_id", "30000142"},
		{"station_id", "60003760"},
		{"location_id", "60003760"},
		{"constellation_id", "20000020"},
		{"character_id", "2112625428"},
		{"corporation_id", "98000001"},
		{"alliance_id", "99000006"},
		{"order_type", "'sell'"},
		{"group_id", "18"},
		{"category_id", "4"},
		{NULL, NULL}
	};

	for (int i = 0; examples[i].name; i++)
		if (strcmp(examples[i].name, param) == 0)
			return pstrdup(examples[i].value);
	return pstrdup("...");
}

/*
 * esi_report_missing_param
 *		The error for a scan that cannot build its request.
 */
void
esi_report_missing_param(EsiRoute *route, List *missing)
{
	EsiParamCol *p = linitial(missing);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
			 errmsg("foreign table \"%s\" needs a value for column \"%s\"",
					route->relname, p->colname),
			 errdetail("ESI route %s requires the %s parameter \"%s\"; esi_fdw takes it from a condition \"%s = ...\", \"%s IN (...)\" or a join on that column.",
					   route->route, p->in == 'p' ? "path" : "query",
					   p->param, p->colname, p->colname),
			 errhint("Add a condition such as: WHERE %s = %s",
					 p->colname, esi_param_example(p->param))));
}

/* ---- fdw_private (de)serialization: EsiParamQuals must survive copyObject */

List *
esi_param_quals_to_list(List *quals)
{
	List	   *out = NIL;
	ListCell   *lc;

	foreach(lc, quals)
	{
		EsiParamQual *q = lfirst(lc);

		out = lappend(out, list_make4(makeInteger(q->paramidx),
									  q->values,
									  makeInteger(q->exprno),
									  makeInteger(q->is_array ? 1 : 0)));
	}
	return out;
}

List *
esi_param_quals_from_list(List *in)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, in)
	{
		List	   *l = lfirst(lc);
		EsiParamQual *q = palloc0(sizeof(EsiParamQual));

		q->paramidx = intVal(linitial(l));
		q->values = lsecond(l);
		q->exprno = intVal(lthird(l));
		q->is_array = intVal(lfourth(l)) != 0;
		result = lappend(result, q);
	}
	return result;
}

/* ---- building requests ---- */

/*
 * value set: a List of String nodes, in first-seen order, no duplicates.
 * NULL pointer (as opposed to NIL) means "unconstrained".
 */
static bool
value_in(List *set, const char *v)
{
	ListCell   *lc;

	foreach(lc, set)
		if (strcmp(strVal(lfirst(lc)), v) == 0)
			return true;
	return false;
}

static List *
dedup(List *values)
{
	List	   *result = NIL;
	ListCell   *lc;

	/* quadratic, but IN lists long enough to matter would be thousands of requests */
	foreach(lc, values)
		if (!value_in(result, strVal(lfirst(lc))))
			result = lappend(result, lfirst(lc));
	return result;
}

static List *
intersect(List *a, List *b)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, a)
		if (value_in(b, strVal(lfirst(lc))))
			result = lappend(result, lfirst(lc));
	return result;
}

/*
 * eval_qual_values
 *		The values a qual allows, evaluating its expression if it has one.
 *		exprs/states are NIL for EXPLAIN, where such a qual gives NULL (unknown).
 */
static List *
eval_qual_values(EsiRoute *route, EsiParamQual *q, List *exprs, List *states,
				 ExprContext *econtext, bool *unknown)
{
	EsiParamCol *p = &route->params[q->paramidx];
	Expr	   *expr;
	ExprState  *state;
	Datum		value;
	bool		isnull;
	int16		typlen;
	bool		typbyval;
	Const	   *c;

	*unknown = false;
	if (q->exprno < 0)
		return q->values;
	if (states == NIL)
	{
		*unknown = true;
		return NIL;
	}
	expr = list_nth(exprs, q->exprno);
	state = list_nth(states, q->exprno);
	value = ExecEvalExpr(state, econtext, &isnull);
	get_typlenbyval(exprType((Node *) expr), &typlen, &typbyval);
	c = makeConst(exprType((Node *) expr), -1, InvalidOid, typlen, value, isnull, typbyval);
	return const_values(p, c, q->is_array);
}

/*
 * pct_encode
 *		Percent-encode a value for a URL path segment or query value.
 */
static void
pct_encode(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		unsigned char ch = (unsigned char) *s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			(ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			appendStringInfoChar(buf, ch);
		else
			appendStringInfo(buf, "%%%02X", ch);
	}
}

/*
 * make_request
 *		Fill the route template and query string from one value per
 *		distinct parameter (NULL = omitted).  placeholder marks values only
 *		known at run time (EXPLAIN), shown unencoded.
 */
static EsiRequest *
make_request(EsiRoute *route, char **values, bool *placeholder)
{
	EsiRequest *req = palloc0(sizeof(EsiRequest));
	StringInfoData path;
	StringInfoData query;

	initStringInfo(&path);
	for (int k = 0; k < route->nsegments; k++)
	{
		EsiRouteSegment *seg = &route->segments[k];
		int			i = seg->paramidx;

		if (!seg->is_param)
			appendStringInfoString(&path, seg->text);
		else if (values[i] == NULL)
			appendStringInfo(&path, "{%s}", seg->text);
		else if (placeholder && placeholder[i])
			appendStringInfoString(&path, values[i]);
		else
			pct_encode(&path, values[i]);
	}

	initStringInfo(&query);
	for (int i = 0; i < route->nparams; i++)
	{
		bool		first = true;

		if (route->params[i].in != 'q' || values[i] == NULL)
			continue;
		/* one query parameter fed by several columns is sent once */
		for (int j = 0; j < i; j++)
			if (same_param(route, i, j))
				first = false;
		if (!first)
			continue;
		if (query.len)
			appendStringInfoChar(&query, '&');
		pct_encode(&query, route->params[i].param);
		appendStringInfoChar(&query, '=');
		if (placeholder && placeholder[i])
			appendStringInfoString(&query, values[i]);
		else
			pct_encode(&query, values[i]);
	}
	if (route->fixed_query)
		appendStringInfo(&query, "%s%s", query.len ? "&" : "", route->fixed_query);

	req->path = path.data;
	req->query = query.data;
	req->values = palloc0(sizeof(char *) * (route->nparams + 1));
	for (int i = 0; i < route->nparams; i++)
		req->values[i] = values[i] ? pstrdup(values[i]) : NULL;
	return req;
}

/*
 * param_sets
 *		For each parameter column, the list of values to send: the
 *		intersection of its quals (and of the quals of the other columns
 *		feeding the same parameter), its default, or a single NULL.
 *		Returns false when some parameter has no possible value (the scan
 *		returns no rows without asking ESI).
 */
static bool
param_sets(EsiRoute *route, List *quals, List *exprs, List *states,
		   ExprContext *econtext, List **sets, bool *unknown)
{
	for (int i = 0; i < route->nparams; i++)
	{
		List	   *set = NIL;
		bool		constrained = false;
		ListCell   *lc;

		unknown[i] = false;
		foreach(lc, quals)
		{
			EsiParamQual *q = lfirst(lc);
			List	   *vals;
			bool		unk;

			if (!same_param(route, q->paramidx, i))
				continue;
			vals = eval_qual_values(route, q, exprs, states, econtext, &unk);
			if (unk)
			{
				/* EXPLAIN: show the expression instead */
				unknown[i] = true;
				set = list_make1(makeString(psprintf("$%d", q->exprno + 1)));
				constrained = true;
				continue;
			}
			if (unknown[i])
				continue;
			vals = dedup(vals);
			set = constrained ? intersect(set, vals) : vals;
			constrained = true;
		}
		if (!constrained)
		{
			const char *def = route->params[i].default_value;

			for (int j = 0; j < route->nparams && def == NULL; j++)
				if (same_param(route, i, j))
					def = route->params[j].default_value;
			set = list_make1(def ? makeString(pstrdup(def)) : NULL);
		}
		if (set == NIL)
			return false;
		sets[i] = set;
	}
	return true;
}

/*
 * esi_build_requests
 *		The requests a scan makes: the cartesian product of the values of
 *		its parameters.  NIL when a qual rules out every value.
 */
List *
esi_build_requests(EsiRoute *route, List *quals, List *exprs_and_states,
				   ExprContext *econtext)
{
	List	   *exprs = exprs_and_states ? linitial(exprs_and_states) : NIL;
	List	   *states = exprs_and_states ? lsecond(exprs_and_states) : NIL;
	List	  **sets = palloc0(sizeof(List *) * (route->nparams + 1));
	bool	   *unknown = palloc0(sizeof(bool) * (route->nparams + 1));
	char	  **values = palloc0(sizeof(char *) * (route->nparams + 1));
	int		   *pos = palloc0(sizeof(int) * (route->nparams + 1));
	List	   *result = NIL;

	if (!param_sets(route, quals, exprs, states, econtext, sets, unknown))
		return NIL;

	/* odometer over the value lists */
	for (;;)
	{
		int			i;

		CHECK_FOR_INTERRUPTS();
		for (i = 0; i < route->nparams; i++)
		{
			Node	   *n = list_nth(sets[i], pos[i]);

			values[i] = n ? strVal(n) : NULL;
		}
		result = lappend(result, make_request(route, values, unknown));

		for (i = 0; i < route->nparams; i++)
		{
			if (++pos[i] < list_length(sets[i]))
				break;
			pos[i] = 0;
		}
		if (i == route->nparams)
			break;
	}
	return result;
}

/*
 * esi_describe_requests
 *		The requests a scan will make, for EXPLAIN: with constants filled in
 *		and run-time values shown as $n (listed by EXPLAIN VERBOSE).
 */
char *
esi_describe_requests(EsiRoute *route, List *quals)
{
	List	   *reqs = esi_build_requests(route, quals, NIL, NULL);
	StringInfoData buf;
	ListCell   *lc;
	int			n = 0;

	initStringInfo(&buf);
	if (reqs == NIL)
		return pstrdup("none (the conditions exclude every value)");
	foreach(lc, reqs)
	{
		EsiRequest *r = lfirst(lc);

		if (n == 10 && list_length(reqs) > 11)
		{
			appendStringInfo(&buf, ", ... (%d requests)", list_length(reqs));
			break;
		}
		appendStringInfo(&buf, "%sGET %s%s%s", n ? ", " : "", r->path,
						 r->query[0] ? "?" : "", r->query);
		n++;
	}
	return buf.data;
}
