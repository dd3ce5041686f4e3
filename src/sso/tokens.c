/*-------------------------------------------------------------------------
 *
 * tokens.c
 *		  The token service: the access tokens scans and calls send, and
 *		  the refresh tokens they are made from.
 *
 * A scan of an authenticated route asks esi_token_for() for the access
 * token of the character in its request: checked against the role (the
 * character's owner, a role it was granted to, or a superuser), its scopes
 * and its state, then served from shared memory while it is valid, else
 * refreshed.  One backend refreshes a character at a time, the others wait
 * and use its result (sleeping on a condition variable, which
 * pg_stat_activity shows as wait_event Extension): refresh tokens rotate,
 * and a second refresh with the old one would fail.  The rotated refresh
 * token is stored by the token writer (token_worker.c), committed whatever
 * the scan's transaction does.
 *
 * A rotated refresh token is never lost for want of a worker slot: it is
 * kept, sealed, in the character's slot in shared memory from the moment
 * SSO answers until a token writer has committed it.  While it is kept
 * (pending), the next refresh of the character anywhere in the cluster
 * uses it, not the stale one in esi.sso_characters, and the slot is not
 * given to another character; when no worker slot is free the backend
 * says so with a WARNING, and the next backend of the database that needs
 * a character's token starts the writer again.  When every slot is taken
 * (being refreshed, or holding a token to store) a refresh fails before
 * SSO is asked, so nothing is rotated to be lost.  Shared memory does not
 * survive a server restart: a token still pending then is lost, and the
 * character needs a new login (doc/sso.md).
 *
 * The logins' SQL API (esi.login() and the rest) is logins.c; it uses the
 * helpers of the "shared with logins.c" part of tokens.h.  The tables are
 * read as the bootstrap superuser with search_path pinned
 * (privileged_sql.c), after checking the calling role: they are not
 * granted to anybody, and row-level security keeps the esi.characters
 * view to each role's own characters.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/condition_variable.h"
#include "storage/lwlock.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "crypto.h"
#include "guc.h"
#include "privileged_sql.h"
#include "sso.h"
#include "token_worker.h"
#include "tokens.h"

#define ESI_TOKEN_SLOTS 256
#define ESI_ACCESS_TOKEN_MAX 6144
/* a sealed rotated refresh token kept until stored (SSO's are 24 characters) */
#define ESI_PENDING_TOKEN_MAX 1024
/* refresh this long before SSO's expiry */
#define ESI_TOKEN_MARGIN_S 60

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
	/* a rotated refresh token not stored yet (see the top of the file) */
	bool		pending;
	uint64		pending_gen;	/* changes with each token kept */
	char		server_name[NAMEDATALEN];
	int			pending_len;
	char		pending_token[ESI_PENDING_TOKEN_MAX];	/* sealed */
	int			len;
	char		access_token[ESI_ACCESS_TOKEN_MAX];
} EsiTokenSlot;

typedef struct EsiTokensShared
{
	LWLock		lock;
	ConditionVariable refreshed;	/* broadcast when a refresh ends */
	int			npending;		/* slots with pending set */
	uint64		next_gen;
	EsiTokenSlot slots[ESI_TOKEN_SLOTS];
} EsiTokensShared;

static EsiTokensShared *tokens = NULL;

/*
 * esi_tokens_shmem_size
 *		The token slots' part of shared memory.
 */
Size
esi_tokens_shmem_size(void)
{
	return sizeof(EsiTokensShared);
}

/*
 * esi_tokens_shmem_init
 *		Set up (or attach to) the token slots, at server start (shmem.c's
 *		part init: the area comes zeroed).
 */
void
esi_tokens_shmem_init(void *area, bool found, int tranche)
{
	tokens = area;
	if (!found)
	{
		LWLockInitialize(&tokens->lock, tranche);
		ConditionVariableInit(&tokens->refreshed);
	}
}

/* ---------------------------------------------------------------------
 * The tables, as the bootstrap superuser
 * ---------------------------------------------------------------------
 */

/*
 * esi_character_read
 *		A character's row, and whether the current role may use it.
 */
