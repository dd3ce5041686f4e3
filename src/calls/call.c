/*-------------------------------------------------------------------------
 *
 * call.c
 *		  ESI's POST, PUT and DELETE routes as SQL functions.
 *
 * Every generated function (src/esi_calls.sql) is esi_call: it finds its
 * route in the catalog from its own name, turns its arguments into the
 * path, the query and a JSON body, sends the request and decodes the reply
 * as a scan decodes a page (decode.c).
 *
 * Lookups (routes that only read) go through a crawl (crawl.c), like a
 * scan's requests: cache (the key holds the body), ESI's limits, tokens,
 * retries, concurrency.  A list longer than the route's maxItems is split
 * into requests run together; rows come back in the order of the input.
 * ESI answers 404 to a whole list when it does not know one of its ids:
 * such a list is split in halves until the unknown ids are alone, and they
 * are named in a NOTICE, not raised.
 *
 * Writes go through a crawl too, of one request sent at most once
 * (ESI_CRAWL_SEND_ONCE): on a new connection (libcurl resends a request
 * whose kept-alive connection turns out dead), and never retried once any
 * byte may have reached ESI: a lost reply is an error saying that the
 * write may have happened.  So every request has one path: limits, tokens,
 * statistics and errors are crawl.c's.  Writes are refused inside a
 * transaction block unless esi_fdw.writes_in_transaction_block is on (a
 * rollback does not undo them).  esi_call_write is what writable foreign
 * tables (modify.c) use.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "bearer.h"
#include "call.h"
#include "crawl.h"
#include "decode.h"
#include "guc.h"
#include "privileged_sql.h"
#include "throttle.h"

PG_FUNCTION_INFO_V1(esi_call);
PG_FUNCTION_INFO_V1(esi_test_call_decode);

static const Oid coltype_oid[] = {
	[ESI_COL_INT4] = INT4OID,
	[ESI_COL_INT8] = INT8OID,
	[ESI_COL_FLOAT8] = FLOAT8OID,
	[ESI_COL_TEXT] = TEXTOID,
	[ESI_COL_TIMESTAMPTZ] = TIMESTAMPTZOID,
	[ESI_COL_DATE] = DATEOID,
	[ESI_COL_BOOL] = BOOLOID,
	[ESI_COL_JSONB] = JSONBOID,
};

/*
 * esi_call_find
 *		The route of a generated function, by its name; NULL if none.
 */
const EsiCatalogCall *
esi_call_find(const char *function_name)
{
	for (int i = 0; i < esi_catalog_ncalls; i++)
		if (strcmp(esi_catalog_calls[i].function_name, function_name) == 0)
			return &esi_catalog_calls[i];
	return NULL;
}

static EsiShape
decode_shape(const char *shape)
{
	if (strcmp(shape, "object") == 0)
		return ESI_SHAPE_OBJECT;
	if (strcmp(shape, "values") == 0)
		return ESI_SHAPE_VALUES;
	if (strcmp(shape, "value") == 0)
		return ESI_SHAPE_VALUE;
	return ESI_SHAPE_ARRAY;
}

/*
 * esi_call_route
 *		An EsiRoute for a route that is not GET, on a server: what crawl.c,
 *		request.c and esi_error.c need (parameters, template, scope, limits).
 */
EsiCallRoute *
esi_call_route(const EsiCatalogCall *cc, const char *server_name)
{
	EsiCallRoute *cr = palloc0(sizeof(EsiCallRoute));
	ForeignServer *server = GetForeignServerByName(server_name, false);
	ForeignDataWrapper *fdw = GetForeignDataWrapper(server->fdwid);
	EsiRoute   *r = palloc0(sizeof(EsiRoute));
	const char *p;
	List	   *segs = NIL;
	AclResult	acl;

	if (strcmp(fdw->fdwname, "esi_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("server \"%s\" is not an esi_fdw server", server_name)));
	acl = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);

	cr->cc = cc;
	cr->opts = esi_get_server_options(server);
	cr->route = r;
	r->opts = cr->opts;
	r->relname = pstrdup(cc->function_name);
	r->is_function = true;
	r->route = pstrdup(cc->path);
	r->method = pstrdup(cc->method);
	r->shape = decode_shape(cc->shape);
	r->paging = ESI_PAGING_NONE;
	r->records_key = cc->records_key ? pstrdup(cc->records_key) : NULL;
	r->scope = cc->scope ? pstrdup(cc->scope) : NULL;
	r->roles = cc->roles ? pstrdup(cc->roles) : NULL;
	r->rate_group = cc->rate_group ? pstrdup(cc->rate_group) : NULL;
	r->cache = cc->writes ? ESI_CACHE_OFF : ESI_CACHE_ON;
	r->pass_not_found = (cc->batch_key != NULL);

	/* the parameters: path, query, and the acting character */
	r->params = palloc0(sizeof(EsiParamCol) * (cc->nargs + 1));
	for (int i = 0; i < cc->nargs; i++)
	{
		const EsiCatalogArg *a = &cc->args[i];
		EsiParamCol *pc;

		if (a->in != 'p' && a->in != 'q' && a->in != 'c')
			continue;
		pc = &r->params[r->nparams++];
		pc->attnum = i + 1;
		pc->colname = pstrdup(a->name);
		pc->param = pstrdup(a->in == 'c' ? "character_id" : (a->key ? a->key : a->name));
		pc->in = a->in == 'c' ? 't' : a->in;
		pc->required = a->required;
		pc->typoid = coltype_oid[a->type];
	}

	/* the template: literals and {name}s */
	p = cc->path;
	while (*p)
	{
		EsiRouteSegment *seg = palloc0(sizeof(EsiRouteSegment));
		const char *b = strchr(p, '{');

		if (b == p)
		{
			const char *e = strchr(p, '}');

			seg->text = pnstrdup(p + 1, e - p - 1);
			seg->is_param = true;
			seg->paramidx = -1;
			for (int i = 0; i < r->nparams; i++)
				if (r->params[i].in == 'p' && strcmp(r->params[i].param, seg->text) == 0)
					seg->paramidx = i;
			if (seg->paramidx < 0)
				elog(ERROR, "esi_fdw: route %s has no parameter %s", cc->path, seg->text);
			p = e + 1;
		}
		else
		{
			seg->text = b ? pnstrdup(p, b - p) : pstrdup(p);
			p += strlen(seg->text);
		}
		segs = lappend(segs, seg);
	}
	r->nsegments = list_length(segs);
	r->segments = palloc(sizeof(EsiRouteSegment) * (r->nsegments + 1));
	for (int i = 0; i < r->nsegments; i++)
		r->segments[i] = *(EsiRouteSegment *) list_nth(segs, i);
	return cr;
}

