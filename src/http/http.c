/*-------------------------------------------------------------------------
 *
 * http.c
 *		  libcurl inside a backend: transfers, headers and the response body.
 *
 * Every transfer of a scan runs on one multi handle driven through
 * libcurl's socket interface: libcurl tells which sockets it wants watched
 * and when its next timeout is due, and the backend waits on those sockets
 * and its latch together in a WaitEventSet.  So a wait on ESI shows as an
 * "Extension" wait event in pg_stat_activity, Ctrl-C and statement_timeout
 * wake the backend at once (their signal handlers set the latch), and the
 * backend exits when the postmaster dies.  Connections, DNS answers and TLS
 * sessions live in one share handle per backend, so keep-alive connections
 * are reused from scan to scan.
 *
 * libcurl callbacks never ereport (a longjmp through libcurl would corrupt
 * it) and never allocate with palloc's error exit: they record what went
 * wrong in the transfer and the caller raises the error afterwards.
 *
 * What reaches the wire is checked here, whatever validated it before:
 * a header value or URL with a control character is refused, never sent.
 * A reply is capped at esi_fdw.max_reply_size; a transfer aborted for that
 * (or for any other reason) leaves libcurl with a connection it closes
 * rather than reuse.  A kept-alive connection is used again only if it is
 * quiet: bytes waiting on it before a request is sent were never asked for
 * (a second response smuggled after a reply, say) and would be read as the
 * next request's reply.  libcurl (7.88) only checks for a closed peer, so
 * esi_fdw keeps a list of libcurl's sockets and looks at the connection in
 * a pre-request callback; a noisy one fails that transfer, which closes it.
 *
 * With the server option compression on, esi_fdw asks for gzip itself and
 * libcurl hands over the body as it came: a gzip body is collected whole
 * and inflated at the end with libdeflate (about three times zlib's speed
 * on ESI's pages, into one buffer sized from the gzip trailer).  The cap
 * bounds the compressed body as it arrives and the inflated one.  A coding
 * other than gzip (or identity), and a gzip body that does not inflate,
 * fail the transfer like any broken reply (libcurl's own inflation did the
 * same), and it is retried.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <libdeflate.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "guc.h"
#include "http.h"

/* longest header value kept; a longer one is cut and marked with "..." */
#define ESI_HDR_LEN 128

static const char *const header_names[ESI_NUM_HDRS] = {
	"x-pages", "last-modified", "retry-after", "x-esi-error-limit-reset",
	"x-esi-error-limit-remain", "etag", "expires", "cache-control", "date",
	"age", "x-ratelimit-group", "x-ratelimit-limit", "x-ratelimit-remaining",
	"x-ratelimit-used"
};

/* the Content-Encoding of a reply, when esi_fdw asked for gzip */
typedef enum EsiCoding
{
	ESI_CODING_IDENTITY,		/* none, or identity: the body as it is */
	ESI_CODING_GZIP,			/* gzip (or x-gzip), once */
	ESI_CODING_OTHER			/* anything else: the transfer fails */
} EsiCoding;

/* Why a transfer got no reply, where it matters for retrying or the hint */
typedef enum EsiFailure
{
	ESI_FAILURE_NONE,			/* a reply came */
	ESI_FAILURE_NETWORK,		/* connection refused, reset, timed out... */
	ESI_FAILURE_DNS,			/* the host name did not resolve */
	ESI_FAILURE_PROXY,			/* the proxy failed or refused */
	ESI_FAILURE_TLS_HANDSHAKE,	/* TLS could not be agreed on */
	ESI_FAILURE_TLS_CERT,		/* the server's certificate was refused */
	ESI_FAILURE_TLS_SETUP,		/* esi_fdw.ca_file could not be used */
	ESI_FAILURE_HTTP2			/* an HTTP/2 stream or connection error */
} EsiFailure;

/* a socket libcurl wants watched */
typedef struct EsiSocket
{
	curl_socket_t fd;
	int			what;			/* CURL_POLL_IN / _OUT / _INOUT */
} EsiSocket;

struct EsiMulti
{
	CURLM	   *m;
	MemoryContext cxt;
	WaitEventSet *wes;			/* latch, postmaster death, the sockets */
	WaitEvent  *events;			/* room for every event of wes */
	int			nevents;
	bool		stale;			/* the sockets changed since wes was built */
	EsiSocket  *socks;
	int			nsocks;
	int			maxsocks;
	bool		failed;			/* a callback could not record a socket */
	bool		timer_set;		/* libcurl wants a call at timer_at */
	TimestampTz timer_at;
};

struct EsiTransfer
{
	CURL	   *easy;
	struct curl_slist *headers;
	struct curl_slist *revalidate;	/* headers plus If-None-Match, or NULL */
	char	   *url;			/* full URL (not for messages: base may hide a port) */
	char	   *display;		/* path?query, for messages and EXPLAIN */
	MemoryContext cxt;			/* owns buf */
	bool		active;			/* added to multi */
	EsiMulti   *multi;

	/* the reply */
	char	   *buf;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* esi_fdw.max_reply_size, in bytes */
	bool		too_large;
	bool		oom;
	bool		headers_done;	/* later header lines are trailers */
	bool		unsolicited;	/* bytes waited on the connection */
	bool		guard_reuse;	/* plain HTTP/1.x: check a reused connection */

	/* gzip: the body as received, inflated into buf at the end */
	bool		accept_gzip;	/* the request says Accept-Encoding: gzip */
	EsiCoding	coding;
	char		coding_text[48];	/* Content-Encoding, for a message */
	const char *coding_error;	/* why the body could not be decoded */
	char	   *zbuf;			/* kept for the slot's next request */
	size_t		zlen;
	size_t		zcap;
	EsiTransferResult result;
	EsiFailure	failure;		/* why no reply came */
	long		status;
	char		curl_error[CURL_ERROR_SIZE];
	bool		have[ESI_NUM_HDRS];
	char		hdr[ESI_NUM_HDRS][ESI_HDR_LEN];

	/*
	 * A request with a body (a write) is sent alone on a new connection;
	 * libcurl's informational text tells its HTTP/2 stream and a GOAWAY's
	 * last stream id, so that a stream the server did not process is sent
	 * again (see esi_http_next_done).
	 */
	bool		watch_goaway;	/* debug_cb reads libcurl's text */
	long		h2_stream;		/* the request's stream id, 0: none known */
	long		goaway_last;	/* a GOAWAY's last stream id, -1: none */
	bool		refused;		/* the stream was refused (REFUSED_STREAM) */
	int			resends;		/* sent again after such a GOAWAY */
};

static CURLSH *esi_share = NULL;

static void clear_reply(EsiTransfer *t);
static bool goaway_excluded(EsiTransfer *t);

/* the backend's gzip decompressor (malloc'd once, used by every transfer) */
static struct libdeflate_decompressor *esi_inflater = NULL;

/*
 * Every socket libcurl has open in this backend (malloc'd: outlives scans),
 * and whether a request has gone out on it: only a reused connection can
 * hold the tail of an earlier reply.
 */
typedef struct EsiCurlSocket
{
	curl_socket_t fd;
	bool		carried;		/* a request was sent on it */
} EsiCurlSocket;

static EsiCurlSocket *curl_socks = NULL;
static int	n_curl_socks = 0;
static int	max_curl_socks = 0;

/* ---------------------------------------------------------------------
 * Checked libcurl options
 *
 * Every option esi_fdw sets is checked: a libcurl too old for one (the
 * pre-request callback that guards kept-alive connections, say) or one that
 * refuses a value would otherwise go on without it, silently.  A refusal
 * is an error naming the option, with libcurl's words and version; the
 * handle being set up is released first (PG_TRY in the functions that
 * create one; a handle already handed out is its owner's to release).  The
 * tuning knobs (keep-alive probes, Nagle, the connection cache's size) are
 * the exception: esi_fdw works without them, so a refusal only warns, once
 * per backend.
 * ---------------------------------------------------------------------
 */

/* What a refusal says about libcurl */
typedef enum EsiCurlRefusal
{
	ESI_CURL_LACKS,				/* an option or feature this libcurl lacks */
	ESI_CURL_NO_MEMORY,			/* out of memory */
	ESI_CURL_BAD_VALUE			/* a value it does not take */
} EsiCurlRefusal;

/* the options whose hint says more than the default */
typedef struct EsiCurlOption
{
	const char *name;			/* "CURLOPT_PREREQFUNCTION" */
	const char *since;			/* the libcurl release that has it, or NULL */
	const char *hint;			/* for a refused value, or NULL */
} EsiCurlOption;

/* the release with every option esi_fdw sets (CURLOPT_PROTOCOLS_STR's) */
#define ESI_LIBCURL_NEEDED "7.85.0"

#define CA_FILE_HINT "Point esi_fdw.ca_file at a PEM file of CA certificates (ALTER SYSTEM SET esi_fdw.ca_file = '/path/ca.pem'), or RESET esi_fdw.ca_file for the system's CA bundle."

