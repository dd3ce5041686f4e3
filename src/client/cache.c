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
 * survive a restart and hold far more than shared memory should.  A reply
 * that came gzip'ed is kept as it came and inflated (libdeflate) when read:
 * a cold scan writes an eighth of the bytes (file format version 2;
 * version 1 files, written inflated by esi_fdw 0.6.0 and older, are read
 * too).
 *
 * Locking.  One LWLock guards the index.  A lookup that finds a fresh
 * entry (or one another session is fetching) holds it shared, so sessions
 * reading the cache do not wait for each other; inserting, storing,
 * releasing a claim and removing take it exclusively.  The list of
 * entries in order of last use (for eviction) and each entry's last_used
 * change under the lock held exclusively, or held shared together with
 * the spinlock lru_mutex (a hit moves its entry to the list's head).  No
 * file is read, written, renamed or unlinked while the lock is held: a
 * reply is written under a temporary name and renamed into place by the
 * session that claimed the entry (nobody else touches a claimed entry's
 * file), and then the index is updated; an entry being removed is marked
 * dead (its remover's pid), its file unlinked after the lock is released,
 * and the entry dropped afterwards.  Each file carries its full key (a
 * hash collision reads as a miss) and a CRC (a torn file after an OS crash
 * reads as a miss).  Nothing is fsync'ed: losing the cache loses nothing
 * but time.
 *
 * Loading.  After a start the index is rebuilt from the files' headers,
 * once and completely: by the refresh launcher as it starts (so no query
 * pays for it), or, where no launcher runs (a hot standby) or before it is
 * done, by the first session that needs the cache.  The loader reads the
 * directory without holding the lock, can be cancelled, and adds what it
 * read in one step; others wait for it on the condition variable.  An
 * error or a cancel midway marks the index "not loaded" again, so the
 * next session loads it all.
 *
 * Spare files.  Creating a file costs far more than rewriting one (ext4
 * allocates an inode, and without a journal skips every inode freed in the
 * last minutes: most of what storing cost a cold scan).  So a file no entry
 * names any more (its entry removed, or replaced by a newer copy) is not
 * unlinked but renamed "spare.<n>", cut to one byte, and offered (a stack
 * in shared memory, under the spinlock spare_mutex) to the next store,
 * which writes its reply into it and renames it into place.  Up to
 * ESI_CACHE_SPARE_FILES are kept (beyond, files are unlinked); their names
 * are never looked up, and the index's loading removes them after a start,
 * when the stack is empty again.
 *
 * Least recently used entries are removed when the files pass
 * esi_fdw.cache_size (or the index esi_fdw.cache_max_entries), the victim
 * taken from the tail of the list in O(1); an entry being fetched is never
 * removed.
 *
 * A write through esi_fdw (call.c) removes the replies it may have made
 * stale: every entry of the same server whose path starts like the
 * write's up to its first id ("/characters/90000001", "/fleets/7").  The
 * index keeps a hash of that prefix per entry, so no file is read.
 *
 * Coalescing: the first session to need a missing or stale entry claims it
 * (its pid in the entry) and sends the request; a session that finds the
 * entry claimed by a live backend waits and asks again, and takes what was
 * stored after it started waiting, fresh or not.  Waiting is sleeping on
 * the cache's condition variable, which every stored reply or released
 * claim broadcasts (with the counter "changes"); a waiter looks again at
 * least every ESI_CACHE_RECHECK_MS, for a fetcher that died without
 * telling.  In pg_stat_activity the wait shows as wait_event_type
 * 'Extension', wait_event 'Extension' (PostgreSQL 15 gives extensions no
 * names of their own).  A claim is released when the reply is stored or
 * the scan ends (also on error, from the crawl's cleanup); a claim of a
 * backend that died is ignored.
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

#include <dirent.h>
#include <libdeflate.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "port/atomics.h"
#include "port/pg_crc32c.h"
#include "storage/condition_variable.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "cache.h"
#include "guc.h"

#define ESI_CACHE_DIR "esi_fdw_cache"
#define ESI_CACHE_MAGIC 0x45534943	/* "ESIC" */
#define ESI_CACHE_VERSION 2		/* 2: gzip bodies kept as they came */

/* entries the index holds beyond cache_max_entries: dead ones in removal */
#define ESI_CACHE_SPARE_ENTRIES 256

/* emptied files kept for the next stores to write into (see Spare files) */
#define ESI_CACHE_SPARE_FILES 4096

/* the index's loading */
#define LOAD_NOT_LOADED 0
#define LOAD_LOADING 1
#define LOAD_LOADED 2

/* one entry of the index */
typedef struct EsiCacheEntry
{
	uint64		hash;			/* of the key: the hash table's key */
	int			status;			/* 0: nothing stored yet */
	int			fetcher;		/* pid of the backend fetching it, or 0 */
	int			remover;		/* pid of the backend removing its file (a
								 * dead entry), or 0 */
	TimestampTz stored_at;
	TimestampTz expires;
	TimestampTz last_used;		/* with lru (see Locking) */
	int64		size;			/* bytes of its file */
	uint64		scope;			/* what a write makes stale (scope_hash) */
	bool		doomed;			/* a write made it stale while being fetched */
	dlist_node	lru;			/* in cache->lru unless dead */
} EsiCacheEntry;

typedef struct EsiCacheShared
{
	LWLock		lock;			/* the index, bytes, load state */
	int			load_state;		/* LOAD_* */
	int			loader;			/* pid loading the index */
	int64		bytes;			/* of all files indexed */
	int			ndead;			/* entries whose files are being removed */
	slock_t		lru_mutex;		/* lru and last_used under a shared lock */
	dlist_head	lru;			/* most recently used first */
	pg_atomic_uint64 changes;	/* claims given up (stored, released, gone) */
	ConditionVariable cv;		/* broadcast with each change, and when the
								 * index is loaded */
	slock_t		spare_mutex;	/* the three fields below */
	uint32		spare_next;		/* name of the next spare file */
	int			nspare;			/* spare files ready, names in spare[] */
	uint32		spare[ESI_CACHE_SPARE_FILES];
} EsiCacheShared;

/*
 * What a file starts with; in version 2 an EsiCacheFileCoding follows it;
 * then key, route, url, etag, last-modified and x-pages (each
 * NUL-terminated, length 0 when absent), then the body as stored (gzip'ed
 * as it arrived, or as it is) and a NUL.  Version 1 (esi_fdw 0.6.0 and
 * older) has no EsiCacheFileCoding and the body as it is: such files are
 * still read.
 */
typedef struct EsiCacheFileHeader
{
	uint32		magic;
	uint32		version;
	int32		status;
	uint32		lens[6];
	uint64		bodylen;		/* of the body as served (inflated) */
	TimestampTz stored_at;
	TimestampTz expires;
	pg_crc32c	crc;			/* of everything after the header(s) */
} EsiCacheFileHeader;

#define CACHE_CODING_IDENTITY 0
#define CACHE_CODING_GZIP 1

typedef struct EsiCacheFileCoding
{
	uint32		coding;			/* CACHE_CODING_* of the stored body */
	uint32		unused;
	uint64		storedlen;		/* bytes of the stored body */
} EsiCacheFileCoding;

enum
{
	STR_KEY, STR_ROUTE, STR_URL, STR_ETAG, STR_LM, STR_XPAGES
};

static EsiCacheShared *cache = NULL;
static HTAB *cache_index = NULL;

/* files of entries this backend marked dead, to unlink after the lock */
static uint64 *doomed_files = NULL;
static int	ndoomed_files = 0;
static int	maxdoomed_files = 0;

/* coalescing: this backend waits on the condition variable since the
 * counter read busy_changes */
static bool busy_waiting = false;
static uint64 busy_changes = 0;

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
	return hash_estimate_size(esi_guc_cache_max_entries + ESI_CACHE_SPARE_ENTRIES,
							  sizeof(EsiCacheEntry));
}

void
esi_cache_shmem_init(void *area, bool found, int tranche)
{
	HASHCTL		ctl;
	long		n = esi_guc_cache_max_entries + ESI_CACHE_SPARE_ENTRIES;

	cache = area;
	if (!found)
	{
		LWLockInitialize(&cache->lock, tranche);
		SpinLockInit(&cache->lru_mutex);
		dlist_init(&cache->lru);
		pg_atomic_init_u64(&cache->changes, 0);
		ConditionVariableInit(&cache->cv);
		cache->load_state = LOAD_NOT_LOADED;
		SpinLockInit(&cache->spare_mutex);
		cache->spare_next = 0;
		cache->nspare = 0;
	}
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(EsiCacheEntry);
	cache_index = ShmemInitHash("esi_fdw cache index", n, n,
								&ctl, HASH_ELEM | HASH_BLOBS);
}

static void
cache_path(char *path, uint64 hash)
{
	snprintf(path, MAXPGPATH, ESI_CACHE_DIR "/%016llx", (unsigned long long) hash);
}

/*
 * spare_path
 *		The name of spare file id (not 16 characters long: no lookup reads
 *		it, and the index's loading removes it).
 */
static void
spare_path(char *path, uint32 id)
{
	snprintf(path, MAXPGPATH, ESI_CACHE_DIR "/spare.%08x", id);
}

/*
 * spare_take
 *		The name of a spare file this backend now owns (true), or false
 *		when there is none.
 */
static bool
spare_take(char *path)
{
	uint32		id = 0;
	bool		have = false;

	SpinLockAcquire(&cache->spare_mutex);
	if (cache->nspare > 0)
	{
		id = cache->spare[--cache->nspare];
		have = true;
	}
	SpinLockRelease(&cache->spare_mutex);
	if (have)
		spare_path(path, id);
	return have;
}

/*
 * spare_new
 *		A name for a new spare file (false when the pool is full: then
 *		the file is unlinked instead).
 */
static bool
spare_new(char *path, uint32 *idp)
{
	uint32		id = 0;
	bool		room;

	SpinLockAcquire(&cache->spare_mutex);
	room = cache->nspare < ESI_CACHE_SPARE_FILES;
	if (room)
		id = cache->spare_next++;
	SpinLockRelease(&cache->spare_mutex);
	if (room)
		spare_path(path, id);
	*idp = id;
	return room;
}

/*
 * spare_add
 *		Cut the file at spath (spare_new's name for id, that this backend
 *		renamed a cache file to) to one byte and offer it to the next
 *		store; unlink it when that fails or the pool filled up meanwhile.
 *		One byte, not none: ext4 flushes a file cut to nothing when it is
 *		next closed (auto_da_alloc), which would make the store that
 *		rewrites it wait for the disk.
 */
static void
spare_add(const char *spath, uint32 id)
{
	bool		added = false;

	if (truncate(spath, 1) == 0)
	{
		SpinLockAcquire(&cache->spare_mutex);
		if (cache->nspare < ESI_CACHE_SPARE_FILES)
		{
			cache->spare[cache->nspare++] = id;
			added = true;
		}
		SpinLockRelease(&cache->spare_mutex);
	}
	if (!added)
		unlink(spath);
}

/*
 * retire_file
 *		A cache file that no entry names any more (its entry is dead, lock
 *		not held): kept, emptied, as a spare file, or unlinked.
 */
static void
retire_file(const char *path)
{
	char		spath[MAXPGPATH];
	uint32		id;

	if (!spare_new(spath, &id))
		unlink(path);
	else if (rename(path, spath) == 0)
		spare_add(spath, id);
	else
		unlink(path);
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
 * gzip_member_start
 *		Bytes of the gzip member header at gz (RFC 1952, 2.3), 0 when
 *		there is none.
 */
static size_t
gzip_member_start(const unsigned char *gz, size_t len)
{
	size_t		pos = 10;
	unsigned char flg;

	if (len < 10 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8)
		return 0;
	flg = gz[3];
	if (flg & 0xe0)
		return 0;				/* reserved bits */
	if (flg & 4)				/* FEXTRA */
	{
		if (len < pos + 2)
			return 0;
		pos += 2 + (gz[pos] | (gz[pos + 1] << 8));
	}
	for (int f = 8; f <= 16; f += 8)	/* FNAME, FCOMMENT */
		if (flg & f)
		{
			while (pos < len && gz[pos] != 0)
				pos++;
			pos++;
		}
	if (flg & 2)				/* FHCRC */
		pos += 2;
	return pos <= len ? pos : 0;
}

/*
 * inflate_stored
 *		A new buffer holding the strs bytes at head, then the gzip body
 *		(one member or several, as it arrived) inflated to exactly bodylen
 *		bytes, and a NUL; NULL when it does not inflate so (a torn file).
 *		Each member's deflate stream is inflated without checking the
 *		member's CRC-32 (an eighth of the time inflating took in the
 *		bench's warm INSERT ... SELECT): the file's
 *		CRC-32C already checked every stored byte, and the reply's CRC-32
 *		was checked when it arrived (http.c); the member's length (ISIZE)
 *		is checked.  With keep, the gzip body follows the NUL, as it is.
 */
static char *
inflate_stored(const char *head, size_t strs, const char *gz, size_t gzlen,
			   size_t bodylen, bool keep)
{
	static struct libdeflate_decompressor *inflater = NULL;
	const unsigned char *in = (const unsigned char *) gz;
	char	   *out;
	size_t		in_pos = 0;
	size_t		out_len = 0;

	if (inflater == NULL && (inflater = libdeflate_alloc_decompressor()) == NULL)
		return NULL;
	out = palloc_extended(strs + bodylen + 1 + (keep ? gzlen : 0), MCXT_ALLOC_NO_OOM);
	if (out == NULL)
		return NULL;
	memcpy(out, head, strs);
	if (keep)
		memcpy(out + strs + bodylen + 1, gz, gzlen);
	while (in_pos < gzlen)
	{
		size_t		hdr = gzip_member_start(in + in_pos, gzlen - in_pos);
		size_t		used = 0,
					produced = 0;
		const unsigned char *trailer;

		if (hdr == 0 ||
			libdeflate_deflate_decompress_ex(inflater, in + in_pos + hdr,
											 gzlen - in_pos - hdr,
											 out + strs + out_len, bodylen - out_len,
											 &used, &produced) != LIBDEFLATE_SUCCESS ||
			gzlen - in_pos - hdr - used < 8)
		{
			pfree(out);
			return NULL;
		}
		trailer = in + in_pos + hdr + used;
		if ((uint32) (trailer[4] | (trailer[5] << 8) | (trailer[6] << 16) |
					  ((uint32) trailer[7] << 24)) != (uint32) produced)
		{
			pfree(out);
			return NULL;
		}
		in_pos += hdr + used + 8;
		out_len += produced;
	}
	if (out_len != bodylen)
	{
		pfree(out);
		return NULL;
	}
	return out;
}

/*
 * read_file
 *		Read a cache file: all of it, or (header_only) up to its body.
 *		false when it is missing, torn, or holds another key.  With
 *		keep_gzip, a body kept gzip'ed is in out->gzip too (to be stored
 *		again as it is).
 */
static bool
read_file(uint64 hash, const char *key, bool header_only, bool keep_gzip,
		  EsiCacheReply *out)
{
	char	   *kept_gz = NULL;
	char		path[MAXPGPATH];
	EsiCacheFileHeader hdr;
	EsiCacheFileCoding coding = {CACHE_CODING_IDENTITY, 0, 0};
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
		hdr.magic != ESI_CACHE_MAGIC || (hdr.version != 1 && hdr.version != 2) ||
		hdr.bodylen > MaxAllocSize - 1024 * 1024)
	{
		CloseTransientFile(fd);
		return false;
	}
	if (hdr.version == 1)
		coding.storedlen = hdr.bodylen;
	else if (read(fd, &coding, sizeof(coding)) != sizeof(coding) ||
			 (coding.coding != CACHE_CODING_IDENTITY && coding.coding != CACHE_CODING_GZIP) ||
			 coding.storedlen > MaxAllocSize - 1024 * 1024 ||
			 (coding.coding == CACHE_CODING_IDENTITY && coding.storedlen != hdr.bodylen))
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
	want = strs + (header_only ? 0 : coding.storedlen + 1);
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
		if (coding.coding == CACHE_CODING_GZIP)
		{
			char	   *plain = inflate_stored(buf, strs, buf + strs, coding.storedlen,
											   hdr.bodylen, keep_gzip);

			pfree(buf);
			if (plain == NULL)
				return false;
			buf = plain;
			if (keep_gzip)
				kept_gz = buf + strs + hdr.bodylen + 1;
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
	/* without a key to compare: its own (an inode reused as a spare file) */
	if (key ? (strv[STR_KEY] == NULL || strcmp(strv[STR_KEY], key) != 0) :
		(strv[STR_KEY] != NULL && key_hash(strv[STR_KEY]) != hash))
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
		out->gzip = kept_gz;
		out->gzip_len = kept_gz ? coding.storedlen : 0;
	}
	return true;
}

/*
 * check_set_up
 *		ERROR when the cache's shared memory is missing (not preloaded).
 */
static void
check_set_up(void)
{
	if (cache == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("esi_fdw's cache is not set up"),
				 errdetail("The cache's index lives in shared memory, set up when the server starts."),
				 errhint("Add esi_fdw to shared_preload_libraries and restart the server.")));
}

/*
 * is_live
 *		Whether the backend with this pid still runs (a backend that died,
 *		even without cleaning up, leaves no waiter stuck).
 */
static bool
is_live(int pid)
{
	return pid != 0 && (pid == MyProcPid || BackendPidGetProc(pid) != NULL);
}

/*
 * lru_touch
 *		Make e the most recently used entry.  Lock held exclusively, or
 *		shared (the spinlock is then needed; take it in both cases).
 */
static void
lru_touch(EsiCacheEntry *e, TimestampTz now)
{
	SpinLockAcquire(&cache->lru_mutex);
	e->last_used = now;
	dlist_move_head(&cache->lru, &e->lru);
	SpinLockRelease(&cache->lru_mutex);
}

/*
 * new_entry
 *		Add an entry for hash (lock held exclusively); NULL when the index
 *		is full even after eviction.
 */
static EsiCacheEntry *new_entry(uint64 hash, const char *key, TimestampTz now);

/*
 * remove_entry
 *		Drop an entry (lock held exclusively).  One with a file is marked
 *		dead and its file queued for unlinking after the lock is released
 *		(finish_removals); others are dropped at once.
 */
static void
remove_entry(EsiCacheEntry *e)
{
	uint64		hash = e->hash;

	if (e->remover != 0)
		return;					/* being removed already */
	dlist_delete(&e->lru);
	cache->bytes -= e->size;
	e->size = 0;
	if (e->status == 0)
	{
		hash_search(cache_index, &hash, HASH_REMOVE, NULL);
		return;
	}
	if (ndoomed_files >= maxdoomed_files)
	{
		int			n = Max(64, maxdoomed_files * 2);
		uint64	   *a = MemoryContextAllocExtended(TopMemoryContext,
												   sizeof(uint64) * n,
												   MCXT_ALLOC_NO_OOM);

		if (a == NULL)
		{
			/* no memory to defer it: unlink now, under the lock */
			char		path[MAXPGPATH];

			cache_path(path, hash);
			unlink(path);
			hash_search(cache_index, &hash, HASH_REMOVE, NULL);
			return;
		}
		if (ndoomed_files > 0)
			memcpy(a, doomed_files, sizeof(uint64) * ndoomed_files);
		if (doomed_files)
			pfree(doomed_files);
		doomed_files = a;
		maxdoomed_files = n;
	}
	doomed_files[ndoomed_files++] = hash;
	e->remover = MyProcPid;
	e->fetcher = 0;
	e->doomed = false;
	cache->ndead++;
}

/*
 * finish_removals
 *		Unlink the files of the entries this backend marked dead, then drop
 *		those entries from the index (call with the lock not held).
 */
static void
finish_removals(void)
{
	char		path[MAXPGPATH];

	if (ndoomed_files == 0)
		return;
	for (int i = 0; i < ndoomed_files; i++)
	{
		cache_path(path, doomed_files[i]);
		retire_file(path);
	}
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	for (int i = 0; i < ndoomed_files; i++)
	{
		EsiCacheEntry *e = hash_search(cache_index, &doomed_files[i], HASH_FIND, NULL);

		if (e && e->remover == MyProcPid)
		{
			hash_search(cache_index, &doomed_files[i], HASH_REMOVE, NULL);
			cache->ndead--;
		}
	}
	pg_atomic_fetch_add_u64(&cache->changes, 1);
	LWLockRelease(&cache->lock);
	ndoomed_files = 0;
	ConditionVariableBroadcast(&cache->cv);
}

/*
 * reap_dead
 *		An entry whose remover died between marking and dropping it: drop
 *		it now (lock held exclusively), its file with finish_removals.
 */
static void
reap_dead(EsiCacheEntry *e)
{
	e->remover = 0;
	cache->ndead--;
	e->status = 1;				/* has a file, as far as anyone knows */
	dlist_push_tail(&cache->lru, &e->lru);
	remove_entry(e);
}

/*
 * announce
 *		A claim was given up (a reply stored, a claim released, an entry
 *		dropped): wake the sessions waiting (lock not held).
 */
static void
announce(void)
{
	ConditionVariableBroadcast(&cache->cv);
}

/*
 * evict
 *		Remove least recently used entries (not being fetched, nor keep)
 *		while the files pass esi_fdw.cache_size; with room_for_one, also
 *		until one more entry fits in the index.  Lock held exclusively.
 */
static void
evict(uint64 keep, bool room_for_one)
{
	int64		limit = (int64) esi_guc_cache_size_mb * 1024 * 1024;
	dlist_iter	it;

	for (;;)
	{
		EsiCacheEntry *victim = NULL;

		if (cache->bytes <= limit &&
			!(room_for_one &&
			  hash_get_num_entries(cache_index) - cache->ndead >= esi_guc_cache_max_entries))
			return;
		/* from the least recently used: skipped are only entries in flight */
		dlist_reverse_foreach(it, &cache->lru)
		{
			EsiCacheEntry *e = dlist_container(EsiCacheEntry, lru, it.cur);

			if (e->hash == keep || (e->fetcher != 0 && is_live(e->fetcher)))
				continue;
			victim = e;
			break;
		}
		if (victim == NULL)
			return;
		remove_entry(victim);
	}
}

static EsiCacheEntry *
new_entry(uint64 hash, const char *key, TimestampTz now)
{
	EsiCacheEntry *e;
	bool		found;

	if (hash_get_num_entries(cache_index) - cache->ndead >= esi_guc_cache_max_entries)
		evict(hash, true);
	if (hash_get_num_entries(cache_index) >= esi_guc_cache_max_entries + ESI_CACHE_SPARE_ENTRIES)
		return NULL;
	e = hash_search(cache_index, &hash, HASH_ENTER_NULL, &found);
	if (e == NULL)
		return NULL;
	e->status = 0;
	e->fetcher = 0;
	e->remover = 0;
	e->size = 0;
	e->stored_at = e->expires = 0;
	e->scope = key_scope(key);
	e->doomed = false;
	e->last_used = now;
	dlist_push_head(&cache->lru, &e->lru);
	return e;
}

/*
 * LoadedFile: one file's entry, read by load_index before it is indexed
 */
typedef struct LoadedFile
{
	uint64		hash;
	int			status;
	TimestampTz stored_at;
	TimestampTz expires;
	TimestampTz last_used;
	int64		size;
	uint64		scope;
} LoadedFile;

/* what load_index read */
typedef struct LoadedFiles
{
	LoadedFile *files;
	int			n;
} LoadedFiles;

/*
 * loaded_file_cmp
 *		qsort order of LoadedFile: least recently used first.
 */
static int
loaded_file_cmp(const void *a, const void *b)
{
	const LoadedFile *x = a;
	const LoadedFile *y = b;

	return x->last_used < y->last_used ? -1 : x->last_used > y->last_used ? 1 : 0;
}

/*
 * read_directory
 *		The headers of every cache file a previous run left (no lock held;
 *		can be cancelled).  Leftover temporary files and files that are
 *		not ours (another version, torn) are removed.
 */
static void
read_directory(DIR *dir, LoadedFiles *lf)
{
	struct dirent *de;
	int			max = 1024;

	lf->files = palloc(sizeof(LoadedFile) * max);
	lf->n = 0;
	while ((errno = 0, de = readdir(dir)) != NULL)
	{
		char		path[MAXPGPATH];
		char	   *end;
		uint64		hash;
		EsiCacheReply r;
		struct stat st;
		LoadedFile *f;

		CHECK_FOR_INTERRUPTS();
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
			!read_file(hash, NULL, true, false, &r))
		{
			unlink(path);
			continue;
		}
		if (lf->n >= max)
		{
			max *= 2;
			lf->files = repalloc(lf->files, sizeof(LoadedFile) * max);
		}
		f = &lf->files[lf->n++];
		f->hash = hash;
		f->status = r.status;
		f->stored_at = r.stored_at;
		f->expires = r.expires;
		f->last_used = time_t_to_timestamptz(st.st_mtime);
		f->size = st.st_size;
		f->scope = r.key ? key_scope(r.key) : 0;
		pfree(r.storage);
	}
	if (errno != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read directory \"%s\": %m", ESI_CACHE_DIR),
				 errdetail("The response cache's index is rebuilt from its files after a start."),
				 errhint("Make the directory readable by the server's user, or remove it.")));
}