/*
 * esi_call_check_write
 *		A write reaches ESI at once and a rollback cannot take it back:
 *		refused in a transaction block unless the setting allows it.
 */
static void
esi_call_check_write(const EsiCatalogCall *cc)
{
	if (cc->writes && !esi_guc_writes_in_transaction_block && IsTransactionBlock())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("%s cannot run inside a transaction block", cc->function_name),
				 errdetail("%s %s changes data at ESI at once; rolling the transaction back would not undo it.",
						   cc->method, cc->path),
				 IsSubTransaction() ?
				 errhint("Run it outside BEGIN ... COMMIT and outside PL/pgSQL blocks with EXCEPTION (they run it in a subtransaction), or SET esi_fdw.writes_in_transaction_block = on to allow it.") :
				 errhint("Run it outside BEGIN ... COMMIT, or SET esi_fdw.writes_in_transaction_block = on to allow it.")));
}

/* ---------------------------------------------------------------------
 * Arguments into parameters and a body
 * ---------------------------------------------------------------------
 */

/* one scalar argument as ESI reads it in a URL or JSON text */
static char *
scalar_text(Datum d, Oid typoid, const char *argname, const char *fname)
{
	Oid			out;
	bool		isvarlena;

	if (typoid == FLOAT8OID)
	{
		double		v = DatumGetFloat8(d);

		if (isnan(v) || isinf(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("argument %s of %s must be a finite number", argname, fname)));
	}
	if (typoid == BOOLOID)
		return pstrdup(DatumGetBool(d) ? "true" : "false");
	getTypeOutputInfo(typoid, &out, &isvarlena);
	return OidOutputFunctionCall(out, d);
}

/* the elements of an array argument (NULL elements refused) */
static List *
array_texts(Datum d, Oid elemtype, const char *argname, const char *fname)
{
	ArrayType  *arr = DatumGetArrayTypeP(d);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	List	   *out = NIL;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("argument %s of %s holds a NULL", argname, fname)));
		out = lappend(out, scalar_text(elems[i], elemtype, argname, fname));
	}
	return out;
}

/* a JSON value from an element's text */
static void
append_json(StringInfo buf, const char *text, EsiColType type)
{
	if (type == ESI_COL_TEXT || type == ESI_COL_DATE || type == ESI_COL_TIMESTAMPTZ)
		escape_json(buf, text);
	else
		appendStringInfoString(buf, text);
}

static void
append_json_list(StringInfo buf, List *texts, EsiColType type)
{
	ListCell   *lc;

	appendStringInfoChar(buf, '[');
	foreach(lc, texts)
	{
		if (foreach_current_index(lc) > 0)
			appendStringInfoChar(buf, ',');
		append_json(buf, lfirst(lc), type);
	}
	appendStringInfoChar(buf, ']');
}

/* text in the database's encoding into the UTF-8 ESI reads */
static char *
to_utf8(char *s)
{
	return (char *) pg_server_to_any(s, strlen(s), PG_UTF8);
}

/*
 * The arguments of one call: a value per route parameter, the body object
 * (NULL when none) and the body list (texts), for batching.
 */
typedef struct CallArgs
{
	char	  **values;			/* per route->params */
	char	   *body_object;	/* JSON text, or NULL */
	bool		has_list;
	List	   *list;			/* the body list's elements (texts) */
	EsiColType	list_type;
	char	   *server;
} CallArgs;

