/*-------------------------------------------------------------------------
 *
 * route.c
 *		  A foreign table's options turned into an EsiRoute.
 *
 * The table options name the ESI route and how its reply is laid out; the
 * column options say which columns are request parameters and which are
 * response fields.  Everything the scan needs comes from here, so a table
 * written by hand behaves exactly like one made by IMPORT FOREIGN SCHEMA.
 * The options are parsed by option.c (the validator's own parser); here
 * they are checked against each other and against the columns, and the
 * route template's {names} are bound to the columns that feed them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "foreign/foreign.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "option.h"
#include "route.h"

/*
 * route_error
 *		A table whose options do not describe a usable route.
 */
static void
route_error(EsiRoute *r, const char *msg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("foreign table \"%s\" does not describe a usable ESI route",
					r->relname),
			 errdetail("%s", msg),
			 errhint("%s", hint)));
}

/*
 * bind_template
 *		Bind every {name} of the parsed route to the path parameter column
 *		that feeds it; every path parameter column must appear in the route.
 */
static void
bind_template(EsiRoute *r)
{
	for (int k = 0; k < r->nsegments; k++)
	{
		EsiRouteSegment *seg = &r->segments[k];

		if (!seg->is_param)
			continue;
		seg->paramidx = -1;
		for (int i = 0; i < r->nparams && seg->paramidx < 0; i++)
			if (r->params[i].in == 'p' && strcmp(r->params[i].param, seg->text) == 0)
				seg->paramidx = i;
		if (seg->paramidx < 0)
			route_error(r,
						psprintf("The route %s has the path parameter {%s} but no column supplies it.",
								 r->route, seg->text),
						psprintf("Add a column with OPTIONS (param 'path'), for example: ALTER FOREIGN TABLE %s ADD COLUMN %s bigint OPTIONS (param 'path').",
								 r->relname, seg->text));
	}

	for (int i = 0; i < r->nparams; i++)
	{
		bool		found = false;

		if (r->params[i].in != 'p')
			continue;
		for (int k = 0; k < r->nsegments && !found; k++)
			found = r->segments[k].is_param &&
				strcmp(r->segments[k].text, r->params[i].param) == 0;
		if (!found)
			route_error(r,
						psprintf("Column %s is a path parameter, but the route %s has no {%s}.",
								 r->params[i].colname, r->route, r->params[i].param),
						"Use OPTIONS (param 'query') for query parameters.");
	}
}

/*
 * check_fields
 *		Each JSON field feeds one column.  The decoder fills one column per
 *		field, so a second column on the same field would get only some of
 *		the values; a reply of scalars (shape values or value) has a single
 *		field, so such a table has a single column read from the reply.
 */
static void
check_fields(EsiRoute *r, TupleDesc tupdesc)
{
	int			first = -1;

	for (int i = 0; i < r->natts; i++)
	{
		const char *a = NameStr(TupleDescAttr(tupdesc, i)->attname);

		if (r->fields[i] == NULL)
			continue;
		if (r->shape == ESI_SHAPE_VALUES || r->shape == ESI_SHAPE_VALUE)
		{
			if (first < 0)
			{
				first = i;
				continue;
			}
			route_error(r,
						psprintf("A table of shape '%s' reads one value from each record, but columns %s and %s both read it.",
								 r->shape == ESI_SHAPE_VALUES ? "values" : "value",
								 NameStr(TupleDescAttr(tupdesc, first)->attname), a),
						psprintf("Keep one such column: drop the other (ALTER FOREIGN TABLE %s DROP COLUMN %s) or make it a request parameter with OPTIONS (param 'query').",
								 r->relname, a));
		}
		for (int j = 0; j < i; j++)
			if (r->fields[j] && strcmp(r->fields[i], r->fields[j]) == 0)
				route_error(r,
							psprintf("Columns %s and %s both read the JSON field \"%s\".",
									 NameStr(TupleDescAttr(tupdesc, j)->attname), a, r->fields[i]),
							psprintf("Map each JSON field to one column: drop %s (ALTER FOREIGN TABLE %s DROP COLUMN %s) and select %s twice where both are needed.",
									 a, r->relname, a,
									 NameStr(TupleDescAttr(tupdesc, j)->attname)));
	}
}

/*
 * esi_get_route
 *		Read a foreign table's route from its options and its columns.
 */
