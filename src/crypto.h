/*-------------------------------------------------------------------------
 *
 * crypto.h
 *		  Secrets at rest: AES-256-GCM under keys kept in a file outside the
 *		  database (crypto.c).
 *
 * A sealed value is
 *
 *	  magic (1 byte, 0xE5) | version (1 byte, 1) | key id (4 bytes, big
 *	  endian) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
 *
 * The associated data that binds a value to its row (for example
 * "refresh_token:<character_id>") is authenticated, not stored: unsealing
 * with other associated data fails like tampering does.
 *
 * The key file (esi_fdw.key_file) holds one key per line, the last one
 * current; it is created with mode 0600 on first use and never written
 * into the data directory by default.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CRYPTO_H
#define ESI_CRYPTO_H

#include "postgres.h"

/* bytes a sealed value adds to its plaintext */
#define ESI_SEAL_OVERHEAD (1 + 1 + 4 + 12 + 16)

extern bytea *esi_seal(const char *plain, size_t len, const char *aad);
extern char *esi_unseal(const bytea *sealed, const char *aad, size_t *len);
extern uint32 esi_sealed_key_id(const bytea *sealed);
extern uint32 esi_crypto_current_key_id(void);
extern void esi_crypto_add_key(void);
extern void esi_crypto_drop_keys_except(const uint32 *keep, int n);
extern char *esi_crypto_key_file_path(void);

#endif							/* ESI_CRYPTO_H */