static void
read_args(FunctionCallInfo fcinfo, EsiCallRoute *cr, CallArgs *ca)
{
	const EsiCatalogCall *cc = cr->cc;
	EsiRoute   *r = cr->route;
	StringInfoData obj;
	bool		any = false;

	memset(ca, 0, sizeof(CallArgs));
	ca->values = palloc0(sizeof(char *) * (r->nparams + 1));
	initStringInfo(&obj);
	appendStringInfoChar(&obj, '{');
	for (int i = 0; i < cc->nargs; i++)
	{
		const EsiCatalogArg *a = &cc->args[i];
		Oid			typoid = coltype_oid[a->type];
		char	   *text;

		if (PG_ARGISNULL(i))
		{
			if (a->required)
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("argument %s of %s must not be NULL", a->name, cc->function_name)));
			continue;
		}
		if (a->in == 'B')
		{
			ca->has_list = true;
			ca->list = array_texts(PG_GETARG_DATUM(i), typoid, a->name, cc->function_name);
			ca->list_type = a->type;
			continue;
		}
		if (a->is_array)
		{
			List	   *texts = array_texts(PG_GETARG_DATUM(i), typoid, a->name, cc->function_name);

			if (a->in == 'b')
			{
				StringInfoData b;

				initStringInfo(&b);
				append_json_list(&b, texts, a->type);
				text = b.data;
			}
			else
			{
				StringInfoData b;
				ListCell   *lc;

				/* a query parameter's list: one comma-separated value */
				initStringInfo(&b);
				foreach(lc, texts)
					appendStringInfo(&b, "%s%s", foreach_current_index(lc) ? "," : "",
									 (char *) lfirst(lc));
				text = b.data;
			}
		}
		else
			text = scalar_text(PG_GETARG_DATUM(i), typoid, a->name, cc->function_name);

		if (a->in == 'b')
		{
			if (any)
				appendStringInfoChar(&obj, ',');
			escape_json(&obj, a->key ? a->key : a->name);
			appendStringInfoChar(&obj, ':');
			if (a->is_array)
				appendStringInfoString(&obj, text);
			else
				append_json(&obj, text, a->type);
			any = true;
		}
		else
		{
			for (int k = 0; k < r->nparams; k++)
				if (r->params[k].attnum == i + 1)
					ca->values[k] = text;
		}
	}
	appendStringInfoChar(&obj, '}');
	if (cc->body && strcmp(cc->body, "object") == 0)
		ca->body_object = to_utf8(obj.data);
	if (PG_ARGISNULL(cc->nargs))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument server of %s must not be NULL", cc->function_name)));
	ca->server = text_to_cstring(PG_GETARG_TEXT_PP(cc->nargs));
}

static char *
list_body(List *texts, EsiColType type)
{
	StringInfoData b;

	initStringInfo(&b);
	append_json_list(&b, texts, type);
	return to_utf8(b.data);
}

/* ---------------------------------------------------------------------
 * Replies into rows
 * ---------------------------------------------------------------------
 */

/* the decoding of a function's reply */
typedef struct CallOut
{
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	EsiDecodeColumn *cols;
	int			ncols;
	int			category_att;	/* categories: the category column, or -1 */
	int			key_att;		/* batches: the key column, or -1 */
	/* batches: rows waiting to be put in input order */
	List	   *rows;			/* RowAt */
	/* a scalar reply */
	Datum		scalar;
	bool		scalar_null;
	int64		nrows;
} CallOut;

typedef struct RowAt
{
	int			pos;			/* place of its key in the input */
	int64		arrival;
	HeapTuple	tuple;
} RowAt;

static void
out_init(CallOut *o, const EsiCatalogCall *cc, MemoryContext fn_mcxt)
{
	o->ncols = cc->ncolumns;
	o->tupdesc = CreateTemplateTupleDesc(Max(cc->ncolumns, 1));
	o->cols = palloc0(sizeof(EsiDecodeColumn) * (cc->ncolumns + 1));
	o->category_att = -1;
	o->key_att = -1;
	o->scalar_null = true;
	for (int i = 0; i < cc->ncolumns; i++)
	{
		const EsiCatalogColumn *c = &cc->columns[i];
		EsiDecodeColumn *dc = &o->cols[i];

		TupleDescInitEntry(o->tupdesc, i + 1, c->name, coltype_oid[c->type], -1, 0);
		dc->field = c->field ? c->field : c->name;
		dc->fieldlen = strlen(dc->field);
		dc->attidx = i;
		dc->colname = c->name;
		esi_decode_column_set_type(dc, coltype_oid[c->type], -1, fn_mcxt);
		if (strcmp(cc->shape, "categories") == 0 && strcmp(c->name, "category") == 0)
			o->category_att = i;
		if (cc->batch_key && strcmp(c->name, cc->batch_key) == 0)
			o->key_att = i;
	}
}

/*
 * category_name
 *		The category of a member of POST /universe/ids's reply as
 *		/universe/names names it ("systems" is "solar_system"); a member
 *		of another name is its own category.
 */
