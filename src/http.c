/*-------------------------------------------------------------------------
 *
 * http.c
 *		  libcurl inside a backend: transfers, headers and the response body.
 *
 * Every transfer runs on a multi handle that the crawl drives itself, so
 * the backend never blocks inside libcurl for longer than one poll and can
 * honour Ctrl-C and statement_timeout between polls (libcurl callbacks must
 * never ereport: a longjmp through libcurl would corrupt it).  Connections,
 * DNS answers and TLS sessions live in one share handle per backend, so
 * keep-alive connections are reused from scan to scan.
 *
 * Nothing here raises an error while libcurl is on the stack; allocation
 * failures in callbacks are flagged and reported by the caller.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <strings.h>

#include "miscadmin.h"
#include "utils/memutils.h"

#include "guc.h"
#include "http.h"

static CURLSH *esi_share = NULL;

/*
 * esi_http_init
 *		Set up libcurl once per backend.
 */
void
esi_http_init(void)
{
	if (esi_share)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
	esi_share = curl_share_init();
	if (esi_share == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl share handle")));
	curl_share_setopt(esi_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(esi_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(esi_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
}

/*
 * esi_http_multi_new / esi_http_multi_free
 *		A multi handle for one crawl.
 */
void *
esi_http_multi_new(void)
{
	CURLM	   *m;

	esi_http_init();
	m = curl_multi_init();
	if (m == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl multi handle")));
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 64L);
	return m;
}

void
esi_http_multi_free(void *multi)
{
	if (multi)
		curl_multi_cleanup((CURLM *) multi);
}

/*
 * grow
 *		Make room for n more bytes (plus the NUL the decoder wants) without
 *		raising an error: we are inside a libcurl callback.
 */
static bool
grow(EsiTransfer *t, size_t n)
{
	size_t		need = t->len + n + 1;
	size_t		newcap;
	char	   *nb;

	if (need <= t->cap)
		return true;
	newcap = t->cap ? t->cap : 256 * 1024;
	while (newcap < need)
		newcap *= 2;
	if (newcap > MaxAllocSize)
		return false;
	nb = MemoryContextAllocExtended(t->cxt, newcap, MCXT_ALLOC_NO_OOM);
	if (nb == NULL)
		return false;
	if (t->buf)
	{
		memcpy(nb, t->buf, t->len);
		pfree(t->buf);
	}
	t->buf = nb;
	t->cap = newcap;
	return true;
}

/*
 * write_cb
 *		Append body bytes (already decompressed by libcurl).
 */
static size_t
write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	EsiTransfer *t = (EsiTransfer *) userdata;
	size_t		n = size * nmemb;

	if (!grow(t, n))
	{
		t->oom = true;
		return 0;				/* makes libcurl fail the transfer */
	}
	memcpy(t->buf + t->len, ptr, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

/*
 * header_is
 *		Whether a header line starts with "name:" (case-insensitive); sets
 *		*value to its trimmed value.
 */
static bool
header_is(const char *line, size_t len, const char *name, char *value)
{
	size_t		nl = strlen(name);
	size_t		i,
				j;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return false;
	i = nl + 1;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	j = len;
	while (j > i && (line[j - 1] == '\r' || line[j - 1] == '\n' || line[j - 1] == ' '))
		j--;
	if (j - i >= ESI_HDR_LEN)
		j = i + ESI_HDR_LEN - 1;
	memcpy(value, line + i, j - i);
	value[j - i] = '\0';
	return true;
}

/*
 * header_cb
 *		Keep the response headers esi_fdw acts on.
 */
static size_t
header_cb(char *line, size_t size, size_t nitems, void *userdata)
{
	EsiTransfer *t = (EsiTransfer *) userdata;
	size_t		len = size * nitems;
	char		v[ESI_HDR_LEN];

	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		/* a new response (after a 100 Continue, say): forget the old one */
		t->x_pages = 0;
		t->retry_after = -1;
		t->error_limit_remain = -1;
		t->error_limit_reset = -1;
		t->last_modified[0] = t->etag[0] = t->expires[0] = '\0';
	}
	else if (header_is(line, len, "x-pages", v))
		t->x_pages = atoi(v);
	else if (header_is(line, len, "last-modified", v))
		strlcpy(t->last_modified, v, ESI_HDR_LEN);
	else if (header_is(line, len, "etag", v))
		strlcpy(t->etag, v, ESI_HDR_LEN);
	else if (header_is(line, len, "expires", v))
		strlcpy(t->expires, v, ESI_HDR_LEN);
	else if (header_is(line, len, "retry-after", v))
		t->retry_after = atoi(v);
	else if (header_is(line, len, "x-esi-error-limit-remain", v))
		t->error_limit_remain = atoi(v);
	else if (header_is(line, len, "x-esi-error-limit-reset", v))
		t->error_limit_reset = atoi(v);
	return len;
}

/*
 * esi_http_new_transfer
 *		A reusable transfer slot: one easy handle and its header list.
 */
EsiTransfer *
esi_http_new_transfer(MemoryContext cxt, EsiServerOptions *opts)
{
	EsiTransfer *t = MemoryContextAllocZero(cxt, sizeof(EsiTransfer));
	CURL	   *e;
	struct curl_slist *h = NULL;
	char	   *line;

	t->cxt = cxt;
	e = curl_easy_init();
	if (e == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	t->easy = e;

	line = psprintf("X-Compatibility-Date: %s", opts->compat_date);
	h = curl_slist_append(h, "Accept: application/json");
	if (h)
		h = curl_slist_append(h, line);
	if (h && opts->language)
		h = curl_slist_append(h, psprintf("Accept-Language: %s", opts->language));
	if (h && opts->tenant)
		h = curl_slist_append(h, psprintf("X-Tenant: %s", opts->tenant));
	t->headers = h;
	if (h == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not build the HTTP headers")));

	/* in a backend libcurl must not use signals (its DNS timeout does) */
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SHARE, esi_share);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(e, CURLOPT_USERAGENT, opts->user_agent);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(e, CURLOPT_PRIVATE, t);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->curl_error);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) esi_guc_connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) esi_guc_request_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* keep every connection of a scan for the next one (libcurl keeps 5) */
	curl_easy_setopt(e, CURLOPT_MAXCONNECTS, 64L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (opts->compression)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, esi_guc_verify_tls ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, esi_guc_verify_tls ? 2L : 0L);
	if (esi_guc_ca_file && esi_guc_ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, esi_guc_ca_file);
	return t;
}

/*
 * esi_http_prepare
 *		Point a slot at a new request and clear the previous response.
 */
void
esi_http_prepare(EsiTransfer *t, EsiServerOptions *opts, const char *display)
{
	if (t->url)
		pfree(t->url);
	if (t->display)
		pfree(t->display);
	t->url = psprintf("%s%s", opts->base_url, display);
	t->display = MemoryContextStrdup(t->cxt, display);
	t->len = 0;
	t->oom = false;
	t->status = 0;
	t->curl_code = 0;
	t->curl_error[0] = '\0';
	t->x_pages = 0;
	t->retry_after = -1;
	t->error_limit_remain = -1;
	t->error_limit_reset = -1;
	t->last_modified[0] = t->etag[0] = t->expires[0] = '\0';
	if (t->buf)
		t->buf[0] = '\0';
	curl_easy_setopt((CURL *) t->easy, CURLOPT_URL, t->url);
}

/*
 * esi_http_start
 *		Hand a prepared slot to the multi handle.
 */
void
esi_http_start(void *multi, EsiTransfer *t)
{
	CURLMcode	rc = curl_multi_add_handle((CURLM *) multi, (CURL *) t->easy);

	if (rc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start an HTTP request to ESI"),
				 errdetail("%s", curl_multi_strerror(rc))));
	t->active = true;
}

/*
 * esi_http_complete
 *		Take a finished transfer off the multi handle and record its outcome.
 */
void
esi_http_complete(void *multi, EsiTransfer *t, int curl_code)
{
	long		status = 0;

	curl_multi_remove_handle((CURLM *) multi, (CURL *) t->easy);
	t->active = false;
	t->curl_code = curl_code;
	curl_easy_getinfo((CURL *) t->easy, CURLINFO_RESPONSE_CODE, &status);
	t->status = status;
	if (curl_code != CURLE_OK && t->curl_error[0] == '\0')
		strlcpy(t->curl_error, curl_easy_strerror(curl_code), sizeof(t->curl_error));
	if (t->oom)
		strlcpy(t->curl_error, "out of memory while receiving the reply", sizeof(t->curl_error));
}

/*
 * esi_http_free_transfer
 *		Release a slot's libcurl resources.  Safe on error paths.
 */
void
esi_http_free_transfer(void *multi, EsiTransfer *t)
{
	if (t->easy)
	{
		if (t->active && multi)
			curl_multi_remove_handle((CURLM *) multi, (CURL *) t->easy);
		curl_easy_cleanup((CURL *) t->easy);
		t->easy = NULL;
	}
	t->active = false;
	if (t->headers)
	{
		curl_slist_free_all((struct curl_slist *) t->headers);
		t->headers = NULL;
	}
}

/*
 * esi_http_perform
 *		Move every transfer along, then wait up to timeout_ms for activity.
 *		Returns the number of transfers still running.
 */
int
esi_http_perform(void *multi, int timeout_ms)
{
	int			running = 0;
	int			numfds;
	CURLMcode	rc;

	rc = curl_multi_perform((CURLM *) multi, &running);
	if (rc == CURLM_OK && running > 0 && timeout_ms > 0)
	{
		rc = curl_multi_poll((CURLM *) multi, NULL, 0, timeout_ms, &numfds);
		if (rc == CURLM_OK)
			rc = curl_multi_perform((CURLM *) multi, &running);
	}
	if (rc != CURLM_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("HTTP client failure while talking to ESI"),
				 errdetail("%s", curl_multi_strerror(rc))));
	return running;
}

/*
 * esi_http_next_done
 *		The next finished transfer, or NULL.
 */
EsiTransfer *
esi_http_next_done(void *multi, int *curl_code)
{
	CURLMsg    *msg;
	int			left;

	while ((msg = curl_multi_info_read((CURLM *) multi, &left)) != NULL)
	{
		char	   *priv = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
		*curl_code = msg->data.result;
		return (EsiTransfer *) priv;
	}
	return NULL;
}