static const EsiCurlOption curl_options[] = {
	{"CURLOPT_PREREQFUNCTION", "7.80.0", NULL},
	{"CURLOPT_PREREQDATA", "7.80.0", NULL},
	{"CURLOPT_PROTOCOLS_STR", ESI_LIBCURL_NEEDED, NULL},
	{"CURLOPT_CAINFO", NULL, CA_FILE_HINT},
	{"CURLOPT_PROXY_CAINFO", NULL, CA_FILE_HINT},
	{"CURLOPT_PROXY", NULL,
	"Check esi_fdw.proxy (SHOW esi_fdw.proxy), or RESET esi_fdw.proxy for no proxy."},
	{"CURLOPT_NOPROXY", NULL,
	"Check esi_fdw.no_proxy (SHOW esi_fdw.no_proxy): a comma list of host names, domains and IP addresses; RESET esi_fdw.no_proxy for none."},
	{"CURLOPT_USERAGENT", NULL,
	"Check the server's user_agent option and esi_fdw.user_agent (SHOW esi_fdw.user_agent)."},
	{"CURLOPT_URL", NULL,
	"Check the server's base_url (or sso_url) option and the values the query gives the route's parameters."},
	{"CURLOPT_HTTP_VERSION", NULL,
	"This libcurl speaks no HTTP/2: SET esi_fdw.http_version = '1.1', or give the server the option http_version '1.1'."},
};

/*
 * refused
 *		Report an option (or a piece of information) libcurl refused, at
 *		elevel: text is libcurl's own description of its result.
 */
static void
refused(int elevel, const char *option, EsiCurlRefusal why, const char *text)
{
	const EsiCurlOption *o = NULL;
	const char *version = curl_version_info(CURLVERSION_NOW)->version;
	int			sqlstate;
	const char *hint;

	for (int i = 0; i < lengthof(curl_options); i++)
		if (strcmp(curl_options[i].name, option) == 0)
			o = &curl_options[i];

	if (why == ESI_CURL_NO_MEMORY)
	{
		sqlstate = ERRCODE_OUT_OF_MEMORY;
		hint = "The server is short of memory: try again later.";
	}
	else if (why == ESI_CURL_LACKS)
	{
		sqlstate = ERRCODE_FEATURE_NOT_SUPPORTED;
		if (o && o->since)
			hint = psprintf("esi_fdw needs libcurl %s or later: install a newer libcurl and restart PostgreSQL.",
							o->since);
		else if (o && o->hint)
			hint = o->hint;
		else
			hint = psprintf("esi_fdw needs a libcurl with %s: install libcurl %s or later, built with HTTP/2 and TLS, and restart PostgreSQL.",
							option, ESI_LIBCURL_NEEDED);
	}
	else if (o && o->hint)
	{
		sqlstate = ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE;
		hint = o->hint;
	}
	else
	{
		sqlstate = ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION;
		hint = "esi_fdw sets no value of its own that libcurl may refuse: report this with the DETAIL.";
	}
	ereport(elevel,
			(errcode(sqlstate),
			 errmsg("libcurl refused %s", option),
			 errdetail("libcurl %s: %s.", version, text),
			 errhint("%s", hint)));
}

/*
 * easy_refusal
 *		What a curl_easy_setopt or curl_easy_getinfo result other than
 *		CURLE_OK says.
 */
static EsiCurlRefusal
easy_refusal(CURLcode rc)
{
	switch (rc)
	{
		case CURLE_UNKNOWN_OPTION:
		case CURLE_NOT_BUILT_IN:
		case CURLE_UNSUPPORTED_PROTOCOL:
			return ESI_CURL_LACKS;
		case CURLE_OUT_OF_MEMORY:
			return ESI_CURL_NO_MEMORY;
		default:
			return ESI_CURL_BAD_VALUE;
	}
}

/*
 * easy_checked
 *		Raise an error when libcurl refused an easy handle's option (or
 *		information): see EASY_SETOPT.
 */
static void
easy_checked(CURLcode rc, const char *option)
{
	if (rc != CURLE_OK)
		refused(ERROR, option, easy_refusal(rc), curl_easy_strerror(rc));
}

/* a tuning knob refused, warned of once per backend */
static bool tuning_warned = false;

/*
 * easy_tuning_checked
 *		Warn (once per backend) when libcurl refused a tuning knob, one
 *		esi_fdw works without: see EASY_SETOPT_TUNING.
 */
static void
easy_tuning_checked(CURLcode rc, const char *option)
{
	if (rc != CURLE_OK && !tuning_warned)
	{
		tuning_warned = true;
		refused(WARNING, option, easy_refusal(rc), curl_easy_strerror(rc));
	}
}

