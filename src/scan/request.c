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
 * rows.
 *
 * Values are sent as canonical text that does not depend on the session's
 * settings (DateStyle, TimeZone, extra_float_digits): two values that are
 * equal in SQL give the same text, and a value no row of the column can
 * equal (34.5 for an integer column) gives none.
 *
 * Requests are built per ESI parameter, not per column: several columns may
 * feed one parameter (market orders' order_type and is_buy_order).  Their
 * values meet in the parameter's vocabulary, where the parameter's default
 * ("all") stands for "no filter" when a boolean column splits it in two
 * (buy/sell).  Distinct parameter values fan out into one request each (per
 * combination), so no record is fetched twice.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/shortest_dec.h"
#include "executor/executor.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "guc.h"
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
 * exact_cast_arg
 *		If node is a cast that maps every value of an integer type to a
 *		distinct value (int2 -> int4 -> int8 -> numeric), its argument; else
 *		NULL.  Equality through such a cast is equality of the column.
 */
static Node *
exact_cast_arg(Node *node)
{
	FuncExpr   *f;

	if (!IsA(node, FuncExpr))
		return NULL;
	f = (FuncExpr *) node;
	if (list_length(f->args) != 1 ||
		(f->funcformat != COERCE_IMPLICIT_CAST && f->funcformat != COERCE_EXPLICIT_CAST))
		return NULL;
	switch (f->funcid)
	{
		case F_INT4_INT2:
		case F_INT8_INT2:
		case F_INT8_INT4:
		case F_NUMERIC_INT2:
		case F_NUMERIC_INT4:
		case F_NUMERIC_INT8:
			return linitial(f->args);
	}
	return NULL;
}

/*
 * param_var
 *		If node is a column of baserel that feeds a parameter, its index in
 *		route->params; else -1.  Binary-compatible casts and the exact casts
 *		of integers to wider types are looked through.
 */
static int
param_var(RelOptInfo *baserel, EsiRoute *route, Node *node)
{
	Var		   *var;

	for (;;)
	{
		Node	   *arg;

		if (node && IsA(node, RelabelType))
			node = (Node *) ((RelabelType *) node)->arg;
		else if (node && (arg = exact_cast_arg(node)) != NULL)
			node = arg;
		else
			break;
	}
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
 * is_int_type
 *		smallint, integer or bigint.
 */
static bool
is_int_type(Oid type)
{
	return type == INT2OID || type == INT4OID || type == INT8OID;
}

/*
 * types_pushable
 *		Whether "column = value" with a column of type coltype and a value of
 *		type valtype can be sent as the value's text: only types whose
 *		equality is equality of canonical_value()'s text.  Anything else (a
 *		date compared with a timestamptz, a case-insensitive type) stays a
 *		local condition.
 */
static bool
types_pushable(Oid coltype, Oid valtype)
{
	switch (coltype)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return is_int_type(valtype) || valtype == NUMERICOID;
		case NUMERICOID:
			return is_int_type(valtype) || valtype == NUMERICOID;
		case FLOAT4OID:
		case FLOAT8OID:
			return valtype == FLOAT4OID || valtype == FLOAT8OID;
		case TEXTOID:
		case VARCHAROID:
			return valtype == TEXTOID || valtype == VARCHAROID;
		case BPCHAROID:
		case BOOLOID:
		case DATEOID:
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			return valtype == coltype;
	}
	return false;
}

/*
 * int_value
 *		An integer or numeric value as int64; false when it is not a whole
 *		number that fits (then no integer column can equal it).
 */
static bool
int_value(Datum value, Oid type, int64 *result)
{
	switch (type)
	{
		case INT2OID:
			*result = DatumGetInt16(value);
			return true;
		case INT4OID:
			*result = DatumGetInt32(value);
			return true;
		case INT8OID:
			*result = DatumGetInt64(value);
			return true;
		case NUMERICOID:
			{
				/* normalized text has no '.' exactly when it is whole */
				char	   *s = numeric_normalize(DatumGetNumeric(value));
				char	   *end;

				if (strchr(s, '.') || !(isdigit((unsigned char) s[0]) || s[0] == '-'))
					return false;
				errno = 0;
				*result = strtoi64(s, &end, 10);
				return errno == 0 && *end == '\0';
			}
	}
	return false;
}

/*
 * canonical_value
 *		The text ESI gets for a value compared with parameter column p, or
 *		NULL when no value of the column can equal it (34.5 for an integer,
 *		70000 for a smallint).  The same whatever the session's DateStyle,
 *		TimeZone or extra_float_digits: dates as YYYY-MM-DD, timestamps in
 *		ISO 8601 (UTC with "Z" for timestamptz), floats as the shortest text
 *		that reads back exactly, numerics without trailing zeros, booleans as
 *		true/false or the column's true_value/false_value.  Values equal in
 *		SQL give the same text, so de-duplication is by text.
 */
static char *
canonical_value(EsiParamCol *p, Oid coltype, Datum value, Oid type)
{
	char		buf[MAXDATELEN + 1];

	switch (coltype)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			{
				int64		v;

				if (!int_value(value, type, &v) ||
					(coltype == INT2OID && (v < PG_INT16_MIN || v > PG_INT16_MAX)) ||
					(coltype == INT4OID && (v < PG_INT32_MIN || v > PG_INT32_MAX)))
					return NULL;
				return psprintf(INT64_FORMAT, v);
			}
		case NUMERICOID:
			{
				int64		v;

				if (type == NUMERICOID)
					return numeric_normalize(DatumGetNumeric(value));
				if (!int_value(value, type, &v))
					return NULL;
				return psprintf(INT64_FORMAT, v);
			}
		case FLOAT4OID:
		case FLOAT8OID:
			{
				double		d = (type == FLOAT4OID) ? DatumGetFloat4(value) :
				DatumGetFloat8(value);

				if (d == 0)
					d = 0;		/* -0 = 0 */
				if (coltype == FLOAT8OID)
				{
					double_to_shortest_decimal_buf(d, buf);
					return pstrdup(buf);
				}
				/* a float8 that is no float4 equals no float4 column value */
				if (!isnan(d) && (double) (float) d != d)
					return NULL;
				float_to_shortest_decimal_buf((float) d, buf);
				return pstrdup(buf);
			}
		case BOOLOID:
			{
				bool		b = DatumGetBool(value);

				if (p->true_value)
					return pstrdup(b ? p->true_value : p->false_value);
				return pstrdup(b ? "true" : "false");
			}
		case TEXTOID:
		case VARCHAROID:
			return TextDatumGetCString(value);
		case BPCHAROID:
			{
				/* character(n) compares without its trailing blanks */
				char	   *s = TextDatumGetCString(value);
				int			len = strlen(s);

				while (len > 0 && s[len - 1] == ' ')
					s[--len] = '\0';
				return s;
			}
		case DATEOID:
			{
				DateADT		d = DatumGetDateADT(value);
				struct pg_tm tm;

				if (DATE_NOT_FINITE(d))
					EncodeSpecialDate(d, buf);
				else
				{
					j2date(d + POSTGRES_EPOCH_JDATE,
						   &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
					EncodeDateOnly(&tm, USE_XSD_DATES, buf);
				}
				return pstrdup(buf);
			}
		case TIMESTAMPOID:
		case TIMESTAMPTZOID:
			{
				Timestamp	ts = DatumGetTimestamp(value);
				struct pg_tm tm;
				fsec_t		fsec;

				if (TIMESTAMP_NOT_FINITE(ts))
				{
					EncodeSpecialTimestamp(ts, buf);
					return pstrdup(buf);
				}
				/* no time zone asked for: the broken-down time is UTC */
				if (timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
					ereport(ERROR,
							(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
							 errmsg("timestamp out of range")));
				EncodeDateTime(&tm, fsec, false, 0, NULL, USE_XSD_DATES, buf);
				return coltype == TIMESTAMPTZOID ? psprintf("%sZ", buf) : pstrdup(buf);
			}
	}
	elog(ERROR, "esi_fdw: parameter column \"%s\" of type %u cannot be pushed",
		 p->colname, p->typoid);
	return NULL;
}

/*
 * const_values
 *		The canonical texts of a constant (an array for = ANY) as String
 *		nodes; values that no column value can equal are left out.
 *		Domains compare as their base types.
 */
static List *
const_values(EsiParamCol *p, Const *c, bool is_array)
{
	List	   *result = NIL;
	Oid			coltype = getBaseType(p->typoid);

	if (c->constisnull)
		return NIL;
	if (!is_array)
	{
		char	   *s = canonical_value(p, coltype, c->constvalue,
										getBaseType(c->consttype));

		return s ? list_make1(makeString(s)) : NIL;
	}
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
		Oid			baseelem = getBaseType(elemtype);

		get_typlenbyvalalign(elemtype, &elmlen, &elmbyval, &elmalign);
		deconstruct_array(arr, elemtype, elmlen, elmbyval, elmalign,
						  &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			char	   *s;

			if ((i & 1023) == 0)
				CHECK_FOR_INTERRUPTS();
			if (nulls[i])
				continue;
			s = canonical_value(p, coltype, elems[i], baseelem);
			if (s)
				result = lappend(result, makeString(s));
		}
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
	Oid			valtype;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;

		if (list_length(op->args) != 2 || !is_equality_op(op->opno))
			return NULL;
		/* a nondeterministic collation's "=" is not ESI's */
		if (OidIsValid(op->inputcollid) &&
			!get_collation_isdeterministic(op->inputcollid))
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
		if (OidIsValid(sa->inputcollid) &&
			!get_collation_isdeterministic(sa->inputcollid))
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
	valtype = exprType(other);
	if (is_array)
	{
		valtype = get_element_type(valtype);
		if (!OidIsValid(valtype))
			return NULL;
	}
	if (!types_pushable(getBaseType(route->params[pidx].typoid),
						getBaseType(valtype)))
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
 *		"a = 1 OR a = 2 OR a IN (3, 4)" on one column, with constants only:
 *		the union of the arms' values.  Arms on different columns are not
 *		pushed even when the columns share a parameter: each column's own
 *		values decide what its rows read.
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
			(result && result->paramidx != q->paramidx))
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
	return route->params[a].in == route->params[b].in &&
		strcmp(route->params[a].param, route->params[b].param) == 0;
}

/*
 * esi_quals_constrain
 *		Whether a qual gives values to the parameter of route->params[paramidx].
 */
bool
esi_quals_constrain(EsiRoute *route, List *quals, int paramidx)
{
	ListCell   *lc;

	foreach(lc, quals)
		if (same_param(route, ((EsiParamQual *) lfirst(lc))->paramidx, paramidx))
			return true;
	return false;
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
		/* an authenticated route reads every character of the role */
		if (route->scope && p->in == 'p' && strcmp(p->param, "character_id") == 0)
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
 * A set of distinct strings in first-seen order, with a hash table for
 * lookups: de-duplicating or intersecting long IN lists stays linear.
 */
typedef struct StrEntry
{
	const char *key;
	uint32		hash;
	char		status;
} StrEntry;

#define SH_PREFIX strset
#define SH_ELEMENT_TYPE StrEntry
#define SH_KEY_TYPE const char *
#define SH_KEY key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k), strlen(k))
#define SH_EQUAL(tb, a, b) (strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

typedef struct ValueSet
{
	int			n;
	char	  **items;			/* first-seen order */
	strset_hash *hash;
} ValueSet;

/*
 * vs_make
 *		An empty set with room for capacity values.
 */
static ValueSet *
vs_make(int capacity)
{
	ValueSet   *s = palloc0(sizeof(ValueSet));

	s->items = palloc(sizeof(char *) * (capacity + 1));
	s->hash = strset_create(CurrentMemoryContext, Max(capacity, 8), NULL);
	return s;
}

/*
 * vs_add
 *		Add v unless the set has it already.
 */
static void
vs_add(ValueSet *s, char *v)
{
	bool		found;

	strset_insert(s->hash, v, &found);
	if (!found)
		s->items[s->n++] = v;
}

/*
 * vs_has
 *		Whether the set has v.
 */
static bool
vs_has(ValueSet *s, const char *v)
{
	return strset_lookup(s->hash, v) != NULL;
}

/*
 * vs_from_list
 *		The distinct values of a List of String nodes.
 */
static ValueSet *
vs_from_list(List *values)
{
	ValueSet   *s = vs_make(list_length(values));
	ListCell   *lc;
	int			i = 0;

	foreach(lc, values)
	{
		if ((++i & 1023) == 0)
			CHECK_FOR_INTERRUPTS();
		vs_add(s, strVal(lfirst(lc)));
	}
	return s;
}

/*
 * vs_intersect
 *		The values of a that are also in b, in a's order.
 */
static ValueSet *
vs_intersect(ValueSet *a, ValueSet *b)
{
	ValueSet   *s = vs_make(Min(a->n, b->n));

	for (int i = 0; i < a->n; i++)
	{
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
		if (vs_has(b, a->items[i]))
			vs_add(s, a->items[i]);
	}
	return s;
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
 *		Percent-encode a value for a URL path segment or query value: every
 *		byte but ALPHA, DIGIT and "-._~" (RFC 3986's unreserved characters),
 *		so "/", "?", "#", "%", "&", "=", "+" and spaces stay inside the value.
 */
static void
pct_encode(StringInfo buf, const char *s)
{
	/* ESI reads UTF-8 whatever the database's encoding */
	s = pg_server_to_any(s, strlen(s), PG_UTF8);
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
 * pct_encode_segment
 *		pct_encode for a path parameter, refusing the values that would name
 *		another route: "." and ".." are dot segments that clients and servers
 *		remove ("/x/.." is "/"), even percent-encoded when a server
 *		normalizes, and an empty value drops the segment.
 */
static void
pct_encode_segment(EsiRoute *route, EsiParamCol *p, StringInfo buf,
				   const char *s)
{
	if (s[0] == '\0' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("value \"%s\" of column \"%s\" cannot be sent as a path parameter",
						s, p->colname),
				 errdetail("ESI route %s of %s takes \"%s\" as a path segment; an empty segment, \".\" or \"..\" would address another route.",
						   route->route, esi_route_subject(route), p->param),
				 errhint("Leave such values out of the condition on column \"%s\".",
						 p->colname)));
	pct_encode(buf, s);
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
			pct_encode_segment(route, &route->params[i], &path, values[i]);
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
	req->sent = palloc0(sizeof(char *) * (route->nparams + 1));
	for (int i = 0; i < route->nparams; i++)
	{
		req->values[i] = values[i] ? pstrdup(values[i]) : NULL;
		req->sent[i] = req->values[i];
	}
	return req;
}

/*
 * One ESI parameter and the values a scan sends for it.  Its columns are
 * those params[] entries whose group_of is this group.
 */
typedef struct EsiParamGroup
{
	int			first;			/* its first column, index into route->params */
	char	   *def;			/* the first default among its columns, or NULL */
	char	   *wildcard;		/* def, when it means "no filter": a boolean
								 * column splits the parameter into its
								 * true_value and false_value */
	char	   *true_value;		/* that boolean column's values */
	char	   *false_value;
	bool		placeholder;	/* EXPLAIN: a run-time value, shown as $n */
	int			nvalues;
	char	  **values;			/* what is sent; a single NULL: omitted */
} EsiParamGroup;

/* The requests of a scan, generated one at a time */
struct EsiRequestIter
{
	EsiRoute   *route;
	MemoryContext cxt;			/* the value sets; deleted by end */
	MemoryContext req_cxt;		/* where requests are built */
	int			ngroups;
	EsiParamGroup *groups;
	int		   *group_of;		/* per column: its group */
	bool	   *constrained;	/* per column: a qual on it gives values */
	bool	   *wild;			/* per column: its values include the wildcard */
	double		count;			/* requests in all */
	int		   *pos;			/* odometer, per group */
	bool		done;
	char	  **sent;			/* per column: the value sent, for make_request */
	bool	   *shown;			/* per column: a placeholder (EXPLAIN) */
	List	   *fixed;			/* esi_requests_from_list: these, in turn */
	int			fixed_pos;
};

/*
 * collapse_ok
 *		Whether a group whose values include both true_value and false_value
 *		may send the wildcard once instead: when no column reads only what
 *		was sent (a boolean column that is not a reply field, or a column
 *		whose own conditions exclude the wildcard).  One request for "all"
 *		returns each record once even where ESI ignores the parameter.
 */
static bool
collapse_ok(EsiRequestIter *it, int g)
{
	EsiRoute   *route = it->route;

	for (int c = 0; c < route->nparams; c++)
	{
		EsiParamCol *p = &route->params[c];

		if (it->group_of[c] != g || p->is_field)
			continue;
		if (p->true_value || (it->constrained[c] && !it->wild[c]))
			return false;
	}
	return true;
}

/*
 * group_values
 *		The values group g sends, from the quals on its columns.  Each
 *		column's quals intersect as text; then the columns meet, a column
 *		that allows the wildcard constraining nothing.  Returns false when
 *		no value is left (the scan makes no request).
 */
static bool
group_values(EsiRequestIter *it, int g, List *quals, List *exprs,
			 List *states, ExprContext *econtext)
{
	EsiRoute   *route = it->route;
	EsiParamGroup *grp = &it->groups[g];
	ValueSet   *all = NULL;		/* NULL: no column constrains the parameter */

	for (int c = grp->first; c < route->nparams; c++)
	{
		ValueSet   *set = NULL;
		ListCell   *lc;

		if (it->group_of[c] != g)
			continue;
		foreach(lc, quals)
		{
			EsiParamQual *q = lfirst(lc);
			List	   *vals;
			bool		unknown;
			ValueSet   *v;

			if (q->paramidx != c)
				continue;
			vals = eval_qual_values(route, q, exprs, states, econtext, &unknown);
			if (unknown)
			{
				if (!grp->placeholder)
				{
					grp->placeholder = true;
					grp->nvalues = 1;
					grp->values = palloc(sizeof(char *));
					grp->values[0] = psprintf("$%d", q->exprno + 1);
				}
				continue;
			}
			v = vs_from_list(vals);
			set = set ? vs_intersect(set, v) : v;
		}
		if (set == NULL)
			continue;
		it->constrained[c] = true;
		it->wild[c] = grp->wildcard && vs_has(set, grp->wildcard);
		if (!it->wild[c])
			all = all ? vs_intersect(all, set) : set;
	}
	if (grp->placeholder)
		return true;

	if (all == NULL && route->scope && grp->def == NULL &&
		(route->params[grp->first].in == 'p' || route->params[grp->first].in == 't') &&
		strcmp(route->params[grp->first].param, "character_id") == 0)
	{
		/*
		 * no character_id condition: each character of the role (for
		 * as_character_id, the only one: esi_fdw.c)
		 */
		ListCell   *lc;
		int			i = 0;

		if (!route->characters_known)
		{
			grp->placeholder = true;
			grp->nvalues = 1;
			grp->values = palloc(sizeof(char *));
			grp->values[0] = "{each character}";
			return true;
		}
		if (route->characters == NIL)
			return false;
		grp->nvalues = list_length(route->characters);
		grp->values = palloc(sizeof(char *) * grp->nvalues);
		foreach(lc, route->characters)
			grp->values[i++] = lfirst(lc);
		return true;
	}
	if (all == NULL)
	{
		grp->nvalues = 1;
		grp->values = palloc(sizeof(char *));
		grp->values[0] = grp->wildcard ? grp->wildcard : grp->def;
		return true;
	}
	if (all->n == 0)
		return false;
	grp->nvalues = all->n;
	grp->values = all->items;

	/* buy and sell together: all, when the rows do not tell them apart */
	if (grp->wildcard && vs_has(all, grp->true_value) &&
		vs_has(all, grp->false_value) && collapse_ok(it, g))
	{
		int			n = 0;
		bool		placed = false;

		for (int i = 0; i < all->n; i++)
		{
			char	   *v = all->items[i];

			if (strcmp(v, grp->true_value) == 0 || strcmp(v, grp->false_value) == 0)
			{
				if (placed)
					continue;
				v = grp->wildcard;
				placed = true;
			}
			grp->values[n++] = v;
		}
		grp->nvalues = n;
	}
	return true;
}

/*
 * requests_begin
 *		Work out the values of every parameter and how many requests they
 *		make, without building any.  exprs/states are NIL for EXPLAIN.
 */
static EsiRequestIter *
requests_begin(EsiRoute *route, List *quals, List *exprs, List *states,
			   ExprContext *econtext)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "esi_fdw requests",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	EsiRequestIter *it = palloc0(sizeof(EsiRequestIter));
	int			n = route->nparams;

	it->route = route;
	it->cxt = cxt;
	it->req_cxt = old;
	it->groups = palloc0(sizeof(EsiParamGroup) * (n + 1));
	it->group_of = palloc0(sizeof(int) * (n + 1));
	it->constrained = palloc0(sizeof(bool) * (n + 1));
	it->wild = palloc0(sizeof(bool) * (n + 1));
	it->sent = palloc0(sizeof(char *) * (n + 1));
	it->shown = palloc0(sizeof(bool) * (n + 1));

	/* columns feeding one parameter form a group */
	for (int c = 0; c < n; c++)
	{
		EsiParamCol *p = &route->params[c];
		EsiParamGroup *grp;
		int			g;

		for (g = 0; g < it->ngroups; g++)
			if (same_param(route, it->groups[g].first, c))
				break;
		if (g == it->ngroups)
			it->groups[it->ngroups++].first = c;
		it->group_of[c] = g;
		grp = &it->groups[g];
		if (grp->def == NULL)
			grp->def = p->default_value;
		if (grp->true_value == NULL && p->true_value && p->typoid == BOOLOID)
		{
			grp->true_value = p->true_value;
			grp->false_value = p->false_value;
		}
	}
	for (int g = 0; g < it->ngroups; g++)
	{
		EsiParamGroup *grp = &it->groups[g];

		if (grp->true_value && grp->def &&
			strcmp(grp->def, grp->true_value) != 0 &&
			strcmp(grp->def, grp->false_value) != 0)
			grp->wildcard = grp->def;
	}

	it->count = 1;
	for (int g = 0; g < it->ngroups; g++)
	{
		if (!group_values(it, g, quals, exprs, states, econtext))
		{
			it->count = 0;
			break;
		}
		it->count *= it->groups[g].nvalues;
	}
	it->done = (it->count == 0);
	it->pos = palloc0(sizeof(int) * (it->ngroups + 1));
	MemoryContextSwitchTo(old);
	return it;
}

/*
 * row_value
 *		What column c reads in the rows of a request that sent r for its
 *		parameter: a value its own conditions accept, so the local recheck
 *		keeps exactly the rows asked for.  A column whose conditions allow
 *		the wildcard reads it ("order_type = 'all' AND is_buy_order" sends
 *		buy; its rows read order_type 'all'); a column without conditions
 *		reads the parameter's default when that covers r; a boolean column
 *		reads true or false only when r says which.
 */
static char *
row_value(EsiRequestIter *it, int c, char *r)
{
	EsiParamCol *p = &it->route->params[c];
	EsiParamGroup *grp = &it->groups[it->group_of[c]];

	if (p->true_value && p->typoid == BOOLOID)
		return (r && (strcmp(r, p->true_value) == 0 ||
					  strcmp(r, p->false_value) == 0)) ? r : NULL;
	if (it->constrained[c])
		return it->wild[c] ? grp->wildcard : r;
	if (grp->def && (grp->wildcard || (r && strcmp(grp->def, r) == 0)))
		return grp->def;
	return r;
}

/*
 * esi_requests_begin
 *		Evaluate the parameter values of a scan and check how many requests
 *		they make against esi_fdw.max_requests, before building any.
 */
EsiRequestIter *
esi_requests_begin(EsiRoute *route, List *quals, List *exprs_and_states,
				   ExprContext *econtext)
{
	List	   *exprs = exprs_and_states ? linitial(exprs_and_states) : NIL;
	List	   *states = exprs_and_states ? lsecond(exprs_and_states) : NIL;
	EsiRequestIter *it = requests_begin(route, quals, exprs, states, econtext);

	if (it->count > esi_guc_max_requests)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a scan of foreign table \"%s\" would make %.0f requests to ESI",
						route->relname, it->count),
				 errdetail("The values of its parameter columns combine into %.0f requests; esi_fdw.max_requests allows %d per scan.",
						   it->count, esi_guc_max_requests),
				 it->count <= ESI_MAX_REQUESTS_LIMIT ?
				 errhint("Narrow the IN lists of the conditions, or raise the limit: SET esi_fdw.max_requests = %.0f;",
						 it->count) :
				 errhint("Narrow the IN lists of the conditions: esi_fdw.max_requests can be raised to %d at most.",
						 ESI_MAX_REQUESTS_LIMIT)));
	return it;
}

