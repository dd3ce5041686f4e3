/*-------------------------------------------------------------------------
 *
 * crypto.h
 *		  Secrets at rest: AES-256-GCM under keys kept in a file outside the
 *		  database (crypto.c).
 *
 * A sealed value is
 *
 *	  magic (1 byte, 0xE5) | version (1 byte, 2) | key id (4 bytes, big
 *	  endian) | nonce (12 random bytes) | ciphertext | tag (16 bytes)
 *
 * The associated data that binds a value to its row (for example
 * "refresh_token:<server>:<character_id>") and, since version 2, to its
 * database (by name) is authenticated, not stored: unsealing with other
 * associated data, or in another database, fails like tampering does.
 * Version 1 values (esi_fdw before 0.6.0) were bound to their row only;
 * they are read only to bind them (esi_unseal_ext).
 *
 * The key file (esi_fdw.key_file) holds one key per line, the last one
 * current; it is created with mode 0600 on first use and never written
 * into the data directory by default.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_CRYPTO_H
#define ESI_CRYPTO_H

/* bytes a sealed value adds to its plaintext */
#define ESI_SEAL_OVERHEAD (1 + 1 + 4 + 12 + 16)

extern bytea *esi_seal(const char *plain, size_t len, const char *aad);
extern char *esi_unseal(const bytea *sealed, const char *aad, size_t *len);
extern char *esi_unseal_ext(const bytea *sealed, const char *aad, size_t *len,
							bool unbound_ok, bool missing_ok);
extern bool esi_sealed_is_bound(const bytea *sealed);
extern uint32 esi_sealed_key_id(const bytea *sealed);
extern uint32 esi_crypto_current_key_id(void);
extern void esi_crypto_add_key(void);
extern void esi_crypto_drop_keys_except(const uint32 *keep, int n);
extern char *esi_crypto_key_file_path(void);

#endif							/* ESI_CRYPTO_H */
