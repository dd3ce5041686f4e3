/*-------------------------------------------------------------------------
 *
 * tokens.c
 *		  EVE SSO logins from SQL, and the access tokens scans send.
 *
 * A login: esi.login() remembers a state and a PKCE verifier (sealed) and
 * returns SSO's authorize URL; the user opens it, logs in, and hands the
 * URL the browser lands on to esi.login_callback(), which exchanges the
 * code, verifies the access token (sso.c, jwt.c) and has the token writer
 * (token_worker.c) store the character with its refresh token sealed
 * (crypto.c).  esi.logout() revokes the refresh token at SSO and forgets
 * the character.
 *
 * A scan of an authenticated route asks esi_token_for() for the access
 * token of the character in its request: checked against the role (the
 * character's owner, a role it was granted to, or a superuser), its scopes
 * and its state, then served from shared memory while it is valid, else
 * refreshed.  One backend refreshes a character at a time, the others wait
 * and use its result: refresh tokens rotate, and a second refresh with the
 * old one would fail.  The rotated refresh token is stored by the token
 * writer, committed whatever the scan's transaction does.
 *
 * The tables are read and written as the bootstrap superuser with a
 * search_path of pg_catalog only, after checking the calling role: they
 * are not granted to anybody, and row-level security keeps the
 * esi.characters view to each role's own characters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <sys/stat.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "crypto.h"
#include "guc.h"
#include "sso.h"
#include "token_worker.h"
#include "tokens.h"

#define ESI_TOKEN_SLOTS 256
#define ESI_ACCESS_TOKEN_MAX 6144
/* refresh this long before SSO's expiry */
#define ESI_TOKEN_MARGIN_S 60
/* a login started with esi.login() must end within this */
#define ESI_LOGIN_STATE_TTL "10 minutes"
/* logins a role may have started and not finished (nor seen expire) */
#define ESI_LOGIN_PENDING_MAX 10

/*
 * A slot is keyed by database, server and character: servers of the same
 * name in two databases are two servers, and one's token never serves the
 * other (a role owning a server "esi" elsewhere is not the owner of this
 * one's logins).
 */
typedef struct EsiTokenSlot
{
	bool		used;			/* false = free */
	Oid			dboid;
	Oid			server_oid;
	int64		character_id;
	int			refresher;		/* pid refreshing it now, or 0 */
	TimestampTz expires;		/* of the access token */
	TimestampTz refreshed_at;	/* when it was stored */
	TimestampTz last_used;
	int			len;
	char		access_token[ESI_ACCESS_TOKEN_MAX];
} EsiTokenSlot;

typedef struct EsiTokensShared
{
	LWLock		lock;
	EsiTokenSlot slots[ESI_TOKEN_SLOTS];
} EsiTokensShared;

static EsiTokensShared *tokens = NULL;

PG_FUNCTION_INFO_V1(esi_login);
PG_FUNCTION_INFO_V1(esi_login_callback);
PG_FUNCTION_INFO_V1(esi_logout);
PG_FUNCTION_INFO_V1(esi_grant_character);
PG_FUNCTION_INFO_V1(esi_revoke_character);
PG_FUNCTION_INFO_V1(esi_set_client_secret);
PG_FUNCTION_INFO_V1(esi_rekey);
PG_FUNCTION_INFO_V1(esi_bind_sealed);

Size
esi_tokens_shmem_size(void)
{
	return sizeof(EsiTokensShared);
}

void
esi_tokens_shmem_init(void *area, bool found, int tranche)
{
	tokens = area;
	if (!found)
		LWLockInitialize(&tokens->lock, tranche);
}

/* ---------------------------------------------------------------------
 * The tables, as the bootstrap superuser
 * ---------------------------------------------------------------------
 */

typedef struct Privileged
{
	Oid			userid;
	int			sec;
	int			nest;
} Privileged;

static void
begin_privileged(Privileged *p)
{
	GetUserIdAndSecContext(&p->userid, &p->sec);
	p->nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   p->sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "esi_fdw: SPI_connect failed");
}

static void
end_privileged(Privileged *p)
{
	SPI_finish();
	SetUserIdAndSecContext(p->userid, p->sec);
	AtEOXact_GUC(true, p->nest);
}

static int
run(const char *sql, int n, Oid *types, Datum *values, const char *nulls, bool read_only)
{
	int			rc = SPI_execute_with_args(sql, n, types, values, nulls, read_only, 0);

	if (rc < 0)
		elog(ERROR, "esi_fdw: internal query failed (%d)", rc);
	return rc;
}

/* what esi.sso_characters says of one character */
typedef struct CharacterRow
{
	bool		found;
	Oid			owner_role;
	char	   *name;
	char	   *owner_hash;
	List	   *scopes;
	bool		needs_login;
	char	   *reason;
	bytea	   *refresh_token;
	bool		usable;			/* the current role may use it */
} CharacterRow;

/*
 * read_character
 *		A character's row, and whether the current role may use it.
 */
