/*-------------------------------------------------------------------------
 *
 * option.c
 *		  esi_fdw's options: their definitions, the validator, and the one
 *		  parser that turns an option list into typed values.
 *
 * Every option is checked where it is written (CREATE/ALTER ... OPTIONS),
 * so a typo fails at once with the list of valid names instead of at the
 * first query.  The validator and the users of options (a server's
 * settings below, a table's route in route.c) go through the same
 * parse_options(), so they cannot disagree.  Checks that need several
 * columns together (a route template against its columns) happen in
 * route.c when the table is used.
 *
 * Any text that reaches the wire (headers, the URL) is refused if it holds
 * a control character: a CR/LF in a header value would add headers or a
 * whole second request on a keep-alive connection.  Those rules are
 * valid.c's, shared with the settings' check hooks; the settings (guc.h)
 * are the defaults of a server's options: option.c depends on both, they
 * on nothing here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "guc.h"
#include "option.h"
#include "valid.h"

/* What an option's value must look like, and the C type it is parsed to */
typedef enum EsiOptKind
{
	OPT_TEXT,					/* char *: non-empty text */
	OPT_URL,					/* char *: http:// or https:// base URL */
	OPT_DATE,					/* char *: YYYY-MM-DD */
	OPT_QUERY,					/* char *: name=value&... percent-encoded */
	OPT_ROUTE,					/* char * and segments: /path/{param}/... */
	OPT_BOOL,					/* bool */
	OPT_CONNECTIONS,			/* int: 1 .. ESI_MAX_CONNECTIONS */
	OPT_SECONDS,				/* int: -1 .. */
	OPT_PAGING,					/* EsiPaging */
	OPT_SHAPE,					/* EsiShape */
	OPT_PARAM_IN,				/* char: 'p', 'q' or 't' */
	OPT_CACHE,					/* EsiCacheMode */
	OPT_HTTP_VERSION			/* EsiHttpVersion */
} EsiOptKind;

typedef struct EsiOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	size_t		offset;			/* where parse_options stores the value */
	EsiOptKind	kind;
} EsiOption;

#define SRV(f) ForeignServerRelationId, offsetof(EsiServerOptions, f)
#define TBL(f) ForeignTableRelationId, offsetof(EsiTableOptions, f)
#define COL(f) AttributeRelationId, offsetof(EsiColumnOptions, f)

static const EsiOption esi_options[] = {
	/* server */
	{"base_url", SRV(base_url), OPT_URL},
	{"compatibility_date", SRV(compat_date), OPT_DATE},
	{"user_agent", SRV(user_agent), OPT_TEXT},
	{"language", SRV(language), OPT_TEXT},
	{"tenant", SRV(tenant), OPT_TEXT},
	{"compression", SRV(compression), OPT_BOOL},
	{"max_connections", SRV(max_connections), OPT_CONNECTIONS},
	{"http_version", SRV(http_version), OPT_HTTP_VERSION},
	{"cache", SRV(cache), OPT_CACHE},
	{"sso_url", SRV(sso_url), OPT_URL},
	{"sso_client_id", SRV(sso_client_id), OPT_TEXT},
	{"sso_redirect_uri", SRV(sso_redirect_uri), OPT_URL},
	/* foreign table: the route it maps */
	{"route", TBL(route), OPT_ROUTE},
	{"paging", TBL(paging), OPT_PAGING},
	{"shape", TBL(shape), OPT_SHAPE},
	{"records_key", TBL(records_key), OPT_TEXT},
	{"query", TBL(query), OPT_QUERY},
	{"id_field", TBL(id_field), OPT_TEXT},
	{"scope", TBL(scope), OPT_TEXT},
	{"roles", TBL(roles), OPT_TEXT},
	{"cache_seconds", TBL(cache_seconds), OPT_SECONDS},
	{"rate_group", TBL(rate_group), OPT_TEXT},
	{"compat_date", TBL(compat_date), OPT_DATE},
	{"cache", TBL(cache), OPT_CACHE},
	/* column: parameter and/or field */
	{"param", COL(param_in), OPT_PARAM_IN},
	{"param_name", COL(param_name), OPT_TEXT},
	{"required", COL(required), OPT_BOOL},
	{"default", COL(default_value), OPT_TEXT},
	{"true_value", COL(true_value), OPT_TEXT},
	{"false_value", COL(false_value), OPT_TEXT},
	{"field", COL(field), OPT_TEXT},
	{NULL}
};

