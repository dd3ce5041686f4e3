/*-------------------------------------------------------------------------
 *
 * crypto.c
 *		  Secrets at rest: AES-256-GCM (libcrypto) under keys kept in a file
 *		  outside the database.
 *
 * The key file is named by esi_fdw.key_file; by default it is esi_fdw.key in
 * the directory that holds the data directory, so that neither pg_dump nor
 * a base backup of PGDATA ever holds a key together with the values it
 * seals.  It is created on first use, mode 0600, and refused when anyone
 * but its owner may read it.
 *
 * The file holds one key per line, "<key id> <key>" in hex (8 and 64
 * digits); lines starting with '#' are comments.  The last key is current:
 * new values are sealed with it, and a sealed value names the key that
 * sealed it, so adding a key (re-keying) leaves older values readable until
 * their key is dropped.
 *
 * Concurrency: every writer takes an exclusive flock() on the file and
 * checks that the path still names the inode it locked (a rewrite renames a
 * new file into place); readers take a shared lock, so they never see half
 * a line.  The file is created under a temporary name and hard-linked into
 * place, so a reader never sees it empty and two backends creating it at
 * once end up with one file.  Writes are fsync'ed, file and directory,
 * whatever the fsync setting says: a lost key loses every value it sealed.
 *
 * Each backend caches the keys and reads the file again when its identity,
 * size or mtime changes.  Key buffers are wiped before they are freed, and
 * no message ever holds a key or a plaintext.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "access/xlog.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/memutils.h"

#include "crypto.h"
#include "guc.h"

#define ESI_SEAL_MAGIC 0xE5
/* 2: bound to the database too; 1 (before 0.6.0): to the row only */
#define ESI_SEAL_VERSION 2
#define ESI_SEAL_VERSION_UNBOUND 1
#define ESI_SEAL_HEADER 6		/* magic, version, key id */
#define ESI_NONCE_LEN 12
#define ESI_TAG_LEN 16
#define ESI_KEY_LEN 32
#define ESI_KEY_FILE_NAME "esi_fdw.key"
/* "<8 hex> <64 hex>\n" */
#define ESI_KEY_LINE_LEN (8 + 1 + 2 * ESI_KEY_LEN + 1)
/* far more than any real key file; refuse to read a larger one */
#define ESI_KEY_FILE_MAX (4 * 1024 * 1024)

#define ESI_KEY_FILE_HEADER \
	"# esi_fdw key file: the keys that encrypt SSO tokens at rest (AES-256-GCM).\n" \
	"# Keep it secret, and back it up apart from the database: without it the\n" \
	"# stored tokens cannot be read.  One key per line, \"<key id> <key>\" in hex;\n" \
	"# the last key is the current one.\n"

typedef struct EsiKey
{
	uint32		id;
	unsigned char key[ESI_KEY_LEN];
} EsiKey;

/* the keys of the file as last read; keys[] in TopMemoryContext */
typedef struct EsiKeyCache
{
	bool		valid;
	char		path[MAXPGPATH];
	dev_t		dev;
	ino_t		ino;
	off_t		size;
	struct timespec mtime;
	int			nkeys;
	EsiKey	   *keys;
} EsiKeyCache;

static EsiKeyCache key_cache;

/* what parse_keys found */
typedef struct EsiKeyFile
{
	int			nkeys;
	int			nalloc;			/* entries of keys[] */
	EsiKey	   *keys;			/* palloc'd; wipe with wipe_keys() */
	bool		ends_with_newline;
	bool		torn;			/* an unterminated last line was skipped */
	size_t		torn_at;		/* ... starting at this offset */
	int			bad_line;		/* first line that does not parse, or 0 */
	bool		duplicate;		/* bad_line repeats a key id */
} EsiKeyFile;

/*
 * wipe_free
 *		Zero a buffer that held key material, then free it.
 */
static void
wipe_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	pfree(p);
}

/*
 * wipe_keys
 *		Wipe and free what parse_keys allocated (a line that failed to parse
 *		may have left key bytes past nkeys).
 */
static void
wipe_keys(EsiKeyFile *kf)
{
	wipe_free(kf->keys, sizeof(EsiKey) * kf->nalloc);
	kf->keys = NULL;
	kf->nkeys = 0;
	kf->nalloc = 0;
}

/*
 * forget_keys
 *		Drop the cached keys, so the next use reads the file again.
 */
