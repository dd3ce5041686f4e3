/*-------------------------------------------------------------------------
 *
 * http.h
 *		  libcurl inside a backend: transfers, headers and the response body.
 *
 * An EsiMulti runs the transfers of one scan and waits on their sockets
 * together with the backend's latch; an EsiTransfer is one reusable
 * connection slot.  Both are opaque: callers read a finished transfer
 * through the functions below.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_HTTP_H
#define ESI_HTTP_H

#include "pgtime.h"

#include "option.h"

typedef struct EsiMulti EsiMulti;
typedef struct EsiTransfer EsiTransfer;

/* The response headers esi_fdw acts on */
typedef enum EsiHeader
{
	ESI_HDR_X_PAGES,
	ESI_HDR_LAST_MODIFIED,
	ESI_HDR_RETRY_AFTER,
	ESI_HDR_ERROR_LIMIT_RESET,
	ESI_HDR_ERROR_LIMIT_REMAIN,
	ESI_HDR_ETAG,
	ESI_HDR_EXPIRES,
	ESI_HDR_CACHE_CONTROL,
	ESI_HDR_DATE,
	ESI_HDR_AGE,
	ESI_HDR_RATELIMIT_GROUP,
	ESI_HDR_RATELIMIT_LIMIT,
	ESI_HDR_RATELIMIT_REMAINING,
	ESI_HDR_RATELIMIT_USED,
	ESI_NUM_HDRS
} EsiHeader;

/* How a transfer ended */
typedef enum EsiTransferResult
{
	ESI_XFER_REPLY,				/* a complete HTTP reply (any status) */
	ESI_XFER_FAILED,			/* no (complete) reply: worth a retry */
	ESI_XFER_UNSOLICITED,		/* the connection had bytes before the
								 * request was sent: not sent, closed */
	ESI_XFER_TOO_LARGE,			/* the body passed esi_fdw.max_reply_size */
	ESI_XFER_NO_MEMORY			/* no memory for the body */
} EsiTransferResult;

/* the transfers of one scan; released by esi_http_multi_free */
extern EsiMulti *esi_http_multi_new(MemoryContext cxt);
extern void esi_http_multi_free(EsiMulti *m);
extern double esi_http_wait(EsiMulti *m, long timeout_ms);
extern EsiTransfer *esi_http_next_done(EsiMulti *m);

/* one connection slot, reused request after request */
extern EsiTransfer *esi_http_new_transfer(MemoryContext cxt,
										  EsiServerOptions *opts);
extern void esi_http_prepare(EsiTransfer *t, EsiServerOptions *opts,
							 const char *display, bool fresh_connection,
							 const char *if_none_match,
							 const char *authorization);
extern void esi_http_set_body(EsiTransfer *t, const char *method,
							  const char *body);
extern void esi_http_start(EsiMulti *m, EsiTransfer *t);
extern void esi_http_free_transfer(EsiTransfer *t);

/* a finished transfer */
extern EsiTransferResult esi_http_result(EsiTransfer *t);
extern long esi_http_status(EsiTransfer *t);
extern const char *esi_http_display(EsiTransfer *t);
extern const char *esi_http_failure(EsiTransfer *t);
extern bool esi_http_request_sent(EsiTransfer *t);
extern bool esi_http_failure_final(EsiTransfer *t);
extern const char *esi_http_failure_hint(EsiTransfer *t);
extern const char *esi_http_header(EsiTransfer *t, EsiHeader h);
extern const char *esi_http_body(EsiTransfer *t, size_t *len);
extern char *esi_http_take_body(EsiTransfer *t, size_t *len);
extern const char *esi_http_gzip_body(EsiTransfer *t, size_t *len);

/* one request run to completion (EVE SSO) */
typedef struct EsiHttpReply
{
	EsiTransferResult result;
	long		status;
	char	   *body;			/* NUL-terminated */
	size_t		len;
	char	   *failure;		/* why there was no reply */
	char	   *display;		/* path?query, for messages */
} EsiHttpReply;

extern void esi_http_fetch(EsiServerOptions *server, const char *url,
						   const char *form, const char *authorization,
						   EsiHttpReply *out);

/* strict parsers for numeric header values */
extern bool esi_http_parse_count(const char *value, int64 *result);
extern bool esi_http_parse_retry_after(const char *value, int64 *seconds);
extern bool esi_http_parse_date(const char *value, pg_time_t *when);

#endif							/* ESI_HTTP_H */