static void
read_character(const char *server, int64 character_id, Oid role, CharacterRow *out)
{
	Privileged p;
	Oid			types[3] = {TEXTOID, INT8OID, OIDOID};
	Datum		values[3];
	MemoryContext caller = CurrentMemoryContext;

	memset(out, 0, sizeof(CharacterRow));
	values[0] = CStringGetTextDatum(server);
	values[1] = Int64GetDatum(character_id);
	values[2] = ObjectIdGetDatum(role);
	begin_privileged(&p);

	/*
	 * The latest committed row, whatever this transaction's snapshot: the
	 * token writer may have rotated the refresh token a moment ago, in this
	 * very statement or after a REPEATABLE READ transaction began.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	run("SELECT c.owner_role, c.name, c.owner_hash, c.scopes, c.needs_login, c.reason, c.refresh_token, "
		"EXISTS (SELECT FROM esi.sso_character_grants g WHERE g.server_name = c.server_name "
		"AND g.character_id = c.character_id AND pg_catalog.pg_has_role($3, g.grantee, 'MEMBER')) "
		"FROM esi.sso_characters c WHERE c.server_name = $1 AND c.character_id = $2",
		3, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;
		MemoryContext old = MemoryContextSwitchTo(caller);

		out->found = true;
		out->owner_role = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		d = SPI_getbinval(tup, desc, 2, &isnull);
		out->name = isnull ? NULL : TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 3, &isnull);
		out->owner_hash = isnull ? NULL : TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		if (!isnull)
		{
			ArrayType  *arr = DatumGetArrayTypeP(d);
			Datum	   *elems;
			bool	   *enulls;
			int			nelems;

			deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
			for (int i = 0; i < nelems; i++)
				if (!enulls[i])
					out->scopes = lappend(out->scopes, TextDatumGetCString(elems[i]));
		}
		out->needs_login = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		d = SPI_getbinval(tup, desc, 6, &isnull);
		out->reason = isnull ? NULL : TextDatumGetCString(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		out->refresh_token = isnull ? NULL : DatumGetByteaPCopy(d);
		out->usable = DatumGetBool(SPI_getbinval(tup, desc, 8, &isnull)) ||
			has_privs_of_role(role, out->owner_role) || superuser_arg(role);
		MemoryContextSwitchTo(old);
	}
	PopActiveSnapshot();
	end_privileged(&p);
}

/*
 * client_secret
 *		The server's client secret (unsealed), or NULL for a public client.
 */
static char *
client_secret(const char *server)
{
	Privileged p;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bytea	   *sealed = NULL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(server);
	begin_privileged(&p);
	run("SELECT secret FROM esi.sso_clients WHERE server_name = $1", 1, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			sealed = DatumGetByteaPCopy(d);
			MemoryContextSwitchTo(old);
		}
	}
	end_privileged(&p);
	if (sealed == NULL)
		return NULL;
	return esi_unseal(sealed, psprintf("client_secret:%s", server), NULL);
}

static char *
refresh_aad(const char *server, int64 character_id)
{
	return psprintf("refresh_token:%s:%lld", server, (long long) character_id);
}

static char *
login_hint(const char *server, const char *scope)
{
	return psprintf("Log the character in: SELECT esi.login('%s', ARRAY['%s']); open the URL it returns, then pass the address the browser lands on to esi.login_callback().",
					server, scope ? scope : "<scope>");
}

/* ---------------------------------------------------------------------
 * Access tokens for scans
 * ---------------------------------------------------------------------
 */

/*
 * find_slot
 *		The slot of a character of a server of this database (the caller
 *		holds tokens->lock); with create, a free or the least recently used
 *		one is taken for it.
 */
static EsiTokenSlot *
find_slot(EsiServerOptions *opts, int64 character_id, bool create)
{
	EsiTokenSlot *oldest = NULL;

	for (int i = 0; i < ESI_TOKEN_SLOTS; i++)
	{
		EsiTokenSlot *s = &tokens->slots[i];

		if (s->used && s->character_id == character_id &&
			s->dboid == MyDatabaseId && s->server_oid == opts->server_oid)
			return s;
		if (s->refresher == 0 &&
			(oldest == NULL || !s->used ||
			 (oldest->used && s->last_used < oldest->last_used)))
			oldest = s;
	}
	if (!create || oldest == NULL)
		return NULL;
	memset(oldest, 0, offsetof(EsiTokenSlot, access_token));
	explicit_bzero(oldest->access_token, sizeof(oldest->access_token));
	oldest->used = true;
	oldest->dboid = MyDatabaseId;
	oldest->server_oid = opts->server_oid;
	oldest->character_id = character_id;
	return oldest;
}

static void
put_token(EsiServerOptions *opts, int64 character_id, const char *token,
		  TimestampTz expires)
{
	EsiTokenSlot *s;
	size_t		len = strlen(token);

	if (len >= ESI_ACCESS_TOKEN_MAX)
		return;
	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, true);
	if (s)
	{
		memcpy(s->access_token, token, len + 1);
		s->len = (int) len;
		s->expires = expires;
		s->refreshed_at = s->last_used = GetCurrentTimestamp();
		if (s->refresher == MyProcPid)
			s->refresher = 0;
	}
	LWLockRelease(&tokens->lock);
}

static void
release_refresh(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s && s->refresher == MyProcPid)
		s->refresher = 0;
	LWLockRelease(&tokens->lock);
}

static void
forget_token(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s)
	{
		explicit_bzero(s->access_token, sizeof(s->access_token));
		s->used = false;
		s->refresher = 0;
	}
	LWLockRelease(&tokens->lock);
}

static void
needs_login(EsiServerOptions *opts, int64 character_id, const char *reason)
{
	EsiTokenRow row = {0};

	row.server = opts->server_name;
	row.character_id = character_id;
	row.reason = reason;
	esi_token_write(ESI_TOKEN_NEEDS_LOGIN, &row);
	forget_token(opts, character_id);
}