/* set an easy handle's option; raise an error when libcurl refuses it */
#define EASY_SETOPT(easy, option, value) \
	easy_checked(curl_easy_setopt((easy), option, (value)), #option)
/* the same for a tuning knob: warn only */
#define EASY_SETOPT_TUNING(easy, option, value) \
	easy_tuning_checked(curl_easy_setopt((easy), option, (value)), #option)
/* read an easy handle's information; raise an error when libcurl cannot */
#define EASY_GETINFO(easy, info, ptr) \
	easy_checked(curl_easy_getinfo((easy), info, (ptr)), #info)

/*
 * multi_checked
 *		Raise an error (or warn, for a tuning knob) when libcurl refused a
 *		multi handle's option: see MULTI_SETOPT.
 */
static void
multi_checked(CURLMcode rc, const char *option, bool tuning)
{
	EsiCurlRefusal why;

	if (rc == CURLM_OK || (tuning && tuning_warned))
		return;
	why = rc == CURLM_UNKNOWN_OPTION ? ESI_CURL_LACKS :
		rc == CURLM_OUT_OF_MEMORY ? ESI_CURL_NO_MEMORY : ESI_CURL_BAD_VALUE;
	if (tuning)
		tuning_warned = true;
	refused(tuning ? WARNING : ERROR, option, why, curl_multi_strerror(rc));
}

#define MULTI_SETOPT(multi, option, value) \
	multi_checked(curl_multi_setopt((multi), option, (value)), #option, false)
#define MULTI_SETOPT_TUNING(multi, option, value) \
	multi_checked(curl_multi_setopt((multi), option, (value)), #option, true)

/*
 * share_checked
 *		Raise an error when libcurl refused to share something between
 *		the handles of the backend: see SHARE_SETOPT.
 */
static void
share_checked(CURLSHcode rc, const char *what)
{
	if (rc != CURLSHE_OK)
		refused(ERROR, what,
				rc == CURLSHE_NOMEM ? ESI_CURL_NO_MEMORY :
				rc == CURLSHE_BAD_OPTION || rc == CURLSHE_NOT_BUILT_IN ? ESI_CURL_LACKS :
				ESI_CURL_BAD_VALUE,
				curl_share_strerror(rc));
}

#define SHARE_SETOPT(share, option, value) \
	share_checked(curl_share_setopt((share), option, (value)), #option " " #value)

/*
 * esi_http_init
 *		Set up libcurl once per backend.
 */
static void
esi_http_init(void)
{
	CURLSH	   *share;

	if (esi_share)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
	share = curl_share_init();
	if (share == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl share handle")));
	PG_TRY();
	{
		SHARE_SETOPT(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
		SHARE_SETOPT(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		SHARE_SETOPT(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	PG_CATCH();
	{
		curl_share_cleanup(share);
		PG_RE_THROW();
	}
	PG_END_TRY();
	esi_share = share;
}

/* ---------------------------------------------------------------------
 * The multi handle and its wait
 * ---------------------------------------------------------------------
 */

/*
 * socket_cb
 *		libcurl's CURLMOPT_SOCKETFUNCTION: a socket to watch for reading
 *		and/or writing, or no longer.  Only records; the wait set is rebuilt
 *		before the next wait.
 */
static int
socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	EsiMulti   *mh = (EsiMulti *) userp;
	int			i;

	for (i = 0; i < mh->nsocks; i++)
		if (mh->socks[i].fd == fd)
			break;

	if (what == CURL_POLL_REMOVE)
	{
		if (i < mh->nsocks)
		{
			mh->socks[i] = mh->socks[--mh->nsocks];
			mh->stale = true;
		}
		return 0;
	}
	if (i == mh->nsocks)
	{
		if (mh->nsocks == mh->maxsocks)
		{
			int			newmax = mh->maxsocks * 2;
			EsiSocket  *n = MemoryContextAllocExtended(mh->cxt,
													   sizeof(EsiSocket) * newmax,
													   MCXT_ALLOC_NO_OOM);

			if (n == NULL)
			{
				mh->failed = true;
				return -1;
			}
			memcpy(n, mh->socks, sizeof(EsiSocket) * mh->nsocks);
			pfree(mh->socks);
			mh->socks = n;
			mh->maxsocks = newmax;
		}
		mh->socks[mh->nsocks].fd = fd;
		mh->socks[mh->nsocks].what = 0;
		mh->nsocks++;
	}
	if (mh->socks[i].what != what)
	{
		mh->socks[i].what = what;
		mh->stale = true;
	}
	return 0;
}

/*
 * timer_cb
 *		libcurl's CURLMOPT_TIMERFUNCTION: when to call it back with
 *		CURL_SOCKET_TIMEOUT (-1: never).  A one-shot timer: libcurl sets it
 *		again when it needs another.
 */
static int
timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	EsiMulti   *mh = (EsiMulti *) userp;

	if (timeout_ms < 0)
		mh->timer_set = false;
	else
	{
		mh->timer_set = true;
		mh->timer_at = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	}
	return 0;
}

/*
 * esi_http_multi_new
 *		A multi handle for the transfers of one scan, in cxt.
 */
EsiMulti *
esi_http_multi_new(MemoryContext cxt)
{
	EsiMulti   *mh;
	CURLM	   *m;

	esi_http_init();
	mh = MemoryContextAllocZero(cxt, sizeof(EsiMulti));
	mh->cxt = cxt;
	mh->maxsocks = 16;
	mh->socks = MemoryContextAlloc(cxt, sizeof(EsiSocket) * mh->maxsocks);
	m = curl_multi_init();
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	/* the caller gets mh, to release, only when all is set */
	PG_TRY();
	{
		MULTI_SETOPT_TUNING(m, CURLMOPT_MAXCONNECTS, 64L);
		MULTI_SETOPT(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
		MULTI_SETOPT(m, CURLMOPT_SOCKETDATA, mh);
		MULTI_SETOPT(m, CURLMOPT_TIMERFUNCTION, timer_cb);
		MULTI_SETOPT(m, CURLMOPT_TIMERDATA, mh);
	}
	PG_CATCH();
	{
		curl_multi_cleanup(m);
		PG_RE_THROW();
	}
	PG_END_TRY();
	mh->m = m;
	return mh;
}

/*
 * esi_http_multi_free
 *		Release the multi handle and the wait set (their file descriptors
 *		are not released by a memory context reset).  Transfers must have
 *		been freed first.  Safe on error paths.
 */
void
esi_http_multi_free(EsiMulti *mh)
{
	if (mh == NULL)
		return;
	if (mh->wes)
		FreeWaitEventSet(mh->wes);
	mh->wes = NULL;
	if (mh->m)
		curl_multi_cleanup(mh->m);
	mh->m = NULL;
}

/*
 * rebuild_wait_set
 *		A WaitEventSet of the latch, postmaster death and libcurl's sockets.
 *		PostgreSQL 15 cannot remove an event from a set, so a change in the
 *		sockets makes a new set (a handful of sockets: cheap).
 */
static void
rebuild_wait_set(EsiMulti *mh)
{
	if (mh->wes)
		FreeWaitEventSet(mh->wes);
	mh->wes = NULL;
	if (mh->events)
		pfree(mh->events);
	mh->events = NULL;

	mh->wes = CreateWaitEventSet(mh->cxt, mh->nsocks + 2);
	AddWaitEventToSet(mh->wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(mh->wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < mh->nsocks; i++)
	{
		uint32		ev = 0;

		if (mh->socks[i].what & CURL_POLL_IN)
			ev |= WL_SOCKET_READABLE;
		if (mh->socks[i].what & CURL_POLL_OUT)
			ev |= WL_SOCKET_WRITEABLE;
		if (ev)
			AddWaitEventToSet(mh->wes, ev, mh->socks[i].fd, NULL, NULL);
	}
	mh->nevents = mh->nsocks + 2;
	mh->events = MemoryContextAlloc(mh->cxt, sizeof(WaitEvent) * mh->nevents);
	mh->stale = false;
}

/*
 * socket_action
 *		Let libcurl act on a ready socket, or on its timeout.
 */
static void
socket_action(EsiMulti *mh, curl_socket_t fd, int flags)
{
	int			running;
	CURLMcode	rc = curl_multi_socket_action(mh->m, fd, flags, &running);

	if (rc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("HTTP client failure while talking to ESI"),
				 errdetail("%s", curl_multi_strerror(rc))));
}

/*
 * esi_http_wait
 *		Wait up to timeout_ms (0: only look) for a socket of a transfer, the
 *		latch or libcurl's timer, and let libcurl move the transfers along.
 *		Returns the milliseconds spent waiting.  The caller checks for
 *		interrupts: a cancel sets the latch and ends the wait early.
 */
double
esi_http_wait(EsiMulti *mh, long timeout_ms)
{
	long		wait = timeout_ms;
	int			n;
	instr_time	start,
				dur;

	if (mh->failed)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while waiting on ESI")));
	if (mh->timer_set)
	{
		TimestampTz now = GetCurrentTimestamp();
		long		left = 0;

		if (mh->timer_at > now)
			left = (long) ((mh->timer_at - now + 999) / 1000);
		wait = Min(wait, left);
	}
	if (mh->wes == NULL || mh->stale)
		rebuild_wait_set(mh);

	INSTR_TIME_SET_CURRENT(start);
	n = WaitEventSetWait(mh->wes, wait, mh->events, mh->nevents, PG_WAIT_EXTENSION);
	INSTR_TIME_SET_CURRENT(dur);
	INSTR_TIME_SUBTRACT(dur, start);

	for (int i = 0; i < n; i++)
	{
		WaitEvent  *ev = &mh->events[i];
		int			flags = 0;

		if (ev->events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			continue;
		}
		if (ev->events & WL_SOCKET_READABLE)
			flags |= CURL_CSELECT_IN;
		if (ev->events & WL_SOCKET_WRITEABLE)
			flags |= CURL_CSELECT_OUT;
		if (flags)
			socket_action(mh, ev->fd, flags);
	}
	if (mh->timer_set && GetCurrentTimestamp() >= mh->timer_at)
	{
		mh->timer_set = false;	/* one-shot; libcurl sets the next */
		socket_action(mh, CURL_SOCKET_TIMEOUT, 0);
	}
	if (mh->failed)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while waiting on ESI")));
	return INSTR_TIME_GET_MILLISEC(dur);
}

/*
 * inflate_body
 *		Inflate the gzip body in zbuf into buf.  The output buffer is sized
 *		from the trailer's ISIZE (the last member's length mod 2^32), which
 *		is only a hint: it is bounded by the reply limit and by what DEFLATE
 *		can expand to (1032:1), and a buffer found too small is doubled up
 *		to the limit and the body inflated again.  libdeflate checks every
 *		member's CRC and ISIZE, so a lying trailer fails as corrupt data.
 *		Sets too_large, oom or coding_error instead of raising an error:
 *		the caller classifies the transfer.
 */
static void
inflate_body(EsiTransfer *t)
{
	const unsigned char *in = (const unsigned char *) t->zbuf;
	size_t		cap;

	if (t->zlen == 0)
		return;					/* no body (a 304, say): nothing to inflate */
	if (t->zlen < 18)
	{
		t->coding_error = "gzip body too short";
		return;
	}
	cap = (size_t) in[t->zlen - 4] | (size_t) in[t->zlen - 3] << 8 |
		(size_t) in[t->zlen - 2] << 16 | (size_t) in[t->zlen - 1] << 24;
	if (t->zlen <= t->limit / 1032)
		cap = Min(cap, t->zlen * 1032);
	cap = Min(cap, t->limit);

	for (;;)
	{
		size_t		in_pos = 0;
		size_t		out_len = 0;
		enum libdeflate_result r = LIBDEFLATE_SUCCESS;

		if (t->cap < cap + 1)
		{
			char	   *nb = MemoryContextAllocExtended(t->cxt, cap + 1, MCXT_ALLOC_NO_OOM);

			if (nb == NULL)
			{
				t->oom = true;
				return;
			}
			if (t->buf)
				pfree(t->buf);
			t->buf = nb;
			t->cap = cap + 1;
		}

		/* one member after another (RFC 1952 allows several) */
		while (in_pos < t->zlen)
		{
			size_t		used = 0,
						produced = 0;

			r = libdeflate_gzip_decompress_ex(esi_inflater, in + in_pos, t->zlen - in_pos,
											  t->buf + out_len, cap - out_len,
											  &used, &produced);
			if (r != LIBDEFLATE_SUCCESS)
				break;
			in_pos += used;
			out_len += produced;
		}
		if (r == LIBDEFLATE_SUCCESS)
		{
			t->len = out_len;
			t->buf[out_len] = '\0';
			return;
		}
		if (r != LIBDEFLATE_INSUFFICIENT_SPACE)
		{
			t->coding_error = "corrupt gzip body";
			return;
		}
		if (cap >= t->limit)
		{
			t->too_large = true;
			return;
		}
		cap = Min(Max(cap * 2, 256 * 1024), t->limit);
	}
}

/*
 * classify_failure
 *		Sort libcurl's result into what the caller and the user can act
 *		on, and put the cause in front of libcurl's own words, which name
 *		the host, the certificate problem or the proxy.
 */
static EsiFailure
classify_failure(EsiTransfer *t, CURLcode code)
{
	EsiFailure	f;
	const char *cause;
	char		text[CURL_ERROR_SIZE];

	switch (code)
	{
		case CURLE_OK:
			return ESI_FAILURE_NONE;
		case CURLE_COULDNT_RESOLVE_HOST:
			return ESI_FAILURE_DNS;		/* "Could not resolve host: NAME" */
		case CURLE_COULDNT_RESOLVE_PROXY:
			return ESI_FAILURE_PROXY;	/* "Could not resolve proxy: NAME" */
		case CURLE_PEER_FAILED_VERIFICATION:
			f = ESI_FAILURE_TLS_CERT;
			cause = "the server's TLS certificate was refused";
			break;
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			f = ESI_FAILURE_TLS_SETUP;
			cause = "the CA file (esi_fdw.ca_file) could not be used";
			break;
		case CURLE_SSL_CONNECT_ERROR:
			f = ESI_FAILURE_TLS_HANDSHAKE;
			cause = "the TLS handshake failed";
			break;
		case CURLE_HTTP2:
		case CURLE_HTTP2_STREAM:
			f = ESI_FAILURE_HTTP2;
			cause = "the server broke off HTTP/2";
			break;
		default:
			{
				long		proxy_status = 0;

				/*
				 * a CONNECT refused by the proxy (unknown: the failure is
				 * reported as the network's, with libcurl's words)
				 */
				if (curl_easy_getinfo(t->easy, CURLINFO_HTTP_CONNECTCODE, &proxy_status) == CURLE_OK &&
					proxy_status >= 300)
				{
					snprintf(text, sizeof(text), "the proxy refused the tunnel (HTTP %ld): %s",
							 proxy_status, t->curl_error);
					strlcpy(t->curl_error, text, sizeof(t->curl_error));
					return ESI_FAILURE_PROXY;
				}
			}
			return ESI_FAILURE_NETWORK;
	}
	snprintf(text, sizeof(text), "%s: %s", cause, t->curl_error);
	strlcpy(t->curl_error, text, sizeof(t->curl_error));
	return f;
}

/*
 * esi_http_next_done
 *		The next finished transfer, taken off the multi handle with its
 *		outcome recorded; NULL when none.
 */
EsiTransfer *
esi_http_next_done(EsiMulti *mh)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read(mh->m, &left)) != NULL)
	{
		char	   *priv = NULL;
		EsiTransfer *t;
		CURLcode	code;
		long		status = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		code = msg->data.result;
		EASY_GETINFO(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		t = (EsiTransfer *) priv;

		/* msg is invalid once the handle is removed */
		curl_multi_remove_handle(mh->m, t->easy);
		t->active = false;
		t->multi = NULL;
		EASY_GETINFO(t->easy, CURLINFO_RESPONSE_CODE, &status);
		t->status = status;
		if (code != CURLE_OK && t->curl_error[0] == '\0')
			strlcpy(t->curl_error, curl_easy_strerror(code), sizeof(t->curl_error));
		t->failure = classify_failure(t, code);

		/*
		 * A stream above the last stream id of a GOAWAY was not processed
		 * (RFC 9113, 6.8), like one refused with REFUSED_STREAM, which
		 * libcurl sends again on a new connection by itself.  libcurl 7.88
		 * fails the former (CURLE_HTTP2) instead: send it again likewise,
		 * at most esi_fdw.max_retries times.
		 */
		if (code != CURLE_OK && goaway_excluded(t) && t->resends < esi_guc_max_retries)
		{
			t->resends++;
			clear_reply(t);
			if (curl_multi_add_handle(mh->m, t->easy) == CURLM_OK)
			{
				t->active = true;
				t->multi = mh;
				continue;
			}
			strlcpy(t->curl_error, "could not send the request again after a GOAWAY",
					sizeof(t->curl_error));
			t->failure = ESI_FAILURE_NETWORK;
			return t;
		}

		/* a complete gzip reply is inflated now, outside libcurl */
		if (code == CURLE_OK && status != 0 && t->coding == ESI_CODING_GZIP &&
			!t->too_large && !t->oom && !t->unsolicited)
			inflate_body(t);
		if (t->coding_error)
		{
			if (t->coding == ESI_CODING_OTHER)
				snprintf(t->curl_error, sizeof(t->curl_error),
						 "%s \"%s\" (esi_fdw asks for gzip only)",
						 t->coding_error, t->coding_text);
			else
				strlcpy(t->curl_error, t->coding_error, sizeof(t->curl_error));
		}

		if (t->too_large || code == CURLE_FILESIZE_EXCEEDED)
			t->result = ESI_XFER_TOO_LARGE;
		else if (t->oom)
			t->result = ESI_XFER_NO_MEMORY;
		else if (t->unsolicited)
			t->result = ESI_XFER_UNSOLICITED;
		else if (code != CURLE_OK || status == 0 || t->coding_error)
			t->result = ESI_XFER_FAILED;
		else
			t->result = ESI_XFER_REPLY;
		return t;
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Transfers
 * ---------------------------------------------------------------------
 */

/*
 * grow
 *		Make room in a buffer of len bytes for n more (plus the NUL the
 *		decoder wants) without raising an error: we are inside a libcurl
 *		callback.  Never allocates more than the reply limit needs.
 */
static bool
grow(EsiTransfer *t, char **buf, size_t *cap, size_t len, size_t n)
{
	size_t		need = len + n + 1;
	size_t		newcap;
	char	   *nb;

	if (need <= *cap)
		return true;
	newcap = *cap ? *cap : 256 * 1024;
	while (newcap < need)
		newcap *= 2;
	newcap = Max(need, Min(newcap, t->limit + 1));
	if (newcap > MaxAllocSize)
		return false;
	nb = MemoryContextAllocExtended(t->cxt, newcap, MCXT_ALLOC_NO_OOM);
	if (nb == NULL)
		return false;
	if (*buf)
	{
		memcpy(nb, *buf, len);
		pfree(*buf);
	}
	*buf = nb;
	*cap = newcap;
	return true;
}

/*
 * write_cb
 *		Append body bytes, up to the reply limit; past it, abort the
 *		transfer (the connection is then closed).  A gzip body goes to zbuf,
 *		to be inflated when complete; a body in a coding esi_fdw did not ask
 *		for ends the transfer at its first byte.
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EsiTransfer *t = (EsiTransfer *) userdata;
	size_t		n = size * nmemb;
	char	  **buf = &t->buf;
	size_t	   *cap = &t->cap;
	size_t	   *len = &t->len;

	t->headers_done = true;
	if (t->coding == ESI_CODING_OTHER)
	{
		t->coding_error = "unsupported Content-Encoding";
		return 0;				/* makes libcurl fail the transfer */
	}
	if (t->coding == ESI_CODING_GZIP)
	{
		buf = &t->zbuf;
		cap = &t->zcap;
		len = &t->zlen;
	}
	if (n > t->limit - *len)
	{
		t->too_large = true;
		return 0;
	}
	if (!grow(t, buf, cap, *len, n))
	{
		t->oom = true;
		return 0;
	}
	memcpy(*buf + *len, ptr, n);
	*len += n;
	(*buf)[*len] = '\0';
	return n;
}

/*
 * note_coding
 *		Read a Content-Encoding value (a list; repeats of the header add to
 *		it): identity changes nothing, one gzip (or x-gzip) is inflated,
 *		anything else, a second gzip included, is refused.
 */
static void
note_coding(EsiTransfer *t, const char *v, size_t vlen)
{
	EsiCoding	was = t->coding;
	size_t		i = 0;

	while (vlen > 0 && (*v == ' ' || *v == '\t'))
	{
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	while (i < vlen)
	{
		size_t		start,
					end;

		while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		start = i;
		while (i < vlen && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		if (end == start)
			continue;
		if (end - start == 8 && strncasecmp(v + start, "identity", 8) == 0)
			continue;
		if (t->coding == ESI_CODING_IDENTITY &&
			((end - start == 4 && strncasecmp(v + start, "gzip", 4) == 0) ||
			 (end - start == 6 && strncasecmp(v + start, "x-gzip", 6) == 0)))
		{
			t->coding = ESI_CODING_GZIP;
			continue;
		}
		t->coding = ESI_CODING_OTHER;
	}
	/* the value that was refused, cut to fit, for the message */
	if (t->coding == ESI_CODING_OTHER && was != ESI_CODING_OTHER)
	{
		vlen = Min(vlen, sizeof(t->coding_text) - 1);
		memcpy(t->coding_text, v, vlen);
		t->coding_text[vlen] = '\0';
	}
}

/*
 * keep_header
 *		Store a header's value; a repeated header is joined with ", " as
 *		RFC 9110 allows (so "X-Pages: 1" twice reads "1, 1", not a number).
 */
static void
keep_header(EsiTransfer *t, EsiHeader h, const char *v, size_t vlen)
{
	char	   *dst = t->hdr[h];
	size_t		used = t->have[h] ? strlen(dst) : 0;

	if (t->have[h] && used + 2 < ESI_HDR_LEN)
	{
		memcpy(dst + used, ", ", 2);
		used += 2;
	}
	if (used + vlen < ESI_HDR_LEN)
	{
		memcpy(dst + used, v, vlen);
		dst[used + vlen] = '\0';
	}
	else
	{
		/* cut, and mark it so that it is no valid number or date */
		size_t		keep = ESI_HDR_LEN - 4; /* room for "..." and the NUL */

		if (used < keep)
			memcpy(dst + used, v, keep - used);
		strcpy(dst + keep, "...");
	}
	t->have[h] = true;
}

/*
 * header_cb
 *		Keep the response headers esi_fdw acts on.  Trailers (header lines
 *		after the body started) are ignored: a header can not change its
 *		meaning after the body.
 */
static size_t
header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
	EsiTransfer *t = (EsiTransfer *) userdata;
	size_t		len = size * nitems;
	size_t		end = len;

	while (end > 0 && (line[end - 1] == '\r' || line[end - 1] == '\n'))
		end--;

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		/* a new response (after a 100 Continue, say): forget the old one */
		memset(t->have, 0, sizeof(t->have));
		t->headers_done = false;
		t->coding = ESI_CODING_IDENTITY;
		return len;
	}
	if (end == 0)
	{
		t->headers_done = true;
		return len;
	}
	if (t->headers_done)
		return len;

	/* without Accept-Encoding, the body is passed on as it came */
	if (t->accept_gzip && end > 17 && strncasecmp(line, "content-encoding:", 17) == 0)
	{
		note_coding(t, line + 17, end - 17);
		return len;
	}

	for (int h = 0; h < ESI_NUM_HDRS; h++)
	{
		size_t		nl = strlen(header_names[h]);
		size_t		i,
					j;

		if (end <= nl || strncasecmp(line, header_names[h], nl) != 0 || line[nl] != ':')
			continue;
		i = nl + 1;
		while (i < end && (line[i] == ' ' || line[i] == '\t'))
			i++;
		j = end;
		while (j > i && (line[j - 1] == ' ' || line[j - 1] == '\t'))
			j--;
		keep_header(t, (EsiHeader) h, line + i, j - i);
		break;
	}
	return len;
}

/*
 * check_wire_text
 *		Refuse to send text with a control character in a header value (a
 *		CR or LF would start another header or request) or in a URL (where
 *		a space would too).  Runs before anything reaches libcurl.
 */
static void
check_wire_text(const char *what, const char *text, bool url)
{
	for (const unsigned char *p = (const unsigned char *) text; *p; p++)
	{
		if ((*p < 0x20 && !(*p == '\t' && !url)) || *p == 0x7f || (url && *p == ' '))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("esi_fdw will not send %s containing a control character", what),
					 errdetail("Character 0x%02x at position %d would change the HTTP request.",
							   *p, (int) (p - (const unsigned char *) text) + 1),
					 errhint("Remove line breaks and other control characters from the setting or option that gives %s.",
							 what)));
	}
}

/*
 * open_socket_cb
 *		libcurl's CURLOPT_OPENSOCKETFUNCTION: make the socket of a new
 *		connection, and remember it.
 */
static curl_socket_t
open_socket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	curl_socket_t fd;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (n_curl_socks == max_curl_socks)
	{
		int			newmax = Max(64, max_curl_socks * 2);
		EsiCurlSocket *n = realloc(curl_socks, sizeof(EsiCurlSocket) * newmax);

		if (n == NULL)
			return CURL_SOCKET_BAD; /* libcurl fails the connect */
		curl_socks = n;
		max_curl_socks = newmax;
	}
#ifdef SOCK_CLOEXEC
	fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
#else
	fd = socket(addr->family, addr->socktype, addr->protocol);
#endif
	if (fd != CURL_SOCKET_BAD)
	{
		curl_socks[n_curl_socks].fd = fd;
		curl_socks[n_curl_socks].carried = false;
		n_curl_socks++;
	}
	return fd;
}

/*
 * close_socket_cb
 *		libcurl's CURLOPT_CLOSESOCKETFUNCTION: forget a socket and close it.
 *		libcurl keeps the callback with the connection, so clientp (which
 *		may be gone by then) is not used.
 */
static int
close_socket_cb(void *clientp, curl_socket_t fd)
{
	for (int i = 0; i < n_curl_socks; i++)
		if (curl_socks[i].fd == fd)
		{
			curl_socks[i] = curl_socks[--n_curl_socks];
			break;
		}
	return close(fd);
}

/*
 * same_endpoint
 *		Whether a socket address is ip:port (the port compared first: it is
 *		cheap and nearly always tells).
 */
static bool
same_endpoint(struct sockaddr_storage *sa, socklen_t len, const char *ip, int port)
{
	char		host[NI_MAXHOST];
	int			p;

	if (sa->ss_family == AF_INET)
		p = ntohs(((struct sockaddr_in *) sa)->sin_port);
	else if (sa->ss_family == AF_INET6)
		p = ntohs(((struct sockaddr_in6 *) sa)->sin6_port);
	else
		return false;
	if (p != port)
		return false;
	if (getnameinfo((struct sockaddr *) sa, len, host, sizeof(host), NULL, 0,
					NI_NUMERICHOST) != 0)
		return false;
	return strcmp(host, ip) == 0;
}

/*
 * prereq_cb
 *		libcurl's CURLOPT_PREREQFUNCTION, called when a transfer has its
 *		connection (new or kept alive) and is about to send the request.
 *		On a plain HTTP/1.x connection that already carried a request, bytes
 *		waiting now were never asked for (the tail of a reply smuggled after
 *		the last one): refuse it, and the aborted transfer makes libcurl
 *		close it.  Over TLS the socket's bytes belong to TLS (session tickets
 *		after a TLS 1.3 handshake) and HTTP/2 (SETTINGS, PING, WINDOW_UPDATE
 *		frames at any time), which parse them and let no stray reply through,
 *		so those connections are not looked at.
 */
static int
prereq_cb(void *clientp, char *primary_ip, char *local_ip, int primary_port,
		  int local_port)
{
	EsiTransfer *t = (EsiTransfer *) clientp;

	if (!t->guard_reuse)
		return CURL_PREREQFUNC_OK;
	for (int i = 0; i < n_curl_socks; i++)
	{
		struct sockaddr_storage la,
					pa;
		socklen_t	llen = sizeof(la),
					plen = sizeof(pa);
		struct pollfd pfd;

		if (getsockname(curl_socks[i].fd, (struct sockaddr *) &la, &llen) != 0 ||
			!same_endpoint(&la, llen, local_ip, local_port) ||
			getpeername(curl_socks[i].fd, (struct sockaddr *) &pa, &plen) != 0 ||
			!same_endpoint(&pa, plen, primary_ip, primary_port))
			continue;
		if (!curl_socks[i].carried)
		{
			/* a new connection: whatever the server says first is its own */
			curl_socks[i].carried = true;
			break;
		}
		pfd.fd = curl_socks[i].fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, 0) > 0)
		{
			t->unsolicited = true;
			return CURL_PREREQFUNC_ABORT;
		}
		break;
	}
	return CURL_PREREQFUNC_OK;
}

/*
 * debug_cb
 *		libcurl's CURLOPT_DEBUGFUNCTION, on for a request with a body: notes
 *		the HTTP/2 stream that carries it, the last stream id of a GOAWAY and
 *		a REFUSED_STREAM from libcurl's informational lines ("Using Stream
 *		ID: 1", "... GOAWAY, error=0, last_stream=0", "REFUSED_STREAM,
 *		retrying a fresh connect").  Nothing else is read or kept (the
 *		header lines hold the token).  A line in another wording is ignored:
 *		the request is then never sent again.
 */
static int
debug_cb(CURL *handle, curl_infotype type, char *data, size_t size, void *userp)
{
	EsiTransfer *t = (EsiTransfer *) userp;
	static const char stream_id[] = "Using Stream ID: ";
	static const char goaway[] = "GOAWAY, error=";
	static const char last[] = "last_stream=";
	char		num[24];
	const char *p;
	const char *end = data + size;

	if (type != CURLINFO_TEXT)
		return 0;
	if (memmem(data, size, "REFUSED_STREAM", 14) != NULL)
	{
		t->refused = true;
		return 0;
	}
	if (size > sizeof(stream_id) - 1 &&
		memcmp(data, stream_id, sizeof(stream_id) - 1) == 0)
		p = data + sizeof(stream_id) - 1;
	else if (memmem(data, size, goaway, sizeof(goaway) - 1) != NULL &&
			 (p = memmem(data, size, last, sizeof(last) - 1)) != NULL)
		p += sizeof(last) - 1;
	else
		return 0;
	if (p >= end || *p < '0' || *p > '9')
		return 0;
	strlcpy(num, p, Min(sizeof(num), (size_t) (end - p) + 1));
	if (p[-1] == ' ')
	{
		/* a new stream (libcurl sends a refused one again by itself) */
		t->h2_stream = strtol(num, NULL, 10);
		t->goaway_last = -1;
		t->refused = false;
	}
	else
		t->goaway_last = strtol(num, NULL, 10);
	return 0;
}

/*
 * header_list
 *		A new libcurl header list: base's lines (NULL: none), then those of
 *		extra that are not NULL (one line at least).  NULL when out of
 *		memory (nothing is left
 *		allocated then): the caller raises the error, after wiping what it
 *		must.
 */
static struct curl_slist *
header_list(const struct curl_slist *base, const char *const *extra, int nextra)
{
	struct curl_slist *h = NULL;

	for (; base; base = base->next)
	{
		struct curl_slist *n = curl_slist_append(h, base->data);

		if (n == NULL)
			goto oom;
		h = n;
	}
	for (int i = 0; i < nextra; i++)
	{
		struct curl_slist *n;

		if (extra[i] == NULL)
			continue;
		n = curl_slist_append(h, extra[i]);
		if (n == NULL)
			goto oom;
		h = n;
	}
	return h;

oom:
	curl_slist_free_all(h);
	return NULL;
}

/*
 * esi_http_new_transfer
 *		A reusable transfer slot: one easy handle and its header list.
 */
EsiTransfer *
esi_http_new_transfer(MemoryContext cxt, EsiServerOptions *opts)
{
	EsiTransfer *t;
	CURL	   *e;
	char	   *compat = psprintf("X-Compatibility-Date: %s", opts->compat_date);
	char	   *lang = opts->language ? psprintf("Accept-Language: %s", opts->language) : NULL;
	char	   *tenant = opts->tenant ? psprintf("X-Tenant: %s", opts->tenant) : NULL;

	/* every check before libcurl holds anything */
	check_wire_text("a User-Agent", opts->user_agent, false);
	check_wire_text("an X-Compatibility-Date", compat, false);
	if (lang)
		check_wire_text("an Accept-Language", lang, false);
	if (tenant)
		check_wire_text("an X-Tenant", tenant, false);

	esi_http_init();
	if (opts->compression && esi_inflater == NULL)
	{
		esi_inflater = libdeflate_alloc_decompressor();
		if (esi_inflater == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a gzip decompressor")));
	}
	t = MemoryContextAllocZero(cxt, sizeof(EsiTransfer));
	t->cxt = cxt;
	t->accept_gzip = opts->compression;
	{
		const char *lines[] = {"Accept: application/json", compat, lang, tenant,
			/* not CURLOPT_ACCEPT_ENCODING: libcurl would inflate with zlib */
		t->accept_gzip ? "Accept-Encoding: gzip" : NULL};

		t->headers = header_list(NULL, lines, lengthof(lines));
	}
	if (t->headers == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not build the HTTP headers")));
	e = curl_easy_init();
	if (e == NULL)
	{
		curl_slist_free_all(t->headers);
		t->headers = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	t->easy = e;

	/* the caller gets t, to release, only when all is set */
	PG_TRY();
	{
		/* in a backend libcurl must not use signals (its DNS timeout does) */
		EASY_SETOPT(e, CURLOPT_NOSIGNAL, 1L);
		EASY_SETOPT(e, CURLOPT_SHARE, esi_share);
		EASY_SETOPT(e, CURLOPT_PROTOCOLS_STR, "http,https");
		EASY_SETOPT(e, CURLOPT_FOLLOWLOCATION, 0L);
		EASY_SETOPT(e, CURLOPT_HTTPHEADER, t->headers);
		EASY_SETOPT(e, CURLOPT_USERAGENT, opts->user_agent);
		EASY_SETOPT(e, CURLOPT_WRITEFUNCTION, write_cb);
		EASY_SETOPT(e, CURLOPT_WRITEDATA, t);
		EASY_SETOPT(e, CURLOPT_HEADERFUNCTION, header_cb);
		EASY_SETOPT(e, CURLOPT_HEADERDATA, t);
		EASY_SETOPT(e, CURLOPT_PRIVATE, t);
		EASY_SETOPT(e, CURLOPT_OPENSOCKETFUNCTION, open_socket_cb);
		EASY_SETOPT(e, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
		/* the guard against bytes waiting on a kept-alive connection */
		EASY_SETOPT(e, CURLOPT_PREREQFUNCTION, prereq_cb);
		EASY_SETOPT(e, CURLOPT_PREREQDATA, t);
		EASY_SETOPT(e, CURLOPT_DEBUGFUNCTION, debug_cb);
		EASY_SETOPT(e, CURLOPT_DEBUGDATA, t);
		EASY_SETOPT(e, CURLOPT_ERRORBUFFER, t->curl_error);
		EASY_SETOPT(e, CURLOPT_CONNECTTIMEOUT_MS, (long) esi_guc_connect_timeout_ms);
		EASY_SETOPT(e, CURLOPT_TIMEOUT_MS, (long) esi_guc_request_timeout_ms);
		EASY_SETOPT_TUNING(e, CURLOPT_TCP_KEEPALIVE, 1L);
		/* keep every connection of a scan for the next one (libcurl keeps 5) */
		EASY_SETOPT_TUNING(e, CURLOPT_MAXCONNECTS, 64L);
		EASY_SETOPT_TUNING(e, CURLOPT_TCP_NODELAY, 1L);
		EASY_SETOPT(e, CURLOPT_SSL_VERIFYPEER, esi_guc_verify_tls ? 1L : 0L);
		EASY_SETOPT(e, CURLOPT_SSL_VERIFYHOST, esi_guc_verify_tls ? 2L : 0L);
		if (esi_guc_ca_file && esi_guc_ca_file[0])
		{
			EASY_SETOPT(e, CURLOPT_CAINFO, esi_guc_ca_file);
			EASY_SETOPT(e, CURLOPT_PROXY_CAINFO, esi_guc_ca_file);
		}
		/* ESI and SSO speak TLS 1.2 and 1.3; nothing older is accepted */
		EASY_SETOPT(e, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
		EASY_SETOPT(e, CURLOPT_PROXY_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);

		/*
		 * The proxy is what esi_fdw.proxy says and nothing else: "" makes
		 * libcurl ignore https_proxy, all_proxy and no_proxy in the
		 * postmaster's environment, which no one sees from SQL.
		 */
		EASY_SETOPT(e, CURLOPT_PROXY, esi_guc_proxy ? esi_guc_proxy : "");
		EASY_SETOPT(e, CURLOPT_NOPROXY, esi_guc_no_proxy ? esi_guc_no_proxy : "");
	}
	PG_CATCH();
	{
		esi_http_free_transfer(t);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return t;
}

/*
 * set_http_version
 *		Ask libcurl for the HTTP version of the setting, and decide whether
 *		the transfer's connection is one that prereq_cb checks: only plain
 *		http spoken as HTTP/1.x.  Called after CURLOPT_FRESH_CONNECT is set
 *		for the request, which it may override.
 */
static void
set_http_version(EsiTransfer *t, EsiHttpVersion version)
{
	bool		tls = pg_strncasecmp(t->url, "https://", 8) == 0;
	long		v;
	CURLcode	rc;

	switch (version)
	{
		case ESI_HTTP_1_1:
			v = CURL_HTTP_VERSION_1_1;
			break;
		case ESI_HTTP_2:
			/* over TLS ALPN offers h2 first; plain http starts in HTTP/2 */
			v = tls ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
			break;
		case ESI_HTTP_AUTO:
		default:
			v = CURL_HTTP_VERSION_2TLS;
			break;
	}
	rc = curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, v);

	/*
	 * A libcurl built without HTTP/2 refuses every version past 1.1: auto
	 * then means HTTP/1.1, as it does where TLS does not negotiate h2.
	 */
	if (rc == CURLE_UNSUPPORTED_PROTOCOL && version == ESI_HTTP_AUTO)
		rc = curl_easy_setopt(t->easy, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_1_1);
	easy_checked(rc, "CURLOPT_HTTP_VERSION");
	t->guard_reuse = !tls && version != ESI_HTTP_2;

	/*
	 * libcurl before 8.0.0 (Debian 12 has 7.88.1) fails every request that
	 * reuses an HTTP/2 connection opened with prior knowledge, multiplexed
	 * or one after another: "Error in the HTTP2 framing layer" (curl issue
	 * 10634, fixed in 8.0.0).  There each such request gets a connection of
	 * its own.
	 */
	if (!tls && version == ESI_HTTP_2 &&
		curl_version_info(CURLVERSION_NOW)->version_num < 0x080000)
	{
		EASY_SETOPT(t->easy, CURLOPT_FRESH_CONNECT, 1L);
		EASY_SETOPT(t->easy, CURLOPT_FORBID_REUSE, 1L);
	}
	else
		EASY_SETOPT(t->easy, CURLOPT_FORBID_REUSE, 0L);
}

/*
 * clear_reply
 *		Forget what the slot's last request received.
 */
static void
clear_reply(EsiTransfer *t)
{
	t->len = 0;
	t->too_large = false;
	t->oom = false;
	t->headers_done = false;
	t->unsolicited = false;
	t->coding = ESI_CODING_IDENTITY;
	t->coding_text[0] = '\0';
	t->coding_error = NULL;
	t->zlen = 0;
	t->result = ESI_XFER_FAILED;
	t->failure = ESI_FAILURE_NONE;
	t->status = 0;
	t->curl_error[0] = '\0';
	memset(t->have, 0, sizeof(t->have));
	if (t->buf)
		t->buf[0] = '\0';
	t->h2_stream = 0;
	t->goaway_last = -1;
	t->refused = false;
}

/*
 * esi_http_prepare
 *		Point a slot at a new request and clear the previous response;
 *		fresh_connection: do not use a kept-alive connection for it.
 */
void
esi_http_prepare(EsiTransfer *t, EsiServerOptions *opts, const char *display,
				 bool fresh_connection, const char *if_none_match,
				 const char *authorization)
{
	char	   *url = psprintf("%s%s", opts->base_url, display);
	char	   *extra[2];
	int			nextra = 0;

	check_wire_text("a URL", url, true);
	if (if_none_match)
	{
		extra[nextra] = psprintf("If-None-Match: %s", if_none_match);
		check_wire_text("an If-None-Match", extra[nextra], false);
		nextra++;
	}
	if (authorization)
	{
		extra[nextra] = psprintf("Authorization: %s", authorization);
		check_wire_text("an Authorization", extra[nextra], false);
		nextra++;
	}
	if (t->revalidate)
	{
		curl_slist_free_all(t->revalidate);
		t->revalidate = NULL;
	}
	if (nextra > 0)
	{
		/* the slot's headers plus these: a list of its own, freed with it */
		struct curl_slist *h = header_list(t->headers, (const char *const *) extra, nextra);

		for (int i = 0; i < nextra; i++)
		{
			explicit_bzero(extra[i], strlen(extra[i]));
			pfree(extra[i]);
		}
		if (h == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not build the HTTP headers")));
		t->revalidate = h;
	}
	EASY_SETOPT(t->easy, CURLOPT_HTTPHEADER,
				t->revalidate ? t->revalidate : t->headers);
	if (t->url)
		pfree(t->url);
	if (t->display)
		pfree(t->display);
	t->url = MemoryContextStrdup(t->cxt, url);
	t->display = MemoryContextStrdup(t->cxt, display);
	pfree(url);
	t->limit = (size_t) esi_guc_max_reply_size_kb * 1024;
	clear_reply(t);
	t->watch_goaway = false;
	t->resends = 0;
	EASY_SETOPT(t->easy, CURLOPT_VERBOSE, 0L);
	EASY_SETOPT(t->easy, CURLOPT_URL, t->url);
	/* a GET, whatever the slot sent before (esi_http_set_body) */
	EASY_SETOPT(t->easy, CURLOPT_CUSTOMREQUEST, (char *) NULL);
	EASY_SETOPT(t->easy, CURLOPT_HTTPGET, 1L);
	EASY_SETOPT(t->easy, CURLOPT_FRESH_CONNECT, fresh_connection ? 1L : 0L);
	set_http_version(t, opts->http_version);
	/* a Content-Length past the limit fails before any byte is kept */
	EASY_SETOPT(t->easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) t->limit);
}

/*
 * esi_http_set_body
 *		Make a prepared request a POST, PUT or DELETE, with a JSON body
 *		(NULL: none).  Call after esi_http_prepare.
 */
void
esi_http_set_body(EsiTransfer *t, const char *method, const char *body)
{
	const char *extra[] = {body ? "Content-Type: application/json" : NULL,
	/* no "Expect: 100-continue" wait before a large body */
	"Expect:"};
	struct curl_slist *h = header_list(t->revalidate ? t->revalidate : t->headers,
									   extra, lengthof(extra));

	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not build the HTTP headers")));
	if (t->revalidate)
		curl_slist_free_all(t->revalidate);
	t->revalidate = h;
	EASY_SETOPT(t->easy, CURLOPT_HTTPHEADER, h);
	if (strcmp(method, "POST") == 0 || body != NULL)
	{
		EASY_SETOPT(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
					(curl_off_t) (body ? strlen(body) : 0));
		EASY_SETOPT(t->easy, CURLOPT_COPYPOSTFIELDS, body ? body : "");
	}
	if (strcmp(method, "POST") != 0)
		EASY_SETOPT(t->easy, CURLOPT_CUSTOMREQUEST, method);
	/* debug_cb learns whether HTTP/2 says the server did not process it */
	t->watch_goaway = true;
	EASY_SETOPT(t->easy, CURLOPT_VERBOSE, 1L);
}

/*
 * esi_http_start
 *		Hand a prepared slot to the multi handle.
 */
void
esi_http_start(EsiMulti *mh, EsiTransfer *t)
{
	CURLMcode	rc = curl_multi_add_handle(mh->m, t->easy);

	if (rc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start an HTTP request to ESI"),
				 errdetail("%s", curl_multi_strerror(rc))));
	t->active = true;
	t->multi = mh;
}

/*
 * esi_http_free_transfer
 *		Release a slot's libcurl resources.  Safe on error paths, also while
 *		the transfer is running (libcurl then closes its connection).
 */
void
esi_http_free_transfer(EsiTransfer *t)
{
	if (t->easy)
	{
		if (t->active && t->multi && t->multi->m)
			curl_multi_remove_handle(t->multi->m, t->easy);
		curl_easy_cleanup(t->easy);
		t->easy = NULL;
	}
	t->active = false;
	t->multi = NULL;
	if (t->headers)
	{
		curl_slist_free_all(t->headers);
		t->headers = NULL;
	}
	if (t->revalidate)
	{
		curl_slist_free_all(t->revalidate);
		t->revalidate = NULL;
	}
}

/* ---------------------------------------------------------------------
 * A finished transfer
 * ---------------------------------------------------------------------
 */

/*
 * esi_http_result
 *		How a finished transfer ended.
 */
EsiTransferResult
esi_http_result(EsiTransfer *t)
{
	return t->result;
}

/*
 * esi_http_status
 *		The HTTP status of a finished transfer (0 without a reply).
 */
long
esi_http_status(EsiTransfer *t)
{
	return t->status;
}

/*
 * esi_http_display
 *		path?query of the request: the base URL stays out of messages.
 */
const char *
esi_http_display(EsiTransfer *t)
{
	return t->display;
}

/*
 * esi_http_failure
 *		Why a transfer got no reply, for a message's DETAIL.
 */
const char *
esi_http_failure(EsiTransfer *t)
{
	if (t->oom)
		return "out of memory while receiving the reply";
	if (t->unsolicited)
		return "the server sent data before the request";
	return t->curl_error[0] ? t->curl_error : "no reply";
}

/*
 * esi_http_failure_final
 *		Whether trying again cannot help: the certificate or the CA file
 *		will be the same next time.  A name that did not resolve may
 *		resolve on the next try, so it is retried like a refused connection.
 */
bool
esi_http_failure_final(EsiTransfer *t)
{
	return t->failure == ESI_FAILURE_TLS_CERT || t->failure == ESI_FAILURE_TLS_SETUP;
}

/*
 * esi_http_failure_hint
 *		What the user can do about a transfer that got no reply.
 */
const char *
esi_http_failure_hint(EsiTransfer *t)
{
	switch (t->failure)
	{
		case ESI_FAILURE_DNS:
			return "Check the host name in the server's base_url (or sso_url) option and the machine's DNS; esi_fdw.max_retries controls retrying.";
		case ESI_FAILURE_PROXY:
			return "Check esi_fdw.proxy (SHOW esi_fdw.proxy) and that the proxy allows CONNECT to port 443; esi_fdw.no_proxy lists hosts reached directly.";
		case ESI_FAILURE_TLS_HANDSHAKE:
			return "esi_fdw speaks TLS 1.2 or 1.3 and checks certificates; check that base_url is the server's https:// address.";
		case ESI_FAILURE_TLS_CERT:
			return "Check that base_url names the host its certificate is for; a private CA goes in esi_fdw.ca_file (ALTER SYSTEM SET esi_fdw.ca_file = '/path/ca.pem'), an empty one uses the system's CA bundle.";
		case ESI_FAILURE_TLS_SETUP:
			return "Point esi_fdw.ca_file at a readable PEM file of CA certificates, or set it to '' for the system's CA bundle.";
		case ESI_FAILURE_HTTP2:
			return "A server's HTTP/2 trouble can be avoided with HTTP/1.1: SET esi_fdw.http_version = '1.1', or the server option http_version '1.1'.";
		default:
			if (esi_guc_proxy && esi_guc_proxy[0])
				return "Requests go through the proxy esi_fdw.proxy: check that it is up, then the server's base_url option; esi_fdw.max_retries and esi_fdw.request_timeout control retrying.";
			return "Check the server's base_url option and the network; esi_fdw.max_retries and esi_fdw.request_timeout control retrying.";
	}
}

/*
 * goaway_excluded
 *		Whether a finished transfer without a reply had its stream above the
 *		last stream id of a GOAWAY: the server did not process it (RFC 9113,
 *		6.8).
 */
static bool
goaway_excluded(EsiTransfer *t)
{
	return t->watch_goaway && t->status == 0 && !t->headers_done &&
		t->h2_stream > 0 && t->goaway_last >= 0 && t->goaway_last < t->h2_stream;
}

/*
 * not_processed
 *		Whether HTTP/2 said that the server did not process the request of
 *		a finished transfer without a reply: a GOAWAY excluded its stream,
 *		or the server refused it (REFUSED_STREAM) as often as libcurl sends
 *		a refused stream again (5 times).
 */
static bool
not_processed(EsiTransfer *t)
{
	return goaway_excluded(t) ||
		(t->watch_goaway && t->status == 0 && !t->headers_done && t->refused);
}

/*
 * esi_http_request_sent
 *		Whether any byte of a finished transfer's request went out: a
 *		write whose reply is missing may then have happened.  Not when
 *		HTTP/2 said the server did not process it.
 */
bool
esi_http_request_sent(EsiTransfer *t)
{
	long		size = 0;

	if (t->unsolicited || not_processed(t))
		return false;
	/* not knowing is taken as sent: a write is then never sent twice */
	if (curl_easy_getinfo(t->easy, CURLINFO_REQUEST_SIZE, &size) != CURLE_OK)
		return true;
	return size > 0;
}

/*
 * esi_http_header
 *		A kept header's value (repeats joined by ", "), or NULL when absent.
 */
const char *
esi_http_header(EsiTransfer *t, EsiHeader h)
{
	return t->have[h] ? t->hdr[h] : NULL;
}

/*
 * esi_http_body
 *		The body received (NUL-terminated), still owned by the slot: for
 *		error messages.
 */
const char *
esi_http_body(EsiTransfer *t, size_t *len)
{
	*len = t->len;
	return t->buf ? t->buf : "";
}

/*
 * esi_http_gzip_body
 *		The body as it arrived when it came gzip'ed (and was inflated
 *		whole), else NULL: the response cache keeps it as it came.
 */
const char *
esi_http_gzip_body(EsiTransfer *t, size_t *len)
{
	if (t->coding != ESI_CODING_GZIP || t->zlen == 0 || t->coding_error)
		return NULL;
	*len = t->zlen;
	return t->zbuf;
}

/*
 * esi_http_take_body
 *		Hand the body (NUL-terminated, allocated in the slot's context) to
 *		the caller; the slot gets a fresh buffer for its next request.
 */
char *
esi_http_take_body(EsiTransfer *t, size_t *len)
{
	char	   *b = t->buf;

	*len = t->len;
	if (b == NULL)
		b = MemoryContextAllocZero(t->cxt, 1);
	t->buf = NULL;
	t->cap = 0;
	t->len = 0;
	return b;
}

/* ---------------------------------------------------------------------
 * Header values
 * ---------------------------------------------------------------------
 */

/*
 * esi_http_parse_count
 *		A header's non-negative decimal integer: digits only (no sign, no
 *		space, nothing after), at most PG_INT64_MAX.  atoi would read
 *		"3abc" as 3 and "-1" as -1.
 */
bool
esi_http_parse_count(const char *value, int64 *result)
{
	int64		v = 0;

	if (value == NULL || *value == '\0')
		return false;
	for (const char *p = value; *p; p++)
	{
		if (*p < '0' || *p > '9')
			return false;
		if (v > (PG_INT64_MAX - (*p - '0')) / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*result = v;
	return true;
}

/*
 * esi_http_parse_retry_after
 *		Retry-After as seconds from now: delay-seconds, or an HTTP-date
 *		(RFC 9110 section 10.2.3), which always starts with a day name.  A
 *		date in the past means no wait.
 */
bool
esi_http_parse_retry_after(const char *value, int64 *seconds)
{
	time_t		when;
	time_t		now;

	if (value == NULL || *value == '\0')
		return false;
	if (*value >= '0' && *value <= '9')
		return esi_http_parse_count(value, seconds);
	if (!((*value >= 'A' && *value <= 'Z') || (*value >= 'a' && *value <= 'z')))
		return false;
	when = curl_getdate(value, NULL);
	if (when < 0)
		return false;
	now = time(NULL);
	*seconds = when > now ? (int64) (when - now) : 0;
	return true;
}

/*
 * esi_http_parse_date
 *		An HTTP-date (Expires, Date, Last-Modified) as a Unix time.
 */
bool
esi_http_parse_date(const char *value, pg_time_t *when)
{
	time_t		t;

	if (value == NULL || !((*value >= 'A' && *value <= 'Z') || (*value >= 'a' && *value <= 'z')))
		return false;
	t = curl_getdate(value, NULL);
	if (t < 0)
		return false;
	*when = (pg_time_t) t;
	return true;
}

/* ---------------------------------------------------------------------
 * One request run to completion (EVE SSO's endpoints)
 * ---------------------------------------------------------------------
 */

typedef struct EsiOneRequest
{
	EsiMulti   *multi;
	EsiTransfer *t;
	MemoryContextCallback cb;
} EsiOneRequest;

static void
one_request_cleanup(void *arg)
{
	EsiOneRequest *r = (EsiOneRequest *) arg;

	if (r->t)
		esi_http_free_transfer(r->t);
	r->t = NULL;
	esi_http_multi_free(r->multi);
	r->multi = NULL;
}

/*
 * esi_http_fetch
 *		GET url (form NULL) or POST the form (application/x-www-form-
 *		urlencoded) to it, with an Authorization header when given, and
 *		wait for the reply (Ctrl-C and statement_timeout end the wait).
 *		The request is the foreign server's (its user_agent, and the rest
 *		of its settings); url may be on another host (EVE SSO's).  Only
 *		for EVE SSO (sso.c): ESI's requests go through crawl.c.  The
 *		form and the header may hold secrets: they appear in no message.
 *		out->body is allocated in the caller's context.
 */
void
esi_http_fetch(EsiServerOptions *server, const char *url, const char *form,
			   const char *authorization, EsiHttpReply *out)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "esi_fdw request",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext caller = MemoryContextSwitchTo(cxt);
	EsiOneRequest *r = palloc0(sizeof(EsiOneRequest));
	EsiServerOptions opts;
	EsiTransfer *done = NULL;
	const char *slash;
	char	   *base;
	char	   *path;
	size_t		len;

	memset(out, 0, sizeof(EsiHttpReply));
	r->cb.func = one_request_cleanup;
	r->cb.arg = r;
	MemoryContextRegisterResetCallback(cxt, &r->cb);

	/* split url into the base and the path?query that messages show */
	slash = strstr(url, "://");
	slash = slash ? strchr(slash + 3, '/') : NULL;
	base = slash ? pnstrdup(url, slash - url) : pstrdup(url);
	path = slash ? pstrdup(slash) : pstrdup("/");

	opts = *server;
	opts.base_url = base;
	opts.compression = false;
	opts.max_connections = 1;
	opts.http_version = (EsiHttpVersion) esi_guc_http_version;
	r->multi = esi_http_multi_new(cxt);
	r->t = esi_http_new_transfer(cxt, &opts);
	esi_http_prepare(r->t, &opts, path, false, NULL, authorization);
	if (form)
		EASY_SETOPT(r->t->easy, CURLOPT_COPYPOSTFIELDS, form);

	esi_http_start(r->multi, r->t);
	while ((done = esi_http_next_done(r->multi)) == NULL)
	{
		CHECK_FOR_INTERRUPTS();
		esi_http_wait(r->multi, 1000);
	}

	MemoryContextSwitchTo(caller);
	out->result = esi_http_result(done);
	out->status = esi_http_status(done);
	out->failure = pstrdup(esi_http_failure(done));
	out->display = pstrdup(esi_http_display(done));
	{
		const char *b = esi_http_body(done, &len);

		out->body = palloc(len + 1);
		memcpy(out->body, b, len);
		out->body[len] = '\0';
		out->len = len;
	}
	MemoryContextDelete(cxt);
}
