/*-------------------------------------------------------------------------
 *
 * cache.c
 *		  The response cache shared by every session of the cluster.
 *
 * Bodies live in files, one per reply, under $PGDATA/esi_fdw_cache; their
 * index (expiry, size, last use, who is fetching) lives in shared memory.
 * Files rather than tables, because a SELECT must be able to fill the cache
 * in a read-only transaction and on a hot standby, where no table can be
 * written; files rather than shared memory alone, because the cache must
 * survive a restart and hold far more than shared memory should.  The index
 * is rebuilt from the files' headers on first use after a start.
 *
 * A file is written under a temporary name and renamed into place while
 * the index lock is held, so a reader sees the old file or the new one,
 * never half of one; each file carries its full key (a hash collision
 * reads as a miss) and a CRC (a torn file after an OS crash reads as a
 * miss).  Nothing is fsync'ed: losing the cache loses nothing but time.
 *
 * Least recently used entries are removed when the files pass
 * esi_fdw.cache_size; an entry being fetched is never removed.
 *
 * A write through esi_fdw (call.c) removes the replies it may have made
 * stale: every entry of the same server whose path starts like the
 * write's up to its first id ("/characters/90000001", "/fleets/7").  The
 * index keeps a hash of that prefix per entry, so no file is read.
 *
 * Coalescing: the first session to need a missing or stale entry claims it
 * (its pid in the entry) and sends the request; a session that finds the
 * entry claimed by a live backend waits and asks again, and takes what was
 * stored after it started waiting, fresh or not.  A claim is released when
 * the reply is stored or the scan ends (also on error, from the crawl's
 * cleanup); a claim of a backend that died is ignored.
 *
 * A 304 is a reply too (RFC 9111, 4.3.4): the headers it carries (ETag,
 * Last-Modified, X-Pages, the expiry from Cache-Control, Age, Expires and
 * Date) replace the stored ones, and the entry counts as stored at the
 * 304's arrival.  The file is written anew with them, so a page that ESI
 * confirmed reads as fresh after a restart, every session reads the
 * version the 304 named, and sessions that wait for a revalidation (or
 * with esi_fdw.cache = 'refresh' ask after it began) take its answer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "port/pg_crc32c.h"
#include "storage/fd.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"

#include "cache.h"
#include "guc.h"

#define ESI_CACHE_DIR "esi_fdw_cache"
#define ESI_CACHE_MAGIC 0x45534943	/* "ESIC" */
#define ESI_CACHE_VERSION 1

/* one entry of the index */
typedef struct EsiCacheEntry
{
	uint64		hash;			/* of the key: the hash table's key */
	int			status;			/* 0: nothing stored yet */
	int			fetcher;		/* pid of the backend fetching it, or 0 */
	TimestampTz stored_at;
	TimestampTz expires;
	TimestampTz last_used;
	int64		size;			/* bytes of its file */
	uint64		scope;			/* what a write makes stale (scope_hash) */
	bool		doomed;			/* a write made it stale while being fetched */
} EsiCacheEntry;

typedef struct EsiCacheShared
{
	LWLock		lock;			/* the index and bytes */
	bool		loaded;			/* the index was read from the files */
	int64		bytes;			/* of all files indexed */
} EsiCacheShared;

/* what a file starts with; then key, route, url, etag, last-modified and
 * x-pages (each NUL-terminated, length 0 when absent), then the body and a
 * NUL */
typedef struct EsiCacheFileHeader
{
	uint32		magic;
	uint32		version;
	int32		status;
	uint32		lens[6];
	uint64		bodylen;
	TimestampTz stored_at;
	TimestampTz expires;
	pg_crc32c	crc;			/* of everything after the header */
} EsiCacheFileHeader;

enum
{
	STR_KEY, STR_ROUTE, STR_URL, STR_ETAG, STR_LM, STR_XPAGES
};

static EsiCacheShared *cache = NULL;
static HTAB *cache_index = NULL;

