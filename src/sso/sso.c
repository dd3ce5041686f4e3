/*-------------------------------------------------------------------------
 *
 * sso.c
 *		  EVE SSO v2, the client side (see FACTS.md, "EVE SSO").
 *
 * Endpoints come from the server's SSO metadata
 * (<sso_url>/.well-known/oauth-authorization-server), fetched once per
 * backend, and must stay on the SSO's own origin: a metadata document that
 * sends the token request (with a client secret) elsewhere is refused.
 * Logins use PKCE (S256): the verifier is 32 random bytes, base64url.
 * Access tokens are JWTs checked locally (jwt.c) against the JWKS, which is
 * cached and fetched again when a token names an unknown key.
 *
 * No token, code, verifier or secret appears in any message: errors name
 * the endpoint and SSO's error code only.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include <json-c/json.h>

#include "common/base64.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "lib/stringinfo.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "http.h"
#include "sso.h"

/* per-backend cache of one SSO's metadata and keys */
typedef struct EsiSsoCache
{
	char	   *sso_url;
	char	   *authorize;
	char	   *token;
	char	   *revoke;
	char	   *jwks_uri;
	char	   *jwks;			/* the JWKS document */
} EsiSsoCache;

static EsiSsoCache sso_cache = {0};

/*
 * esi_sso_form_value
 *		A value percent-encoded for application/x-www-form-urlencoded or a
 *		query string (every byte outside the unreserved set).
 */
char *
esi_sso_form_value(const char *value)
{
	StringInfoData buf;
	static const char hex[] = "0123456789ABCDEF";

	initStringInfo(&buf);
	for (const unsigned char *p = (const unsigned char *) value; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			appendStringInfoChar(&buf, (char) *p);
		else
		{
			appendStringInfoChar(&buf, '%');
			appendStringInfoChar(&buf, hex[*p >> 4]);
			appendStringInfoChar(&buf, hex[*p & 15]);
		}
	}
	return buf.data;
}

/*
 * base64url
 *		Base64url without padding (RFC 7636 appendix A).
 */
static char *
base64url(const uint8 *data, int len)
{
	int			enclen = pg_b64_enc_len(len);
	char	   *out = palloc(enclen + 1);
	int			n = pg_b64_encode((const char *) data, len, out, enclen);

	if (n < 0)
		elog(ERROR, "esi_fdw: base64 encoding failed");
	while (n > 0 && out[n - 1] == '=')
		n--;
	out[n] = '\0';
	for (int i = 0; i < n; i++)
	{
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	return out;
}

/*
 * esi_sso_random
 *		nbytes of strong randomness, base64url: PKCE verifiers and states.
 */
char *
esi_sso_random(int nbytes)
{
	uint8		buf[64];

	Assert(nbytes <= (int) sizeof(buf));
	if (!pg_strong_random(buf, nbytes))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for an EVE SSO login")));
	return base64url(buf, nbytes);
}

/*
 * esi_sso_challenge
 *		The S256 code challenge of a verifier: base64url(SHA-256(verifier)).
 */
char *
esi_sso_challenge(const char *verifier)
{
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL ||
		pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) verifier, strlen(verifier)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		pg_cryptohash_free(ctx);
		elog(ERROR, "esi_fdw: could not compute SHA-256");
	}
	pg_cryptohash_free(ctx);
	return base64url(digest, sizeof(digest));
}

/*
 * sso_unreachable
 *		SSO gave no usable answer.
 */
static void
sso_unreachable(const char *what, EsiHttpReply *r)
{
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
			 errmsg("could not reach EVE SSO for %s", what),
			 r->result != ESI_XFER_REPLY ?
			 errdetail("GET/POST %s: %s.", r->display, r->failure) :
			 errdetail("%s answered HTTP %ld.", r->display, r->status),
			 errhint("Check the server's sso_url option and the network, then try again.")));
}