/*
 * refresh
 *		Get a new access token with the character's refresh token, store the
 *		rotated refresh token, and return the access token.
 */
static char *
refresh(EsiServerOptions *opts, int64 character_id, CharacterRow *row)
{
	char	   *secret = client_secret(opts->server_name);
	char	   *rt = esi_unseal(row->refresh_token, refresh_aad(opts->server_name, character_id), NULL);
	char	   *form = psprintf("grant_type=refresh_token&refresh_token=%s", esi_sso_form_value(rt));
	EsiSsoTokens tok;
	char	   *err;
	EsiSsoResult res;
	EsiJwtClaims claims;

	res = esi_sso_token(opts, form, secret, &tok, &err);
	explicit_bzero(form, strlen(form));
	if (res == ESI_SSO_INVALID_GRANT)
	{
		needs_login(opts, character_id, "EVE SSO refused the refresh token (invalid_grant): it was revoked or replaced");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the EVE SSO login of character %lld (%s) is no longer valid",
						(long long) character_id, row->name ? row->name : "?"),
				 errdetail("EVE SSO answered invalid_grant: the refresh token was revoked (by the player, or by a change of the application's scopes) or replaced."),
				 errhint("%s", login_hint(opts->server_name, linitial(row->scopes)))));
	}
	if (res != ESI_SSO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("EVE SSO refused to refresh the token of character %lld", (long long) character_id),
				 errdetail("SSO said: %s", err),
				 errhint("Check the server's sso_client_id option and the client secret (esi.set_client_secret).")));
	esi_sso_check_access_token(opts, tok.access_token, &claims);
	if (claims.character_id != character_id)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("EVE SSO's token for character %lld names character %lld",
						(long long) character_id, (long long) claims.character_id),
				 errhint("Log the character in again with esi.login().")));
	if (row->owner_hash && claims.owner && strcmp(row->owner_hash, claims.owner) != 0)
	{
		needs_login(opts, character_id, "the character's owner hash changed: it was transferred to another account");
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("character %lld (%s) changed hands", (long long) character_id,
						row->name ? row->name : "?"),
				 errdetail("EVE SSO's owner hash for the character is not the one of its login: the character was transferred to another account, and its data is no longer this login's."),
				 errhint("If the character is still yours, log it in again with esi.login().")));
	}
	if (tok.refresh_token && strcmp(tok.refresh_token, rt) != 0)
	{
		EsiTokenRow w = {0};

		w.server = opts->server_name;
		w.character_id = character_id;
		w.refresh_token = esi_seal(tok.refresh_token, strlen(tok.refresh_token),
								   refresh_aad(opts->server_name, character_id));
		esi_token_write(ESI_TOKEN_ROTATE, &w);
		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
	}
	explicit_bzero(rt, strlen(rt));
	put_token(opts, character_id, tok.access_token, claims.expires);
	return tok.access_token;
}

/* "foreign table ..." as the start of a sentence */
static char *
capital(const char *subject)
{
	char	   *s = pstrdup(subject);

	s[0] = pg_toupper((unsigned char) s[0]);
	return s;
}

/*
 * check_character
 *		The character's row; ERROR unless the current role may use it with
 *		the scope.
 */
static void
check_character(EsiServerOptions *opts, int64 character_id, const char *scope,
				const char *subject, CharacterRow *row)
{
	read_character(opts->server_name, character_id, GetUserId(), row);
	if (!row->found || !row->usable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no EVE SSO login of character %lld for role \"%s\" on server \"%s\"",
						(long long) character_id, GetUserNameFromId(GetUserId(), false),
						opts->server_name),
				 errdetail("%s needs the character's token with scope %s.", capital(subject), scope),
				 errhint("%s", login_hint(opts->server_name, scope))));
	if (row->needs_login)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("character %lld (%s) needs a new EVE SSO login", (long long) character_id,
						row->name ? row->name : "?"),
				 errdetail("%s.", row->reason ? row->reason : "Its refresh token is no longer valid"),
				 errhint("%s", login_hint(opts->server_name, scope))));
	if (scope)
	{
		ListCell   *lc;
		bool		has = false;

		foreach(lc, row->scopes)
			if (strcmp((char *) lfirst(lc), scope) == 0)
				has = true;
		if (!has)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("the EVE SSO login of character %lld (%s) lacks scope %s",
							(long long) character_id, row->name ? row->name : "?", scope),
					 errdetail("%s needs scope %s.", capital(subject), scope),
					 errhint("Log the character in again asking for it: SELECT esi.login('%s', ARRAY['%s']);",
							 opts->server_name, scope)));
	}
}

/*
 * esi_token_check
 *		May the current role read the character's data with this scope?
 *		(Also for data the cache answers: the cache keeps characters apart,
 *		not roles.)  ERROR if not.
 */
void
esi_token_check(EsiServerOptions *opts, int64 character_id, const char *scope,
				const char *subject)
{
	CharacterRow row;

	check_character(opts, character_id, scope, subject, &row);
}

/*
 * esi_token_invalidate
 *		ESI refused the character's access token (refused: a 401, or a 403
 *		about the token): forget it, so that the next request refreshes it
 *		-- unless the shared token is another one already (a session
 *		refreshed it since), which the next request then uses.  A refresh
 *		under way is left to finish: a second one with the same refresh
 *		token would fail, as SSO rotates them.
 */