static TimestampTz reply_expiry(EsiTransfer *t, bool *cacheable, bool *said);

PG_FUNCTION_INFO_V1(esi_cache_entries);
PG_FUNCTION_INFO_V1(esi_cache_clear);

Size
esi_cache_shmem_size(void)
{
	return sizeof(EsiCacheShared);
}

/*
 * esi_cache_index_size
 *		What the index (a shared hash table that esi_cache_shmem_init
 *		allocates itself) needs beside the cache's area.
 */
Size
esi_cache_index_size(void)
{
	return hash_estimate_size(esi_guc_cache_max_entries, sizeof(EsiCacheEntry));
}

void
esi_cache_shmem_init(void *area, bool found, int tranche)
{
	HASHCTL		ctl;

	cache = area;
	if (!found)
		LWLockInitialize(&cache->lock, tranche);
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(EsiCacheEntry);
	cache_index = ShmemInitHash("esi_fdw cache index",
								esi_guc_cache_max_entries, esi_guc_cache_max_entries,
								&ctl, HASH_ELEM | HASH_BLOBS);
}

static void
cache_path(char *path, uint64 hash)
{
	snprintf(path, MAXPGPATH, ESI_CACHE_DIR "/%016llx", (unsigned long long) hash);
}

static uint64
key_hash(const char *key)
{
	return hash_bytes_extended((const unsigned char *) key, strlen(key), 0);
}

/*
 * scope_hash
 *		Hash of base_url and of path up to the end of its first segment
 *		made of digits ("/characters/90000001/contacts/?page=2" ->
 *		"/characters/90000001"); 0 for a path without one (nothing a write
 *		would make stale: "/markets/prices/").
 */
static uint64
scope_hash(const char *base_url, size_t base_len, const char *path)
{
	const char *p = path;
	uint64		h;

	while (*p == '/')
	{
		const char *seg = ++p;

		while (*p && *p != '/' && *p != '?')
			p++;
		if (p > seg && strspn(seg, "0123456789") == (size_t) (p - seg))
		{
			h = hash_bytes_extended((const unsigned char *) base_url, base_len, 1);
			h = hash_combine64(h, hash_bytes_extended((const unsigned char *) path,
													  p - path, 2));
			return h == 0 ? 1 : h;
		}
	}
	return 0;
}

/*
 * key_scope
 *		scope_hash of a cache key (base URL, then three more lines, then
 *		path and query: esi_cache_key).
 */
static uint64
key_scope(const char *key)
{
	const char *p = key;
	size_t		base_len = 0;

	for (int i = 0; i < 4; i++)
	{
		p = strchr(p, '\n');
		if (p == NULL)
			return 0;
		if (i == 0)
			base_len = p - key;
		p++;
	}
	return scope_hash(key, base_len, p);
}

/*
 * esi_cache_key
 *		Everything that makes two requests different replies: the server,
 *		the compatibility date, language and tenant, and path with query.
 */
char *
esi_cache_key(EsiServerOptions *opts, const char *display)
{
	return psprintf("%s\n%s\n%s\n%s\n%s",
					opts->base_url, opts->compat_date,
					opts->language ? opts->language : "",
					opts->tenant ? opts->tenant : "", display);
}

/*
 * esi_cache_character_key
 *		The key of a character's (or a corporation's, read with a
 *		character's token) reply: key, then the character, the server's
 *		OID and the database's.  What one character's token read is kept
 *		to the server and database whose login read it: a server of the
 *		same name and base URL in another database, where someone else
 *		logged in the same character id, does not get it.  Public replies
 *		stay shared by every database: their key holds everything that
 *		makes ESI's answer (base URL, compatibility date, language, tenant,
 *		path and query, a POST's body), so a server reads what it would
 *		have been sent.
 */
char *
esi_cache_character_key(const char *key, EsiServerOptions *opts, const char *character)
{
	return psprintf("%s\ncharacter %s of server %u in database %u",
					key, character, opts->server_oid, MyDatabaseId);
}