void
esi_character_read(const char *server, int64 character_id, Oid role, EsiCharacterRow *out)
{
	EsiPrivileged p;
	Oid			types[3] = {TEXTOID, INT8OID, OIDOID};
	Datum		values[3];
	MemoryContext caller = CurrentMemoryContext;

	memset(out, 0, sizeof(EsiCharacterRow));
	values[0] = CStringGetTextDatum(server);
	values[1] = Int64GetDatum(character_id);
	values[2] = ObjectIdGetDatum(role);
	esi_privileged_begin(&p);

	/*
	 * The latest committed row, whatever this transaction's snapshot: the
	 * token writer may have rotated the refresh token a moment ago, in this
	 * very statement or after a REPEATABLE READ transaction began.
	 */
	PushActiveSnapshot(GetLatestSnapshot());
	esi_privileged_run("SELECT c.owner_role, c.name, c.owner_hash, c.scopes, c.needs_login, c.reason, c.refresh_token, "
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
	esi_privileged_end(&p);
}

/*
 * esi_token_client_secret
 *		The server's client secret (unsealed), or NULL for a public client.
 */
char *
esi_token_client_secret(const char *server)
{
	EsiPrivileged p;
	Oid			types[1] = {TEXTOID};
	Datum		values[1];
	bytea	   *sealed = NULL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(server);
	esi_privileged_begin(&p);
	esi_privileged_run("SELECT secret FROM esi.sso_clients WHERE server_name = $1", 1, types, values, NULL, true);
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
	esi_privileged_end(&p);
	if (sealed == NULL)
		return NULL;
	return esi_unseal(sealed, psprintf("client_secret:%s", server), NULL);
}

/*
 * esi_token_refresh_aad
 *		What a character's sealed refresh token is bound to.
 */
char *
esi_token_refresh_aad(const char *server, int64 character_id)
{
	return psprintf("refresh_token:%s:%lld", server, (long long) character_id);
}

/*
 * esi_token_login_hint
 *		The HINT of an error that a new login of the character cures.
 */
static char *
esi_token_login_hint(const char *server, const char *scope)
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
		if (s->refresher == 0 && !s->pending &&
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

/*
 * esi_token_put
 *		Share a character's access token with every session, until expires;
 *		the refresh this session ran, if any, is over.
 */
void
esi_token_put(EsiServerOptions *opts, int64 character_id, const char *token,
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
	ConditionVariableBroadcast(&tokens->refreshed);
}

/*
 * release_refresh
 *		A refresh this session ran failed: another session may refresh.
 */
static void
release_refresh(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s && s->refresher == MyProcPid)
		s->refresher = 0;
	LWLockRelease(&tokens->lock);
	ConditionVariableBroadcast(&tokens->refreshed);
}

/*
 * esi_token_forget
 *		Drop a character's slot: its access token and any refresh token
 *		kept for it (logout, or a login that is no longer valid).
 */
void
esi_token_forget(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s)
	{
		explicit_bzero(s->access_token, sizeof(s->access_token));
		if (s->pending)
			tokens->npending--;
		s->pending = false;
		explicit_bzero(s->pending_token, sizeof(s->pending_token));
		s->used = false;
		s->refresher = 0;
	}
	LWLockRelease(&tokens->lock);
	ConditionVariableBroadcast(&tokens->refreshed);
}

/* ---------------------------------------------------------------------
 * Rotated refresh tokens kept until they are stored
 * ---------------------------------------------------------------------
 */

/*
 * keep_pending
 *		Keep a rotated refresh token (sealed) in the character's slot until
 *		a token writer has stored it.  The caller is the slot's refresher,
 *		so the slot is there.
 */
static void
keep_pending(EsiServerOptions *opts, int64 character_id, const bytea *sealed)
{
	EsiTokenSlot *s;
	int			len = VARSIZE_ANY_EXHDR(sealed);

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s)
	{
		if (!s->pending)
			tokens->npending++;
		s->pending = true;
		s->pending_gen = ++tokens->next_gen;
		strlcpy(s->server_name, opts->server_name, NAMEDATALEN);
		explicit_bzero(s->pending_token, sizeof(s->pending_token));
		memcpy(s->pending_token, VARDATA_ANY(sealed), len);
		s->pending_len = len;
	}
	LWLockRelease(&tokens->lock);
	if (s == NULL)
		elog(ERROR, "esi_fdw: the token slot of character %lld is gone", (long long) character_id);
}

/*
 * esi_token_pending_sealed
 *		The character's rotated refresh token not stored yet (sealed), or
 *		NULL.
 */