static const char *
category_name(const char *member)
{
	static const char *const plural[][2] = {
		{"agents", "agent"}, {"alliances", "alliance"},
		{"characters", "character"}, {"constellations", "constellation"},
		{"corporations", "corporation"}, {"factions", "faction"},
		{"inventory_types", "inventory_type"}, {"regions", "region"},
		{"stations", "station"}, {"systems", "solar_system"}};

	for (int i = 0; i < lengthof(plural); i++)
		if (strcmp(member, plural[i][0]) == 0)
			return plural[i][1];
	return member;
}

/*
 * decode_reply
 *		One reply of the route into the output, through the scan's decoder
 *		(decode.c): an array of objects, an object, an array of values or a
 *		value as the route's shape says; "categories" (POST /universe/ids)
 *		is an object whose members hold lists of records, the member naming
 *		their category column; "values" with a records_key (POST /route)
 *		the list of values under that key.  The decoder raises a malformed
 *		reply's error (SQLSTATE HV00A), and one of another layout (HV004).
 *		keys and key_type are a batched lookup's elements, by which its rows
 *		are put in input order.  accepted: the reply of a write ESI took,
 *		whose errors must not suggest running it again.
 */
static void
decode_reply(CallOut *o, const EsiCatalogCall *cc, const char *body, size_t len,
			 List *keys, EsiColType key_type, bool accepted)
{
	EsiDecoder	d;
	Datum	   *values = palloc0(sizeof(Datum) * (o->ncols + 1));
	bool	   *nulls = palloc0(sizeof(bool) * (o->ncols + 1));
	EsiDecodeColumn *cols = o->cols;
	int			ncols = o->ncols;
	char	   *copy;
	const char *group = NULL;
	const char *category = NULL;

	if (strcmp(cc->shape, "none") == 0)
		return;

	/* the category column is not in the JSON */
	if (o->category_att >= 0)
	{
		cols = palloc(sizeof(EsiDecodeColumn) * ncols);
		ncols = 0;
		for (int i = 0; i < o->ncols; i++)
			if (i != o->category_att)
				cols[ncols++] = o->cols[i];
	}
	if (strcmp(cc->shape, "categories") == 0)
		esi_decoder_init_groups(&d, ESI_SHAPE_ARRAY, NULL, cols, ncols, cc->path);
	else if (strcmp(cc->shape, "values") == 0 && cc->records_key)
		esi_decoder_init_groups(&d, ESI_SHAPE_VALUES, cc->records_key, cols, ncols,
								cc->path);
	else
		esi_decoder_init(&d, decode_shape(cc->shape), NULL, cols, ncols, cc->path);
	if (accepted)
	{
		d.layout_hint = "ESI or a proxy sent a reply of another layout than ESI documents for the route; check with the matching GET route before sending the write again.";
		d.syntax_hint = "ESI or a proxy broke the reply to a write ESI took; check with the matching GET route before sending the write again.";
	}
	else
		d.layout_hint = "ESI or a proxy sent a reply of another layout than ESI documents for the route; run the call again, and check the server's base_url option if it persists.";

	/* the decoder reads a NUL-terminated text */
	copy = pnstrdup(body, len);
	esi_decoder_begin_page(&d, copy, len);
	for (;;)
	{
		for (int i = 0; i < o->ncols; i++)
			nulls[i] = true;
		if (!esi_decoder_next(&d, values, nulls))
			break;
		if (o->category_att >= 0)
		{
			if (d.group != group)
			{
				group = d.group;
				category = category_name(group);
			}
			values[o->category_att] = CStringGetTextDatum(category);
			nulls[o->category_att] = false;
		}
		if (o->store == NULL)
		{
			/* a scalar reply */
			o->scalar = values[0];
			o->scalar_null = nulls[0];
		}
		else if (o->key_att >= 0)
		{
			RowAt	   *ra = palloc(sizeof(RowAt));
			ListCell   *lc;

			ra->pos = INT_MAX;
			ra->arrival = o->nrows;
			if (!nulls[o->key_att])
			{
				Oid			out;
				bool		isvarlena;
				char	   *k;

				getTypeOutputInfo(TupleDescAttr(o->tupdesc, o->key_att)->atttypid, &out, &isvarlena);
				k = OidOutputFunctionCall(out, values[o->key_att]);
				foreach(lc, keys)
					if (key_type == ESI_COL_TEXT ? pg_strcasecmp(lfirst(lc), k) == 0 :
						strcmp(lfirst(lc), k) == 0)
					{
						ra->pos = foreach_current_index(lc);
						break;
					}
			}
			ra->tuple = heap_form_tuple(o->tupdesc, values, nulls);
			o->rows = lappend(o->rows, ra);
		}
		else
			tuplestore_putvalues(o->store, o->tupdesc, values, nulls);
		o->nrows++;
	}
}

/* ---------------------------------------------------------------------
 * Lookups: through a crawl, batched
 * ---------------------------------------------------------------------
 */