/*
 * esi_requests_next
 *		The next request (in the memory context that was current at begin),
 *		or NULL after the last.
 */
EsiRequest *
esi_requests_next(EsiRequestIter *it)
{
	EsiRoute   *route = it->route;
	MemoryContext old;
	EsiRequest *req;
	int			g;

	if (it->done)
		return NULL;
	CHECK_FOR_INTERRUPTS();
	if (it->fixed)
	{
		req = list_nth(it->fixed, it->fixed_pos++);
		it->done = (it->fixed_pos >= list_length(it->fixed));
		return req;
	}

	old = MemoryContextSwitchTo(it->req_cxt);
	for (int c = 0; c < route->nparams; c++)
	{
		EsiParamGroup *grp = &it->groups[it->group_of[c]];

		it->sent[c] = grp->values[it->pos[it->group_of[c]]];
		it->shown[c] = grp->placeholder;
	}
	req = make_request(route, it->sent, it->shown);
	for (int c = 0; c < route->nparams; c++)
	{
		char	   *v = it->shown[c] ? it->sent[c] : row_value(it, c, it->sent[c]);

		req->values[c] = v ? pstrdup(v) : NULL;
	}
	MemoryContextSwitchTo(old);

	/* odometer: the first parameter turns fastest */
	for (g = 0; g < it->ngroups; g++)
	{
		if (++it->pos[g] < it->groups[g].nvalues)
			break;
		it->pos[g] = 0;
	}
	if (g == it->ngroups)
		it->done = true;
	return req;
}

