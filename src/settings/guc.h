/*-------------------------------------------------------------------------
 *
 * guc.h
 *		  esi_fdw's settings (GUCs): every esi_fdw.* setting is defined in
 *		  guc.c and read through the variables below.
 *
 * Settings depend on nothing else of esi_fdw but the value rules of
 * valid.h; the options (option.c) depend on them, for their defaults.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_GUC_H
#define ESI_GUC_H

/* the extension's version (esi_fdw.control's default_version), in the User-Agent */
#define ESI_FDW_VERSION "0.8.0"
/* ESI itself: the default base URL */
#define ESI_DEFAULT_BASE_URL "https://esi.evetech.net"

/* the most connections one scan may use: the setting's and the option's range */
#define ESI_MAX_CONNECTIONS 64

/* the most background refresh workers (esi_fdw.refresh_workers) */
#define ESI_REFRESH_MAX_WORKERS 64

/* How a scan uses the response cache; a stricter mode wins (off > refresh > on) */
typedef enum EsiCacheMode
{
	ESI_CACHE_ON,				/* serve fresh replies, revalidate stale ones */
	ESI_CACHE_REFRESH,			/* revalidate every reply (If-None-Match) */
	ESI_CACHE_OFF				/* neither read nor write the cache */
} EsiCacheMode;

/* The HTTP version esi_fdw asks for (esi_fdw.http_version, option http_version) */
typedef enum EsiHttpVersion
{
	ESI_HTTP_AUTO,				/* HTTP/2 where TLS negotiates it, else 1.1 */
	ESI_HTTP_1_1,				/* HTTP/1.1 only */
	ESI_HTTP_2					/* HTTP/2; over plain http with prior knowledge */
} EsiHttpVersion;

extern char *esi_guc_base_url;
extern char *esi_guc_user_agent;
extern char *esi_guc_compat_date;
extern int	esi_guc_max_connections;
extern int	esi_guc_connect_timeout_ms;
extern int	esi_guc_request_timeout_ms;
extern int	esi_guc_max_retries;
extern int	esi_guc_retry_delay_ms;
extern int	esi_guc_max_retry_after;
extern int	esi_guc_max_pages;
extern int	esi_guc_max_reply_size_kb;
extern char *esi_guc_ca_file;
extern bool esi_guc_verify_tls;
extern int	esi_guc_http_version;
extern char *esi_guc_proxy;
extern char *esi_guc_no_proxy;
extern char *esi_guc_allowed_base_urls;
extern int	esi_guc_max_requests;
extern int	esi_guc_cache_mode;
extern int	esi_guc_cache_size_mb;
extern int	esi_guc_cache_max_entries;
extern int	esi_guc_negative_cache_ttl;
extern int	esi_guc_error_limit_threshold;
extern int	esi_guc_lookup_error_budget;
extern int	esi_guc_rate_limit_reserve;
extern char *esi_guc_key_file;
extern int	esi_guc_sso_clock_skew;
extern bool esi_guc_writes_in_transaction_block;
/* background refresh (refresh_worker.c) */
extern int	esi_guc_refresh_workers;
extern bool esi_guc_auto_refresh;
extern int	esi_guc_refresh_statement_timeout_ms;

/* the largest esi_fdw.max_requests */
#define ESI_MAX_REQUESTS_LIMIT 1000000

extern void esi_guc_define(void);

#endif							/* ESI_GUC_H */
