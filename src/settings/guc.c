/*-------------------------------------------------------------------------
 *
 * guc.c
 *		  esi_fdw's settings (GUCs): every esi_fdw.* setting is defined here,
 *		  those of the background refresh included.
 *
 * Settings that decide where requests go or how TLS is checked are
 * superuser-only; the rest any user may set for a session.  Text that is
 * sent to ESI is checked like the server options that override it
 * (option.c), so a setting cannot smuggle a line break into a header.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"
#include "utils/memutils.h"

#include "esi_catalog.h"
#include "guc.h"
#include "valid.h"

char	   *esi_guc_base_url = NULL;
char	   *esi_guc_user_agent = NULL;
char	   *esi_guc_compat_date = NULL;
int			esi_guc_max_connections = 8;
int			esi_guc_connect_timeout_ms = 10000;
int			esi_guc_request_timeout_ms = 60000;
int			esi_guc_max_retries = 3;
int			esi_guc_retry_delay_ms = 1000;
int			esi_guc_max_retry_after = 60;
int			esi_guc_max_pages = 10000;
static double esi_guc_broker_fee = 0.03;
static double esi_guc_sales_tax = 0.075;
int			esi_guc_max_reply_size_kb = 65536;
char	   *esi_guc_ca_file = NULL;
bool		esi_guc_verify_tls = true;
int			esi_guc_http_version = ESI_HTTP_AUTO;
char	   *esi_guc_proxy = NULL;
char	   *esi_guc_no_proxy = NULL;
char	   *esi_guc_allowed_base_urls = NULL;
int			esi_guc_max_requests = 10000;
int			esi_guc_cache_mode = ESI_CACHE_ON;
int			esi_guc_cache_size_mb = 1024;
int			esi_guc_cache_max_entries = 65536;
int			esi_guc_negative_cache_ttl = 60;
int			esi_guc_error_limit_threshold = 10;
int			esi_guc_lookup_error_budget = 20;
int			esi_guc_rate_limit_reserve = 5;
char	   *esi_guc_key_file = NULL;
int			esi_guc_sso_clock_skew = 60;
bool		esi_guc_writes_in_transaction_block = false;
int			esi_guc_refresh_workers = 2;
bool		esi_guc_auto_refresh = true;
int			esi_guc_refresh_statement_timeout_ms = 3600000;
/* read only by the SQL of the refresh (current_setting), never by C code */
static int	esi_guc_refresh_jitter = 30;
static int	esi_guc_refresh_retry_delay = 60;
static int	esi_guc_refresh_max_retry_delay = 3600;
static int	esi_guc_refresh_min_interval = 30;
static int	esi_guc_refresh_alert_failures = 3;

/*
 * check_wire_text
 *		Check hook of settings sent in a header: no control characters.
 */
static bool
check_wire_text(char **newval, void **extra, GucSource source)
{
	const char *problem = esi_check_wire_text(*newval);

	if (problem == NULL)
		return true;
	GUC_check_errdetail("%s", problem);
	GUC_check_errhint("Remove the line breaks and other control characters from the value.");
	return false;
}

/*
 * check_compat_date
 *		Check hook of esi_fdw.compatibility_date: a real date, YYYY-MM-DD,
 *		as for the server option.
 */
static bool
check_compat_date(char **newval, void **extra, GucSource source)
{
	const char *problem = esi_check_date(*newval);

	if (problem == NULL)
		return true;
	GUC_check_errdetail("%s", problem);
	GUC_check_errhint("Use a date such as '2026-08-04'.");
	return false;
}

/*
 * check_base_url
 *		Check hook of esi_fdw.base_url: the checks of the server option.
 */
static bool
check_base_url(char **newval, void **extra, GucSource source)
{
	const char *problem = esi_check_base_url(*newval);

	if (problem == NULL)
		return true;
	GUC_check_errdetail("%s", problem);
	GUC_check_errhint("Use a URL such as 'https://esi.evetech.net'.");
	return false;
}

/*
 * check_allowed_base_urls
 *		Check hook of esi_fdw.allowed_base_urls: a comma list of base URLs,
 *		or '*'.
 */
