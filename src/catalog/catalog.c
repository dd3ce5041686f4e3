/*-------------------------------------------------------------------------
 *
 * catalog.c
 *		  IMPORT FOREIGN SCHEMA and esi.catalog() over the generated catalog.
 *
 * Each catalog route becomes one CREATE FOREIGN TABLE whose options carry
 * the whole route description, so the table keeps working without the
 * catalog (and a user can write the same statement by hand).  Remote
 * schemas are the catalog's groups (markets, universe, characters, ...)
 * plus "all".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/array.h"
#include "foreign/foreign.h"

#include "catalog.h"
#include "esi_catalog.h"

PG_FUNCTION_INFO_V1(esi_catalog);

static const char *const coltype_sql[] = {
	[ESI_COL_INT4] = "integer",
	[ESI_COL_INT8] = "bigint",
	[ESI_COL_FLOAT8] = "double precision",
	[ESI_COL_TEXT] = "text",
	[ESI_COL_TIMESTAMPTZ] = "timestamp with time zone",
	[ESI_COL_DATE] = "date",
	[ESI_COL_BOOL] = "boolean",
	[ESI_COL_JSONB] = "jsonb",
};

/*
 * in_group
 *		Whether a route belongs to an IMPORT group ("all" holds every route).
 */
static bool
in_group(const EsiCatalogRoute *r, const char *group)
{
	const char *s = r->schemas;
	size_t		n = strlen(group);

	if (strcmp(group, "all") == 0)
		return true;
	while (s && *s)
	{
		const char *e = strchr(s, ',');
		size_t		len = e ? (size_t) (e - s) : strlen(s);

		if (len == n && strncmp(s, group, n) == 0)
			return true;
		s = e ? e + 1 : NULL;
	}
	return false;
}

/* list_sort comparator for C strings */
static int
cmp_str_cells(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/*
 * group_names
 *		Every group name, for the HINT of an unknown remote schema.
 */
static char *
group_names(void)
{
	List	   *names = NIL;
	StringInfoData buf;
	ListCell   *lc;

	for (int i = 0; i < esi_catalog_nroutes; i++)
	{
		char	   *copy = pstrdup(esi_catalog_routes[i].schemas ? esi_catalog_routes[i].schemas : "");
		char	   *tok,
				   *save;

		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			bool		seen = false;

			foreach(lc, names)
				if (strcmp(lfirst(lc), tok) == 0)
					seen = true;
			if (!seen)
				names = lappend(names, tok);
		}
	}
	list_sort(names, cmp_str_cells);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "all");
	foreach(lc, names)
		appendStringInfo(&buf, ", %s", (char *) lfirst(lc));
	return buf.data;
}

/*
 * wanted
 *		LIMIT TO / EXCEPT applied to one table name.
 */
static bool
wanted(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	foreach(lc, stmt->table_list)
		if (strcmp(((RangeVar *) lfirst(lc))->relname, name) == 0)
			listed = true;
	if (stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO)
		return listed;
	if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT)
		return !listed;
	return true;
}

static void
add_opt(StringInfo buf, bool *first, const char *name, const char *value)
{
	if (value == NULL)
		return;
	appendStringInfo(buf, "%s%s %s", *first ? "" : ", ", name,
					 quote_literal_cstr(value));
	*first = false;
}

/*
 * table_sql
 *		The CREATE FOREIGN TABLE statement for one route.
 */
static char *
table_sql(const EsiCatalogRoute *r, const char *server, const char *schema)
{
	StringInfoData buf;
	bool		first;

	initStringInfo(&buf);
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s (\n",
					 quote_qualified_identifier(schema, r->table_name));
	for (int i = 0; i < r->ncolumns; i++)
	{
		const EsiCatalogColumn *c = &r->columns[i];

		appendStringInfo(&buf, "  %s %s", quote_identifier(c->name),
						 coltype_sql[c->type]);
		first = true;
		if (c->param_in)
		{
			appendStringInfoString(&buf, " OPTIONS (");
			add_opt(&buf, &first, "param", c->param_in == 'p' ? "path" :
					c->param_in == 't' ? "token" : "query");
			add_opt(&buf, &first, "param_name", c->param_name);
			if (c->param_in == 'q' && c->param_required)
				add_opt(&buf, &first, "required", "true");
			add_opt(&buf, &first, "default", c->param_default);
			add_opt(&buf, &first, "true_value", c->true_value);
			add_opt(&buf, &first, "false_value", c->false_value);
			add_opt(&buf, &first, "field", c->field);
			appendStringInfoChar(&buf, ')');
		}
		else if (c->field && strcmp(c->field, c->name) != 0)
			appendStringInfo(&buf, " OPTIONS (field %s)", quote_literal_cstr(c->field));
		appendStringInfoString(&buf, i + 1 < r->ncolumns ? ",\n" : "\n");
	}
	appendStringInfo(&buf, ") SERVER %s OPTIONS (", quote_identifier(server));
	first = true;
	add_opt(&buf, &first, "route", r->path);
	add_opt(&buf, &first, "shape", r->shape);
	add_opt(&buf, &first, "paging", r->paging);
	add_opt(&buf, &first, "records_key", r->records_key);
	add_opt(&buf, &first, "scope", r->scope);
	add_opt(&buf, &first, "roles", r->roles);
	if (r->cache_seconds >= 0)
		add_opt(&buf, &first, "cache_seconds", psprintf("%d", r->cache_seconds));
	add_opt(&buf, &first, "rate_group", r->rate_group);
	add_opt(&buf, &first, "compat_date", r->compat_date);
	appendStringInfoString(&buf, ")");
	return buf.data;
}