/*
 * read_file
 *		Read a cache file: all of it, or (header_only) up to its body.
 *		false when it is missing, torn, or holds another key.
 */
static bool
read_file(uint64 hash, const char *key, bool header_only, EsiCacheReply *out)
{
	char		path[MAXPGPATH];
	EsiCacheFileHeader hdr;
	int			fd;
	size_t		strs = 0;
	size_t		want;
	char	   *buf;
	char	   *p;
	char	   *strv[6];
	ssize_t		got;

	cache_path(path, hash);
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
		return false;
	if (read(fd, &hdr, sizeof(hdr)) != sizeof(hdr) ||
		hdr.magic != ESI_CACHE_MAGIC || hdr.version != ESI_CACHE_VERSION ||
		hdr.bodylen > MaxAllocSize - 1024 * 1024)
	{
		CloseTransientFile(fd);
		return false;
	}
	for (int i = 0; i < 6; i++)
	{
		if (hdr.lens[i] > 64 * 1024)
		{
			CloseTransientFile(fd);
			return false;
		}
		strs += hdr.lens[i];
	}
	want = strs + (header_only ? 0 : hdr.bodylen + 1);
	buf = palloc_extended(want + 1, MCXT_ALLOC_NO_OOM);
	if (buf == NULL)
	{
		CloseTransientFile(fd);
		return false;
	}
	got = read(fd, buf, want);
	CloseTransientFile(fd);
	if (got != (ssize_t) want)
	{
		pfree(buf);
		return false;
	}
	if (!header_only)
	{
		pg_crc32c	crc;

		INIT_CRC32C(crc);
		COMP_CRC32C(crc, buf, want);
		FIN_CRC32C(crc);
		if (!EQ_CRC32C(crc, hdr.crc))
		{
			pfree(buf);
			return false;
		}
	}
	p = buf;
	for (int i = 0; i < 6; i++)
	{
		if (hdr.lens[i] == 0)
			strv[i] = NULL;
		else
		{
			if (p[hdr.lens[i] - 1] != '\0')
			{
				pfree(buf);
				return false;
			}
			strv[i] = p;
		}
		p += hdr.lens[i];
	}
	if (key && (strv[STR_KEY] == NULL || strcmp(strv[STR_KEY], key) != 0))
	{
		pfree(buf);
		return false;
	}
	memset(out, 0, sizeof(EsiCacheReply));
	out->status = hdr.status;
	out->storage = buf;
	out->etag = strv[STR_ETAG];
	out->last_modified = strv[STR_LM];
	out->x_pages = strv[STR_XPAGES];
	out->key = strv[STR_KEY];
	out->route = strv[STR_ROUTE];
	out->url = strv[STR_URL];
	out->stored_at = hdr.stored_at;
	out->expires = hdr.expires;
	if (!header_only)
	{
		out->body = p;
		out->len = hdr.bodylen;
		p[hdr.bodylen] = '\0';
	}
	return true;
}

/*
 * load_index
 *		After a start: index the files a previous run left (lock held
 *		exclusively).  Leftover temporary files are removed.
 */