/* a batch: the positions of its elements in the input */
typedef struct Batch
{
	int			first;			/* index into the distinct elements */
	int			n;
} Batch;

static EsiRequest *
batch_request(EsiCallRoute *cr, CallArgs *ca, List *distinct, Batch *b, int seq)
{
	EsiRequest *req = esi_request_build(cr->route, ca->values);
	List	   *part = NIL;

	for (int i = 0; i < b->n; i++)
		part = lappend(part, list_nth(distinct, b->first + i));
	req->body = list_body(part, ca->list_type);
	req->seq = seq;
	return req;
}

/*
 * The failing requests the current statement's lookups may still send
 * (esi_fdw.lookup_error_budget), and the statement they belong to.
 */
static LocalTransactionId budget_lxid = InvalidLocalTransactionId;
static TimestampTz budget_statement = 0;
static int	budget_left = 0;
static int	budget_given = 0;

/*
 * statement_error_budget
 *		The failing requests the lookups of this statement may still send:
 *		at its first lookup, esi_fdw.lookup_error_budget, and no more than a
 *		quarter of the errors ESI's window has left above
 *		esi_fdw.error_limit_threshold (at least one), so that no statement
 *		holds every session off until the window resets.
 */
static int *
statement_error_budget(EsiCallRoute *cr)
{
	if (MyProc->lxid != budget_lxid ||
		GetCurrentStatementStartTimestamp() != budget_statement)
	{
		int			remain = esi_limits_error_remain(cr->opts->base_url);

		budget_left = esi_guc_lookup_error_budget;
		if (remain >= 0)
			budget_left = Min(budget_left,
							  Max(1, (remain - esi_guc_error_limit_threshold) / 4));
		budget_given = budget_left;
		budget_lxid = MyProc->lxid;
		budget_statement = GetCurrentStatementStartTimestamp();
	}
	return &budget_left;
}

/*
 * run_lookup
 *		A lookup's requests through a crawl; batches ESI answered 404 are
 *		split in halves and asked again, down to single unknown elements,
 *		as long as the statement's error budget lasts: a round sends no
 *		more requests than 404s are left to it, and what is left when it is
 *		spent is reported as unknown, not looked up.
 */
static void
run_lookup(EsiCallRoute *cr, CallArgs *ca, CallOut *o)
{
	const EsiCatalogCall *cc = cr->cc;
	List	   *distinct = NIL;
	List	   *pending = NIL;
	List	   *unknown = NIL;
	int			max = cc->body_max_items > 0 ? cc->body_max_items : INT_MAX;
	EsiCrawlStats stats;
	int		   *left = cc->batch_key && ca->has_list ? statement_error_budget(cr) : NULL;
	int			unchecked = 0;

	if (ca->has_list)
	{
		ListCell   *lc;

		/* each element once, in the order given */
		foreach(lc, ca->list)
		{
			ListCell   *lc2;
			bool		dup = false;

			foreach(lc2, distinct)
				if (strcmp(lfirst(lc2), lfirst(lc)) == 0)
				{
					dup = true;
					break;
				}
			if (!dup)
				distinct = lappend(distinct, lfirst(lc));
		}
		if (distinct == NIL)
			return;
		if (cc->batch_key == NULL && list_length(distinct) > max)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("%s takes at most %d elements, not %d", cc->function_name, max,
							list_length(distinct))));
		for (int first = 0; first < list_length(distinct); first += max)
		{
			Batch	   *b = palloc(sizeof(Batch));

			b->first = first;
			b->n = Min(max, list_length(distinct) - first);
			pending = lappend(pending, b);
		}
	}
	else
	{
		Batch	   *b = palloc0(sizeof(Batch));

		pending = list_make1(b);
	}

	while (pending != NIL)
	{
		List	   *reqs = NIL;
		List	   *batches = pending;
		List	   *halves = NIL;
		ListCell   *lc;
		EsiCrawl   *crawl;
		EsiPage    *page;

		pending = NIL;
		if (left != NULL)
		{
			if (*left <= 0)
			{
				/* the budget is spent: the rest stays unknown */
				foreach(lc, batches)
					unchecked += ((Batch *) lfirst(lc))->n;
				break;
			}
			if (list_length(batches) > *left)
			{
				pending = list_copy_tail(batches, *left);
				batches = list_copy_head(batches, *left);
			}
		}
		foreach(lc, batches)
		{
			Batch	   *b = lfirst(lc);
			EsiRequest *req;

			if (ca->has_list)
				req = batch_request(cr, ca, distinct, b, foreach_current_index(lc));
			else
			{
				req = esi_request_build(cr->route, ca->values);
				req->body = ca->body_object;
				if (req->body == NULL && strcmp(cc->method, "POST") == 0 && cc->body)
					req->body = "{}";
			}
			reqs = lappend(reqs, req);
		}
		memset(&stats, 0, sizeof(stats));
		crawl = esi_crawl_begin(CurrentMemoryContext, cr->route, cr->opts,
								esi_requests_from_list(cr->route, reqs), -1,
								esi_token_bearers(CurrentMemoryContext, cr->route, cr->opts),
								0, &stats);
		while ((page = esi_crawl_next_page(crawl)) != NULL)
		{
			Batch	   *b = list_nth(batches, page->req->seq);

			if (page->status == 404)
			{
				/* a 404 from the cache cost ESI's error limit nothing */
				if (left != NULL && page->storage == NULL)
					(*left)--;
				if (b->n <= 1)
					unknown = lappend(unknown, list_nth(distinct, b->first));
				else
				{
					Batch	   *h1 = palloc(sizeof(Batch));
					Batch	   *h2 = palloc(sizeof(Batch));

					h1->first = b->first;
					h1->n = b->n / 2;
					h2->first = b->first + h1->n;
					h2->n = b->n - h1->n;
					halves = lappend(lappend(halves, h1), h2);
				}
			}
			else
			{
				page->facts.rows = 0;
				decode_reply(o, cc, page->body, page->len, distinct, ca->list_type, false);
			}
			esi_crawl_page_done(crawl, page);
		}
		esi_crawl_end(crawl);
		pending = list_concat(pending, halves);
	}

	if (cc->batch_key)
	{
		bool	   *found = palloc0(sizeof(bool) * (list_length(distinct) + 1));
		StringInfoData missing;
		int			nmissing = 0;

		ListCell   *lc;

		foreach(lc, o->rows)
		{
			RowAt	   *ra = lfirst(lc);

			if (ra->pos != INT_MAX)
				found[ra->pos] = true;
		}
		initStringInfo(&missing);
		for (int i = 0; i < list_length(distinct); i++)
			if (!found[i])
			{
				if (nmissing < 100)
					appendStringInfo(&missing, "%s%s", nmissing ? ", " : "",
									 (char *) list_nth(distinct, i));
				nmissing++;
			}
		if (unchecked > 0)
			ereport(NOTICE,
					(errmsg("ESI does not know %d of the %d %s given to %s; %d more were left unknown",
							nmissing - unchecked, list_length(distinct),
							ca->list_type == ESI_COL_TEXT ? "names" : "ids", cc->function_name,
							unchecked),
					 errdetail("Not found: %s%s.  %d of them were not looked up: this statement sent the %d failing requests it may (esi_fdw.lookup_error_budget, and at most a quarter of what ESI's error-limit window has left).",
							   missing.data, nmissing > 100 ? ", ..." : "", unchecked, budget_given),
					 errhint("Look the rest up in another statement, in shorter lists, or after ESI's error-limit window resets.")));
		else if (nmissing > 0)
			ereport(NOTICE,
					(errmsg("ESI does not know %d of the %d %s given to %s",
							nmissing, list_length(distinct),
							ca->list_type == ESI_COL_TEXT ? "names" : "ids", cc->function_name),
					 errdetail("Not found: %s%s.", missing.data, nmissing > 100 ? ", ..." : "")));
		(void) unknown;
	}
}