/*
 * load_index
 *		Rebuild the index from the files (this backend set load_state to
 *		LOADING; lock not held).  The directory is read first, then
 *		indexed in one step; the least recently used files go first when
 *		there are more than the index holds.  On error the state goes back
 *		to NOT_LOADED and the error is raised.
 */
static void
load_index(void)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "esi_fdw cache load",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	DIR		   *volatile dir = NULL;
	LoadedFiles *lf = palloc0(sizeof(LoadedFiles));

	PG_TRY();
	{
		if (MakePGDirectory(ESI_CACHE_DIR) < 0 && errno != EEXIST)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create directory \"%s\": %m", ESI_CACHE_DIR),
					 errdetail("The response cache keeps its replies there."),
					 errhint("Make the data directory writable by the server's user.")));
		dir = opendir(ESI_CACHE_DIR);
		if (dir == NULL)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open directory \"%s\": %m", ESI_CACHE_DIR),
					 errdetail("The response cache's index is rebuilt from its files after a start."),
					 errhint("Make the directory readable and writable by the server's user, or remove it.")));
		read_directory(dir, lf);
		closedir(dir);
		dir = NULL;
	}
	PG_CATCH();
	{
		if (dir != NULL)
			closedir(dir);
		MemoryContextSwitchTo(old);
		MemoryContextDelete(cxt);
		LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
		cache->load_state = LOAD_NOT_LOADED;
		cache->loader = 0;
		LWLockRelease(&cache->lock);
		ConditionVariableBroadcast(&cache->cv);
		PG_RE_THROW();
	}
	PG_END_TRY();

	/* oldest first: the index keeps the most recently used when full */
	qsort(lf->files, lf->n, sizeof(LoadedFile), loaded_file_cmp);
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	for (int i = 0; i < lf->n; i++)
	{
		LoadedFile *f = &lf->files[i];
		EsiCacheEntry *e;
		bool		found;

		/* too many: drop the least recently used */
		if (hash_get_num_entries(cache_index) - cache->ndead >= esi_guc_cache_max_entries)
			remove_entry(dlist_container(EsiCacheEntry, lru,
										 dlist_tail_node(&cache->lru)));
		e = hash_search(cache_index, &f->hash, HASH_ENTER_NULL, &found);
		if (e != NULL && found)
			continue;			/* cannot be: nothing is indexed before */
		if (e == NULL)
		{
			char		path[MAXPGPATH];

			cache_path(path, f->hash);
			unlink(path);
			continue;
		}
		e->status = f->status;
		e->fetcher = 0;
		e->remover = 0;
		e->stored_at = f->stored_at;
		e->expires = f->expires;
		e->last_used = f->last_used;
		e->size = f->size;
		e->scope = f->scope;
		e->doomed = false;
		dlist_push_head(&cache->lru, &e->lru);
		cache->bytes += f->size;
	}
	evict(0, false);
	cache->load_state = LOAD_LOADED;
	cache->loader = 0;
	LWLockRelease(&cache->lock);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	finish_removals();
	ConditionVariableBroadcast(&cache->cv);
}