void
esi_token_invalidate(EsiServerOptions *opts, int64 character_id,
					 const char *refused)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s && s->len > 0 &&
		(refused == NULL ||
		 (strlen(refused) == (size_t) s->len &&
		  memcmp(s->access_token, refused, s->len) == 0)))
	{
		explicit_bzero(s->access_token, sizeof(s->access_token));
		s->len = 0;
		s->expires = 0;
	}
	LWLockRelease(&tokens->lock);
}

/*
 * esi_token_character_name
 *		The name SSO gave a character the current role may use, for
 *		messages; NULL when there is none.
 */
char *
esi_token_character_name(EsiServerOptions *opts, int64 character_id)
{
	CharacterRow row;

	read_character(opts->server_name, character_id, GetUserId(), &row);
	return row.found && row.usable ? row.name : NULL;
}

/*
 * esi_token_characters
 *		The characters (ids as text) the current role may read with scope on
 *		the server, for a scan without a character_id condition.  Those
 *		that need a new login are left out with a WARNING.
 */
List *
esi_token_characters(EsiServerOptions *opts, const char *scope)
{
	Privileged p;
	Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3];
	List	   *out = NIL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(opts->server_name);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = CStringGetTextDatum(scope ? scope : "");
	begin_privileged(&p);
	run("SELECT c.character_id::text, c.name, c.needs_login FROM esi.sso_characters c "
		"WHERE c.server_name = $1 AND $3 = ANY (c.scopes) AND "
		"(pg_catalog.pg_has_role($2, c.owner_role, 'MEMBER') OR "
		" (SELECT rolsuper FROM pg_catalog.pg_authid WHERE oid = $2) OR "
		" EXISTS (SELECT FROM esi.sso_character_grants g WHERE g.server_name = c.server_name "
		"   AND g.character_id = c.character_id AND pg_catalog.pg_has_role($2, g.grantee, 'MEMBER'))) "
		"ORDER BY c.character_id",
		3, types, values, NULL, true);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		char	   *id = TextDatumGetCString(SPI_getbinval(tup, d, 1, &isnull));

		if (DatumGetBool(SPI_getbinval(tup, d, 3, &isnull)))
		{
			ereport(WARNING,
					(errmsg("character %s (%s) is left out: it needs a new EVE SSO login",
							id, TextDatumGetCString(SPI_getbinval(tup, d, 2, &isnull))),
					 errhint("%s", login_hint(opts->server_name, scope))));
			continue;
		}
		{
			/* SPI's context goes at end_privileged: the list lives on */
			MemoryContext old = MemoryContextSwitchTo(caller);

			out = lappend(out, pstrdup(id));
			MemoryContextSwitchTo(old);
		}
	}
	end_privileged(&p);
	return out;
}

#define ESI_ROLES_SCOPE "esi-characters.read_corporation_roles.v1"

/*
 * esi_token_corporation_character
 *		The character whose token reads a corporation's route: one of the
 *		role's characters in that corporation, with the route's scope and,
 *		when the route needs roles, one of them (from /characters/{id}/roles,
 *		read with the character's token).  ERROR naming the roles when there
 *		is none.
 */
int64
esi_token_corporation_character(EsiServerOptions *opts, int64 corporation_id,
								const char *scope, const char *roles,
								const char *subject)
{
	List	   *chars = esi_token_characters(opts, scope);
	ListCell   *lc;
	bool		member = false;

	foreach(lc, chars)
	{
		int64		id = strtoi64((char *) lfirst(lc), NULL, 10);
		List	   *held;
		ListCell   *lr;
		char	   *tok;
		char	   *rlist;
		char	   *r;
		bool		refused;

		if (esi_sso_character_corporation(opts, id) != corporation_id)
			continue;
		member = true;
		if (roles == NULL || roles[0] == '\0')
			return id;
		/* its roles need their own scope */
		{
			CharacterRow row;
			bool		has = false;
			ListCell   *ls;

			read_character(opts->server_name, id, GetUserId(), &row);
			foreach(ls, row.scopes)
				if (strcmp((char *) lfirst(ls), ESI_ROLES_SCOPE) == 0)
					has = true;
			if (!has || row.needs_login || !row.usable)
				continue;
		}
		tok = esi_token_for(opts, id, ESI_ROLES_SCOPE, subject);
		refused = false;
		held = esi_sso_character_roles(opts, id, tok, &refused);
		if (refused)
		{
			/* ESI refused the token itself: once more with a fresh one */
			esi_token_invalidate(opts, id, tok);
			explicit_bzero(tok, strlen(tok));
			tok = esi_token_for(opts, id, ESI_ROLES_SCOPE, subject);
			held = esi_sso_character_roles(opts, id, tok, NULL);
		}
		explicit_bzero(tok, strlen(tok));
		rlist = pstrdup(roles);
		for (r = strtok(rlist, ","); r; r = strtok(NULL, ","))
			foreach(lr, held)
				if (strcmp((char *) lfirst(lr), r) == 0)
					return id;
	}
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
 * esi_token_for
 *		The access token a request of subject (esi_route_subject) sends for a
 *		character: checked against the current role, the scope and the
 *		character's state; refreshed when needed (once for all backends).
 */
char *
esi_token_for(EsiServerOptions *opts, int64 character_id, const char *scope,
			  const char *subject)
{
	CharacterRow row;
	TimestampTz wait_start = 0;

	check_character(opts, character_id, scope, subject, &row);

	for (;;)
	{
		EsiTokenSlot *s;
		TimestampTz now = GetCurrentTimestamp();
		char	   *tok = NULL;
		bool		mine = false;

		LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
		s = find_slot(opts, character_id, true);
		if (s == NULL)
		{
			LWLockRelease(&tokens->lock);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
					 errmsg("too many EVE SSO characters are being refreshed at once")));
		}
		/*
		 * Fresh enough; or just refreshed by the session this one waited
		 * for (even if SSO made it short-lived): not refreshed again.
		 */
		if (s->len > 0 &&
			(s->expires > now + (int64) ESI_TOKEN_MARGIN_S * USECS_PER_SEC ||
			 (wait_start != 0 && s->refreshed_at >= wait_start && s->expires > now)))
		{
			tok = pnstrdup(s->access_token, s->len);
			s->last_used = now;
		}
		else if (s->refresher != 0 && s->refresher != MyProcPid &&
				 BackendPidGetProc(s->refresher) != NULL &&
				 (wait_start == 0 || now - wait_start < (int64) esi_guc_request_timeout_ms * 2000))
		{
			/* another backend is refreshing it: wait for its token */
			if (wait_start == 0)
				wait_start = now;
		}
		else
		{
			s->refresher = MyProcPid;
			mine = true;
		}
		LWLockRelease(&tokens->lock);
		if (tok)
			return tok;
		if (!mine)
		{
			CHECK_FOR_INTERRUPTS();
			pg_usleep(10000L);
			continue;
		}
		if (RecoveryInProgress())
		{
			release_refresh(opts, character_id);
			ereport(ERROR,
					(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
					 strncmp(subject, "function ", 9) == 0 ?
					 errmsg("%s cannot be called on a hot standby", subject) :
					 errmsg("%s cannot be read on a hot standby", subject),
					 errdetail("EVE SSO rotates refresh tokens on use, and tokens are stored on the primary."),
					 errhint("Read authenticated tables on the primary server.")));
		}
		PG_TRY();
		{
			tok = refresh(opts, character_id, &row);
		}
		PG_CATCH();
		{
			release_refresh(opts, character_id);
			PG_RE_THROW();
		}
		PG_END_TRY();
		return tok;
	}
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