/*
 * esi_request_build
 *		One request from a value per parameter (NULL: omitted), encoded as
 *		a scan's are: for functions (call.c).
 */
EsiRequest *
esi_request_build(EsiRoute *route, char **values)
{
	return make_request(route, values, NULL);
}

/*
 * esi_requests_from_list
 *		An iterator over requests already built (call.c's batches).
 */
EsiRequestIter *
esi_requests_from_list(EsiRoute *route, List *reqs)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "esi_fdw requests",
											  ALLOCSET_SMALL_SIZES);
	EsiRequestIter *it = MemoryContextAllocZero(cxt, sizeof(EsiRequestIter));

	it->route = route;
	it->cxt = cxt;
	it->req_cxt = CurrentMemoryContext;
	it->fixed = reqs;
	it->count = list_length(reqs);
	it->done = (reqs == NIL);
	return it;
}

/*
 * esi_requests_end
 *		Release what the iterator holds (not the requests it returned).
 */
void
esi_requests_end(EsiRequestIter *it)
{
	MemoryContextDelete(it->cxt);
}

/*
 * esi_describe_requests
 *		The requests a scan will make, for EXPLAIN: with constants filled in
 *		and run-time values shown as $n (listed by EXPLAIN VERBOSE).  Only
 *		the first ten are built; the total is counted, and one past
 *		esi_fdw.max_requests is shown rather than refused.
 */
char *
esi_describe_requests(EsiRoute *route, List *quals)
{
	EsiRequestIter *it = requests_begin(route, quals, NIL, NIL, NULL);
	double		count = it->count;
	StringInfoData buf;
	EsiRequest *r;
	int			n = 0;

	if (count == 0)
	{
		esi_requests_end(it);
		return pstrdup("none (the conditions exclude every value)");
	}
	initStringInfo(&buf);
	while ((r = esi_requests_next(it)) != NULL)
	{
		if (n == 10 && count > 11)
			break;
		appendStringInfo(&buf, "%sGET %s%s%s", n ? ", " : "", r->path,
						 r->query[0] ? "?" : "", r->query);
		n++;
	}
	esi_requests_end(it);
	if (count > 11 || count > esi_guc_max_requests)
		appendStringInfo(&buf, "%s(%.0f requests%s)", count > 11 ? ", ... " : " ",
						 count,
						 count > esi_guc_max_requests ?
						 psprintf(", more than esi_fdw.max_requests = %d allows",
								  esi_guc_max_requests) : "");
	return buf.data;
}