/*
 * ensure_loaded
 *		Return once the index is loaded: load it, or wait (on the condition
 *		variable, cancellably) for the backend loading it.
 */
static void
ensure_loaded(void)
{
	bool		slept = false;

	check_set_up();
	for (;;)
	{
		int			state;

		LWLockAcquire(&cache->lock, LW_SHARED);
		state = cache->load_state;
		LWLockRelease(&cache->lock);
		if (state == LOAD_LOADED)
			break;
		LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
		if (cache->load_state == LOAD_LOADED)
		{
			LWLockRelease(&cache->lock);
			break;
		}
		if (cache->load_state == LOAD_LOADING && cache->loader != MyProcPid &&
			is_live(cache->loader))
		{
			ConditionVariablePrepareToSleep(&cache->cv);
			LWLockRelease(&cache->lock);
			(void) ConditionVariableTimedSleep(&cache->cv, ESI_CACHE_RECHECK_MS,
											   PG_WAIT_EXTENSION);
			slept = true;
			continue;
		}
		cache->load_state = LOAD_LOADING;
		cache->loader = MyProcPid;
		LWLockRelease(&cache->lock);
		if (slept)
		{
			ConditionVariableCancelSleep();
			slept = false;
		}
		load_index();
		break;
	}
	if (slept)
		ConditionVariableCancelSleep();
}