static EsiServerOptions *
server_for_login(const char *name)
{
	ForeignServer *server = GetForeignServerByName(name, false);
	AclResult	acl = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);

	if (acl != ACLCHECK_OK)
		aclcheck_error(acl, OBJECT_FOREIGN_SERVER, server->servername);
	return esi_get_server_options(server);
}

/*
 * esi.login(server text, scopes text[]) returns text
 *		Start a login: the URL to open in a browser.
 */
Datum
esi_login(PG_FUNCTION_ARGS)
{
	char	   *server = text_to_cstring(PG_GETARG_TEXT_PP(0));
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	EsiServerOptions *opts = server_for_login(server);
	Datum	   *elems;
	bool	   *enulls;
	int			nelems;
	List	   *scopes = NIL;
	char	   *state = esi_sso_random(16);
	char	   *verifier = esi_sso_random(32);
	char	   *url;
	Privileged p;
	Oid			types[5] = {TEXTOID, TEXTOID, OIDOID, TEXTARRAYOID, BYTEAOID};
	Datum		values[5];

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &enulls, &nelems);
	for (int i = 0; i < nelems; i++)
		if (!enulls[i])
			scopes = lappend(scopes, TextDatumGetCString(elems[i]));
	url = esi_sso_authorize_url(opts, scopes, state, esi_sso_challenge(verifier));

	values[0] = CStringGetTextDatum(state);
	values[1] = CStringGetTextDatum(server);
	values[2] = ObjectIdGetDatum(GetUserId());
	values[3] = PointerGetDatum(arr);
	values[4] = PointerGetDatum(esi_seal(verifier, strlen(verifier), psprintf("verifier:%s", state)));
	begin_privileged(&p);
	run("DELETE FROM esi.sso_logins WHERE created_at < pg_catalog.now() - interval '" ESI_LOGIN_STATE_TTL "'",
		0, NULL, NULL, NULL, false);
	/* a role's logins in progress are bounded: esi.sso_logins cannot be filled */
	run("SELECT pg_catalog.count(*) FROM esi.sso_logins WHERE role OPERATOR(pg_catalog.=) $1",
		1, &types[2], &values[2], NULL, true);
	{
		bool		isnull;
		int64		pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		if (pending >= ESI_LOGIN_PENDING_MAX)
		{
			end_privileged(&p);
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("role \"%s\" has too many EVE SSO logins in progress",
							GetUserNameFromId(GetUserId(), false)),
					 errdetail("A role may have %d logins started with esi.login() and not finished; each is forgotten %s after it started.",
							   ESI_LOGIN_PENDING_MAX, ESI_LOGIN_STATE_TTL),
					 errhint("Finish one with SELECT * FROM esi.login_callback('<the callback URL>'); or start again after %s.",
							 ESI_LOGIN_STATE_TTL)));
		}
	}
	run("INSERT INTO esi.sso_logins (state, server_name, role, scopes, verifier) VALUES ($1, $2, $3, $4, $5)",
		5, types, values, NULL, false);
	end_privileged(&p);
	explicit_bzero(verifier, strlen(verifier));
	PG_RETURN_TEXT_P(cstring_to_text(url));
}

/*
 * query_value
 *		The value of name in a URL's query string (decoded), or NULL.
 */
