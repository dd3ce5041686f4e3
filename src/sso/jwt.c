/*-------------------------------------------------------------------------
 *
 * jwt.c
 *		  Verification of EVE SSO access tokens (JWTs) against a JWKS.
 *
 * EVE SSO signs its access tokens RS256, and has announced ES256 (its JWKS
 * lists an EC P-256 key beside the RSA one): both verify, each only with a
 * key of its own type.  The keys come from SSO's JWKS, which the caller
 * fetches and hands over as JSON text.  Everything is
 * checked locally (SSO's old verify endpoint is gone).  The checks and what
 * a failure means are listed in jwt.h; a failure returns its class and a
 * short reason, which never holds the token, so callers can put it in an
 * error message.
 *
 * json-c and OpenSSL allocate outside PostgreSQL's memory contexts: every
 * object lives in a JwtWork that a PG_FINALLY frees, so even an ERROR out
 * of palloc leaks nothing.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include <json-c/json.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "lib/stringinfo.h"
#include "utils/timestamp.h"

#include "guc.h"
#include "jwt.h"

/* longer tokens or JWKS are refused before any parsing */
#define ESI_JWT_MAX_TOKEN (64 * 1024)
#define ESI_JWT_MAX_JWKS (1024 * 1024)
/* RSA key sizes accepted */
#define ESI_JWT_MIN_BITS 2048
#define ESI_JWT_MAX_BITS 16384
/* P-256: a coordinate, r and s are 32 bytes each */
#define ESI_JWT_P256_BYTES 32

/* the algorithms a token may name, and the key type each needs */
typedef enum JwtAlg
{
	JWT_RS256,
	JWT_ES256
} JwtAlg;

/* the foreign objects of one verification, freed by jwt_work_free */
typedef struct JwtWork
{
	json_object *header;
	json_object *payload;
	json_object *jwks;
	BIGNUM	   *n;
	BIGNUM	   *e;
	OSSL_PARAM_BLD *bld;
	OSSL_PARAM *params;
	EVP_PKEY_CTX *pctx;
	EVP_PKEY   *pkey;
	EVP_MD_CTX *md;
	ECDSA_SIG  *esig;			/* an ES256 signature, for its DER form */
	unsigned char *der;			/* that DER (OPENSSL_malloc'd) */
	EsiJwtResult result;		/* what verify() found, and why */
	char	   *why;
} JwtWork;

/*
 * esi_jwt_result_name
 *		A verification result as a short name ("bad_signature").
 */
const char *
esi_jwt_result_name(EsiJwtResult r)
{
	switch (r)
	{
		case ESI_JWT_OK:
			return "ok";
		case ESI_JWT_MALFORMED:
			return "malformed";
		case ESI_JWT_BAD_ALGORITHM:
			return "bad_algorithm";
		case ESI_JWT_UNKNOWN_KEY:
			return "unknown_key";
		case ESI_JWT_BAD_SIGNATURE:
			return "bad_signature";
		case ESI_JWT_BAD_ISSUER:
			return "bad_issuer";
		case ESI_JWT_BAD_AUDIENCE:
			return "bad_audience";
		case ESI_JWT_EXPIRED:
			return "expired";
		case ESI_JWT_BAD_SUBJECT:
			return "bad_subject";
	}
	return "unknown";
}

/*
 * jwt_work_free
 *		Free every json-c and OpenSSL object of a verification.
 */
static void
jwt_work_free(JwtWork *w)
{
	if (w->header)
		json_object_put(w->header);
	if (w->payload)
		json_object_put(w->payload);
	if (w->jwks)
		json_object_put(w->jwks);
	BN_free(w->n);
	BN_free(w->e);
	OSSL_PARAM_free(w->params);
	OSSL_PARAM_BLD_free(w->bld);
	EVP_PKEY_CTX_free(w->pctx);
	EVP_PKEY_free(w->pkey);
	EVP_MD_CTX_free(w->md);
	ECDSA_SIG_free(w->esig);
	OPENSSL_free(w->der);
	w->header = w->payload = w->jwks = NULL;
	w->esig = NULL;
	w->der = NULL;
	w->n = w->e = NULL;
	w->bld = NULL;
	w->params = NULL;
	w->pctx = NULL;
	w->pkey = NULL;
	w->md = NULL;
	/* leave no error of ours for libcurl or the next caller to find */
	ERR_clear_error();
}