/*
 * esi_cache_load
 *		Load the index now unless it is loaded or being loaded (the refresh
 *		launcher, as it starts).  An error is logged, not raised: the first
 *		session that needs the cache tries again.
 */
void
esi_cache_load(void)
{
	MemoryContext old = CurrentMemoryContext;

	if (cache == NULL)
		return;
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	if (cache->load_state != LOAD_NOT_LOADED)
	{
		LWLockRelease(&cache->lock);
		return;
	}
	cache->load_state = LOAD_LOADING;
	cache->loader = MyProcPid;
	LWLockRelease(&cache->lock);
	PG_TRY();
	{
		load_index();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(old);
		EmitErrorReport();
		FlushErrorState();
	}
	PG_END_TRY();
}

/*
 * usable
 *		Whether e's stored reply answers a lookup (see esi_cache_lookup).
 */
static bool
usable(EsiCacheEntry *e, EsiCacheMode mode, TimestampTz accept_since, TimestampTz now)
{
	return e->status != 0 &&
		((mode == ESI_CACHE_ON && now < e->expires &&
		  (e->status == 200 ||
		   now < e->stored_at + (int64) esi_guc_negative_cache_ttl * USECS_PER_SEC)) ||
		 (accept_since != 0 && e->stored_at >= accept_since));
}