static char *
query_value(const char *url, const char *name)
{
	const char *q = strchr(url, '?');
	size_t		nl = strlen(name);

	q = q ? q + 1 : url;
	while (q && *q)
	{
		const char *end = strpbrk(q, "&#");

		if (strncmp(q, name, nl) == 0 && q[nl] == '=')
		{
			const char *v = q + nl + 1;
			size_t		len = end ? (size_t) (end - v) : strlen(v);
			char	   *out = palloc(len + 1);
			size_t		o = 0;

			for (size_t i = 0; i < len; i++)
			{
				if (v[i] == '%' && i + 2 < len && isxdigit((unsigned char) v[i + 1]) &&
					isxdigit((unsigned char) v[i + 2]))
				{
					char		hex[3] = {v[i + 1], v[i + 2], 0};

					out[o++] = (char) strtol(hex, NULL, 16);
					i += 2;
				}
				else
					out[o++] = v[i] == '+' ? ' ' : v[i];
			}
			out[o] = '\0';
			return out;
		}
		if (end == NULL || *end == '#')
			break;
		q = end + 1;
	}
	return NULL;
}

/*
 * hide_statement
 *		Error context callback of esi.login_callback(): every message raised
 *		while it runs (its own, and those of the SQL and the libraries it
 *		calls) is marked so the server log does not repeat the statement
 *		(log_min_error_statement): that statement holds the callback URL,
 *		with its code and state.
 */
static void
hide_statement(void *arg)
{
	errhidestmt(true);
}

/*
 * esi.login_callback(callback text) returns (character_id, name, scopes)
 *		Finish a login with the URL the browser landed on (code and state).
 *		A failure does not put the statement in the server log (see
 *		hide_statement).
 */
Datum
esi_login_callback(PG_FUNCTION_ARGS)
{
	char	   *callback = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *code = query_value(callback, "code");
	char	   *state = query_value(callback, "state");
	Privileged p;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	char	   *server = NULL;
	Oid			role = InvalidOid;
	bytea	   *sealed = NULL;
	Datum		scopes_arr = (Datum) 0;
	bool		expired = false;
	EsiServerOptions *opts;
	char	   *verifier;
	char	   *form;
	EsiSsoTokens tok;
	EsiSsoResult res;
	char	   *err;
	EsiJwtClaims claims;
	EsiTokenRow row = {0};
	StringInfoData sc;
	ListCell   *lc;
	TupleDesc	desc;
	Datum		out[3];
	bool		onulls[3] = {0};
	MemoryContext caller = CurrentMemoryContext;
	ErrorContextCallback hide;

	/* popped before the return; an error unwinds the stack itself */
	hide.callback = hide_statement;
	hide.arg = NULL;
	hide.previous = error_context_stack;
	error_context_stack = &hide;

	if (code == NULL || state == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the callback URL has no %s", code == NULL ? "code" : "state"),
				 errdetail("EVE SSO sends the browser to the application's callback URL with code=... and state=... in its query string."),
				 errhint("Pass the whole address the browser landed on after the login, e.g. SELECT * FROM esi.login_callback('https://localhost/callback?code=...&state=...');")));
	values[0] = CStringGetTextDatum(state);
	begin_privileged(&p);
	run("DELETE FROM esi.sso_logins WHERE state = $1 RETURNING server_name, role, scopes, verifier, "
		"created_at < pg_catalog.now() - interval '" ESI_LOGIN_STATE_TTL "'",
		1, types, values, NULL, false);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext old = MemoryContextSwitchTo(caller);

		server = TextDatumGetCString(SPI_getbinval(tup, d, 1, &isnull));
		role = DatumGetObjectId(SPI_getbinval(tup, d, 2, &isnull));
		scopes_arr = datumCopy(SPI_getbinval(tup, d, 3, &isnull), false, -1);
		sealed = DatumGetByteaPCopy(SPI_getbinval(tup, d, 4, &isnull));
		expired = DatumGetBool(SPI_getbinval(tup, d, 5, &isnull));
		MemoryContextSwitchTo(old);
	}
	end_privileged(&p);
	if (server == NULL || (role != GetUserId() && !superuser()))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("unknown EVE SSO login state"),
				 errdetail("No login started by this role with esi.login() has this state; each state can be used once."),
				 errhint("Start the login again: SELECT esi.login('<server>', ARRAY['<scope>', ...]);")));
	if (expired)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the EVE SSO login expired"),
				 errdetail("A login must be finished within %s of esi.login().", ESI_LOGIN_STATE_TTL),
				 errhint("Start the login again: SELECT esi.login('%s', ARRAY['<scope>', ...]);", server)));
	(void) scopes_arr;

	opts = server_for_login(server);
	verifier = esi_unseal(sealed, psprintf("verifier:%s", state), NULL);
	form = psprintf("grant_type=authorization_code&code=%s&code_verifier=%s",
					esi_sso_form_value(code), esi_sso_form_value(verifier));
	res = esi_sso_token(opts, form, client_secret(server), &tok, &err);
	explicit_bzero(form, strlen(form));
	explicit_bzero(verifier, strlen(verifier));
	if (res != ESI_SSO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("EVE SSO refused the login"),
				 errdetail("SSO said: %s", err),
				 errhint("The code is single-use and short-lived: start the login again with esi.login().")));
	esi_sso_check_access_token(opts, tok.access_token, &claims);

	initStringInfo(&sc);
	appendStringInfoChar(&sc, '{');
	foreach(lc, claims.scopes)
	{
		appendStringInfo(&sc, "%s\"", sc.len > 1 ? "," : "");
		for (const char *c = lfirst(lc); *c; c++)
		{
			if (*c == '"' || *c == '\\')
				appendStringInfoChar(&sc, '\\');
			appendStringInfoChar(&sc, *c);
		}
		appendStringInfoChar(&sc, '"');
	}
	appendStringInfoChar(&sc, '}');

	row.server = server;
	row.character_id = claims.character_id;
	row.name = claims.name ? claims.name : "";
	row.owner_hash = claims.owner ? claims.owner : "";
	row.scopes = sc.data;
	row.role = role;
	row.refresh_token = tok.refresh_token ?
		esi_seal(tok.refresh_token, strlen(tok.refresh_token), refresh_aad(server, claims.character_id)) : NULL;
	esi_token_write(ESI_TOKEN_SAVE, &row);
	if (tok.refresh_token)
		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
	put_token(opts, claims.character_id, tok.access_token, claims.expires);
	explicit_bzero(tok.access_token, strlen(tok.access_token));

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "esi_fdw: login_callback must return a record");
	desc = BlessTupleDesc(desc);
	out[0] = Int64GetDatum(claims.character_id);
	out[1] = CStringGetTextDatum(row.name);
	{
		int			ns = list_length(claims.scopes);
		Datum	   *elems = palloc(sizeof(Datum) * Max(ns, 1));
		int			i = 0;

		foreach(lc, claims.scopes)
			elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
		out[2] = PointerGetDatum(construct_array(elems, ns, TEXTOID, -1, false, TYPALIGN_INT));
	}
	error_context_stack = hide.previous;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, out, onulls)));
}

