/*-------------------------------------------------------------------------
 *
 * route.c
 *		  A foreign table's options turned into an EsiRoute.
 *
 * The table options name the ESI route and how its reply is laid out; the
 * column options say which columns are request parameters and which are
 * response fields.  Everything the scan needs comes from here, so a table
 * written by hand behaves exactly like one made by IMPORT FOREIGN SCHEMA.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "commands/defrem.h"
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
 * check_template
 *		Every {name} in the route must be fed by a path parameter column, and
 *		every path parameter column must appear in the route.
 */
static void
check_template(EsiRoute *r)
{
	const char *s = r->route;

	while ((s = strchr(s, '{')) != NULL)
	{
		const char *e = strchr(s, '}');
		bool		found = false;

		for (int i = 0; i < r->nparams; i++)
			if (r->params[i].in == 'p' &&
				strlen(r->params[i].param) == (size_t) (e - s - 1) &&
				strncmp(r->params[i].param, s + 1, e - s - 1) == 0)
				found = true;
		if (!found)
			route_error(r,
						psprintf("The route %s has the path parameter {%.*s} but no column supplies it.",
								 r->route, (int) (e - s - 1), s + 1),
						psprintf("Add a column with OPTIONS (param 'path'), for example: ALTER FOREIGN TABLE %s ADD COLUMN %.*s bigint OPTIONS (param 'path').",
								 r->relname, (int) (e - s - 1), s + 1));
		s = e + 1;
	}

	for (int i = 0; i < r->nparams; i++)
	{
		char	   *needle;

		if (r->params[i].in != 'p')
			continue;
		needle = psprintf("{%s}", r->params[i].param);
		if (strstr(r->route, needle) == NULL)
			route_error(r,
						psprintf("Column %s is a path parameter, but the route %s has no %s.",
								 r->params[i].colname, r->route, needle),
						"Use OPTIONS (param 'query') for query parameters.");
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
	Relation	rel;
	TupleDesc	tupdesc;
	ListCell   *lc;

	r->relid = relid;
	r->relname = get_rel_name(relid);
	r->shape = ESI_SHAPE_ARRAY;
	r->paging = ESI_PAGING_NONE;

	foreach(lc, ft->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (strcmp(def->defname, "route") == 0)
			r->route = v;
		else if (strcmp(def->defname, "paging") == 0)
			r->paging = strcmp(v, "pages") == 0 ? ESI_PAGING_PAGES :
				strcmp(v, "cursor") == 0 ? ESI_PAGING_CURSOR :
				strcmp(v, "from_id") == 0 ? ESI_PAGING_FROM_ID : ESI_PAGING_NONE;
		else if (strcmp(def->defname, "shape") == 0)
			r->shape = strcmp(v, "object") == 0 ? ESI_SHAPE_OBJECT :
				strcmp(v, "values") == 0 ? ESI_SHAPE_VALUES :
				strcmp(v, "value") == 0 ? ESI_SHAPE_VALUE : ESI_SHAPE_ARRAY;
		else if (strcmp(def->defname, "records_key") == 0)
			r->records_key = v;
		else if (strcmp(def->defname, "scope") == 0)
			r->scope = v;
		else if (strcmp(def->defname, "query") == 0)
			r->fixed_query = v;
		else if (strcmp(def->defname, "id_field") == 0)
			r->id_field = v;
	}

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
		List	   *opts;
		char	   *param_in = NULL;
		EsiParamCol *p;
		char	   *field = NULL;

		if (att->attisdropped)
			continue;
		r->atttypes[i] = att->atttypid;
		r->atttypmods[i] = att->atttypmod;

		opts = GetForeignColumnOptions(relid, att->attnum);
		p = &r->params[r->nparams];
		memset(p, 0, sizeof(EsiParamCol));
		foreach(lc, opts)
		{
			DefElem    *def = (DefElem *) lfirst(lc);
			char	   *v = defGetString(def);

			if (strcmp(def->defname, "param") == 0)
				param_in = v;
			else if (strcmp(def->defname, "param_name") == 0)
				p->param = v;
			else if (strcmp(def->defname, "required") == 0)
				p->required = esi_option_bool(def);
			else if (strcmp(def->defname, "default") == 0)
				p->default_value = v;
			else if (strcmp(def->defname, "true_value") == 0)
				p->true_value = v;
			else if (strcmp(def->defname, "false_value") == 0)
				p->false_value = v;
			else if (strcmp(def->defname, "field") == 0)
				field = v;
		}

		if (param_in)
		{
			p->attnum = att->attnum;
			p->colname = pstrdup(NameStr(att->attname));
			if (p->param == NULL)
				p->param = p->colname;
			p->in = param_in[0] == 'p' ? 'p' : 'q';
			if (p->in == 'p')
				p->required = true;
			p->typoid = att->atttypid;
			/* a parameter column is also a field only when it says so */
			p->is_field = (field != NULL);
			if ((p->true_value != NULL) != (p->false_value != NULL))
				route_error(r,
							psprintf("Column %s sets only one of true_value and false_value.", p->colname),
							"Set both, for example OPTIONS (true_value 'buy', false_value 'sell').");
			r->nparams++;
		}
		else if (field == NULL)
			field = pstrdup(NameStr(att->attname));

		r->fields[i] = field;
	}
	table_close(rel, AccessShareLock);

	check_template(r);

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
