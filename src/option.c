/*-------------------------------------------------------------------------
 *
 * option.c
 *		  Validation of esi_fdw's options, and reading a server's settings.
 *
 * Every option is checked where it is written (CREATE/ALTER ... OPTIONS),
 * so a typo fails at once with the list of valid names instead of at the
 * first query.  Checks that need several options together (a route
 * template against its columns) happen in route.c when the table is used.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "esi_fdw.h"
#include "guc.h"
#include "option.h"

/* What an option's value must look like */
typedef enum EsiOptKind
{
	OPT_TEXT,					/* any non-empty text */
	OPT_URL,					/* http:// or https:// */
	OPT_DATE,					/* YYYY-MM-DD */
	OPT_BOOL,
	OPT_INT,					/* 1 .. 1024 */
	OPT_ROUTE,					/* /path/{param}/... */
	OPT_PAGING,
	OPT_SHAPE,
	OPT_PARAM_IN,
	OPT_SECONDS					/* -1 .. */
} EsiOptKind;

typedef struct EsiOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	EsiOptKind	kind;
} EsiOption;

static const EsiOption esi_options[] = {
	/* server */
	{"base_url", ForeignServerRelationId, OPT_URL},
	{"compatibility_date", ForeignServerRelationId, OPT_DATE},
	{"user_agent", ForeignServerRelationId, OPT_TEXT},
	{"language", ForeignServerRelationId, OPT_TEXT},
	{"tenant", ForeignServerRelationId, OPT_TEXT},
	{"compression", ForeignServerRelationId, OPT_BOOL},
	{"max_connections", ForeignServerRelationId, OPT_INT},
	/* foreign table: the route it maps */
	{"route", ForeignTableRelationId, OPT_ROUTE},
	{"paging", ForeignTableRelationId, OPT_PAGING},
	{"shape", ForeignTableRelationId, OPT_SHAPE},
	{"records_key", ForeignTableRelationId, OPT_TEXT},
	{"query", ForeignTableRelationId, OPT_TEXT},
	{"id_field", ForeignTableRelationId, OPT_TEXT},
	{"scope", ForeignTableRelationId, OPT_TEXT},
	{"roles", ForeignTableRelationId, OPT_TEXT},
	{"cache_seconds", ForeignTableRelationId, OPT_SECONDS},
	{"rate_group", ForeignTableRelationId, OPT_TEXT},
	{"compat_date", ForeignTableRelationId, OPT_DATE},
	/* column: parameter and/or field */
	{"param", AttributeRelationId, OPT_PARAM_IN},
	{"param_name", AttributeRelationId, OPT_TEXT},
	{"required", AttributeRelationId, OPT_BOOL},
	{"default", AttributeRelationId, OPT_TEXT},
	{"true_value", AttributeRelationId, OPT_TEXT},
	{"false_value", AttributeRelationId, OPT_TEXT},
	{"field", AttributeRelationId, OPT_TEXT},
	{NULL, InvalidOid, OPT_TEXT}
};

PG_FUNCTION_INFO_V1(esi_fdw_validator);

/*
 * context_name
 *		The SQL object an options catalog stands for, for messages.
 */
static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignDataWrapperRelationId:
			return "foreign-data wrapper";
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignTableRelationId:
			return "foreign table";
		case AttributeRelationId:
			return "foreign table column";
	}
	return "object";
}

/*
 * valid_names
 *		Comma list of the options valid in a context, for the HINT.
 */
static char *
valid_names(Oid context)
{
	StringInfoData buf;
	const EsiOption *o;

	initStringInfo(&buf);
	for (o = esi_options; o->name; o++)
	{
		if (o->context != context)
			continue;
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", o->name);
	}
	return buf.data;
}

/*
 * closest_name
 *		The valid option nearest to a misspelt one, or NULL if none is close.
 */