static void
load_index(void)
{
	DIR		   *dir;
	struct dirent *de;

	cache->loaded = true;
	if (MakePGDirectory(ESI_CACHE_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", ESI_CACHE_DIR)));
	dir = AllocateDir(ESI_CACHE_DIR);
	while ((de = ReadDir(dir, ESI_CACHE_DIR)) != NULL)
	{
		char		path[MAXPGPATH];
		char	   *end;
		uint64		hash;
		EsiCacheReply r;
		EsiCacheEntry *e;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, MAXPGPATH, ESI_CACHE_DIR "/%s", de->d_name);
		if (strlen(de->d_name) != 16)
		{
			unlink(path);		/* a temporary file of a crashed store */
			continue;
		}
		hash = strtoull(de->d_name, &end, 16);
		if (*end != '\0' || stat(path, &st) != 0 ||
			!read_file(hash, NULL, true, &r))
		{
			unlink(path);
			continue;
		}
		e = hash_search(cache_index, &hash, HASH_ENTER_NULL, NULL);
		if (e == NULL)
		{
			pfree(r.storage);
			unlink(path);
			continue;
		}
		e->scope = r.key ? key_scope(r.key) : 0;
		e->doomed = false;
		pfree(r.storage);
		e->status = r.status;
		e->fetcher = 0;
		e->stored_at = r.stored_at;
		e->expires = r.expires;
		e->last_used = time_t_to_timestamptz(st.st_mtime);
		e->size = st.st_size;
		cache->bytes += st.st_size;
	}
	FreeDir(dir);
}

/*
 * lock_index
 *		Take the index lock; the first taker after a start loads the index.
 */
static void
lock_index(void)
{
	if (cache == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("esi_fdw's cache is not set up"),
				 errhint("Add esi_fdw to shared_preload_libraries and restart the server.")));
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	if (!cache->loaded)
		load_index();
}

/*
 * remove_entry
 *		Drop an entry and its file (lock held).
 */
static void
remove_entry(EsiCacheEntry *e)
{
	char		path[MAXPGPATH];
	uint64		hash = e->hash;

	cache_path(path, hash);
	if (e->status != 0)
		unlink(path);
	cache->bytes -= e->size;
	hash_search(cache_index, &hash, HASH_REMOVE, NULL);
}

/*
 * evict
 *		Remove least recently used entries (not being fetched, nor keep)
 *		until the files fit in esi_fdw.cache_size, or one more entry fits
 *		in the index (room_for_one).  Lock held.
 */
static void
evict(uint64 keep, bool room_for_one)
{
	int64		limit = (int64) esi_guc_cache_size_mb * 1024 * 1024;

	for (;;)
	{
		HASH_SEQ_STATUS seq;
		EsiCacheEntry *e,
				   *victim = NULL;

		if (cache->bytes <= limit &&
			(!room_for_one || hash_get_num_entries(cache_index) < esi_guc_cache_max_entries))
			return;
		hash_seq_init(&seq, cache_index);
		while ((e = hash_seq_search(&seq)) != NULL)
		{
			if (e->hash == keep || e->fetcher != 0)
				continue;
			if (victim == NULL || e->last_used < victim->last_used)
				victim = e;
		}
		if (victim == NULL)
			return;
		remove_entry(victim);
		room_for_one = false;
	}
}

/*
 * claim_is_live
 *		Whether the backend that claimed an entry still runs (a backend that
 *		died, even without cleaning up, leaves no waiter stuck).
 */
static bool
claim_is_live(int pid)
{
	return pid != 0 && (pid == MyProcPid || BackendPidGetProc(pid) != NULL);
}

/*
 * esi_cache_lookup
 *		What to do for one request: use a stored reply (HIT, *reply filled),
 *		wait for another session (BUSY), or send it (FETCH; claimed when
 *		this session now owns the entry, and reply->etag set when a stale
 *		copy may be revalidated).  mode ON serves fresh entries; REFRESH
 *		none of itself.  Either serves what was stored (a 200, or renewed
 *		by a 304) since accept_since, when not 0: a reply another session
 *		received after the caller began waiting for it, or after its
 *		statement began.
 */
