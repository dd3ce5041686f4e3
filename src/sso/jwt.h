/*-------------------------------------------------------------------------
 *
 * jwt.h
 *		  Verification of EVE SSO access tokens (JWTs), in jwt.c.
 *
 * A token passes when: it is a JWS in compact form whose header says
 * alg RS256 or ES256 (nothing else, "none" and HS256 least of all); its
 * kid names a key of the JWKS of the type that algorithm needs, whose
 * signature it carries: for RS256 an RSA key (2048 bits or more) and an
 * RSASSA-PKCS1-v1_5 SHA-256 signature, for ES256 an EC key on P-256 and
 * an ECDSA SHA-256 signature as JWS writes it (r || s, 64 bytes; a high s
 * is valid); iss is "login.eveonline.com" or
 * "https://login.eveonline.com"; aud (a string or an array) holds both the
 * client id and "EVE Online"; exp (and nbf, when present) hold at "now"
 * give or take esi_fdw.sso_clock_skew; sub is "CHARACTER:EVE:<id>"; name
 * and owner are strings; scp, when present, is a string (space-separated
 * scopes) or an array of strings.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_JWT_H
#define ESI_JWT_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

/* the two forms of EVE SSO's issuer, and the audience every token has */
#define ESI_SSO_ISSUER "login.eveonline.com"
#define ESI_SSO_ISSUER_URL "https://login.eveonline.com"
#define ESI_SSO_AUDIENCE "EVE Online"

typedef enum EsiJwtResult
{
	ESI_JWT_OK,
	ESI_JWT_MALFORMED,			/* not a JWS, bad base64url or JSON, a claim
								 * missing or of the wrong type */
	ESI_JWT_BAD_ALGORITHM,		/* alg is neither RS256 nor ES256, or the key
								 * is of the other type, for another
								 * algorithm or on another curve */
	ESI_JWT_UNKNOWN_KEY,		/* kid not in the JWKS (refetch it), an RSA
								 * key too short, a point not on P-256, or
								 * the JWKS is broken */
	ESI_JWT_BAD_SIGNATURE,
	ESI_JWT_BAD_ISSUER,
	ESI_JWT_BAD_AUDIENCE,
	ESI_JWT_EXPIRED,			/* exp passed, or nbf not reached */
	ESI_JWT_BAD_SUBJECT			/* sub is not CHARACTER:EVE:<id> */
} EsiJwtResult;

typedef struct EsiJwtClaims
{
	int64		character_id;	/* from sub */
	char	   *name;
	char	   *owner;			/* owner hash: changes when the character is
								 * sold */
	List	   *scopes;			/* of char *; NIL without scp */
	TimestampTz expires;		/* exp */
	char	   *kid;			/* the header's, set as soon as it is read
								 * (also when the check fails later) */
} EsiJwtClaims;

extern EsiJwtResult esi_jwt_verify(const char *token, const char *jwks_json,
								   const char *client_id, TimestampTz now,
								   EsiJwtClaims *claims, char **why);
extern const char *esi_jwt_result_name(EsiJwtResult r);

#endif							/* ESI_JWT_H */