static void
forget_keys(void)
{
	if (key_cache.keys != NULL)
		wipe_free(key_cache.keys, sizeof(EsiKey) * key_cache.nkeys);
	key_cache.keys = NULL;
	key_cache.nkeys = 0;
	key_cache.valid = false;
}

/*
 * esi_crypto_key_file_path
 *		The key file's absolute path, from esi_fdw.key_file (palloc'd).
 */
char *
esi_crypto_key_file_path(void)
{
	const char *setting = esi_guc_key_file ? esi_guc_key_file : "";
	char		path[MAXPGPATH];

	if (*setting == '\0')
	{
		/* beside the data directory, so base backups of it never hold keys */
		char		parent[MAXPGPATH];

		strlcpy(parent, DataDir, sizeof(parent));
		canonicalize_path(parent);
		get_parent_directory(parent);
		if (parent[0] == '\0')
			strlcpy(parent, ".", sizeof(parent));
		if (strlen(parent) + 1 + strlen(ESI_KEY_FILE_NAME) >= MAXPGPATH)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("path of the key file is too long"),
					 errhint("Set esi_fdw.key_file to a shorter path.")));
		join_path_components(path, parent, ESI_KEY_FILE_NAME);
	}
	else
	{
		if ((is_absolute_path(setting) ? 0 : strlen(DataDir) + 1) + strlen(setting) >= MAXPGPATH)
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("path of the key file is too long"),
					 errhint("Set esi_fdw.key_file to a shorter path.")));
		if (is_absolute_path(setting))
			strlcpy(path, setting, sizeof(path));
		else
			join_path_components(path, DataDir, setting);
	}
	canonicalize_path(path);
	return pstrdup(path);
}

/*
 * check_key_file_stat
 *		Refuse a key file that is not a plain file or that others may read.
 */
static void
check_key_file_stat(const char *path, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" is not a regular file", path),
				 errhint("Set esi_fdw.key_file to the path of a file.")));
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" has group or world access", path),
				 errdetail("The keys that encrypt SSO tokens must be readable by the server's OS user only; the file's mode is %04o.",
						   (unsigned int) (st->st_mode & 07777)),
				 errhint("chmod 600 %s", path)));
}

/*
 * hex_value
 *		A hex digit's value, or -1.
 */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * parse_key_line
 *		One line "<8 hex> <64 hex>" (surrounding blanks allowed) into *key.
 */
static bool
parse_key_line(const char *s, const char *end, EsiKey *key)
{
	uint32		id = 0;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (int i = 0; i < 8; i++, s++)
	{
		if (s >= end || hex_value(*s) < 0)
			return false;
		id = (id << 4) | (uint32) hex_value(*s);
	}
	if (s >= end || (*s != ' ' && *s != '\t'))
		return false;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	for (int i = 0; i < ESI_KEY_LEN; i++)
	{
		int			hi,
					lo;

		if (end - s < 2 || (hi = hex_value(s[0])) < 0 || (lo = hex_value(s[1])) < 0)
			return false;
		key->key[i] = (unsigned char) ((hi << 4) | lo);
		s += 2;
	}
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
		s++;
	if (s != end || id == 0)
		return false;
	key->id = id;
	return true;
}

/*
 * parse_keys
 *		The keys of a key file's text.  Never raises an error by itself (only
 *		palloc may), so the caller can wipe buf first: a line that does not
 *		parse is reported in out->bad_line.  An unterminated last line that
 *		does not parse is skipped: it is an append cut short by a crash.
 */