EsiCacheResult
esi_cache_lookup(const char *key, EsiCacheMode mode, TimestampTz accept_since,
				 EsiCacheReply *reply, bool *claimed)
{
	uint64		hash = key_hash(key);

	*claimed = false;
	memset(reply, 0, sizeof(EsiCacheReply));

	for (int tries = 0; tries < 3; tries++)
	{
		TimestampTz now = GetCurrentTimestamp();
		EsiCacheEntry *e;
		bool		found;
		bool		stale_copy;

		lock_index();
		e = hash_search(cache_index, &hash, HASH_FIND, NULL);
		if (e && e->fetcher != 0 && e->fetcher != MyProcPid)
		{
			if (claim_is_live(e->fetcher))
			{
				LWLockRelease(&cache->lock);
				return ESI_CACHE_BUSY;
			}
			e->fetcher = 0;		/* its fetcher died */
			if (e->doomed)
			{
				remove_entry(e);	/* a write made it stale meanwhile */
				e = NULL;
			}
		}
		if (e && e->status != 0 &&
			((mode == ESI_CACHE_ON && now < e->expires &&
			  (e->status == 200 ||
			   now < e->stored_at + (int64) esi_guc_negative_cache_ttl * USECS_PER_SEC)) ||
			 (accept_since != 0 && e->stored_at >= accept_since)))
		{
			TimestampTz stored = e->stored_at;

			e->last_used = now;
			LWLockRelease(&cache->lock);
			if (read_file(hash, key, false, reply))
				return ESI_CACHE_HIT;
			/* gone or torn: drop it (unless replaced meanwhile), again */
			lock_index();
			e = hash_search(cache_index, &hash, HASH_FIND, NULL);
			if (e && e->stored_at == stored && e->fetcher == 0)
				remove_entry(e);
			LWLockRelease(&cache->lock);
			continue;
		}

		/* missing or stale: claim it */
		if (e == NULL)
		{
			if (hash_get_num_entries(cache_index) >= esi_guc_cache_max_entries)
				evict(0, true);
			e = hash_search(cache_index, &hash, HASH_ENTER_NULL, &found);
			if (e == NULL)
			{
				/* the index is full of entries being fetched */
				LWLockRelease(&cache->lock);
				return ESI_CACHE_FETCH;
			}
			e->status = 0;
			e->size = 0;
			e->stored_at = e->expires = 0;
			e->scope = key_scope(key);
			e->doomed = false;
		}
		e->fetcher = MyProcPid;
		e->last_used = now;
		stale_copy = (e->status == 200);
		LWLockRelease(&cache->lock);
		*claimed = true;

		if (stale_copy && !read_file(hash, key, true, reply))
			memset(reply, 0, sizeof(EsiCacheReply));
		return ESI_CACHE_FETCH;
	}
	return ESI_CACHE_FETCH;
}

/*
 * esi_cache_read
 *		The stored reply of an entry this session claimed (after a 304).
 */
bool
esi_cache_read(const char *key, EsiCacheReply *reply)
{
	return read_file(key_hash(key), key, false, reply);
}

/*
 * write_all
 *		write(2) until done; false on failure.
 */
static bool
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0)
	{
		ssize_t		n = write(fd, p, len);

		if (n <= 0)
			return false;
		p += n;
		len -= n;
	}
	return true;
}

/*
 * esi_cache_store
 *		Store a reply (status 200, or a 404/403 to remember) and release the
 *		claim.  A reply that cannot be written (disk full, too large for
 *		the cache) is simply not cached.  true when the reply is stored.
 */