static bool
check_allowed_base_urls(char **newval, void **extra, GucSource source)
{
	char	   *copy = pstrdup(*newval);
	char	   *save;

	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
	{
		const char *problem;
		char	   *end;

		while (*tok == ' ')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && end[-1] == ' ')
			*--end = '\0';
		if (*tok == '\0' || strcmp(tok, "*") == 0)
			continue;
		if ((problem = esi_check_base_url(tok)) != NULL)
		{
			GUC_check_errdetail("Entry \"%s\": %s", tok, problem);
			GUC_check_errhint("List base URLs separated by commas, such as 'https://esi.evetech.net, http://127.0.0.1:8080', or '*' for any.");
			pfree(copy);
			return false;
		}
	}
	pfree(copy);
	return true;
}


static const struct config_enum_entry cache_mode_options[] = {
	{"on", ESI_CACHE_ON, false},
	{"refresh", ESI_CACHE_REFRESH, false},
	{"off", ESI_CACHE_OFF, false},
	{NULL, 0, false}
};

static const struct config_enum_entry http_version_options[] = {
	{"auto", ESI_HTTP_AUTO, false},
	{"1.1", ESI_HTTP_1_1, false},
	{"2", ESI_HTTP_2, false},
	{NULL, 0, false}
};

/*
 * check_proxy
 *		Check hook of esi_fdw.proxy: empty (no proxy, whatever the server's
 *		environment says), or a proxy URL libcurl understands.
 */
static bool
check_proxy(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *problem = esi_check_wire_text(v);
	static const char *const schemes[] = {"http://", "https://", "socks5://", "socks5h://"};
	bool		known = false;

	if (problem != NULL)
	{
		GUC_check_errdetail("%s", problem);
		GUC_check_errhint("Remove the line breaks and other control characters from the value.");
		return false;
	}
	if (v == NULL || v[0] == '\0')
		return true;
	for (int i = 0; i < lengthof(schemes); i++)
		if (pg_strncasecmp(v, schemes[i], strlen(schemes[i])) == 0 && v[strlen(schemes[i])] != '\0')
			known = true;
	if (!known)
	{
		GUC_check_errdetail("\"%s\" is not a proxy URL with the scheme http, https, socks5 or socks5h.", v);
		GUC_check_errhint("Use a URL such as 'http://proxy.example.com:3128', or '' for no proxy.");
		return false;
	}
	return true;
}

/*
 * esi_guc_define
 *		Define the settings (called from _PG_init).
 */
