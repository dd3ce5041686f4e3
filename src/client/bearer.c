/*-------------------------------------------------------------------------
 *
 * bearer.c
 *		  The Authorization of a crawl's requests, from the token service.
 *
 * A route with an SSO scope acts for a character: the request's
 * character_id, or on a corporation's route a character of the
 * corporation's, chosen here once per crawl and corporation.
 * This is the EsiBearerSource (crawl.h) a scan, a lookup or a write hands
 * to its crawl: it names the character of each request, checks once per
 * crawl and character that the role may read it, and keeps each
 * character's "Bearer <access token>" for the crawl's other requests until
 * ESI refuses it.  Everything that may run SQL, talk to EVE SSO or wait for
 * the token worker happens in tokens.c, behind these calls.
 *
 * Choosing a corporation's character asks ESI for each candidate's
 * corporation (/characters/{character_id}) and, when the route needs
 * corporation roles, its roles (/characters/{character_id}/roles, with the
 * candidate's token).  Those are nested crawls of one request each
 * (ESI_CRAWL_NESTED), so they share the cache, ESI's limits, the renewal of
 * a refused token and esi.route_stats with every other request.  Their
 * bearer source is one of a character's route: it never chooses a
 * corporation's character, so the nesting is one level deep.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "bearer.h"
#include "decode.h"
#include "esi_error.h"
#include "request.h"
#include "tokens.h"

#define ESI_ROLES_SCOPE "esi-characters.read_corporation_roles.v1"

typedef struct TokenBearers
{
	EsiBearerSource src;		/* first: the crawl sees only this */
	MemoryContext cxt;
	EsiRoute   *route;
	EsiServerOptions *opts;
	int			character_param;	/* the character_id parameter, or -1 */
	int			corporation_param;	/* a corporation's route: the
									 * corporation_id parameter, or -1 */
	List	   *corp_choices;	/* "<corporation_id>\n<character_id>" */
	List	   *bearers;		/* "<character_id>\nBearer <access token>" */
	List	   *checked;		/* character ids (int64 *) the role may read */
} TokenBearers;

/*
 * character_number
 *		A character_id as a number.
 */
static int64
character_number(const char *who)
{
	char	   *end;
	int64		id = strtoi64(who, &end, 10);

	if (*end != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("character_id \"%s\" is not a number", who)));
	return id;
}

/*
 * character_route
 *		The EsiRoute of a GET on one of a character's routes (path: the
 *		catalog's template, {character_id} its only parameter), for a nested
 *		crawl of a chooser working for route: its messages and token checks
 *		name route's table or function.
 */
static EsiRoute *
character_route(EsiRoute *route, const char *path, const char *scope,
				const char *rate_group)
{
	EsiRoute   *r = palloc0(sizeof(EsiRoute));
	const char *brace = strchr(path, '{');
	const char *close = strchr(path, '}');

	Assert(brace != NULL && close != NULL);
	r->relname = route->relname;
	r->is_function = route->is_function;
	r->route = pstrdup(path);
	r->shape = ESI_SHAPE_OBJECT;
	r->paging = ESI_PAGING_NONE;
	r->scope = scope ? pstrdup(scope) : NULL;
	r->rate_group = rate_group ? pstrdup(rate_group) : NULL;
	r->cache = ESI_CACHE_ON;
	r->nparams = 1;
	r->params = palloc0(sizeof(EsiParamCol));
	r->params[0].attnum = 1;
	r->params[0].colname = "character_id";
	r->params[0].param = "character_id";
	r->params[0].in = 'p';
	r->params[0].required = true;
	r->params[0].typoid = INT8OID;
	r->segments = palloc0(sizeof(EsiRouteSegment) * 3);
	r->segments[0].text = pnstrdup(path, brace - path);
	r->segments[1].text = "character_id";
	r->segments[1].is_param = true;
	r->segments[1].paramidx = 0;
	r->nsegments = 2;
	if (close[1] != '\0')
	{
		r->segments[2].text = pstrdup(close + 1);
		r->nsegments = 3;
	}
	return r;
}

/*
 * character_get
 *		GET one of a character's routes (character_route) for the chooser:
 *		a nested crawl of one request, with the character's token when the
 *		route has a scope, in a context of its own.  ERROR as a scan of the
 *		route would raise; else ESI's reply, NUL-terminated, its length in
 *		*len (an empty text when the crawl had no page).
 */
