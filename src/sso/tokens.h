/*-------------------------------------------------------------------------
 *
 * tokens.h
 *		  The token service: the access tokens scans and calls send
 *		  (tokens.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_TOKENS_H
#define ESI_TOKENS_H

#include "option.h"
#include "utils/timestamp.h"

extern void esi_token_check(EsiServerOptions *opts, int64 character_id,
							const char *scope, const char *subject);
extern void esi_token_invalidate(EsiServerOptions *opts, int64 character_id,
								 const char *refused);
extern List *esi_token_characters(EsiServerOptions *opts, const char *scope);
extern char *esi_token_character_name(EsiServerOptions *opts, int64 character_id);
extern char *esi_token_for(EsiServerOptions *opts, int64 character_id,
						   const char *scope, const char *subject);

/* ---- for the token writer (token_worker.c) ---- */

/*
 * A rotated refresh token kept in shared memory until the token writer
 * has stored it: which character, and the token (sealed) of generation
 * gen.
 */
typedef struct EsiPendingToken
{
	Oid			server_oid;
	int64		character_id;
	char		server_name[NAMEDATALEN];
	uint64		gen;
	bytea	   *token;
} EsiPendingToken;

extern bool esi_token_pending_next(Oid dboid, int *cursor, EsiPendingToken *out);
extern bool esi_token_pending_get(Oid dboid, EsiPendingToken *out);
extern void esi_token_pending_stored(Oid dboid, const EsiPendingToken *p);
extern int	esi_token_pending_databases(Oid *out, int max);
extern void esi_token_pending_drop_database(Oid dboid);

/* ---- shared with logins.c (the logins' SQL API) ---- */

/* what esi.sso_characters says of one character */
typedef struct EsiCharacterRow
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
} EsiCharacterRow;

extern void esi_character_read(const char *server, int64 character_id, Oid role,
							   EsiCharacterRow *out);
extern char *esi_token_client_secret(const char *server);
extern char *esi_token_refresh_aad(const char *server, int64 character_id);
extern void esi_token_put(EsiServerOptions *opts, int64 character_id,
						  const char *token, TimestampTz expires);
extern void esi_token_forget(EsiServerOptions *opts, int64 character_id);
extern bytea *esi_token_pending_sealed(EsiServerOptions *opts, int64 character_id);
extern void esi_token_forget_pending(EsiServerOptions *opts, int64 character_id);

/* its part of shared memory, set up by shmem.c when the server starts */
extern Size esi_tokens_shmem_size(void);
extern void esi_tokens_shmem_init(void *area, bool found, int tranche);

#endif							/* ESI_TOKENS_H */