static void
parse_keys(const char *buf, size_t len, EsiKeyFile *out)
{
	int			maxkeys = 1;
	const char *p = buf;
	const char *bufend = buf + len;
	int			lineno = 0;

	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\n')
			maxkeys++;
	memset(out, 0, sizeof(*out));
	out->keys = palloc0(sizeof(EsiKey) * maxkeys);
	out->nalloc = maxkeys;
	out->ends_with_newline = (len == 0 || buf[len - 1] == '\n');

	while (p < bufend)
	{
		const char *nl = memchr(p, '\n', bufend - p);
		const char *end = nl ? nl : bufend;
		const char *s = p;

		lineno++;
		while (s < end && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		if (s < end && *s != '#')
		{
			EsiKey	   *k = &out->keys[out->nkeys];

			if (!parse_key_line(p, end, k))
			{
				if (nl == NULL)
				{
					out->torn = true;
					out->torn_at = p - buf;
					ereport(WARNING,
							(errcode(ERRCODE_CONFIG_FILE_ERROR),
							 errmsg("ignoring the incomplete last line %d of the key file", lineno)));
					break;
				}
				out->bad_line = lineno;
				return;
			}
			for (int i = 0; i < out->nkeys; i++)
				if (out->keys[i].id == k->id)
				{
					out->bad_line = lineno;
					out->duplicate = true;
					return;
				}
			out->nkeys++;
		}
		p = nl ? nl + 1 : bufend;
	}
}

/*
 * parse_and_wipe
 *		parse_keys, then wipe and free buf (also on error).
 */
static void
parse_and_wipe(char *buf, size_t len, EsiKeyFile *out)
{
	PG_TRY();
	{
		parse_keys(buf, len, out);
	}
	PG_CATCH();
	{
		wipe_free(buf, ESI_KEY_FILE_MAX + 1);
		PG_RE_THROW();
	}
	PG_END_TRY();
	wipe_free(buf, ESI_KEY_FILE_MAX + 1);
}

/*
 * read_key_file
 *		Read and parse the open key file fd; errors once buffers are wiped.
 */
static void
read_key_file(int fd, const char *path, const struct stat *st, EsiKeyFile *out)
{
	char	   *buf;
	size_t		len = 0;
	int			save_errno = 0;

	if (st->st_size > ESI_KEY_FILE_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" is too large", path),
				 errdetail("It has %lld bytes; a key file has about %d bytes per key.",
						   (long long) st->st_size, ESI_KEY_LINE_LEN),
				 errhint("Set esi_fdw.key_file to esi_fdw's key file.")));

	buf = palloc(ESI_KEY_FILE_MAX + 1);
	for (;;)
	{
		ssize_t		r = pread(fd, buf + len, ESI_KEY_FILE_MAX + 1 - len, len);

		if (r < 0)
		{
			if (errno == EINTR)
				continue;
			save_errno = errno;
			break;
		}
		if (r == 0)
			break;
		len += r;
		if (len > ESI_KEY_FILE_MAX)
			break;
	}
	if (save_errno != 0 || len > ESI_KEY_FILE_MAX)
	{
		wipe_free(buf, ESI_KEY_FILE_MAX + 1);
		errno = save_errno;
		if (save_errno != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not read key file \"%s\": %m", path)));
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" is too large", path),
				 errhint("Set esi_fdw.key_file to esi_fdw's key file.")));
	}

	parse_and_wipe(buf, len, out);

	if (out->bad_line != 0)
	{
		wipe_keys(out);
		if (out->duplicate)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("key file \"%s\" repeats a key id on line %d", path, out->bad_line),
					 errhint("Restore the key file from a backup.")));
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" is malformed at line %d", path, out->bad_line),
				 errdetail("Each line holds a key id of 8 hex digits and a key of 64 hex digits, or a comment starting with \"#\"."),
				 errhint("Restore the key file from a backup.")));
	}
}

/*
 * lock_key_file
 *		Open the key file and lock it (LOCK_SH or LOCK_EX); for a writer,
 *		the path must still name the locked file, since a rewrite renames a
 *		new one into place.  Returns -1 when the file does not exist.
 */
static int
lock_key_file(const char *path, int flags, int lockmode, struct stat *st)
{
	for (;;)
	{
		int			fd = OpenTransientFile(path, flags | PG_BINARY);
		struct stat now;

		if (fd < 0)
		{
			if (errno == ENOENT)
				return -1;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not open key file \"%s\": %m", path)));
		}
		while (flock(fd, lockmode) != 0)
		{
			if (errno == EINTR)
			{
				CHECK_FOR_INTERRUPTS();
				continue;
			}
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not lock key file \"%s\": %m", path)));
		}
		if (fstat(fd, st) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat key file \"%s\": %m", path)));
		if (lockmode == LOCK_SH ||
			(stat(path, &now) == 0 && now.st_dev == st->st_dev && now.st_ino == st->st_ino))
		{
			check_key_file_stat(path, st);
			return fd;
		}
		CloseTransientFile(fd);
	}
}

/*
 * write_all
 *		write() everything; false with errno set on failure.
 */