static char *
character_get(EsiServerOptions *opts, EsiRoute *r, int64 character_id, size_t *len)
{
	char	   *values[1];
	EsiCrawlStats stats;
	EsiCrawl   *crawl;
	EsiPage    *page;
	EsiRequest *req;
	char	   *body = NULL;
	MemoryContext old = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "esi_fdw character lookup",
											  ALLOCSET_SMALL_SIZES);

	MemoryContextSwitchTo(cxt);
	values[0] = psprintf("%lld", (long long) character_id);
	req = esi_request_build(r, values);
	memset(&stats, 0, sizeof(stats));
	crawl = esi_crawl_begin(CurrentMemoryContext, r, opts,
							esi_requests_from_list(r, list_make1(req)),
							-1, esi_token_bearers(CurrentMemoryContext, r, opts),
							ESI_CRAWL_NESTED, &stats);
	*len = 0;
	while ((page = esi_crawl_next_page(crawl)) != NULL)
	{
		/* the reply outlives the lookup's context */
		body = MemoryContextAlloc(old, page->len + 1);
		memcpy(body, page->body, page->len);
		body[page->len] = '\0';
		*len = page->len;
		esi_crawl_page_done(crawl, page);
	}
	esi_crawl_end(crawl);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return body ? body : pstrdup("");
}

/*
 * character_decoder
 *		Start an initialized decoder on the reply of a character's route:
 *		the scan's errors for a reply that is not JSON (HV00A) or of another
 *		layout (HV004), with a HINT for a reply that is no table's; their
 *		CONTEXT names the character being chosen (corporation_character).
 */
static void
character_decoder(EsiDecoder *d, const char *body, size_t len)
{
	d->layout_hint = "ESI or a proxy sent a reply of another layout than ESI documents for the route; run the query again, and check the server's base_url option if it persists.";
	esi_decoder_begin_page(d, body, len);
}

/*
 * character_corporation
 *		The corporation of a character (public /characters/{id}, its
 *		"corporation_id"), 0 if ESI's reply names none.
 */
static int64
character_corporation(EsiRoute *route, EsiServerOptions *opts, int64 character_id)
{
	const char *path = "/characters/{character_id}";
	size_t		len;
	char	   *body = character_get(opts, character_route(route, path, NULL, NULL),
									 character_id, &len);
	EsiDecoder	d;
	EsiDecodeColumn col;
	Datum		v;
	bool		isnull = true;
	Datum		v_end;
	bool		isnull_end;
	int64		corp = 0;

	esi_decode_column_field(&col, "corporation_id", 0, INT8OID);
	esi_decoder_init(&d, ESI_SHAPE_OBJECT, NULL, &col, 1, path);
	character_decoder(&d, body, len);
	/* one record, then the end (nothing may follow it) */
	if (esi_decoder_next(&d, &v, &isnull) && !isnull)
		corp = DatumGetInt64(v);
	(void) esi_decoder_next(&d, &v_end, &isnull_end);
	return corp;
}

/*
 * character_holds_role
 *		Whether a character holds one of roles (comma-separated), from its
 *		corporation roles (/characters/{id}/roles, the list "roles"; the
 *		other members, the roles at a base, at HQ or elsewhere, are not
 *		read), read with its token.
 */
static bool
character_holds_role(EsiRoute *route, EsiServerOptions *opts, int64 character_id,
					 const char *roles)
{
	const char *path = "/characters/{character_id}/roles";
	size_t		len;
	char	   *body = character_get(opts, character_route(route, path,
														   ESI_ROLES_SCOPE, "char-detail"),
									 character_id, &len);
	EsiDecoder	d;
	EsiDecodeColumn col;
	Datum		v;
	bool		isnull;
	List	   *held = NIL;
	char	   *rlist = pstrdup(roles);
	bool		holds = false;

	esi_decode_column_field(&col, "roles", 0, TEXTOID);
	esi_decoder_init_groups(&d, ESI_SHAPE_VALUES, "roles", &col, 1, path);
	character_decoder(&d, body, len);
	for (;;)
	{
		isnull = true;
		if (!esi_decoder_next(&d, &v, &isnull))
			break;
		if (!isnull)
			held = lappend(held, TextDatumGetCString(v));
	}
	for (char *r = strtok(rlist, ","); r && !holds; r = strtok(NULL, ","))
	{
		ListCell   *lc;

		foreach(lc, held)
			if (strcmp((char *) lfirst(lc), r) == 0)
				holds = true;
	}
	return holds;
}