/*
 * esi_import_foreign_schema
 *		The statements of IMPORT FOREIGN SCHEMA <group> FROM SERVER ...
 */
List *
esi_import_foreign_schema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *result = NIL;
	bool		known = strcmp(stmt->remote_schema, "all") == 0;

	for (int i = 0; i < esi_catalog_nroutes && !known; i++)
		if (in_group(&esi_catalog_routes[i], stmt->remote_schema))
			known = true;
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 errmsg("ESI has no group of routes named \"%s\"", stmt->remote_schema),
				 errdetail("IMPORT FOREIGN SCHEMA takes a group of ESI routes as its remote schema."),
				 errhint("Use one of: %s.", group_names())));

	for (int i = 0; i < esi_catalog_nroutes; i++)
	{
		const EsiCatalogRoute *r = &esi_catalog_routes[i];

		if (in_group(r, stmt->remote_schema) && wanted(stmt, r->table_name))
			result = lappend(result, table_sql(r, server->servername,
											   stmt->local_schema));
	}
	return result;
}

/*
 * text_array
 *		A comma list as text[] (NULL for NULL).
 */
static Datum
text_array(const char *list, bool *isnull)
{
	List	   *items = NIL;
	Datum	   *elems;
	int			n = 0;
	char	   *copy,
			   *tok,
			   *save;
	ListCell   *lc;

	*isnull = (list == NULL);
	if (list == NULL)
		return (Datum) 0;
	copy = pstrdup(list);
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		items = lappend(items, tok);
	elems = palloc(sizeof(Datum) * (list_length(items) + 1));
	foreach(lc, items)
		elems[n++] = CStringGetTextDatum(lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * esi_catalog
 *		SQL-callable: the catalog, one row per route.
 */
Datum
esi_catalog(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < esi_catalog_nroutes; i++)
	{
		const EsiCatalogRoute *r = &esi_catalog_routes[i];
		Datum		values[13];
		bool		nulls[13] = {0};

		values[0] = CStringGetTextDatum(r->table_name);
		values[1] = CStringGetTextDatum(r->path);
		values[2] = CStringGetTextDatum(r->operation_id);
		values[3] = text_array(r->schemas, &nulls[3]);
		values[4] = r->scope ? CStringGetTextDatum(r->scope) : (nulls[4] = true, (Datum) 0);
		values[5] = text_array(r->roles, &nulls[5]);
		values[6] = CStringGetTextDatum(r->paging);
		values[7] = CStringGetTextDatum(r->shape);
		values[8] = Int32GetDatum(r->cache_seconds);
		nulls[8] = r->cache_seconds < 0;
		values[9] = r->rate_group ? CStringGetTextDatum(r->rate_group) : (nulls[9] = true, (Datum) 0);
		values[10] = Int32GetDatum(r->rate_tokens);
		nulls[10] = r->rate_group == NULL;
		values[11] = CStringGetTextDatum(r->compat_date);
		values[12] = CStringGetTextDatum("GET");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	/* 0.5.0 on: the method column, and the functions of the other routes */
	if (rsinfo->setDesc->natts < 13)
		return (Datum) 0;
	for (int i = 0; i < esi_catalog_ncalls; i++)
	{
		const EsiCatalogCall *r = &esi_catalog_calls[i];
		Datum		values[13];
		bool		nulls[13] = {0};

		values[0] = CStringGetTextDatum(r->function_name);
		values[1] = CStringGetTextDatum(r->path);
		values[2] = CStringGetTextDatum(r->operation_id);
		values[3] = text_array(r->schemas, &nulls[3]);
		values[4] = r->scope ? CStringGetTextDatum(r->scope) : (nulls[4] = true, (Datum) 0);
		values[5] = text_array(r->roles, &nulls[5]);
		values[6] = CStringGetTextDatum("none");
		values[7] = CStringGetTextDatum(r->shape);
		values[8] = Int32GetDatum(r->cache_seconds);
		nulls[8] = r->cache_seconds < 0;
		values[9] = r->rate_group ? CStringGetTextDatum(r->rate_group) : (nulls[9] = true, (Datum) 0);
		values[10] = Int32GetDatum(r->rate_tokens);
		nulls[10] = r->rate_group == NULL;
		values[11] = r->compat_date ? CStringGetTextDatum(r->compat_date) : (nulls[11] = true, (Datum) 0);
		values[12] = CStringGetTextDatum(r->method);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