static bool
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0)
	{
		ssize_t		w = write(fd, buf, len);

		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			return false;
		}
		buf += w;
		len -= w;
	}
	return true;
}

/*
 * fsync_parent
 *		Make a new or renamed entry of the key file's directory durable.
 */
static void
fsync_parent(const char *path)
{
	char		dir[MAXPGPATH];
	int			fd;

	strlcpy(dir, path, sizeof(dir));
	get_parent_directory(dir);
	if (dir[0] == '\0')
		strlcpy(dir, ".", sizeof(dir));
	fd = OpenTransientFile(dir, O_RDONLY | PG_BINARY);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open directory \"%s\": %m", dir)));
	if (fsync(fd) != 0 && errno != EINVAL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not fsync directory \"%s\": %m", dir)));
	CloseTransientFile(fd);
}

/*
 * new_key_line
 *		A fresh random key, with an id that is not zero and not among
 *		existing[], as a key file line into line[ESI_KEY_LINE_LEN + 1].
 *		Errors only before anything secret is written.
 */
static void
new_key_line(const EsiKey *existing, int nexisting, char *line)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char key[ESI_KEY_LEN];
	uint32		id;
	bool		taken;

	do
	{
		unsigned char b[4];

		if (RAND_bytes(b, sizeof(b)) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random key id")));
		id = ((uint32) b[0] << 24) | ((uint32) b[1] << 16) | ((uint32) b[2] << 8) | b[3];
		taken = (id == 0);
		for (int i = 0; i < nexisting && !taken; i++)
			taken = (existing[i].id == id);
	} while (taken);

	if (RAND_bytes(key, sizeof(key)) != 1)
	{
		ERR_clear_error();
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random key")));
	}
	snprintf(line, 10, "%08x ", id);
	for (int i = 0; i < ESI_KEY_LEN; i++)
	{
		line[9 + 2 * i] = hex[key[i] >> 4];
		line[9 + 2 * i + 1] = hex[key[i] & 15];
	}
	line[ESI_KEY_LINE_LEN - 1] = '\n';
	line[ESI_KEY_LINE_LEN] = '\0';
	OPENSSL_cleanse(key, sizeof(key));
}

/*
 * write_new_file
 *		Write text into a new file tmp (mode 0600, O_EXCL) and fsync it; it
 *		is to become the key file path.  Wipes text (len bytes) whatever
 *		happens.
 */
static void
write_new_file(const char *tmp, const char *path, char *text, size_t len)
{
	int			fd;
	int			save_errno = 0;

	(void) unlink(tmp);			/* left by a crashed backend with our pid */
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_EXCL | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		save_errno = errno;
		OPENSSL_cleanse(text, len);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create key file \"%s\": %m", path),
				 errdetail("It is written as \"%s\" first, then linked or renamed into place.", tmp),
				 errhint("Make its directory writable by the server's OS user, or set esi_fdw.key_file to a file in a directory that is.")));
	}
	if (!write_all(fd, text, len) || fsync(fd) != 0)
		save_errno = errno;
	OPENSSL_cleanse(text, len);
	if (save_errno != 0)
	{
		CloseTransientFile(fd);
		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write key file \"%s\": %m", path)));
	}
	if (CloseTransientFile(fd) != 0)
	{
		save_errno = errno;
		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not close key file \"%s\": %m", path)));
	}
}

/*
 * create_key_file
 *		Create the key file with one fresh key.  Written under a temporary
 *		name and linked into place: a reader never sees it half-written, and
 *		when another backend wins the race its file stays.
 */
static void
create_key_file(const char *path)
{
	char	   *tmp = psprintf("%s.tmp.%d", path, MyProcPid);
	char		text[sizeof(ESI_KEY_FILE_HEADER) + ESI_KEY_LINE_LEN + 1];
	size_t		hlen = strlen(ESI_KEY_FILE_HEADER);

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("key file \"%s\" does not exist", path),
				 errdetail("A standby does not create keys: it must use the primary's."),
				 errhint("Copy the primary's key file to \"%s\" (mode 0600), or set esi_fdw.key_file to where it is.", path)));

	memcpy(text, ESI_KEY_FILE_HEADER, hlen);
	new_key_line(NULL, 0, text + hlen);
	write_new_file(tmp, path, text, hlen + ESI_KEY_LINE_LEN);

	if (link(tmp, path) != 0)
	{
		int			save_errno = errno;

		(void) unlink(tmp);
		if (save_errno != EEXIST)
		{
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create key file \"%s\": %m", path),
					 errhint("Make its directory writable by the server's OS user, or set esi_fdw.key_file to a file in a directory that is.")));
		}
	}
	else
		(void) unlink(tmp);
	fsync_parent(path);
	pfree(tmp);
}