/* what the chooser is doing, for the CONTEXT line of its errors */
typedef struct ChooseContext
{
	const char *subject;
	int64		corporation_id;
} ChooseContext;

static void
choose_context(void *arg)
{
	ChooseContext *cc = (ChooseContext *) arg;

	errcontext("choosing the character that reads %s for corporation %lld",
			   cc->subject, (long long) cc->corporation_id);
}

/*
 * corporation_character
 *		The character whose token reads a corporation's route: one of the
 *		role's characters in that corporation, with the route's scope and,
 *		when the route needs roles, one of them (from /characters/{id}/roles,
 *		read with the character's token).  ERROR naming the roles when there
 *		is none.
 */
static int64
corporation_character(EsiRoute *route, EsiServerOptions *opts, int64 corporation_id)
{
	const char *scope = route->scope;
	const char *roles = route->roles;
	const char *subject = esi_route_subject(route);
	List	   *chars = esi_token_characters(opts, scope);
	ListCell   *lc;
	bool		member = false;
	ChooseContext cc;
	ErrorContextCallback ctx;

	cc.subject = subject;
	cc.corporation_id = corporation_id;
	ctx.callback = choose_context;
	ctx.arg = &cc;
	ctx.previous = error_context_stack;
	error_context_stack = &ctx;
	foreach(lc, chars)
	{
		int64		id = strtoi64((char *) lfirst(lc), NULL, 10);

		if (character_corporation(route, opts, id) != corporation_id)
			continue;
		member = true;
		if (roles == NULL || roles[0] == '\0')
		{
			error_context_stack = ctx.previous;
			return id;
		}
		/* its roles need their own scope */
		{
			EsiCharacterRow row;
			bool		has = false;
			ListCell   *ls;

			esi_character_read(opts->server_name, id, GetUserId(), &row);
			foreach(ls, row.scopes)
				if (strcmp((char *) lfirst(ls), ESI_ROLES_SCOPE) == 0)
					has = true;
			if (!has || row.needs_login || !row.usable)
				continue;
		}
		if (character_holds_role(route, opts, id, roles))
		{
			error_context_stack = ctx.previous;
			return id;
		}
	}
	error_context_stack = ctx.previous;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("no character of role \"%s\" may read %s for corporation %lld",
					GetUserNameFromId(GetUserId(), false), subject, (long long) corporation_id),
			 member ?
			 errdetail("The route needs one of the corporation roles %s; none of the role's characters in the corporation holds one (or its login lacks scope %s).",
					   roles, ESI_ROLES_SCOPE) :
			 errdetail("None of the role's characters with scope %s is in corporation %lld.", scope, (long long) corporation_id),
			 errhint("Log in a character of the corporation%s: SELECT esi.login('%s', ARRAY['%s', '%s']);",
					 roles ? psprintf(" holding one of the roles %s", roles) : "",
					 opts->server_name, scope, ESI_ROLES_SCOPE)));
	return 0;					/* not reached */
}

/*
 * tb_subject
 *		The character a request acts for: its character_id, or for a
 *		corporation's route the character chosen for the corporation, once
 *		per crawl (corporation_character asks ESI which of the logins may).
 */
static const char *
tb_subject(EsiBearerSource *src, EsiRequest *req)
{
	TokenBearers *tb = (TokenBearers *) src;
	const char *v;
	ListCell   *lc;
	size_t		vl;
	int64		id;
	MemoryContext old;

	if (tb->character_param >= 0)
	{
		v = req->sent[tb->character_param];
		if (v == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
					 errmsg("%s needs a character_id", esi_route_subject(tb->route)),
					 errhint("Add a condition such as WHERE character_id = 2112625428.")));
		return v;
	}

	v = req->sent[tb->corporation_param];
	if (v == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_DYNAMIC_PARAMETER_VALUE_NEEDED),
				 errmsg("%s needs a corporation_id", esi_route_subject(tb->route)),
				 errhint("Add a condition such as WHERE corporation_id = 98000001.")));
	vl = strlen(v);
	foreach(lc, tb->corp_choices)
	{
		char	   *ch = lfirst(lc);

		if (strncmp(ch, v, vl) == 0 && ch[vl] == '\n')
			return ch + vl + 1;
	}
	id = corporation_character(tb->route, tb->opts, strtoi64(v, NULL, 10));
	old = MemoryContextSwitchTo(tb->cxt);
	tb->corp_choices = lappend(tb->corp_choices, psprintf("%s\n%lld", v, (long long) id));
	MemoryContextSwitchTo(old);
	return (char *) llast(tb->corp_choices) + vl + 1;
}