static const char *
json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o == NULL || !json_object_object_get_ex(o, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * same_origin
 *		Whether url has the scheme and host (and port) of base.
 */
static bool
same_origin(const char *url, const char *base)
{
	const char *b = strstr(base, "://");
	const char *end;
	size_t		n;

	if (url == NULL || b == NULL)
		return false;
	end = strchr(b + 3, '/');
	n = end ? (size_t) (end - base) : strlen(base);
	return pg_strncasecmp(url, base, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

/*
 * endpoints
 *		The SSO's metadata, from the per-backend cache or fetched.
 */
static EsiSsoCache *
endpoints(EsiServerOptions *opts)
{
	EsiHttpReply r;
	struct json_object *doc;
	const char *names[4] = {"authorization_endpoint", "token_endpoint",
	"revocation_endpoint", "jwks_uri"};
	const char *vals[4];
	char	   *base = pstrdup(opts->sso_url);
	size_t		n = strlen(base);
	MemoryContext old;

	while (n > 0 && base[n - 1] == '/')
		base[--n] = '\0';
	if (sso_cache.sso_url && strcmp(sso_cache.sso_url, base) == 0)
		return &sso_cache;

	esi_http_fetch(opts, psprintf("%s/.well-known/oauth-authorization-server", base),
				   NULL, NULL, &r);
	if (r.result != ESI_XFER_REPLY || r.status != 200)
		sso_unreachable("its metadata", &r);
	doc = json_tokener_parse(r.body);
	for (int i = 0; i < 4; i++)
	{
		vals[i] = json_str(doc, names[i]);
		if (vals[i] == NULL || !same_origin(vals[i], base))
		{
			char	   *name = pstrdup(names[i]);

			json_object_put(doc);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
					 errmsg("EVE SSO's metadata at %s has no usable %s", base, name),
					 errdetail("Each endpoint must be a URL on the SSO's own host."),
					 errhint("Check the server's sso_url option: it is SSO's base URL, such as 'https://login.eveonline.com'.")));
		}
	}

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (sso_cache.sso_url)
	{
		pfree(sso_cache.sso_url);
		pfree(sso_cache.authorize);
		pfree(sso_cache.token);
		pfree(sso_cache.revoke);
		pfree(sso_cache.jwks_uri);
		if (sso_cache.jwks)
			pfree(sso_cache.jwks);
	}
	sso_cache.sso_url = pstrdup(base);
	sso_cache.authorize = pstrdup(vals[0]);
	sso_cache.token = pstrdup(vals[1]);
	sso_cache.revoke = pstrdup(vals[2]);
	sso_cache.jwks_uri = pstrdup(vals[3]);
	sso_cache.jwks = NULL;
	MemoryContextSwitchTo(old);
	json_object_put(doc);
	return &sso_cache;
}

static void
require_client(EsiServerOptions *opts)
{
	if (opts->sso_client_id == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no EVE SSO application", opts->server_name),
				 errdetail("Logging in needs the client id of an application registered at https://developers.eveonline.com."),
				 errhint("ALTER SERVER %s OPTIONS (ADD sso_client_id '<client id>', ADD sso_redirect_uri '<its callback URL>');",
						 opts->server_name)));
}

/*
 * esi_sso_authorize_url
 *		Where the user logs in: the authorize endpoint with the client, the
 *		callback, the scopes, the state and the PKCE challenge.
 */
char *
esi_sso_authorize_url(EsiServerOptions *opts, List *scopes, const char *state,
					  const char *challenge)
{
	EsiSsoCache *ep;
	StringInfoData buf;
	StringInfoData sc;
	ListCell   *lc;

	require_client(opts);
	if (opts->sso_redirect_uri == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no sso_redirect_uri", opts->server_name),
				 errdetail("EVE SSO sends the browser back to the application's registered callback URL."),
				 errhint("ALTER SERVER %s OPTIONS (ADD sso_redirect_uri '<the callback URL of your application>');",
						 opts->server_name)));
	ep = endpoints(opts);
	initStringInfo(&sc);
	foreach(lc, scopes)
		appendStringInfo(&sc, "%s%s", sc.len ? " " : "", (char *) lfirst(lc));

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s%sresponse_type=code&client_id=%s&redirect_uri=%s&scope=%s&state=%s&code_challenge=%s&code_challenge_method=S256",
					 ep->authorize, strchr(ep->authorize, '?') ? "&" : "?",
					 esi_sso_form_value(opts->sso_client_id),
					 esi_sso_form_value(opts->sso_redirect_uri),
					 esi_sso_form_value(sc.data),
					 esi_sso_form_value(state), challenge);
	return buf.data;
}