void
esi_guc_define(void)
{
	DefineCustomStringVariable("esi_fdw.base_url",
							   "Base URL of ESI, used when a server sets no base_url.",
							   "Point it at an ESI simulator or proxy for tests.",
							   &esi_guc_base_url, ESI_DEFAULT_BASE_URL,
							   PGC_SUSET, 0, check_base_url, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.user_agent",
							   "User-Agent sent to ESI when a server sets no user_agent.",
							   "ESI asks for contact details: an email, app name and version.",
							   &esi_guc_user_agent, "esi_fdw/" ESI_FDW_VERSION " (PostgreSQL foreign data wrapper)",
							   PGC_USERSET, 0, check_wire_text, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.compatibility_date",
							   "X-Compatibility-Date sent to ESI when a server sets no compatibility_date.",
							   "Defaults to the date of the OpenAPI description the catalog was generated from.",
							   &esi_guc_compat_date, esi_catalog_version,
							   PGC_USERSET, 0, check_compat_date, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_connections",
							"Concurrent HTTP connections one scan uses to fetch pages.",
							NULL, &esi_guc_max_connections, 8, 1, ESI_MAX_CONNECTIONS,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.connect_timeout",
							"Time allowed to connect to ESI.",
							NULL, &esi_guc_connect_timeout_ms, 10000, 100, 600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.request_timeout",
							"Time allowed for one HTTP request to ESI, transfer included.",
							NULL, &esi_guc_request_timeout_ms, 60000, 100, 3600000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_retries",
							"Retries of a request that failed with a 5xx status or a broken connection, and waits after HTTP 429.",
							NULL, &esi_guc_max_retries, 3, 0, 10,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.retry_delay",
							"Delay before the first retry; it doubles with each further retry.",
							NULL, &esi_guc_retry_delay_ms, 1000, 0, 60000,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_retry_after",
							"Longest Retry-After a scan waits out by itself after HTTP 429.",
							"A longer wait ends the scan with an error.",
							&esi_guc_max_retry_after, 60, 0, 3600,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_pages",
							"Most pages one request of a scan may have (X-Pages, or the steps of a cursor or from_id walk).",
							"A reply announcing more pages, or a longer walk, ends the scan with an error.",
							&esi_guc_max_pages, 10000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_reply_size",
							"Largest reply body (after decompression) esi_fdw accepts from ESI.",
							"A larger reply ends the scan with an error; a scan holds up to twice max_connections replies.",
							&esi_guc_max_reply_size_kb, 65536, 1, (int) (MaxAllocSize / 1024) - 1,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.ca_file",
							   "File of CA certificates to verify ESI's TLS certificate; empty for the system's.",
							   NULL, &esi_guc_ca_file, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("esi_fdw.verify_tls",
							 "Verify ESI's TLS certificate and host name.",
							 NULL, &esi_guc_verify_tls, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("esi_fdw.http_version",
							 "HTTP version asked of ESI and EVE SSO: auto (HTTP/2 where TLS negotiates it, else HTTP/1.1), 1.1 or 2.",
							 "A server's http_version option overrides it.",
							 &esi_guc_http_version, ESI_HTTP_AUTO, http_version_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.proxy",
							   "Proxy for every request to ESI and EVE SSO (HTTPS goes through it with CONNECT); empty for none.",
							   "The server's environment (https_proxy, http_proxy, all_proxy, no_proxy) is never used.",
							   &esi_guc_proxy, "",
							   PGC_SUSET, 0, check_proxy, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.no_proxy",
							   "Hosts reached without the proxy: a comma list of host names, domains and IP addresses, or '*'.",
							   NULL, &esi_guc_no_proxy, "",
							   PGC_SUSET, 0, check_wire_text, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.allowed_base_urls",
							   "Base URLs that servers of roles other than superusers may use.",
							   "A comma list of base URLs (a server's base_url may also be below one of them), or '*' for any.",
							   &esi_guc_allowed_base_urls, ESI_DEFAULT_BASE_URL,
							   PGC_SUSET, 0, check_allowed_base_urls, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.max_requests",
							"Requests one scan may make to ESI.",
							"A scan whose IN lists combine into more requests fails before sending any.",
							&esi_guc_max_requests, 10000, 1, ESI_MAX_REQUESTS_LIMIT,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("esi_fdw.cache",
							 "How scans use the cluster-wide response cache: on, refresh (revalidate every reply) or off.",
							 "A server's or a foreign table's cache option can make it stricter (off > refresh > on).",
							 &esi_guc_cache_mode, ESI_CACHE_ON, cache_mode_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.cache_size",
							"Most bytes of reply bodies the response cache keeps on disk; the least recently used go first.",
							NULL, &esi_guc_cache_size_mb, 1024, 1, INT_MAX / 2,
							PGC_SIGHUP, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.cache_max_entries",
							"Most replies (pages) the response cache indexes in shared memory.",
							NULL, &esi_guc_cache_max_entries, 65536, 64, 16 * 1024 * 1024,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.negative_cache_ttl",
							"How long a 404 or 403 reply is remembered and raised again without asking ESI; 0 disables it.",
							NULL, &esi_guc_negative_cache_ttl, 60, 0, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.error_limit_threshold",
							"Remaining errors of ESI's error-limit window below which requests wait for the window to reset.",
							NULL, &esi_guc_error_limit_threshold, 10, 0, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.lookup_error_budget",
							"Most failing requests (404s) one statement's name and id lookups may send while finding ESI's unknown ids.",
							"A statement also spends at most a quarter of the errors ESI's window has left above esi_fdw.error_limit_threshold.",
							&esi_guc_lookup_error_budget, 20, 0, 100,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.rate_limit_reserve",
							"Share of a rate-limit bucket (percent) kept unused: below it, requests are paced to the bucket's refill rate.",
							NULL, &esi_guc_rate_limit_reserve, 5, 0, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("esi_fdw.key_file",
							   "File of the keys that encrypt SSO tokens at rest; empty for esi_fdw.key beside the data directory.",
							   "A relative path is relative to the data directory.  Keep the file out of the data directory so that base backups do not hold it.",
							   &esi_guc_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.sso_clock_skew",
							"How far this server's clock and EVE SSO's may disagree when a token's expiry is checked.",
							NULL, &esi_guc_sso_clock_skew, 60, 0, 600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomBoolVariable("esi_fdw.writes_in_transaction_block",
							 "Lets ESI's write functions run inside an explicit transaction block.",
							 "A write reaches ESI at once: rolling the transaction back does not undo it.",
							 &esi_guc_writes_in_transaction_block, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	/* read only by the views of esi.bi_setup(), never by C code */
	DefineCustomRealVariable("esi_fdw.broker_fee",
							 "Broker fee (a fraction of the price) that the arbitrage view charges for placing a sell order.",
							 "Skills and standings lower it: set your own, e.g. per role with ALTER ROLE ... SET.",
							 &esi_guc_broker_fee, 0.03, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("esi_fdw.sales_tax",
							 "Sales tax (a fraction of the price) that the arbitrage view charges on every sale.",
							 "Skills lower it: set your own, e.g. per role with ALTER ROLE ... SET.",
							 &esi_guc_sales_tax, 0.075, 0.0, 1.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	/* background refresh (refresh_worker.c; the SQL of the refresh) */
	DefineCustomIntVariable("esi_fdw.refresh_workers",
							"Background workers that refresh snapshots when their ESI data expires; 0 turns background refresh off.",
							"Each takes a slot of max_worker_processes while it works.",
							&esi_guc_refresh_workers, 2, 0, ESI_REFRESH_MAX_WORKERS,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomBoolVariable("esi_fdw.auto_refresh",
							 "Whether background workers refresh the targets of a database (set it per database).",
							 NULL, &esi_guc_auto_refresh, true,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_statement_timeout",
							"Longest time a background worker's statement may run (a target's refresh is one); 0 for no limit.",
							"A refresh that takes longer fails as a canceled statement (SQLSTATE 57014) and keeps the previous snapshot.",
							&esi_guc_refresh_statement_timeout_ms, 3600000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_jitter",
							"Most random delay added to a target's next refresh, so that installations do not ask ESI in step.",
							"The delay is 1 s to this many seconds; 0 adds none.",
							&esi_guc_refresh_jitter, 30, 0, 3600,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_retry_delay",
							"Wait before refreshing a target again after a failed refresh; it doubles with each further failure.",
							NULL, &esi_guc_refresh_retry_delay, 60, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_max_retry_delay",
							"Longest wait after failed refreshes of a target.",
							NULL, &esi_guc_refresh_max_retry_delay, 3600, 1, 7 * 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_min_interval",
							"Shortest time from the start of a target's refresh to the start of its next one.",
							"A reply that arrives already expired (ESI has served such) would make the target due again at once.",
							&esi_guc_refresh_min_interval, 30, 1, 86400,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineCustomIntVariable("esi_fdw.refresh_alert_failures",
							"Failed refreshes of a target in a row after which it is announced as failing, once until it succeeds.",
							"The announcement is a NOTIFY on channel esi_refresh_failing and a WARNING in the server log.",
							&esi_guc_refresh_alert_failures, 3, 1, 1000000,
							PGC_SUSET, 0, NULL, NULL, NULL);

	/*
	 * Every setting is defined: a name under esi_fdw. defined by none is
	 * then a typo (a WARNING at start, an ERROR for SET), while the
	 * postgresql.conf values of those defined are kept.
	 */
	MarkGUCPrefixReserved("esi_fdw");
}
