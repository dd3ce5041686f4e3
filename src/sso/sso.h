/*-------------------------------------------------------------------------
 *
 * sso.h
 *		  EVE SSO v2, the client side: metadata, authorize URLs with PKCE,
 *		  the token and revocation endpoints, and access-token checks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_SSO_H
#define ESI_SSO_H

#include "nodes/pg_list.h"

#include "http.h"
#include "jwt.h"
#include "option.h"
#include "route.h"

/* what the token endpoint answered */
typedef struct EsiSsoTokens
{
	char	   *access_token;
	char	   *refresh_token;	/* NULL when none was issued */
	int			expires_in;
} EsiSsoTokens;

typedef enum EsiSsoResult
{
	ESI_SSO_OK,
	ESI_SSO_INVALID_GRANT,		/* the code or refresh token is no good */
	ESI_SSO_REFUSED				/* another 4xx: a client problem */
} EsiSsoResult;

extern char *esi_sso_random(int nbytes);
extern char *esi_sso_challenge(const char *verifier);
extern char *esi_sso_authorize_url(EsiServerOptions *opts, List *scopes,
								   const char *state, const char *challenge);
extern EsiSsoResult esi_sso_token(EsiServerOptions *opts, const char *grant_form,
								  const char *client_secret, EsiSsoTokens *out,
								  char **error_text);
extern void esi_sso_revoke(EsiServerOptions *opts, const char *refresh_token,
						   const char *client_secret);
extern void esi_sso_check_access_token(EsiServerOptions *opts,
									   const char *access_token,
									   EsiJwtClaims *claims);
/*
 * What a 401 or 403 of ESI to an authenticated request means.  ESI answers
 * trouble with the token itself (expired, refused, or SSO unable to check
 * it) with a 403 as well as a 401: CCP made "all SSO errors" 403s, naming
 * SSO in the error or carrying an "sso_status" member (esi-issues #83,
 * #130, #1266).  Those are worth a fresh token and one more try; the other
 * 403s refuse the character itself.
 */
typedef enum EsiRefusal
{
	ESI_REFUSAL_TOKEN,			/* the token: refresh it and try once more */
	ESI_REFUSAL_SCOPE,			/* the token lacks the route's scope */
	ESI_REFUSAL_ROLES,			/* the character lacks corporation roles */
	ESI_REFUSAL_ACCESS			/* the character may not see this */
} EsiRefusal;

extern EsiRefusal esi_sso_refusal(long status, const char *body, size_t len,
								  int *sso_status);
extern bool esi_sso_token_refused(EsiTransfer *t, long status);
extern char *esi_sso_refusal_hint(EsiRoute *route, long status,
								  const char *body, size_t len);
extern char *esi_sso_form_value(const char *value);
extern int64 esi_sso_character_corporation(EsiServerOptions *opts,
										   int64 character_id);
extern List *esi_sso_character_roles(EsiServerOptions *opts, int64 character_id,
									 const char *access_token, bool *refused);

#endif							/* ESI_SSO_H */