/*
 * tb_check
 *		Check once per crawl and character that the role may read it.
 */
static void
tb_check(EsiBearerSource *src, const char *who)
{
	TokenBearers *tb = (TokenBearers *) src;
	int64		id = character_number(who);
	ListCell   *lc;
	int64	   *p;

	foreach(lc, tb->checked)
		if (*(int64 *) lfirst(lc) == id)
			return;
	esi_token_check(tb->opts, id, tb->route->scope, esi_route_subject(tb->route));
	p = MemoryContextAlloc(tb->cxt, sizeof(int64));
	*p = id;
	tb->checked = lappend(tb->checked, p);
}

/*
 * tb_bearer
 *		The Authorization of a request: its character's access token
 *		(tokens.c checks the role, the scope and the login, and refreshes
 *		it); kept for the crawl's other requests.
 */
static const char *
tb_bearer(EsiBearerSource *src, const char *who)
{
	TokenBearers *tb = (TokenBearers *) src;
	size_t		wl = strlen(who);
	ListCell   *lc;
	int64		id;
	char	   *tok;
	MemoryContext old;

	foreach(lc, tb->bearers)
	{
		char	   *b = lfirst(lc);

		if (strncmp(b, who, wl) == 0 && b[wl] == '\n')
			return b + wl + 1;
	}
	id = character_number(who);
	tok = esi_token_for(tb->opts, id, tb->route->scope, esi_route_subject(tb->route));
	old = MemoryContextSwitchTo(tb->cxt);
	tb->bearers = lappend(tb->bearers, psprintf("%s\nBearer %s", who, tok));
	MemoryContextSwitchTo(old);
	explicit_bzero(tok, strlen(tok));
	return (char *) llast(tb->bearers) + wl + 1;
}

/*
 * tb_refused
 *		ESI refused the token a request was sent with: forget it here and
 *		for every session, so that the next request gets a refreshed one.
 *		When the source holds another token for the character already (a
 *		request refused before this one had it refreshed), that one is
 *		kept: the requests in flight with the old token do not refresh it
 *		again and again.
 */
static void
tb_refused(EsiBearerSource *src, const char *who, const char *bearer)
{
	TokenBearers *tb = (TokenBearers *) src;
	size_t		wl = strlen(who);
	ListCell   *lc;

	foreach(lc, tb->bearers)
	{
		char	   *b = lfirst(lc);

		if (strncmp(b, who, wl) == 0 && b[wl] == '\n')
		{
			if (b + wl + 1 != bearer)
				return;
			/* "Bearer <token>": the token is what the shared slot holds */
			esi_token_invalidate(tb->opts, character_number(who),
								 b + wl + 1 + strlen("Bearer "));
			explicit_bzero(b, strlen(b));
			tb->bearers = foreach_delete_current(tb->bearers, lc);
			return;
		}
	}
}

/*
 * tb_release
 *		Wipe the tokens held.
 */
static void
tb_release(EsiBearerSource *src)
{
	TokenBearers *tb = (TokenBearers *) src;
	ListCell   *lc;

	foreach(lc, tb->bearers)
		explicit_bzero(lfirst(lc), strlen(lfirst(lc)));
	tb->bearers = NIL;
}

/*
 * esi_token_bearers
 *		The bearer source of a crawl on route: NULL when the route is public
 *		(no scope) or names no character to act for; else one that lives in
 *		cxt (the crawl's parent context, or longer).
 */
EsiBearerSource *
esi_token_bearers(MemoryContext cxt, EsiRoute *route, EsiServerOptions *opts)
{
	TokenBearers *tb;
	int			character_param;
	int			corporation_param = -1;

	if (route->scope == NULL)
		return NULL;
	character_param = esi_route_character_param(route);
	if (character_param < 0)
		corporation_param = esi_route_corporation_param(route);
	if (character_param < 0 && corporation_param < 0)
		return NULL;

	tb = MemoryContextAllocZero(cxt, sizeof(TokenBearers));
	tb->src.subject = tb_subject;
	tb->src.check = tb_check;
	tb->src.bearer = tb_bearer;
	tb->src.refused = tb_refused;
	tb->src.release = tb_release;
	tb->cxt = cxt;
	tb->route = route;
	tb->opts = opts;
	tb->character_param = character_param;
	tb->corporation_param = corporation_param;
	return &tb->src;
}