/*
 * load_keys
 *		Make key_cache hold the key file's keys, reading the file when it
 *		changed.  With create, a missing file is created (one fresh key);
 *		without, a missing file is an error.
 */
static void
load_keys(bool create)
{
	char	   *path = esi_crypto_key_file_path();
	struct stat st;
	int			fd;
	EsiKeyFile kf;

	if (stat(path, &st) != 0)
	{
		if (errno != ENOENT)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat key file \"%s\": %m", path)));
		if (!create)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_FILE),
					 errmsg("key file \"%s\" does not exist", path),
					 errdetail("Values sealed with its keys cannot be read without it."),
					 errhint("Restore the key file from a backup, or set esi_fdw.key_file to where it is.")));
		create_key_file(path);
		if (stat(path, &st) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not stat key file \"%s\": %m", path)));
	}
	check_key_file_stat(path, &st);

	if (key_cache.valid && strcmp(key_cache.path, path) == 0 &&
		key_cache.dev == st.st_dev && key_cache.ino == st.st_ino &&
		key_cache.size == st.st_size &&
		key_cache.mtime.tv_sec == st.st_mtim.tv_sec &&
		key_cache.mtime.tv_nsec == st.st_mtim.tv_nsec)
	{
		pfree(path);
		return;
	}

	forget_keys();
	fd = lock_key_file(path, O_RDONLY, LOCK_SH, &st);
	if (fd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("key file \"%s\" does not exist", path),
				 errhint("Restore the key file from a backup, or set esi_fdw.key_file to where it is.")));
	read_key_file(fd, path, &st, &kf);
	CloseTransientFile(fd);

	key_cache.keys = MemoryContextAlloc(TopMemoryContext,
										sizeof(EsiKey) * Max(kf.nkeys, 1));
	memcpy(key_cache.keys, kf.keys, sizeof(EsiKey) * kf.nkeys);
	key_cache.nkeys = kf.nkeys;
	wipe_keys(&kf);
	strlcpy(key_cache.path, path, sizeof(key_cache.path));
	key_cache.dev = st.st_dev;
	key_cache.ino = st.st_ino;
	key_cache.size = st.st_size;
	key_cache.mtime = st.st_mtim;
	key_cache.valid = true;
	pfree(path);
}

/*
 * current_key
 *		The key new values are sealed with (the file's last).
 */
static const EsiKey *
current_key(void)
{
	load_keys(true);
	if (key_cache.nkeys == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" holds no key", key_cache.path),
				 errhint("Restore the key file from a backup, or move it away to have a new one created (values sealed with its old keys cannot be read then).")));
	return &key_cache.keys[key_cache.nkeys - 1];
}

/*
 * esi_crypto_current_key_id
 *		The id of the key new values are sealed with (creating the key file
 *		when it does not exist yet).
 */
uint32
esi_crypto_current_key_id(void)
{
	return current_key()->id;
}

/*
 * gcm
 *		AES-256-GCM over in[inlen] into out, authenticating hdr and aad too.
 *		Encrypting fills tag; decrypting checks it.  Never raises an error,
 *		so no OpenSSL object outlives a failure: false on any failure,
 *		including a tag that does not match.
 */
static bool
gcm(bool encrypt, const unsigned char *key, const unsigned char *nonce,
	const unsigned char *hdr, const char *aad, const char *binding,
	const unsigned char *in, size_t inlen, unsigned char *out,
	unsigned char *tag)
{
	static const unsigned char zero = 0;

	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int			outl;
	bool		ok = false;

	if (ctx == NULL)
		return false;
	if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt ? 1 : 0) != 1 ||
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, ESI_NONCE_LEN, NULL) != 1 ||
		EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt ? 1 : 0) != 1)
		goto done;
	/* the header binds the key id and format; aad binds the row */
	if (EVP_CipherUpdate(ctx, NULL, &outl, hdr, ESI_SEAL_HEADER) != 1)
		goto done;
	if (aad != NULL && *aad != '\0' &&
		EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *) aad, (int) strlen(aad)) != 1)
		goto done;
	/* a NUL (no aad holds one) then the database: unambiguous */
	if (binding != NULL &&
		(EVP_CipherUpdate(ctx, NULL, &outl, &zero, 1) != 1 ||
		 EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *) binding,
						  (int) strlen(binding)) != 1))
		goto done;
	if (inlen > 0 && EVP_CipherUpdate(ctx, out, &outl, in, (int) inlen) != 1)
		goto done;
	if (!encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ESI_TAG_LEN, tag) != 1)
		goto done;
	if (EVP_CipherFinal_ex(ctx, out + inlen, &outl) != 1)
		goto done;
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ESI_TAG_LEN, tag) != 1)
		goto done;
	ok = true;