/*
 * shown
 *		Untrusted text (an alg, a kid) made safe for a message: printable
 *		ASCII, at most 40 characters.
 */
static char *
shown(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (int i = 0; s[i] != '\0'; i++)
	{
		if (i == 40)
		{
			appendStringInfoString(&buf, "...");
			break;
		}
		appendStringInfoChar(&buf, (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?');
	}
	return buf.data;
}

/*
 * b64url_decode
 *		Decode base64url without padding (RFC 7515); NULL when s[len] is not
 *		that.  The result is palloc'd and NUL-terminated.
 */
static unsigned char *
b64url_decode(const char *s, size_t len, size_t *outlen)
{
	unsigned char *out = palloc(len * 3 / 4 + 2);
	size_t		o = 0;
	uint32		acc = 0;
	int			bits = 0;

	if (len % 4 == 1)
	{
		pfree(out);
		return NULL;
	}
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];
		int			v;

		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '-')
			v = 62;
		else if (c == '_')
			v = 63;
		else
		{
			pfree(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32) v;
		bits += 6;
		if (bits >= 8)
		{
			bits -= 8;
			out[o++] = (unsigned char) ((acc >> bits) & 0xFF);
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/*
 * parse_json
 *		Parse exactly text[len] (trailing blanks allowed) as JSON; NULL when
 *		it is not.  Raises no error.
 */
static json_object *
parse_json(const char *text, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	size_t		end;

	if (len > INT_MAX || memchr(text, '\0', len) != NULL)
		return NULL;
	tok = json_tokener_new();
	if (tok == NULL)
		return NULL;
	obj = json_tokener_parse_ex(tok, text, (int) len);
	if (obj != NULL && json_tokener_get_error(tok) != json_tokener_success)
	{
		json_object_put(obj);
		obj = NULL;
	}
	end = obj ? json_tokener_get_parse_end(tok) : len;
	json_tokener_free(tok);
	for (; obj != NULL && end < len; end++)
		if (text[end] != ' ' && text[end] != '\t' && text[end] != '\r' && text[end] != '\n')
		{
			json_object_put(obj);
			obj = NULL;
		}
	return obj;
}

/*
 * get_string
 *		The string member key of obj, or NULL (absent or not a string).
 */
static const char *
get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
		!json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * get_time
 *		The numeric date member key of obj (seconds since 1970), into *t;
 *		false when it is absent, not a number or out of range.
 */
static bool
get_time(json_object *obj, const char *key, bool *present, TimestampTz *t)
{
	json_object *v;
	double		secs;

	*present = json_object_object_get_ex(obj, key, &v);
	if (!*present)
		return false;
	if (json_object_is_type(v, json_type_int))
		secs = (double) json_object_get_int64(v);
	else if (json_object_is_type(v, json_type_double))
		secs = json_object_get_double(v);
	else
		return false;
	/* 0 .. year 9999: all a token can sensibly say */
	if (!(secs >= 0 && secs < 253402300800.0))
		return false;
	*t = time_t_to_timestamptz((pg_time_t) secs);
	return true;
}

/*
 * b64url_bignum
 *		A JWK member (a base64url big-endian integer) as a BIGNUM, or NULL.
 */
static BIGNUM *
b64url_bignum(json_object *jwk, const char *key)
{
	const char *s = get_string(jwk, key);
	unsigned char *bytes;
	size_t		len;
	BIGNUM	   *bn;

	if (s == NULL || (bytes = b64url_decode(s, strlen(s), &len)) == NULL || len == 0)
		return NULL;
	bn = (len <= INT_MAX) ? BN_bin2bn(bytes, (int) len, NULL) : NULL;
	pfree(bytes);
	return bn;
}

/*
 * rsa_key
 *		Build w->pkey from an RSA JWK.
 */
static EsiJwtResult
rsa_key(JwtWork *w, json_object *jwk, const char *kid, char **why)
{
	w->n = b64url_bignum(jwk, "n");
	w->e = b64url_bignum(jwk, "e");
	if (w->n == NULL || w->e == NULL ||
		BN_num_bits(w->n) < ESI_JWT_MIN_BITS || BN_num_bits(w->n) > ESI_JWT_MAX_BITS ||
		BN_num_bits(w->e) < 2 || BN_num_bits(w->e) > 64 || !BN_is_odd(w->e))
	{
		if (w->n != NULL && w->e != NULL && BN_num_bits(w->n) < ESI_JWT_MIN_BITS)
			*why = psprintf("key \"%s\" of the JWKS has %d bits; at least %d are required",
							shown(kid), BN_num_bits(w->n), ESI_JWT_MIN_BITS);
		else
			*why = psprintf("key \"%s\" of the JWKS has no usable RSA modulus (n) and exponent (e)",
							shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	if ((w->bld = OSSL_PARAM_BLD_new()) == NULL ||
		OSSL_PARAM_BLD_push_BN(w->bld, OSSL_PKEY_PARAM_RSA_N, w->n) != 1 ||
		OSSL_PARAM_BLD_push_BN(w->bld, OSSL_PKEY_PARAM_RSA_E, w->e) != 1 ||
		(w->params = OSSL_PARAM_BLD_to_param(w->bld)) == NULL ||
		(w->pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL ||
		EVP_PKEY_fromdata_init(w->pctx) != 1 ||
		EVP_PKEY_fromdata(w->pctx, &w->pkey, EVP_PKEY_PUBLIC_KEY, w->params) != 1)
	{
		*why = psprintf("key \"%s\" of the JWKS is not a usable RSA key", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	return ESI_JWT_OK;
}

/*
 * ec_key
 *		Build w->pkey from an EC JWK, which must be a point of P-256 (x and
 *		y of 32 bytes each, RFC 7518 6.2.1); libcrypto refuses a point that
 *		is not on the curve.
 */
static EsiJwtResult
ec_key(JwtWork *w, json_object *jwk, const char *kid, char **why)
{
	const char *crv = get_string(jwk, "crv");
	const char *xs = get_string(jwk, "x");
	const char *ys = get_string(jwk, "y");
	unsigned char *x = NULL;
	unsigned char *y = NULL;
	size_t		xlen = 0,
				ylen = 0;
	unsigned char point[1 + 2 * ESI_JWT_P256_BYTES];

	if (crv == NULL)
	{
		*why = psprintf("key \"%s\" of the JWKS names no curve (crv)", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	if (strcmp(crv, "P-256") != 0)
	{
		*why = psprintf("key \"%s\" of the JWKS is on curve \"%s\"; ES256 needs P-256",
						shown(kid), shown(crv));
		return ESI_JWT_BAD_ALGORITHM;
	}
	if (xs == NULL || ys == NULL ||
		(x = b64url_decode(xs, strlen(xs), &xlen)) == NULL ||
		(y = b64url_decode(ys, strlen(ys), &ylen)) == NULL ||
		xlen != ESI_JWT_P256_BYTES || ylen != ESI_JWT_P256_BYTES)
	{
		*why = psprintf("key \"%s\" of the JWKS has no P-256 point (x and y of %d bytes each)",
						shown(kid), ESI_JWT_P256_BYTES);
		return ESI_JWT_UNKNOWN_KEY;
	}
	/* the uncompressed form: 04 || x || y */
	point[0] = 0x04;
	memcpy(point + 1, x, ESI_JWT_P256_BYTES);
	memcpy(point + 1 + ESI_JWT_P256_BYTES, y, ESI_JWT_P256_BYTES);
	pfree(x);
	pfree(y);
	if ((w->bld = OSSL_PARAM_BLD_new()) == NULL ||
		OSSL_PARAM_BLD_push_utf8_string(w->bld, OSSL_PKEY_PARAM_GROUP_NAME,
										SN_X9_62_prime256v1, 0) != 1 ||
		OSSL_PARAM_BLD_push_octet_string(w->bld, OSSL_PKEY_PARAM_PUB_KEY,
										 point, sizeof(point)) != 1 ||
		(w->params = OSSL_PARAM_BLD_to_param(w->bld)) == NULL ||
		(w->pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
		EVP_PKEY_fromdata_init(w->pctx) != 1 ||
		EVP_PKEY_fromdata(w->pctx, &w->pkey, EVP_PKEY_PUBLIC_KEY, w->params) != 1)
	{
		*why = psprintf("key \"%s\" of the JWKS is not a point of curve P-256", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	return ESI_JWT_OK;
}

/*
 * find_key
 *		Build w->pkey from the JWKS's key kid, which must be of the type
 *		the token's algorithm needs (RSA for RS256, EC for ES256): a token
 *		naming the other key type fails (algorithm confusion).
 */
static EsiJwtResult
find_key(JwtWork *w, const char *jwks_json, const char *kid, JwtAlg alg,
		 char **why)
{
	const char *alg_name = (alg == JWT_ES256) ? "ES256" : "RS256";
	const char *want_kty = (alg == JWT_ES256) ? "EC" : "RSA";
	json_object *keys;
	json_object *jwk = NULL;
	const char *s;
	size_t		n;

	if (jwks_json == NULL || strlen(jwks_json) > ESI_JWT_MAX_JWKS ||
		(w->jwks = parse_json(jwks_json, strlen(jwks_json))) == NULL ||
		!json_object_object_get_ex(w->jwks, "keys", &keys) ||
		!json_object_is_type(keys, json_type_array))
	{
		*why = pstrdup("the JWKS is not a JSON object with a \"keys\" array");
		return ESI_JWT_UNKNOWN_KEY;
	}
	n = json_object_array_length(keys);
	for (size_t i = 0; i < n; i++)
	{
		json_object *k = json_object_array_get_idx(keys, i);

		if (k == NULL || !json_object_is_type(k, json_type_object) ||
			(s = get_string(k, "kid")) == NULL || strcmp(s, kid) != 0)
			continue;
		/* the first key of that kid and type, else the first key of it */
		if ((s = get_string(k, "kty")) != NULL && strcmp(s, want_kty) == 0)
		{
			jwk = k;
			break;
		}
		if (jwk == NULL)
			jwk = k;
	}
	if (jwk == NULL)
	{
		*why = psprintf("key \"%s\" is not in the JWKS", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	if ((s = get_string(jwk, "kty")) == NULL ||
		(strcmp(s, "RSA") != 0 && strcmp(s, "EC") != 0))
	{
		*why = psprintf("key \"%s\" of the JWKS is neither an RSA nor an EC key", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	if (strcmp(s, want_kty) != 0)
	{
		*why = psprintf("key \"%s\" of the JWKS is an %s key; an %s token needs an %s key",
						shown(kid), s, alg_name, want_kty);
		return ESI_JWT_BAD_ALGORITHM;
	}
	if ((s = get_string(jwk, "alg")) != NULL && strcmp(s, alg_name) != 0)
	{
		*why = psprintf("key \"%s\" of the JWKS is for algorithm \"%s\", not %s",
						shown(kid), shown(s), alg_name);
		return ESI_JWT_BAD_ALGORITHM;
	}
	if ((s = get_string(jwk, "use")) != NULL && strcmp(s, "sig") != 0)
	{
		*why = psprintf("key \"%s\" of the JWKS is not for signatures", shown(kid));
		return ESI_JWT_UNKNOWN_KEY;
	}
	return (alg == JWT_ES256) ? ec_key(w, jwk, kid, why) : rsa_key(w, jwk, kid, why);
}

/*
 * es256_der
 *		A JWS ES256 signature (r || s, 32 bytes each, RFC 7518 3.4) in the
 *		DER form libcrypto verifies, into w->der; its length, or 0.  r and
 *		s out of range (zero, or not below the curve's order) make a valid
 *		DER that never verifies.  A high s (above half the order) is a
 *		valid signature: SSO's signer need not normalise it.
 */
static int
es256_der(JwtWork *w, const unsigned char *sig)
{
	BIGNUM	   *r = BN_bin2bn(sig, ESI_JWT_P256_BYTES, NULL);
	BIGNUM	   *s = BN_bin2bn(sig + ESI_JWT_P256_BYTES, ESI_JWT_P256_BYTES, NULL);
	int			len;

	if (r == NULL || s == NULL || (w->esig = ECDSA_SIG_new()) == NULL ||
		ECDSA_SIG_set0(w->esig, r, s) != 1)
	{
		BN_free(r);
		BN_free(s);
		return 0;
	}
	/* w->esig owns r and s now */
	len = i2d_ECDSA_SIG(w->esig, &w->der);
	return len > 0 ? len : 0;
}

/*
 * audience_has
 *		Whether aud (a string or an array of strings) holds want.
 */
static bool
audience_has(json_object *aud, const char *want)
{
	if (json_object_is_type(aud, json_type_string))
		return strcmp(json_object_get_string(aud), want) == 0;
	if (json_object_is_type(aud, json_type_array))
	{
		size_t		n = json_object_array_length(aud);

		for (size_t i = 0; i < n; i++)
		{
			json_object *v = json_object_array_get_idx(aud, i);

			if (v != NULL && json_object_is_type(v, json_type_string) &&
				strcmp(json_object_get_string(v), want) == 0)
				return true;
		}
	}
	return false;
}

/*
 * add_scopes
 *		Append the space-separated scopes of s to *scopes.
 */
static void
add_scopes(List **scopes, const char *s)
{
	char	   *copy = pstrdup(s);
	char	   *save;

	for (char *tok = strtok_r(copy, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
		*scopes = lappend(*scopes, pstrdup(tok));
	pfree(copy);
}

/*
 * parse_subject
 *		The character id of "CHARACTER:EVE:<id>", or 0.
 */
static int64
parse_subject(const char *sub)
{
	const char *prefix = "CHARACTER:EVE:";
	const char *p;
	int64		id = 0;

	if (sub == NULL || strncmp(sub, prefix, strlen(prefix)) != 0)
		return 0;
	p = sub + strlen(prefix);
	if (*p == '\0' || strlen(p) > 18)
		return 0;
	for (; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return 0;
		id = id * 10 + (*p - '0');
	}
	return id;
}

/*
 * verify
 *		esi_jwt_verify's work; every foreign object goes into w.
 */
static EsiJwtResult
verify(JwtWork *w, const char *token, const char *jwks_json,
	   const char *client_id, TimestampTz now, EsiJwtClaims *claims,
	   char **why)
{
	const char *dot1;
	const char *dot2;
	size_t		tlen;
	unsigned char *hdr,
			   *body,
			   *sig;
	size_t		hdrlen,
				bodylen,
				siglen;
	const char *alg;
	JwtAlg		jalg;
	const char *kid;
	const char *s;
	json_object *v;
	EsiJwtResult r;
	const unsigned char *vsig;
	size_t		vsiglen;
	bool		present;
	TimestampTz t;
	int64		skew = (int64) esi_guc_sso_clock_skew * USECS_PER_SEC;

	/* compact JWS: three base64url parts */
	if (token == NULL || (tlen = strlen(token)) == 0)
	{
		*why = pstrdup("the token is empty");
		return ESI_JWT_MALFORMED;
	}
	if (tlen > ESI_JWT_MAX_TOKEN)
	{
		*why = psprintf("the token is longer than %d bytes", ESI_JWT_MAX_TOKEN);
		return ESI_JWT_MALFORMED;
	}
	dot1 = strchr(token, '.');
	dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
	if (dot1 == NULL || dot2 == NULL || strchr(dot2 + 1, '.') != NULL)
	{
		*why = pstrdup("the token is not three dot-separated parts");
		return ESI_JWT_MALFORMED;
	}
	if ((hdr = b64url_decode(token, dot1 - token, &hdrlen)) == NULL ||
		(body = b64url_decode(dot1 + 1, dot2 - dot1 - 1, &bodylen)) == NULL ||
		(sig = b64url_decode(dot2 + 1, token + tlen - dot2 - 1, &siglen)) == NULL)
	{
		*why = pstrdup("a part of the token is not base64url");
		return ESI_JWT_MALFORMED;
	}

	/* the header */
	if ((w->header = parse_json((char *) hdr, hdrlen)) == NULL ||
		!json_object_is_type(w->header, json_type_object))
	{
		*why = pstrdup("the token's header is not a JSON object");
		return ESI_JWT_MALFORMED;
	}
	if ((alg = get_string(w->header, "alg")) == NULL)
	{
		*why = pstrdup("the token's header has no algorithm (alg)");
		return ESI_JWT_BAD_ALGORITHM;
	}
	if (strcmp(alg, "RS256") == 0)
		jalg = JWT_RS256;
	else if (strcmp(alg, "ES256") == 0)
		jalg = JWT_ES256;
	else
	{
		*why = psprintf("algorithm \"%s\" is neither RS256 nor ES256", shown(alg));
		return ESI_JWT_BAD_ALGORITHM;
	}
	if (json_object_object_get_ex(w->header, "crit", &v))
	{
		*why = pstrdup("the token's header lists critical extensions (crit)");
		return ESI_JWT_MALFORMED;
	}
	if ((kid = get_string(w->header, "kid")) == NULL)
	{
		*why = pstrdup("the token's header names no key (kid)");
		return ESI_JWT_MALFORMED;
	}
	claims->kid = pstrdup(kid);

	/* the signature, over the first two parts as sent */
	if ((r = find_key(w, jwks_json, kid, jalg, why)) != ESI_JWT_OK)
		return r;
	if (jalg == JWT_ES256)
	{
		/* JWS carries r || s; libcrypto verifies DER */
		if (siglen != 2 * ESI_JWT_P256_BYTES)
		{
			*why = psprintf("the ES256 signature has %zu bytes, not %d (r and s)",
							siglen, 2 * ESI_JWT_P256_BYTES);
			return ESI_JWT_BAD_SIGNATURE;
		}
		vsiglen = es256_der(w, sig);
		vsig = w->der;
	}
	else
	{
		vsig = sig;
		vsiglen = (siglen == (size_t) EVP_PKEY_get_size(w->pkey)) ? siglen : 0;
	}
	if (vsiglen == 0 ||
		(w->md = EVP_MD_CTX_new()) == NULL ||
		EVP_DigestVerifyInit_ex(w->md, NULL, "SHA256", NULL, NULL, w->pkey, NULL) != 1 ||
		EVP_DigestVerify(w->md, vsig, vsiglen, (const unsigned char *) token, dot2 - token) != 1)
	{
		*why = psprintf("the signature does not verify with key \"%s\"", shown(kid));
		return ESI_JWT_BAD_SIGNATURE;
	}

	/* the claims */
	if ((w->payload = parse_json((char *) body, bodylen)) == NULL ||
		!json_object_is_type(w->payload, json_type_object))
	{
		*why = pstrdup("the token's claims are not a JSON object");
		return ESI_JWT_MALFORMED;
	}
	s = get_string(w->payload, "iss");
	if (s == NULL || (strcmp(s, ESI_SSO_ISSUER) != 0 && strcmp(s, ESI_SSO_ISSUER_URL) != 0))
	{
		*why = pstrdup("the issuer (iss) is not " ESI_SSO_ISSUER);
		return ESI_JWT_BAD_ISSUER;
	}
	if (!json_object_object_get_ex(w->payload, "aud", &v))
	{
		*why = pstrdup("the token has no audience (aud)");
		return ESI_JWT_BAD_AUDIENCE;
	}
	if (client_id == NULL || !audience_has(v, client_id))
	{
		*why = pstrdup("the audience (aud) does not hold the client id");
		return ESI_JWT_BAD_AUDIENCE;
	}
	if (!audience_has(v, ESI_SSO_AUDIENCE))
	{
		*why = pstrdup("the audience (aud) does not hold \"" ESI_SSO_AUDIENCE "\"");
		return ESI_JWT_BAD_AUDIENCE;
	}
	if (!get_time(w->payload, "exp", &present, &t))
	{
		*why = pstrdup("the expiry (exp) is missing or not a date");
		return ESI_JWT_MALFORMED;
	}
	if (t <= now - skew)
	{
		*why = pstrdup("the token has expired (exp)");
		return ESI_JWT_EXPIRED;
	}
	claims->expires = t;
	if (!get_time(w->payload, "nbf", &present, &t) && present)
	{
		*why = pstrdup("the start of validity (nbf) is not a date");
		return ESI_JWT_MALFORMED;
	}
	if (present && t > now + skew)
	{
		*why = pstrdup("the token is not valid yet (nbf)");
		return ESI_JWT_EXPIRED;
	}
	if ((claims->character_id = parse_subject(get_string(w->payload, "sub"))) <= 0)
	{
		*why = pstrdup("the subject (sub) is not CHARACTER:EVE:<character id>");
		return ESI_JWT_BAD_SUBJECT;
	}
	if ((s = get_string(w->payload, "name")) == NULL)
	{
		*why = pstrdup("the character's name (name) is missing");
		return ESI_JWT_MALFORMED;
	}
	claims->name = pstrdup(s);
	if ((s = get_string(w->payload, "owner")) == NULL)
	{
		*why = pstrdup("the owner hash (owner) is missing");
		return ESI_JWT_MALFORMED;
	}
	claims->owner = pstrdup(s);
	if (json_object_object_get_ex(w->payload, "scp", &v))
	{
		if (json_object_is_type(v, json_type_string))
			add_scopes(&claims->scopes, json_object_get_string(v));
		else if (json_object_is_type(v, json_type_array))
		{
			size_t		n = json_object_array_length(v);

			for (size_t i = 0; i < n; i++)
			{
				json_object *e = json_object_array_get_idx(v, i);

				if (e == NULL || !json_object_is_type(e, json_type_string))
				{
					*why = pstrdup("a scope (scp) is not a string");
					return ESI_JWT_MALFORMED;
				}
				add_scopes(&claims->scopes, json_object_get_string(e));
			}
		}
		else if (!json_object_is_type(v, json_type_null))
		{
			*why = pstrdup("the scopes (scp) are neither a string nor an array");
			return ESI_JWT_MALFORMED;
		}
	}
	return ESI_JWT_OK;
}

/*
 * esi_jwt_verify
 *		Verify an EVE SSO access token against a JWKS (JSON text) for a
 *		client id, at time now.  On ESI_JWT_OK, *claims holds the token's
 *		claims; otherwise *why says which check failed (claims->kid is set
 *		once the header was read, for refetching the JWKS on an unknown
 *		key).  Everything returned is palloc'd in the current context.
 */
EsiJwtResult
esi_jwt_verify(const char *token, const char *jwks_json,
			   const char *client_id, TimestampTz now,
			   EsiJwtClaims *claims, char **why)
{
	JwtWork		w;
	EsiJwtResult r;
	char	   *reason;

	memset(&w, 0, sizeof(w));
	memset(claims, 0, sizeof(*claims));
	PG_TRY();
	{
		w.result = verify(&w, token, jwks_json, client_id, now, claims, &w.why);
	}
	PG_CATCH();
	{
		jwt_work_free(&w);
		PG_RE_THROW();
	}
	PG_END_TRY();
	r = w.result;
	reason = w.why;
	jwt_work_free(&w);

	if (r != ESI_JWT_OK)
	{
		char	   *kid = claims->kid;

		if (claims->scopes != NIL)
			list_free_deep(claims->scopes);
		memset(claims, 0, sizeof(*claims));
		claims->kid = kid;
	}
	if (why != NULL)
		*why = reason;
	return r;
}