/*
 * wait_busy
 *		The entry is another session's (lock held): from now on, a change
 *		wakes this backend (esi_cache_changed, esi_cache_sleep).
 */
static EsiCacheResult
wait_busy(void)
{
	if (!busy_waiting)
	{
		busy_waiting = true;
		busy_changes = pg_atomic_read_u64(&cache->changes);
		ConditionVariablePrepareToSleep(&cache->cv);
	}
	return ESI_CACHE_BUSY;
}

/*
 * esi_cache_lookup
 *		What to do for one request: use a stored reply (HIT, *reply filled),
 *		wait for another session (BUSY; esi_cache_sleep), or send it
 *		(FETCH; claimed when this session now owns the entry, and
 *		reply->etag set when a stale copy may be revalidated).  mode ON
 *		serves fresh entries; REFRESH none of itself.  Either serves what
 *		was stored (a 200, or renewed by a 304) since accept_since, when not
 *		0: a reply another session received after the caller began waiting
 *		for it, or after its statement began.  A hit holds the lock shared.
 */
EsiCacheResult
esi_cache_lookup(const char *key, EsiCacheMode mode, TimestampTz accept_since,
				 EsiCacheReply *reply, bool *claimed)
{
	uint64		hash = key_hash(key);

	*claimed = false;
	memset(reply, 0, sizeof(EsiCacheReply));
	ensure_loaded();

	for (int tries = 0; tries < 3; tries++)
	{
		TimestampTz now = GetCurrentTimestamp();
		EsiCacheEntry *e;
		bool		stale_copy;
		bool		hit = false;
		TimestampTz stored = 0;

		/* shared: a fresh entry, or one another live session has */
		LWLockAcquire(&cache->lock, LW_SHARED);
		e = hash_search(cache_index, &hash, HASH_FIND, NULL);
		if (e && ((e->remover != 0 && is_live(e->remover)) ||
				  (e->remover == 0 && e->fetcher != 0 && e->fetcher != MyProcPid &&
				   is_live(e->fetcher))))
		{
			wait_busy();
			LWLockRelease(&cache->lock);
			return ESI_CACHE_BUSY;
		}
		if (e && e->remover == 0 && e->fetcher == 0 && usable(e, mode, accept_since, now))
		{
			lru_touch(e, now);
			stored = e->stored_at;
			hit = true;
		}
		LWLockRelease(&cache->lock);

		if (!hit)
		{
			/* exclusive: missing, stale, or its fetcher or remover died */
			LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
			e = hash_search(cache_index, &hash, HASH_FIND, NULL);
			if (e && e->remover != 0)
			{
				if (is_live(e->remover))
				{
					wait_busy();
					LWLockRelease(&cache->lock);
					return ESI_CACHE_BUSY;
				}
				reap_dead(e);
				e = NULL;
			}
			if (e && e->fetcher != 0 && e->fetcher != MyProcPid)
			{
				if (is_live(e->fetcher))
				{
					wait_busy();
					LWLockRelease(&cache->lock);
					return ESI_CACHE_BUSY;
				}
				e->fetcher = 0; /* its fetcher died */
				if (e->doomed)
				{
					remove_entry(e);	/* a write made it stale meanwhile */
					e = NULL;
				}
			}
			if (e && e->remover == 0 && usable(e, mode, accept_since, now))
			{
				lru_touch(e, now);
				stored = e->stored_at;
				hit = true;
			}
			else
			{
				/* missing or stale: claim it */
				if (e == NULL)
					e = new_entry(hash, key, now);
				if (e == NULL)
				{
					/* the index is full of entries being fetched */
					LWLockRelease(&cache->lock);
					finish_removals();
					return ESI_CACHE_FETCH;
				}
				e->fetcher = MyProcPid;
				lru_touch(e, now);
				stale_copy = (e->status == 200);
				LWLockRelease(&cache->lock);
				finish_removals();
				*claimed = true;

				if (stale_copy && !read_file(hash, key, true, false, reply))
					memset(reply, 0, sizeof(EsiCacheReply));
				return ESI_CACHE_FETCH;
			}
			LWLockRelease(&cache->lock);
			finish_removals();
		}

		if (read_file(hash, key, false, false, reply))
			return ESI_CACHE_HIT;
		/* gone or torn: drop it (unless replaced meanwhile), again */
		LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
		e = hash_search(cache_index, &hash, HASH_FIND, NULL);
		if (e && e->stored_at == stored && e->fetcher == 0 && e->remover == 0)
			remove_entry(e);
		LWLockRelease(&cache->lock);
		finish_removals();
	}
	return ESI_CACHE_FETCH;
}