done:
	EVP_CIPHER_CTX_free(ctx);	/* wipes the expanded key */
	ERR_clear_error();
	return ok;
}

/*
 * database_binding
 *		What binds a sealed value to this database: its name.  A value
 *		sealed in one database does not unseal in another of the cluster
 *		(names are unique at any moment), so nobody who can write esi_fdw's
 *		tables in a database of his own can have another database's sealed
 *		token or client secret used there -- sent to SSO servers of his
 *		choosing.  The name rather than the OID, so that pg_dump and a
 *		restore into a new cluster with the key file keep the logins.  A
 *		database cannot be renamed while anyone is connected to it, so the
 *		name is read once per backend.
 */
static const char *
database_binding(void)
{
	static char binding[NAMEDATALEN + 16];

	if (binding[0] == '\0')
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("database %u does not exist", MyDatabaseId)));
		snprintf(binding, sizeof(binding), "database:%s", name);
		pfree(name);
	}
	return binding;
}

/*
 * esi_seal
 *		Encrypt plain[len] with the current key, bound to aad (may be NULL)
 *		and to the current database.
 */
bytea *
esi_seal(const char *plain, size_t len, const char *aad)
{
	const EsiKey *key;
	const char *binding;
	bytea	   *result;
	unsigned char *p;

	if (len > MaxAllocSize - VARHDRSZ - ESI_SEAL_OVERHEAD - 16)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("value to seal is too large"),
				 errdetail("It has %zu bytes.", len)));
	key = current_key();
	binding = database_binding();
	/* one spare block: EVP_CipherFinal_ex may be handed room to write */
	result = palloc(VARHDRSZ + ESI_SEAL_OVERHEAD + len + 16);
	SET_VARSIZE(result, VARHDRSZ + ESI_SEAL_OVERHEAD + len);
	p = (unsigned char *) VARDATA(result);
	p[0] = ESI_SEAL_MAGIC;
	p[1] = ESI_SEAL_VERSION;
	p[2] = (unsigned char) (key->id >> 24);
	p[3] = (unsigned char) (key->id >> 16);
	p[4] = (unsigned char) (key->id >> 8);
	p[5] = (unsigned char) key->id;
	/* random 96-bit nonces: safe for far more values than a key will seal */
	if (RAND_bytes(p + ESI_SEAL_HEADER, ESI_NONCE_LEN) != 1)
	{
		ERR_clear_error();
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
	}
	if (!gcm(true, key->key, p + ESI_SEAL_HEADER, p, aad, binding,
			 (const unsigned char *) plain, len,
			 p + ESI_SEAL_HEADER + ESI_NONCE_LEN,
			 p + ESI_SEAL_HEADER + ESI_NONCE_LEN + len))
	{
		OPENSSL_cleanse(result, VARHDRSZ + ESI_SEAL_OVERHEAD + len + 16);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not encrypt a value"),
				 errdetail("libcrypto's AES-256-GCM failed.")));
	}
	return result;
}

/*
 * sealed_header
 *		Check a sealed value's format; returns its bytes and length.
 */
static const unsigned char *
sealed_header(const bytea *sealed, size_t *len)
{
	const unsigned char *p = (const unsigned char *) VARDATA_ANY(sealed);

	*len = VARSIZE_ANY_EXHDR(sealed);
	if (*len < ESI_SEAL_OVERHEAD)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("value is not sealed by esi_fdw"),
				 errdetail("A sealed value has at least %d bytes; this one has %zu.",
						   ESI_SEAL_OVERHEAD, *len)));
	if (p[0] != ESI_SEAL_MAGIC)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("value is not sealed by esi_fdw"),
				 errdetail("Its first byte is not the mark of a sealed value.")));
	if (p[1] != ESI_SEAL_VERSION && p[1] != ESI_SEAL_VERSION_UNBOUND)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sealed value has format version %d, which this esi_fdw cannot read", p[1]),
				 errhint("Install the esi_fdw version that sealed it.")));
	return p;
}