bytea *
esi_token_pending_sealed(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;
	bytea	   *out = NULL;

	LWLockAcquire(&tokens->lock, LW_SHARED);
	s = find_slot(opts, character_id, false);
	if (s && s->pending)
	{
		out = palloc(VARHDRSZ + s->pending_len);
		SET_VARSIZE(out, VARHDRSZ + s->pending_len);
		memcpy(VARDATA(out), s->pending_token, s->pending_len);
	}
	LWLockRelease(&tokens->lock);
	return out;
}

/*
 * esi_token_forget_pending
 *		Drop the character's pending refresh token: a new login replaces it.
 */
void
esi_token_forget_pending(EsiServerOptions *opts, int64 character_id)
{
	EsiTokenSlot *s;

	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	s = find_slot(opts, character_id, false);
	if (s && s->pending)
	{
		s->pending = false;
		explicit_bzero(s->pending_token, sizeof(s->pending_token));
		tokens->npending--;
	}
	LWLockRelease(&tokens->lock);
}

/*
 * database_has_pending
 *		Does a slot of this database hold a refresh token to store?
 */
static bool
database_has_pending(void)
{
	bool		any = false;

	if (tokens->npending == 0)	/* unlocked peek: an int read */
		return false;
	LWLockAcquire(&tokens->lock, LW_SHARED);
	for (int i = 0; i < ESI_TOKEN_SLOTS && !any; i++)
		any = tokens->slots[i].used && tokens->slots[i].pending &&
			tokens->slots[i].dboid == MyDatabaseId;
	LWLockRelease(&tokens->lock);
	return any;
}

/*
 * esi_token_pending_databases
 *		The databases (at most max, into out) whose slots hold refresh
 *		tokens to store; how many.
 */
int
esi_token_pending_databases(Oid *out, int max)
{
	int			n = 0;

	if (tokens->npending == 0)	/* unlocked peek: an int read */
		return 0;
	LWLockAcquire(&tokens->lock, LW_SHARED);
	for (int i = 0; i < ESI_TOKEN_SLOTS; i++)
	{
		EsiTokenSlot *s = &tokens->slots[i];
		bool		seen = false;

		if (!s->used || !s->pending)
			continue;
		for (int k = 0; k < n && !seen; k++)
			seen = (out[k] == s->dboid);
		if (!seen && n < max)
			out[n++] = s->dboid;
	}
	LWLockRelease(&tokens->lock);
	return n;
}

/*
 * esi_token_pending_drop_database
 *		Forget the refresh tokens kept for database dboid: esi_fdw is not
 *		installed there any more, nothing can store them.
 */
void
esi_token_pending_drop_database(Oid dboid)
{
	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ESI_TOKEN_SLOTS; i++)
	{
		EsiTokenSlot *s = &tokens->slots[i];

		if (s->used && s->pending && s->dboid == dboid)
		{
			s->pending = false;
			explicit_bzero(s->pending_token, sizeof(s->pending_token));
			tokens->npending--;
		}
	}
	LWLockRelease(&tokens->lock);
}

/*
 * esi_token_pending_next
 *		For the token writer: the next slot from *cursor on that holds a
 *		refresh token of database dboid to store, copied into *out; false
 *		when there is none left.
 */
bool
esi_token_pending_next(Oid dboid, int *cursor, EsiPendingToken *out)
{
	bool		found = false;

	LWLockAcquire(&tokens->lock, LW_SHARED);
	for (; *cursor < ESI_TOKEN_SLOTS && !found; (*cursor)++)
	{
		EsiTokenSlot *s = &tokens->slots[*cursor];

		if (s->used && s->pending && s->dboid == dboid)
		{
			out->server_oid = s->server_oid;
			out->character_id = s->character_id;
			strlcpy(out->server_name, s->server_name, NAMEDATALEN);
			found = true;
		}
	}
	LWLockRelease(&tokens->lock);
	return found;
}

/*
 * esi_token_pending_get
 *		For the token writer: the character's refresh token to store now
 *		(sealed, in out->token, with its generation); false when there is
 *		none any more.
 */