static const char *
closest_name(const char *name, Oid context)
{
	const EsiOption *o;
	const char *best = NULL;
	int			bestdist = 4;	/* more edits than this is not a typo */

	for (o = esi_options; o->name; o++)
	{
		int			d;

		if (o->context != context)
			continue;
		d = varstr_levenshtein(name, strlen(name), o->name, strlen(o->name),
							   1, 1, 1, false);
		if (d < bestdist)
		{
			bestdist = d;
			best = o->name;
		}
	}
	return best;
}

/*
 * esi_option_bool
 *		An option's value as a boolean, with a proper error when it is not.
 */
bool
esi_option_bool(DefElem *def)
{
	bool		result;

	if (!parse_bool(defGetString(def), &result))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for boolean option \"%s\": \"%s\"",
						def->defname, defGetString(def)),
				 errhint("Use true or false.")));
	return result;
}

/*
 * bad_value
 *		Report an option value that does not have the required form.
 */
static void
bad_value(DefElem *def, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 errmsg("invalid value for option \"%s\": \"%s\"",
					def->defname, defGetString(def)),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

/*
 * check_date
 *		True if s is a real calendar date written YYYY-MM-DD.
 */
static bool
check_date(const char *s)
{
	int			y,
				m,
				d;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char) s[i]))
			return false;
	y = atoi(s);
	m = atoi(s + 5);
	d = atoi(s + 8);
	if (y < 2000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

/*
 * check_route
 *		A route template starts with '/', has balanced {param} names made of
 *		lower-case letters, digits and '_', and no query string.
 */
static bool
check_route(const char *s)
{
	bool		inparam = false;

	if (s[0] != '/')
		return false;
	for (; *s; s++)
	{
		if (*s == '{')
		{
			if (inparam || s[1] == '}')
				return false;
			inparam = true;
		}
		else if (*s == '}')
		{
			if (!inparam)
				return false;
			inparam = false;
		}
		else if (inparam && !(islower((unsigned char) *s) ||
							  isdigit((unsigned char) *s) || *s == '_'))
			return false;
		else if (*s == '?' || *s == '#' || isspace((unsigned char) *s))
			return false;
	}
	return !inparam;
}

/*
 * int_in_range
 *		True if s is a whole decimal integer from lo to hi.
 */
static bool
int_in_range(const char *s, long lo, long hi)
{
	char	   *end;
	long		n = strtol(s, &end, 10);

	return s[0] != '\0' && *end == '\0' && n >= lo && n <= hi;
}

/*
 * check_value
 *		Raise an error if an option's value does not fit its kind.
 */
static void
check_value(const EsiOption *o, DefElem *def)
{
	char	   *v = defGetString(def);

	switch (o->kind)
	{
		case OPT_TEXT:
			if (v[0] == '\0')
				bad_value(def, "The value is empty.",
						  "Give a value, or drop the option with OPTIONS (DROP name).");
			break;
		case OPT_URL:
			if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
				bad_value(def, "Only http and https URLs are allowed.",
						  "Use a URL such as 'https://esi.evetech.net'.");
			break;
		case OPT_DATE:
			if (!check_date(v))
				bad_value(def, "ESI compatibility dates are written YYYY-MM-DD.",
						  "Use a date such as '2026-08-04'.");
			break;
		case OPT_BOOL:
			(void) esi_option_bool(def);
			break;
		case OPT_INT:
			if (!int_in_range(v, 1, 1024))
				bad_value(def, "The value must be an integer from 1 to 1024.",
						  "Use a number such as 8.");
			break;
		case OPT_SECONDS:
			if (!int_in_range(v, -1, 100000000))
				bad_value(def, "The value must be a number of seconds, or -1 when unknown.",
						  "Use a number such as 300.");
			break;
		case OPT_ROUTE:
			if (!check_route(v))
				bad_value(def, "A route is an ESI path starting with '/', with path parameters in braces and no query string.",
						  "Use a route such as '/markets/{region_id}/orders'.");
			break;
		case OPT_PAGING:
			if (strcmp(v, "none") != 0 && strcmp(v, "pages") != 0 &&
				strcmp(v, "cursor") != 0 && strcmp(v, "from_id") != 0)
				bad_value(def, "Paging is one of none, pages, cursor, from_id.",
						  "Use paging 'pages' for routes that answer with X-Pages.");
			break;
		case OPT_SHAPE:
			if (strcmp(v, "array") != 0 && strcmp(v, "object") != 0 &&
				strcmp(v, "values") != 0 && strcmp(v, "value") != 0)
				bad_value(def, "Shape is one of array (of objects), object, values (array of scalars), value (one scalar).",
						  "Use shape 'array' for routes that answer with a list of objects.");
			break;
		case OPT_PARAM_IN:
			if (strcmp(v, "path") != 0 && strcmp(v, "query") != 0)
				bad_value(def, "A parameter is either in the path or in the query string.",
						  "Use param 'path' or param 'query'.");
			break;
	}
}

/*
 * esi_fdw_validator
 *		Check the options of the wrapper, a server, a user mapping, a foreign
 *		table or one of its columns.
 */
Datum
esi_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			context = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const EsiOption *o;
		ListCell   *lc2;

		for (o = esi_options; o->name; o++)
			if (o->context == context && strcmp(o->name, def->defname) == 0)
				break;

		if (o->name == NULL)
		{
			const char *near = closest_name(def->defname, context);
			char	   *names = valid_names(context);

			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\" for an esi_fdw %s",
							def->defname, context_name(context)),
					 near ? errdetail("Perhaps you meant the option \"%s\".", near) :
					 errdetail("esi_fdw does not know this option."),
					 names[0] ?
					 errhint("Valid options in this context are: %s.", names) :
					 errhint("esi_fdw takes no options on a %s.",
							 context_name(context))));
		}

		check_value(o, def);

		/* an option given twice is a mistake, not an override */
		foreach(lc2, options)
		{
			DefElem    *other = (DefElem *) lfirst(lc2);

			if (other == def)
				break;
			if (strcmp(other->defname, def->defname) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("option \"%s\" given more than once",
								def->defname),
						 errhint("Give each option once.")));
		}
	}

	PG_RETURN_VOID();
}

