/*-------------------------------------------------------------------------
 *
 * bearer.c
 *		  The Authorization of a crawl's requests, from the token service.
 *
 * A route with an SSO scope acts for a character: the request's
 * character_id, or on a corporation's route a character of the
 * corporation's that tokens.c chooses (once per crawl and corporation).
 * This is the EsiBearerSource (crawl.h) a scan, a lookup or a write hands
 * to its crawl: it names the character of each request, checks once per
 * crawl and character that the role may read it, and keeps each
 * character's "Bearer <access token>" for the crawl's other requests until
 * ESI refuses it.  Everything that may run SQL, talk to EVE SSO or wait for
 * the token worker happens in tokens.c, behind these calls.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "bearer.h"
#include "esi_error.h"
#include "tokens.h"

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
 * tb_subject
 *		The character a request acts for: its character_id, or for a
 *		corporation's route the character chosen for the corporation, once
 *		per crawl (tokens.c asks ESI and SSO which of the logins may).
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
	id = esi_token_corporation_character(tb->opts, strtoi64(v, NULL, 10), tb->route->scope,
										 tb->route->roles, esi_route_subject(tb->route));
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
