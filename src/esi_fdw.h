/*-------------------------------------------------------------------------
 *
 * esi_fdw.h
 *		  Declarations shared by the files of esi_fdw.
 *
 * Who owns what:
 *	esi_fdw.c	module load, GUCs, the FDW callbacks (plan, scan, explain)
 *	option.c	validation and reading of wrapper/server/table/column options
 *	route.c		a foreign table's options turned into an EsiRoute
 *	request.c	quals turned into ESI parameters; the requests of a scan
 *	http.c		libcurl: one multi handle per backend, transfers, headers
 *	crawl.c		a scan's transfers: paging, concurrency, retries, limits
 *	decode.c	JSON pages straight into tuple datums
 *	esi_error.c ESI's HTTP errors turned into ereport()s
 *	catalog.c	IMPORT FOREIGN SCHEMA and esi.catalog() over the generated
 *				catalog (esi_catalog_data.c)
 *
 *-------------------------------------------------------------------------
 */
#ifndef ESI_FDW_H
#define ESI_FDW_H

#include "postgres.h"

#include "decode.h"
#include "foreign/foreign.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "utils/timestamp.h"

#define ESI_FDW_VERSION "0.1.0"
#define ESI_DEFAULT_BASE_URL "https://esi.evetech.net"

/* ---- GUCs (esi_fdw.c) ---- */
extern char *esi_guc_base_url;
extern char *esi_guc_user_agent;
extern char *esi_guc_compat_date;
extern int	esi_guc_max_connections;
extern int	esi_guc_connect_timeout_ms;
extern int	esi_guc_request_timeout_ms;
extern int	esi_guc_max_retries;
extern int	esi_guc_retry_delay_ms;
extern int	esi_guc_max_retry_after;
extern char *esi_guc_ca_file;
extern bool esi_guc_verify_tls;

/* ---- option.c ---- */

/* Settings of one foreign server (GUC defaults applied) */
typedef struct EsiServerOptions
{
	char	   *base_url;		/* no trailing slash */
	char	   *compat_date;	/* X-Compatibility-Date */
	char	   *user_agent;
	char	   *language;		/* Accept-Language, or NULL */
	char	   *tenant;			/* X-Tenant, or NULL */
	bool		compression;	/* ask for gzip */
	int			max_connections;
} EsiServerOptions;

extern EsiServerOptions *esi_get_server_options(ForeignServer *server);
extern bool esi_option_bool(DefElem *def);

/* ---- route.c ---- */

typedef enum EsiPaging
{
	ESI_PAGING_NONE,
	ESI_PAGING_PAGES,			/* page=N with X-Pages */
	ESI_PAGING_CURSOR,			/* before/after tokens in the body */
	ESI_PAGING_FROM_ID			/* from_id=<last id> */
} EsiPaging;

/*
 * A request parameter as the columns of a table define it.  Several columns
 * may feed one parameter (order_type and is_buy_order); each is an EsiParamCol.
 */
typedef struct EsiParamCol
{
	AttrNumber	attnum;
	char	   *colname;
	char	   *param;			/* parameter name sent to ESI */
	char		in;				/* 'p' path or 'q' query */
	bool		required;
	char	   *default_value;	/* or NULL */
	char	   *true_value;		/* boolean mapping, or NULL */
	char	   *false_value;
	bool		is_field;		/* the row's value comes from the JSON */
	Oid			typoid;
} EsiParamCol;

typedef struct EsiRoute
{
	Oid			relid;
	char	   *relname;
	char	   *route;			/* template: /markets/{region_id}/orders */
	EsiShape	shape;
	EsiPaging	paging;
	char	   *records_key;
	char	   *scope;			/* SSO scope or NULL */
	char	   *fixed_query;	/* extra "a=b&c=d", or NULL */
	char	   *id_field;		/* from_id walks: the record id's JSON key */
	int			natts;
	char	  **fields;			/* per attno-1: JSON key, or NULL */
	Oid		   *atttypes;		/* per attno-1 */
	int32	   *atttypmods;
	int			nparams;
	EsiParamCol *params;
} EsiRoute;

extern EsiRoute *esi_get_route(Oid relid);
extern EsiParamCol *esi_route_param_for_att(EsiRoute *route, AttrNumber attnum);

/* ---- request.c ---- */

/*
 * One constraint on a parameter found in the quals: a fixed set of values
 * (constants), or an expression evaluated at execution (a Param, an outer
 * column of a nested loop, an array for = ANY).
 */
typedef struct EsiParamQual
{
	int			paramidx;		/* index into route->params */
	List	   *values;			/* constant values as String nodes, or NIL */
	int			exprno;			/* index into fdw_exprs, or -1 */
	bool		is_array;		/* exprno yields an array (= ANY) */
} EsiParamQual;

/* The requests of one scan, after the parameters are known */
typedef struct EsiRequest
{
	char	   *path;			/* /markets/10000002/orders */
	char	   *query;			/* order_type=all&type_id=34 (no paging) */
	char	  **values;			/* per route param: value sent, or NULL */
} EsiRequest;

extern List *esi_classify_quals(PlannerInfo *root, RelOptInfo *baserel,
								EsiRoute *route, List *clauses,
								List **fdw_exprs, bool *all_exact);
extern bool esi_clause_pushable(RelOptInfo *baserel, EsiRoute *route,
								Expr *clause);
extern List *esi_missing_required(EsiRoute *route, List *quals);
extern void esi_report_missing_param(EsiRoute *route, List *missing);
extern List *esi_build_requests(EsiRoute *route, List *quals,
								List *expr_states, ExprContext *econtext);
extern char *esi_describe_requests(EsiRoute *route, List *quals);
extern char *esi_param_example(const char *param);
extern List *esi_param_quals_to_list(List *quals);
extern List *esi_param_quals_from_list(List *in);

/* ---- http.c ---- */

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

/* ---- crawl.c ---- */

typedef struct EsiCrawlStats
{
	int64		requests;
	int64		pages;
	int64		bytes;
	int64		retries;
	int64		status_counts[6];	/* [0] transport errors, [n] nxx */
	int64		rows;
	double		wait_ms;
} EsiCrawlStats;

typedef struct EsiCrawl EsiCrawl;

/* A page ready for decoding */
typedef struct EsiPage
{
	EsiTransfer *t;
	EsiRequest *req;
	int			reqno;
} EsiPage;

extern EsiCrawl *esi_crawl_begin(MemoryContext parent, EsiRoute *route,
								 EsiServerOptions *opts, List *requests,
								 double row_bound, EsiCrawlStats *stats);
extern EsiPage *esi_crawl_next_page(EsiCrawl *c);
extern void esi_crawl_pump(EsiCrawl *c);
extern void esi_crawl_page_done(EsiCrawl *c, EsiPage *page, int64 rows,
								const char *next_cursor);
extern void esi_crawl_end(EsiCrawl *c);

/* ---- esi_error.c ---- */
extern void esi_report_http_error(EsiRoute *route, EsiTransfer *t);
extern void esi_report_transport_error(EsiRoute *route, EsiTransfer *t);
extern char *esi_error_text(const char *body, size_t len);

/* ---- catalog.c ---- */
extern List *esi_import_foreign_schema(ImportForeignSchemaStmt *stmt,
									   Oid serverOid);

#endif							/* ESI_FDW_H */