/*
 * check_owner
 *		The current role may manage the character (its owner or a
 *		superuser).
 */
static CharacterRow *
check_owner(const char *server, int64 character_id)
{
	CharacterRow *row = palloc(sizeof(CharacterRow));

	read_character(server, character_id, GetUserId(), row);
	if (!row->found || !(superuser() || has_privs_of_role(GetUserId(), row->owner_role)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" has no EVE SSO login of character %lld on server \"%s\"",
						GetUserNameFromId(GetUserId(), false), (long long) character_id, server),
				 errhint("Only the role that logged the character in (or a superuser) may do this; see SELECT * FROM esi.characters;")));
	return row;
}

/*
 * esi.logout(server text, character_id bigint)
 *		Revoke the refresh token at SSO and forget the character.
 */
Datum
esi_logout(PG_FUNCTION_ARGS)
{
	char	   *server = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		character_id = PG_GETARG_INT64(1);
	CharacterRow *row = check_owner(server, character_id);
	EsiServerOptions *opts = server_for_login(server);
	EsiTokenRow w = {0};

	if (row->refresh_token)
	{
		char	   *rt = esi_unseal(row->refresh_token, refresh_aad(server, character_id), NULL);

		esi_sso_revoke(opts, rt, client_secret(server));
		explicit_bzero(rt, strlen(rt));
	}
	w.server = server;
	w.character_id = character_id;
	esi_token_write(ESI_TOKEN_FORGET, &w);
	forget_token(opts, character_id);
	PG_RETURN_VOID();
}

static void
grant_or_revoke(FunctionCallInfo fcinfo, bool grant)
{
	char	   *server = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		character_id = PG_GETARG_INT64(1);
	Oid			grantee = PG_GETARG_OID(2);
	Privileged p;
	Oid			types[3] = {TEXTOID, INT8OID, OIDOID};
	Datum		values[3];

	(void) check_owner(server, character_id);
	values[0] = CStringGetTextDatum(server);
	values[1] = Int64GetDatum(character_id);
	values[2] = ObjectIdGetDatum(grantee);
	begin_privileged(&p);
	if (grant)
		run("INSERT INTO esi.sso_character_grants (server_name, character_id, grantee) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
			3, types, values, NULL, false);
	else
		run("DELETE FROM esi.sso_character_grants WHERE server_name = $1 AND character_id = $2 AND grantee = $3",
			3, types, values, NULL, false);
	end_privileged(&p);
}

Datum
esi_grant_character(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, true);
	PG_RETURN_VOID();
}

Datum
esi_revoke_character(PG_FUNCTION_ARGS)
{
	grant_or_revoke(fcinfo, false);
	PG_RETURN_VOID();
}

/*
 * esi.set_client_secret(server text, secret text)
 *		A confidential client's secret, sealed; NULL removes it.  The
 *		function is not STRICT, so a NULL server is refused here (it was
 *		read without a check and crashed the backend).
 */
Datum
esi_set_client_secret(PG_FUNCTION_ARGS)
{
	char	   *server;
	ForeignServer *srv;
	Privileged p;
	Oid			types[2] = {TEXTOID, BYTEAOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	/* not STRICT (a NULL secret removes it), so the server is checked here */
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument server of esi.set_client_secret must not be NULL"),
				 errhint("Give the name of the foreign server, e.g. esi.set_client_secret('esi', 'secret').")));
	server = text_to_cstring(PG_GETARG_TEXT_PP(0));
	srv = GetForeignServerByName(server, false);
	if (!superuser() && !has_privs_of_role(GetUserId(), srv->owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only the owner of server \"%s\" may set its client secret", server)));
	values[0] = CStringGetTextDatum(server);
	if (PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
	{
		char	   *secret = text_to_cstring(PG_GETARG_TEXT_PP(1));

		values[1] = PointerGetDatum(esi_seal(secret, strlen(secret), psprintf("client_secret:%s", server)));
		explicit_bzero(secret, strlen(secret));
	}
	begin_privileged(&p);
	run("INSERT INTO esi.sso_clients (server_name, secret) VALUES ($1, $2) ON CONFLICT (server_name) DO UPDATE SET secret = $2",
		2, types, values, nulls, false);
	end_privileged(&p);
	PG_RETURN_VOID();
}