static int
cmp_rowat(const ListCell *a, const ListCell *b)
{
	RowAt	   *x = lfirst(a);
	RowAt	   *y = lfirst(b);

	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->arrival < y->arrival ? -1 : (x->arrival > y->arrival ? 1 : 0);
}

/* ---------------------------------------------------------------------
 * Writes: one request, never sent twice
 * ---------------------------------------------------------------------
 */

/* the character a write acts for, or 0 for a public route */
static int64
write_character(EsiCallRoute *cr, EsiRequest *req)
{
	int			k = esi_route_character_param(cr->route);

	if (cr->route->scope == NULL || k < 0 || req->sent[k] == NULL)
		return 0;
	return strtoi64(req->sent[k], NULL, 10);
}

/* context line of an error in the reply to a write ESI accepted */
static void
write_done_context(void *arg)
{
	errcontext("reading ESI's answer to %s (accepted: the write happened)", (const char *) arg);
}

/*
 * esi_call_accepted_push
 *		Push the error context of reading the reply to req, a write ESI
 *		accepted: an error while reading it says that the write happened.
 *		The caller pops it (error_context_stack = cb->previous).
 */
void
esi_call_accepted_push(ErrorContextCallback *cb, EsiCallRoute *cr, EsiRequest *req)
{
	cb->callback = write_done_context;
	cb->arg = psprintf("%s %s", cr->cc->method, req->path);
	cb->previous = error_context_stack;
	error_context_stack = cb;
}

/*
 * esi_call_write
 *		Send a write once and wait for its reply: a crawl of one request
 *		with ESI_CRAWL_SEND_ONCE (crawl.h says what that guarantees).
 *		Raises ESI's error for a reply other than 2xx, saying that the
 *		write did not happen; a reply lost after the request went out
 *		raises "may have happened" (SQLSTATE 08007) and is not sent again.
 *		A 401, or a 403 about the token (ESI reports SSO's trouble so),
 *		refuses before anything is done: that is sent once more with a new
 *		token.
 */