/* Keyword options: each word and the value it is parsed to */
typedef struct EsiKeyword
{
	const char *word;
	int			value;
} EsiKeyword;

static const EsiKeyword paging_words[] = {
	{"none", ESI_PAGING_NONE},
	{"pages", ESI_PAGING_PAGES},
	{"cursor", ESI_PAGING_CURSOR},
	{"from_id", ESI_PAGING_FROM_ID},
	{NULL}
};

static const EsiKeyword shape_words[] = {
	{"array", ESI_SHAPE_ARRAY},
	{"object", ESI_SHAPE_OBJECT},
	{"values", ESI_SHAPE_VALUES},
	{"value", ESI_SHAPE_VALUE},
	{NULL}
};

static const EsiKeyword cache_words[] = {
	{"on", ESI_CACHE_ON},
	{"refresh", ESI_CACHE_REFRESH},
	{"off", ESI_CACHE_OFF},
	{NULL}
};

static const EsiKeyword http_version_words[] = {
	{"auto", ESI_HTTP_AUTO},
	{"1.1", ESI_HTTP_1_1},
	{"2", ESI_HTTP_2},
	{NULL}
};

static const EsiKeyword param_in_words[] = {
	{"path", 'p'},
	{"query", 'q'},
	{"token", 't'},
	{NULL}
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
 * bad_value
 *		Report an option value that does not have the required form.  The
 *		value itself is not repeated when it holds control characters, so
 *		the message stays on one line.
 */
static void
bad_value(DefElem *def, const char *detail, const char *hint)
{
	const char *v = defGetString(def);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
			 esi_check_wire_text(v) ?
			 errmsg("invalid value for option \"%s\"", def->defname) :
			 errmsg("invalid value for option \"%s\": \"%s\"", def->defname, v),
			 errdetail("%s", detail),
			 errhint("%s", hint)));
}

static bool base_url_listed(const char *url, bool exact);

/*
 * esi_base_url_allowed
 *		True if url is one of esi_fdw.allowed_base_urls, or below one of them
 *		(the next character is '/').  Scheme and host compare without regard
 *		to case; trailing slashes do not count.  '*' allows every URL.
 */
static bool
esi_base_url_allowed(const char *url)
{
	return base_url_listed(url, false);
}

/*
 * esi_base_url_listed
 *		True if url is exactly one of esi_fdw.allowed_base_urls or ESI's own
 *		(trailing slashes and the case of scheme and host aside): not a path
 *		below one, not '*'.  Only such a server's answers are ESI's own as far
 *		as a superuser said (esi.names keeps nothing else).
 */
bool
esi_base_url_listed(const char *url)
{
	size_t		ulen = strlen(url);

	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;
	if (ulen == strlen(ESI_DEFAULT_BASE_URL) &&
		pg_strncasecmp(url, ESI_DEFAULT_BASE_URL, ulen) == 0)
		return true;
	return base_url_listed(url, true);
}

/*
 * base_url_listed
 *		esi_base_url_allowed, or with exact, esi_base_url_listed's test of
 *		the list.
 */
static bool
base_url_listed(const char *url, bool exact)
{
	const char *list = esi_guc_allowed_base_urls ? esi_guc_allowed_base_urls : "";
	size_t		ulen = strlen(url);

	while (ulen > 0 && url[ulen - 1] == '/')
		ulen--;

	while (*list)
	{
		const char *start;
		size_t		len;

		while (*list == ' ' || *list == ',')
			list++;
		start = list;
		while (*list && *list != ',')
			list++;
		len = list - start;
		while (len > 0 && (start[len - 1] == ' ' || start[len - 1] == '/'))
			len--;
		if (len == 0)
			continue;
		if (len == 1 && start[0] == '*')
		{
			if (exact)
				continue;
			return true;
		}
		if (ulen >= len && pg_strncasecmp(url, start, len) == 0 &&
			(ulen == len || (!exact && url[len] == '/')))
			return true;
	}
	return false;
}

/*
 * check_query
 *		The table option "query": name=value pairs joined by '&', each part
 *		percent-encoded, as it goes into the URL unchanged.
 */