bool
esi_token_pending_get(Oid dboid, EsiPendingToken *out)
{
	bool		found = false;

	LWLockAcquire(&tokens->lock, LW_SHARED);
	for (int i = 0; i < ESI_TOKEN_SLOTS && !found; i++)
	{
		EsiTokenSlot *s = &tokens->slots[i];

		if (s->used && s->pending && s->dboid == dboid &&
			s->server_oid == out->server_oid && s->character_id == out->character_id)
		{
			out->gen = s->pending_gen;
			out->token = palloc(VARHDRSZ + s->pending_len);
			SET_VARSIZE(out->token, VARHDRSZ + s->pending_len);
			memcpy(VARDATA(out->token), s->pending_token, s->pending_len);
			found = true;
		}
	}
	LWLockRelease(&tokens->lock);
	return found;
}

/*
 * esi_token_pending_stored
 *		For the token writer, after its commit: the token of generation
 *		p->gen is stored, and no longer kept -- unless a newer one was kept
 *		since, which stays for the next write.
 */
void
esi_token_pending_stored(Oid dboid, const EsiPendingToken *p)
{
	LWLockAcquire(&tokens->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ESI_TOKEN_SLOTS; i++)
	{
		EsiTokenSlot *s = &tokens->slots[i];

		if (s->used && s->pending && s->dboid == dboid &&
			s->server_oid == p->server_oid && s->character_id == p->character_id &&
			s->pending_gen == p->gen)
		{
			s->pending = false;
			explicit_bzero(s->pending_token, sizeof(s->pending_token));
			tokens->npending--;
		}
	}
	LWLockRelease(&tokens->lock);
}

/*
 * store_pending
 *		Have the token writer store this database's pending refresh tokens
 *		now, and wait for it.  Quiet unless report: then a WARNING when the
 *		character's token is still kept in memory afterwards (no worker
 *		slot was free, or the writer failed).
 */
static void
store_pending(EsiServerOptions *opts, int64 character_id, bool report)
{
	bool		started = esi_token_flush(true);
	bytea	   *left;

	if (!report)
		return;
	left = esi_token_pending_sealed(opts, character_id);
	if (left == NULL)
		return;
	pfree(left);
	ereport(WARNING,
			(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
			 errmsg("the rotated EVE SSO refresh token of character %lld is kept in shared memory until it can be stored",
					(long long) character_id),
			 started ?
			 errdetail("esi_fdw's token writer did not store it; see the server log.") :
			 errdetail("esi_fdw stores refresh tokens with a background worker, and no worker slot is free."),
			 errhint("Raise max_worker_processes. The next query of this database that uses an EVE SSO character stores it; if the server restarts first, the character needs a new login.")));
}

/*
 * needs_login
 *		Mark the character as needing a new login, and drop its slot.
 */
static void
needs_login(EsiServerOptions *opts, int64 character_id, const char *reason)
{
	EsiTokenRow row = {0};

	row.server = opts->server_name;
	row.character_id = character_id;
	row.reason = reason;
	esi_token_write(ESI_TOKEN_NEEDS_LOGIN, &row);
	esi_token_forget(opts, character_id);
}

/*
 * refresh
 *		Get a new access token with the character's refresh token, store the
 *		rotated refresh token, and return the access token.
 */