void
esi_call_write(EsiCallRoute *cr, EsiRequest *req, EsiWriteReply *out)
{
	EsiRoute   *r = cr->route;
	EsiCrawlStats stats;
	EsiCrawl   *crawl;
	EsiPage    *page;

	if (r->scope && write_character(cr, req) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("%s needs the character whose token it sends", r->relname)));

	memset(&stats, 0, sizeof(stats));
	crawl = esi_crawl_begin(CurrentMemoryContext, r, cr->opts,
							esi_requests_from_list(r, list_make1(req)), -1,
							esi_token_bearers(CurrentMemoryContext, r, cr->opts),
							ESI_CRAWL_SEND_ONCE, &stats);
	page = esi_crawl_next_page(crawl);
	if (page == NULL)
		elog(ERROR, "esi_fdw: a write got no reply");
	out->status = page->status;
	out->body = palloc(page->len + 1);
	memcpy(out->body, page->body, page->len);
	out->body[page->len] = '\0';
	out->len = page->len;
	esi_crawl_page_done(crawl, page);
	esi_crawl_end(crawl);
}

/* ---------------------------------------------------------------------
 * Names remembered (esi.names)
 * ---------------------------------------------------------------------
 */

/*
 * names_source_trusted
 *		Whether a server's answers may go into esi.names, which every role
 *		reads: its base URL is ESI's, esi_fdw.base_url or exactly one of
 *		esi_fdw.allowed_base_urls (not a path below one, not '*'), or the
 *		server belongs to a superuser.  Any role may own a server on an
 *		allowed URL's paths, answering what it likes.
 */
static bool
names_source_trusted(EsiCallRoute *cr)
{
	ForeignServer *server;

	if (esi_base_url_listed(cr->opts->base_url) ||
		(esi_guc_base_url && strcmp(cr->opts->base_url, esi_guc_base_url) == 0))
		return true;
	server = GetForeignServerByName(cr->opts->server_name, true);
	return server != NULL && superuser_arg(server->owner);
}

/*
 * remember_names
 *		Upsert the (category, id, name) rows of a name lookup into
 *		esi.names, as the bootstrap superuser (callers may only read the
 *		table): only rows of the ids (names) asked for, and only from a
 *		server names_source_trusted.  Skipped where nothing can be written.
 */