static const char *
check_query(const char *s)
{
	for (;;)
	{
		const char *name = s;

		while (esi_url_char_len(s, true, "&=?") > 0)
			s += esi_url_char_len(s, true, "&=?");
		if (s == name || *s != '=')
			return "A query string is name=value pairs joined by '&', such as 'datasource=tranquility&language=en'.";
		s++;
		while (esi_url_char_len(s, true, "&=") > 0)
			s += esi_url_char_len(s, true, "&=");
		if (*s == '\0')
			return NULL;
		if (*s != '&')
			return "Names and values in a query string are percent-encoded: no spaces, '#', '=' in a value, or other characters outside letters, digits and -._~!$'()*+,;:@/?.";
		s++;
	}
}

/*
 * parse_route
 *		Parse a route template into its segments: literal path text and
 *		{name} parameters.  Returns NULL, or a DETAIL saying what is wrong.
 */
static const char *
parse_route(const char *s, EsiTableOptions *out)
{
	EsiRouteSegment *segs = palloc0(sizeof(EsiRouteSegment) * (strlen(s) + 1));
	int			n = 0;
	StringInfoData lit;
	const char *seg = s;

	if (s[0] != '/')
		return "A route starts with '/'.";
	initStringInfo(&lit);
	for (;;)
	{
		if (*s == '/' || *s == '\0')
		{
			if (esi_url_dot_segment(seg, s - seg))
				return "A route may not contain \".\" or \"..\" segments.";
			seg = s + 1;
		}
		if (*s == '\0')
			break;
		if (*s == '{')
		{
			const char *name = ++s;

			while ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')
				s++;
			if (*s != '}')
				return "A path parameter is {name}, a name of lower-case letters, digits and '_' between balanced braces.";
			if (s == name)
				return "A path parameter has an empty name \"{}\".";
			if (lit.len)
			{
				segs[n].text = pstrdup(lit.data);
				segs[n++].paramidx = -1;
				resetStringInfo(&lit);
			}
			segs[n].text = pnstrdup(name, s - name);
			segs[n].is_param = true;
			segs[n++].paramidx = -1;
			s++;
			continue;
		}
		if (*s == '}')
			return "The route has a '}' without a '{' before it.";
		if (*s == '?' || *s == '#')
			return "A route may not contain '?' or '#': put fixed query parameters in the table option \"query\".";
		if (*s != '/' && esi_url_char_len(s, false, "") == 0)
			return "A route may only contain letters, digits, -._~!$&'()*+,;=:@, '/', %XX escapes and {parameters}.";
		appendBinaryStringInfo(&lit, s, *s == '%' ? 3 : 1);
		s += *s == '%' ? 3 : 1;
	}
	if (lit.len)
	{
		segs[n].text = lit.data;
		segs[n++].paramidx = -1;
	}
	out->nsegments = n;
	out->segments = segs;
	return NULL;
}

/*
 * parse_keyword
 *		The value of a keyword option, or an error.
 */
static int
parse_keyword(DefElem *def, const EsiKeyword *words, const char *detail,
			  const char *hint)
{
	const char *v = defGetString(def);

	for (const EsiKeyword *w = words; w->word; w++)
		if (strcmp(v, w->word) == 0)
			return w->value;
	bad_value(def, detail, hint);
	return 0;					/* not reached */
}

/*
 * parse_int
 *		A whole decimal integer from lo to hi, or false.
 */
static bool
parse_int(const char *s, int lo, int hi, int *result)
{
	char	   *end;
	long		n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || n < lo || n > hi)
		return false;
	*result = (int) n;
	return true;
}

/*
 * parse_value
 *		Check one option's value and store it, typed, at its offset in out.
 */
