/*-------------------------------------------------------------------------
 *
 * sso_test.c
 *		  SQL entry points into crypto.c, jwt.c and sso.c for the tests only.
 *
 * The extension script creates none of these functions: a test declares
 * them (CREATE FUNCTION ... AS 'esi_fdw', 'esi_test_...' LANGUAGE C), which
 * only a superuser can do, and each checks for a superuser again, since
 * they add and drop keys and seal and unseal values.  sql/crypto.sql and
 * test/t/070_key_file.sh show how they are declared.
 *
 * (A file of its own because PostgreSQL's builtins.h and json-c both
 * declare json_object.)
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "crypto.h"
#include "jwt.h"
#include "sso.h"

PG_FUNCTION_INFO_V1(esi_test_seal);
PG_FUNCTION_INFO_V1(esi_test_unseal);
PG_FUNCTION_INFO_V1(esi_test_add_key);
PG_FUNCTION_INFO_V1(esi_test_drop_keys_except);
PG_FUNCTION_INFO_V1(esi_test_key_id);
PG_FUNCTION_INFO_V1(esi_test_current_key_id);
PG_FUNCTION_INFO_V1(esi_test_key_file);
PG_FUNCTION_INFO_V1(esi_test_jwt_verify);
PG_FUNCTION_INFO_V1(esi_test_refusal);

/*
 * require_superuser
 *		The test functions are for superusers only, whoever may execute them.
 */
static void
require_superuser(void)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to use esi_fdw's test functions")));
}

/*
 * esi_test_seal(plain text, aad text) returns bytea
 */
Datum
esi_test_seal(PG_FUNCTION_ARGS)
{
	text	   *plain = PG_GETARG_TEXT_PP(0);
	char	   *aad = text_to_cstring(PG_GETARG_TEXT_PP(1));

	require_superuser();
	PG_RETURN_BYTEA_P(esi_seal(VARDATA_ANY(plain), VARSIZE_ANY_EXHDR(plain), aad));
}

/*
 * esi_test_unseal(sealed bytea, aad text) returns text
 */
Datum
esi_test_unseal(PG_FUNCTION_ARGS)
{
	bytea	   *sealed = PG_GETARG_BYTEA_PP(0);
	char	   *aad = text_to_cstring(PG_GETARG_TEXT_PP(1));
	size_t		len;
	char	   *plain;

	require_superuser();
	plain = esi_unseal(sealed, aad, &len);
	PG_RETURN_TEXT_P(cstring_to_text_with_len(plain, len));
}

/*
 * esi_test_add_key() returns void: re-keying
 */
Datum
esi_test_add_key(PG_FUNCTION_ARGS)
{
	require_superuser();
	esi_crypto_add_key();
	PG_RETURN_VOID();
}

/*
 * esi_test_drop_keys_except(keep bigint[]) returns void
 */
Datum
esi_test_drop_keys_except(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	uint32	   *keep;

	require_superuser();
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &nulls, &n);
	keep = palloc(sizeof(uint32) * Max(n, 1));
	for (int i = 0; i < n; i++)
		keep[i] = nulls[i] ? 0 : (uint32) DatumGetInt64(elems[i]);
	esi_crypto_drop_keys_except(keep, n);
	PG_RETURN_VOID();
}

/*
 * esi_test_key_id(sealed bytea) returns bigint: the key that sealed it
 */
Datum
esi_test_key_id(PG_FUNCTION_ARGS)
{
	require_superuser();
	PG_RETURN_INT64((int64) esi_sealed_key_id(PG_GETARG_BYTEA_PP(0)));
}

/*
 * esi_test_current_key_id() returns bigint
 */
Datum
esi_test_current_key_id(PG_FUNCTION_ARGS)
{
	require_superuser();
	PG_RETURN_INT64((int64) esi_crypto_current_key_id());
}

/*
 * esi_test_key_file() returns text: the key file's path
 */
Datum
esi_test_key_file(PG_FUNCTION_ARGS)
{
	require_superuser();
	PG_RETURN_TEXT_P(cstring_to_text(esi_crypto_key_file_path()));
}

/*
 * esi_test_jwt_verify(token text, jwks text, client_id text, at timestamptz)
 *		The claims as jsonb, or {"error": <result name>, "why": <reason>}.
 */
Datum
esi_test_jwt_verify(PG_FUNCTION_ARGS)
{
	char	   *token = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *jwks = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *client_id = text_to_cstring(PG_GETARG_TEXT_PP(2));
	TimestampTz at = PG_GETARG_TIMESTAMPTZ(3);
	EsiJwtClaims claims;
	char	   *why;
	EsiJwtResult r;
	StringInfoData buf;

	require_superuser();
	r = esi_jwt_verify(token, jwks, client_id, at, &claims, &why);
	initStringInfo(&buf);
	if (r != ESI_JWT_OK)
	{
		appendStringInfoString(&buf, "{\"error\": ");
		escape_json(&buf, esi_jwt_result_name(r));
		appendStringInfoString(&buf, ", \"why\": ");
		escape_json(&buf, why);
		if (claims.kid != NULL)
		{
			appendStringInfoString(&buf, ", \"kid\": ");
			escape_json(&buf, claims.kid);
		}
		appendStringInfoChar(&buf, '}');
	}
	else
	{
		struct pg_tm tm;
		fsec_t		fsec;
		ListCell   *lc;
		char		when[64];

		if (timestamp2tm(claims.expires, NULL, &tm, &fsec, NULL, NULL) != 0)
			elog(ERROR, "expiry out of range");
		snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02dZ",
				 tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
		appendStringInfo(&buf, "{\"character_id\": " INT64_FORMAT ", \"name\": ",
						 claims.character_id);
		escape_json(&buf, claims.name);
		appendStringInfoString(&buf, ", \"owner\": ");
		escape_json(&buf, claims.owner);
		appendStringInfoString(&buf, ", \"scopes\": [");
		foreach(lc, claims.scopes)
		{
			if (lc != list_head(claims.scopes))
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, lfirst(lc));
		}
		appendStringInfo(&buf, "], \"expires\": \"%s\", \"kid\": ", when);
		escape_json(&buf, claims.kid);
		appendStringInfoChar(&buf, '}');
	}
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * esi_test_refusal(status int, body text, scope text, roles text)
 *		How sso.c reads ESI's 401 or 403 to a route with that scope and
 *		roles (NULL: none): {"kind": "token"|"scope"|"roles"|"access",
 *		"sso_status": n or null, "hint": the error's HINT}.
 */
Datum
esi_test_refusal(PG_FUNCTION_ARGS)
{
	int32		status;
	char	   *body;
	EsiRoute	route;
	int			sso_status;
	EsiRefusal	kind;
	StringInfoData buf;
	static const char *const names[] = {"token", "scope", "roles", "access"};

	require_superuser();
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	status = PG_GETARG_INT32(0);
	body = text_to_cstring(PG_GETARG_TEXT_PP(1));
	memset(&route, 0, sizeof(route));
	route.relname = "t";
	route.scope = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	route.roles = PG_ARGISNULL(3) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(3));

	kind = esi_sso_refusal(status, body, strlen(body), &sso_status);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"kind\": ");
	escape_json(&buf, names[kind]);
	if (sso_status >= 0)
		appendStringInfo(&buf, ", \"sso_status\": %d", sso_status);
	else
		appendStringInfoString(&buf, ", \"sso_status\": null");
	appendStringInfoString(&buf, ", \"hint\": ");
	escape_json(&buf, esi_sso_refusal_hint(&route, status, body, strlen(body)));
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