/*
 * reseal_all
 *		Seal every sealed value of this database's tables again with the
 *		current key, bound to this database (as the bootstrap superuser);
 *		values sealed before 0.6.0 (bound to their row only) are read too.
 *		With unbound_only, only those are sealed again, and one that does
 *		not unseal (its key is gone, it was altered) is counted in *skipped
 *		and left as it is; otherwise that is an error.  Returns the values
 *		sealed again.
 */
static int64
reseal_all(bool unbound_only, int64 *skipped)
{
	Privileged p;
	int64		n = 0;
	static const char *const queries[3][2] = {
		{"SELECT server_name || ':' || character_id, refresh_token, ctid FROM esi.sso_characters WHERE refresh_token IS NOT NULL",
		"UPDATE esi.sso_characters SET refresh_token = $1 WHERE ctid = $2"},
		{"SELECT server_name, secret, ctid FROM esi.sso_clients WHERE secret IS NOT NULL",
		"UPDATE esi.sso_clients SET secret = $1 WHERE ctid = $2"},
		{"SELECT state, verifier, ctid FROM esi.sso_logins",
		"UPDATE esi.sso_logins SET verifier = $1 WHERE ctid = $2"}
	};
	static const char *const prefixes[3] = {"refresh_token:", "client_secret:", "verifier:"};

	begin_privileged(&p);
	for (int q = 0; q < 3; q++)
	{
		SPITupleTable *tab;
		uint64		rows;

		run(queries[q][0], 0, NULL, NULL, NULL, false);
		tab = SPI_tuptable;
		rows = SPI_processed;
		for (uint64 i = 0; i < rows; i++)
		{
			bool		isnull;
			char	   *id = TextDatumGetCString(SPI_getbinval(tab->vals[i], tab->tupdesc, 1, &isnull));
			bytea	   *old = DatumGetByteaPP(SPI_getbinval(tab->vals[i], tab->tupdesc, 2, &isnull));
			Datum		ctid = SPI_getbinval(tab->vals[i], tab->tupdesc, 3, &isnull);
			char	   *aad = psprintf("%s%s", prefixes[q], id);
			size_t		len;
			char	   *plain;
			Oid			types[2] = {BYTEAOID, TIDOID};
			Datum		values[2];

			if (unbound_only && esi_sealed_is_bound(old))
				continue;
			plain = esi_unseal_ext(old, aad, &len, true, unbound_only);
			if (plain == NULL)
			{
				(*skipped)++;
				continue;
			}
			values[0] = PointerGetDatum(esi_seal(plain, len, aad));
			values[1] = ctid;
			explicit_bzero(plain, len);
			run(queries[q][1], 2, types, values, NULL, false);
			n++;
		}
	}
	end_privileged(&p);
	return n;
}

/*
 * esi.rekey() returns bigint
 *		A new key becomes current and every sealed value is sealed again
 *		with it (and bound to this database, for values sealed before
 *		0.6.0); returns the values re-sealed.
 */
Datum
esi_rekey(PG_FUNCTION_ARGS)
{
	int64		skipped = 0;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may re-key esi_fdw's tokens")));
	esi_crypto_add_key();
	PG_RETURN_INT64(reseal_all(false, &skipped));
}

/*
 * esi._bind_sealed() returns bigint
 *		The update to 0.6.0: values sealed before (bound to their row only)
 *		are sealed again bound to this database too, with the key that is
 *		current; returns how many.  No key is added.  Values that cannot be
 *		read (the key file or their key is missing) are left, with a
 *		WARNING: esi.rekey() binds them once the key is back.
 */
Datum
esi_bind_sealed(PG_FUNCTION_ARGS)
{
	int64		skipped = 0;
	int64		n;
	struct stat st;
	char	   *path;

	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may bind esi_fdw's sealed values to the database")));
	path = esi_crypto_key_file_path();
	if (stat(path, &st) != 0)
	{
		/* nothing was ever sealed with this key file, or it is elsewhere */
		Privileged p;

		begin_privileged(&p);
		run("SELECT FROM esi.sso_characters WHERE refresh_token IS NOT NULL "
			"UNION ALL SELECT FROM esi.sso_clients WHERE secret IS NOT NULL "
			"UNION ALL SELECT FROM esi.sso_logins",
			0, NULL, NULL, NULL, true);
		skipped = (int64) SPI_processed;
		end_privileged(&p);
		if (skipped > 0)
			ereport(WARNING,
					(errmsg("%lld sealed values of esi_fdw were not bound to database \"%s\"",
							(long long) skipped, get_database_name(MyDatabaseId)),
					 errdetail("Key file \"%s\" does not exist.", path),
					 errhint("Put the key file back (or set esi_fdw.key_file), then run SELECT esi.rekey(); as a superuser.")));
		PG_RETURN_INT64(0);
	}
	n = reseal_all(true, &skipped);
	if (skipped > 0)
		ereport(WARNING,
				(errmsg("%lld sealed values of esi_fdw were not bound to database \"%s\"",
						(long long) skipped, get_database_name(MyDatabaseId)),
				 errdetail("Their keys are not in key file \"%s\", or they were altered.", path),
				 errhint("Put the dropped keys back into the key file from a backup, then run SELECT esi.rekey(); as a superuser.")));
	PG_RETURN_INT64(n);
}