static void
parse_value(const EsiOption *o, DefElem *def, void *out)
{
	char	   *v = defGetString(def);
	void	   *dest = (char *) out + o->offset;
	const char *problem;

	if ((problem = esi_check_wire_text(v)) != NULL)
		bad_value(def, problem, "Remove the line breaks and other control characters from the value.");

	switch (o->kind)
	{
		case OPT_TEXT:
			if (v[0] == '\0')
				bad_value(def, "The value is empty.",
						  "Give a value, or drop the option with OPTIONS (DROP name).");
			*(char **) dest = v;
			break;
		case OPT_URL:
			if ((problem = esi_check_base_url(v)) != NULL)
				bad_value(def, problem, "Use a URL such as 'https://esi.evetech.net'.");
			*(char **) dest = v;
			break;
		case OPT_DATE:
			if ((problem = esi_check_date(v)) != NULL)
				bad_value(def, problem, "Use a date such as '2026-08-04'.");
			*(char **) dest = v;
			break;
		case OPT_QUERY:
			if ((problem = check_query(v)) != NULL)
				bad_value(def, problem, "Percent-encode names and values, for example 'datasource=tranquility&name=Jita%20IV'.");
			*(char **) dest = v;
			break;
		case OPT_ROUTE:
			if ((problem = parse_route(v, (EsiTableOptions *) out)) != NULL)
				bad_value(def, problem, "Use a route such as '/markets/{region_id}/orders'.");
			*(char **) dest = v;
			break;
		case OPT_BOOL:
			if (!parse_bool(v, (bool *) dest))
				bad_value(def, "The value is not a boolean.", "Use true or false.");
			break;
		case OPT_CONNECTIONS:
			if (!parse_int(v, 1, ESI_MAX_CONNECTIONS, (int *) dest))
				bad_value(def,
						  psprintf("The value must be an integer from 1 to %d, the range of esi_fdw.max_connections.",
								   ESI_MAX_CONNECTIONS),
						  "Use a number such as 8.");
			break;
		case OPT_SECONDS:
			if (!parse_int(v, -1, 100000000, (int *) dest))
				bad_value(def, "The value must be a number of seconds, or -1 when unknown.",
						  "Use a number such as 300.");
			break;
		case OPT_PAGING:
			*(EsiPaging *) dest = parse_keyword(def, paging_words,
												"Paging is one of none, pages, cursor, from_id.",
												"Use paging 'pages' for routes that answer with X-Pages.");
			break;
		case OPT_SHAPE:
			*(EsiShape *) dest = parse_keyword(def, shape_words,
											   "Shape is one of array (of objects), object, values (array of scalars), value (one scalar).",
											   "Use shape 'array' for routes that answer with a list of objects.");
			break;
		case OPT_PARAM_IN:
			*(char *) dest = parse_keyword(def, param_in_words,
										   "A parameter is in the path or in the query string, or (token) is the character whose EVE SSO token is sent.",
										   "Use param 'path', param 'query' or param 'token'.");
			break;
		case OPT_CACHE:
			*(EsiCacheMode *) dest = parse_keyword(def, cache_words,
												   "The cache option is one of on, refresh (revalidate every reply), off.",
												   "Use cache 'off' to neither read nor write the response cache.");
			break;
		case OPT_HTTP_VERSION:
			*(EsiHttpVersion *) dest = parse_keyword(def, http_version_words,
													 "The HTTP version is one of auto (HTTP/2 where TLS negotiates it, else HTTP/1.1), 1.1, 2.",
													 "Use http_version '1.1' to stay on HTTP/1.1 when a server's HTTP/2 misbehaves.");
			break;
	}
}

/*
 * parse_options
 *		Check every option of a list against the definitions of its context
 *		and store the values in out (an EsiServerOptions, EsiTableOptions or
 *		EsiColumnOptions, defaults already filled in).  Used by the validator
 *		and by every reader of options.
 */
static void
parse_options(Oid context, List *options, void *out)
{
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

		parse_value(o, def, out);
	}
}

/*
 * server_defaults
 *		A server's settings before its options: the GUCs.
 */
static void
server_defaults(EsiServerOptions *opts)
{
	memset(opts, 0, sizeof(EsiServerOptions));
	opts->base_url = esi_guc_base_url;
	opts->compat_date = esi_guc_compat_date;
	opts->user_agent = esi_guc_user_agent;
	opts->compression = true;
	opts->max_connections = esi_guc_max_connections;
	opts->http_version = (EsiHttpVersion) esi_guc_http_version;
	opts->sso_url = ESI_DEFAULT_SSO_URL;
}

/*
 * esi_parse_table_options
 *		A foreign table's options, typed, with their defaults.
 */
void
esi_parse_table_options(List *options, EsiTableOptions *out)
{
	memset(out, 0, sizeof(EsiTableOptions));
	out->paging = ESI_PAGING_NONE;
	out->shape = ESI_SHAPE_ARRAY;
	out->cache_seconds = -1;
	parse_options(ForeignTableRelationId, options, out);
}

/*
 * esi_parse_column_options
 *		A foreign table column's options, typed.  A boolean column sent as
 *		a parameter needs both of true_value and false_value.
 */
