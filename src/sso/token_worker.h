/*-------------------------------------------------------------------------
 *
 * token_worker.h
 *		  The background worker that owns every write of EVE SSO tokens.
 *
 * EVE SSO rotates refresh tokens: the new one must be stored even when the
 * query that caused the refresh then fails or rolls back, or runs in a
 * read-only transaction.  So a backend hands each write to a short-lived
 * background worker, which commits it in a transaction of its own, and
 * waits for it.  A rotated refresh token is first kept in shared memory
 * (tokens.c), and esi_token_flush() starts a worker that stores every
 * token its database keeps there: with no worker slot free, the token
 * stays kept until a later call finds one.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_TOKEN_WORKER_H
#define ESI_TOKEN_WORKER_H

typedef enum EsiTokenWrite
{
	ESI_TOKEN_SAVE,				/* insert or update a character's login */
	ESI_TOKEN_ROTATE,			/* store a rotated refresh token */
	ESI_TOKEN_NEEDS_LOGIN,		/* the refresh token is no good any more */
	ESI_TOKEN_FORGET			/* logout: delete the character */
} EsiTokenWrite;

typedef struct EsiTokenRow
{
	const char *server;
	int64		character_id;
	const char *name;			/* SAVE */
	const char *owner_hash;		/* SAVE */
	const char *scopes;			/* SAVE: a text[] literal */
	Oid			role;			/* SAVE: the role that logged in */
	const bytea *refresh_token; /* SAVE, ROTATE: sealed; may be NULL */
	const char *reason;			/* NEEDS_LOGIN: why */
} EsiTokenRow;

extern void esi_token_write(EsiTokenWrite what, const EsiTokenRow *row);
extern bool esi_token_flush(bool wait);
extern void esi_token_flush_all(void);

/* set from _PG_init: run by the token worker after it saved a login */
extern void (*esi_token_saved_hook) (void);

/* the worker's entry point (named in its BackgroundWorker) */
extern PGDLLEXPORT void esi_token_worker_main(Datum arg);
extern PGDLLEXPORT void esi_token_flush_main(Datum arg);

#endif							/* ESI_TOKEN_WORKER_H */
