/*-------------------------------------------------------------------------
 *
 * guc.h
 *		  esi_fdw's settings (GUCs), defined in guc.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_GUC_H
#define ESI_GUC_H

/* the most connections one scan may use: the setting's and the option's range */
#define ESI_MAX_CONNECTIONS 64

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

/* the largest esi_fdw.max_requests */
#define ESI_MAX_REQUESTS_LIMIT 1000000

extern void esi_guc_define(void);

#endif							/* ESI_GUC_H */