/*
 * basic_auth
 *		"Basic base64(client_id:secret)" for a confidential client.
 */
static char *
basic_auth(EsiServerOptions *opts, const char *secret)
{
	char	   *pair = psprintf("%s:%s", opts->sso_client_id, secret);
	int			len = strlen(pair);
	int			enclen = pg_b64_enc_len(len);
	char	   *enc = palloc(enclen + 1);
	int			n = pg_b64_encode(pair, len, enc, enclen);
	char	   *out;

	explicit_bzero(pair, len);
	pfree(pair);
	if (n < 0)
		elog(ERROR, "esi_fdw: base64 encoding failed");
	enc[n] = '\0';
	out = psprintf("Basic %s", enc);
	explicit_bzero(enc, n);
	pfree(enc);
	return out;
}

/*
 * esi_sso_token
 *		POST to the token endpoint: grant_form is "grant_type=...&..." (its
 *		values encoded); the client authenticates with HTTP Basic when it
 *		has a secret, else by client_id in the body (PKCE).  invalid_grant
 *		is returned, not raised: the caller knows what it means.
 */
EsiSsoResult
esi_sso_token(EsiServerOptions *opts, const char *grant_form,
			  const char *client_secret, EsiSsoTokens *out, char **error_text)
{
	EsiSsoCache *ep;
	EsiHttpReply r;
	char	   *form;
	char	   *auth = NULL;
	struct json_object *doc;
	const char *v;
	struct json_object *e;

	require_client(opts);
	ep = endpoints(opts);
	memset(out, 0, sizeof(EsiSsoTokens));
	*error_text = NULL;
	form = psprintf("%s&client_id=%s", grant_form, esi_sso_form_value(opts->sso_client_id));
	if (client_secret)
		auth = basic_auth(opts, client_secret);
	esi_http_fetch(opts, ep->token, form, auth, &r);
	explicit_bzero(form, strlen(form));
	if (auth)
		explicit_bzero(auth, strlen(auth));

	if (r.result != ESI_XFER_REPLY || r.status >= 500 || r.status == 0)
		sso_unreachable("a token", &r);
	doc = json_tokener_parse(r.body);
	if (r.status != 200)
	{
		const char *code = json_str(doc, "error");
		const char *desc = json_str(doc, "error_description");
		EsiSsoResult result;

		/* code and desc belong to doc: read them before it is freed */
		*error_text = psprintf("%s%s%s", code ? code : psprintf("HTTP %ld", r.status),
							   desc ? ": " : "", desc ? desc : "");
		result = (code && strcmp(code, "invalid_grant") == 0) ? ESI_SSO_INVALID_GRANT : ESI_SSO_REFUSED;
		json_object_put(doc);
		explicit_bzero(r.body, r.len);
		return result;
	}
	v = json_str(doc, "access_token");
	if (v == NULL)
	{
		json_object_put(doc);
		explicit_bzero(r.body, r.len);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_STRING_FORMAT),
				 errmsg("EVE SSO's token reply has no access_token"),
				 errhint("Check the server's sso_url option.")));
	}
	out->access_token = pstrdup(v);
	v = json_str(doc, "refresh_token");
	out->refresh_token = v ? pstrdup(v) : NULL;
	out->expires_in = (json_object_object_get_ex(doc, "expires_in", &e) &&
					   json_object_is_type(e, json_type_int)) ? json_object_get_int(e) : 1199;
	json_object_put(doc);
	explicit_bzero(r.body, r.len);
	return ESI_SSO_OK;
}

/*
 * esi_sso_revoke
 *		Revoke a refresh token at SSO (logout).
 */