/*
 * esi_sealed_key_id
 *		The id of the key that sealed a value.
 */
uint32
esi_sealed_key_id(const bytea *sealed)
{
	size_t		len;
	const unsigned char *p = sealed_header(sealed, &len);

	return ((uint32) p[2] << 24) | ((uint32) p[3] << 16) | ((uint32) p[4] << 8) | p[5];
}

/*
 * esi_sealed_is_bound
 *		Whether a sealed value is bound to a database (sealed by esi_fdw
 *		0.6.0 or later).
 */
bool
esi_sealed_is_bound(const bytea *sealed)
{
	size_t		len;

	return sealed_header(sealed, &len)[1] == ESI_SEAL_VERSION;
}

/*
 * esi_unseal
 *		Decrypt a value sealed by esi_seal with the same aad, in this
 *		database; the result is palloc'd, NUL-terminated, *len bytes long
 *		(len may be NULL).
 */
char *
esi_unseal(const bytea *sealed, const char *aad, size_t *len)
{
	return esi_unseal_ext(sealed, aad, len, false, false);
}

/*
 * esi_unseal_ext
 *		esi_unseal; with unbound_ok, a value sealed before 0.6.0 (bound to
 *		its row, not to a database) is read too -- only for binding it to
 *		this database (the update to 0.6.0, esi.rekey()).  With missing_ok,
 *		NULL rather than an error when the key is not in the key file or
 *		the value fails authentication.
 */
char *
esi_unseal_ext(const bytea *sealed, const char *aad, size_t *len,
			   bool unbound_ok, bool missing_ok)
{
	size_t		slen;
	const unsigned char *p = sealed_header(sealed, &slen);
	uint32		id = esi_sealed_key_id(sealed);
	size_t		clen = slen - ESI_SEAL_OVERHEAD;
	const EsiKey *key = NULL;
	const char *binding = NULL;
	unsigned char tag[ESI_TAG_LEN];
	char	   *plain;

	if (p[1] == ESI_SEAL_VERSION)
		binding = database_binding();
	else if (!unbound_ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("sealed value is not bound to a database"),
				 errdetail("It was sealed by esi_fdw before 0.6.0, which bound sealed values to their row only; they are bound to their database too now, so that none is read in another database."),
				 errhint("A superuser binds the values stored in this database to it with SELECT esi.rekey();")));

	load_keys(false);
	for (int i = 0; i < key_cache.nkeys; i++)
		if (key_cache.keys[i].id == id)
			key = &key_cache.keys[i];
	if (key == NULL)
	{
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("key %08x that sealed the value is not in the key file", id),
				 errdetail("The key file \"%s\" holds %d keys.", key_cache.path, key_cache.nkeys),
				 errhint("Set esi_fdw.key_file to the key file the value was sealed with, or put the dropped key back into the key file from a backup.")));
	}

	memcpy(tag, p + slen - ESI_TAG_LEN, ESI_TAG_LEN);
	plain = palloc(clen + 16 + 1);
	if (!gcm(false, key->key, p + ESI_SEAL_HEADER, p, aad, binding,
			 p + ESI_SEAL_HEADER + ESI_NONCE_LEN, clen,
			 (unsigned char *) plain, tag))
	{
		/* unauthenticated plaintext must not linger */
		wipe_free(plain, clen + 16 + 1);
		if (missing_ok)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("sealed value failed authentication"),
				 errdetail("It was altered, or it was sealed for another row, purpose or database than the one it is read for."),
				 errhint("The value cannot be recovered; store it again.")));
	}
	plain[clen] = '\0';
	if (len)
		*len = clen;
	return plain;
}

/*
 * esi_crypto_add_key
 *		Append a fresh key, which becomes the current one; older keys stay
 *		(values sealed with them remain readable).  Durable on return.
 */