static char *
refresh(EsiServerOptions *opts, int64 character_id, EsiCharacterRow *row)
{
	char	   *secret = esi_token_client_secret(opts->server_name);
	bytea	   *live = esi_token_pending_sealed(opts, character_id);
	char	   *rt;
	char	   *form;
	EsiSsoTokens tok;
	char	   *err;
	EsiSsoResult res;
	EsiJwtClaims claims;
	bool		rotated;

	/*
	 * The live refresh token: one kept in shared memory, else the stored
	 * one read now.  The row read before this session became the refresher
	 * may hold a token rotated since: a writer clears the kept token only
	 * after its commit, so with none kept the commit is visible now.
	 */
	if (live == NULL)
	{
		EsiCharacterRow now;

		esi_character_read(opts->server_name, character_id, GetUserId(), &now);
		live = now.found && now.refresh_token ? now.refresh_token : row->refresh_token;
	}
	rt = esi_unseal(live, esi_token_refresh_aad(opts->server_name, character_id), NULL);
	form = psprintf("grant_type=refresh_token&refresh_token=%s", esi_sso_form_value(rt));

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
				 errhint("%s", esi_token_login_hint(opts->server_name, linitial(row->scopes)))));
	}
	if (res != ESI_SSO_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("EVE SSO refused to refresh the token of character %lld", (long long) character_id),
				 errdetail("SSO said: %s", err),
				 errhint("Check the server's sso_client_id option and the client secret (esi.set_client_secret).")));

	/*
	 * The old refresh token is dead now: the new one is kept in shared
	 * memory before anything else can fail.
	 */
	rotated = tok.refresh_token && strcmp(tok.refresh_token, rt) != 0;
	if (rotated)
	{
		bytea	   *sealed = esi_seal(tok.refresh_token, strlen(tok.refresh_token),
									  esi_token_refresh_aad(opts->server_name, character_id));

		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
		if (VARSIZE_ANY_EXHDR(sealed) > ESI_PENDING_TOKEN_MAX)
		{
			/* longer than any SSO hands out: written at once, as before */
			EsiTokenRow w = {0};

			w.server = opts->server_name;
			w.character_id = character_id;
			w.refresh_token = sealed;
			esi_token_write(ESI_TOKEN_ROTATE, &w);
			rotated = false;
		}
		else
			keep_pending(opts, character_id, sealed);
	}
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
	explicit_bzero(rt, strlen(rt));
	esi_token_put(opts, character_id, tok.access_token, claims.expires);
	if (rotated)
		store_pending(opts, character_id, true);
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
				const char *subject, EsiCharacterRow *row)
{
	esi_character_read(opts->server_name, character_id, GetUserId(), row);
	if (!row->found || !row->usable)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("no EVE SSO login of character %lld for role \"%s\" on server \"%s\"",
						(long long) character_id, GetUserNameFromId(GetUserId(), false),
						opts->server_name),
				 errdetail("%s needs the character's token with scope %s.", capital(subject), scope),
				 errhint("%s", esi_token_login_hint(opts->server_name, scope))));
	if (row->needs_login)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("character %lld (%s) needs a new EVE SSO login", (long long) character_id,
						row->name ? row->name : "?"),
				 errdetail("%s.", row->reason ? row->reason : "Its refresh token is no longer valid"),
				 errhint("%s", esi_token_login_hint(opts->server_name, scope))));
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
	EsiCharacterRow row;

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
	EsiCharacterRow row;

	esi_character_read(opts->server_name, character_id, GetUserId(), &row);
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
	EsiPrivileged p;
	Oid			types[3] = {TEXTOID, OIDOID, TEXTOID};
	Datum		values[3];
	List	   *out = NIL;
	MemoryContext caller = CurrentMemoryContext;

	values[0] = CStringGetTextDatum(opts->server_name);
	values[1] = ObjectIdGetDatum(GetUserId());
	values[2] = CStringGetTextDatum(scope ? scope : "");
	esi_privileged_begin(&p);
	esi_privileged_run("SELECT c.character_id::text, c.name, c.needs_login FROM esi.sso_characters c "
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
					 errhint("%s", esi_token_login_hint(opts->server_name, scope))));
			continue;
		}
		{
			/* SPI's context goes at end_privileged: the list lives on */
			MemoryContext old = MemoryContextSwitchTo(caller);

			out = lappend(out, pstrdup(id));
			MemoryContextSwitchTo(old);
		}
	}
	esi_privileged_end(&p);
	return out;
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
	EsiCharacterRow row;
	TimestampTz wait_start = 0;

	check_character(opts, character_id, scope, subject, &row);

	/* a rotated refresh token a worker could not store before: now */
	if (database_has_pending() && !RecoveryInProgress())
		store_pending(opts, character_id, false);

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
					 errmsg("too many EVE SSO characters are being refreshed at once"),
					 errdetail("All %d token slots of esi_fdw's shared memory hold an access token being refreshed or a rotated refresh token waiting for a worker slot to be stored; EVE SSO was not asked.",
							   ESI_TOKEN_SLOTS),
					 errhint("Raise max_worker_processes if the server log shows that refresh tokens wait to be stored, then try again.")));
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
		if (!mine && !tok)
		{
			/*
			 * Sleep until a refresh ends (the first call only prepares the
			 * sleep, and the state is checked again).  The timeout notices a
			 * refresher that died.  pg_stat_activity shows the wait as
			 * wait_event_type Extension, wait_event Extension (PostgreSQL
			 * 15 has no names of an extension's own).
			 */
			(void) ConditionVariableTimedSleep(&tokens->refreshed, 1000L, PG_WAIT_EXTENSION);
			continue;
		}
		ConditionVariableCancelSleep();
		if (tok)
			return tok;
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