bool
esi_cache_store(const char *key, const char *route, const char *url,
				EsiCacheReply *reply)
{
	uint64		hash = key_hash(key);
	const char *strv[6] = {key, route, url, reply->etag, reply->last_modified, reply->x_pages};
	EsiCacheFileHeader hdr;
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	int			fd;
	bool		ok;
	int64		size;
	pg_crc32c	crc;
	EsiCacheEntry *e;
	bool		found;
	static const char nul = '\0';

	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = ESI_CACHE_MAGIC;
	hdr.version = ESI_CACHE_VERSION;
	hdr.status = reply->status;
	hdr.bodylen = reply->len;
	hdr.stored_at = reply->stored_at;
	hdr.expires = reply->expires;
	INIT_CRC32C(crc);
	for (int i = 0; i < 6; i++)
	{
		hdr.lens[i] = strv[i] ? strlen(strv[i]) + 1 : 0;
		if (strv[i])
			COMP_CRC32C(crc, strv[i], hdr.lens[i]);
	}
	COMP_CRC32C(crc, reply->body, reply->len);
	COMP_CRC32C(crc, &nul, 1);
	FIN_CRC32C(crc);
	hdr.crc = crc;
	size = sizeof(hdr) + reply->len + 1;
	for (int i = 0; i < 6; i++)
		size += hdr.lens[i];

	if (size > (int64) esi_guc_cache_size_mb * 1024 * 1024)
	{
		esi_cache_release(key);
		return false;
	}

	lock_index();				/* loads the index (and makes the directory) */
	LWLockRelease(&cache->lock);

	snprintf(tmp, MAXPGPATH, ESI_CACHE_DIR "/tmp.%d.%016llx", MyProcPid,
			 (unsigned long long) hash);
	fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	ok = fd >= 0 && write_all(fd, &hdr, sizeof(hdr));
	for (int i = 0; ok && i < 6; i++)
		if (strv[i])
			ok = write_all(fd, strv[i], hdr.lens[i]);
	ok = ok && write_all(fd, reply->body, reply->len) && write_all(fd, &nul, 1);
	if (fd >= 0 && CloseTransientFile(fd) != 0)
		ok = false;
	if (!ok)
	{
		unlink(tmp);
		esi_cache_release(key);
		return false;
	}

	cache_path(path, hash);
	lock_index();
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	if (e == NULL)
	{
		if (hash_get_num_entries(cache_index) >= esi_guc_cache_max_entries)
			evict(hash, true);
		e = hash_search(cache_index, &hash, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			LWLockRelease(&cache->lock);
			unlink(tmp);
			return false;
		}
		e->size = 0;
		e->status = 0;
		e->scope = key_scope(key);
		e->doomed = false;
	}
	if (e->doomed)
	{
		/* a write made what this session fetched stale: keep none of it */
		unlink(tmp);
		remove_entry(e);
		LWLockRelease(&cache->lock);
		return false;
	}
	if (rename(tmp, path) != 0)
	{
		unlink(tmp);
		if (e->status == 0)
			hash_search(cache_index, &hash, HASH_REMOVE, NULL);
		else if (e->fetcher == MyProcPid)
			e->fetcher = 0;
		LWLockRelease(&cache->lock);
		return false;
	}
	cache->bytes += size - e->size;
	e->size = size;
	e->status = reply->status;
	e->stored_at = reply->stored_at;
	e->expires = reply->expires;
	e->last_used = GetCurrentTimestamp();
	if (e->fetcher == MyProcPid)
		e->fetcher = 0;
	evict(hash, false);
	LWLockRelease(&cache->lock);
	return true;
}

/*
 * esi_cache_revalidated
 *		A 304 to this session's revalidation of the entry it claimed; r is
 *		the stored reply (esi_cache_read).  The headers the 304 carries
 *		replace the stored ones in r (RFC 9111, 4.3.4): etag (the 304's,
 *		when usable, else NULL to keep the stored one), Last-Modified,
 *		X-Pages, and the expiry (kept when the 304 says nothing about it);
 *		r->stored_at becomes now.  The entry's file is written anew with
 *		them and the claim released, so other sessions, and this cluster
 *		after a restart, read what the 304 said.  An entry that cannot be
 *		written again (disk full) is dropped: no session reads the headers
 *		the 304 replaced.  r's body serves the scan in any case.
 */
void
esi_cache_revalidated(const char *key, EsiCacheReply *r, EsiTransfer *t,
					  const char *etag)
{
	const char *lm = esi_http_header(t, ESI_HDR_LAST_MODIFIED);
	const char *x_pages = esi_http_header(t, ESI_HDR_X_PAGES);
	bool		cacheable;
	bool		said;
	TimestampTz expires = reply_expiry(t, &cacheable, &said);

	if (etag)
		r->etag = (char *) etag;
	if (lm)
		r->last_modified = (char *) lm;
	if (x_pages)
		r->x_pages = (char *) x_pages;
	if (said)
		r->expires = expires;
	r->stored_at = GetCurrentTimestamp();
	if (!cacheable || !esi_cache_store(key, r->route, r->url, r))
		esi_cache_forget(key);
}