void
esi_sso_revoke(EsiServerOptions *opts, const char *refresh_token,
			   const char *client_secret)
{
	EsiSsoCache *ep;
	EsiHttpReply r;
	char	   *form;
	char	   *auth = NULL;

	require_client(opts);
	ep = endpoints(opts);
	form = psprintf("token_type_hint=refresh_token&token=%s&client_id=%s",
					esi_sso_form_value(refresh_token),
					esi_sso_form_value(opts->sso_client_id));
	if (client_secret)
		auth = basic_auth(opts, client_secret);
	esi_http_fetch(opts, ep->revoke, form, auth, &r);
	explicit_bzero(form, strlen(form));
	if (r.result != ESI_XFER_REPLY || (r.status != 200 && r.status != 204))
		sso_unreachable("revoking a token", &r);
}

/*
 * fetch_jwks
 *		SSO's signing keys, fetched (again).
 */
static void
fetch_jwks(EsiServerOptions *opts, EsiSsoCache *ep)
{
	EsiHttpReply r;

	esi_http_fetch(opts, ep->jwks_uri, NULL, NULL, &r);
	if (r.result != ESI_XFER_REPLY || r.status != 200)
		sso_unreachable("its signing keys (JWKS)", &r);
	if (ep->jwks)
		pfree(ep->jwks);
	ep->jwks = MemoryContextStrdup(TopMemoryContext, r.body);
}

/*
 * esi_sso_check_access_token
 *		Verify an access token (signature, issuer, audience, expiry,
 *		subject) and return its claims; an unknown key id fetches the JWKS
 *		again once (SSO rotates keys).  A token that fails is an error
 *		naming the check.
 */
void
esi_sso_check_access_token(EsiServerOptions *opts, const char *access_token,
						   EsiJwtClaims *claims)
{
	EsiSsoCache *ep = endpoints(opts);
	EsiJwtResult res;
	char	   *why = NULL;

	if (ep->jwks == NULL)
		fetch_jwks(opts, ep);
	res = esi_jwt_verify(access_token, ep->jwks, opts->sso_client_id,
						 GetCurrentTimestamp(), claims, &why);
	if (res == ESI_JWT_UNKNOWN_KEY)
	{
		fetch_jwks(opts, ep);
		res = esi_jwt_verify(access_token, ep->jwks, opts->sso_client_id,
							 GetCurrentTimestamp(), claims, &why);
	}
	if (res != ESI_JWT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("EVE SSO's access token failed verification: %s", esi_jwt_result_name(res)),
				 errdetail("%s", why ? why : esi_jwt_result_name(res)),
				 errhint("Check the server's sso_url and sso_client_id options; log the character in again with esi.login().")));
}

/*
 * has_word
 *		Whether text holds word (ASCII, any case) not inside another word.
 */
static bool
has_word(const char *text, const char *word)
{
	size_t		wl = strlen(word);

	for (const char *p = text; *p; p++)
		if (pg_strncasecmp(p, word, wl) == 0 &&
			(p == text || !isalnum((unsigned char) p[-1])) &&
			!isalnum((unsigned char) p[wl]))
			return true;
	return false;
}

/*
 * has_text
 *		Whether text holds part (ASCII, any case) anywhere.
 */
static bool
has_text(const char *text, const char *part)
{
	size_t		pl = strlen(part);

	for (const char *p = text; *p; p++)
		if (pg_strncasecmp(p, part, pl) == 0)
			return true;
	return false;
}

/*
 * esi_sso_refusal
 *		Classify ESI's 401 or 403 to a request that sent a token (see
 *		EsiRefusal).  A 401 is always the token's.  A 403 is the token's
 *		when its body has an "sso_status" member (*sso_status gets it when
 *		it is a number, else stays -1), or when its error names SSO, or an
 *		invalid, expired or revoked token; else it names a missing scope, a
 *		missing role, or anything else the character may not see.  A body
 *		that is not ESI's JSON (a proxy's page) refuses access.
 */