static void
remember_names(EsiCallRoute *cr, CallOut *o, List *rows)
{
	Oid			ext = get_extension_oid("esi_fdw", true);
	ListCell   *lc;
	EsiPrivileged priv;
	char	   *schema;
	char	   *sql;
	Datum	   *ids;
	Datum	   *names;
	Datum	   *cats;
	int			n = 0;
	Oid			argtypes[3] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID};
	Datum		args[3];

	if (!OidIsValid(ext) || rows == NIL || RecoveryInProgress() || XactReadOnly)
		return;
	if (!names_source_trusted(cr))
		return;
	ids = palloc(sizeof(Datum) * list_length(rows));
	names = palloc(sizeof(Datum) * list_length(rows));
	cats = palloc(sizeof(Datum) * list_length(rows));
	foreach(lc, rows)
	{
		RowAt	   *ra = lfirst(lc);
		bool		isnull[3];
		Datum		v[3];

		/* a row for an id (or name) nobody asked for is not kept */
		if (ra->pos == INT_MAX)
			continue;
		heap_deform_tuple(ra->tuple, o->tupdesc, v, isnull);
		if (isnull[0] || isnull[1] || isnull[2])
			continue;
		cats[n] = v[0];
		ids[n] = v[1];
		names[n] = v[2];
		n++;
	}
	if (n == 0)
		return;
	args[0] = PointerGetDatum(construct_array(ids, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(names, n, TEXTOID, -1, false, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(cats, n, TEXTOID, -1, false, TYPALIGN_INT));
	sql = psprintf("INSERT INTO %s.names AS n (id, name, category, fetched_at) "
				   "SELECT DISTINCT ON (u.id) u.id, u.name, u.category, now() "
				   "FROM unnest($1, $2, $3) AS u(id, name, category) ORDER BY u.id "
				   "ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
				   "category = excluded.category, fetched_at = excluded.fetched_at",
				   "%s");

	esi_privileged_begin(&priv);
	/* the extension's schema (get_extension_schema is not exported in 15) */
	if (SPI_execute_with_args("SELECT extnamespace::regnamespace::text FROM pg_catalog.pg_extension WHERE oid = $1",
							  1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(ext)},
							  NULL, true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "esi_fdw: extension schema not found");
	schema = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	sql = psprintf(sql, schema);
	if (SPI_execute_with_args(sql, 3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "esi_fdw: could not remember names");
	esi_privileged_end(&priv);
}

/* ---------------------------------------------------------------------
 * The SQL entry point
 * ---------------------------------------------------------------------
 */

Datum
esi_call(PG_FUNCTION_ARGS)
{
	char	   *fname = get_func_name(fcinfo->flinfo->fn_oid);
	const EsiCatalogCall *cc = fname ? esi_call_find(fname) : NULL;
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	bool		returns_set;
	EsiCallRoute *cr;
	CallArgs	ca;
	CallOut		o;

	if (cc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function \"%s\" is not one of ESI's routes", fname ? fname : "?"),
				 errhint("esi_call implements the functions esi_fdw creates; see esi.catalog().")));
	if (PG_NARGS() != cc->nargs + 1)
		elog(ERROR, "esi_fdw: %s takes %d arguments, called with %d", fname,
			 cc->nargs + 1, PG_NARGS());
	returns_set = strcmp(cc->shape, "none") != 0 && strcmp(cc->shape, "value") != 0;

	esi_call_check_write(cc);
	memset(&o, 0, sizeof(o));
	out_init(&o, cc, fcinfo->flinfo->fn_mcxt);
	if (returns_set)
	{
		MemoryContext old;

		if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
			!(rsinfo->allowedModes & SFRM_Materialize))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("set-valued function called in context that cannot accept a set")));
		old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
		o.store = tuplestore_begin_heap(true, false, work_mem);
		o.tupdesc = CreateTupleDescCopy(o.tupdesc);
		MemoryContextSwitchTo(old);
		rsinfo->returnMode = SFRM_Materialize;
		rsinfo->setResult = o.store;
		rsinfo->setDesc = o.tupdesc;
	}

	/* the server comes last; read it before anything else is checked */
	if (PG_ARGISNULL(cc->nargs))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument server of %s must not be NULL", cc->function_name)));
	cr = esi_call_route(cc, text_to_cstring(PG_GETARG_TEXT_PP(cc->nargs)));
	read_args(fcinfo, cr, &ca);

	if (!cc->writes)
	{
		run_lookup(cr, &ca, &o);
		if (o.key_att >= 0)
		{
			ListCell   *lc;

			list_sort(o.rows, cmp_rowat);
			foreach(lc, o.rows)
				tuplestore_puttuple(o.store, ((RowAt *) lfirst(lc))->tuple);
			if (o.category_att >= 0 || strcmp(cc->path, "/universe/names") == 0)
				remember_names(cr, &o, o.rows);
		}
	}
	else
	{
		EsiRequest *req = esi_request_build(cr->route, ca.values);
		EsiWriteReply reply;

		if (ca.has_list)
		{
			if (ca.list == NIL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s needs at least one element in its list", cc->function_name)));
			if (cc->body_max_items > 0 && list_length(ca.list) > cc->body_max_items)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("%s takes at most %d elements, not %d", cc->function_name,
								cc->body_max_items, list_length(ca.list)),
						 errdetail("A write is sent as one request, never split.")));
			req->body = list_body(ca.list, ca.list_type);
		}
		else
			req->body = ca.body_object;
		esi_call_write(cr, req, &reply);
		if (reply.len > 0 && strcmp(cc->shape, "none") != 0)
		{
			ErrorContextCallback done;

			esi_call_accepted_push(&done, cr, req);
			decode_reply(&o, cc, reply.body, reply.len, NIL, ESI_COL_INT8, true);
			error_context_stack = done.previous;
		}
	}

	if (returns_set)
		return (Datum) 0;
	if (strcmp(cc->shape, "none") == 0)
		PG_RETURN_VOID();
	if (o.scalar_null)
		PG_RETURN_NULL();
	return o.scalar;
}

/*
 * esi_test_call_decode(function_name text, reply text) returns setof record
 *		For the tests only: the extension script does not create it; a
 *		superuser declares it (CREATE FUNCTION ... AS 'esi_fdw',
 *		'esi_test_call_decode'), as src/sso/sso_test.c's functions.  The
 *		rows the generated function function_name makes of reply, ESI's
 *		answer to it, decoded as esi_call decodes one reply (decode_reply),
 *		in the reply's order; nothing is sent and nothing remembered.
 *		Routes whose function returns a set only.
 */
Datum
esi_test_call_decode(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const EsiCatalogCall *cc;
	text	   *reply;
	CallOut		o;
	MemoryContext old;
	ListCell   *lc;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to use esi_fdw's test functions")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	cc = esi_call_find(text_to_cstring(PG_GETARG_TEXT_PP(0)));
	if (cc == NULL || strcmp(cc->shape, "none") == 0 || strcmp(cc->shape, "value") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("\"%s\" is not one of ESI's routes that return rows",
						text_to_cstring(PG_GETARG_TEXT_PP(0)))));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	reply = PG_GETARG_TEXT_PP(1);

	memset(&o, 0, sizeof(o));
	out_init(&o, cc, fcinfo->flinfo->fn_mcxt);
	old = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	o.store = tuplestore_begin_heap(true, false, work_mem);
	o.tupdesc = CreateTupleDescCopy(o.tupdesc);
	MemoryContextSwitchTo(old);
	decode_reply(&o, cc, VARDATA_ANY(reply), VARSIZE_ANY_EXHDR(reply), NIL, ESI_COL_TEXT, false);
	/* a batched lookup's rows, in the order they came */
	foreach(lc, o.rows)
		tuplestore_puttuple(o.store, ((RowAt *) lfirst(lc))->tuple);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = o.store;
	rsinfo->setDesc = o.tupdesc;
	return (Datum) 0;
}
