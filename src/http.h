/*-------------------------------------------------------------------------
 *
 * http.h
 *		  libcurl inside a backend: transfers, headers and the response body.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_HTTP_H
#define ESI_HTTP_H

#include "postgres.h"

#include "option.h"

#define ESI_HDR_LEN 80

typedef struct EsiTransfer
{
	void	   *easy;			/* CURL * */
	void	   *headers;		/* struct curl_slist * */
	char	   *url;			/* full URL (not for messages: base may hide a port) */
	char	   *display;		/* path?query, for messages and EXPLAIN */
	MemoryContext cxt;			/* owns buf */

	/* response */
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		oom;
	long		status;
	int			curl_code;		/* CURLcode */
	char		curl_error[256];
	int			x_pages;		/* 0 if absent */
	int			retry_after;	/* seconds, -1 if absent */
	int			error_limit_remain; /* -1 if absent */
	int			error_limit_reset;
	char		last_modified[ESI_HDR_LEN];
	char		etag[ESI_HDR_LEN];
	char		expires[ESI_HDR_LEN];

	/* crawl bookkeeping */
	bool		active;			/* added to the multi handle */
	int			reqno;			/* which EsiRequest */
	int			page;			/* page number, or 0 */
	char	   *cursor;			/* before= token, or NULL */
	int			attempt;
} EsiTransfer;

extern void esi_http_init(void);
extern void *esi_http_multi_new(void);
extern void esi_http_multi_free(void *multi);
extern EsiTransfer *esi_http_new_transfer(MemoryContext cxt,
										  EsiServerOptions *opts);
extern void esi_http_prepare(EsiTransfer *t, EsiServerOptions *opts,
							 const char *display);
extern void esi_http_start(void *multi, EsiTransfer *t);
extern void esi_http_complete(void *multi, EsiTransfer *t, int curl_code);
extern void esi_http_free_transfer(void *multi, EsiTransfer *t);
extern int	esi_http_perform(void *multi, int timeout_ms);
extern EsiTransfer *esi_http_next_done(void *multi, int *curl_code);

#endif							/* ESI_HTTP_H */
