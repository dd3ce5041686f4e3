/*-------------------------------------------------------------------------
 *
 * logins.c
 *		  EVE SSO logins and their grants, from SQL.
 *
 * A login: esi.login() remembers a state and a PKCE verifier (sealed) and
 * returns SSO's authorize URL; the user opens it, logs in, and hands the
 * URL the browser lands on to esi.login_callback(), which exchanges the
 * code, verifies the access token (sso.c, jwt.c) and has the token writer
 * (token_worker.c) store the character with its refresh token sealed
 * (crypto.c).  esi.logout() revokes the refresh token at SSO and forgets
 * the character.  esi.grant_character() and esi.revoke_character() share
 * a character with other roles; esi.set_client_secret() keeps a
 * confidential client's secret; esi.rekey() and esi._bind_sealed() seal
 * every stored secret again.
 *
 * The tables are read and written as the bootstrap superuser with a
 * search_path of pg_catalog only (privileged_sql.c), after checking the
 * calling role: they are not granted to anybody.  The access tokens a
 * login leaves in shared memory are the token service's (tokens.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <sys/stat.h>

#include "commands/dbcommands.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"

#include "crypto.h"
#include "privileged_sql.h"
#include "sso.h"
#include "token_worker.h"
#include "tokens.h"

/* a login started with esi.login() must end within this */
#define ESI_LOGIN_STATE_TTL "10 minutes"
/* logins a role may have started and not finished (nor seen expire) */
#define ESI_LOGIN_PENDING_MAX 10

PG_FUNCTION_INFO_V1(esi_login);
PG_FUNCTION_INFO_V1(esi_login_callback);
PG_FUNCTION_INFO_V1(esi_logout);
PG_FUNCTION_INFO_V1(esi_grant_character);
PG_FUNCTION_INFO_V1(esi_revoke_character);
PG_FUNCTION_INFO_V1(esi_set_client_secret);
PG_FUNCTION_INFO_V1(esi_rekey);
PG_FUNCTION_INFO_V1(esi_bind_sealed);

/*
 * server_for_login
 *		The server's options, when the current role may use the server.
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
	EsiPrivileged p;
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
	esi_privileged_begin(&p);
	esi_privileged_run("DELETE FROM esi.sso_logins WHERE created_at < pg_catalog.now() - interval '" ESI_LOGIN_STATE_TTL "'",
		0, NULL, NULL, NULL, false);
	/* a role's logins in progress are bounded: esi.sso_logins cannot be filled */
	esi_privileged_run("SELECT pg_catalog.count(*) FROM esi.sso_logins WHERE role OPERATOR(pg_catalog.=) $1",
		1, &types[2], &values[2], NULL, true);
	{
		bool		isnull;
		int64		pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														  SPI_tuptable->tupdesc, 1, &isnull));

		if (pending >= ESI_LOGIN_PENDING_MAX)
		{
			esi_privileged_end(&p);
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
	esi_privileged_run("INSERT INTO esi.sso_logins (state, server_name, role, scopes, verifier) VALUES ($1, $2, $3, $4, $5)",
		5, types, values, NULL, false);
	esi_privileged_end(&p);
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
	EsiPrivileged p;
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
	esi_privileged_begin(&p);
	esi_privileged_run("DELETE FROM esi.sso_logins WHERE state = $1 RETURNING server_name, role, scopes, verifier, "
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
	esi_privileged_end(&p);
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
	res = esi_sso_token(opts, form, esi_token_client_secret(server), &tok, &err);
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
		esi_seal(tok.refresh_token, strlen(tok.refresh_token), esi_token_refresh_aad(server, claims.character_id)) : NULL;
	/* the new login's token replaces one a refresh rotated and kept */
	esi_token_forget_pending(opts, claims.character_id);
	esi_token_write(ESI_TOKEN_SAVE, &row);
	if (tok.refresh_token)
		explicit_bzero(tok.refresh_token, strlen(tok.refresh_token));
	esi_token_put(opts, claims.character_id, tok.access_token, claims.expires);
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
static EsiCharacterRow *
check_owner(const char *server, int64 character_id)
{
	EsiCharacterRow *row = palloc(sizeof(EsiCharacterRow));

	esi_character_read(server, character_id, GetUserId(), row);
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
	EsiCharacterRow *row = check_owner(server, character_id);
	EsiServerOptions *opts = server_for_login(server);
	EsiTokenRow w = {0};

	bytea	   *pending = esi_token_pending_sealed(opts, character_id);

	if (pending || row->refresh_token)
	{
		/* the live one: a rotated token not stored yet, else the stored one */
		char	   *rt = esi_unseal(pending ? pending : row->refresh_token,
									esi_token_refresh_aad(server, character_id), NULL);

		esi_sso_revoke(opts, rt, esi_token_client_secret(server));
		explicit_bzero(rt, strlen(rt));
	}
	w.server = server;
	w.character_id = character_id;
	esi_token_write(ESI_TOKEN_FORGET, &w);
	esi_token_forget(opts, character_id);
	PG_RETURN_VOID();
}

/*
 * grant_or_revoke
 *		esi.grant_character / esi.revoke_character(server, character_id,
 *		grantee): the character's owner (or a superuser) shares it with a
 *		role, or stops sharing it.
 */
static void
grant_or_revoke(FunctionCallInfo fcinfo, bool grant)
{
	char	   *server = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64		character_id = PG_GETARG_INT64(1);
	Oid			grantee = PG_GETARG_OID(2);
	EsiPrivileged p;
	Oid			types[3] = {TEXTOID, INT8OID, OIDOID};
	Datum		values[3];

	(void) check_owner(server, character_id);
	values[0] = CStringGetTextDatum(server);
	values[1] = Int64GetDatum(character_id);
	values[2] = ObjectIdGetDatum(grantee);
	esi_privileged_begin(&p);
	if (grant)
		esi_privileged_run("INSERT INTO esi.sso_character_grants (server_name, character_id, grantee) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
			3, types, values, NULL, false);
	else
		esi_privileged_run("DELETE FROM esi.sso_character_grants WHERE server_name = $1 AND character_id = $2 AND grantee = $3",
			3, types, values, NULL, false);
	esi_privileged_end(&p);
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
	EsiPrivileged p;
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
	esi_privileged_begin(&p);
	esi_privileged_run("INSERT INTO esi.sso_clients (server_name, secret) VALUES ($1, $2) ON CONFLICT (server_name) DO UPDATE SET secret = $2",
		2, types, values, nulls, false);
	esi_privileged_end(&p);
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
	EsiPrivileged p;
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

	esi_privileged_begin(&p);
	for (int q = 0; q < 3; q++)
	{
		SPITupleTable *tab;
		uint64		rows;

		esi_privileged_run(queries[q][0], 0, NULL, NULL, NULL, false);
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
			esi_privileged_run(queries[q][1], 2, types, values, NULL, false);
			n++;
		}
	}
	esi_privileged_end(&p);
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
		EsiPrivileged p;

		esi_privileged_begin(&p);
		esi_privileged_run("SELECT FROM esi.sso_characters WHERE refresh_token IS NOT NULL "
			"UNION ALL SELECT FROM esi.sso_clients WHERE secret IS NOT NULL "
			"UNION ALL SELECT FROM esi.sso_logins",
			0, NULL, NULL, NULL, true);
		skipped = (int64) SPI_processed;
		esi_privileged_end(&p);
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