EsiRoute *
esi_get_route(Oid relid)
{
	EsiRoute   *r = palloc0(sizeof(EsiRoute));
	ForeignTable *ft = GetForeignTable(relid);
	EsiTableOptions topts;
	Relation	rel;
	TupleDesc	tupdesc;

	r->relname = get_rel_name(relid);

	esi_parse_table_options(ft->options, &topts);
	r->route = topts.route;
	r->nsegments = topts.nsegments;
	r->segments = topts.segments;
	r->paging = topts.paging;
	r->shape = topts.shape;
	r->records_key = topts.records_key;
	r->scope = topts.scope;
	r->rate_group = topts.rate_group;
	r->roles = topts.roles;
	r->cache = topts.cache;
	r->fixed_query = topts.query;
	r->id_field = topts.id_field;

	if (r->route == NULL)
		route_error(r, "The table has no \"route\" option.",
					psprintf("Set one, for example: ALTER FOREIGN TABLE %s OPTIONS (ADD route '/markets/{region_id}/orders'), or create the table with IMPORT FOREIGN SCHEMA.",
							 r->relname));

	rel = table_open(relid, AccessShareLock);
	tupdesc = RelationGetDescr(rel);
	r->natts = tupdesc->natts;
	r->fields = palloc0(sizeof(char *) * r->natts);
	r->atttypes = palloc0(sizeof(Oid) * r->natts);
	r->atttypmods = palloc0(sizeof(int32) * r->natts);
	r->params = palloc0(sizeof(EsiParamCol) * (r->natts + 1));

	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		EsiColumnOptions copts;
		char	   *field;

		if (att->attisdropped)
			continue;
		r->atttypes[i] = att->atttypid;
		r->atttypmods[i] = att->atttypmod;

		esi_parse_column_options(GetForeignColumnOptions(relid, att->attnum),
								 &copts);
		field = copts.field;
		if (copts.param_in)
		{
			EsiParamCol *p = &r->params[r->nparams++];

			p->attnum = att->attnum;
			p->colname = pstrdup(NameStr(att->attname));
			p->param = copts.param_name ? copts.param_name : p->colname;
			p->in = copts.param_in;
			/* path parameters are always required */
			p->required = (p->in == 'p') || copts.required;
			/* the token's character is read as a character_id (crawl.c) */
			if (p->in == 't')
			{
				if (r->scope == NULL)
					route_error(r,
								psprintf("Column %s chooses whose EVE SSO token is sent, but the route needs none.",
										 p->colname),
								"Set the table's scope option, or drop the column's param option.");
				p->param = "character_id";
				p->required = false;
			}
			p->default_value = copts.default_value;
			p->true_value = copts.true_value;
			p->false_value = copts.false_value;
			p->typoid = att->atttypid;
			/* a parameter column is also a field only when it says so */
			p->is_field = (field != NULL);
		}
		else if (field == NULL)
			field = pstrdup(NameStr(att->attname));

		r->fields[i] = field;
	}

	bind_template(r);
	check_fields(r, tupdesc);
	for (int i = 0; i < r->nparams; i++)
		if (r->params[i].in == 't')
			for (int j = 0; j < r->nparams; j++)
				if (r->params[j].in == 'p' &&
					(strcmp(r->params[j].param, "character_id") == 0 ||
					 strcmp(r->params[j].param, "corporation_id") == 0))
					route_error(r,
								psprintf("Column %s chooses whose EVE SSO token is sent, but the route's %s parameter already does.",
										 r->params[i].colname, r->params[j].param),
								psprintf("Drop the column: ALTER FOREIGN TABLE %s DROP COLUMN %s.",
										 r->relname, r->params[i].colname));
	table_close(rel, AccessShareLock);

	/* a from_id walk needs to see each record's id */
	if (r->paging == ESI_PAGING_FROM_ID)
	{
		bool		found = false;

		if (r->id_field == NULL)
			r->id_field = "transaction_id";
		for (int i = 0; i < r->natts; i++)
			if (r->fields[i] && strcmp(r->fields[i], r->id_field) == 0)
				found = true;
		if (!found)
			route_error(r,
						psprintf("Paging from_id walks on the field \"%s\", but no column holds it.", r->id_field),
						"Add that column, or name the id field with OPTIONS (ADD id_field 'name').");
	}
	return r;
}

/*
 * esi_route_param_for_att
 *		The parameter a column feeds, or NULL.
 */
EsiParamCol *
esi_route_param_for_att(EsiRoute *route, AttrNumber attnum)
{
	for (int i = 0; i < route->nparams; i++)
		if (route->params[i].attnum == attnum)
			return &route->params[i];
	return NULL;
}

/*
 * esi_route_character_param
 *		The index of the path parameter character_id (whose token an
 *		authenticated route is read with), or -1.
 */
int
esi_route_character_param(EsiRoute *route)
{
	for (int i = 0; i < route->nparams; i++)
		if ((route->params[i].in == 'p' || route->params[i].in == 't') &&
			strcmp(route->params[i].param, "character_id") == 0)
			return i;
	return -1;
}

/*
 * esi_route_corporation_param
 *		The index of the path parameter corporation_id, or -1.
 */
int
esi_route_corporation_param(EsiRoute *route)
{
	for (int i = 0; i < route->nparams; i++)
		if (route->params[i].in == 'p' && strcmp(route->params[i].param, "corporation_id") == 0)
			return i;
	return -1;
}

/*
 * esi_route_method
 *		The HTTP method of a route's requests: GET for a foreign table's.
 */
const char *
esi_route_method(EsiRoute *route)
{
	return route->method ? route->method : "GET";
}

/*
 * esi_route_subject
 *		What the user called, for messages: `foreign table "t"`, or
 *		`function f` for ESI's POST, PUT and DELETE routes (call.c), whose
 *		relname is the function's name.
 */
char *
esi_route_subject(EsiRoute *route)
{
	if (route->is_function)
		return psprintf("function %s", route->relname);
	return psprintf("foreign table \"%s\"", route->relname);
}