/*
 * esi_cache_release
 *		Give up a claim without storing anything: waiters fetch themselves.
 */
void
esi_cache_release(const char *key)
{
	uint64		hash = key_hash(key);
	EsiCacheEntry *e;

	if (cache == NULL)
		return;
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	if (e && e->fetcher == MyProcPid)
	{
		e->fetcher = 0;
		if (e->doomed)
			remove_entry(e);
		else if (e->status == 0)
			hash_search(cache_index, &hash, HASH_REMOVE, NULL);
	}
	LWLockRelease(&cache->lock);
}

/*
 * esi_cache_forget
 *		Drop an entry (a cached page of an older version of a result).
 */
void
esi_cache_forget(const char *key)
{
	uint64		hash = key_hash(key);
	EsiCacheEntry *e;

	lock_index();
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	if (e && (e->fetcher == 0 || e->fetcher == MyProcPid))
		remove_entry(e);
	LWLockRelease(&cache->lock);
}

/*
 * esi_cache_forget_scope
 *		After a write to path (path?query) on base_url: drop every reply
 *		it may have made stale (same server, same path up to its first id;
 *		scope_hash).  One being fetched now is dropped when its fetcher is
 *		done with it.  Returns how many were dropped or doomed.
 */
int
esi_cache_forget_scope(const char *base_url, const char *path)
{
	uint64		scope = scope_hash(base_url, strlen(base_url), path);
	HASH_SEQ_STATUS seq;
	EsiCacheEntry *e;
	int			n = 0;

	if (scope == 0 || cache == NULL)
		return 0;
	lock_index();
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->scope != scope)
			continue;
		n++;
		if (e->fetcher != 0 && e->fetcher != MyProcPid && claim_is_live(e->fetcher))
			e->doomed = true;
		else
			remove_entry(e);
	}
	LWLockRelease(&cache->lock);
	return n;
}

/*
 * cache_control_max_age
 *		max-age=N of a Cache-Control header (-1 when absent); *no_store and
 *		*no_cache for those directives.
 */