/*
 * esi_get_server_options
 *		A server's settings, with the GUCs filling what it does not set.
 */
EsiServerOptions *
esi_get_server_options(ForeignServer *server)
{
	EsiServerOptions *opts = palloc0(sizeof(EsiServerOptions));
	ListCell   *lc;

	opts->base_url = esi_guc_base_url;
	opts->compat_date = esi_guc_compat_date;
	opts->user_agent = esi_guc_user_agent;
	opts->compression = true;
	opts->max_connections = esi_guc_max_connections;

	foreach(lc, server->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (strcmp(def->defname, "base_url") == 0)
			opts->base_url = defGetString(def);
		else if (strcmp(def->defname, "compatibility_date") == 0)
			opts->compat_date = defGetString(def);
		else if (strcmp(def->defname, "user_agent") == 0)
			opts->user_agent = defGetString(def);
		else if (strcmp(def->defname, "language") == 0)
			opts->language = defGetString(def);
		else if (strcmp(def->defname, "tenant") == 0)
			opts->tenant = defGetString(def);
		else if (strcmp(def->defname, "compression") == 0)
			opts->compression = esi_option_bool(def);
		else if (strcmp(def->defname, "max_connections") == 0)
			opts->max_connections = atoi(defGetString(def));
	}

	/* join "base" and "/path" without doubling the slash */
	opts->base_url = pstrdup(opts->base_url);
	{
		size_t		n = strlen(opts->base_url);

		while (n > 0 && opts->base_url[n - 1] == '/')
			opts->base_url[--n] = '\0';
	}
	return opts;
}
