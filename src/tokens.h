/*-------------------------------------------------------------------------
 *
 * tokens.h
 *		  EVE SSO logins from SQL, and the access tokens scans send.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_TOKENS_H
#define ESI_TOKENS_H

#include "postgres.h"

#include "option.h"

extern void esi_token_check(EsiServerOptions *opts, int64 character_id,
							const char *scope, const char *subject);
extern void esi_token_invalidate(EsiServerOptions *opts, int64 character_id,
								 const char *refused);
extern List *esi_token_characters(EsiServerOptions *opts, const char *scope);
extern char *esi_token_character_name(EsiServerOptions *opts, int64 character_id);
extern int64 esi_token_corporation_character(EsiServerOptions *opts,
											 int64 corporation_id,
											 const char *scope,
											 const char *roles,
											 const char *subject);
extern char *esi_token_for(EsiServerOptions *opts, int64 character_id,
						   const char *scope, const char *subject);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_tokens_shmem_size(void);
extern void esi_tokens_shmem_init(void *area, bool found, int tranche);

#endif							/* ESI_TOKENS_H */