EsiRefusal
esi_sso_refusal(long status, const char *body, size_t len, int *sso_status)
{
	json_tokener *tok;
	struct json_object *doc = NULL;
	struct json_object *v;
	char		error[512];
	bool		has_status = false;

	*sso_status = -1;
	if (status == 401)
		return ESI_REFUSAL_TOKEN;
	if (status != 403 || body == NULL || len == 0 || len > 65536)
		return ESI_REFUSAL_ACCESS;

	/* json-c only from here to json_object_put: nothing can raise */
	error[0] = '\0';
	tok = json_tokener_new();
	if (tok != NULL)
	{
		doc = json_tokener_parse_ex(tok, body, (int) len);
		json_tokener_free(tok);
	}
	if (doc != NULL && json_object_is_type(doc, json_type_object))
	{
		if (json_object_object_get_ex(doc, "sso_status", &v))
		{
			has_status = true;
			if (json_object_is_type(v, json_type_int))
				*sso_status = (int) Min(Max(json_object_get_int64(v), -1), 999);
		}
		if (json_object_object_get_ex(doc, "error", &v) &&
			json_object_is_type(v, json_type_string))
			strlcpy(error, json_object_get_string(v), sizeof(error));
	}
	if (doc != NULL)
		json_object_put(doc);

	if (has_status || has_word(error, "sso"))
		return ESI_REFUSAL_TOKEN;
	if (has_word(error, "token") &&
		(has_text(error, "expire") || has_text(error, "expiry") ||
		 has_word(error, "invalid") || has_text(error, "malformed") ||
		 has_text(error, "revoked")))
		return ESI_REFUSAL_TOKEN;
	if (has_word(error, "scope") || has_word(error, "scopes"))
		return ESI_REFUSAL_SCOPE;
	if (has_text(error, "role"))
		return ESI_REFUSAL_ROLES;
	return ESI_REFUSAL_ACCESS;
}

/*
 * esi_sso_token_refused
 *		Whether a finished transfer's 401 or 403 refuses the token itself,
 *		not the character: a fresh token may pass, so the read or write is
 *		sent once more with one, and the refusal is not remembered.
 */
bool
esi_sso_token_refused(EsiTransfer *t, long status)
{
	size_t		len;
	const char *body = esi_http_body(t, &len);
	int			sso_status;

	return esi_sso_refusal(status, body, len, &sso_status) == ESI_REFUSAL_TOKEN;
}

/*
 * esi_sso_refusal_hint
 *		What to do about ESI's 401 or 403 to a route: the HINT of its
 *		error.  esi_fdw sends a character's token only after checking that
 *		its login has the route's scope, and sends the request once more
 *		with a refreshed token when ESI refuses the token itself: so a
 *		refusal raised as an error came after that, or is about the
 *		character, not about logging in.
 */
char *
esi_sso_refusal_hint(EsiRoute *route, long status, const char *body, size_t len)
{
	int			sso_status;

	if (route->scope == NULL)
		return pstrdup("This route should be public; check the server's base_url option.");
	switch (esi_sso_refusal(status, body, len, &sso_status))
	{
		case ESI_REFUSAL_TOKEN:
			if (status == 401)
				return pstrdup("ESI refused the character's access token, also one refreshed just before: check that the server's sso_url is the EVE SSO that ESI trusts (https://login.eveonline.com).");
			if (sso_status >= 0)
				return psprintf("ESI could not check the character's token with EVE SSO (sso_status %d), also a token refreshed just before: trouble at EVE SSO, not a missing login or scope. Try again in a few minutes.",
								sso_status);
			return pstrdup("ESI could not check the character's token with EVE SSO, also a token refreshed just before: trouble at EVE SSO, not a missing login or scope. Try again in a few minutes.");
		case ESI_REFUSAL_SCOPE:
			return psprintf("The character's login has scope %s, but ESI finds it missing from the token (were the application's scopes changed?): log the character in again with esi.login(), asking for that scope.",
							route->scope);
		case ESI_REFUSAL_ROLES:
			if (route->roles)
				return psprintf("The character does not hold one of the corporation roles %s that the route needs: roles are granted in the game, and ESI's list of a character's roles (/characters/{id}/roles) can lag behind by an hour.",
								route->roles);
			return pstrdup("The character does not hold the corporation roles the route needs: roles are granted in the game.");
		case ESI_REFUSAL_ACCESS:
			break;
	}
	return pstrdup("ESI refuses the character access to this (its token is valid, with the route's scope): see ESI's message above.");
}