void
esi_crypto_add_key(void)
{
	char	   *path = esi_crypto_key_file_path();
	struct stat st;
	int			fd;
	EsiKeyFile kf;
	char		line[1 + ESI_KEY_LINE_LEN + 1];
	char	   *text;
	size_t		tlen;
	int			save_errno = 0;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot add a key during recovery"),
				 errhint("Add keys on the primary, then copy its key file to the standby.")));

	fd = lock_key_file(path, O_RDWR | O_APPEND, LOCK_EX, &st);
	if (fd < 0)
	{
		/* a new file's only key is as fresh as an appended one */
		create_key_file(path);
		forget_keys();
		pfree(path);
		return;
	}
	read_key_file(fd, path, &st, &kf);

	/*
	 * An append cut short by a crash left a torn last line: cut it off.  A
	 * last line that is a whole key but lacks its newline gets one.
	 */
	text = line;
	if (kf.torn)
	{
		if (ftruncate(fd, (off_t) kf.torn_at) != 0)
		{
			int			save = errno;

			wipe_keys(&kf);
			errno = save;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not truncate key file \"%s\": %m", path)));
		}
	}
	else if (!kf.ends_with_newline)
		*text++ = '\n';
	PG_TRY();
	{
		new_key_line(kf.keys, kf.nkeys, text);
	}
	PG_FINALLY();
	{
		wipe_keys(&kf);
	}
	PG_END_TRY();
	tlen = (text - line) + ESI_KEY_LINE_LEN;

	if (!write_all(fd, line, tlen) || fsync(fd) != 0)
		save_errno = errno;
	OPENSSL_cleanse(line, sizeof(line));
	CloseTransientFile(fd);
	forget_keys();
	if (save_errno != 0)
	{
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not append a key to key file \"%s\": %m", path),
				 errhint("Check the key file: a line cut short is ignored, and the next key added goes on a line of its own.")));
	}
	pfree(path);
}

/*
 * esi_crypto_drop_keys_except
 *		Rewrite the key file keeping only the keys listed in keep[] (ids not
 *		in the file are ignored) and the current key.  Values sealed with a
 *		dropped key can no longer be read: re-seal them first.  The new file
 *		is renamed into place, so a crash leaves the old file or the new one.
 */
void
esi_crypto_drop_keys_except(const uint32 *keep, int n)
{
	char	   *path = esi_crypto_key_file_path();
	char	   *tmp;
	struct stat st;
	int			fd;
	EsiKeyFile kf;
	char	   *text;
	size_t		hlen = strlen(ESI_KEY_FILE_HEADER);
	size_t		tlen;
	size_t		tsize;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot drop keys during recovery"),
				 errhint("Drop keys on the primary, then copy its key file to the standby.")));

	fd = lock_key_file(path, O_RDONLY, LOCK_EX, &st);
	if (fd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FILE),
				 errmsg("key file \"%s\" does not exist", path),
				 errhint("Restore the key file from a backup, or set esi_fdw.key_file to where it is.")));
	read_key_file(fd, path, &st, &kf);

	tsize = hlen + (size_t) (kf.nkeys + 1) * ESI_KEY_LINE_LEN + 1;
	text = palloc(tsize);
	memcpy(text, ESI_KEY_FILE_HEADER, hlen);
	tlen = hlen;
	for (int i = 0; i < kf.nkeys; i++)
	{
		static const char hex[] = "0123456789abcdef";
		bool		kept = (i == kf.nkeys - 1);

		for (int j = 0; j < n && !kept; j++)
			kept = (keep[j] == kf.keys[i].id);
		if (!kept)
			continue;
		snprintf(text + tlen, 10, "%08x ", kf.keys[i].id);
		tlen += 9;
		for (int b = 0; b < ESI_KEY_LEN; b++)
		{
			text[tlen++] = hex[kf.keys[i].key[b] >> 4];
			text[tlen++] = hex[kf.keys[i].key[b] & 15];
		}
		text[tlen++] = '\n';
	}
	wipe_keys(&kf);

	tmp = psprintf("%s.tmp.%d", path, MyProcPid);
	write_new_file(tmp, path, text, tlen); /* wipes text */
	pfree(text);
	if (rename(tmp, path) != 0)
	{
		int			save_errno = errno;

		(void) unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not rename \"%s\" to \"%s\": %m", tmp, path)));
	}
	fsync_parent(path);
	CloseTransientFile(fd);		/* writers waiting on the old file retry */
	forget_keys();
	pfree(tmp);
	pfree(path);
}