static int64
cache_control_max_age(const char *cc, bool *no_store, bool *no_cache)
{
	int64		max_age = -1;
	const char *p = cc;

	*no_store = *no_cache = false;
	while (p && *p)
	{
		const char *end = strchr(p, ',');
		size_t		len = end ? (size_t) (end - p) : strlen(p);

		while (len > 0 && (*p == ' ' || *p == '\t'))
			p++, len--;
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 8 && pg_strncasecmp(p, "no-store", 8) == 0)
			*no_store = true;
		else if (len == 8 && pg_strncasecmp(p, "no-cache", 8) == 0)
			*no_cache = true;
		else if (len > 8 && pg_strncasecmp(p, "max-age=", 8) == 0)
		{
			char		num[24];
			int64		v;

			if (len - 8 < sizeof(num))
			{
				memcpy(num, p + 8, len - 8);
				num[len - 8] = '\0';
				if (esi_http_parse_count(num, &v))
					max_age = v;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return max_age;
}

/*
 * reply_expiry
 *		Until when a reply is fresh: max-age minus Age when Cache-Control
 *		gives one, else Expires measured against the reply's Date (so the
 *		two clocks need not agree), else now (stored, but revalidated on
 *		next use).  *cacheable is false for no-store; *said is false when
 *		the reply has no max-age, no-cache nor valid Expires.
 */
static TimestampTz
reply_expiry(EsiTransfer *t, bool *cacheable, bool *said)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		no_store,
				no_cache;
	int64		max_age = cache_control_max_age(esi_http_header(t, ESI_HDR_CACHE_CONTROL),
												&no_store, &no_cache);
	int64		age = 0;
	pg_time_t	expires,
				date;
	int64		lifetime = 0;

	*cacheable = !no_store;
	*said = true;
	if (no_cache)
		return now;
	if (max_age >= 0)
	{
		if (!esi_http_parse_count(esi_http_header(t, ESI_HDR_AGE), &age))
			age = 0;
		lifetime = max_age - age;
	}
	else if (esi_http_parse_date(esi_http_header(t, ESI_HDR_EXPIRES), &expires))
	{
		if (!esi_http_parse_date(esi_http_header(t, ESI_HDR_DATE), &date))
			date = (pg_time_t) timestamptz_to_time_t(now);
		lifetime = (int64) (expires - date);
	}
	else
		*said = false;
	if (lifetime <= 0)
		return now;
	/* a year at most: a silly header must not pin a reply forever */
	lifetime = Min(lifetime, (int64) 366 * SECS_PER_DAY);
	return now + lifetime * USECS_PER_SEC;
}

/*
 * esi_cache_expiry
 *		Until when a reply is fresh (reply_expiry); *cacheable is false for
 *		no-store.
 */
TimestampTz
esi_cache_expiry(EsiTransfer *t, bool *cacheable)
{
	bool		said;

	return reply_expiry(t, cacheable, &said);
}

/*
 * esi_cache_entries
 *		SQL: what the cache holds, for the view esi.cache.  The URLs name
 *		what was asked for (character ids): only members of
 *		pg_read_all_stats (and superusers) see rows; anyone else gets none,
 *		not an error, so that tools browsing every view do not fail.
 */
Datum
esi_cache_entries(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS seq;
	EsiCacheEntry *e;
	EsiCacheEntry *copy;
	long		n = 0;
	long		max;
	TimestampTz now = GetCurrentTimestamp();

	InitMaterializedSRF(fcinfo, 0);
	if (!has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		return (Datum) 0;
	lock_index();
	max = hash_get_num_entries(cache_index);
	copy = palloc_extended(sizeof(EsiCacheEntry) * Max(max, 1), MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		LWLockRelease(&cache->lock);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->status != 0 && n < max)
			copy[n++] = *e;
		else if (n >= max)
		{
			hash_seq_term(&seq);
			break;
		}
	LWLockRelease(&cache->lock);

	for (long i = 0; i < n; i++)
	{
		EsiCacheReply r;
		Datum		values[8];
		bool		nulls[8] = {0};
		const char *route = NULL,
				   *url = NULL;
		bool		have;

		CHECK_FOR_INTERRUPTS();
		have = read_file(copy[i].hash, NULL, true, &r);
		if (have)
		{
			route = r.route;
			url = r.url;
		}
		values[0] = route ? CStringGetTextDatum(route) : (nulls[0] = true, (Datum) 0);
		values[1] = url ? CStringGetTextDatum(url) : (nulls[1] = true, (Datum) 0);
		values[2] = Int32GetDatum(copy[i].status);
		values[3] = Int64GetDatum(copy[i].size);
		values[4] = TimestampTzGetDatum(copy[i].stored_at);
		values[5] = TimestampTzGetDatum(copy[i].expires);
		values[6] = TimestampTzGetDatum(copy[i].last_used);
		values[7] = BoolGetDatum(now < copy[i].expires);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
		if (have)
			pfree(r.storage);
	}
	PG_RETURN_VOID();
}

/*
 * esi_cache_clear
 *		SQL: empty the cache; returns the entries removed.  Entries being
 *		fetched now stay (their sessions store them when done).
 */
Datum
esi_cache_clear(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	EsiCacheEntry *e;
	int64		n = 0;

	lock_index();
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->fetcher != 0 && claim_is_live(e->fetcher))
			continue;
		remove_entry(e);
		n++;
	}
	LWLockRelease(&cache->lock);
	PG_RETURN_INT64(n);
}