void
esi_parse_column_options(List *options, EsiColumnOptions *out)
{
	memset(out, 0, sizeof(EsiColumnOptions));
	parse_options(AttributeRelationId, options, out);
	if ((out->true_value != NULL) != (out->false_value != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("option \"%s\" needs option \"%s\"",
						out->true_value ? "true_value" : "false_value",
						out->true_value ? "false_value" : "true_value"),
				 errdetail("A boolean column is sent as one of two parameter values."),
				 errhint("Set both, for example OPTIONS (true_value 'buy', false_value 'sell').")));
}

/*
 * check_base_url_privilege
 *		Only a superuser may point a server anywhere: others may use the
 *		base URLs in esi_fdw.allowed_base_urls.  Otherwise any role with
 *		USAGE on the wrapper could make the database fetch from hosts on its
 *		network and read the replies in error messages.
 */
static void
check_base_url_privilege(const char *option, const char *base_url)
{
	if (superuser() || esi_base_url_allowed(base_url))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to set option \"%s\" to \"%s\"", option, base_url),
			 errdetail("Only a superuser may point a server at a base URL that is not in esi_fdw.allowed_base_urls (\"%s\").",
					   esi_guc_allowed_base_urls ? esi_guc_allowed_base_urls : ""),
			 errhint("Ask a superuser to create the server, or to add the URL to esi_fdw.allowed_base_urls.")));
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

	switch (context)
	{
		case ForeignServerRelationId:
			{
				EsiServerOptions srv;
				ListCell   *lc;

				server_defaults(&srv);
				parse_options(context, options, &srv);
				foreach(lc, options)
				{
					const char *name = ((DefElem *) lfirst(lc))->defname;

					if (strcmp(name, "base_url") == 0)
						check_base_url_privilege(name, srv.base_url);
					else if (strcmp(name, "sso_url") == 0)
						check_base_url_privilege(name, srv.sso_url);
				}
				break;
			}
		case ForeignTableRelationId:
			{
				EsiTableOptions tbl;

				esi_parse_table_options(options, &tbl);
				break;
			}
		case AttributeRelationId:
			{
				EsiColumnOptions col;

				esi_parse_column_options(options, &col);
				break;
			}
		default:
			/* the wrapper and user mappings take no options */
			parse_options(context, options, NULL);
			break;
	}

	PG_RETURN_VOID();
}

/*
 * esi_get_server_options
 *		A server's settings, with the GUCs filling what it does not set.
 *
 *		A base_url outside esi_fdw.allowed_base_urls is used only if the
 *		server belongs to a superuser: the validator checked who set it, but
 *		the list may have shrunk since, and a server's owner may change.
 */
EsiServerOptions *
esi_get_server_options(ForeignServer *server)
{
	EsiServerOptions *opts = palloc(sizeof(EsiServerOptions));
	size_t		n;

	server_defaults(opts);
	parse_options(ForeignServerRelationId, server->options, opts);
	opts->compat_date_option = (opts->compat_date != esi_guc_compat_date);

	/* the GUC's value (no base_url option) was set by a superuser */
	if (opts->base_url != esi_guc_base_url &&
		!esi_base_url_allowed(opts->base_url) && !superuser_arg(server->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" may not use base URL \"%s\"",
						server->servername, opts->base_url),
				 errdetail("The server's owner is not a superuser and the URL is not in esi_fdw.allowed_base_urls."),
				 errhint("Ask a superuser to take ownership of the server or to add the URL to esi_fdw.allowed_base_urls.")));

	if (strcmp(opts->sso_url, ESI_DEFAULT_SSO_URL) != 0 &&
		!esi_base_url_allowed(opts->sso_url) && !superuser_arg(server->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" may not use SSO URL \"%s\"",
						server->servername, opts->sso_url),
				 errdetail("The server's owner is not a superuser and the URL is not in esi_fdw.allowed_base_urls."),
				 errhint("Ask a superuser to take ownership of the server or to add the URL to esi_fdw.allowed_base_urls.")));
	opts->server_name = pstrdup(server->servername);
	opts->server_oid = server->serverid;

	/* join "base" and "/path" without doubling the slash */
	opts->base_url = pstrdup(opts->base_url);
	n = strlen(opts->base_url);
	while (n > 0 && opts->base_url[n - 1] == '/')
		opts->base_url[--n] = '\0';
	return opts;
}