/*
 * esi_cache_changed
 *		Whether a claim was given up (a reply stored, a claim released, an
 *		entry dropped) since this backend was last told BUSY: look again.
 *		Then the next BUSY starts a new wait.
 */
bool
esi_cache_changed(void)
{
	if (!busy_waiting || cache == NULL)
		return false;
	if (pg_atomic_read_u64(&cache->changes) == busy_changes)
		return false;
	busy_waiting = false;
	ConditionVariableCancelSleep();
	return true;
}

/*
 * esi_cache_sleep
 *		Sleep until a change (esi_cache_changed) or timeout_ms, on the
 *		cache's condition variable (a cancel ends it too).  The session
 *		shows wait_event_type 'Extension', wait_event 'Extension'.  Returns
 *		the milliseconds slept.
 */
double
esi_cache_sleep(long timeout_ms)
{
	instr_time	start,
				dur;

	if (timeout_ms <= 0)
		return 0;
	INSTR_TIME_SET_CURRENT(start);
	if (!busy_waiting)
	{
		/* told of a change already: a plain wait (the caller looks again) */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
	else if (pg_atomic_read_u64(&cache->changes) == busy_changes)
		(void) ConditionVariableTimedSleep(&cache->cv, timeout_ms, PG_WAIT_EXTENSION);
	INSTR_TIME_SET_CURRENT(dur);
	INSTR_TIME_SUBTRACT(dur, start);
	return INSTR_TIME_GET_MILLISEC(dur);
}

/*
 * esi_cache_wait_end
 *		This backend waits for no entry any more (a scan's end).
 */
void
esi_cache_wait_end(void)
{
	if (busy_waiting)
	{
		busy_waiting = false;
		ConditionVariableCancelSleep();
	}
}

/*
 * esi_cache_read
 *		The stored reply of an entry this session claimed (after a 304),
 *		with its gzip'ed body when the file kept one, so that the file
 *		written anew keeps it too (not the body inflated, eight times the
 *		bytes).
 */
bool
esi_cache_read(const char *key, EsiCacheReply *reply)
{
	return read_file(key_hash(key), key, false, true, reply);
}

/*
 * write_iov
 *		Write the niov pieces (total bytes in all) in order, in one
 *		writev(2) when it takes them all; false on failure.
 */
static bool
write_iov(int fd, struct iovec *iov, int niov, size_t total)
{
	ssize_t		n = writev(fd, iov, niov);

	if (n == (ssize_t) total)
		return true;
	if (n < 0)
		return false;
	/* a short write: the rest piece by piece */
	for (int i = 0; i < niov; i++)
	{
		const char *p = iov[i].iov_base;
		size_t		len = iov[i].iov_len;

		if ((size_t) n >= len)
		{
			n -= len;
			continue;
		}
		p += n;
		len -= n;
		n = 0;
		while (len > 0)
		{
			ssize_t		w = write(fd, p, len);

			if (w <= 0)
				return false;
			p += w;
			len -= w;
		}
	}
	return true;
}

/*
 * claimed_by_me
 *		Whether this backend holds the claim of the entry (nobody else
 *		writes, renames or removes its file meanwhile).
 */
static bool
claimed_by_me(uint64 hash)
{
	EsiCacheEntry *e;
	bool		mine;

	LWLockAcquire(&cache->lock, LW_SHARED);
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	mine = e && e->remover == 0 && e->fetcher == MyProcPid;
	LWLockRelease(&cache->lock);
	return mine;
}

/*
 * esi_cache_store
 *		Store a reply (status 200, or a 404/403 to remember) of an entry
 *		this session claimed, and release the claim.  A reply that cannot
 *		be written (disk full, too large for the cache) is simply not
 *		cached.  true when the reply is stored.  The file is written and
 *		renamed into place without the lock (the claim keeps others off
 *		it); then the index is updated.
 */
bool
esi_cache_store(const char *key, const char *route, const char *url,
				EsiCacheReply *reply)
{
	uint64		hash = key_hash(key);
	const char *strv[6] = {key, route, url, reply->etag, reply->last_modified, reply->x_pages};
	EsiCacheFileHeader hdr;
	EsiCacheFileCoding coding = {0};
	const char *stored;
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	char		old[MAXPGPATH];
	uint32		old_id = 0;
	bool		keep_old;
	struct iovec iov[10];
	int			niov = 0;
	size_t		total = 0;
	int			fd;
	bool		ok;
	int64		size;
	pg_crc32c	crc;
	EsiCacheEntry *e;
	static const char nul = '\0';

	/* the body as it arrived when that is smaller: gzip'ed */
	if (reply->gzip && reply->gzip_len < reply->len)
	{
		stored = reply->gzip;
		coding.coding = CACHE_CODING_GZIP;
		coding.storedlen = reply->gzip_len;
	}
	else
	{
		stored = reply->body;
		coding.coding = CACHE_CODING_IDENTITY;
		coding.storedlen = reply->len;
	}
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
	COMP_CRC32C(crc, stored, coding.storedlen);
	COMP_CRC32C(crc, &nul, 1);
	FIN_CRC32C(crc);
	hdr.crc = crc;
	size = sizeof(hdr) + sizeof(coding) + coding.storedlen + 1;
	for (int i = 0; i < 6; i++)
		size += hdr.lens[i];

	ensure_loaded();
	if (size > (int64) esi_guc_cache_size_mb * 1024 * 1024 || !claimed_by_me(hash))
	{
		esi_cache_release(key);
		return false;
	}

	/*
	 * Written into a spare file (one byte long: overwritten, not cut) or a
	 * new one, under a name no lookup reads, then renamed into place: a
	 * half-written file is never served.
	 */
	if (spare_take(tmp))
		fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | PG_BINARY);
	else
	{
		snprintf(tmp, MAXPGPATH, ESI_CACHE_DIR "/tmp.%d.%016llx", MyProcPid,
				 (unsigned long long) hash);
		fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY);
	}
	cache_path(path, hash);
	iov[niov].iov_base = &hdr;
	iov[niov++].iov_len = sizeof(hdr);
	iov[niov].iov_base = &coding;
	iov[niov++].iov_len = sizeof(coding);
	for (int i = 0; i < 6; i++)
		if (strv[i])
		{
			iov[niov].iov_base = unconstify(char *, strv[i]);
			iov[niov++].iov_len = hdr.lens[i];
		}
	iov[niov].iov_base = unconstify(char *, stored);
	iov[niov++].iov_len = coding.storedlen;
	iov[niov].iov_base = unconstify(char *, &nul);
	iov[niov++].iov_len = 1;
	for (int i = 0; i < niov; i++)
		total += iov[i].iov_len;
	ok = fd >= 0 && write_iov(fd, iov, niov, total);
	if (fd >= 0 && CloseTransientFile(fd) != 0)
		ok = false;

	/*
	 * The file this one replaces (a stale copy, or the copy a 304 renewed)
	 * is moved aside first and kept as a spare: renaming over it would make
	 * ext4 flush the new file (auto_da_alloc).  Meanwhile a lookup finds no
	 * file, but the entry is claimed (others wait for it), and a crash then
	 * loses a stale copy only.
	 */
	keep_old = ok && spare_new(old, &old_id) && rename(path, old) == 0;
	ok = ok && rename(tmp, path) == 0;
	if (keep_old)
		spare_add(old, old_id);
	if (!ok)
	{
		unlink(tmp);
		esi_cache_release(key);
		return false;
	}

	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	Assert(e && e->fetcher == MyProcPid && e->remover == 0);
	if (e == NULL || e->fetcher != MyProcPid || e->remover != 0)
	{
		/* cannot be (the claim is ours): keep nothing */
		LWLockRelease(&cache->lock);
		unlink(path);
		return false;
	}
	e->fetcher = 0;
	pg_atomic_fetch_add_u64(&cache->changes, 1);
	if (e->doomed)
	{
		/* a write made what this session fetched stale: keep none of it */
		e->status = reply->status;	/* it has a file now */
		remove_entry(e);
		LWLockRelease(&cache->lock);
		finish_removals();
		announce();
		return false;
	}
	cache->bytes += size - e->size;
	e->size = size;
	e->status = reply->status;
	e->stored_at = reply->stored_at;
	e->expires = reply->expires;
	lru_touch(e, GetCurrentTimestamp());
	evict(hash, false);
	LWLockRelease(&cache->lock);
	finish_removals();
	announce();
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
	bool		released = false;

	if (cache == NULL)
		return;
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	if (e && e->remover == 0 && e->fetcher == MyProcPid)
	{
		e->fetcher = 0;
		released = true;
		pg_atomic_fetch_add_u64(&cache->changes, 1);
		if (e->doomed || e->status == 0)
			remove_entry(e);
	}
	LWLockRelease(&cache->lock);
	finish_removals();
	if (released)
		announce();
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
	bool		mine = false;

	ensure_loaded();
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	e = hash_search(cache_index, &hash, HASH_FIND, NULL);
	if (e && e->remover == 0 && (e->fetcher == 0 || e->fetcher == MyProcPid))
	{
		mine = e->fetcher == MyProcPid;
		if (mine)
			pg_atomic_fetch_add_u64(&cache->changes, 1);
		remove_entry(e);
	}
	LWLockRelease(&cache->lock);
	finish_removals();
	if (mine)
		announce();
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
	ensure_loaded();
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->scope != scope || e->remover != 0)
			continue;
		n++;
		if (e->fetcher != 0 && e->fetcher != MyProcPid && is_live(e->fetcher))
			e->doomed = true;
		else
			remove_entry(e);
	}
	LWLockRelease(&cache->lock);
	finish_removals();
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
	ensure_loaded();
	LWLockAcquire(&cache->lock, LW_SHARED);
	max = hash_get_num_entries(cache_index);
	copy = palloc_extended(sizeof(EsiCacheEntry) * Max(max, 1), MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
	{
		LWLockRelease(&cache->lock);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
		if (e->status != 0 && e->remover == 0 && n < max)
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
		have = read_file(copy[i].hash, NULL, true, false, &r);
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

	ensure_loaded();
	LWLockAcquire(&cache->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, cache_index);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->remover != 0 || (e->fetcher != 0 && is_live(e->fetcher)))
			continue;
		remove_entry(e);
		n++;
	}
	LWLockRelease(&cache->lock);
	finish_removals();
	PG_RETURN_INT64(n);
}
